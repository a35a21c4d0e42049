import { PROT_EXEC, PROT_READ, PROT_WRITE, protString } from './abi.js';
import { type File } from './file.js';
import { type Mm } from './mm.js';
import { SpanNode } from '../ds/spanTree.js';

/** vm_flags bits mmsim keeps (Linux include/linux/mm.h values). */
export const VM_SHARED = 0x00000008;
export const VM_MAYREAD = 0x00000010;
export const VM_MAYWRITE = 0x00000020;
export const VM_MAYEXEC = 0x00000040;
export const VM_MAYSHARE = 0x00000080;
export const VM_GROWSDOWN = 0x00000100;
export const VM_LOCKED = 0x00002000;
/** MADV_SEQUENTIAL / MADV_RANDOM readahead hints: no effect in mmsim beyond keeping VMAs apart. */
export const VM_SEQ_READ = 0x00008000;
export const VM_RAND_READ = 0x00010000;
/** MADV_DONTFORK: fork leaves this VMA out of the child (dup_mmap()). */
export const VM_DONTCOPY = 0x00020000;
/** MADV_WIPEONFORK: the child gets this VMA empty — fresh zero-filled anonymous memory (dup_mmap()). */
export const VM_WIPEONFORK = 0x02000000;
/** MADV_DONTDUMP: left out of core dumps (mmsim writes none). */
export const VM_DONTDUMP = 0x04000000;
/** MADV_HUGEPAGE: khugepaged may collapse the VMA even when THP is set to "madvise". */
export const VM_HUGEPAGE = 0x20000000;
/** Linux 2.6: file pages mapped out of linear order by remap_file_pages() (the rfp-nonlinear variant). */
export const VM_NONLINEAR = 0x00800000;
/**
 * The VM_MANYPROTS series (seed 001, never merged; the rfp-manyprots variant): pages carry
 * their own protection in their entries, the VMA's is only the default. mmsim's value.
 */
export const VM_MANYPROTS = 0x40000000;
/** Flags that must be equal for two neighbours to merge (Linux compares all but VM_SOFTDIRTY). */
export const VM_MERGE_MASK =
  VM_SHARED |
  VM_MAYREAD |
  VM_MAYWRITE |
  VM_MAYEXEC |
  VM_MAYSHARE |
  VM_GROWSDOWN |
  VM_LOCKED |
  VM_SEQ_READ |
  VM_RAND_READ |
  VM_DONTCOPY |
  VM_WIPEONFORK |
  VM_DONTDUMP |
  VM_HUGEPAGE |
  VM_NONLINEAR |
  VM_MANYPROTS;

/** VMAs an address space keeps for reuse at most. */
const MAX_UNUSED_VMAS = 4096;

/**
 * A virtual memory area: one contiguous run of an address space with one protection,
 * one backing object and one set of flags (Linux `struct vm_area_struct`). Bounds and
 * tree links come from {@link SpanNode}; every field is set in the constructor.
 */
export class Vma extends SpanNode {
  /** PROT_READ | PROT_WRITE | PROT_EXEC as mprotect set it. */
  prot: number;
  /** VM_* flags other than the protection. */
  flags: number;
  /** Protection key (Linux keeps it in vm_flags; 0 is the default key). */
  pkey: number;
  /** Backing file, or null for anonymous memory. */
  file: File | null;
  /**
   * vm_pgoff: for a file mapping, the file page mapped at `start`; for anonymous memory,
   * the linear page index of `start` when the area was created (kept across mremap, which
   * is why a moved area no longer merges with its new neighbours).
   */
  pgoff: number;
  /** anon_vma identity, 0 until the first anonymous page is faulted in. */
  anonVma: number;
  /** The address space holding this VMA (Linux vm_mm); null while outside any. */
  mm: Mm | null;

  constructor(start: number, end: number, prot: number, flags: number, file: File | null, pgoff: number) {
    super(start, end);
    this.prot = prot;
    this.flags = flags;
    this.pkey = 0;
    this.file = file;
    this.pgoff = pgoff;
    this.anonVma = 0;
    this.mm = null;
  }

  /** The rights this VMA may ever be given (VM_MAYREAD/WRITE/EXEC) as PROT bits: mprotect and per-page protections stay within them. */
  get mayProt(): number {
    return (this.flags & VM_MAYREAD ? PROT_READ : 0) | (this.flags & VM_MAYWRITE ? PROT_WRITE : 0) | (this.flags & VM_MAYEXEC ? PROT_EXEC : 0);
  }

  /** Number of pages. */
  get pages(): number {
    return (this.end - this.start) / 4096;
  }

  /** True for MAP_SHARED. */
  get shared(): boolean {
    return (this.flags & VM_SHARED) !== 0;
  }

  /** Private and possibly writable: write faults copy (Linux is_cow_mapping()). */
  get isCow(): boolean {
    return (this.flags & (VM_SHARED | VM_MAYWRITE)) === VM_MAYWRITE;
  }

  /** File page mapped at `va`. */
  pgoffAt(va: number): number {
    return this.pgoff + (va - this.start) / 4096;
  }

  /** A copy with other bounds (for splits), sharing file and anon_vma. */
  cloneRange(start: number, end: number): Vma {
    const v = Vma.make(this.mm, start, end, this.prot, this.flags, this.file, this.pgoffAt(start));
    v.pkey = this.pkey;
    v.anonVma = this.anonVma;
    return v;
  }

  /**
   * A VMA, reusing one that left its address space when there is one. An address space
   * of 100k VMAs splits and merges them all the time; new objects would each outlive a
   * young-generation collection inside the tree and make every scavenge pay for them.
   */
  static make(mm: Mm | null, start: number, end: number, prot: number, flags: number, file: File | null, pgoff: number): Vma {
    const v = mm?.unusedVmas.pop();
    if (v === undefined) return new Vma(start, end, prot, flags, file, pgoff);
    v.start = start;
    v.end = end;
    v.prot = prot;
    v.flags = flags;
    v.pkey = 0;
    v.file = file;
    v.pgoff = pgoff;
    v.anonVma = 0;
    return v;
  }

  /** Gives back a VMA that left `mm` and that nothing references any more, for {@link make}. */
  static recycle(mm: Mm, v: Vma): void {
    if (mm.unusedVmas.length < MAX_UNUSED_VMAS) {
      v.file = null;
      mm.unusedVmas.push(v);
    }
  }

  /**
   * The VmFlags line of /proc/pid/smaps: Linux's two-letter names (`rd wr ex sh mr mw me
   * ms gd lo sr rr dc wf dd hg nl`), and `mp` for VM_MANYPROTS, which never had one.
   */
  smapsFlags(): string[] {
    const out: string[] = [];
    if (this.prot & PROT_READ) out.push('rd');
    if (this.prot & PROT_WRITE) out.push('wr');
    if (this.prot & PROT_EXEC) out.push('ex');
    if (this.flags & VM_SHARED) out.push('sh');
    if (this.flags & VM_MAYREAD) out.push('mr');
    if (this.flags & VM_MAYWRITE) out.push('mw');
    if (this.flags & VM_MAYEXEC) out.push('me');
    if (this.flags & VM_MAYSHARE) out.push('ms');
    if (this.flags & VM_GROWSDOWN) out.push('gd');
    if (this.flags & VM_LOCKED) out.push('lo');
    if (this.flags & VM_SEQ_READ) out.push('sr');
    if (this.flags & VM_RAND_READ) out.push('rr');
    if (this.flags & VM_DONTCOPY) out.push('dc');
    if (this.flags & VM_WIPEONFORK) out.push('wf');
    if (this.flags & VM_DONTDUMP) out.push('dd');
    if (this.flags & VM_HUGEPAGE) out.push('hg');
    if (this.flags & VM_NONLINEAR) out.push('nl');
    if (this.flags & VM_MANYPROTS) out.push('mp');
    return out;
  }

  /** The permission column of /proc/pid/maps: `rw-p`. */
  permString(): string {
    return protString(this.prot) + (this.flags & VM_MAYSHARE ? 's' : 'p');
  }
}

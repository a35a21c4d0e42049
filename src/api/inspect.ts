import { FRAME_KIND_NAMES } from '../hw/physMem.js';
import {
  PTE_A,
  PTE_D,
  PTE_HI_XD,
  PTE_P,
  PTE_PROTNONE,
  PTE_RW,
  PTE_US,
  pageOffset,
  filePteOffset,
  filePteProt,
  pteIsFile,
  pteIsSwap,
  pteKey,
  pteMapsFrame,
  ptePfn,
  pteNone,
  swapPteOffset,
} from '../hw/pte.js';
import { FRAME_FILE } from '../hw/physMem.js';
import { type TlbEntryView } from '../hw/tlb.js';
import { type Kernel } from '../mm/kernel.js';
import { type Process } from '../mm/process.js';

/** The leaf page-table entry for one address, decoded. */
export interface PteView {
  /** Raw halves. */
  readonly lo: number;
  readonly hi: number;
  /** No entry at all (pte_none, or no page table). */
  readonly none: boolean;
  readonly present: boolean;
  readonly protnone: boolean;
  readonly swapped: boolean;
  readonly writable: boolean;
  readonly user: boolean;
  readonly executable: boolean;
  readonly dirty: boolean;
  readonly accessed: boolean;
  /** Protection key bits (present and PROT_NONE entries). */
  readonly key: number;
  /** Frame, for present and PROT_NONE entries; -1 otherwise. */
  readonly pfn: number;
  /** Swap slot for a swap entry; -1 otherwise. */
  readonly swapSlot: number;
  /** A nonlinear file entry (a reclaimed page of a remapped mapping). */
  readonly file: boolean;
  /** The file page this entry stands for: a file entry's offset or a mapped page-cache frame's index; -1 otherwise. */
  readonly pgoff: number;
  /** PROT_* bits a file entry keeps (VM_MANYPROTS); 0 otherwise. */
  readonly fileProt: number;
  /** Kind of the mapped frame: anon, file, zero, …; null when no frame is mapped. */
  readonly frameKind: string | null;
}

/** The entry mapping `va` in `p`'s page table, decoded (a missing table reads as none). */
export function pteOf(k: Kernel, p: Process, va: number): PteView {
  const page = va - pageOffset(va);
  const pmap = p.mm.pmap;
  const slot = p.alive ? pmap.pteSlot(page) : -1;
  const lo = slot < 0 ? 0 : pmap.lo(slot);
  const hi = slot < 0 ? 0 : pmap.hi(slot);
  const maps = pteMapsFrame(lo);
  const pfn = maps ? ptePfn(lo, hi) : -1;
  return {
    lo,
    hi,
    none: pteNone(lo, hi),
    present: (lo & PTE_P) !== 0,
    protnone: (lo & PTE_P) === 0 && (lo & PTE_PROTNONE) !== 0,
    swapped: pteIsSwap(lo),
    writable: maps && (lo & PTE_RW) !== 0,
    user: maps && (lo & PTE_US) !== 0,
    executable: maps && (hi & PTE_HI_XD) === 0,
    dirty: maps && (lo & PTE_D) !== 0,
    accessed: maps && (lo & PTE_A) !== 0,
    key: maps ? pteKey(hi) : 0,
    pfn,
    swapSlot: pteIsSwap(lo) ? swapPteOffset(lo, hi) : -1,
    file: pteIsFile(lo),
    pgoff: pteIsFile(lo) ? filePteOffset(lo, hi) : pfn >= 0 && k.hw.mem.kind[pfn] === FRAME_FILE ? k.hw.mem.index[pfn] : -1,
    fileProt: pteIsFile(lo) ? filePteProt(lo) : 0,
    frameKind: pfn < 0 ? null : pfn === k.zeroPfn ? 'zero' : FRAME_KIND_NAMES[k.hw.mem.kind[pfn]],
  };
}

/**
 * The byte at `va` as `p` would read it, without faulting anything in: from the mapped
 * frame, the swap cache or swap device, the file, or zero for untouched anonymous
 * memory. Undefined when nothing is mapped there.
 */
export function peekByte(k: Kernel, p: Process, va: number): number | undefined {
  const vma = p.mm.vmaAt(va);
  if (!vma || !p.alive) return undefined;
  const off = pageOffset(va);
  const pte = pteOf(k, p, va);
  const mem = k.hw.mem;
  if (pte.pfn >= 0) return mem.read8(pte.pfn, off);
  if (pte.swapped) {
    const cached = k.swap.cache[pte.swapSlot];
    if (cached >= 0) return mem.read8(cached, off);
    const content = k.hw.swap.peek(pte.swapSlot);
    return content < 0 ? 0 : mem.content.read8(content, off);
  }
  const file = vma.file;
  if (!file) return 0;
  // A nonlinear entry names its file page; otherwise the page is the VMA's linear one.
  const index = pte.file ? pte.pgoff : vma.pgoffAt(va - off);
  if (index >= file.pages) return undefined;
  const cached = file.cache.get(index);
  if (cached !== undefined) return mem.read8(cached, off);
  const block = file.disk.get(index);
  return block === undefined ? 0 : mem.content.read8(block, off);
}

/** CPU `cpu`'s TLB entry translating `va` in `p`'s address space, if it holds one. */
export function tlbEntryOf(k: Kernel, cpu: number, p: Process, va: number): TlbEntryView | undefined {
  const c = k.hw.cpus[cpu];
  if (!c) return undefined;
  const pcid = p.mm.pmap.pcid;
  return c.tlb.entries().find((e) => (e.pcid === pcid || e.pcid === undefined) && va >= e.va && va < e.va + (e.huge ? 2 * 1024 * 1024 : 4096));
}

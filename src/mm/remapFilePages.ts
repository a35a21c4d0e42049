import { FRAME_FILE, NO_FRAME } from '../hw/physMem.js';
import { ENTRIES_PER_TABLE, filePteHi, filePteLo, filePteOffset, PAGE_SIZE, PTE_FILE_MAX_BITS, PTE_P, pteIsFile, pteMapsFrame, ptePfn, pteProt } from '../hw/pte.js';
import { type Cpu } from '../hw/cpu.js';
import { type Pmap } from '../pmap/pmap.js';
import { type KernelPath } from '../step/step.js';
import { MAP_FIXED, MAP_LOCKED, MAP_NONBLOCK, MAP_POPULATE, MAP_SHARED, PROT_EXEC, PROT_READ, PROT_WRITE, u64 } from './abi.js';
import { EINVAL, ENOMEM, ENOSYS, EOVERFLOW, EPERM, type SysResult } from './errno.js';
import { pageCacheGet } from './fault.js';
import { type Kernel } from './kernel.js';
import { type Mm } from './mm.js';
import { doMmapLocked } from './mmap.js';
import { type Thread } from './process.js';
import { VM_LOCKED, VM_MANYPROTS, VM_MAYWRITE, VM_NONLINEAR, VM_SHARED, type Vma } from './vma.js';

/**
 * remap_file_pages() flag of the VM_MANYPROTS series (seed 001): `prot` sets the pages'
 * own protection. Posted as MAP_NOINHERIT (0x20000 on i386) and renamed MAP_CHGPROT at
 * Hugh Dickins' request; it means something only to remap_file_pages().
 */
export const MAP_CHGPROT = 0x20000;

const PAGE = PAGE_SIZE;
const PROT_MASK = PROT_READ | PROT_WRITE | PROT_EXEC;

/** Which remap_file_pages() a kernel has: mainline's emulation, 2.6's nonlinear VMAs, or the MANYPROTS series. */
export type RemapDesign = 'emulated' | 'nonlinear' | 'manyprots';

/** The design the kernel's variants select. */
export function remapDesign(k: Kernel): RemapDesign {
  if (k.variant('rfp-manyprots')) return 'manyprots';
  if (k.variant('rfp-nonlinear')) return 'nonlinear';
  return 'emulated';
}

/**
 * remap_file_pages(2): makes the pages of [start, start + size) of a shared file mapping
 * show file pages `pgoff …` instead of the linear ones, in the design the kernel runs.
 */
export function* sysRemapFilePages(k: Kernel, t: Thread, start: number, size: number, prot: number, pgoff: number, flags: number): KernelPath<SysResult> {
  if (k.freebsd) return ENOSYS;
  start = u64(start);
  size = u64(size);
  prot = u64(prot);
  pgoff = u64(pgoff);
  return remapDesign(k) === 'emulated' ? yield* emulatedRemap(k, t, start, size, prot, pgoff, flags) : yield* nonlinearRemap(k, t, start, size, prot, pgoff, flags);
}

/**
 * Linux ≥ 4.0 (mm/mmap.c): remap_file_pages() emulated by mmap(MAP_FIXED) of the same
 * file at the new offset, so every remapped run is a VMA of its own (until it merges with
 * a neighbour whose offsets continue it) and counts against max_map_count.
 */
function* emulatedRemap(k: Kernel, t: Thread, start: number, size: number, prot: number, pgoff: number, flags: number): KernelPath<SysResult> {
  if (prot !== 0) return EINVAL;
  start -= start % PAGE;
  size -= size % PAGE;
  if (start + size <= start) return EINVAL;
  // Does pgoff wrap?
  if (pgoff + size / PAGE >= 2 ** 64) return EINVAL;
  const mm = t.process.mm;
  yield* mm.mmapLock.write(t.ctx);
  try {
    const vma = mm.vmaAt(start);
    if (!vma || !(vma.flags & VM_SHARED) || !vma.file) return EINVAL;
    const end = start + size;
    if (end > vma.end) {
      // Several VMAs: contiguous, with the same file and the same flags.
      let prev = vma;
      let next = vma.nextSpan;
      for (;;) {
        if (!next || next.start !== prev.end || next.file !== vma.file || next.flags !== vma.flags || next.prot !== vma.prot || next.pkey !== vma.pkey) return EINVAL;
        if (end <= next.end) break;
        prev = next;
        next = next.nextSpan;
      }
    }
    let mmapFlags = (flags & MAP_NONBLOCK) | MAP_SHARED | MAP_FIXED | MAP_POPULATE;
    if (vma.flags & VM_LOCKED) mmapFlags |= MAP_LOCKED;
    // The file is mapped again as it was opened: a shared mapping has VM_SHARED only when writable.
    const file = vma.file;
    const open = { file, canRead: true, canWrite: (vma.flags & VM_MAYWRITE) !== 0 };
    // get_file(): the MAP_FIXED unmap may remove the file's last mapping (shmem would go).
    file.holds++;
    try {
      const r = yield* doMmapLocked(k, t, open, start, size, vma.prot, mmapFlags, pgoff);
      return typeof r === 'number' ? 0 : r;
    } finally {
      file.holds--;
      file.releaseIfUnused();
    }
  } finally {
    mm.mmapLock.writeUnlock(t.ctx.tid);
  }
}

/**
 * Linux 2.6 sys_remap_file_pages() (mm/fremap.c), and with the rfp-manyprots variant the
 * VM_MANYPROTS series on top: the range must lie in one shared file VMA, which becomes
 * VM_NONLINEAR when a page leaves its linear place; each page's entry is rewritten to
 * map its new file page (populate), or, with MAP_NONBLOCK for a page not in the page
 * cache, to a file entry naming it. With MAP_CHGPROT each page also gets `prot` as its
 * own protection and the VMA becomes VM_MANYPROTS.
 */
function* nonlinearRemap(k: Kernel, t: Thread, start: number, size: number, prot: number, pgoff: number, flags: number): KernelPath<SysResult> {
  const manyprots = remapDesign(k) === 'manyprots';
  const chgprot = manyprots && (flags & MAP_CHGPROT) !== 0;
  // 2.6: "prot: must be 0"; the series allows it only with MAP_CHGPROT.
  if (prot !== 0 && !chgprot) return EINVAL;
  start -= start % PAGE;
  size -= size % PAGE;
  const end = start + size;
  if (end <= start) return EINVAL;
  // Can the offsets be written into file entries? 2.6 said EINVAL; the series EOVERFLOW.
  if (pgoff + size / PAGE >= 2 ** PTE_FILE_MAX_BITS) return manyprots ? EOVERFLOW : EINVAL;
  const mm = t.process.mm;
  const ctx = t.ctx;
  // 2.6 takes mmap_sem for reading and retakes it for writing to set VM_NONLINEAR; mmsim
  // holds it for writing throughout, which excludes the same faults.
  yield* mm.mmapLock.write(ctx);
  try {
    const vma = mm.findVma(start);
    if (!vma || !(vma.flags & VM_SHARED) || !vma.file) return EINVAL;
    if (start < vma.start || end > vma.end) return EINVAL;
    // calc_vm_prot_bits() reads only the three PROT bits.
    const pageProt = chgprot ? prot & PROT_MASK : vma.prot;
    if (chgprot) {
      if (pageProt & ~vma.mayProt) return EPERM;
    }
    const file = vma.file;
    const pages = size / PAGE;
    // filemap_populate(): the whole run must lie inside the file.
    if (pgoff + pages > file.pages) return EINVAL;
    if (pgoff !== vma.pgoffAt(start)) vma.flags |= VM_NONLINEAR;
    if (chgprot && !(vma.flags & VM_MANYPROTS)) {
      // From now on file entries are authoritative: give those already there the rights the
      // VMA had for them (mprotect keeps them current, but say it where it matters).
      reprotectFileEntries(mm.pmap, vma.start, vma.end, vma.prot);
      vma.flags |= VM_MANYPROTS | VM_NONLINEAR;
    }
    const pmap = mm.pmap;
    for (let i = 0; i < pages; i++) {
      const va = start + i * PAGE;
      const index = pgoff + i;
      const slot = pmap.ensurePteSlot(va);
      if (slot < 0) return ENOMEM;
      const cached = file.cache.get(index);
      let pfn = NO_FRAME;
      if (cached !== undefined || !(flags & MAP_NONBLOCK)) {
        pfn = cached ?? pageCacheGet(k, file, index, t.process);
        if (pfn === NO_FRAME) return ENOMEM;
      }
      // A linear page not in the page cache under MAP_NONBLOCK is left to fault in.
      if (pfn === NO_FRAME && !(vma.flags & VM_NONLINEAR)) continue;
      // install_page() / install_file_pte(): zap what was there, then write the new entry.
      const oldLo = pmap.lo(slot);
      const oldHi = pmap.hi(slot);
      if (pfn === NO_FRAME) {
        pmap.setPte(slot, filePteLo(index, pageProt), filePteHi(index));
      } else {
        const mem = k.hw.mem;
        mem.refcount[pfn]++;
        mem.mapcount[pfn]++;
        pmap.enter(slot, va, pfn, pageProt, vma.pkey, false);
      }
      if (oldLo & PTE_P) pmap.flushPage(t.cpu, va);
      k.releaseEntry(oldLo, oldHi);
      if (ctx.preemptible) yield ctx.at('pte-write', `remap 0x${va.toString(16)} → file page ${index}`, va);
    }
    return 0;
  } finally {
    mm.mmapLock.writeUnlock(ctx.tid);
  }
}

/**
 * What a page-cache page mapped at `va` of `vma` leaves when it is unmapped but the
 * mapping stays (reclaim, a nonlinear zap): nothing (none) in a linear VMA or at its
 * linear place; otherwise a file entry naming it. The entry keeps a protection too — the
 * page's own under VM_MANYPROTS, the VMA's otherwise, so that a VMA becoming VM_MANYPROTS
 * later finds the protection the page had (the series encodes every file PTE with one).
 */
export function reclaimedFileEntry(vma: Vma, va: number, lo: number, hi: number, index: number): [number, number] {
  if (!(vma.flags & VM_NONLINEAR)) return [0, 0];
  const manyprots = (vma.flags & VM_MANYPROTS) !== 0;
  if (!manyprots && index === vma.pgoffAt(va)) return [0, 0];
  return [filePteLo(index, manyprots ? pteProt(lo, hi) : vma.prot), filePteHi(index)];
}

/**
 * Hugh Dickins' alternative for mprotect on a VM_MANYPROTS VMA: the entries not present
 * (file entries) of [start, end) take the new protection too. Present entries are
 * re-derived by change_protection() as usual.
 */
export function reprotectFileEntries(pmap: Pmap, start: number, end: number, prot: number): void {
  pmap.forEachPt(start, end, (table, first, count) => {
    for (let i = 0; i < count; i++) {
      const s = table * ENTRIES_PER_TABLE + first + i;
      const lo = pmap.lo(s);
      if (pteIsFile(lo)) pmap.setPte(s, filePteLo(filePteOffset(lo, pmap.hi(s)), prot), pmap.hi(s));
    }
  });
}

/**
 * zap_page_range() over a VM_NONLINEAR VMA with 2.6's nonlinear zap_details (MADV_DONTNEED,
 * truncation): every entry of [start, end) mapping a file page at or past `firstIndex` is
 * unmapped, leaving what {@link reclaimedFileEntry} says — so a page away from its linear
 * place is found again by the next fault (or is SIGBUS once past EOF) — and file entries
 * stay as they are.
 */
export function zapNonlinear(k: Kernel, cpu: Cpu | null, mm: Mm, vma: Vma, start: number, end: number, firstIndex: number): void {
  const pmap = mm.pmap;
  const mem = k.hw.mem;
  const cleared: number[] = [];
  pmap.forEachPt(start, end, (table, first, count, va) => {
    for (let i = 0; i < count; i++) {
      const s = table * ENTRIES_PER_TABLE + first + i;
      const lo = pmap.lo(s);
      if (!pteMapsFrame(lo)) continue;
      const hi = pmap.hi(s);
      const pfn = ptePfn(lo, hi);
      const isFilePage = mem.kind[pfn] === FRAME_FILE;
      if (isFilePage && mem.index[pfn] < firstIndex) continue;
      const [flo, fhi] = isFilePage ? reclaimedFileEntry(vma, va + i * PAGE, lo, hi, mem.index[pfn]) : [0, 0];
      pmap.setPte(s, flo, fhi);
      cleared.push(lo, hi);
    }
  });
  if (cleared.length === 0) return;
  pmap.flushRange(cpu, start, end);
  for (let i = 0; i < cleared.length; i += 2) k.releaseEntry(cleared[i], cleared[i + 1]);
}

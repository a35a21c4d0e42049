import { PTE_D, pteIsSwap, pteMapsFrame, pteNone, ptePfn } from '../hw/pte.js';
import { type KernelPath } from '../step/step.js';
import {
  MADV_COLLAPSE,
  MADV_DODUMP,
  MADV_DOFORK,
  MADV_DONTDUMP,
  MADV_DONTFORK,
  MADV_DONTNEED_LOCKED,
  MADV_FREE,
  MADV_HUGEPAGE,
  MADV_KEEPONFORK,
  MADV_MERGEABLE,
  MADV_NOHUGEPAGE,
  MADV_PAGEOUT,
  MADV_POPULATE_READ,
  MADV_POPULATE_WRITE,
  MADV_REMOVE,
  MADV_UNMERGEABLE,
  MADV_WIPEONFORK,
  MADV_DONTNEED, MADV_NORMAL, MADV_RANDOM, MADV_SEQUENTIAL, MS_ASYNC, MS_INVALIDATE, MS_SYNC, u64 } from './abi.js';
import { EACCES, EBUSY, EINVAL, ENOMEM, type Errno, isErrno, type SysResult } from './errno.js';
import { type Kernel } from './kernel.js';
import { type Mm } from './mm.js';
import { type Thread } from './process.js';
import { swapOutProcess } from './reclaim.js';
import { pageAlignLen } from './sysArgs.js';
import {
  VM_DONTCOPY,
  VM_DONTDUMP,
  VM_HUGEPAGE,
  VM_LOCKED,
  VM_MAYWRITE,
  VM_NONLINEAR,
  VM_RAND_READ,
  VM_SEQ_READ,
  VM_SHARED,
  VM_WIPEONFORK,
  type Vma,
} from './vma.js';
import { zapNonlinear } from './remapFilePages.js';
import { isolateVmaRange, mergeAround, zapVmaRange } from './vmaOps.js';

const PAGE = 4096;

/** Advice values Linux accepts (madvise_behavior_valid(); HWPOISON and SOFT_OFFLINE need CONFIG_MEMORY_FAILURE). */
const VALID_ADVICE = new Set([0, 1, 2, 3, 4, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25]);

/**
 * Advice whose effect mmsim does not model though a program could observe it, by name:
 * the kernel records an 'unmodelled' event where it is given (see docs/madvise.md).
 */
const UNMODELLED: ReadonlyMap<number, string> = new Map([
  [MADV_REMOVE, 'MADV_REMOVE: the file range is not punched out; its data stays'],
  [MADV_POPULATE_READ, 'MADV_POPULATE_READ: nothing is faulted in, and no error of the population is reported'],
  [MADV_POPULATE_WRITE, 'MADV_POPULATE_WRITE: nothing is faulted in, and no error of the population is reported'],
  [MADV_MERGEABLE, 'MADV_MERGEABLE: KSM is not modelled (no VM_MERGEABLE, no merging)'],
  [MADV_UNMERGEABLE, 'MADV_UNMERGEABLE: KSM is not modelled'],
  [MADV_NOHUGEPAGE, 'MADV_NOHUGEPAGE: VM_NOHUGEPAGE is not kept'],
  [MADV_COLLAPSE, 'MADV_COLLAPSE: no synchronous THP collapse'],
]);

/**
 * The vm_flags bit each flag-changing advice sets (first) and clears (second), as
 * madvise_vma_behavior() does; madvise_update_vma() then splits and merges.
 */
const FLAG_ADVICE: ReadonlyMap<number, readonly [set: number, clear: number]> = new Map([
  [MADV_NORMAL, [0, VM_SEQ_READ | VM_RAND_READ]],
  [MADV_SEQUENTIAL, [VM_SEQ_READ, VM_RAND_READ]],
  [MADV_RANDOM, [VM_RAND_READ, VM_SEQ_READ]],
  [MADV_DONTFORK, [VM_DONTCOPY, 0]],
  [MADV_DOFORK, [0, VM_DONTCOPY]],
  [MADV_WIPEONFORK, [VM_WIPEONFORK, 0]],
  [MADV_KEEPONFORK, [0, VM_WIPEONFORK]],
  [MADV_DONTDUMP, [VM_DONTDUMP, 0]],
  [MADV_DODUMP, [0, VM_DONTDUMP]],
  [MADV_HUGEPAGE, [VM_HUGEPAGE, 0]],
]);

/** madvise_need_mmap_write(): advice that changes VMAs takes mmap_lock for writing. */
function needsWrite(advice: number): boolean {
  return FLAG_ADVICE.has(advice);
}

/**
 * madvise(2) (Linux mm/madvise.c do_madvise()). Modelled: MADV_DONTNEED and
 * MADV_DONTNEED_LOCKED zap the range; MADV_FREE discards at once what Linux frees lazily
 * (see {@link madviseFree}); MADV_PAGEOUT swaps the range out; the advice that sets or
 * clears a VMA flag (DONTFORK/DOFORK, WIPEONFORK/KEEPONFORK, SEQUENTIAL/RANDOM/NORMAL,
 * DONTDUMP/DODUMP, HUGEPAGE) splits and merges VMAs as Linux does, and fork honours
 * VM_DONTCOPY and VM_WIPEONFORK. WILLNEED and COLD only steer readahead and the LRU order
 * and change nothing a program can see. The rest is accepted with an 'unmodelled' kernel
 * event. Under the freebsd personality all advice is accepted with no modelled effect:
 * FreeBSD's MADV_DONTNEED only ages pages (vm_map_madvise() → pmap_advise()) and its other
 * values are not Linux's.
 */
export function* sysMadvise(k: Kernel, t: Thread, start: number, len: number, advice: number): KernelPath<SysResult> {
  start = u64(start);
  if (!VALID_ADVICE.has(advice)) return EINVAL;
  if (start % PAGE !== 0) return EINVAL;
  const aligned = pageAlignLen(len);
  // A small negative length rounds up to 0: EINVAL, not a no-op.
  if (len && !aligned) return EINVAL;
  const end = start + aligned;
  // Wrapping past 2^64 (JS numbers do not wrap, so compare with the limit).
  if (end < start || end > 2 ** 64) return EINVAL;
  if (end === start) return 0;
  const linux = !k.freebsd;
  const unmodelled = linux ? UNMODELLED.get(advice) : undefined;
  if (unmodelled !== undefined) k.events.push({ kind: 'unmodelled', message: `madvise(0x${start.toString(16)}, ${aligned}) by pid ${t.process.pid}: ${unmodelled}` });
  const mm = t.process.mm;
  const ctx = t.ctx;
  const write = linux && needsWrite(advice);
  if (write) yield* mm.mmapLock.write(ctx);
  else yield* mm.mmapLock.read(ctx);
  try {
    // madvise_walk_vmas(): holes make the result ENOMEM, after the mapped parts were advised.
    let unmapped: SysResult = 0;
    let at = start;
    let vma: Vma | undefined = mm.findVma(at);
    for (;;) {
      if (!vma) return ENOMEM;
      if (at < vma.start) {
        unmapped = ENOMEM;
        at = vma.start;
        if (at >= end) break;
      }
      const stop = Math.min(end, vma.end);
      if (linux) {
        const r = yield* adviseVma(k, t, vma, at, stop, advice);
        if (isErrno(r)) return r;
        vma = r;
      }
      at = stop;
      if (at >= end) break;
      vma = vma.nextSpan;
    }
    return unmapped;
  } finally {
    if (write) mm.mmapLock.writeUnlock(ctx.tid);
    else mm.mmapLock.readUnlock();
  }
}

/** madvise_vma_behavior() for [start, end) of one VMA: the VMA now covering the range, or an errno. */
function* adviseVma(k: Kernel, t: Thread, vma: Vma, start: number, end: number, advice: number): KernelPath<Vma | Errno> {
  const mm = t.process.mm;
  const ctx = t.ctx;
  switch (advice) {
    case MADV_DONTNEED:
    case MADV_DONTNEED_LOCKED:
      // madvise_dontneed_free_valid_vma(): only DONTNEED_LOCKED may zap mlocked memory.
      if (advice === MADV_DONTNEED && vma.flags & VM_LOCKED) return EINVAL;
      // 2.6 madvise_dontneed(): a nonlinear VMA's pages keep their place in file entries.
      if (vma.flags & VM_NONLINEAR) zapNonlinear(k, t.cpu, mm, vma, start, end, 0);
      else yield* zapVmaRange(k, ctx, t.cpu, mm, start, end, false);
      return vma;
    case MADV_FREE:
      if (vma.flags & VM_LOCKED) return EINVAL;
      // madvise_free_single_vma(): anonymous memory only (shmem and files are EINVAL).
      if (vma.file) return EINVAL;
      madviseFree(k, t, start, end);
      if (ctx.preemptible) yield ctx.at('pte-write', `madv_free 0x${start.toString(16)}-0x${end.toString(16)}`, start);
      return vma;
    case MADV_PAGEOUT:
      // madvise_pageout(): no mlocked pages (and, on Linux, only pages this process alone maps; mmsim swaps out every one).
      if (vma.flags & VM_LOCKED) return EINVAL;
      swapOutProcess(k, mm, start, end);
      return vma;
    case MADV_REMOVE:
      // madvise_remove(): only a shared, writable file mapping can punch a hole.
      if (vma.flags & VM_LOCKED) return EINVAL;
      if (!vma.file) return EINVAL;
      if ((vma.flags & (VM_SHARED | VM_MAYWRITE)) !== (VM_SHARED | VM_MAYWRITE)) return EACCES;
      return vma;
    case MADV_WIPEONFORK:
      // Only private anonymous memory can be wiped in the child.
      if (vma.file || vma.shared) return EINVAL;
      break;
    default:
      break;
  }
  const bits = FLAG_ADVICE.get(advice);
  if (!bits) return vma;
  return updateVmaFlags(k, mm, vma, start, end, (vma.flags | bits[0]) & ~bits[1]);
}

/** madvise_update_vma(): gives [start, end) of `vma` new flags, splitting and merging; ENOMEM when a split would pass max_map_count. */
function updateVmaFlags(k: Kernel, mm: Mm, vma: Vma, start: number, end: number, flags: number): Vma | Errno {
  if (flags === vma.flags) return vma;
  const target = isolateVmaRange(k, mm, vma, start, end);
  if (isErrno(target)) return target;
  target.flags = flags;
  return mergeAround(mm, target);
}

/**
 * MADV_FREE, eagerly. Linux (madvise_free_pte_range()) drops swap entries at once, and for
 * each page this process alone maps clears the dirty bit and marks it lazily freeable:
 * reclaim later discards it unless it was written again, and until then it reads its old
 * bytes. mmsim discards those pages now — the outcome Linux gives when reclaim comes
 * before the next write, so a program that relies on the old bytes after MADV_FREE is
 * wrong on both. Pages shared with another process (COW after fork) and the zero page keep
 * their mapping, as in Linux.
 */
function madviseFree(k: Kernel, t: Thread, start: number, end: number): void {
  const pmap = t.process.mm.pmap;
  const mapcount = k.hw.mem.mapcount;
  const release = (_va: number, lo: number, hi: number): void => k.releaseEntry(lo, hi);
  for (let va = start; va < end; va += PAGE) {
    const s = pmap.pteSlot(va);
    if (s < 0) {
      // No page table here: skip to the next one.
      va = Math.min(end, (Math.floor(va / (512 * PAGE)) + 1) * 512 * PAGE) - PAGE;
      continue;
    }
    const lo = pmap.lo(s);
    const hi = pmap.hi(s);
    if (pteNone(lo, hi)) continue;
    if (pteMapsFrame(lo)) {
      const pfn = ptePfn(lo, hi);
      if (pfn === k.zeroPfn || mapcount[pfn] !== 1) continue;
    } else if (!pteIsSwap(lo)) {
      continue;
    }
    pmap.remove(t.cpu, va, va + PAGE, release);
  }
}

/**
 * msync(2) (Linux mm/msync.c). MS_SYNC writes back dirty pages of shared file mappings
 * (the page cache is the file here, so it only counts them in `writebacks`); MS_INVALIDATE
 * has no effect on Linux beyond its EBUSY check; on FreeBSD it unmaps the pages (they stay
 * in their objects) through pmap_remove(), once the whole range was found mapped. The VMA walk mirrors msync's own, which
 * differs from madvise's (MS_ASYNC stops at the first hole), so the two are kept apart.
 */
export function* sysMsync(k: Kernel, t: Thread, start: number, len: number, flags: number): KernelPath<SysResult> {
  start = u64(start);
  if (flags & ~(MS_ASYNC | MS_INVALIDATE | MS_SYNC)) return EINVAL;
  if (start % PAGE !== 0) return EINVAL;
  if (flags & MS_ASYNC && flags & MS_SYNC) return EINVAL;
  // `(len + ~PAGE_MASK) & PAGE_MASK` wraps to 0 for -1 … -4095: end == start, success.
  // FreeBSD's round_page() wraps the same way.
  len = pageAlignLen(len);
  const end = start + len;
  if (end < start || end > 2 ** 64) return ENOMEM;
  if (end === start) return 0;
  const mm = t.process.mm;
  const ctx = t.ctx;
  yield* mm.mmapLock.read(ctx);
  try {
    if (k.freebsd && flags & MS_INVALIDATE) return yield* freebsdSyncInvalidate(k, t, start, end, flags);
    let unmapped: SysResult = 0;
    let at = start;
    let vma = mm.findVma(at);
    for (;;) {
      if (!vma) return ENOMEM;
      if (at < vma.start) {
        if (flags === MS_ASYNC) return ENOMEM;
        at = vma.start;
        if (at >= end) return ENOMEM;
        unmapped = ENOMEM;
      }
      if (flags & MS_INVALIDATE && vma.flags & VM_LOCKED) return EBUSY;
      const stop = Math.min(end, vma.end);
      if (flags & MS_SYNC && vma.file && vma.shared) yield* writeBack(k, t, at, stop);
      at = vma.end;
      if (at >= end) return unmapped;
      vma = mm.findVma(at);
    }
  } finally {
    mm.mmapLock.readUnlock();
  }
}

/**
 * FreeBSD vm_map_sync() with invalidation: a first pass refuses the whole call — a hole
 * (ENOMEM) or wired memory (EBUSY) — before anything is done; then dirty shared pages are
 * written back and one pmap_remove() unmaps the range (the pages stay in their objects).
 */
function* freebsdSyncInvalidate(k: Kernel, t: Thread, start: number, end: number, flags: number): KernelPath<SysResult> {
  const mm = t.process.mm;
  let at = start;
  for (let vma = mm.findVma(start); at < end; vma = vma.nextSpan) {
    if (!vma || vma.start > at) return ENOMEM;
    if (vma.flags & VM_LOCKED) return EBUSY;
    at = vma.end;
  }
  for (let vma = mm.findVma(start); vma && vma.start < end; vma = vma.nextSpan) {
    if (flags & MS_SYNC && vma.file && vma.shared) yield* writeBack(k, t, Math.max(start, vma.start), Math.min(end, vma.end));
  }
  mm.pmap.evict(t.cpu, start, end);
  return 0;
}

/**
 * Counts the dirty pages of a shared file range as written back, a page table at a time
 * with a preemption point after each (msync_range() → filemap_fdatawrite_range() under
 * mmap_lock held for reading).
 */
function* writeBack(k: Kernel, t: Thread, start: number, end: number): KernelPath<void> {
  const pmap = t.process.mm.pmap;
  const ctx = t.ctx;
  const count = (table: number, first: number, n: number): void => {
    for (let i = 0; i < n; i++) {
      const lo = pmap.lo(table * 512 + first + i);
      if (pteMapsFrame(lo) && lo & PTE_D) k.writebacks++;
    }
  };
  if (!ctx.preemptible) return pmap.forEachPt(start, end, count);
  const span = 512 * PAGE;
  for (let a = start; a < end; ) {
    const b = Math.min(end, (Math.floor(a / span) + 1) * span);
    pmap.forEachPt(a, b, count);
    yield ctx.at('pte-read', `write back 0x${a.toString(16)}-0x${b.toString(16)}`, a);
    a = b;
  }
}

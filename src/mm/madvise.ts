import { PTE_D, pteMapsFrame } from '../hw/pte.js';
import { type KernelPath } from '../step/step.js';
import { MADV_DONTNEED, MS_ASYNC, MS_INVALIDATE, MS_SYNC, u64 } from './abi.js';
import { EBUSY, EINVAL, ENOMEM, type SysResult } from './errno.js';
import { type Kernel } from './kernel.js';
import { type Thread } from './process.js';
import { VM_LOCKED, VM_NONLINEAR, type Vma } from './vma.js';
import { zapNonlinear } from './remapFilePages.js';
import { zapVmaRange } from './vmaOps.js';

const PAGE = 4096;
/** Advice values Linux accepts (madvise_behavior_valid()); only MADV_DONTNEED changes state here. */
const VALID_ADVICE = new Set([0, 1, 2, 3, 4, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25]);

/** madvise(2). MADV_DONTNEED zaps the range (Linux); the other valid advice, and FreeBSD's MADV_DONTNEED, is accepted and has no modelled effect. */
export function* sysMadvise(k: Kernel, t: Thread, start: number, len: number, advice: number): KernelPath<SysResult> {
  start = u64(start);
  len = u64(len);
  if (!VALID_ADVICE.has(advice)) return EINVAL;
  if (start % PAGE !== 0) return EINVAL;
  const aligned = Math.ceil(len / PAGE) * PAGE;
  if (len && !aligned) return EINVAL;
  const end = start + aligned;
  // Wrapping past 2^64 (JS numbers do not wrap, so compare with the limit).
  if (end < start || end > 2 ** 64) return EINVAL;
  if (end === start) return 0;
  const mm = t.process.mm;
  const ctx = t.ctx;
  yield* mm.mmapLock.read(ctx);
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
      // FreeBSD's MADV_DONTNEED is advice indeed: vm_map_madvise() → pmap_advise() only
      // ages the pages (clears A, moves D to the page); the data stays. Not modelled.
      if (advice === MADV_DONTNEED && !k.freebsd) {
        if (vma.flags & VM_LOCKED) return EINVAL;
        // 2.6 madvise_dontneed(): a nonlinear VMA's pages keep their place in file entries.
        if (vma.flags & VM_NONLINEAR) zapNonlinear(k, t.cpu, mm, vma, at, stop, 0);
        else yield* zapVmaRange(k, ctx, t.cpu, mm, at, stop, false);
      }
      at = stop;
      if (at >= end) break;
      vma = vma.nextSpan;
    }
    return unmapped;
  } finally {
    mm.mmapLock.readUnlock();
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
  len = u64(len);
  if (flags & ~(MS_ASYNC | MS_INVALIDATE | MS_SYNC)) return EINVAL;
  if (start % PAGE !== 0) return EINVAL;
  if (flags & MS_ASYNC && flags & MS_SYNC) return EINVAL;
  len = Math.ceil(len / PAGE) * PAGE;
  const end = start + len;
  if (end < start || end > 2 ** 64) return ENOMEM;
  if (end === start) return 0;
  const mm = t.process.mm;
  const ctx = t.ctx;
  yield* mm.mmapLock.read(ctx);
  try {
    if (k.freebsd && flags & MS_INVALIDATE) return freebsdSyncInvalidate(k, t, start, end, flags);
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
      if (flags & MS_SYNC && vma.file && vma.shared) writeBack(k, t, at, stop);
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
function freebsdSyncInvalidate(k: Kernel, t: Thread, start: number, end: number, flags: number): SysResult {
  const mm = t.process.mm;
  let at = start;
  for (let vma = mm.findVma(start); at < end; vma = vma.nextSpan) {
    if (!vma || vma.start > at) return ENOMEM;
    if (vma.flags & VM_LOCKED) return EBUSY;
    at = vma.end;
  }
  for (let vma = mm.findVma(start); vma && vma.start < end; vma = vma.nextSpan) {
    if (flags & MS_SYNC && vma.file && vma.shared) writeBack(k, t, Math.max(start, vma.start), Math.min(end, vma.end));
  }
  mm.pmap.evict(t.cpu, start, end);
  return 0;
}

/** Counts the dirty pages of a shared file range as written back. */
function writeBack(k: Kernel, t: Thread, start: number, end: number): void {
  const pmap = t.process.mm.pmap;
  pmap.forEachPt(start, end, (table, first, count) => {
    for (let i = 0; i < count; i++) {
      const lo = pmap.lo(table * 512 + first + i);
      if (pteMapsFrame(lo) && lo & PTE_D) k.writebacks++;
    }
  });
}

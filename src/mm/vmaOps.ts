import { type Cpu } from '../hw/cpu.js';
import { type KernelPath } from '../step/step.js';
import { type KernelCtx } from '../step/step.js';
import { ENOMEM, type Errno } from './errno.js';
import { type Kernel } from './kernel.js';
import { type Mm } from './mm.js';
import { VM_MERGE_MASK, Vma } from './vma.js';

/**
 * Linux is_mergeable_vma() + is_mergeable_anon_vma() + the pgoff check of
 * can_vma_merge_before/after(): `a` directly below `b` can become one VMA.
 */
export function canMerge(a: Vma, b: Vma): boolean {
  return (
    a.end === b.start &&
    a.prot === b.prot &&
    (a.flags & VM_MERGE_MASK) === (b.flags & VM_MERGE_MASK) &&
    a.pkey === b.pkey &&
    a.file === b.file &&
    a.pgoff + a.pages === b.pgoff &&
    (a.anonVma === 0 || b.anonVma === 0 || a.anonVma === b.anonVma)
  );
}

/** Adds a VMA to the address space and to its file's mappings. */
export function insertVma(mm: Mm, vma: Vma): void {
  mm.vmas.insert(vma);
  vma.mm = mm;
  vma.file?.mappings.add(vma);
}

/** Removes a VMA from the address space and from its file's mappings. */
export function removeVma(mm: Mm, vma: Vma): void {
  mm.vmas.remove(vma);
  vma.mm = null;
  const file = vma.file;
  if (file) {
    file.mappings.delete(vma);
    file.releaseIfUnused();
  }
}

/** Splits `vma` at `addr` (strictly inside it); returns the upper part, now in the tree. */
export function splitVma(mm: Mm, vma: Vma, addr: number): Vma {
  const upper = vma.cloneRange(addr, vma.end);
  vma.end = addr;
  mm.vmas.adjusted(vma);
  insertVma(mm, upper);
  return upper;
}

/**
 * vma_modify()'s first half: splits `vma` so that one VMA covers exactly [start, end),
 * and returns it, or ENOMEM when a split would pass vm.max_map_count (split_vma() refuses
 * there; a failed second split leaves the first in place, as Linux does). The caller
 * changes the VMA and then calls {@link mergeAround}.
 */
export function isolateVmaRange(k: Kernel, mm: Mm, vma: Vma, start: number, end: number): Vma | Errno {
  const splits = (start > vma.start ? 1 : 0) + (end < vma.end ? 1 : 0);
  if (splits > 0 && mm.mapCount >= k.config.maxMapCount) return ENOMEM;
  let target = vma;
  if (start > target.start) target = splitVma(mm, target, start);
  if (end < target.end) {
    if (splits === 2 && mm.mapCount >= k.config.maxMapCount) return ENOMEM;
    splitVma(mm, target, end);
  }
  return target;
}

/**
 * Merges `vma` with its neighbours where Linux would (vma_merge()), returning the VMA
 * that now covers it. A VMA merged away is recycled: the caller must use only the result.
 */
export function mergeAround(mm: Mm, vma: Vma): Vma {
  let v = vma;
  const prev = v.prevSpan;
  if (prev && canMerge(prev, v)) {
    const end = v.end;
    const anon = prev.anonVma || v.anonVma;
    removeVma(mm, v);
    Vma.recycle(mm, v);
    prev.end = end;
    prev.anonVma = anon;
    mm.vmas.adjusted(prev);
    v = prev;
  }
  const next = v.nextSpan;
  if (next && canMerge(v, next)) {
    const end = next.end;
    const anon = v.anonVma || next.anonVma;
    removeVma(mm, next);
    Vma.recycle(mm, next);
    v.end = end;
    v.anonVma = anon;
    mm.vmas.adjusted(v);
  }
  return v;
}

/**
 * Removes [start, end) from the address space (Linux do_vmi_align_munmap() after its
 * checks): splits the VMAs at the edges, zaps their entries one page table at a time
 * (a preemption point each), frees page tables no VMA needs any more, and drops the
 * VMAs. It is a logical unmap (munmap, MAP_FIXED over a mapping): the pmap drops
 * per-range metadata too (pmap_map_delete()).
 */
export function* unmapRange(k: Kernel, ctx: KernelCtx, cpu: Cpu | null, mm: Mm, start: number, end: number): KernelPath<void> {
  let vma = mm.findVma(start);
  if (!vma || vma.start >= end) return;
  if (vma.start < start) vma = splitVma(mm, vma, start);
  const floor = vma.prevSpan?.end ?? 0;
  const victims: Vma[] = [];
  for (let v: Vma | undefined = vma; v && v.start < end; v = v.nextSpan) {
    if (v.end > end) splitVma(mm, v, end);
    victims.push(v);
  }
  // The neighbour above bounds the page tables that may be freed; read it while the last
  // victim is still in the tree (a removed VMA has no neighbours).
  const ceiling = victims[victims.length - 1].nextSpan?.start ?? Number.MAX_SAFE_INTEGER;
  const first = victims[0].start;
  const last = victims[victims.length - 1].end;
  for (const v of victims) {
    yield* zapVmaRange(k, ctx, cpu, mm, v.start, v.end, true);
    removeVma(mm, v);
    if (ctx.preemptible) yield ctx.at('vma', `remove vma 0x${v.start.toString(16)}-0x${v.end.toString(16)}`, v.start);
  }
  mm.pmap.freeEmptyTables(first, last, floor, ceiling);
  for (const v of victims) Vma.recycle(mm, v);
}

/**
 * Zaps the entries of [start, end) (Linux zap_page_range / unmap_page_range), one page
 * table per step, releasing frames and swap slots after the TLB flush.
 */
export function* zapVmaRange(k: Kernel, ctx: KernelCtx, cpu: Cpu | null, mm: Mm, start: number, end: number, logical: boolean): KernelPath<void> {
  const release = (_va: number, lo: number, hi: number): void => k.releaseEntry(lo, hi);
  if (!ctx.preemptible) {
    if (logical) mm.pmap.mapDelete(cpu, start, end, release);
    else mm.pmap.remove(cpu, start, end, release);
    return;
  }
  const span = 512 * 4096;
  for (let a = start; a < end; ) {
    const b = Math.min(end, (Math.floor(a / span) + 1) * span);
    if (logical) mm.pmap.mapDelete(cpu, a, b, release);
    else mm.pmap.remove(cpu, a, b, release);
    yield ctx.at('pte-write', `zap 0x${a.toString(16)}-0x${b.toString(16)}`, a);
    a = b;
  }
}

import { type Cpu } from '../hw/cpu.js';
import { FRAME_ANON, FRAME_FILE, FRAME_SWAPCACHE } from '../hw/physMem.js';
import { ENTRIES_PER_TABLE, PAGE_SIZE, PTE_A, pteMapsFrame, ptePfn, swapPteHi, swapPteLo } from '../hw/pte.js';
import { type File } from './file.js';
import { type Kernel } from './kernel.js';
import { type Mm } from './mm.js';
import { reclaimedFileEntry } from './remapFilePages.js';
import { type Vma } from './vma.js';

/** How a range is reclaimed. */
export interface ReclaimMode {
  /** Second-chance clock: an entry with A set loses A and stays; only cold entries go. */
  readonly respectAccessed: boolean;
  /** Stop once this many frames were freed. */
  readonly target: number;
}

/** What one pass freed and unmapped. */
export interface ReclaimResult {
  /** Frames returned to the free list. */
  freed: number;
  /** Entries turned into swap entries or cleared. */
  unmapped: number;
}

const pending: number[] = [];

/**
 * Unmaps the resident pages of [start, end) in `mm`: anonymous pages become swap entries
 * (through the swap cache, so a page shared after fork keeps one slot), file pages are
 * unmapped (leaving a file entry where the VMA is nonlinear). A frame whose last mapping goes is written out and freed. Works one
 * page table at a time: clears entries, flushes the TLBs, then releases frames. Tables
 * whose lock is held (a fault is in progress there) are skipped, as a trylock would.
 */
export function reclaimRange(k: Kernel, mm: Mm, vma: Vma, start: number, end: number, mode: ReclaimMode, initiator: Cpu | null, result: ReclaimResult): void {
  const pmap = mm.pmap;
  const mem = k.hw.mem;
  const sw = k.swap;
  pmap.forEachPt(start, end, (table, first, count, va) => {
    if (result.freed >= mode.target) return;
    if (!k.ptLock(table).free) return;
    const base = table * ENTRIES_PER_TABLE + first;
    pending.length = 0;
    for (let i = 0; i < count; i++) {
      const s = base + i;
      const lo = pmap.lo(s);
      if (!pteMapsFrame(lo)) continue;
      if (mode.respectAccessed && lo & PTE_A) {
        // Second chance; x86 Linux clears A without a flush too (ptep_clear_flush_young()).
        pmap.setPte(s, (lo & ~PTE_A) >>> 0, pmap.hi(s));
        continue;
      }
      const hi = pmap.hi(s);
      const pfn = ptePfn(lo, hi);
      if (pfn === k.zeroPfn) {
        pmap.setPte(s, 0, 0);
      } else if (mem.kind[pfn] === FRAME_FILE) {
        // A nonlinear page leaves a file entry saying which file page (and rights) it was.
        const [flo, fhi] = reclaimedFileEntry(vma, va + i * PAGE_SIZE, lo, hi, mem.index[pfn]);
        pmap.setPte(s, flo, fhi);
      } else if (mem.kind[pfn] === FRAME_ANON) {
        let slot = mem.flags[pfn] & FRAME_SWAPCACHE ? mem.index[pfn] : -1;
        if (slot < 0) {
          slot = sw.alloc();
          if (slot < 0) continue; // swap is full: the page stays
          mem.flags[pfn] |= FRAME_SWAPCACHE;
          mem.index[pfn] = slot;
          sw.cache[slot] = pfn;
          mem.refcount[pfn]++;
        }
        pmap.setPte(s, swapPteLo(0, slot), swapPteHi(slot));
        sw.refs[slot]++;
        mm.counters.swapOuts++;
      } else {
        continue;
      }
      result.unmapped++;
      pending.push(lo, hi);
    }
    if (pending.length === 0) return;
    pmap.flushRange(initiator, va, va + count * PAGE_SIZE);
    for (let i = 0; i < pending.length; i += 2) {
      const lo = pending[i];
      const hi = pending[i + 1];
      const pfn = ptePfn(lo, hi);
      if (pfn === k.zeroPfn) continue;
      const wasFile = mem.kind[pfn] === FRAME_FILE;
      k.releaseEntry(lo, hi);
      if (wasFile) {
        // shrink_folio_list(): an unmapped page-cache page is evicted in the same pass.
        const file = k.fileByInode(mem.owner[pfn]);
        if (file && evictPageCache(k, file, mem.index[pfn], pfn)) result.freed++;
      } else if (writeBackIfUnmapped(k, pfn)) {
        result.freed++;
      }
    }
    pending.length = 0;
  });
}

/** A swap-cache frame nobody maps any more goes to its slot and is freed. */
function writeBackIfUnmapped(k: Kernel, pfn: number): boolean {
  const mem = k.hw.mem;
  if (mem.kind[pfn] !== FRAME_ANON || mem.mapcount[pfn] !== 0 || !(mem.flags[pfn] & FRAME_SWAPCACHE)) return false;
  const slot = mem.index[pfn];
  k.hw.swap.store(slot, mem.takeContent(pfn));
  k.swap.cache[slot] = -1;
  mem.flags[pfn] &= ~FRAME_SWAPCACHE;
  return mem.put(pfn);
}

/** Evicts a clean-or-dirty unmapped page-cache page: its contents go back to the file's blocks. */
function evictPageCache(k: Kernel, file: File, index: number, pfn: number): boolean {
  const mem = k.hw.mem;
  if (mem.mapcount[pfn] !== 0 || mem.refcount[pfn] !== 1) return false;
  const content = mem.takeContent(pfn);
  if (content >= 0) file.disk.set(index, content);
  file.cache.delete(index);
  mem.put(pfn);
  return true;
}

/**
 * Swaps out the resident pages of `mm` in [start, end), cold or not (a process swap-out).
 * FreeBSD's vm_swapout_map_deactivate_pages() then calls pmap_remove() over the span: the
 * entries left (pages swap could not take) stop translating, and per-range metadata sees
 * a removal. Returns the number of entries unmapped.
 */
/** The end of the user half (2^47): no VMA lies above it. */
const USER_SPACE_END = 2 ** 47;

export function swapOutProcess(k: Kernel, mm: Mm, start: number, end: number): number {
  // Whole pages: every page [start, end) touches goes, however the range was written.
  start -= start % PAGE_SIZE;
  end = Math.ceil(Math.min(end, USER_SPACE_END) / PAGE_SIZE) * PAGE_SIZE;
  const result: ReclaimResult = { freed: 0, unmapped: 0 };
  const everything: ReclaimMode = { respectAccessed: false, target: Number.MAX_SAFE_INTEGER };
  for (const v of mm.vmas.overlapping(start, end)) {
    const a = Math.max(start, v.start);
    const b = Math.min(end, v.end);
    reclaimRange(k, mm, v, a, b, everything, null, result);
    if (k.freebsd) result.unmapped += mm.pmap.evict(null, a, b);
  }
  // The pmap_remove() covers the holes too: keys there see it (evict() told the VMAs' parts already).
  if (k.freebsd) mm.pmap.removedByVm(start, end);
  return result.unmapped;
}

let clockHand = 0;

/**
 * Frees up to `target` frames under memory pressure: unmapped page-cache pages first,
 * then unmapped swap-cache pages, then a second-chance clock over every process's
 * resident pages. Returns the number of frames freed.
 */
export function reclaim(k: Kernel, target: number): number {
  const result: ReclaimResult = { freed: 0, unmapped: 0 };
  for (const file of k.allFiles()) {
    for (const [index, pfn] of file.cache) {
      if (result.freed >= target) break;
      if (evictPageCache(k, file, index, pfn)) result.freed++;
    }
  }
  for (let slot = 0; slot < k.swap.highWater && result.freed < target; slot++) {
    const pfn = k.swap.cache[slot];
    if (pfn >= 0 && writeBackIfUnmapped(k, pfn)) result.freed++;
  }
  const procs = [...k.processes.values()].filter((p) => p.alive);
  // With swap full and no page cache, the clock could only clear A bits: skip the O(pages) walk.
  let pageCache = 0;
  for (const f of k.allFiles()) pageCache += f.cache.size;
  if (k.swap.freeSlotCount === 0 && pageCache === 0) procs.length = 0;
  // Two sweeps of the clock: the first clears A bits, the second takes what stayed cold.
  for (let sweep = 0; sweep < 2 * procs.length && result.freed < target; sweep++) {
    const p = procs[clockHand++ % procs.length];
    for (let v = p.mm.vmas.first(); v && result.freed < target; v = v.nextSpan) {
      reclaimRange(k, p.mm, v, v.start, v.end, { respectAccessed: true, target }, null, result);
    }
  }
  if (result.freed > 0) k.events.push({ kind: 'reclaim', message: `reclaimed ${result.freed} frames (${result.unmapped} entries unmapped)` });
  return result.freed;
}

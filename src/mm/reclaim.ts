import { type Cpu } from '../hw/cpu.js';
import { FRAME_ANON, FRAME_FILE, FRAME_SWAPCACHE } from '../hw/physMem.js';
import { ENTRIES_PER_TABLE, PAGE_SIZE, PTE_A, pteMapsFrame, ptePfn, swapPteHi, swapPteLo } from '../hw/pte.js';
import { type File, ShmemSwap } from './file.js';
import { type Kernel } from './kernel.js';
import { type Mm } from './mm.js';
import { type Process } from './process.js';
import { reclaimedFileEntry } from './remapFilePages.js';
import { VM_LOCKED, type Vma } from './vma.js';

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
  /** Resident entries looked at. */
  scanned: number;
}

/** Linux DEF_PRIORITY: the first pass scans 1/4096 of memory, each later one twice as much. */
const DEF_PRIORITY = 12;
/** Virtual address span of one page table. */
const PT_SPAN = ENTRIES_PER_TABLE * PAGE_SIZE;

/**
 * The reclaim clocks of one kernel: where the scan of unmapped frames and the scan of
 * mapped pages resume. Per kernel, so that machines in one process never see each
 * other's history and every run replays.
 */
export class ReclaimState {
  /** Next frame the unmapped-page scan looks at. */
  frameHand = 1;
  /** Process whose address space the mapped-page scan is in (0: the first). */
  pid = 0;
  /** Address in that process where it resumes. */
  va = 0;
  /** Entries cleared in the current page table, released after the flush: (lo, hi) pairs. */
  readonly pending: number[] = [];
}

/**
 * Unmaps the resident pages of [start, end) in `mm`: anonymous pages become swap entries
 * (through the swap cache, so a page shared after fork keeps one slot), file pages are
 * unmapped (leaving a file entry where the VMA is nonlinear). A frame whose last mapping
 * goes is written out and freed. Swap-backed pages (anonymous and shmem) stay mapped
 * when swap has no slot for them, as shrink_folio_list() keeps a folio add_to_swap() could
 * not place. Works one page table at a time: clears entries, flushes the TLBs, then
 * releases frames. Tables whose lock is held (a fault is in progress there) are skipped,
 * as a trylock would. Stops once the frames it is about to free make `mode.target`, and
 * returns the address where it stopped (`end` when it went through the range).
 */
export function reclaimRange(k: Kernel, mm: Mm, vma: Vma, start: number, end: number, mode: ReclaimMode, initiator: Cpu | null, result: ReclaimResult): number {
  const pmap = mm.pmap;
  const mem = k.hw.mem;
  const sw = k.swap;
  const pending = k.reclaimState.pending;
  const file = vma.file;
  const shmem = file !== null && file.shmem;
  let stoppedAt = end;
  pmap.forEachPt(start, end, (table, first, count, va) => {
    if (stoppedAt < end) return;
    if (result.freed >= mode.target) {
      stoppedAt = va;
      return;
    }
    if (!k.ptLock(table).free) return;
    const base = table * ENTRIES_PER_TABLE + first;
    pending.length = 0;
    // Slots the shmem pages unmapped in this table will take when they are written out.
    let shmemSlots = 0;
    for (let i = 0; i < count; i++) {
      // Each entry cleared frees at most one frame: stop when they would make the target.
      if (result.freed + pending.length / 2 >= mode.target) {
        stoppedAt = va + i * PAGE_SIZE;
        break;
      }
      const s = base + i;
      const lo = pmap.lo(s);
      if (!pteMapsFrame(lo)) continue;
      result.scanned++;
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
        if (shmem) {
          if (sw.freeSlotCount <= shmemSlots) continue; // swap is full: the page stays
          shmemSlots++;
        }
        // A nonlinear page leaves a file entry saying which file page (and rights) it was.
        const [flo, fhi] = reclaimedFileEntry(vma, va + i * PAGE_SIZE, lo, hi, mem.index[pfn]);
        pmap.setPte(s, flo, fhi);
      } else if (mem.kind[pfn] === FRAME_ANON) {
        let slot = mem.flags[pfn] & FRAME_SWAPCACHE ? mem.index[pfn] : -1;
        if (slot < 0) {
          if (sw.freeSlotCount <= shmemSlots) continue; // swap is full: the page stays
          slot = sw.alloc();
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
    pmap.flushRange(initiator, va, stoppedAt < end ? stoppedAt : va + count * PAGE_SIZE);
    for (let i = 0; i < pending.length; i += 2) {
      const lo = pending[i];
      const hi = pending[i + 1];
      const pfn = ptePfn(lo, hi);
      if (pfn === k.zeroPfn) continue;
      const wasFile = mem.kind[pfn] === FRAME_FILE;
      k.releaseEntry(lo, hi);
      if (wasFile) {
        // shrink_folio_list(): an unmapped page-cache page is evicted in the same pass.
        if (file && evictPageCache(k, file, mem.index[pfn], pfn)) result.freed++;
      } else if (writeBackIfUnmapped(k, pfn)) {
        result.freed++;
      }
    }
    pending.length = 0;
  });
  return stoppedAt;
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

/**
 * Evicts an unmapped page-cache page. A named file's contents go back to its own blocks;
 * a shmem page goes to a swap slot (shmem_writepage()), and stays when swap is full.
 */
function evictPageCache(k: Kernel, file: File, index: number, pfn: number): boolean {
  const mem = k.hw.mem;
  if (mem.mapcount[pfn] !== 0 || mem.refcount[pfn] !== 1 || file.cache.get(index) !== pfn) return false;
  const disk = file.disk;
  if (disk instanceof ShmemSwap) {
    const slot = k.swap.allocShmem();
    if (slot < 0) return false;
    // A page of zeros takes its slot too: the slot stands for a page shmem must keep.
    let content = mem.takeContent(pfn);
    if (content < 0) content = mem.content.alloc();
    disk.writeOut(k.swap, index, slot, content);
  } else {
    const content = mem.takeContent(pfn);
    if (content >= 0) disk.set(index, content);
  }
  file.cache.delete(index);
  mem.put(pfn);
  return true;
}

/**
 * Swaps out the resident pages of `mm` in [start, end), cold or not (a process swap-out).
 * Locked (wired) VMAs keep their pages: FreeBSD's vm_swapout_object_deactivate_pages()
 * skips wired pages, Linux's nearest path, MADV_PAGEOUT, skips VM_LOCKED VMAs
 * (can_madv_lru_vma()). FreeBSD's vm_swapout_map_deactivate_pages() then calls
 * pmap_remove() over the span, but only when no entry of the map is wired: the entries
 * left (pages swap could not take) stop translating, and per-range metadata sees a
 * removal. Returns the number of entries unmapped.
 */
/** The end of the user half (2^47): no VMA lies above it. */
const USER_SPACE_END = 2 ** 47;

export function swapOutProcess(k: Kernel, mm: Mm, start: number, end: number): number {
  // Whole pages: every page [start, end) touches goes, however the range was written.
  start -= start % PAGE_SIZE;
  end = Math.ceil(Math.min(end, USER_SPACE_END) / PAGE_SIZE) * PAGE_SIZE;
  const result: ReclaimResult = { freed: 0, unmapped: 0, scanned: 0 };
  const everything: ReclaimMode = { respectAccessed: false, target: Number.MAX_SAFE_INTEGER };
  let nothingWired = true;
  for (let v = mm.vmas.first(); v; v = v.nextSpan) if (v.flags & VM_LOCKED) nothingWired = false;
  const pmapRemove = k.freebsd && nothingWired;
  for (const v of mm.vmas.overlapping(start, end)) {
    if (v.flags & VM_LOCKED) continue;
    const a = Math.max(start, v.start);
    const b = Math.min(end, v.end);
    reclaimRange(k, mm, v, a, b, everything, null, result);
    if (pmapRemove) result.unmapped += mm.pmap.evict(null, a, b);
  }
  // The pmap_remove() covers the holes too: keys there see it (evict() told the VMAs' parts already).
  if (pmapRemove) mm.pmap.removedByVm(start, end);
  return result.unmapped;
}

/**
 * Frees up to `target` frames under memory pressure (Linux do_try_to_free_pages()): passes
 * at falling priority, each scanning twice as much as the one before, over two clocks —
 * unmapped page-cache and swap-cache frames first, then the mapped pages of every process
 * with a second chance for recently used ones. Locked VMAs are unevictable (Linux keeps
 * VM_LOCKED pages on the unevictable LRU). Both clocks resume where the last call left
 * them, so reclaim costs in proportion to what it scans, not to the size of the page cache,
 * the swap or the address spaces. The last pass (priority 0) looks at everything, so a 0
 * means nothing could be freed. Returns the number of frames freed.
 */
export function reclaim(k: Kernel, target: number): number {
  const result: ReclaimResult = { freed: 0, unmapped: 0, scanned: 0 };
  const frames = k.hw.mem.frameCount;
  // With swap full and no named file's page cache, scanning mapped pages could only clear A bits.
  let fileCache = 0;
  for (const f of k.files.values()) fileCache += f.cache.size;
  const live = k.swap.freeSlotCount > 0 || fileCache > 0 ? [...k.processes.values()].filter((p) => p.alive) : [];
  for (let priority = DEF_PRIORITY; priority >= 0 && result.freed < target; priority--) {
    // get_scan_count(): a pass scans memory >> priority, nothing while that is 0.
    const budget = priority === 0 ? Number.POSITIVE_INFINITY : Math.floor(frames / 2 ** priority);
    if (budget === 0) continue;
    shrinkUnmapped(k, budget, target, result);
    if (result.freed < target && live.length > 0) shrinkMapped(k, live, budget, priority === 0 ? 2 : 1, target, result);
  }
  if (result.freed > 0) k.events.push({ kind: 'reclaim', message: `reclaimed ${result.freed} frames (${result.unmapped} entries unmapped)` });
  return result.freed;
}

/** Advances the frame clock over at most `budget` frames (one turn at most), evicting unmapped cache pages. */
function shrinkUnmapped(k: Kernel, budget: number, target: number, result: ReclaimResult): void {
  const mem = k.hw.mem;
  const st = k.reclaimState;
  // Frames from the high-water mark up were never used: the clock turns over the rest.
  const n = mem.highWater;
  if (n <= 1) return;
  if (st.frameHand >= n) st.frameHand = 1;
  const scan = Math.min(budget, n - 1);
  for (let i = 0; i < scan && result.freed < target; i++) {
    const pfn = st.frameHand;
    st.frameHand = pfn + 1 < n ? pfn + 1 : 1;
    if (mem.mapcount[pfn] !== 0 || mem.refcount[pfn] !== 1) continue;
    const kind = mem.kind[pfn];
    if (kind === FRAME_FILE) {
      const file = k.fileByInode(mem.owner[pfn]);
      if (file && evictPageCache(k, file, mem.index[pfn], pfn)) result.freed++;
    } else if (kind === FRAME_ANON && mem.flags[pfn] & FRAME_SWAPCACHE) {
      if (writeBackIfUnmapped(k, pfn)) result.freed++;
    }
  }
}

/**
 * Advances the mapped-page clock over the VMAs of `live` (the live processes in pid
 * order), one page table at a time, until `target` frames are freed, `budget` (page
 * tables visited plus resident entries looked at) is spent, or the clock passed the end
 * of the list `turns` times. Skips locked VMAs.
 */
function shrinkMapped(k: Kernel, live: readonly Process[], budget: number, turns: number, target: number, result: ReclaimResult): void {
  if (live.length === 0) return;
  const st = k.reclaimState;
  const mode: ReclaimMode = { respectAccessed: true, target };
  // The process the clock is in, or the next one if it has gone.
  let i = 0;
  while (i < live.length && live[i].pid < st.pid) i++;
  let wrapped = 0;
  let va = i < live.length && live[i].pid === st.pid ? st.va : 0;
  if (i === live.length) {
    i = 0;
    wrapped = 1;
  }
  while (budget > 0 && result.freed < target) {
    const p = live[i];
    const v = p.mm.findVma(va);
    if (!v) {
      va = 0;
      if (++i === live.length) {
        if (++wrapped > turns) break;
        i = 0;
      }
      continue;
    }
    if (v.flags & VM_LOCKED) {
      va = v.end;
      continue;
    }
    const from = Math.max(va, v.start);
    const to = Math.min(v.end, (Math.floor(from / PT_SPAN) + 1) * PT_SPAN);
    const scanned = result.scanned;
    va = reclaimRange(k, p.mm, v, from, to, mode, null, result);
    budget -= 1 + result.scanned - scanned;
  }
  const at = live[i % live.length];
  st.pid = at.pid;
  st.va = i < live.length ? va : 0;
}

import { ENTRIES_PER_TABLE, pteIsSwap } from '../hw/pte.js';
import { type Pmap } from '../pmap/pmap.js';
import { type Kernel } from './kernel.js';
import { type Mm } from './mm.js';
import { type Process } from './process.js';
import { reclaim } from './reclaim.js';

/**
 * How much killing `p` would free, as each kernel's OOM killer ranks it. Linux
 * oom_badness() (without oom_score_adj): resident pages, swap entries and page-table pages
 * (mm_pgtables_bytes(), which leaves out the PGD). FreeBSD vm_pageout_oom():
 * vmspace_swap_count() plus the resident pages; page tables do not count.
 */
export function oomBadness(k: Kernel, p: Process): number {
  const mm = p.mm;
  const base = mm.pmap.resident + swapEntries(mm);
  if (k.freebsd) return base;
  // oom_badness(): oom_score_adj is counted in thousandths of all memory (RAM plus swap).
  const adj = p.oomScoreAdj === 0 ? 0 : Math.trunc((p.oomScoreAdj * (k.hw.mem.frameCount + k.hw.swap.slots)) / 1000);
  return Math.max(0, base + mm.pmap.tablesAllocated + adj);
}

/** oom_score_adj at which a process is never chosen (Linux OOM_SCORE_ADJ_MIN; FreeBSD's P_PROTECTED). */
export const OOM_SCORE_ADJ_MIN = -1000;

/** Swap entries in `mm`'s page tables (Linux MM_SWAPENTS). */
function swapEntries(mm: Mm): number {
  const pmap = mm.pmap;
  let n = 0;
  for (let v = mm.vmas.first(); v; v = v.nextSpan) {
    pmap.forEachPt(v.start, v.end, (table, first, count) => {
      const base = table * ENTRIES_PER_TABLE + first;
      for (let i = 0; i < count; i++) if (pteIsSwap(pmap.lo(base + i))) n++;
    });
  }
  return n;
}

/**
 * The process the OOM killer picks: the live one with the highest {@link oomBadness}
 * (Linux select_bad_process(), where a later task wins a tie; FreeBSD vm_pageout_oom(),
 * where only a bigger one replaces the first). A process that would free nothing is never
 * picked: killing it could not satisfy anyone (FreeBSD starts from bigsize 0; Linux would
 * free little more than its PGD).
 */
export function oomVictim(k: Kernel): Process | null {
  let best: Process | null = null;
  let bestPoints = 0;
  for (const p of k.processes.values()) {
    if (!p.alive || p.oomScoreAdj === OOM_SCORE_ADJ_MIN) continue;
    const points = oomBadness(k, p);
    if (points === 0) continue;
    if (!best || points > bestPoints || (points === bestPoints && !k.freebsd)) {
      best = p;
      bestPoints = points;
    }
  }
  return best;
}

/**
 * The page allocator's slow path for an order-0 GFP_KERNEL allocation
 * (__alloc_pages_slowpath()): reclaim while it makes progress, then the OOM killer
 * (out_of_memory()), one victim at a time, until `tryAlloc` succeeds. Fails when nothing
 * is left to kill, or when the victim is `requester`, whose kernel path must unwind
 * rather than go on with memory it no longer owns.
 */
export function allocSlowPath(k: Kernel, tryAlloc: () => boolean, requester: Process | null): boolean {
  for (let pass = 0; pass < 4; pass++) {
    // reclaim() looked at everything when it returns 0: another pass would find nothing.
    if (reclaim(k, 32) === 0) break;
    if (tryAlloc()) return true;
  }
  for (;;) {
    const victim = oomVictim(k);
    if (!victim) return false;
    const mm = victim.mm;
    k.events.push({
      kind: 'oom-kill',
      message: `Out of memory: killed process ${victim.pid} (${victim.name}), rss ${mm.pmap.resident} pages, swap ${swapEntries(mm)} entries, page tables ${mm.pmap.tablesAllocated}`,
    });
    k.killProcess(victim, 'out of memory');
    if (victim === requester) return false;
    if (tryAlloc()) return true;
  }
}

/**
 * What a page-table allocation of `pmap` runs when no frame is free: the same slow path,
 * on behalf of the process that owns the pmap — or, for a pmap no process has yet (the
 * child's during fork), of `creator`, the process whose path made it. True when a frame
 * is free for the table.
 */
export function pageTableSlowPath(k: Kernel, pmap: Pmap, creator: Process | null): boolean {
  let owner = creator;
  for (const p of k.processes.values()) {
    if (p.alive && p.mm.pmap === pmap) owner = p;
  }
  return allocSlowPath(k, () => k.hw.mem.freeFrames > 0, owner);
}

import { PAGE_SIZE } from '../hw/pte.js';
import { type Kernel } from './kernel.js';
import { type Mm } from './mm.js';

/**
 * The OOM reaper (Linux mm/oom_kill.c oom_reap_task_mm() → __oom_reap_task_mm()): frees
 * a killed process's private memory while a kernel path of that process is still in
 * flight and keeps the address space pinned, so the allocation that killed it can go
 * on. It runs only if mmap_lock can be taken for reading (mmap_read_trylock()); it
 * unmaps private mappings' pages and leaves VMAs and page tables for exit_mmap(). A page
 * table whose lock the in-flight path holds is left alone: that path may have read an
 * entry there that it will act on. Returns the frames and swap entries released.
 */
export function oomReap(k: Kernel, mm: Mm): number {
  const lock = mm.mmapLock;
  if (lock.writer !== -1) return 0;
  let released = 0;
  const release = (_va: number, lo: number, hi: number): void => {
    k.releaseEntry(lo, hi);
    released++;
  };
  const pmap = mm.pmap;
  for (let v = mm.vmas.first(); v; v = v.nextSpan) {
    // Shared mappings (shmem, shared files) keep their pages for the other users.
    if (v.shared) continue;
    pmap.forEachPt(v.start, v.end, (table, _first, count, va) => {
      if (k.ptLock(table).free) pmap.remove(null, va, va + count * PAGE_SIZE, release);
    });
  }
  return released;
}

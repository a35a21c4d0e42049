import { ENTRIES_PER_TABLE, PAGE_SIZE, PTE_P, PTE_PS, ptePfn } from '../hw/pte.js';
import { type Pmap } from '../pmap/pmap.js';

/**
 * Calls `fn(va, slot, level)` for every non-zero leaf entry under a pmap's root: PTEs and
 * 2 MiB PMD leaves. Invariants walk the real tables, not the VMAs, so an entry the kernel
 * forgot outside any VMA is seen too.
 */
export function forEachLeaf(pmap: Pmap, fn: (va: number, slot: number, level: 1 | 2) => void): void {
  const t = pmap.hw.tables;
  const visit = (table: number, level: number, base: number): void => {
    const span = PAGE_SIZE * ENTRIES_PER_TABLE ** (level - 1);
    for (let i = 0; i < ENTRIES_PER_TABLE; i++) {
      const s = table * ENTRIES_PER_TABLE + i;
      const lo = t.lo[s];
      const hi = t.hi[s];
      if (lo === 0 && hi === 0) continue;
      const va = base + i * span;
      if (level === 1 || (level === 2 && lo & PTE_PS && lo & PTE_P)) {
        fn(va, s, level === 1 ? 1 : 2);
        continue;
      }
      if ((lo & PTE_P) === 0) continue;
      visit(t.tableOfPfn(ptePfn(lo, hi)), level - 1, va);
    }
  };
  visit(pmap.root, 4, 0);
}

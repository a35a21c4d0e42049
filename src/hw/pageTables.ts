import { ENTRIES_PER_TABLE } from './pte.js';
import { FRAME_PAGETABLE, NO_FRAME, type PhysMem } from './physMem.js';

/** A table's level: 4 = PML4, 3 = PDPT, 2 = PD (PMD), 1 = PT. */
export type TableLevel = 1 | 2 | 3 | 4;

/**
 * The contents of every page-table page, 512 entries each, as two 32-bit halves in
 * flat typed arrays. A page-table page is a frame of kind FRAME_PAGETABLE whose
 * `data` holds its table number here; slot `table * 512 + i` is its entry i.
 *
 * A freed table keeps its number on a free list and its `freedAt` stamp, so a walk that
 * reaches it can be caught (the no-pt-use-after-free invariant) instead of silently
 * reading whatever the next owner wrote.
 */
export class PageTables {
  /** Low words of every entry. Re-read after {@link alloc}: growth replaces the array. */
  lo: Uint32Array;
  /** High words of every entry. */
  hi: Uint32Array;
  /** Frame backing each table; NO_FRAME for a free table number. */
  tablePfn: Int32Array;
  /** Level of each table. */
  level: Uint8Array;
  private freeTables: number[];
  private capacity: number;
  private used: number;

  constructor(private readonly mem: PhysMem, initialTables = 64) {
    this.capacity = initialTables;
    this.lo = new Uint32Array(initialTables * ENTRIES_PER_TABLE);
    this.hi = new Uint32Array(initialTables * ENTRIES_PER_TABLE);
    this.tablePfn = new Int32Array(initialTables).fill(NO_FRAME);
    this.level = new Uint8Array(initialTables);
    this.freeTables = [];
    this.used = 0;
  }

  /** Tables allocated now. */
  get liveTables(): number {
    return this.used - this.freeTables.length;
  }

  /** A zeroed table backed by a new frame; NO_FRAME when memory is exhausted. */
  alloc(level: TableLevel): number {
    const pfn = this.mem.alloc(FRAME_PAGETABLE);
    if (pfn === NO_FRAME) return NO_FRAME;
    let table = this.freeTables.pop();
    if (table === undefined) {
      if (this.used === this.capacity) this.grow();
      table = this.used++;
    }
    const base = table * ENTRIES_PER_TABLE;
    this.lo.fill(0, base, base + ENTRIES_PER_TABLE);
    this.hi.fill(0, base, base + ENTRIES_PER_TABLE);
    this.tablePfn[table] = pfn;
    this.level[table] = level;
    this.mem.data[pfn] = table;
    return table;
  }

  /** Frees a table and its frame. The caller guarantees no walker can still reach it. */
  free(table: number): void {
    const pfn = this.tablePfn[table]!;
    if (pfn === NO_FRAME) throw new Error(`mmsim bug: page table ${table} freed twice`);
    this.tablePfn[table] = NO_FRAME;
    this.mem.data[pfn] = -1;
    this.mem.free(pfn);
    this.freeTables.push(table);
  }

  /** True while `table` names a live table. */
  isLive(table: number): boolean {
    return table >= 0 && table < this.used && this.tablePfn[table] !== NO_FRAME;
  }

  /** Table number held by a page-table frame. */
  tableOfPfn(pfn: number): number {
    return this.mem.data[pfn]!;
  }

  /** True when every entry of the table is zero. */
  isEmpty(table: number): boolean {
    const base = table * ENTRIES_PER_TABLE;
    for (let i = 0; i < ENTRIES_PER_TABLE; i++) {
      if (this.lo[base + i] !== 0 || this.hi[base + i] !== 0) return false;
    }
    return true;
  }

  private grow(): void {
    this.capacity *= 2;
    const lo = new Uint32Array(this.capacity * ENTRIES_PER_TABLE);
    lo.set(this.lo);
    this.lo = lo;
    const hi = new Uint32Array(this.capacity * ENTRIES_PER_TABLE);
    hi.set(this.hi);
    this.hi = hi;
    const pfns = new Int32Array(this.capacity).fill(NO_FRAME);
    pfns.set(this.tablePfn);
    this.tablePfn = pfns;
    const level = new Uint8Array(this.capacity);
    level.set(this.level);
    this.level = level;
  }
}

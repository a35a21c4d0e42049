import { ENTRIES_PER_TABLE, pteHi, pteLo } from './pte.js';
import { FRAME_PAGETABLE, NO_FRAME, type PhysMem } from './physMem.js';

/** A table's level: 4 = PML4, 3 = PDPT, 2 = PD (PMD), 1 = PT. */
export type TableLevel = 1 | 2 | 3 | 4;

/**
 * The contents of every page-table page, 512 entries each, as two 32-bit halves in
 * flat typed arrays. A page-table page is a frame of kind FRAME_PAGETABLE whose
 * `data` holds its table number here; slot `table * 512 + i` is its entry i.
 *
 * Each table has a generation, bumped whenever its number is handed out, and each
 * entry that links a child table remembers the child's generation when it was written
 * ({@link link}). This is mmsim's ghost state, not hardware's: a walk through an entry
 * whose child was freed — even if the frame and number were reused for another table —
 * is caught (the no-pt-use-after-free invariant) instead of silently reading what the
 * next owner wrote.
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
  /** Generation of each table number, bumped on every allocation. */
  generation: Uint32Array;
  /** For each upper-level table, its row in {@link linkGeneration}; -1 for a PT (leaf-level) table. */
  upperRow: Int32Array;
  /**
   * For each entry of an upper-level table (row * 512 + index): the generation of the
   * child table it linked when written. Leaf-level tables — nearly all of them — link
   * no tables and need no row.
   */
  linkGeneration: Uint32Array;
  private readonly freeRows: number[] = [];
  private rowsUsed = 0;
  private freeTables: number[];
  private capacity: number;
  private used: number;

  constructor(private readonly mem: PhysMem, initialTables = 64) {
    this.capacity = initialTables;
    this.lo = new Uint32Array(initialTables * ENTRIES_PER_TABLE);
    this.hi = new Uint32Array(initialTables * ENTRIES_PER_TABLE);
    this.tablePfn = new Int32Array(initialTables).fill(NO_FRAME);
    this.level = new Uint8Array(initialTables);
    this.generation = new Uint32Array(initialTables);
    this.upperRow = new Int32Array(initialTables).fill(-1);
    this.linkGeneration = new Uint32Array(16 * ENTRIES_PER_TABLE);
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
    this.generation[table] = this.generation[table] + 1;
    this.upperRow[table] = level > 1 ? this.allocRow() : -1;
    this.mem.data[pfn] = table;
    return table;
  }

  /** Generation the entry at `slot` of an upper-level table recorded for its child. */
  linkedGeneration(slot: number): number {
    const row = this.upperRow[(slot / ENTRIES_PER_TABLE) | 0];
    return row < 0 ? 0 : this.linkGeneration[row * ENTRIES_PER_TABLE + (slot & (ENTRIES_PER_TABLE - 1))];
  }

  private allocRow(): number {
    const reused = this.freeRows.pop();
    const row = reused ?? this.rowsUsed++;
    if ((row + 1) * ENTRIES_PER_TABLE > this.linkGeneration.length) {
      const bigger = new Uint32Array(this.linkGeneration.length * 2);
      bigger.set(this.linkGeneration);
      this.linkGeneration = bigger;
    }
    this.linkGeneration.fill(0, row * ENTRIES_PER_TABLE, (row + 1) * ENTRIES_PER_TABLE);
    return row;
  }

  /** Writes entry `slot` to link `child` with the non-leaf flags `flags`, remembering the child's generation. */
  link(slot: number, child: number, flags: number): void {
    const row = this.upperRow[(slot / ENTRIES_PER_TABLE) | 0];
    if (row < 0) throw new Error(`mmsim bug: table ${(slot / ENTRIES_PER_TABLE) | 0} is a leaf-level table and cannot link a child`);
    const pfn = this.tablePfn[child];
    this.lo[slot] = pteLo(pfn, flags);
    this.hi[slot] = pteHi(pfn, 0, false);
    this.linkGeneration[row * ENTRIES_PER_TABLE + (slot & (ENTRIES_PER_TABLE - 1))] = this.generation[child];
  }

  /** Frees a table and its frame. The caller guarantees no walker can still reach it. */
  free(table: number): void {
    const pfn = this.tablePfn[table];
    if (pfn === NO_FRAME) throw new Error(`mmsim bug: page table ${table} freed twice`);
    this.tablePfn[table] = NO_FRAME;
    if (this.upperRow[table] >= 0) this.freeRows.push(this.upperRow[table]);
    this.upperRow[table] = -1;
    this.mem.free(pfn);
    this.freeTables.push(table);
  }

  /** True while `table` names a live table. */
  isLive(table: number): boolean {
    return table >= 0 && table < this.used && this.tablePfn[table] !== NO_FRAME;
  }

  /** Table number held by a page-table frame. */
  tableOfPfn(pfn: number): number {
    return this.mem.data[pfn];
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
    const gen = new Uint32Array(this.capacity);
    gen.set(this.generation);
    this.generation = gen;
    const rows = new Int32Array(this.capacity).fill(-1);
    rows.set(this.upperRow);
    this.upperRow = rows;
  }
}

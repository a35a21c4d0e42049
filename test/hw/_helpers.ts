/**
 * Test helpers for the hardware layer: a tiny machine (memory, page tables, MMU, one CPU)
 * and hand-built page tables, written entry by entry with pteLo/pteHi as the kernel would.
 */
import assert from 'node:assert/strict';
import { Cpu } from '../../src/hw/cpu.js';
import { Mmu, describeErrorCode, faultErrorCode, isFault, type AccessKind } from '../../src/hw/mmu.js';
import { PageTables, type TableLevel } from '../../src/hw/pageTables.js';
import { FRAME_ANON, FRAME_PAGETABLE, NO_FRAME, PhysMem } from '../../src/hw/physMem.js';
import { PAGE_SIZE, PTE_P, PTE_PS, PTE_RW, PTE_US, pteHi, pteLo, ptePfn } from '../../src/hw/pte.js';

/** Flags of the intermediate entries the helpers create: present, writable, user. */
export const UPPER = PTE_P | PTE_RW | PTE_US;

/** 2 MiB. */
export const HUGE = 2 * 1024 * 1024;

/** Table indices of `va` at levels 4, 3, 2 and 1 (PML4, PDPT, PD, PT). */
export function indices(va: number): [number, number, number, number] {
  const vpn = Math.floor(va / PAGE_SIZE);
  return [
    Math.floor(vpn / 2 ** 27) % 512,
    Math.floor(vpn / 2 ** 18) % 512,
    Math.floor(vpn / 2 ** 9) % 512,
    vpn % 512,
  ];
}

/** Options for one leaf mapping. */
export interface MapOptions {
  /** Protection key of the leaf (0..15). */
  readonly key?: number;
  /** XD in the leaf. */
  readonly xd?: boolean;
}

/** Slots (indices into tables.lo/hi) of the entries on the path to a leaf; -1 where absent. */
export interface PathSlots {
  l4: number;
  l3: number;
  l2: number;
  l1: number;
}

/** A small machine with one CPU whose CR3 holds a fresh PML4. */
export class Rig {
  readonly mem: PhysMem;
  readonly tables: PageTables;
  readonly mmu: Mmu;
  readonly cpu: Cpu;
  /** The PML4 loaded in `cpu.cr3Table`. */
  readonly root: number;

  constructor(frames = 128, tlbEntries = 64) {
    this.mem = new PhysMem(frames * PAGE_SIZE);
    this.tables = new PageTables(this.mem, 8);
    this.mmu = new Mmu(this.mem, this.tables);
    this.cpu = new Cpu(0, tlbEntries);
    this.root = this.newRoot();
    this.cpu.cr3Table = this.root;
  }

  /** A new, empty PML4 (for a second address space). */
  newRoot(): number {
    const t = this.tables.alloc(4);
    assert.notEqual(t, NO_FRAME, 'out of memory for a PML4');
    return t;
  }

  /** A fresh anonymous data frame. */
  frame(): number {
    const pfn = this.mem.alloc(FRAME_ANON);
    assert.notEqual(pfn, NO_FRAME, 'out of frames');
    return pfn;
  }

  /** Writes entry `index` of `table`. */
  setEntry(table: number, index: number, pfn: number, flags: number, key = 0, xd = false): number {
    const s = table * 512 + index;
    this.tables.lo[s] = pteLo(pfn, flags);
    this.tables.hi[s] = pteHi(pfn, key, xd);
    // Link the child's generation as the kernel's pmap does (PageTables.link).
    if (this.mem.kind[pfn] === FRAME_PAGETABLE && this.tables.upperRow[table] >= 0) {
      this.tables.linkGeneration[this.tables.upperRow[table] * 512 + index] = this.tables.generation[this.tables.tableOfPfn(pfn)];
    }
    return s;
  }

  /**
   * The table at `level` on the path to `va` under `root`, creating missing tables with
   * {@link UPPER} entries. Existing entries are kept as they are.
   */
  tableFor(va: number, level: TableLevel, root = this.root): number {
    const idx = indices(va);
    let table = root;
    for (let l = 4; l > level; l--) {
      const s = table * 512 + idx[4 - l];
      if ((this.tables.lo[s] & PTE_P) === 0) {
        const child = this.tables.alloc((l - 1) as TableLevel);
        assert.notEqual(child, NO_FRAME, 'out of memory for a page table');
        this.setEntry(table, idx[4 - l], this.tables.tablePfn[child], UPPER);
      }
      table = this.tables.tableOfPfn(ptePfn(this.tables.lo[s], this.tables.hi[s]));
    }
    return table;
  }

  /** Maps the 4 KiB page at `va` to `pfn` with leaf flags `flags` (P is not implied). Returns the PTE slot. */
  map(va: number, pfn: number, flags: number, opts: MapOptions = {}, root = this.root): number {
    const pt = this.tableFor(va, 1, root);
    return this.setEntry(pt, indices(va)[3], pfn, flags, opts.key ?? 0, opts.xd ?? false);
  }

  /** Maps the 2 MiB page at `va` (PS in the PMD entry) to the aligned frame `pfn`. Returns the PMD slot. */
  mapHuge(va: number, pfn: number, flags: number, opts: MapOptions = {}, root = this.root): number {
    const pd = this.tableFor(va, 2, root);
    return this.setEntry(pd, indices(va)[2], pfn, flags | PTE_PS, opts.key ?? 0, opts.xd ?? false);
  }

  /** Slots on the path to `va`, following present entries only. */
  path(va: number, root = this.root): PathSlots {
    const idx = indices(va);
    const out: PathSlots = { l4: -1, l3: -1, l2: -1, l1: -1 };
    let table = root;
    const keys = ['l4', 'l3', 'l2', 'l1'] as const;
    for (let l = 4; l >= 1; l--) {
      const s = table * 512 + idx[4 - l];
      out[keys[4 - l]] = s;
      const lo = this.tables.lo[s];
      if ((lo & PTE_P) === 0 || l === 1 || (l === 2 && (lo & PTE_PS) !== 0)) break;
      table = this.tables.tableOfPfn(ptePfn(lo, this.tables.hi[s]));
    }
    return out;
  }

  /** Sets bits in the low word of a slot. */
  setBits(slot: number, bits: number): void {
    this.tables.lo[slot] = (this.tables.lo[slot] | bits) >>> 0;
  }

  /** Clears bits in the low word of a slot. */
  clearBits(slot: number, bits: number): void {
    this.tables.lo[slot] = (this.tables.lo[slot] & ~bits) >>> 0;
  }

  /** Translates on the rig's CPU. */
  access(va: number, access: AccessKind, user: boolean): number {
    return this.mmu.translate(this.cpu, va, access, user);
  }
}

/** A fresh {@link Rig}. */
export function rig(frames?: number, tlbEntries?: number): Rig {
  return new Rig(frames, tlbEntries);
}

/** Asserts that `result` is a page fault with exactly error code `ec`. */
export function assertFault(result: number, ec: number, message?: string): void {
  assert.ok(isFault(result), `${message ? `${message}: ` : ''}expected a fault ${describeErrorCode(ec)}, got frame ${result}`);
  const got = faultErrorCode(result);
  assert.equal(
    got,
    ec,
    `${message ? `${message}: ` : ''}error code ${describeErrorCode(got)} (0x${got.toString(16)}), expected ${describeErrorCode(ec)} (0x${ec.toString(16)})`,
  );
}

/** Asserts that `result` is the frame `pfn`. */
export function assertFrame(result: number, pfn: number, message?: string): void {
  if (isFault(result)) {
    assert.fail(`${message ? `${message}: ` : ''}expected frame ${pfn}, got fault ${describeErrorCode(faultErrorCode(result))}`);
  }
  assert.equal(result, pfn, message);
}

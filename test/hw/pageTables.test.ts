import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PageTables } from '../../src/hw/pageTables.js';
import { FRAME_ANON, FRAME_FREE, FRAME_PAGETABLE, NO_FRAME, PhysMem } from '../../src/hw/physMem.js';
import { PAGE_SIZE, PTE_P, PTE_RW, pteHi, pteLo } from '../../src/hw/pte.js';

function setup(frames = 32, initialTables = 4): { mem: PhysMem; tables: PageTables } {
  const mem = new PhysMem(frames * PAGE_SIZE);
  return { mem, tables: new PageTables(mem, initialTables) };
}

describe('PageTables: alloc', () => {
  it('backs each table with a FRAME_PAGETABLE frame that names it', () => {
    const { mem, tables } = setup();
    const free = mem.freeFrames;
    const t = tables.alloc(4);
    assert.equal(t, 0);
    const pfn = tables.tablePfn[t];
    assert.ok(pfn > 0);
    assert.equal(mem.kind[pfn], FRAME_PAGETABLE);
    assert.equal(mem.refcount[pfn], 1);
    assert.equal(mem.data[pfn], t);
    assert.equal(tables.tableOfPfn(pfn), t);
    assert.equal(tables.level[t], 4);
    assert.equal(mem.freeFrames, free - 1);
    assert.equal(tables.liveTables, 1);
  });

  it('records each table’s level', () => {
    const { tables } = setup();
    for (const level of [4, 3, 2, 1] as const) assert.equal(tables.level[tables.alloc(level)], level);
    assert.equal(tables.liveTables, 4);
  });

  it('starts empty, and is zeroed again when a table number is reused', () => {
    const { tables } = setup();
    const t = tables.alloc(1);
    assert.ok(tables.isEmpty(t));
    tables.lo[t * 512 + 3] = pteLo(9, PTE_P);
    tables.hi[t * 512 + 511] = pteHi(2 ** 30, 1, true);
    tables.free(t);
    const again = tables.alloc(2);
    assert.equal(again, t, 'the freed number comes back');
    assert.ok(tables.isEmpty(again));
    assert.equal(tables.level[again], 2);
  });

  it('returns NO_FRAME when memory is exhausted, consuming no table number', () => {
    const { mem, tables } = setup(16);
    const got: number[] = [];
    for (;;) {
      const t = tables.alloc(1);
      if (t === NO_FRAME) break;
      got.push(t);
    }
    assert.equal(got.length, 15);
    assert.equal(mem.freeFrames, 0);
    assert.equal(tables.liveTables, 15);
    assert.equal(tables.alloc(3), NO_FRAME);
    assert.equal(tables.liveTables, 15);
    tables.free(got[4]);
    assert.equal(tables.alloc(3), got[4], 'freed number reused once memory is back');
  });

  it('grows past its initial capacity, keeping entries and frames', () => {
    const { tables } = setup(64, 2);
    const loBefore = tables.lo;
    const ts: number[] = [];
    for (let i = 0; i < 9; i++) {
      const t = tables.alloc(1);
      tables.lo[t * 512 + i] = pteLo(100 + i, PTE_P | PTE_RW);
      tables.hi[t * 512 + i] = pteHi(100 + i, i, false);
      ts.push(t);
    }
    assert.notEqual(tables.lo, loBefore, 'growth replaces the arrays (callers must re-read them)');
    ts.forEach((t, i) => {
      assert.equal(tables.lo[t * 512 + i], pteLo(100 + i, PTE_P | PTE_RW));
      assert.equal(tables.hi[t * 512 + i], pteHi(100 + i, i, false));
      assert.ok(tables.isLive(t));
      assert.equal(tables.tableOfPfn(tables.tablePfn[t]), t);
      assert.equal(tables.level[t], 1);
    });
    assert.equal(new Set(ts.map((t) => tables.tablePfn[t])).size, 9);
  });
});

describe('PageTables: free, isLive, isEmpty', () => {
  it('free returns the frame and kills the table', () => {
    const { mem, tables } = setup();
    const t = tables.alloc(1);
    const pfn = tables.tablePfn[t];
    const free = mem.freeFrames;
    tables.free(t);
    assert.ok(!tables.isLive(t));
    assert.equal(tables.tablePfn[t], NO_FRAME);
    assert.equal(mem.kind[pfn], FRAME_FREE);
    assert.equal(mem.data[pfn], -1);
    assert.equal(mem.freeFrames, free + 1);
    assert.equal(tables.liveTables, 0);
  });

  it('a freed table’s frame does not give back a content it never had', () => {
    const { mem, tables } = setup();
    const data = mem.alloc(FRAME_ANON);
    mem.write8(data, 0, 1); // content 0
    const t = tables.alloc(1); // its frame's data is table number 0, not content 0
    assert.equal(mem.data[tables.tablePfn[t]], 0);
    tables.free(t);
    assert.equal(mem.content.contentsInUse, 1);
    assert.equal(mem.read8(data, 0), 1);
  });

  it('throws on a double free', () => {
    const { tables } = setup();
    const t = tables.alloc(1);
    tables.free(t);
    assert.throws(() => tables.free(t), /freed twice/);
  });

  it('isLive is false outside the allocated range', () => {
    const { tables } = setup();
    assert.ok(!tables.isLive(0), 'nothing allocated yet');
    const t = tables.alloc(4);
    assert.ok(tables.isLive(t));
    assert.ok(!tables.isLive(-1));
    assert.ok(!tables.isLive(t + 1));
    assert.ok(!tables.isLive(1000));
  });

  it('isEmpty looks at both halves of every entry', () => {
    const { tables } = setup();
    const t = tables.alloc(1);
    const other = tables.alloc(1);
    tables.lo[other * 512] = 1; // a neighbour's entries do not count
    assert.ok(tables.isEmpty(t));
    tables.hi[t * 512 + 511] = 1;
    assert.ok(!tables.isEmpty(t), 'a high word alone');
    tables.hi[t * 512 + 511] = 0;
    tables.lo[t * 512 + 0] = 2;
    assert.ok(!tables.isEmpty(t), 'a low word alone');
    tables.lo[t * 512 + 0] = 0;
    assert.ok(tables.isEmpty(t));
  });

  it('keeps live and free counts straight over many alloc/free', () => {
    const { mem, tables } = setup(64, 2);
    const live: number[] = [];
    const framesAtStart = mem.freeFrames;
    for (let i = 0; i < 100; i++) {
      if (i % 4 === 3 && live.length > 0) tables.free(live.splice(i % live.length, 1)[0]);
      else {
        const t = tables.alloc(1);
        if (t !== NO_FRAME) live.push(t);
      }
      assert.equal(tables.liveTables, live.length);
      assert.equal(mem.freeFrames, framesAtStart - live.length);
    }
    for (const t of live) assert.ok(tables.isLive(t));
    assert.equal(new Set(live).size, live.length);
  });
});

/**
 * munmap(2) against Linux (mm/vma.c do_vmi_munmap(), do_vmi_align_munmap(),
 * free_pgtables()): its EINVAL cases, 0 for nothing mapped, holes, splitting, page-table
 * freeing and the loss of the data.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  MAP_FIXED,
  MAP_SHARED,
  O_RDWR,
  PROT_READ,
  errno,
} from '../../src/index.js';
import { PAGE, RW, ANON, assertSignal, map, setup, vmas } from './_helpers.js';

const TASK_SIZE = 0x7ffffffff000;

describe('munmap: errors', () => {
  it('an unaligned start is EINVAL', () => {
    const { t, p } = setup();
    const a = map(t, 0, 2 * PAGE, RW, ANON);
    assert.equal(t.munmap(a + 1, PAGE), errno('EINVAL'));
    assert.equal(t.munmap(a + 2048, PAGE), errno('EINVAL'));
    assert.equal(p.mapCount, 1);
  });

  it('len 0 is EINVAL, even at an unmapped address', () => {
    const { t } = setup();
    const a = map(t, 0, 2 * PAGE, RW, ANON);
    assert.equal(t.munmap(a, 0), errno('EINVAL'));
    assert.equal(t.munmap(0x10000000, 0), errno('EINVAL'));
  });

  it('a start beyond TASK_SIZE or a range running past it is EINVAL', () => {
    const { t } = setup();
    assert.equal(t.munmap(TASK_SIZE + PAGE, PAGE), errno('EINVAL'));
    assert.equal(t.munmap(TASK_SIZE, PAGE), errno('EINVAL'));
    assert.equal(t.munmap(TASK_SIZE - PAGE, 2 * PAGE), errno('EINVAL'));
    assert.equal(t.munmap(0, TASK_SIZE + PAGE), errno('EINVAL'));
  });

  it('an unaligned length is rounded up, not refused', () => {
    const { t, p } = setup();
    const a = map(t, 0, 3 * PAGE, RW, ANON);
    assert.equal(t.munmap(a, PAGE + 1), 0);
    assert.deepEqual(vmas(p), [[a + 2 * PAGE, a + 3 * PAGE, 'rw-p']]);
  });
});

describe('munmap: ranges', () => {
  it('returns 0 for a range with nothing mapped', () => {
    const { t, p } = setup();
    assert.equal(t.munmap(0x10000000, 16 * PAGE), 0);
    const a = map(t, 0x20000000, PAGE, RW, ANON);
    assert.equal(t.munmap(a + PAGE, 4 * PAGE), 0);
    assert.equal(t.munmap(a - 4 * PAGE, 4 * PAGE), 0);
    assert.equal(p.mapCount, 1);
  });

  it('unmaps every VMA across holes in one call', () => {
    const { t, p } = setup();
    const a = map(t, 0x10000000, 2 * PAGE, RW, ANON);
    const b = map(t, 0x10004000, 2 * PAGE, PROT_READ, ANON);
    const c = map(t, 0x10008000, PAGE, RW, ANON);
    t.store(a, 1);
    t.store(c, 3);
    assert.equal(t.munmap(a - PAGE, 0x10000 + PAGE), 0);
    assert.equal(p.mapCount, 0);
    assert.equal(p.resident, 0);
    for (const x of [a, b, c]) assertSignal(t.load(x), 'SIGSEGV', 'SEGV_MAPERR', x);
  });

  it('splits a VMA when punching a hole in its middle', () => {
    const { t, p } = setup();
    const a = map(t, 0, 5 * PAGE, RW, ANON);
    for (let i = 0; i < 5; i++) t.store(a + i * PAGE, 0x60 + i);
    assert.equal(t.munmap(a + PAGE, 2 * PAGE), 0);
    assert.deepEqual(vmas(p), [
      [a, a + PAGE, 'rw-p'],
      [a + 3 * PAGE, a + 5 * PAGE, 'rw-p'],
    ]);
    assert.equal(t.load(a), 0x60);
    assertSignal(t.load(a + PAGE), 'SIGSEGV', 'SEGV_MAPERR', a + PAGE);
    assertSignal(t.store(a + 2 * PAGE + 7, 1), 'SIGSEGV', 'SEGV_MAPERR', a + 2 * PAGE + 7);
    assert.equal(t.load(a + 3 * PAGE), 0x63);
    assert.equal(t.load(a + 4 * PAGE), 0x64);
    assert.equal(p.resident, 3);
  });

  it('trims the ends of VMAs that the range covers partly', () => {
    const { t, p } = setup();
    const lo = map(t, 0x10000000, 4 * PAGE, RW, ANON);
    const hi = map(t, 0x10004000, 4 * PAGE, PROT_READ, ANON);
    assert.equal(t.munmap(lo + 3 * PAGE, 2 * PAGE), 0);
    assert.deepEqual(vmas(p), [
      [lo, lo + 3 * PAGE, 'rw-p'],
      [hi + PAGE, hi + 4 * PAGE, 'r--p'],
    ]);
  });

  it('removes only the range from a file mapping; the rest still maps the right file pages', () => {
    const { m, t, p } = setup();
    const bytes = new Uint8Array(4 * PAGE);
    for (let i = 0; i < 4; i++) bytes[i * PAGE] = 0xa0 + i;
    m.createFile('/f', bytes);
    const fd = t.open('/f', O_RDWR) as number;
    const a = map(t, 0, 4 * PAGE, PROT_READ, MAP_SHARED, fd);
    assert.equal(t.munmap(a + PAGE, PAGE), 0);
    assert.equal(p.snapshot().vmas[1].offset, 2 * PAGE);
    assert.equal(t.load(a), 0xa0);
    assert.equal(t.load(a + 2 * PAGE), 0xa2);
    assert.equal(t.load(a + 3 * PAGE), 0xa3);
  });
});

describe('munmap: memory is released', () => {
  it('frees the frames of the unmapped pages', () => {
    const { m, t, p } = setup();
    const a = map(t, 0, 16 * PAGE, RW, ANON);
    const free0 = m.counters().machine.freeFrames;
    for (let i = 0; i < 16; i++) t.store(a + i * PAGE, i);
    assert.ok(m.counters().machine.freeFrames <= free0 - 16);
    assert.equal(t.munmap(a, 8 * PAGE), 0);
    assert.equal(p.resident, 8);
    assert.equal(t.munmap(a + 8 * PAGE, 8 * PAGE), 0);
    assert.equal(p.resident, 0);
  });

  it('frees the swap slots of swapped-out pages', () => {
    const { m, t, p } = setup();
    const a = map(t, 0, 8 * PAGE, RW, ANON);
    for (let i = 0; i < 8; i++) t.store(a + i * PAGE, i + 1);
    p.swapOut(a, a + 6 * PAGE);
    assert.equal(m.counters().machine.swapUsed, 6);
    assert.equal(t.munmap(a, 4 * PAGE), 0);
    assert.equal(m.counters().machine.swapUsed, 2);
    assert.equal(t.load(a + 5 * PAGE), 6);
    assert.equal(t.munmap(a + 4 * PAGE, 4 * PAGE), 0);
    assert.equal(m.counters().machine.swapUsed, 0);
  });

  it('frees the page tables that no VMA needs any more', () => {
    const { t, p } = setup();
    // Two mappings 1 GiB apart need separate page tables.
    const a = map(t, 0x40000000, 4 * PAGE, RW, ANON);
    const b = map(t, 0x80000000, 4 * PAGE, RW, ANON);
    t.store(a, 1);
    t.store(b, 2);
    const tables = p.snapshot().counters.mm.pageTables;
    assert.equal(t.munmap(b, 4 * PAGE), 0);
    assert.ok(p.snapshot().counters.mm.pageTables < tables, 'the PTE table of b was not freed');
    // a's table stays: a still needs it.
    assert.equal(t.load(a), 1);
  });

  it('keeps a page table that a neighbouring VMA still uses', () => {
    const { t, p } = setup();
    const a = map(t, 0x40000000, 4 * PAGE, RW, ANON);
    const b = map(t, 0x40010000, 4 * PAGE, RW, ANON);
    t.store(a, 1);
    t.store(b, 2);
    const tables = p.snapshot().counters.mm.pageTables;
    assert.equal(t.munmap(b, 4 * PAGE), 0);
    assert.equal(p.snapshot().counters.mm.pageTables, tables);
    assert.equal(t.load(a), 1);
  });

  it('unmapping the only mapping frees every page table below the PML4, as free_pgtables() does', () => {
    // Fixed: like Linux free_pgd_range(), the PMD and PUD tables go too when [floor, ceiling) covers them.
    const { t, p } = setup();
    assert.equal(p.snapshot().counters.mm.pageTables, 0);
    const a = map(t, 0, 4 * PAGE, RW, ANON);
    t.store(a, 1);
    assert.equal(p.snapshot().counters.mm.pageTables, 3);
    assert.equal(t.munmap(a, 4 * PAGE), 0);
    assert.equal(p.snapshot().counters.mm.pageTables, 0);
  });

  it('leaves no stale translation in any TLB (the store on another CPU faults)', () => {
    const { m, t, p } = setup({ cpus: 2 });
    const t2 = p.spawnThread(1);
    const a = map(t, 0, 2 * PAGE, RW, ANON);
    assert.equal(t.store(a, 5), null);
    assert.equal(t2.load(a), 5);
    const ipis = m.counters().cpus[1].ipisReceived;
    assert.equal(t.munmap(a, 2 * PAGE), 0);
    assert.ok(m.counters().cpus[1].ipisReceived > ipis, 'CPU 1 got no shoot-down');
    assertSignal(t2.load(a), 'SIGSEGV', 'SEGV_MAPERR', a);
    assert.deepEqual(m.checkInvariants(), []);
  });
});

describe('munmap: data is gone', () => {
  it('a new mapping at the same address reads zeros', () => {
    const { t } = setup();
    const a = map(t, 0, 4 * PAGE, RW, ANON);
    for (let i = 0; i < 4; i++) t.store(a + i * PAGE + 9, 0xee);
    assert.equal(t.munmap(a, 4 * PAGE), 0);
    const b = map(t, a, 4 * PAGE, RW, ANON | MAP_FIXED);
    assert.equal(b, a);
    for (let i = 0; i < 4; i++) assert.equal(t.load(a + i * PAGE + 9), 0);
  });

  it('the hint reuses the freed range and also reads zeros', () => {
    const { t } = setup();
    const a = map(t, 0, 2 * PAGE, RW, ANON);
    t.store(a, 0x42);
    t.munmap(a, 2 * PAGE);
    assert.equal(map(t, 0, 2 * PAGE, RW, ANON), a);
    assert.equal(t.load(a), 0);
  });

  it('a shared file mapping keeps its data in the file after munmap', () => {
    const { m, t } = setup();
    m.createFile('/f', 2 * PAGE);
    const fd = t.open('/f', O_RDWR) as number;
    const a = map(t, 0, 2 * PAGE, RW, MAP_SHARED, fd);
    t.store(a + PAGE + 3, 0x3c);
    assert.equal(t.munmap(a, 2 * PAGE), 0);
    const b = map(t, 0, 2 * PAGE, PROT_READ, MAP_SHARED, fd);
    assert.equal(t.load(b + PAGE + 3), 0x3c);
  });
});

/**
 * Reclaim (Linux mm/vmscan.c do_try_to_free_pages(), FreeBSD sys/vm/vm_swapout.c):
 * locked memory is unevictable, the reclaim clocks are per machine and resume where they
 * stopped, and reclaim scans in proportion to what it frees, not to the size of the
 * address spaces.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MAP_ANONYMOUS, MAP_FIXED, MAP_LOCKED, MAP_POPULATE, MAP_SHARED, O_RDWR, type Machine } from '../../src/index.js';
import { ANON, PAGE, RW, machine, map, open, setup } from './_helpers.js';

const MiB = 1 << 20;

for (const os of ['linux', 'freebsd'] as const) {
  describe(`${os}: locked memory is unevictable (D10)`, () => {
    it('reclaim leaves a MAP_LOCKED mapping resident and takes the unlocked one', () => {
      const { m, p, t } = setup({ os, memory: MiB, swap: MiB });
      const locked = map(t, 0, 4 * PAGE, RW, ANON | MAP_LOCKED);
      const plain = map(t, 0, 4 * PAGE, RW, ANON);
      for (let i = 0; i < 4; i++) {
        t.store(locked + i * PAGE, 1 + i);
        t.store(plain + i * PAGE, 11 + i);
      }
      assert.equal(m.reclaim(1000), 4);
      for (let i = 0; i < 4; i++) {
        assert.equal(p.pte(locked + i * PAGE).present, true, `locked page ${i}`);
        assert.equal(p.pte(plain + i * PAGE).swapped, true, `unlocked page ${i}`);
      }
      assert.equal(p.counters.swapOuts, 4);
      assert.equal(m.counters().machine.swapUsed, 4);
      for (let i = 0; i < 4; i++) assert.equal(t.load(locked + i * PAGE), 1 + i);
    });

    it('a process swap-out leaves locked pages resident', () => {
      const { m, p, t } = setup({ os, memory: MiB, swap: MiB });
      const locked = map(t, 0, 2 * PAGE, RW, ANON | MAP_LOCKED);
      const plain = map(t, 0, 2 * PAGE, RW, ANON);
      t.store(locked, 1);
      t.store(plain, 2);
      assert.equal(p.swapOut(), 1);
      assert.equal(p.pte(locked).present, true);
      assert.equal(p.pte(plain).swapped, true);
      assert.equal(m.counters().machine.swapUsed, 1);
    });

    it('the page cache behind a locked shared file mapping stays', () => {
      const m = machine({ os, memory: MiB, swap: MiB });
      m.createFile('/f', new Uint8Array(2 * PAGE).fill(0x5a));
      const p = m.spawn('p');
      const fd = open(p.main, '/f', O_RDWR);
      const a = map(p.main, 0, 2 * PAGE, RW, MAP_SHARED | MAP_LOCKED, fd, 0);
      assert.equal(p.resident, 2, 'MAP_LOCKED populates');
      assert.equal(m.reclaim(1000), 0);
      assert.equal(p.pte(a).present, true);
      assert.equal(m.counters().machine.pageCachePages, 2);
    });
  });
}

describe('freebsd: a wired entry keeps swap-out from calling pmap_remove() on the map', () => {
  // vm_swapout_map_deactivate_pages(): "if (desired == 0 && nothingwired) pmap_remove(...)".
  it('pkru-swapout-bug: with a locked mapping in the map, swap-out keeps the keys it would have lost', () => {
    const { m, p, t } = setup({ os: 'freebsd', memory: 8 * MiB, swap: 8 * MiB, variants: ['pkru-swapout-bug'] });
    const a = map(t, 0, 2 * PAGE, RW, ANON);
    t.store(a, 0x42);
    assert.equal(t.pkruProtectRange(a, 2 * PAGE, 5), 0);
    map(t, 0, PAGE, RW, ANON | MAP_LOCKED);
    assert.equal(m.swapOut(p), 1);
    assert.equal(p.pte(a).swapped, true, 'the unwired page still goes to swap');
    assert.equal(p.pkruRange(a)?.key, 5, 'no pmap_remove(): the key stays');
  });

  it('pkru-swapout-bug: without one, the keys go (the seed 000 bug)', () => {
    const { m, p, t } = setup({ os: 'freebsd', memory: 8 * MiB, swap: 8 * MiB, variants: ['pkru-swapout-bug'] });
    const a = map(t, 0, 2 * PAGE, RW, ANON);
    t.store(a, 0x42);
    assert.equal(t.pkruProtectRange(a, 2 * PAGE, 5), 0);
    m.swapOut(p);
    assert.equal(p.pkruRange(a), undefined);
  });
});

/** Two processes of 20 dirty pages each on a small machine; reclaim 7; the resident sets. */
function residentAfterPartialReclaim(): number[] {
  const m = machine({ memory: 256 * 1024, swap: MiB });
  const procs = ['a', 'b'].map((name) => m.spawn(name));
  for (const p of procs) {
    const a = map(p.main, 0, 20 * PAGE, RW, ANON);
    for (let i = 0; i < 20; i++) p.main.store(a + i * PAGE, i + 1);
  }
  m.reclaim(7);
  m.reclaim(7);
  return procs.map((p) => p.resident);
}

describe('reclaim clocks', () => {
  it('are per machine: the same steps on fresh machines in one process reclaim the same pages', () => {
    const first = residentAfterPartialReclaim();
    assert.deepEqual(residentAfterPartialReclaim(), first);
    assert.deepEqual(residentAfterPartialReclaim(), first);
    assert.equal(first[0] + first[1], 40 - 14);
  });

  it('resume where they stopped: a second reclaim takes other pages, not the same ones again', () => {
    const { m, p, t } = setup({ memory: MiB, swap: MiB });
    const a = map(t, 0, 64 * PAGE, RW, ANON);
    for (let i = 0; i < 64; i++) t.store(a + i * PAGE, i + 1);
    assert.equal(m.reclaim(8), 8);
    assert.equal(m.reclaim(8), 8);
    assert.equal(p.resident, 48);
    for (let i = 0; i < 64; i++) assert.equal(t.load(a + i * PAGE), i + 1);
  });

  it('return 0 only when nothing at all can be freed', () => {
    const { m, t } = setup({ memory: MiB, swap: 0 });
    const a = map(t, 0, 8 * PAGE, RW, ANON);
    for (let i = 0; i < 8; i++) t.store(a + i * PAGE, 1);
    assert.equal(m.reclaim(1000), 0, 'anonymous memory with no swap');
    m.createFile('/f', new Uint8Array(3 * PAGE).fill(1));
    assert.equal(m.reclaim(1000), 3, 'the file pages go');
  });
});

/** Counts the page-table entries `p`'s pmap is asked for (every entry a reclaim pass looks at) while `fn` runs. */
function entriesRead(m: Machine, pid: number, fn: () => void): number {
  const pmap = m.kernel.process(pid)!.mm.pmap;
  const lo = pmap.lo.bind(pmap);
  let n = 0;
  pmap.lo = (slot: number) => {
    n++;
    return lo(slot);
  };
  try {
    fn();
  } finally {
    pmap.lo = lo;
  }
  return n;
}

describe('reclaim cost (D11)', () => {
  // Before: each 32-frame reclaim went through the whole page cache (every resident shmem
  // page), every swap slot, and the page tables of the mapping from its start: populating
  // 32768 shmem pages on a 2 MiB machine read 2.1 million entries, and the time grew with
  // the square of the size.
  it('populating far more shared anonymous memory than there is looks at a few entries per page', () => {
    const m = machine({ memory: 2 * MiB, swap: 256 * MiB, invariants: 'off' });
    const p = m.spawn('p');
    const pages = 32768;
    const reads = entriesRead(m, p.pid, () => {
      assert.equal(p.main.mmap(0x100000000, pages * PAGE, RW, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED | MAP_POPULATE), 0x100000000);
    });
    assert.ok(p.alive);
    assert.ok(m.counters().machine.swapUsed > pages - 512, 'the pages went to swap');
    assert.ok(reads < 10 * pages, `${reads} entries read for ${pages} pages`);
  });
});

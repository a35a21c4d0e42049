/**
 * Swap and reclaim (Linux mm/vmscan.c shrink_folio_list(), mm/rmap.c try_to_unmap_one(),
 * mm/memory.c do_swap_page(), mm/oom_kill.c): explicit swap-out and swap-in, pages shared
 * after fork keeping one slot, reclaim under memory pressure, and the OOM killer when
 * there is no swap.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_PRIVATE,
  MAP_SHARED,
  O_RDWR,
  PROT_READ,
  isSignal,
} from '../../src/index.js';
import { PAGE, RW, ANON, byteOf, fork, machine, map, setup } from './_helpers.js';

const MiB = 1 << 20;

describe('swap-out and swap-in', () => {
  it('round-trips many pages with distinct values', () => {
    const { m, p, t } = setup();
    const n = 128;
    const a = map(t, 0, n * PAGE, RW, ANON);
    for (let i = 0; i < n; i++) {
      t.store(a + i * PAGE, byteOf(i, 0));
      t.store(a + i * PAGE + 2049, byteOf(i, 2049));
      t.store(a + i * PAGE + 4092, 0x01020304 + i, 4);
    }
    const free = m.counters().machine.freeFrames;
    assert.equal(p.swapOut(), n);
    assert.equal(p.resident, 0);
    assert.equal(m.counters().machine.swapUsed, n);
    assert.equal(m.counters().machine.freeFrames, free + n);
    assert.equal(p.counters.swapOuts, n);
    const entries = p.snapshot().pageTable;
    assert.equal(entries.length, n);
    assert.ok(entries.every((e) => e.pfn === null && e.entry.startsWith('swap')));
    for (let i = 0; i < n; i++) {
      assert.equal(t.load(a + i * PAGE), byteOf(i, 0));
      assert.equal(t.load(a + i * PAGE + 2049), byteOf(i, 2049));
      assert.equal(t.load(a + i * PAGE + 4092, 4), 0x01020304 + i);
    }
    assert.equal(p.counters.majorFaults, n);
    assert.equal(p.counters.swapIns, n);
    assert.equal(p.resident, n);
  });

  it('a page swapped in by a write is writable at once and keeps the other bytes', () => {
    const { m, p, t } = setup();
    const a = map(t, 0, PAGE, RW, ANON);
    t.store(a, 0x11);
    t.store(a + 1, 0x22);
    p.swapOut();
    assert.equal(t.store(a, 0x33), null);
    assert.equal(t.load(a), 0x33);
    assert.equal(t.load(a + 1), 0x22);
    assert.equal(m.counters().machine.swapUsed, 0);
  });

  it('swaps out and in repeatedly without losing or mixing up data', () => {
    const { p, t } = setup();
    const a = map(t, 0, 8 * PAGE, RW, ANON);
    for (let round = 0; round < 4; round++) {
      for (let i = 0; i < 8; i++) t.store(a + i * PAGE + round, byteOf(i, round));
      p.swapOut(a + (round % 2) * PAGE, a + 8 * PAGE);
    }
    for (let round = 0; round < 4; round++) {
      for (let i = 0; i < 8; i++) assert.equal(t.load(a + i * PAGE + round), byteOf(i, round));
    }
  });

  it('never-written pages and zero-page mappings come back as zeros', () => {
    const { m, p, t } = setup();
    const a = map(t, 0, 4 * PAGE, RW, ANON);
    assert.equal(t.load(a), 0);
    t.store(a + PAGE, 0);
    p.swapOut();
    assert.equal(m.counters().machine.swapUsed, 1);
    for (let i = 0; i < 4; i++) assert.equal(t.load(a + i * PAGE), 0);
  });

  it('a page shared after fork takes one slot; both processes read it back; COW still works', () => {
    const { m, p, t } = setup({ cpus: 2 });
    const a = map(t, 0, PAGE, RW, ANON);
    t.store(a, 0xab);
    t.store(a + 100, 0xcd);
    const c = fork(t, 1);
    m.swapOut(p);
    // The child still maps the frame: it stays in memory, in the swap cache.
    assert.equal(m.counters().machine.swapUsed, 1);
    m.swapOut(c);
    assert.equal(m.counters().machine.swapUsed, 1);
    assert.equal(p.resident + c.resident, 0);
    const [pe] = p.snapshot().pageTable;
    const [ce] = c.snapshot().pageTable;
    assert.equal(pe.raw, ce.raw, 'both entries name the same slot');
    assert.equal(t.load(a), 0xab);
    assert.equal(c.main.load(a + 100), 0xcd);
    // Still shared after swap-in: one frame, mapped twice.
    assert.equal(p.snapshot().pageTable[0].pfn, c.snapshot().pageTable[0].pfn);
    assert.equal(c.main.store(a, 0x01), null);
    assert.equal(t.load(a), 0xab);
    assert.equal(c.main.load(a), 0x01);
    assert.equal(t.store(a + 100, 0x02), null);
    assert.equal(c.main.load(a + 100), 0xcd);
  });

  it('a page shared after fork, swapped out by both: the child writes first and the parent keeps the old data', () => {
    const { m, p } = setup({ cpus: 2 });
    const a = map(p.main, 0, 2 * PAGE, RW, ANON);
    p.main.store(a, 0x10);
    p.main.store(a + PAGE, 0x20);
    const c = fork(p.main, 1);
    m.swapOut(c);
    m.swapOut(p);
    assert.equal(m.counters().machine.swapUsed, 2);
    assert.equal(c.main.store(a, 0x11), null);
    assert.equal(p.main.store(a + PAGE, 0x21), null);
    assert.equal(p.main.load(a), 0x10);
    assert.equal(c.main.load(a + PAGE), 0x20);
    assert.equal(c.main.load(a), 0x11);
    assert.equal(p.main.load(a + PAGE), 0x21);
  });

  it('file pages are dropped, not swapped, and come back from the file', () => {
    const m = machine();
    m.createFile('/f', 2 * PAGE);
    const p = m.spawn('p');
    const t = p.main;
    const fd = t.open('/f', O_RDWR) as number;
    const a = map(t, 0, 2 * PAGE, RW, MAP_SHARED, fd);
    t.store(a, 0x61);
    t.store(a + PAGE + 1, 0x62);
    assert.equal(p.swapOut(), 2);
    assert.equal(p.resident, 0);
    assert.equal(m.counters().machine.swapUsed, 0);
    m.reclaim(64);
    assert.equal(t.load(a), 0x61);
    assert.equal(t.load(a + PAGE + 1), 0x62);
  });

  it('a private COW copy of a file page goes to swap and comes back', () => {
    const m = machine();
    m.createFile('/f', new Uint8Array([1, 2, 3]));
    const p = m.spawn('p');
    const t = p.main;
    const fd = t.open('/f', O_RDWR) as number;
    const a = map(t, 0, PAGE, RW, MAP_PRIVATE, fd);
    t.store(a, 0x71);
    p.swapOut();
    assert.equal(m.counters().machine.swapUsed, 1);
    m.reclaim(64);
    assert.equal(t.load(a), 0x71);
    assert.equal(t.load(a + 1), 2);
  });

  it('shared anonymous memory survives reclaim', () => {
    const { m, p } = setup({ cpus: 2 });
    const a = map(p.main, 0, 4 * PAGE, RW, MAP_SHARED | MAP_ANONYMOUS);
    for (let i = 0; i < 4; i++) p.main.store(a + i * PAGE, 0x80 + i);
    const c = fork(p.main, 1);
    m.swapOut(p);
    m.swapOut(c);
    m.reclaim(1000);
    for (let i = 0; i < 4; i++) assert.equal(c.main.load(a + i * PAGE), 0x80 + i);
    c.main.store(a, 0x90);
    assert.equal(p.main.load(a), 0x90);
  });
});

describe('reclaim under memory pressure', () => {
  it('a process touching 4 MiB on a 2 MiB machine gets pages swapped and reads every value back', () => {
    // Fixed: the fault allocates before taking the PTL (Linux do_anonymous_page()), so its own table stays reclaimable.
    const { m, p, t } = setup({ memory: 2 * MiB, swap: 8 * MiB });
    const n = 1024;
    const a = map(t, 0, n * PAGE, RW, ANON);
    for (let i = 0; i < n; i++) {
      const r = t.store(a + i * PAGE + (i % 64), byteOf(i, 0));
      if (r !== null) assert.fail(`store to page ${i} raised ${r.signal}: ${m.events.map((e) => e.message).join('; ')}`);
    }
    assert.ok(p.counters.swapOuts > 0);
    for (let i = 0; i < n; i++) assert.equal(t.load(a + i * PAGE + (i % 64)), byteOf(i, 0), `page ${i}`);
    assert.ok(p.alive);
    assert.ok(!m.events.some((e) => e.kind === 'oom-kill'));
  });

  it('2 MiB spread over four page tables on a 1 MiB machine: pages are swapped and all read back', () => {
    const { m, p, t } = setup({ memory: 1 * MiB });
    const regions: number[] = [];
    for (let r = 0; r < 4; r++) regions.push(map(t, 0x40000000 + r * 2 * MiB, 128 * PAGE, RW, ANON | MAP_FIXED));
    for (let r = 0; r < 4; r++) {
      for (let i = 0; i < 128; i++) {
        const res = t.store(regions[r] + i * PAGE + i, byteOf(r * 128 + i, i));
        if (res !== null) assert.fail(`store raised ${res.signal}`);
      }
    }
    assert.ok(p.counters.swapOuts >= 512 - 256, `only ${p.counters.swapOuts} swap-outs`);
    assert.ok(m.events.some((e) => e.kind === 'reclaim'));
    for (let r = 0; r < 4; r++) {
      for (let i = 0; i < 128; i++) assert.equal(t.load(regions[r] + i * PAGE + i), byteOf(r * 128 + i, i));
    }
    assert.ok(p.counters.majorFaults > 0);
    assert.ok(p.alive);
    assert.ok(!m.events.some((e) => e.kind === 'oom-kill'));
  });

  it('two processes under pressure both keep their data', () => {
    const m = machine({ cpus: 2, memory: 1 * MiB });
    const ps = [m.spawn('a', 0), m.spawn('b', 1)];
    const bases = ps.map((p) => [0, 1].map((r) => map(p.main, 0x40000000 + r * 2 * MiB, 100 * PAGE, RW, ANON | MAP_FIXED)));
    for (let k = 0; k < 2; k++) {
      for (let r = 0; r < 2; r++) for (let i = 0; i < 100; i++) assert.equal(ps[k].main.store(bases[k][r] + i * PAGE, byteOf(k * 1000 + r * 100 + i, 0)), null);
    }
    for (let k = 0; k < 2; k++) {
      for (let r = 0; r < 2; r++) for (let i = 0; i < 100; i++) assert.equal(ps[k].main.load(bases[k][r] + i * PAGE), byteOf(k * 1000 + r * 100 + i, 0));
    }
    assert.ok(ps.every((p) => p.alive));
  });
});

describe('OOM when there is no swap', () => {
  it('kills the biggest process with SIGKILL, records it, and leaves the others alone', () => {
    const m = machine({ cpus: 2, memory: 1 * MiB, swap: 0 });
    const small = m.spawn('small', 0);
    const big = m.spawn('big', 1);
    const s = map(small.main, 0, 16 * PAGE, RW, ANON);
    for (let i = 0; i < 16; i++) small.main.store(s + i * PAGE, i + 1);
    const freeAfterSmall = m.counters().machine.freeFrames;
    const b = map(big.main, 0, 300 * PAGE, RW, ANON);
    let killedAt = -1;
    for (let i = 0; i < 300; i++) {
      const r = big.main.store(b + i * PAGE, 1);
      if (r !== null) {
        assert.equal(r.signal, 'SIGKILL');
        killedAt = i;
        break;
      }
    }
    assert.ok(killedAt > 200, `killed after ${killedAt} pages`);
    assert.equal(big.alive, false);
    assert.deepEqual(big.exitReason, { kind: 'killed', signal: 'SIGKILL', why: 'out of memory' });
    assert.ok(big.main.signals.some((x) => x.signal === 'SIGKILL'));
    const kills = m.events.filter((e) => e.kind === 'oom-kill');
    assert.equal(kills.length, 1);
    assert.match(kills[0].message, new RegExp(`process ${big.pid} \\(big\\)`));
    assert.ok(small.alive);
    for (let i = 0; i < 16; i++) assert.equal(small.main.load(s + i * PAGE), i + 1);
    // The victim's memory went back to the free list.
    assert.equal(m.counters().machine.freeFrames, freeAfterSmall + 1);
  });

  it('kills the biggest process even when a smaller one is asking for memory', () => {
    const m = machine({ cpus: 2, memory: 1 * MiB, swap: 0 });
    const big = m.spawn('big', 0);
    const small = m.spawn('small', 1);
    const b = map(big.main, 0, 160 * PAGE, RW, ANON);
    for (let i = 0; i < 160; i++) assert.equal(big.main.store(b + i * PAGE, 1), null);
    const s = map(small.main, 0, 100 * PAGE, RW, ANON);
    for (let i = 0; i < 100; i++) {
      const r = small.main.store(s + i * PAGE, (i & 0x7f) + 1);
      if (r !== null) assert.fail(`small got ${r.signal} at page ${i}`);
    }
    assert.equal(big.alive, false);
    assert.ok(small.alive);
    assert.equal(m.events.filter((e) => e.kind === 'oom-kill').length, 1);
    for (let i = 0; i < 100; i++) assert.equal(small.main.load(s + i * PAGE), (i & 0x7f) + 1);
  });

  it('drops clean file pages before killing anyone', () => {
    // Fixed: like Linux shrink_folio_list(), reclaim evicts clean mapped file pages before the OOM killer runs.
    const m = machine({ memory: 1 * MiB, swap: 0 });
    m.createFile('/f', 150 * PAGE);
    const p = m.spawn('p');
    const t = p.main;
    const fd = t.open('/f', O_RDWR) as number;
    const f = map(t, 0x40000000, 150 * PAGE, PROT_READ, MAP_SHARED, fd);
    for (let i = 0; i < 150; i++) assert.equal(t.load(f + i * PAGE), 0);
    const a = map(t, 0x80000000, 150 * PAGE, RW, ANON);
    for (let i = 0; i < 150; i++) {
      const r = t.store(a + i * PAGE, 1);
      if (r !== null) assert.fail(`store raised ${r.signal} at page ${i}`);
    }
    assert.ok(p.alive);
    assert.ok(!m.events.some((e) => e.kind === 'oom-kill'));
  });

  it('a thread of a killed process cannot touch memory any more', () => {
    // Fixed: a thread of a torn-down address space gets SIGKILL instead of walking its freed page tables.
    const m = machine({ cpus: 2, memory: 1 * MiB, swap: 0 });
    const big = m.spawn('big', 1);
    const b = map(big.main, 0, 300 * PAGE, RW, ANON);
    for (let i = 0; i < 300; i++) if (big.main.store(b + i * PAGE, 1) !== null) break;
    assert.equal(big.alive, false);
    const r = big.main.load(b);
    assert.ok(isSignal(r));
    assert.equal(r.signal, 'SIGKILL');
    assert.deepEqual(m.checkInvariants(), []);
  });
});

/**
 * The OOM killer (Linux mm/oom_kill.c, FreeBSD vm_pageout_oom()) for every GFP_KERNEL
 * order-0 allocation, page tables included (D18): a PML4 for spawn, exec and fork, and
 * the tables a fault, fork or mremap needs. Victims rank like oom_badness(): resident
 * pages, swap entries and page-table pages; a process that would free nothing is never
 * picked.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { errno, MADV_DONTNEED, MAP_FIXED, MAP_LOCKED, MAP_POPULATE, MREMAP_FIXED, MREMAP_MAYMOVE, OutOfMemoryError, type Machine, type ProcessHandle } from '../../src/index.js';
import { ANON, PAGE, RW, fork, machine, map } from './_helpers.js';

/** A 32-frame machine with no swap: frame 0, the zero page, and a hog of 25 pages (+ PML4 and 3 tables); one frame left. */
function hogged(os: 'linux' | 'freebsd' = 'linux'): { m: Machine; hog: ProcessHandle } {
  const m = machine({ os, memory: 32 * PAGE, swap: 0 });
  const hog = m.spawn('hog');
  map(hog.main, 0, 25 * PAGE, RW, ANON | MAP_POPULATE);
  assert.equal(m.counters().machine.freeFrames, 1);
  return { m, hog };
}

const kills = (m: Machine): string[] => m.events.filter((e) => e.kind === 'oom-kill').map((e) => e.message);

describe('page-table allocations go through reclaim and the OOM killer (D18)', () => {
  it('exec OOM-kills the hog for its new PML4 instead of failing with ENOMEM', () => {
    const { m, hog } = hogged();
    const q = m.spawn('q');
    assert.equal(q.main.exec(), 0);
    assert.equal(hog.alive, false);
    assert.deepEqual(hog.exitReason, { kind: 'killed', signal: 'SIGKILL', why: 'out of memory' });
    assert.equal(kills(m).length, 1);
    assert.match(kills(m)[0], /killed process 1 \(hog\), rss 25 pages, swap 0 entries, page tables 3/);
  });

  it('fork OOM-kills the hog for the child\'s PML4', () => {
    const { m, hog } = hogged();
    const q = m.spawn('q');
    const child = fork(q.main);
    assert.ok(child.alive);
    assert.equal(hog.alive, false);
  });

  it('spawn OOM-kills the hog rather than throwing OutOfMemoryError', () => {
    const { m, hog } = hogged();
    m.spawn('q');
    const r = m.spawn('r');
    assert.ok(r.alive);
    assert.equal(hog.alive, false);
  });

  it('a fault that needs page tables OOM-kills the hog, not the faulting process', () => {
    const { m, hog } = hogged();
    // The last free frame goes to q's PML4: its first store needs three tables and a page.
    const q = m.spawn('q');
    const a = map(q.main, 0x40000000, PAGE, RW, ANON | MAP_FIXED);
    assert.equal(q.main.store(a, 7), null);
    assert.ok(q.alive);
    assert.equal(hog.alive, false);
    assert.equal(q.main.load(a), 7);
  });

  it('mremap that needs page tables at its destination OOM-kills the hog', () => {
    const m = machine({ memory: 32 * PAGE, swap: 0 });
    const q = m.spawn('q');
    const a = map(q.main, 0x40000000, PAGE, RW, ANON | MAP_FIXED);
    q.main.store(a, 9);
    const hog = m.spawn('hog');
    for (let i = 0; m.counters().machine.freeFrames > 0; i++) hog.main.store(map(hog.main, 0, PAGE, RW, ANON), 1);
    assert.equal(q.main.mremap(a, PAGE, PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, 0x8000000000), 0x8000000000);
    assert.equal(hog.alive, false);
    assert.equal(q.main.load(0x8000000000), 9);
  });

  it('a process that asks for a page table and is itself the victim gets ENOMEM (and is gone)', () => {
    const m = machine({ memory: 32 * PAGE, swap: 0 });
    const p = m.spawn('p');
    map(p.main, 0, 20 * PAGE, RW, ANON | MAP_POPULATE);
    const small = m.spawn('small');
    map(small.main, 0, PAGE, RW, ANON | MAP_POPULATE);
    m.spawn('empty');
    assert.equal(m.counters().machine.freeFrames, 0);
    assert.equal(p.main.exec(), errno('ENOMEM'));
    assert.equal(p.alive, false);
    assert.ok(small.alive);
    assert.deepEqual(m.checkInvariants(), []);
  });

  it('spawn throws OutOfMemoryError when nobody has anything to free, and kills no one', () => {
    const m = machine({ memory: 16 * PAGE, swap: 0 });
    const procs: ProcessHandle[] = [];
    assert.throws(() => {
      for (;;) procs.push(m.spawn('empty'));
    }, OutOfMemoryError);
    assert.ok(procs.length > 0);
    assert.ok(procs.every((p) => p.alive));
    assert.deepEqual(kills(m), []);
  });
});

/**
 * Machine for ranking: `a` has 30 pages, all swapped out (rss 0); `b` has 20 locked
 * resident pages; then `c` stores pages until someone is killed.
 */
function rankSwapOnly(os: 'linux' | 'freebsd'): { a: ProcessHandle; b: ProcessHandle; c: ProcessHandle; m: Machine } {
  const m = machine({ os, memory: 48 * PAGE, swap: 31 * PAGE });
  const a = m.spawn('a');
  const x = map(a.main, 0, 30 * PAGE, RW, ANON);
  for (let i = 0; i < 30; i++) a.main.store(x + i * PAGE, i + 1);
  assert.equal(a.swapOut(), 30);
  assert.equal(m.counters().machine.swapUsed, 30, 'swap is full');
  const b = m.spawn('b');
  map(b.main, 0, 20 * PAGE, RW, ANON | MAP_LOCKED);
  const c = m.spawn('c');
  const y = map(c.main, 0, 64 * PAGE, RW, ANON);
  for (let i = 0; i < 64 && m.events.every((e) => e.kind !== 'oom-kill'); i++) c.main.store(y + i * PAGE, 1);
  return { a, b, c, m };
}

describe('the OOM killer ranks like oom_badness(): rss + swap entries + page tables (D18)', () => {
  it('linux: a process whose memory is all in swap is the victim over a smaller resident one', () => {
    const { a, b, c, m } = rankSwapOnly('linux');
    assert.equal(kills(m).length, 1);
    assert.equal(a.alive, false, kills(m)[0]);
    assert.ok(b.alive && c.alive);
    assert.equal(m.counters().machine.swapUsed, 0, 'its swap entries went with it');
  });

  it('freebsd: vm_pageout_oom() counts swap too', () => {
    const { a, b, c } = rankSwapOnly('freebsd');
    assert.equal(a.alive, false);
    assert.ok(b.alive && c.alive);
  });

  /**
   * `h` holds 13 page tables and 6 pages, or none with `dontneed` (FreeBSD's MADV_DONTNEED
   * is only advice); `b` 8 locked pages; `c` grows until a kill.
   */
  function rankTables(os: 'linux' | 'freebsd', dontneed: boolean): { h: ProcessHandle; b: ProcessHandle; c: ProcessHandle; m: Machine } {
    const m = machine({ os, memory: 40 * PAGE, swap: 0 });
    const h = m.spawn('h');
    for (let i = 1; i <= 6; i++) {
      const va = i * 0x40000000;
      map(h.main, va, PAGE, RW, ANON | MAP_FIXED);
      h.main.store(va, 1);
      if (dontneed) assert.equal(h.main.madvise(va, PAGE, MADV_DONTNEED), 0);
    }
    assert.equal(h.resident, dontneed ? 0 : 6);
    const b = m.spawn('b');
    map(b.main, 0, 8 * PAGE, RW, ANON | MAP_LOCKED);
    const c = m.spawn('c');
    const y = map(c.main, 0, 64 * PAGE, RW, ANON);
    for (let i = 0; i < 64 && m.events.every((e) => e.kind !== 'oom-kill'); i++) c.main.store(y + i * PAGE, 1);
    return { h, b, c, m };
  }

  it('linux: a process holding only page tables is the victim when they are the most', () => {
    const { h, b, c, m } = rankTables('linux', true);
    assert.equal(h.alive, false, kills(m)[0]);
    assert.ok(b.alive && c.alive);
    assert.match(kills(m)[0], /rss 0 pages, swap 0 entries, page tables 13/);
  });

  it('linux: page tables count with the pages: 6 pages and 13 tables outrank 8 pages and 3 tables', () => {
    const { h, b, c } = rankTables('linux', false);
    assert.equal(h.alive, false);
    assert.ok(b.alive && c.alive);
  });

  it('freebsd: page tables do not count, so the largest resident set goes', () => {
    const { h, b, c } = rankTables('freebsd', false);
    assert.ok(h.alive);
    assert.equal(b.alive, false);
    assert.ok(c.alive);
  });
});

/**
 * Shared anonymous memory (Linux mm/shmem.c): a shmem object's pages are swap-backed.
 * shmem_writepage() moves a reclaimed page to a swap slot, counted in the swap in use;
 * shmem_swapin_folio() reads it back and frees the slot; with no slot free the page
 * cannot be reclaimed, so shmem larger than memory with no swap ends in an OOM kill.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MAP_ANONYMOUS, MAP_FIXED, MAP_POPULATE, MAP_SHARED } from '../../src/index.js';
import { PAGE, RW, byteOf, fork, map, setup } from './_helpers.js';

const MiB = 1 << 20;
const SHARED = MAP_SHARED | MAP_ANONYMOUS;

describe('shmem is swap-backed (D11)', () => {
  it('reclaimed shmem pages take swap slots, read back intact, and give the slots back', () => {
    const { m, p, t } = setup({ memory: MiB, swap: 4 * MiB });
    const n = 64;
    const a = map(t, 0, n * PAGE, RW, SHARED);
    for (let i = 0; i < n; i++) t.store(a + i * PAGE + 7, byteOf(i, 7));
    const free = m.counters().machine.freeFrames;
    assert.equal(m.reclaim(1000), n);
    const c = m.counters().machine;
    assert.equal(c.swapUsed, n);
    assert.equal(c.freeFrames, free + n);
    assert.equal(c.pageCachePages, 0);
    assert.equal(p.peek(a + 5 * PAGE + 7), byteOf(5, 7), 'the bytes are there while in swap');
    for (let i = 0; i < n; i++) assert.equal(t.load(a + i * PAGE + 7), byteOf(i, 7));
    assert.equal(m.counters().machine.swapUsed, 0, 'swap-in frees the slot');
    assert.equal(m.counters().machine.swapReads, n);
  });

  it('pages of zeros take slots too: populated shmem must be kept', () => {
    const { m, t } = setup({ memory: MiB, swap: 4 * MiB });
    const a = map(t, 0, 16 * PAGE, RW, SHARED | MAP_POPULATE);
    assert.equal(m.reclaim(1000), 16);
    assert.equal(m.counters().machine.swapUsed, 16);
    assert.equal(t.load(a + 3 * PAGE), 0);
  });

  it('the object\'s swap slots go with its last mapping', () => {
    const { m, p, t } = setup({ memory: MiB, swap: 4 * MiB });
    const a = map(t, 0, 8 * PAGE, RW, SHARED);
    for (let i = 0; i < 8; i++) t.store(a + i * PAGE, i + 1);
    const child = fork(t);
    m.reclaim(1000);
    assert.equal(m.counters().machine.swapUsed, 8);
    assert.equal(t.munmap(a, 8 * PAGE), 0);
    assert.equal(m.counters().machine.swapUsed, 8, 'the child still maps it');
    assert.equal(child.main.load(a + 2 * PAGE), 3);
    child.exit();
    p.exit();
    const c = m.counters().machine;
    assert.equal(c.swapUsed, 0);
    assert.equal(c.frames - c.freeFrames, 2, 'only frame 0 and the zero page');
  });

  it('with swap full, shmem pages stay mapped instead of going anywhere', () => {
    const { m, p, t } = setup({ memory: MiB, swap: 4 * PAGE });
    const a = map(t, 0, 8 * PAGE, RW, SHARED);
    for (let i = 0; i < 8; i++) t.store(a + i * PAGE, i + 1);
    // Slot 0 is the swap header: 3 slots.
    assert.equal(m.reclaim(1000), 3);
    assert.equal(m.counters().machine.swapUsed, 3);
    assert.equal(p.resident, 5);
    for (let i = 0; i < 8; i++) assert.equal(t.load(a + i * PAGE), i + 1);
  });

  it('8M of populated shmem on a 1M machine with no swap is an OOM kill, not an unlimited store', () => {
    const { m, p, t } = setup({ memory: MiB, swap: 0 });
    assert.equal(typeof t.mmap(0, 8 * MiB, RW, SHARED | MAP_POPULATE), 'number');
    assert.equal(p.alive, false);
    assert.deepEqual(p.exitReason, { kind: 'killed', signal: 'SIGKILL', why: 'out of memory' });
    assert.equal(m.events.filter((e) => e.kind === 'oom-kill').length, 1);
    const c = m.counters().machine;
    assert.equal(c.swapUsed, 0);
    assert.equal(c.frames - c.freeFrames, 2, 'the object went with its mapping');
  });

  it('a large shmem populate with enough swap keeps every page, in swap', () => {
    const { m, p, t } = setup({ memory: MiB, swap: 64 * MiB, invariants: 'off' });
    const pages = 8192;
    assert.equal(t.mmap(0x200000000, pages * PAGE, RW, SHARED | MAP_FIXED | MAP_POPULATE), 0x200000000);
    assert.ok(p.alive);
    assert.equal(m.counters().machine.swapUsed + p.resident, pages);
    assert.deepEqual(m.checkInvariants(), []);
  });
});

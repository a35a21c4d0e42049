/** madvise advice with effects beyond DONTNEED: fork-time flags, MADV_FREE, PAGEOUT, and the unmodelled rest made loud (D24). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { errno, isSignal, MAP_SHARED, MAP_ANONYMOUS, O_RDWR } from '../../src/index.js';
import { ANON, fork, map, open, PAGE, RW, setup } from './_helpers.js';

const MADV_FREE = 8;
const MADV_REMOVE = 9;
const MADV_DONTFORK = 10;
const MADV_DOFORK = 11;
const MADV_WIPEONFORK = 18;
const MADV_KEEPONFORK = 19;
const MADV_PAGEOUT = 21;
const MADV_DONTNEED_LOCKED = 24;
const MAP_LOCKED = 0x2000;

describe('MADV_DONTFORK / MADV_WIPEONFORK at fork (dup_mmap: VM_DONTCOPY, VM_WIPEONFORK)', () => {
  it('DONTFORK leaves the range out of the child; DOFORK brings it back', () => {
    const { p, t } = setup();
    const a = map(t, 0, 3 * PAGE, RW, ANON);
    t.store(a + PAGE, 0x42);
    assert.equal(t.madvise(a + PAGE, PAGE, MADV_DONTFORK), 0);
    assert.equal(p.mapCount, 3, 'the advice split the VMA');
    assert.deepEqual(p.vma(a + PAGE)?.flags.includes('dc'), true);
    const c = fork(t);
    assert.equal(c.vma(a + PAGE), undefined);
    assert.ok(c.vma(a));
    const sig = c.main.load(a + PAGE);
    assert.ok(isSignal(sig) && sig.code === 'SEGV_MAPERR');
    assert.equal(t.madvise(a + PAGE, PAGE, MADV_DOFORK), 0);
    assert.equal(p.mapCount, 1, 'clearing the flag merged the VMAs back');
    assert.equal(fork(t).main.load(a + PAGE), 0x42);
  });

  it('WIPEONFORK gives the child zero-filled memory and keeps the flag; KEEPONFORK undoes it', () => {
    const { t } = setup();
    const a = map(t, 0, 2 * PAGE, RW, ANON);
    t.store(a, 0x11);
    t.store(a + PAGE, 0x22);
    assert.equal(t.madvise(a, 2 * PAGE, MADV_WIPEONFORK), 0);
    const c = fork(t);
    assert.equal(c.main.load(a), 0);
    assert.equal(c.main.load(a + PAGE), 0);
    assert.equal(t.load(a), 0x11, 'the parent keeps its data');
    c.main.store(a, 0x33);
    assert.equal(fork(c.main).main.load(a), 0, 'the child\'s own children are wiped too');
    assert.equal(t.madvise(a, 2 * PAGE, MADV_KEEPONFORK), 0);
    assert.equal(fork(t).main.load(a), 0x11);
  });

  it('WIPEONFORK on shared or file memory is EINVAL', () => {
    const { m, t } = setup();
    const s = map(t, 0, PAGE, RW, MAP_SHARED | MAP_ANONYMOUS);
    assert.equal(t.madvise(s, PAGE, MADV_WIPEONFORK), errno('EINVAL'));
    m.createFile('/f', PAGE);
    const fd = open(t, '/f', O_RDWR);
    const f = map(t, 0, PAGE, RW, 0x02, fd);
    assert.equal(t.madvise(f, PAGE, MADV_WIPEONFORK), errno('EINVAL'));
  });
});

describe('MADV_FREE, eagerly', () => {
  it('discards exclusive pages of private anonymous memory and frees their swap; shared COW pages keep their data', () => {
    const { m, p, t } = setup();
    const a = map(t, 0, 3 * PAGE, RW, ANON);
    t.store(a, 1);
    t.store(a + PAGE, 2);
    t.store(a + 2 * PAGE, 3);
    m.swapOut(p, a + 2 * PAGE, a + 3 * PAGE);
    assert.equal(m.counters().machine.swapUsed, 1);
    assert.equal(t.madvise(a, 3 * PAGE, MADV_FREE), 0);
    assert.equal(t.load(a), 0);
    assert.equal(t.load(a + PAGE), 0);
    assert.equal(t.load(a + 2 * PAGE), 0);
    assert.equal(m.counters().machine.swapUsed, 0);
    t.store(a, 9);
    const c = fork(t);
    assert.equal(t.madvise(a, PAGE, MADV_FREE), 0);
    assert.equal(t.load(a), 9, 'a page the child maps too is skipped, as in Linux');
    assert.equal(c.main.load(a), 9);
  });

  it('is EINVAL on shared, file-backed and locked memory', () => {
    const { t } = setup();
    const s = map(t, 0, PAGE, RW, MAP_SHARED | MAP_ANONYMOUS);
    assert.equal(t.madvise(s, PAGE, MADV_FREE), errno('EINVAL'));
    const l = map(t, 0, PAGE, RW, ANON | MAP_LOCKED);
    assert.equal(t.madvise(l, PAGE, MADV_FREE), errno('EINVAL'));
    // DONTNEED_LOCKED may zap mlocked memory where DONTNEED may not.
    t.store(l, 5);
    assert.equal(t.madvise(l, PAGE, 4), errno('EINVAL'));
    assert.equal(t.madvise(l, PAGE, MADV_DONTNEED_LOCKED), 0);
    assert.equal(t.load(l), 0);
  });
});

describe('MADV_PAGEOUT and the advice mmsim does not model', () => {
  it('PAGEOUT swaps the range out', () => {
    const { m, p, t } = setup();
    const a = map(t, 0, 2 * PAGE, RW, ANON);
    t.store(a, 7);
    t.store(a + PAGE, 8);
    assert.equal(t.madvise(a, PAGE, MADV_PAGEOUT), 0);
    assert.ok(p.pte(a).swapped);
    assert.equal(m.counters().machine.swapUsed, 1);
    assert.equal(t.load(a), 7);
  });

  it('REMOVE checks its errnos and records that it punched no hole', () => {
    const { m, t } = setup();
    const a = map(t, 0, PAGE, RW, ANON);
    assert.equal(t.madvise(a, PAGE, MADV_REMOVE), errno('EINVAL'));
    assert.equal(m.events.filter((e) => e.kind === 'unmodelled').length, 1);
    m.createFile('/f', PAGE);
    const fd = open(t, '/f', O_RDWR);
    const f = map(t, 0, PAGE, RW, 0x02, fd);
    assert.equal(t.madvise(f, PAGE, MADV_REMOVE), errno('EACCES'), 'a private file mapping');
    const sh = map(t, 0, PAGE, RW, MAP_SHARED, fd);
    assert.equal(t.madvise(sh, PAGE, MADV_REMOVE), 0);
    const last = m.events[m.events.length - 1];
    assert.equal(last.kind, 'unmodelled');
    assert.match(last.message, /MADV_REMOVE/);
  });

  it('under freebsd the advice changes nothing and records no event', () => {
    const { m, t } = setup({ os: 'freebsd' });
    const a = map(t, 0, PAGE, RW, ANON);
    t.store(a, 3);
    assert.equal(t.madvise(a, PAGE, MADV_WIPEONFORK), 0);
    assert.equal(fork(t).main.load(a), 3);
    assert.equal(m.events.filter((e) => e.kind === 'unmodelled').length, 0);
  });
});

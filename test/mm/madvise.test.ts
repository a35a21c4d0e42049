/**
 * madvise(2) and msync(2) against Linux (mm/madvise.c do_madvise(), madvise_walk_vmas(),
 * madvise_dontneed_free(); mm/msync.c): MADV_DONTNEED on anonymous, private-file and
 * shared-file memory, holes, bad advice, and msync's EINVAL/ENOMEM/EBUSY rules.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  type Machine,
  MADV_DONTNEED,
  MADV_NORMAL,
  MADV_RANDOM,
  MADV_SEQUENTIAL,
  MADV_WILLNEED,
  MAP_ANONYMOUS,
  MAP_LOCKED,
  MAP_PRIVATE,
  MAP_SHARED,
  MS_ASYNC,
  MS_INVALIDATE,
  MS_SYNC,
  O_RDWR,
  errno,
  isErrno,
} from '../../src/index.js';
import { PAGE, RW, ANON, setup, map } from './_helpers.js';

/** A file of `pages` pages whose byte 0 and 100 of page i are 0xa0 + i and 0xb0 + i. */
function patternFile(m: Machine, name: string, pages: number): void {
  const bytes = new Uint8Array(pages * PAGE);
  for (let i = 0; i < pages; i++) {
    bytes[i * PAGE] = 0xa0 + i;
    bytes[i * PAGE + 100] = 0xb0 + i;
  }
  m.createFile(name, bytes);
}

describe('madvise(MADV_DONTNEED)', () => {
  it('on anonymous memory: the pages read as zero afterwards and their frames are freed', () => {
    const { m, t, p } = setup();
    const a = map(t, 0, 8 * PAGE, RW, ANON);
    for (let i = 0; i < 8; i++) t.store(a + i * PAGE + 3, 0x70 + i);
    const free = m.counters().machine.freeFrames;
    assert.equal(t.madvise(a, 8 * PAGE, MADV_DONTNEED), 0);
    assert.equal(p.resident, 0);
    assert.equal(m.counters().machine.freeFrames, free + 8);
    for (let i = 0; i < 8; i++) assert.equal(t.load(a + i * PAGE + 3), 0);
    // The VMA stays and is usable.
    assert.equal(p.mapCount, 1);
    assert.equal(t.store(a, 1), null);
  });

  it('zaps only the advised pages', () => {
    const { t, p } = setup();
    const a = map(t, 0, 4 * PAGE, RW, ANON);
    for (let i = 0; i < 4; i++) t.store(a + i * PAGE, 0x10 + i);
    assert.equal(t.madvise(a + PAGE, 2 * PAGE, MADV_DONTNEED), 0);
    assert.deepEqual(
      [0, 1, 2, 3].map((i) => t.load(a + i * PAGE)),
      [0x10, 0, 0, 0x13],
    );
    // No split: madvise(MADV_DONTNEED) leaves the VMA alone.
    assert.equal(p.mapCount, 1);
  });

  it('rounds an unaligned length up to whole pages', () => {
    const { t } = setup();
    const a = map(t, 0, 2 * PAGE, RW, ANON);
    t.store(a + PAGE, 9);
    assert.equal(t.madvise(a, PAGE + 1, MADV_DONTNEED), 0);
    assert.equal(t.load(a + PAGE), 0);
  });

  it('on a private file mapping: written pages revert to the file contents', () => {
    const { m, t } = setup();
    patternFile(m, '/f', 3);
    const fd = t.open('/f', O_RDWR) as number;
    const a = map(t, 0, 3 * PAGE, RW, MAP_PRIVATE, fd);
    t.store(a, 0x01);
    t.store(a + PAGE + 100, 0x02);
    assert.equal(t.load(a), 0x01);
    assert.equal(t.madvise(a, 3 * PAGE, MADV_DONTNEED), 0);
    assert.equal(t.load(a), 0xa0);
    assert.equal(t.load(a + PAGE + 100), 0xb1);
    assert.equal(t.load(a + 2 * PAGE), 0xa2);
  });

  it('on a private file mapping: the file is untouched, and re-reads see later file writes', () => {
    const { m, t } = setup();
    patternFile(m, '/f', 1);
    const fd = t.open('/f', O_RDWR) as number;
    const a = map(t, 0, PAGE, RW, MAP_PRIVATE, fd);
    const buf = map(t, 0, PAGE, RW, ANON);
    t.store(a, 0x55);
    t.store(buf, 0x66);
    assert.equal(t.pwrite(fd, buf, 1, 0), 1);
    // The private copy hides the file's new byte ...
    assert.equal(t.load(a), 0x55);
    assert.equal(t.madvise(a, PAGE, MADV_DONTNEED), 0);
    // ... until it is dropped.
    assert.equal(t.load(a), 0x66);
  });

  it('on a shared file mapping: the data stays (it lives in the page cache)', () => {
    const { m, t, p } = setup();
    patternFile(m, '/f', 2);
    const fd = t.open('/f', O_RDWR) as number;
    const a = map(t, 0, 2 * PAGE, RW, MAP_SHARED, fd);
    t.store(a + 5, 0x5e);
    t.store(a + PAGE + 100, 0x5f);
    assert.equal(t.madvise(a, 2 * PAGE, MADV_DONTNEED), 0);
    assert.equal(p.resident, 0);
    assert.equal(t.load(a + 5), 0x5e);
    assert.equal(t.load(a + PAGE + 100), 0x5f);
    assert.equal(t.load(a), 0xa0);
  });

  it('on shared anonymous memory: the data stays', () => {
    const { t } = setup();
    const a = map(t, 0, 2 * PAGE, RW, MAP_SHARED | MAP_ANONYMOUS);
    t.store(a + PAGE, 0x44);
    assert.equal(t.madvise(a, 2 * PAGE, MADV_DONTNEED), 0);
    assert.equal(t.load(a + PAGE), 0x44);
  });

  it('drops swapped-out anonymous pages and their swap slots', () => {
    const { m, t, p } = setup();
    const a = map(t, 0, 4 * PAGE, RW, ANON);
    for (let i = 0; i < 4; i++) t.store(a + i * PAGE, 0x20 + i);
    m.swapOut(p);
    assert.equal(m.counters().machine.swapUsed, 4);
    assert.equal(t.madvise(a, 4 * PAGE, MADV_DONTNEED), 0);
    assert.equal(m.counters().machine.swapUsed, 0);
    for (let i = 0; i < 4; i++) assert.equal(t.load(a + i * PAGE), 0);
  });

  it('in a forked child only drops the child’s view of COW pages', () => {
    const { t } = setup();
    const a = map(t, 0, 2 * PAGE, RW, ANON);
    t.store(a, 0x31);
    const child = t.fork();
    assert.ok(!isErrno(child));
    assert.equal(child.main.madvise(a, 2 * PAGE, MADV_DONTNEED), 0);
    assert.equal(child.main.load(a), 0);
    assert.equal(t.load(a), 0x31);
    assert.equal(t.store(a, 0x32), null);
    assert.equal(child.main.load(a), 0);
  });

  it('leaves no stale translation on another CPU', () => {
    const { m, t, p } = setup({ cpus: 2 });
    const t1 = p.spawnThread(1);
    const a = map(t, 0, PAGE, RW, ANON);
    assert.equal(t1.store(a, 0x7a), null);
    assert.equal(t.madvise(a, PAGE, MADV_DONTNEED), 0);
    assert.equal(t1.load(a), 0);
    assert.deepEqual(m.checkInvariants(), []);
  });

  it('is EINVAL on a VM_LOCKED mapping', () => {
    const { t } = setup();
    const a = map(t, 0, 2 * PAGE, RW, ANON | MAP_LOCKED);
    t.store(a, 3);
    assert.equal(t.madvise(a, 2 * PAGE, MADV_DONTNEED), errno('EINVAL'));
    assert.equal(t.load(a), 3);
  });
});

describe('madvise: holes and errors', () => {
  it('ENOMEM for a range with a hole, after advising the mapped parts', () => {
    const { t } = setup();
    const a = map(t, 0x10000000, 2 * PAGE, RW, ANON);
    const b = map(t, 0x10003000, 2 * PAGE, RW, ANON);
    t.store(a, 1);
    t.store(b + PAGE, 2);
    assert.equal(t.madvise(a, 5 * PAGE, MADV_DONTNEED), errno('ENOMEM'));
    assert.equal(t.load(a), 0);
    assert.equal(t.load(b + PAGE), 0);
  });

  it('ENOMEM for a range that starts in a hole or runs past the last VMA', () => {
    const { t } = setup();
    const a = map(t, 0x10001000, 2 * PAGE, RW, ANON);
    t.store(a, 7);
    assert.equal(t.madvise(0x10000000, 2 * PAGE, MADV_DONTNEED), errno('ENOMEM'));
    assert.equal(t.load(a), 0);
    t.store(a + PAGE, 8);
    assert.equal(t.madvise(a + PAGE, 4 * PAGE, MADV_DONTNEED), errno('ENOMEM'));
    assert.equal(t.load(a + PAGE), 0);
    assert.equal(t.madvise(0x20000000, PAGE, MADV_WILLNEED), errno('ENOMEM'));
    assert.equal(t.madvise(0x10000000, PAGE, MADV_NORMAL), errno('ENOMEM'));
  });

  it('EINVAL for unknown advice, before anything else', () => {
    const { t } = setup();
    const a = map(t, 0, PAGE, RW, ANON);
    for (const bad of [5, 6, 7, 26, 99, 1000, -1]) {
      assert.equal(t.madvise(a, PAGE, bad), errno('EINVAL'), `advice ${bad}`);
    }
    assert.equal(t.madvise(0x10000000, 0, 5), errno('EINVAL'));
  });

  it('EINVAL for an unaligned start; len 0 is 0 even where nothing is mapped', () => {
    const { t } = setup();
    const a = map(t, 0, PAGE, RW, ANON);
    assert.equal(t.madvise(a + 1, PAGE, MADV_DONTNEED), errno('EINVAL'));
    assert.equal(t.madvise(0x10000000, 0, MADV_DONTNEED), 0);
  });

  it('accepts the hint-only advice values and changes nothing', () => {
    const { t, p } = setup();
    const a = map(t, 0, 2 * PAGE, RW, ANON);
    t.store(a, 4);
    for (const adv of [MADV_NORMAL, MADV_RANDOM, MADV_SEQUENTIAL, MADV_WILLNEED]) {
      assert.equal(t.madvise(a, 2 * PAGE, adv), 0);
    }
    assert.equal(t.load(a), 4);
    assert.equal(p.mapCount, 1);
  });
});

describe('msync', () => {
  it('EINVAL for unknown flags, an unaligned start, and MS_ASYNC with MS_SYNC', () => {
    const { m, t } = setup();
    m.createFile('/f', PAGE);
    const fd = t.open('/f', O_RDWR) as number;
    const a = map(t, 0, PAGE, RW, MAP_SHARED, fd);
    assert.equal(t.msync(a, PAGE, 8), errno('EINVAL'));
    assert.equal(t.msync(a, PAGE, MS_SYNC | 0x100), errno('EINVAL'));
    assert.equal(t.msync(a + 4, PAGE, MS_SYNC), errno('EINVAL'));
    assert.equal(t.msync(a, PAGE, MS_ASYNC | MS_SYNC), errno('EINVAL'));
    // The flag checks come before the alignment check and the VMA walk.
    assert.equal(t.msync(0x10000004, PAGE, MS_ASYNC | MS_SYNC), errno('EINVAL'));
  });

  it('len 0 is 0, even for an unmapped address', () => {
    const { t } = setup();
    assert.equal(t.msync(0x10000000, 0, MS_SYNC), 0);
  });

  it('succeeds on mapped memory of any kind', () => {
    const { m, t } = setup();
    m.createFile('/f', 2 * PAGE);
    const fd = t.open('/f', O_RDWR) as number;
    const a = map(t, 0, 2 * PAGE, RW, MAP_SHARED, fd);
    const b = map(t, 0, PAGE, RW, ANON);
    t.store(a, 1);
    for (const f of [0, MS_ASYNC, MS_SYNC, MS_INVALIDATE, MS_SYNC | MS_INVALIDATE]) {
      assert.equal(t.msync(a, 2 * PAGE, f), 0);
      assert.equal(t.msync(b, PAGE, f), 0);
    }
    assert.equal(t.load(a), 1);
  });

  it('MS_SYNC leaves the written data readable through the file', () => {
    const { m, t } = setup();
    m.createFile('/f', PAGE);
    const fd = t.open('/f', O_RDWR) as number;
    const a = map(t, 0, PAGE, RW, MAP_SHARED, fd);
    const buf = map(t, 0, PAGE, RW, ANON);
    t.store(a + 10, 0x99);
    assert.equal(t.msync(a, PAGE, MS_SYNC), 0);
    assert.equal(t.pread(fd, buf, 1, 10), 1);
    assert.equal(t.load(buf), 0x99);
  });

  it('ENOMEM for an unmapped range', () => {
    const { t } = setup();
    assert.equal(t.msync(0x10000000, PAGE, MS_SYNC), errno('ENOMEM'));
    assert.equal(t.msync(0x10000000, PAGE, MS_ASYNC), errno('ENOMEM'));
    assert.equal(t.msync(0x10000000, PAGE, 0), errno('ENOMEM'));
  });

  it('ENOMEM for a range with a hole or one that runs past the last VMA', () => {
    const { m, t } = setup();
    m.createFile('/f', 8 * PAGE);
    const fd = t.open('/f', O_RDWR) as number;
    const a = map(t, 0x10000000, 2 * PAGE, RW, MAP_SHARED, fd);
    map(t, 0x10003000, 2 * PAGE, RW, MAP_SHARED, fd, 3 * PAGE);
    for (const f of [MS_SYNC, MS_ASYNC, MS_INVALIDATE, 0]) {
      assert.equal(t.msync(a, 5 * PAGE, f), errno('ENOMEM'), `flags ${f}`);
      assert.equal(t.msync(a, 6 * PAGE, f), errno('ENOMEM'), `flags ${f}`);
      assert.equal(t.msync(a - PAGE, 2 * PAGE, f), errno('ENOMEM'), `flags ${f}`);
    }
  });

  it('EBUSY for MS_INVALIDATE on a VM_LOCKED mapping, even after a hole', () => {
    const { m, t } = setup();
    m.createFile('/f', 4 * PAGE);
    const fd = t.open('/f', O_RDWR) as number;
    const locked = map(t, 0x10000000, 2 * PAGE, RW, MAP_SHARED | MAP_LOCKED, fd);
    assert.equal(t.msync(locked, 2 * PAGE, MS_INVALIDATE), errno('EBUSY'));
    assert.equal(t.msync(locked, 2 * PAGE, MS_SYNC | MS_INVALIDATE), errno('EBUSY'));
    assert.equal(t.msync(locked, 2 * PAGE, MS_SYNC), 0);
    assert.equal(t.msync(locked, 2 * PAGE, MS_ASYNC), 0);
    const plain = map(t, 0x0fffd000, 2 * PAGE, RW, ANON);
    // [plain][hole][locked]: the hole only records ENOMEM; the locked VMA then gives EBUSY.
    assert.equal(t.msync(plain, 5 * PAGE, MS_INVALIDATE), errno('EBUSY'));
    // MS_ASYNC alone gives up at the hole.
    assert.equal(t.msync(plain, 5 * PAGE, MS_ASYNC), errno('ENOMEM'));
  });

  it('EBUSY on a locked private anonymous mapping too', () => {
    const { t } = setup();
    const a = map(t, 0, PAGE, RW, ANON | MAP_LOCKED);
    assert.equal(t.msync(a, PAGE, MS_INVALIDATE), errno('EBUSY'));
  });
});

/**
 * Files and their mappings (Linux mm/filemap.c, mm/memory.c do_read_fault()/do_shared_fault(),
 * mm/truncate.c, fs/read_write.c): SIGBUS past the end of a file, truncation unmapping
 * pages, pread/pwrite through user buffers (copy_to_user/copy_from_user faults), and the
 * coherence of shared mappings with pread/pwrite.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  MAP_PRIVATE,
  MAP_SHARED,
  O_CREAT,
  O_RDONLY,
  O_RDWR,
  O_TRUNC,
  O_WRONLY,
  PROT_NONE,
  PROT_READ,
  errno,
  isErrno,
  type ThreadHandle,
} from '../../src/index.js';
import { PAGE, RW, ANON, assertSignal, map, open, setup } from './_helpers.js';

/** `n` bytes with a recognisable pattern. */
function pattern(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 13 + seed) & 0xff;
  return b;
}

/** Writes `bytes` into user memory at `va`, four bytes at a time where it can. */
function poke(t: ThreadHandle, va: number, bytes: Uint8Array): void {
  let i = 0;
  for (; i + 4 <= bytes.length; i += 4) {
    const v = bytes[i] + bytes[i + 1] * 0x100 + bytes[i + 2] * 0x10000 + bytes[i + 3] * 0x1000000;
    assert.equal(t.store(va + i, v, 4), null);
  }
  for (; i < bytes.length; i++) assert.equal(t.store(va + i, bytes[i]), null);
}

/** Reads `n` bytes of user memory at `va`, four bytes at a time where it can. */
function peek(t: ThreadHandle, va: number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  let i = 0;
  for (; i < n; ) {
    const size = i + 4 <= n ? 4 : 1;
    const v = t.load(va + i, size);
    if (typeof v !== 'number') assert.fail(`load at 0x${(va + i).toString(16)} raised ${v.signal}`);
    for (let k = 0; k < size; k++) out[i + k] = Math.floor(v / 256 ** k) & 0xff;
    i += size;
  }
  return out;
}

describe('SIGBUS past the end of a file', () => {
  it('the partial last page reads zeros past EOF; the next page is SIGBUS BUS_ADRERR', () => {
    const { m, t } = setup();
    m.createFile('/f', pattern(5000, 1));
    const fd = open(t, '/f', O_RDWR);
    const a = map(t, 0, 3 * PAGE, RW, MAP_SHARED, fd);
    assert.equal(t.load(a + 4999), (4999 * 13 + 1) & 0xff);
    assert.equal(t.load(a + 5000), 0);
    assert.equal(t.load(a + 2 * PAGE - 1), 0);
    assertSignal(t.load(a + 2 * PAGE), 'SIGBUS', 'BUS_ADRERR', a + 2 * PAGE);
    assertSignal(t.store(a + 2 * PAGE, 1), 'SIGBUS', 'BUS_ADRERR', a + 2 * PAGE);
    assert.equal(t.signals.length, 2);
  });

  it('si_addr is the faulting address itself, not its page', () => {
    // Fixed: like Linux do_sigbus(), si_addr is the faulting address itself (mmsim gave its page).
    const { m, t } = setup();
    m.createFile('/f', 100);
    const fd = open(t, '/f', O_RDWR);
    const a = map(t, 0, 2 * PAGE, PROT_READ, MAP_SHARED, fd);
    assertSignal(t.load(a + PAGE + 123), 'SIGBUS', 'BUS_ADRERR', a + PAGE + 123);
  });

  it('also for private mappings, reads and writes alike', () => {
    const { m, t } = setup();
    m.createFile('/f', PAGE);
    const fd = open(t, '/f', O_RDWR);
    const a = map(t, 0, 2 * PAGE, RW, MAP_PRIVATE, fd);
    assert.equal(t.store(a, 1), null);
    assertSignal(t.load(a + PAGE), 'SIGBUS', 'BUS_ADRERR', a + PAGE);
    assertSignal(t.store(a + PAGE, 1), 'SIGBUS', 'BUS_ADRERR', a + PAGE);
  });

  it('counts from the mapping’s file offset', () => {
    const { m, t } = setup();
    m.createFile('/f', 3 * PAGE);
    const fd = open(t, '/f', O_RDWR);
    const a = map(t, 0, 3 * PAGE, PROT_READ, MAP_SHARED, fd, 2 * PAGE);
    assert.equal(t.load(a), 0);
    assertSignal(t.load(a + PAGE), 'SIGBUS', 'BUS_ADRERR', a + PAGE);
  });

  it('mapping an empty file works, but every access is SIGBUS until the file grows', () => {
    const { t } = setup();
    const fd = open(t, '/new', O_RDWR | O_CREAT);
    const a = map(t, 0, PAGE, RW, MAP_SHARED, fd);
    assertSignal(t.load(a), 'SIGBUS', 'BUS_ADRERR', a);
    assert.equal(t.ftruncate(fd, 10), 0);
    assert.equal(t.store(a + 9, 0x9), null);
    assert.equal(t.load(a + 9), 9);
  });

  it('a pwrite that extends the file makes the next page accessible', () => {
    const { m, t } = setup();
    m.createFile('/f', PAGE);
    const fd = open(t, '/f', O_RDWR);
    const a = map(t, 0, 2 * PAGE, PROT_READ, MAP_SHARED, fd);
    const buf = map(t, 0, PAGE, RW, ANON);
    assertSignal(t.load(a + PAGE), 'SIGBUS', 'BUS_ADRERR', a + PAGE);
    t.store(buf, 0x42);
    assert.equal(t.pwrite(fd, buf, 1, PAGE + 7), 1);
    assert.equal(t.load(a + PAGE + 7), 0x42);
    assert.equal(t.load(a + PAGE), 0);
  });
});

describe('ftruncate', () => {
  it('shrinking unmaps the pages past the new end; the next access is SIGBUS', () => {
    const { m, t, p } = setup();
    m.createFile('/f', pattern(3 * PAGE, 7));
    const fd = open(t, '/f', O_RDWR);
    const a = map(t, 0, 3 * PAGE, RW, MAP_SHARED, fd);
    for (let i = 0; i < 3; i++) t.store(a + i * PAGE, 0xe0 + i);
    assert.equal(p.resident, 3);
    assert.equal(t.ftruncate(fd, PAGE), 0);
    assert.equal(p.resident, 1);
    assert.equal(t.load(a), 0xe0);
    assertSignal(t.load(a + PAGE), 'SIGBUS', 'BUS_ADRERR', a + PAGE);
    assertSignal(t.store(a + 2 * PAGE, 1), 'SIGBUS', 'BUS_ADRERR', a + 2 * PAGE);
    // The VMA itself stays.
    assert.equal(p.mapCount, 1);
  });

  it('growing again brings back zeros, not the old data', () => {
    const { m, t } = setup();
    m.createFile('/f', pattern(2 * PAGE, 3));
    const fd = open(t, '/f', O_RDWR);
    const a = map(t, 0, 2 * PAGE, RW, MAP_SHARED, fd);
    t.store(a + PAGE + 1, 0x77);
    assert.equal(t.ftruncate(fd, PAGE), 0);
    assert.equal(t.ftruncate(fd, 2 * PAGE), 0);
    assert.equal(t.load(a + PAGE + 1), 0);
  });

  it('shrinking to the middle of a page zeroes the rest of that page', () => {
    const { m, t } = setup();
    m.createFile('/f', pattern(PAGE, 5));
    const fd = open(t, '/f', O_RDWR);
    const a = map(t, 0, PAGE, RW, MAP_SHARED, fd);
    assert.equal(t.load(a + 200), (200 * 13 + 5) & 0xff);
    assert.equal(t.ftruncate(fd, 100), 0);
    assert.equal(t.load(a + 99), (99 * 13 + 5) & 0xff);
    assert.equal(t.load(a + 100), 0);
    assert.equal(t.load(a + 200), 0);
    // The page itself is still mapped: no SIGBUS inside it.
    assert.equal(t.store(a + 300, 1), null);
  });

  it('unmaps private COW copies past the new end too', () => {
    const { m, t } = setup();
    m.createFile('/f', 2 * PAGE);
    const fd = open(t, '/f', O_RDWR);
    const a = map(t, 0, 2 * PAGE, RW, MAP_PRIVATE, fd);
    t.store(a + PAGE, 0x33);
    assert.equal(t.load(a + PAGE), 0x33);
    assert.equal(t.ftruncate(fd, PAGE), 0);
    assertSignal(t.load(a + PAGE), 'SIGBUS', 'BUS_ADRERR', a + PAGE);
  });

  it('unmaps the pages from every process and leaves no stale TLB entry on another CPU', () => {
    const { m, t, p } = setup({ cpus: 2 });
    m.createFile('/f', 2 * PAGE);
    const fd = open(t, '/f', O_RDWR);
    const t1 = p.spawnThread(1);
    const a = map(t, 0, 2 * PAGE, RW, MAP_SHARED, fd);
    assert.equal(t1.store(a + PAGE, 0x12), null);
    const c = t.fork(0);
    assert.ok(typeof c === 'object' && !isErrno(c));
    assert.equal(c.main.load(a + PAGE), 0x12);
    assert.equal(t.ftruncate(fd, PAGE), 0);
    assertSignal(t1.load(a + PAGE), 'SIGBUS', 'BUS_ADRERR', a + PAGE);
    assertSignal(c.main.load(a + PAGE), 'SIGBUS', 'BUS_ADRERR', a + PAGE);
    assert.deepEqual(m.checkInvariants(), []);
  });

  it('errors: EBADF for a bad descriptor, EINVAL for a read-only one or a negative size', () => {
    const { m, t } = setup();
    m.createFile('/f', PAGE);
    const ro = open(t, '/f', O_RDONLY);
    const rw = open(t, '/f', O_RDWR);
    assert.equal(t.ftruncate(99, 0), errno('EBADF'));
    assert.equal(t.ftruncate(ro, 0), errno('EINVAL'));
    assert.equal(t.ftruncate(rw, -1), errno('EINVAL'));
  });

  it('open(O_TRUNC) truncates and unmaps like ftruncate', () => {
    const { m, t } = setup();
    m.createFile('/f', 2 * PAGE);
    const fd = open(t, '/f', O_RDWR);
    const a = map(t, 0, 2 * PAGE, RW, MAP_SHARED, fd);
    t.store(a, 1);
    open(t, '/f', O_WRONLY | O_TRUNC);
    assertSignal(t.load(a), 'SIGBUS', 'BUS_ADRERR', a);
  });
});

describe('pread and pwrite through user buffers', () => {
  it('round-trips bytes across page boundaries of both the buffer and the file', () => {
    const { m, t } = setup();
    m.createFile('/f', 0);
    const fd = open(t, '/f', O_RDWR);
    const src = map(t, 0, 3 * PAGE, RW, ANON);
    const dst = map(t, 0, 3 * PAGE, RW, ANON);
    // 5000 bytes: the source buffer crosses a page boundary, the file range two, the
    // destination buffer one, each at a different offset.
    const data = pattern(5000, 11);
    poke(t, src + 3001, data);
    assert.equal(t.pwrite(fd, src + 3001, 5000, 3000), 5000);
    assert.equal(t.pread(fd, dst + 502, 5000, 3000), 5000);
    assert.deepEqual(peek(t, dst + 502, 5000), data);
    // The hole before offset 3000 reads as zeros.
    assert.equal(t.pread(fd, dst, 10, 0), 10);
    assert.deepEqual(peek(t, dst, 10), new Uint8Array(10));
  });

  it('pread is short at end of file and 0 past it', () => {
    const { m, t } = setup();
    m.createFile('/f', pattern(100, 2));
    const fd = open(t, '/f', O_RDONLY);
    const buf = map(t, 0, PAGE, RW, ANON);
    assert.equal(t.pread(fd, buf, 50, 80), 20);
    assert.deepEqual(peek(t, buf, 20), pattern(100, 2).subarray(80));
    assert.equal(t.pread(fd, buf, 50, 100), 0);
    assert.equal(t.pread(fd, buf, 50, 5000), 0);
  });

  it('reads into and writes from swapped-out buffers', () => {
    const { m, t, p } = setup();
    m.createFile('/f', PAGE);
    const fd = open(t, '/f', O_RDWR);
    const buf = map(t, 0, 2 * PAGE, RW, ANON);
    poke(t, buf, pattern(64, 9));
    p.swapOut();
    assert.equal(t.pwrite(fd, buf, 64, 0), 64);
    p.swapOut();
    assert.equal(t.pread(fd, buf + PAGE, 64, 0), 64);
    assert.deepEqual(peek(t, buf + PAGE, 64), pattern(64, 9));
  });

  it('pread into a COW-shared buffer copies it; the child keeps its data', () => {
    const { m, t } = setup();
    m.createFile('/f', pattern(16, 4));
    const fd = open(t, '/f', O_RDWR);
    const buf = map(t, 0, PAGE, RW, ANON);
    t.store(buf, 0xff);
    const c = t.fork();
    assert.ok(typeof c === 'object' && !isErrno(c));
    assert.equal(t.pread(fd, buf, 16, 0), 16);
    assert.deepEqual(peek(t, buf, 16), pattern(16, 4));
    assert.equal(c.main.load(buf), 0xff);
  });

  it('pread into an unmapped buffer is EFAULT; so is pwrite from one', () => {
    const { m, t } = setup();
    m.createFile('/f', pattern(100, 1));
    const fd = open(t, '/f', O_RDWR);
    assert.equal(t.pread(fd, 0x10000000, 10, 0), errno('EFAULT'));
    assert.equal(t.pwrite(fd, 0x10000000, 10, 0), errno('EFAULT'));
    // No signal for a kernel access.
    assert.equal(t.signals.length, 0);
  });

  it('pread into a read-only or PROT_NONE buffer is EFAULT; pwrite from a read-only one works', () => {
    const { m, t } = setup();
    m.createFile('/f', pattern(100, 1));
    const fd = open(t, '/f', O_RDWR);
    const ro = map(t, 0, PAGE, PROT_READ, ANON);
    const none = map(t, 0, PAGE, PROT_NONE, ANON);
    assert.equal(t.pread(fd, ro, 10, 0), errno('EFAULT'));
    assert.equal(t.pread(fd, none, 10, 0), errno('EFAULT'));
    assert.equal(t.pwrite(fd, none, 10, 0), errno('EFAULT'));
    assert.equal(t.pwrite(fd, ro, 10, 0), 10);
    assert.equal(t.signals.length, 0);
  });

  it('pread into a buffer that is mapped only at its start returns the bytes copied', () => {
    // Fixed: Linux filemap_read() returns the bytes copied before the first fault (4096), EFAULT only for none.
    const { m, t } = setup();
    m.createFile('/f', pattern(2 * PAGE, 6));
    const fd = open(t, '/f', O_RDWR);
    const buf = map(t, 0x10000000, PAGE, RW, ANON);
    assert.equal(t.pread(fd, buf, 2 * PAGE, 0), PAGE);
    assert.deepEqual(peek(t, buf, 16), pattern(16, 6));
  });

  it('pwrite from a buffer that is mapped only at its start writes and returns only the bytes copied', () => {
    // Fixed: Linux generic_perform_write() stops at the unmapped page and returns what it wrote: 4096, file size 4096.
    const { m, t } = setup();
    m.createFile('/f', 0);
    const fd = open(t, '/f', O_RDWR);
    const buf = map(t, 0x10000000, PAGE, RW, ANON);
    const out = map(t, 0x20000000, PAGE, RW, ANON);
    t.store(buf, 0x5a);
    assert.equal(t.pwrite(fd, buf, 2 * PAGE, 0), PAGE);
    assert.equal(t.pread(fd, out, 16, PAGE), 0, 'the file grew past what was written');
    assert.equal(t.pread(fd, out, 1, 0), 1);
    assert.equal(t.load(out), 0x5a);
  });

  it('EBADF for a descriptor not open for that direction; EINVAL for a negative offset', () => {
    const { m, t } = setup();
    m.createFile('/f', 100);
    const ro = open(t, '/f', O_RDONLY);
    const wo = open(t, '/f', O_WRONLY);
    const buf = map(t, 0, PAGE, RW, ANON);
    assert.equal(t.pwrite(ro, buf, 1, 0), errno('EBADF'));
    assert.equal(t.pread(wo, buf, 1, 0), errno('EBADF'));
    assert.equal(t.pread(77, buf, 1, 0), errno('EBADF'));
    assert.equal(t.pread(ro, buf, 1, -1), errno('EINVAL'));
    assert.equal(t.pwrite(wo, buf, 1, -1), errno('EINVAL'));
  });
});

describe('shared file mappings and pread/pwrite are coherent', () => {
  it('a shared mapping sees pwrite’s data', () => {
    const { m, t } = setup();
    m.createFile('/f', 2 * PAGE);
    const fd = open(t, '/f', O_RDWR);
    const a = map(t, 0, 2 * PAGE, PROT_READ, MAP_SHARED, fd);
    const buf = map(t, 0, PAGE, RW, ANON);
    assert.equal(t.load(a + PAGE + 10), 0);
    poke(t, buf, pattern(32, 8));
    assert.equal(t.pwrite(fd, buf, 32, PAGE + 10), 32);
    assert.deepEqual(peek(t, a + PAGE + 10, 32), pattern(32, 8));
  });

  it('pread sees what was stored through a shared mapping', () => {
    const { m, t } = setup();
    m.createFile('/f', 2 * PAGE);
    const fd = open(t, '/f', O_RDWR);
    const a = map(t, 0, 2 * PAGE, RW, MAP_SHARED, fd);
    const buf = map(t, 0, PAGE, RW, ANON);
    poke(t, a + 4090, pattern(12, 3));
    assert.equal(t.pread(fd, buf, 12, 4090), 12);
    assert.deepEqual(peek(t, buf, 12), pattern(12, 3));
  });

  it('two processes mapping the file shared see each other’s stores', () => {
    const { m, t } = setup();
    m.createFile('/f', PAGE);
    const q = m.spawn('q');
    const fdp = open(t, '/f', O_RDWR);
    const fdq = open(q.main, '/f', O_RDWR);
    const a = map(t, 0, PAGE, RW, MAP_SHARED, fdp);
    const b = map(q.main, 0x20000000, PAGE, RW, MAP_SHARED, fdq);
    t.store(a + 1, 0x31);
    assert.equal(q.main.load(b + 1), 0x31);
    q.main.store(b + 2, 0x32);
    assert.equal(t.load(a + 2), 0x32);
  });

  it('a private mapping sees pwrite’s data until it writes the page, then keeps its copy', () => {
    const { m, t } = setup();
    m.createFile('/f', 2 * PAGE);
    const fd = open(t, '/f', O_RDWR);
    const a = map(t, 0, 2 * PAGE, RW, MAP_PRIVATE, fd);
    const buf = map(t, 0, PAGE, RW, ANON);
    assert.equal(t.load(a), 0);
    t.store(buf, 0x41);
    assert.equal(t.pwrite(fd, buf, 1, 0), 1);
    assert.equal(t.load(a), 0x41);
    t.store(a + PAGE, 0x99);
    t.store(buf, 0x42);
    assert.equal(t.pwrite(fd, buf, 1, PAGE), 1);
    assert.equal(t.load(a + PAGE), 0x99);
    // And the private store never reached the file.
    assert.equal(t.pread(fd, buf, 1, PAGE), 1);
    assert.equal(t.load(buf), 0x42);
  });

  it('file data survives the page cache being reclaimed', () => {
    const { m, t, p } = setup();
    m.createFile('/f', 2 * PAGE);
    const fd = open(t, '/f', O_RDWR);
    const a = map(t, 0, 2 * PAGE, RW, MAP_SHARED, fd);
    t.store(a + PAGE + 5, 0x66);
    p.swapOut();
    m.reclaim(1000);
    assert.equal(m.counters().machine.pageCachePages, 0);
    const buf = map(t, 0, PAGE, RW, ANON);
    assert.equal(t.pread(fd, buf, 1, PAGE + 5), 1);
    assert.equal(t.load(buf), 0x66);
    assert.equal(t.load(a + PAGE + 5), 0x66);
  });
});

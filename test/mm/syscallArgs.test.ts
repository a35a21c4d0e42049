/** System-call arguments at the edges of their C types: the errnos Linux gives (D6, D20, D22). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { errno, MAP_FIXED, MAP_SHARED, MAX_FILE_SIZE, MREMAP_MAYMOVE, MS_SYNC, O_RDWR, PROT_NONE, PROT_READ } from '../../src/index.js';
import { runScenario } from '../../src/scenario/runner.js';
import { ANON, map, open, PAGE, RW, setup } from './_helpers.js';

const TASK_SIZE = 0x7ffffffff000;

describe('pread and pwrite buffers (access_ok, copy a page at a time)', () => {
  it('a length of 2^40 is EFAULT, not a crash, and allocates nothing of that size', () => {
    const { m, t } = setup();
    m.createFile('/f', 4096);
    const fd = open(t, '/f', O_RDWR);
    const a = map(t, 0, 4 * PAGE, RW, ANON);
    assert.equal(t.pwrite(fd, a, 2 ** 40, 0), errno('EFAULT'));
    assert.equal(t.pread(fd, a, 2 ** 40, 0), errno('EFAULT'));
  });

  it('a count of -1 is EFAULT on linux (access_ok), EINVAL on freebsd (IOSIZE_MAX)', () => {
    for (const os of ['linux', 'freebsd'] as const) {
      const { m, t } = setup({ os });
      m.createFile('/f', 4096);
      const fd = open(t, '/f', O_RDWR);
      const a = map(t, 0, PAGE, RW, ANON);
      const want = os === 'linux' ? errno('EFAULT') : errno('EINVAL');
      assert.equal(t.pwrite(fd, a, -1, 0), want, os);
      assert.equal(t.pread(fd, a, -1, 0), want, os);
    }
  });

  it('a buffer that runs past TASK_SIZE is EFAULT before anything is written (linux)', () => {
    const { m, t } = setup();
    m.createFile('/f', 0);
    const fd = open(t, '/f', O_RDWR);
    const top = TASK_SIZE - 4 * PAGE;
    map(t, top, 4 * PAGE, RW, ANON | MAP_FIXED);
    t.store(top, 0x41);
    assert.equal(t.pwrite(fd, top, 2 ** 31, 0), errno('EFAULT'));
    assert.equal(t.pread(fd, top, 4 * PAGE + 1, 0), errno('EFAULT'));
    // Exactly up to TASK_SIZE is fine.
    assert.equal(t.pwrite(fd, top, 4 * PAGE, 0), 4 * PAGE);
  });

  it('a fault part-way gives a short count on linux and EFAULT on freebsd, with the bytes before it written', () => {
    for (const os of ['linux', 'freebsd'] as const) {
      const { m, t } = setup({ os });
      m.createFile('/f', 0);
      const fd = open(t, '/f', O_RDWR);
      const a = map(t, 0, 3 * PAGE, RW, ANON);
      t.mprotect(a + 2 * PAGE, PAGE, PROT_NONE);
      t.store(a + PAGE + 5, 0x77);
      const r = t.pwrite(fd, a + 100, 3 * PAGE - 100, 0);
      assert.equal(r, os === 'linux' ? 2 * PAGE - 100 : errno('EFAULT'), os);
      const back = map(t, 0, PAGE, RW, ANON);
      assert.equal(t.pread(fd, back, 8, PAGE - 95), 8, os);
      assert.equal(t.load(back), 0x77, `${os}: the written part is in the file`);
      // pread into a buffer that faults half-way.
      const r2 = t.pread(fd, a + PAGE, 2 * PAGE, 0);
      assert.equal(r2, os === 'linux' ? PAGE : errno('EFAULT'), os);
    }
  });

  it('pwrite starting at MAX_FILE_SIZE is EFBIG; one that crosses it is shortened (linux)', () => {
    const { m, t } = setup();
    m.createFile('/f', 0);
    const fd = open(t, '/f', O_RDWR);
    const a = map(t, 0, 2 * PAGE, RW, ANON);
    assert.equal(t.pwrite(fd, a, 1, MAX_FILE_SIZE), errno('EFBIG'));
    assert.equal(t.pwrite(fd, a, 2 * PAGE, MAX_FILE_SIZE - 10), 10);
  });
});

describe('lengths near 2^64 wrap as PAGE_ALIGN does (D20)', () => {
  it('msync with length -1 is 0; mremap to -1 is EINVAL; madvise with -1 is EINVAL', () => {
    const { t } = setup();
    const a = map(t, 0, 2 * PAGE, RW, ANON);
    assert.equal(t.msync(a, -1, MS_SYNC), 0);
    assert.equal(t.msync(a, -4096, MS_SYNC), errno('ENOMEM'));
    assert.equal(t.mremap(a, PAGE, -1, MREMAP_MAYMOVE), errno('EINVAL'));
    assert.equal(t.madvise(a, -1, 0), errno('EINVAL'));
  });

  it('mmap MAP_FIXED below mmap_min_addr with a length up to TASK_SIZE is EPERM (security_mmap_addr)', () => {
    const { t } = setup();
    assert.equal(t.mmap(0x1000, TASK_SIZE - 0x1000, PROT_READ, ANON | MAP_FIXED), errno('EPERM'));
    assert.equal(t.mmap(0, TASK_SIZE, PROT_READ, ANON | MAP_FIXED), errno('EPERM'));
    assert.equal(t.mmap(0x1000, TASK_SIZE, PROT_READ, ANON | MAP_FIXED), errno('ENOMEM'));
    assert.equal(t.mmap(0, TASK_SIZE + PAGE, PROT_READ, ANON), errno('ENOMEM'));
  });

  it('anonymous mmap ignores an aligned offset, even -4096; an unaligned one (-1) is EINVAL', () => {
    const { t } = setup();
    assert.equal(typeof t.mmap(0, 2 * PAGE, RW, ANON, -1, -4096), 'number');
    assert.equal(t.mmap(0, 2 * PAGE, RW, ANON, -1, -1), errno('EINVAL'));
  });

  it('a file mapping that would end past MAX_LFS_FILESIZE is EOVERFLOW (file_mmap_ok)', () => {
    const { m, t } = setup();
    m.createFile('/f', PAGE);
    const fd = open(t, '/f', O_RDWR);
    assert.equal(t.mmap(0, PAGE, RW, MAP_SHARED, fd, 2 ** 63), errno('EOVERFLOW'));
    // A mapping must end before MAX_LFS_FILESIZE (2^63 - 1): the page ending at 2^63 is refused, the one below it not.
    assert.equal(t.mmap(0, PAGE, RW, MAP_SHARED, fd, 2 ** 63 - 4096), errno('EOVERFLOW'));
    assert.equal(typeof t.mmap(0, PAGE, RW, MAP_SHARED, fd, 2 ** 63 - 8192), 'number');
  });
});

describe('file sizes have one limit (D22)', () => {
  it('createFile refuses more than MAX_FILE_SIZE, a negative or fractional size, with a RangeError', () => {
    const { m } = setup();
    assert.throws(() => m.createFile('/big', MAX_FILE_SIZE + 1), /Machine\.createFile: a file size must be at most 8 TiB/);
    for (const bad of [-1, NaN, Infinity, 1.5]) assert.throws(() => m.createFile('/f', bad), RangeError, String(bad));
    m.createFile('/max', MAX_FILE_SIZE);
  });

  it('the scenario file line reports a size past the limit at the size', () => {
    const r = runScenario('file /f size=0x20000000000000\n', 't.mms');
    const err = r.lines.find((l) => l.error !== null)?.error;
    assert.ok(err, 'a diagnostic for the file line');
    assert.match(err.message, /at most 8 TiB/);
    assert.equal(err.span.column, 14, 'at the value of size=');
  });
});

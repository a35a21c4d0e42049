/**
 * remap_file_pages(2) in its three designs (../shared/SEMANTICS.md "Linux —
 * remap_file_pages", seed 001):
 * - mainline (Linux ≥ 4.0 mm/mmap.c): emulated by mmap(MAP_FIXED) of the same file, so each
 *   remapped run is a VMA of its own and counts against max_map_count;
 * - rfp-nonlinear (Linux 2.6 mm/fremap.c): one VM_NONLINEAR VMA holds any file page at any
 *   page, and a reclaimed page that is not at its linear place leaves a file PTE naming it;
 * - rfp-manyprots (the VM_MANYPROTS series, never merged): MAP_CHGPROT gives each page its
 *   own protection, kept in present and file PTEs; mprotect on such a VMA is EACCES, or,
 *   under manyprots-mprotect-resets (Hugh Dickins' alternative), resets every entry.
 * Every machine runs with invariants: 'throw'.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  errno,
  Machine,
  MADV_DONTNEED,
  MAP_ANONYMOUS,
  MAP_CHGPROT,
  MAP_FIXED,
  MAP_NONBLOCK,
  MAP_PRIVATE,
  MAP_SHARED,
  O_RDONLY,
  O_RDWR,
  PROT_EXEC,
  PROT_NONE,
  PROT_READ,
  PROT_WRITE,
  PTE_FILE_MAX_BITS,
  type ProcessHandle,
  type SignalCode,
  type ThreadHandle,
} from '../../src/index.js';
import { assertSignal, byteOf, fileContents, fork, machine, map, open, PAGE, RW } from './_helpers.js';
import { parseMaps } from './_model.js';

const R = PROT_READ;
const RWX = PROT_READ | PROT_WRITE | PROT_EXEC;
/** Pages of the files the tests map. */
const FILE_PAGES = 8;

interface World {
  m: Machine;
  p: ProcessHandle;
  t: ThreadHandle;
  /** /f opened O_RDWR. */
  fd: number;
}

/**
 * A 2-CPU machine running `variants`, files /f and /g of FILE_PAGES pages (byte `off` of page
 * i is byteOf(i, off), and byteOf(i, off, 0x80) in /g), and one process with /f open for writing.
 */
function world(variants: readonly string[] = [], maxMapCount?: number): World {
  const m = machine({ cpus: 2, variants, ...(maxMapCount === undefined ? {} : { maxMapCount }) });
  m.createFile('/f', fileContents(FILE_PAGES));
  m.createFile('/g', fileContents(FILE_PAGES, 0x80));
  const p = m.spawn('p');
  const t = p.main;
  return { m, p, t, fd: open(t, '/f', O_RDWR) };
}

/** A shared mapping of `pages` pages of /f from file page `pgoff`. */
function window(w: World, pages = FILE_PAGES, prot = RW, pgoff = 0): number {
  return map(w.t, 0, pages * PAGE, prot, MAP_SHARED, w.fd, pgoff * PAGE);
}

/** The access raised SIGSEGV with `code` (default SEGV_ACCERR) at `addr`. */
function assertSegv(r: unknown, addr: number, code: SignalCode = 'SEGV_ACCERR'): void {
  assertSignal(r, 'SIGSEGV', code, addr);
}

/** Page `page` of the window at `a` shows file page `index` (two bytes checked). */
function assertShows(t: ThreadHandle, a: number, page: number, index: number, seed = 0): void {
  const va = a + page * PAGE;
  assert.equal(t.load(va), byteOf(index, 0, seed), `page ${page} should show file page ${index}`);
  assert.equal(t.load(va + 1234), byteOf(index, 1234, seed), `page ${page} should show file page ${index}`);
}

/** /proc/pid/maps as [start page, pages, perms, file page of the first page] relative to `a`. */
function mapsOf(p: ProcessHandle, a: number): Array<[number, number, string, number]> {
  return parseMaps(p.maps()).map((v) => [(v.start - a) / PAGE, (v.end - v.start) / PAGE, v.perms, v.offset / PAGE]);
}

const EINVAL = errno('EINVAL');

describe('remap_file_pages, every design: other CPUs stop using the old translation', () => {
  const designs: ReadonlyArray<readonly [string, readonly string[]]> = [
    ['mainline', []],
    ['rfp-nonlinear', ['rfp-nonlinear']],
    ['rfp-manyprots', ['rfp-manyprots']],
  ];
  for (const [name, variants] of designs) {
    it(`${name}: a thread on the other CPU sees the new page (and rights) right after the call`, () => {
      const m = machine({ cpus: 2, variants });
      m.createFile('/f', fileContents(FILE_PAGES));
      const p = m.spawn('p', 0);
      const A = p.main;
      const B = p.spawnThread(1);
      const a = map(A, 0, FILE_PAGES * PAGE, RW, MAP_SHARED, open(A, '/f', O_RDWR), 0);
      assert.equal(B.load(a), byteOf(0, 0));
      assert.equal(B.store(a + PAGE, 3), null);
      assert.ok(p.tlbEntry(1, a) && p.tlbEntry(1, a + PAGE), 'CPU 1 caches both pages');
      const manyprots = name === 'rfp-manyprots';
      assert.equal(A.remapFilePages(a, 2 * PAGE, manyprots ? R : 0, 5, manyprots ? MAP_CHGPROT : 0), 0);
      assertShows(B, a, 0, 5);
      if (manyprots) assertSegv(B.store(a + PAGE, 4), a + PAGE);
      else assert.equal(B.store(a + PAGE, 4), null);
      assert.equal(A.load(a + 6 * PAGE), manyprots ? byteOf(6, 0) : 4);
    });
  }
});

describe('remap_file_pages, mainline: emulated with one VMA per remapped run', () => {
  it('shows file page N at the remapped address, as a VMA of its own', () => {
    const w = world();
    const a = window(w);
    assert.equal(w.t.remapFilePages(a + 2 * PAGE, PAGE, 0, 5), 0);
    assertShows(w.t, a, 2, 5);
    assertShows(w.t, a, 1, 1);
    assertShows(w.t, a, 3, 3);
    assert.equal(w.p.mapCount, 3);
    assert.deepEqual(mapsOf(w.p, a), [
      [0, 2, 'rw-s', 0],
      [2, 1, 'rw-s', 5],
      [3, 5, 'rw-s', 3],
    ]);
  });

  it('maps the page-cache page itself: a store through the remapped page is seen at file page N', () => {
    const w = world();
    const a = window(w);
    assert.equal(w.t.remapFilePages(a, PAGE, 0, 6), 0);
    assert.equal(w.t.store(a + 10, 0xee), null);
    assert.equal(w.t.load(a + 6 * PAGE + 10), 0xee);
    const b = map(w.t, 0, PAGE, R, MAP_SHARED, w.fd, 6 * PAGE);
    assert.equal(w.t.load(b + 10), 0xee);
  });

  it('rounds start and size down to whole pages', () => {
    const w = world();
    const a = window(w);
    assert.equal(w.t.remapFilePages(a + 2 * PAGE + 123, PAGE + 77, 0, 6), 0);
    assertShows(w.t, a, 2, 6);
    assertShows(w.t, a, 3, 3);
    assert.equal(w.p.mapCount, 3);
  });

  it('is EINVAL for prot ≠ 0 (MAP_CHGPROT included), a size under a page, no VMA at start, and a mapping that is not VM_SHARED', () => {
    const w = world();
    const a = window(w);
    const priv = map(w.t, 0, 4 * PAGE, RW, MAP_PRIVATE, w.fd, 0);
    const anon = map(w.t, 0, 4 * PAGE, RW, MAP_PRIVATE | MAP_ANONYMOUS);
    // A shared mapping of a file opened read-only has VM_MAYSHARE but not VM_SHARED.
    const rofd = open(w.t, '/f', O_RDONLY);
    const ro = map(w.t, 0, 4 * PAGE, R, MAP_SHARED, rofd, 0);
    const before = w.p.maps();
    assert.equal(w.t.remapFilePages(a, PAGE, R, 5), EINVAL);
    assert.equal(w.t.remapFilePages(a, PAGE, R, 5, MAP_CHGPROT), EINVAL);
    assert.equal(w.t.remapFilePages(a, PAGE - 1, 0, 5), EINVAL);
    assert.equal(w.t.remapFilePages(a, 0, 0, 5), EINVAL);
    assert.equal(w.t.remapFilePages(0x10000, PAGE, 0, 0), EINVAL);
    assert.equal(w.t.remapFilePages(priv, PAGE, 0, 2), EINVAL);
    assert.equal(w.t.remapFilePages(anon, PAGE, 0, 2), EINVAL);
    assert.equal(w.t.remapFilePages(ro, PAGE, 0, 2), EINVAL);
    assert.equal(w.p.maps(), before);
    assertShows(w.t, a, 0, 0);
    assertShows(w.t, priv, 0, 0);
  });

  it('works on shared anonymous memory (a shmem object)', () => {
    const w = world();
    const a = map(w.t, 0, 4 * PAGE, RW, MAP_SHARED | MAP_ANONYMOUS);
    assert.equal(w.t.store(a + 3 * PAGE + 7, 0xab), null);
    assert.equal(w.t.remapFilePages(a, PAGE, 0, 3), 0);
    assert.equal(w.t.load(a + 7), 0xab);
    assert.equal(w.t.store(a + 8, 0xcd), null);
    assert.equal(w.t.load(a + 3 * PAGE + 8), 0xcd);
    assert.equal(w.p.mapCount, 2);
  });

  it('takes a range over several contiguous VMAs of the same file with the same flags', () => {
    const w = world();
    const a = window(w);
    assert.equal(w.t.remapFilePages(a + 3 * PAGE, PAGE, 0, 6), 0);
    assert.equal(w.p.mapCount, 3);
    // Pages 2-4 lie in three VMAs.
    assert.equal(w.t.remapFilePages(a + 2 * PAGE, 3 * PAGE, 0, 0), 0);
    assertShows(w.t, a, 2, 0);
    assertShows(w.t, a, 3, 1);
    assertShows(w.t, a, 4, 2);
    assertShows(w.t, a, 5, 5);
    assert.deepEqual(mapsOf(w.p, a), [
      [0, 2, 'rw-s', 0],
      [2, 3, 'rw-s', 0],
      [5, 3, 'rw-s', 5],
    ]);
  });

  it('takes a range over two separate mmaps of the same file that sit side by side', () => {
    const w = world();
    const x = window(w, 4);
    const y = map(w.t, x + 4 * PAGE, 4 * PAGE, RW, MAP_SHARED | MAP_FIXED, w.fd, 0);
    assert.equal(w.p.mapCount, 2);
    assert.equal(w.t.remapFilePages(x + 3 * PAGE, 2 * PAGE, 0, 6), 0);
    assertShows(w.t, x, 3, 6);
    assertShows(w.t, y, 0, 7);
    assertShows(w.t, y, 1, 1);
  });

  it('is EINVAL over a hole, another file, another protection, or past the last VMA, and changes nothing', () => {
    const w = world();
    const a = window(w);
    // Page 7 of the window becomes /g; page 5 read-only; page 3 a hole (from the top down).
    map(w.t, a + 7 * PAGE, PAGE, RW, MAP_SHARED | MAP_FIXED, open(w.t, '/g', O_RDWR), 7 * PAGE);
    assert.equal(w.t.mprotect(a + 5 * PAGE, PAGE, R), 0);
    assert.equal(w.t.munmap(a + 3 * PAGE, PAGE), 0);
    const before = w.p.maps();
    assert.equal(w.t.remapFilePages(a + 2 * PAGE, 2 * PAGE, 0, 0), EINVAL, 'over the hole');
    assert.equal(w.t.remapFilePages(a + 4 * PAGE, 2 * PAGE, 0, 0), EINVAL, 'into the read-only VMA');
    assert.equal(w.t.remapFilePages(a + 6 * PAGE, 2 * PAGE, 0, 0), EINVAL, 'into /g');
    assert.equal(w.t.remapFilePages(a + 7 * PAGE, 2 * PAGE, 0, 0), EINVAL, 'past the last VMA');
    assert.equal(w.p.maps(), before);
    assertShows(w.t, a, 2, 2);
    assertShows(w.t, a, 4, 4);
    assertShows(w.t, a, 6, 6);
    assertShows(w.t, a, 7, 7, 0x80);
  });

  it('takes the protection from the VMA: a read-only shared window stays read-only', () => {
    const w = world();
    const a = window(w, FILE_PAGES, R);
    assert.equal(w.t.remapFilePages(a + PAGE, PAGE, 0, 4), 0);
    assertShows(w.t, a, 1, 4);
    assertSegv(w.t.store(a + PAGE, 1), a + PAGE);
    assert.deepEqual(
      mapsOf(w.p, a).map((v) => v[2]),
      ['r--s', 'r--s', 'r--s'],
    );
  });

  it('merges the VMAs again when a run is remapped back to its linear offset', () => {
    const w = world();
    const a = window(w);
    assert.equal(w.t.remapFilePages(a + 2 * PAGE, 2 * PAGE, 0, 5), 0);
    assert.equal(w.p.mapCount, 3);
    assert.equal(w.t.remapFilePages(a + 2 * PAGE, 2 * PAGE, 0, 2), 0);
    assert.equal(w.p.mapCount, 1);
    assert.deepEqual(mapsOf(w.p, a), [[0, 8, 'rw-s', 0]]);
    for (let i = 0; i < FILE_PAGES; i++) assertShows(w.t, a, i, i);
  });

  it('counts the extra VMAs against max_map_count: past it, ENOMEM and nothing changes', () => {
    const w = world([], 4);
    const a = window(w);
    const results: unknown[] = [];
    for (let i = 0; i < 6; i++) results.push(w.t.remapFilePages(a + i * PAGE, PAGE, 0, 7 - i));
    // do_mmap() refuses once map_count exceeds the limit (mm->map_count > sysctl_max_map_count).
    assert.deepEqual(results, [0, 0, 0, 0, errno('ENOMEM'), errno('ENOMEM')]);
    assert.equal(w.p.mapCount, 5);
    for (let i = 0; i < 4; i++) assertShows(w.t, a, i, 7 - i);
    assertShows(w.t, a, 4, 4);
    assertShows(w.t, a, 5, 5);

    const free = world();
    const b = window(free);
    for (let i = 0; i < FILE_PAGES; i++) assert.equal(free.t.remapFilePages(b + i * PAGE, PAGE, 0, 7 - i), 0);
    assert.equal(free.p.mapCount, FILE_PAGES);
    assert.equal(free.t.remapFilePages(b, FILE_PAGES * PAGE, 0, 0), 0);
    assert.equal(free.p.mapCount, 1);
  });

  it('accepts a file page past the end of the file (mmap does); the access raises SIGBUS', () => {
    const w = world();
    const a = window(w);
    assert.equal(w.t.remapFilePages(a + PAGE, PAGE, 0, 100), 0);
    assertSignal(w.t.load(a + PAGE), 'SIGBUS', 'BUS_ADRERR', a + PAGE);
    assertShows(w.t, a, 0, 0);
  });

  it('is a plain VMA layout: fork and swap-out keep what each page shows', () => {
    const w = world();
    const a = window(w);
    assert.equal(w.t.remapFilePages(a, 2 * PAGE, 0, 6), 0);
    const c = fork(w.t, 1);
    w.m.swapOut(w.p);
    assertShows(c.main, a, 0, 6);
    assertShows(c.main, a, 1, 7);
    assertShows(w.t, a, 1, 7);
    assert.equal(w.p.pte(a).file, false);
  });
});

describe('remap_file_pages, rfp-nonlinear: one VM_NONLINEAR VMA and file PTEs', () => {
  const NL = ['rfp-nonlinear'];

  it('keeps one VMA whatever the layout, and each page shows its file page', () => {
    const w = world(NL);
    const a = window(w);
    assert.equal(w.t.remapFilePages(a + 2 * PAGE, PAGE, 0, 5), 0);
    assert.equal(w.t.remapFilePages(a + 5 * PAGE, 2 * PAGE, 0, 0), 0);
    assert.equal(w.p.mapCount, 1);
    assert.deepEqual(mapsOf(w.p, a), [[0, 8, 'rw-s', 0]]);
    const shows = [0, 1, 5, 3, 4, 0, 1, 7];
    shows.forEach((index, page) => assertShows(w.t, a, page, index));
    assert.equal(w.p.pte(a + 2 * PAGE).pgoff, 5);
    // Page 0 and page 5 map the same page-cache page.
    assert.equal(w.t.store(a + 9, 0x99), null);
    assert.equal(w.t.load(a + 5 * PAGE + 9), 0x99);
  });

  it('is EINVAL for prot ≠ 0, even with MAP_CHGPROT (the flag is the later series)', () => {
    const w = world(NL);
    const a = window(w);
    assert.equal(w.t.remapFilePages(a, PAGE, R, 5), EINVAL);
    assert.equal(w.t.remapFilePages(a, PAGE, R, 5, MAP_CHGPROT), EINVAL);
    assertShows(w.t, a, 0, 0);
  });

  it('needs the range inside one shared file VMA: EINVAL otherwise', () => {
    const w = world(NL);
    const x = window(w, 4);
    // Side by side with the same file and flags: still two VMAs, and 2.6 wants one.
    map(w.t, x + 4 * PAGE, 4 * PAGE, RW, MAP_SHARED | MAP_FIXED, w.fd, 0);
    const priv = map(w.t, 0, 4 * PAGE, RW, MAP_PRIVATE, w.fd, 0);
    const ro = map(w.t, 0, 4 * PAGE, R, MAP_SHARED, open(w.t, '/f', O_RDONLY), 0);
    const anon = map(w.t, 0, 4 * PAGE, RW, MAP_PRIVATE | MAP_ANONYMOUS);
    assert.equal(w.t.remapFilePages(x + 3 * PAGE, 2 * PAGE, 0, 0), EINVAL, 'across two VMAs');
    assert.equal(w.t.remapFilePages(0x10000, PAGE, 0, 0), EINVAL, 'no VMA');
    assert.equal(w.t.remapFilePages(priv, PAGE, 0, 2), EINVAL, 'private');
    assert.equal(w.t.remapFilePages(ro, PAGE, 0, 2), EINVAL, 'opened read-only');
    assert.equal(w.t.remapFilePages(anon, PAGE, 0, 2), EINVAL, 'anonymous');
    assert.equal(w.t.remapFilePages(x, PAGE - 1, 0, 2), EINVAL, 'less than a page');
    assertShows(w.t, x, 3, 3);
    assertShows(w.t, priv, 0, 0);
  });

  it(`is EINVAL (not EOVERFLOW) when pgoff + pages reaches 2^${PTE_FILE_MAX_BITS}, before looking at the VMA`, () => {
    const w = world(NL);
    const a = window(w);
    const limit = 2 ** PTE_FILE_MAX_BITS;
    assert.equal(w.t.remapFilePages(a, PAGE, 0, limit - 1), EINVAL);
    assert.equal(w.t.remapFilePages(a, 2 * PAGE, 0, limit - 2), EINVAL);
    assert.equal(w.t.remapFilePages(0x10000, PAGE, 0, limit), EINVAL);
    assertShows(w.t, a, 0, 0);
  });

  it('is EINVAL when the run goes past the end of the file; a run up to the last page is fine', () => {
    const w = world(NL);
    const a = window(w);
    assert.equal(w.t.remapFilePages(a, 2 * PAGE, 0, FILE_PAGES - 1), EINVAL);
    assert.equal(w.t.remapFilePages(a, PAGE, 0, FILE_PAGES), EINVAL);
    assertShows(w.t, a, 0, 0);
    assert.equal(w.t.remapFilePages(a, 2 * PAGE, 0, FILE_PAGES - 2), 0);
    assertShows(w.t, a, 1, FILE_PAGES - 1);
  });

  it('MAP_NONBLOCK writes a file entry for a page not in the page cache, and maps one that is', () => {
    const w = world(NL);
    w.m.reclaim(1000);
    assert.equal(w.m.counters().machine.pageCachePages, 0);
    const a = window(w);
    assert.equal(w.t.load(a + 4 * PAGE), byteOf(4, 0));
    assert.equal(w.t.remapFilePages(a, 2 * PAGE, 0, 3, MAP_NONBLOCK), 0);
    assert.equal(w.t.remapFilePages(a + 2 * PAGE, PAGE, 0, 4, MAP_NONBLOCK), 0);
    const e = w.p.pte(a);
    assert.deepEqual([e.file, e.present, e.pgoff], [true, false, 3], 'file page 3 was not cached: a file entry');
    for (const page of [1, 2]) {
      const c = w.p.pte(a + page * PAGE);
      assert.deepEqual([c.present, c.pgoff], [true, 4], 'file page 4 was cached: mapped');
    }
    assertShows(w.t, a, 0, 3);
    assertShows(w.t, a, 1, 4);
    assertShows(w.t, a, 2, 4);
    assert.equal(w.p.pte(a).present, true);
    assert.equal(w.p.pte(a).pgoff, 3);
  });

  it('swap-out leaves file entries for pages away from their linear place and nothing for the others; faults map them back', () => {
    const w = world(NL);
    const a = window(w);
    assert.equal(w.t.remapFilePages(a + PAGE, 2 * PAGE, 0, 6), 0);
    assert.equal(w.t.store(a + PAGE + 3, 0x31), null);
    assert.equal(w.t.store(a + 3 * PAGE + 3, 0x33), null);
    assert.equal(w.t.load(a), byteOf(0, 0));
    w.m.swapOut(w.p);
    assert.equal(w.p.resident, 0);
    assert.deepEqual(
      [0, 1, 2, 3].map((i) => {
        const e = w.p.pte(a + i * PAGE);
        return [e.none, e.file, e.pgoff];
      }),
      [
        [true, false, -1],
        [false, true, 6],
        [false, true, 7],
        [true, false, -1],
      ],
    );
    assert.equal(w.t.load(a + PAGE + 3), 0x31);
    assert.equal(w.t.load(a + 3 * PAGE + 3), 0x33);
    assertShows(w.t, a, 2, 7);
    assertShows(w.t, a, 0, 0);
    assert.equal(w.p.pte(a + PAGE).pgoff, 6);
    assert.equal(w.p.mapCount, 1);
  });

  it('memory-pressure reclaim does the same', () => {
    const w = world(NL);
    const a = window(w);
    assert.equal(w.t.remapFilePages(a, PAGE, 0, 5), 0);
    assert.equal(w.t.store(a + 17, 0x71), null);
    assert.equal(w.t.load(a + PAGE), byteOf(1, 0));
    assert.ok(w.m.reclaim(1000) > 0);
    assert.equal(w.p.pte(a).file, true);
    assert.equal(w.p.pte(a).pgoff, 5);
    assert.equal(w.p.pte(a + PAGE).none, true);
    assert.equal(w.t.load(a + 17), 0x71);
    assertShows(w.t, a, 1, 1);
  });

  it('fork copies the nonlinear entries, present and file entries alike', () => {
    const w = world(NL);
    const a = window(w);
    assert.equal(w.t.remapFilePages(a, PAGE, 0, 5), 0);
    assert.equal(w.t.remapFilePages(a + PAGE, PAGE, 0, 6), 0);
    w.m.swapOut(w.p, a + PAGE, a + 2 * PAGE);
    const c = fork(w.t, 1);
    assert.equal(c.pte(a).pgoff, 5);
    assert.equal(c.pte(a + PAGE).file, true);
    assert.equal(c.pte(a + PAGE).pgoff, 6);
    assertShows(c.main, a, 0, 5);
    assertShows(c.main, a, 1, 6);
    assertShows(c.main, a, 2, 2);
    // Shared: the child's store reaches the parent's view of the same file page.
    assert.equal(c.main.store(a + PAGE + 5, 0x66), null);
    assert.equal(w.t.load(a + PAGE + 5), 0x66);
    assert.equal(c.mapCount, 1);
  });

  it('ftruncate drops every mapping of a page past the new end; accesses there raise SIGBUS', () => {
    const w = world(NL);
    const a = window(w);
    assert.equal(w.t.remapFilePages(a + 5 * PAGE, PAGE, 0, 6), 0);
    assert.equal(w.t.remapFilePages(a + 6 * PAGE, PAGE, 0, 7), 0);
    assert.equal(w.t.remapFilePages(a + 7 * PAGE, PAGE, 0, 1), 0);
    w.m.swapOut(w.p, a + 6 * PAGE, a + 7 * PAGE);
    assert.equal(w.p.pte(a + 6 * PAGE).file, true);
    assert.equal(w.t.ftruncate(w.fd, 4 * PAGE), 0);
    for (let i = 0; i < FILE_PAGES; i++) {
      const e = w.p.pte(a + i * PAGE);
      assert.ok(!(e.present || e.protnone) || e.pgoff < 4, `page ${i} still maps file page ${e.pgoff}`);
    }
    assertSignal(w.t.load(a + 5 * PAGE), 'SIGBUS', 'BUS_ADRERR', a + 5 * PAGE);
    assertSignal(w.t.load(a + 6 * PAGE), 'SIGBUS', 'BUS_ADRERR', a + 6 * PAGE);
    assertShows(w.t, a, 7, 1);
    assertShows(w.t, a, 3, 3);
  });

  it('ftruncate: an address that showed a page past the new end raises SIGBUS even where its linear page is inside the file', () => {
    // 2.6 zap_pte_range() with nonlinear zap_details: a page away from its linear place
    // leaves a file PTE naming it, file entries stay, and the fault on them is SIGBUS.
    const w = world(NL);
    const a = window(w);
    assert.equal(w.t.remapFilePages(a, PAGE, 0, 6), 0);
    assert.equal(w.t.remapFilePages(a + PAGE, PAGE, 0, 7), 0);
    assert.equal(w.t.remapFilePages(a + 2 * PAGE, PAGE, 0, 3), 0);
    w.m.swapOut(w.p, a + PAGE, a + 2 * PAGE);
    assert.equal(w.t.ftruncate(w.fd, 4 * PAGE), 0);
    assert.deepEqual([w.p.pte(a).present, w.p.pte(a).file, w.p.pte(a).pgoff], [false, true, 6]);
    assert.deepEqual([w.p.pte(a + PAGE).file, w.p.pte(a + PAGE).pgoff], [true, 7]);
    assertSignal(w.t.load(a), 'SIGBUS', 'BUS_ADRERR', a);
    assertSignal(w.t.load(a + PAGE), 'SIGBUS', 'BUS_ADRERR', a + PAGE);
    assert.equal(w.p.pte(a + 2 * PAGE).present, true, 'file page 3 is inside the file: left alone');
    assertShows(w.t, a, 2, 3);
    // Growing the file again brings the pages back (as zeros) at their nonlinear place.
    assert.equal(w.t.ftruncate(w.fd, FILE_PAGES * PAGE), 0);
    assert.equal(w.t.load(a + 9), 0);
    assert.equal(w.p.pte(a).pgoff, 6);
  });

  it('MADV_DONTNEED keeps a nonlinear page at its place: a file entry, and the page comes back from the page cache', () => {
    // 2.6 madvise_dontneed() zaps a VM_NONLINEAR VMA with nonlinear_vma details.
    const w = world(NL);
    const a = window(w);
    assert.equal(w.t.remapFilePages(a, PAGE, 0, 5), 0);
    assert.equal(w.t.store(a + 3, 0x53), null);
    assert.equal(w.t.load(a + PAGE), byteOf(1, 0));
    assert.equal(w.t.madvise(a, 2 * PAGE, MADV_DONTNEED), 0);
    assert.deepEqual([w.p.pte(a).file, w.p.pte(a).pgoff], [true, 5]);
    assert.equal(w.p.pte(a + PAGE).none, true, 'page 1 is at its linear place: nothing to keep');
    assert.equal(w.t.load(a + 3), 0x53);
    assertShows(w.t, a, 1, 1);
    assert.equal(w.p.mapCount, 1);
  });
});

describe('remap_file_pages, rfp-manyprots: per-page protections (MAP_CHGPROT)', () => {
  const MP = ['rfp-manyprots'];

  it('is EINVAL for prot ≠ 0 without MAP_CHGPROT, and for a VMA that is not a shared file mapping', () => {
    const w = world(MP);
    const a = window(w);
    const priv = map(w.t, 0, 4 * PAGE, RW, MAP_PRIVATE, w.fd, 0);
    const ro = map(w.t, 0, 4 * PAGE, R, MAP_SHARED, open(w.t, '/f', O_RDONLY), 0);
    const anon = map(w.t, 0, 4 * PAGE, RW, MAP_PRIVATE | MAP_ANONYMOUS);
    assert.equal(w.t.remapFilePages(a, PAGE, R, 5), EINVAL);
    assert.equal(w.t.remapFilePages(priv, PAGE, R, 5, MAP_CHGPROT), EINVAL);
    assert.equal(w.t.remapFilePages(ro, PAGE, R, 5, MAP_CHGPROT), EINVAL);
    assert.equal(w.t.remapFilePages(anon, PAGE, R, 5, MAP_CHGPROT), EINVAL);
    assert.equal(w.t.remapFilePages(a + 7 * PAGE, 2 * PAGE, R, 0, MAP_CHGPROT), EINVAL, 'past the VMA');
    assert.equal(w.t.remapFilePages(a, 2 * PAGE, R, FILE_PAGES - 1, MAP_CHGPROT), EINVAL, 'past the file');
    assert.equal(w.t.mprotect(a, FILE_PAGES * PAGE, R), 0, 'no failed call made the VMA VM_MANYPROTS');
  });

  it('is EPERM for a right outside VM_MAY*: PROT_EXEC in a mapping of a file on a noexec mount', () => {
    const m = new Machine({ variants: ['rfp-manyprots'], invariants: 'throw' });
    m.createFile('/nx', FILE_PAGES * PAGE, { noexec: true });
    const t = m.spawn('p').main;
    const fd = t.open('/nx', O_RDWR) as number;
    assert.equal(t.mmap(0, FILE_PAGES * PAGE, PROT_READ | PROT_EXEC, MAP_SHARED, fd, 0), errno('EPERM'), 'mmap refuses PROT_EXEC on noexec');
    const a = t.mmap(0, FILE_PAGES * PAGE, PROT_NONE, MAP_SHARED, fd, 0) as number;
    assert.equal(t.remapFilePages(a, PAGE, PROT_READ | PROT_EXEC, 1, MAP_CHGPROT), errno('EPERM'));
    assert.equal(t.remapFilePages(a, PAGE, RW, 1, MAP_CHGPROT), 0, 'read and write are within VM_MAY*');
    assert.equal(t.remapFilePages(0x10000, PAGE, PROT_READ | PROT_EXEC, 1, MAP_CHGPROT), EINVAL, 'no VMA: EINVAL comes before EPERM');
  });

  it('accepts every right on a shared writable mapping of an ordinary file', () => {
    const w = world(MP);
    const a = window(w, FILE_PAGES, PROT_NONE);
    for (let prot = 0; prot <= RWX; prot++) assert.equal(w.t.remapFilePages(a + prot * PAGE, PAGE, prot, prot, MAP_CHGPROT), 0, `prot ${prot}`);
    assert.equal(w.t.load(a + 7 * PAGE), byteOf(7, 0));
    assert.equal(w.t.fetch(a + 7 * PAGE), byteOf(7, 0));
    assertSegv(w.t.fetch(a + 3 * PAGE), a + 3 * PAGE);
  });

  it(`is EOVERFLOW when pgoff + pages reaches 2^${PTE_FILE_MAX_BITS}, checked before the VMA`, () => {
    const w = world(MP);
    const a = window(w);
    const limit = 2 ** PTE_FILE_MAX_BITS;
    assert.equal(w.t.remapFilePages(a, PAGE, R, limit - 1, MAP_CHGPROT), errno('EOVERFLOW'));
    assert.equal(w.t.remapFilePages(a, PAGE, 0, limit - 1), errno('EOVERFLOW'));
    assert.equal(w.t.remapFilePages(0x10000, 4 * PAGE, 0, limit - 3), errno('EOVERFLOW'));
    // One below: representable, but past the file.
    assert.equal(w.t.remapFilePages(a, PAGE, R, limit - 2, MAP_CHGPROT), EINVAL);
  });

  it('refuses mprotect on a VM_MANYPROTS VMA with EACCES, whole or part, and keeps the per-page rights', () => {
    const w = world(MP);
    const a = window(w);
    assert.equal(w.t.remapFilePages(a + PAGE, PAGE, R, 1, MAP_CHGPROT), 0);
    assert.equal(w.t.mprotect(a, FILE_PAGES * PAGE, R), errno('EACCES'));
    assert.equal(w.t.mprotect(a + 4 * PAGE, PAGE, PROT_NONE), errno('EACCES'));
    assert.equal(w.p.mapCount, 1);
    assert.equal(w.t.store(a + 4 * PAGE, 1), null);
    assertSegv(w.t.store(a + PAGE, 1), a + PAGE);
    // Remapping without MAP_CHGPROT does not make a VMA VM_MANYPROTS.
    const b = window(w);
    assert.equal(w.t.remapFilePages(b, PAGE, 0, 3), 0);
    assert.equal(w.t.mprotect(b, PAGE, R), 0);
  });

  it('runs the UML pattern: a PROT_NONE window with single pages remapped RW or RO anywhere, still one VMA', () => {
    const m = machine({ cpus: 2, variants: MP });
    const N = 32;
    m.createFile('/mem', fileContents(N));
    const p = m.spawn('uml');
    const t = p.main;
    const a = map(t, 0, N * PAGE, PROT_NONE, MAP_SHARED, open(t, '/mem', O_RDWR), 0);
    const layout: Array<[page: number, index: number, prot: number]> = [
      [3, 17, RW],
      [10, 2, R],
      [20, 17, RW],
      [31, 0, PROT_NONE],
      [5, 5, R],
      [6, 30, RW],
    ];
    for (const [page, index, prot] of layout) assert.equal(t.remapFilePages(a + page * PAGE, PAGE, prot, index, MAP_CHGPROT), 0);
    assert.equal(p.mapCount, 1);

    const check = (when: string): void => {
      assertSegv(t.load(a), a);
      assertSegv(t.load(a + 11 * PAGE), a + 11 * PAGE);
      assertSegv(t.load(a + 31 * PAGE), a + 31 * PAGE);
      assert.equal(t.load(a + 3 * PAGE + 1), 0x5a, when);
      assert.equal(t.load(a + 20 * PAGE + 1), 0x5a, `${when}: page 20 aliases file page 17`);
      assert.equal(t.load(a + 3 * PAGE + 2), byteOf(17, 2), when);
      assertShows(t, a, 10, 2);
      assertShows(t, a, 5, 5);
      assertSegv(t.store(a + 10 * PAGE, 1), a + 10 * PAGE);
      assertSegv(t.store(a + 5 * PAGE, 1), a + 5 * PAGE);
      assert.equal(t.store(a + 6 * PAGE + 4, 0x64), null);
      assert.equal(t.load(a + 6 * PAGE + 4), 0x64);
      assert.equal(p.mapCount, 1, when);
    };
    assert.equal(t.store(a + 3 * PAGE + 1, 0x5a), null);
    check('after the remaps');

    m.swapOut(p);
    assert.equal(p.resident, 0);
    const expected = layout.map(([page, index, prot]) => [page, true, index, prot]);
    assert.deepEqual(
      layout.map(([page]) => {
        const e = p.pte(a + page * PAGE);
        return [page, e.file, e.pgoff, e.fileProt];
      }),
      expected,
    );
    check('after swap-out');

    assert.ok(m.reclaim(1000) > 0);
    check('after reclaim');
    assert.equal(t.signals.length, 3 * 5);
    assert.ok(t.signals.every((s) => s.signal === 'SIGSEGV' && s.code === 'SEGV_ACCERR'));
  });

  it('gives pages never remapped the VMA protection, and so does a remap without MAP_CHGPROT', () => {
    const w = world(MP);
    const a = window(w);
    assert.equal(w.t.remapFilePages(a + PAGE, PAGE, R, 6, MAP_CHGPROT), 0);
    assert.equal(w.t.remapFilePages(a + 2 * PAGE, PAGE, 0, 7), 0);
    assert.equal(w.t.store(a, 0x10), null);
    assert.equal(w.t.store(a + 2 * PAGE, 0x12), null);
    assertSegv(w.t.store(a + PAGE, 0x11), a + PAGE);
    assertShows(w.t, a, 1, 6);
    assert.equal(w.t.load(a + 7 * PAGE), 0x12);
    // Reclaimed, even a page at its linear place keeps its rights in a file entry.
    w.m.swapOut(w.p);
    for (const [page, index, prot] of [
      [0, 0, RW],
      [1, 6, R],
      [2, 7, RW],
    ]) {
      const e = w.p.pte(a + page * PAGE);
      assert.deepEqual([e.file, e.pgoff, e.fileProt], [true, index, prot], `page ${page}`);
    }
    assert.equal(w.p.pte(a + 3 * PAGE).none, true, 'never touched: nothing to keep');
    assert.equal(w.t.load(a), 0x10);
    assert.equal(w.t.store(a + 2 * PAGE + 1, 0x13), null);
    assertSegv(w.t.store(a + PAGE, 0x11), a + PAGE);
    assert.equal(w.t.store(a + 3 * PAGE, 0x14), null);
  });

  it('MAP_NONBLOCK with MAP_CHGPROT writes a file entry carrying the protection', () => {
    const w = world(MP);
    w.m.reclaim(1000);
    const a = window(w, FILE_PAGES, PROT_NONE);
    assert.equal(w.t.remapFilePages(a, 2 * PAGE, R, 4, MAP_CHGPROT | MAP_NONBLOCK), 0);
    const e = w.p.pte(a + PAGE);
    assert.deepEqual([e.file, e.pgoff, e.fileProt], [true, 5, R]);
    assertShows(w.t, a, 1, 5);
    assertSegv(w.t.store(a + PAGE, 1), a + PAGE);
    assertSegv(w.t.load(a + 2 * PAGE), a + 2 * PAGE);
  });

  it('fork keeps each page of the child at its file page with its own rights', () => {
    const w = world(MP);
    const a = window(w, FILE_PAGES, PROT_NONE);
    assert.equal(w.t.remapFilePages(a, PAGE, RW, 3, MAP_CHGPROT), 0);
    assert.equal(w.t.remapFilePages(a + PAGE, PAGE, R, 4, MAP_CHGPROT), 0);
    assert.equal(w.t.load(a), byteOf(3, 0));
    w.m.swapOut(w.p, a + PAGE, a + 2 * PAGE);
    const c = fork(w.t, 1);
    const ct = c.main;
    assert.equal(ct.store(a + 2, 0x42), null);
    assert.equal(w.t.load(a + 2), 0x42);
    assertShows(ct, a, 1, 4);
    assertSegv(ct.store(a + PAGE, 1), a + PAGE);
    assertSegv(ct.load(a + 2 * PAGE), a + 2 * PAGE);
    w.m.swapOut(c);
    assert.deepEqual([c.pte(a).file, c.pte(a).pgoff, c.pte(a).fileProt], [true, 3, RW]);
    assert.equal(ct.load(a + 2), 0x42);
    assertSegv(ct.store(a + PAGE, 1), a + PAGE);
    assert.equal(c.mapCount, 1);
  });

  it('keeps the VMA protection of a page remapped and reclaimed before the VMA became VM_MANYPROTS', () => {
    // The series encodes a protection in every file PTE: one written while the VMA had no
    // per-page rights carries the VMA's, which must still hold once the VMA has them.
    const w = world(MP);
    const a = window(w);
    assert.equal(w.t.remapFilePages(a, PAGE, 0, 5), 0);
    w.m.swapOut(w.p);
    assert.deepEqual([w.p.pte(a).file, w.p.pte(a).pgoff], [true, 5]);
    assert.equal(w.t.remapFilePages(a + PAGE, PAGE, R, 6, MAP_CHGPROT), 0);
    assertShows(w.t, a, 0, 5);
    assert.equal(w.t.store(a, 1), null);
    assertSegv(w.t.store(a + PAGE, 1), a + PAGE);
  });

  it('MADV_DONTNEED and ftruncate keep the per-page rights in the file entries they leave', () => {
    const w = world(MP);
    const a = window(w, FILE_PAGES, PROT_NONE);
    assert.equal(w.t.remapFilePages(a, PAGE, R, 5, MAP_CHGPROT), 0);
    assert.equal(w.t.remapFilePages(a + PAGE, PAGE, RW, 1, MAP_CHGPROT), 0);
    assert.equal(w.t.remapFilePages(a + 2 * PAGE, PAGE, RW, 6, MAP_CHGPROT), 0);
    assert.equal(w.t.madvise(a, 2 * PAGE, MADV_DONTNEED), 0);
    // Under VM_MANYPROTS even a page at its linear place keeps its rights in a file entry.
    assert.deepEqual([w.p.pte(a).file, w.p.pte(a).pgoff, w.p.pte(a).fileProt], [true, 5, R]);
    assert.deepEqual([w.p.pte(a + PAGE).file, w.p.pte(a + PAGE).pgoff, w.p.pte(a + PAGE).fileProt], [true, 1, RW]);
    assertShows(w.t, a, 0, 5);
    assertSegv(w.t.store(a, 1), a);
    assert.equal(w.t.store(a + PAGE + 3000, 1), null);
    assert.equal(w.t.ftruncate(w.fd, 4 * PAGE), 0);
    assert.deepEqual([w.p.pte(a).file, w.p.pte(a).pgoff, w.p.pte(a).fileProt], [true, 5, R]);
    assert.deepEqual([w.p.pte(a + 2 * PAGE).file, w.p.pte(a + 2 * PAGE).pgoff, w.p.pte(a + 2 * PAGE).fileProt], [true, 6, RW]);
    assertSignal(w.t.load(a), 'SIGBUS', 'BUS_ADRERR', a);
    assertSignal(w.t.store(a + 2 * PAGE, 1), 'SIGBUS', 'BUS_ADRERR', a + 2 * PAGE);
    assertShows(w.t, a, 1, 1);
    // The rights come before the end of the file: a PROT_NONE page past it is SIGSEGV.
    assertSegv(w.t.load(a + 5 * PAGE), a + 5 * PAGE);
  });
});

describe('remap_file_pages, manyprots-mprotect-resets: mprotect resets the per-page rights', () => {
  const RESET = ['manyprots-mprotect-resets'];

  /** A PROT_NONE window: page 0 RW (present), 1 R (present), 2 RW (reclaimed: a file entry), 3 PROT_NONE; the rest never remapped. */
  function mixed(): { w: World; a: number } {
    const w = world(RESET);
    const a = window(w, FILE_PAGES, PROT_NONE);
    assert.equal(w.t.remapFilePages(a, PAGE, RW, 5, MAP_CHGPROT), 0);
    assert.equal(w.t.remapFilePages(a + PAGE, PAGE, R, 6, MAP_CHGPROT), 0);
    assert.equal(w.t.remapFilePages(a + 2 * PAGE, PAGE, RW, 7, MAP_CHGPROT), 0);
    assert.equal(w.t.remapFilePages(a + 3 * PAGE, PAGE, PROT_NONE, 1, MAP_CHGPROT), 0);
    w.m.swapOut(w.p, a + 2 * PAGE, a + 3 * PAGE);
    assert.deepEqual([w.p.pte(a + 2 * PAGE).file, w.p.pte(a + 2 * PAGE).fileProt], [true, RW]);
    return { w, a };
  }

  it('succeeds and gives every entry, present or file entry, the new protection', () => {
    const { w, a } = mixed();
    assert.equal(w.t.mprotect(a, FILE_PAGES * PAGE, R), 0);
    assert.equal(w.p.mapCount, 1);
    assert.deepEqual([w.p.pte(a + 2 * PAGE).file, w.p.pte(a + 2 * PAGE).pgoff, w.p.pte(a + 2 * PAGE).fileProt], [true, 7, R]);
    assert.equal(w.p.pte(a).writable, false);
    const shows = [5, 6, 7, 1, 4, 5, 6, 7];
    shows.forEach((index, page) => {
      assertShows(w.t, a, page, index);
      assertSegv(w.t.store(a + page * PAGE, 1), a + page * PAGE);
    });
    assert.deepEqual(mapsOf(w.p, a), [[0, 8, 'r--s', 0]]);
  });

  it('clears VM_MANYPROTS: the VMA protection rules again, and reclaim keeps no rights for linear pages', () => {
    const { w, a } = mixed();
    assert.equal(w.t.mprotect(a, FILE_PAGES * PAGE, PROT_NONE), 0);
    for (let page = 0; page < FILE_PAGES; page++) assertSegv(w.t.load(a + page * PAGE), a + page * PAGE);
    assert.equal(w.t.mprotect(a, FILE_PAGES * PAGE, RW), 0);
    for (let page = 0; page < FILE_PAGES; page++) assert.equal(w.t.store(a + page * PAGE + 8, 0x80 + page), null);
    w.m.swapOut(w.p);
    // Still nonlinear: the remapped pages leave file entries; page 4 is at its linear place.
    assert.equal(w.p.pte(a).file, true);
    assert.equal(w.p.pte(a + 4 * PAGE).none, true);
    assert.equal(w.t.load(a + 8), 0x80 + 5, 'file page 5 was last written through page 5');
    assert.equal(w.t.load(a + 3 * PAGE + 8), 0x83);
    assert.equal(w.t.store(a + PAGE, 1), null);
  });

  it('on part of the VMA, splits it: the part takes the new protection, the rest keeps its per-page rights', () => {
    const { w, a } = mixed();
    assert.equal(w.t.mprotect(a + 2 * PAGE, 2 * PAGE, R), 0);
    assert.equal(w.p.mapCount, 3);
    assertShows(w.t, a, 3, 1);
    assertSegv(w.t.store(a + 2 * PAGE, 1), a + 2 * PAGE);
    assert.equal(w.t.store(a, 1), null);
    assertSegv(w.t.store(a + PAGE, 1), a + PAGE);
    assertSegv(w.t.load(a + 4 * PAGE), a + 4 * PAGE);
  });
});

describe('remap_file_pages: the protection file entries keep follows mprotect', () => {
  it('rfp-nonlinear: mprotect after a reclaim leaves no entry with more rights than the VMA', () => {
    const w = world(['rfp-nonlinear']);
    const a = window(w);
    assert.equal(w.t.remapFilePages(a, PAGE, 0, 5), 0);
    w.m.swapOut(w.p);
    assert.ok(w.p.pte(a).file);
    assert.equal(w.t.mprotect(a, FILE_PAGES * PAGE, R), 0, 'invariants: throw would raise on an excess-rights entry');
    assertShows(w.t, a, 0, 5);
    assertSegv(w.t.store(a, 1), a);
  });

  it('rfp-manyprots: a VMA made read-only keeps its file entries read-only when it later turns VM_MANYPROTS', () => {
    const w = world(['rfp-manyprots']);
    const a = window(w);
    assert.equal(w.t.remapFilePages(a, PAGE, 0, 5), 0);
    w.m.swapOut(w.p);
    assert.equal(w.t.mprotect(a, FILE_PAGES * PAGE, R), 0);
    assert.equal(w.t.remapFilePages(a + PAGE, PAGE, R, 6, MAP_CHGPROT), 0);
    assertSegv(w.t.store(a, 1), a);
    assertShows(w.t, a, 0, 5);
  });

  it('rfp-manyprots: a denied access reads nothing into the page cache, even past the end of the file', () => {
    const w = world(['rfp-manyprots']);
    const a = map(w.t, 0, 2 * FILE_PAGES * PAGE, PROT_NONE, MAP_SHARED, w.fd, 0);
    assert.equal(w.t.remapFilePages(a, PAGE, R, 1, MAP_CHGPROT), 0);
    const cached = w.m.counters().machine.pageCachePages;
    assertSegv(w.t.load(a + 3 * PAGE), a + 3 * PAGE);
    assertSegv(w.t.load(a + (FILE_PAGES + 2) * PAGE), a + (FILE_PAGES + 2) * PAGE);
    assert.equal(w.m.counters().machine.pageCachePages, cached);
  });
});

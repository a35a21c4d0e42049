/**
 * FreeBSD amd64 user protection keys through the public API: x86_pkru_protect_range(3),
 * x86_pkru_unprotect_range(3), x86_pkru_get_perm(3), x86_pkru_set_perm(3), the per-pmap
 * range set they act on, and how it follows munmap, pmap_remove() (swap-out,
 * mprotect(PROT_NONE), msync(MS_INVALIDATE)), fork, exec and exit — after the fix and in
 * the pre-fix 'pkru-swapout-bug' variant. See ../shared/SEMANTICS.md "FreeBSD — PKRU
 * (amd64)" and the source notes it cites.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  AMD64_CLEAR_PKRU,
  AMD64_PKRU_EXCL,
  AMD64_PKRU_PERSIST,
  AMD64_SET_PKRU,
  errno,
  isErrno,
  isSignal,
  Machine,
  MADV_DONTNEED,
  MAP_FIXED,
  MAP_SHARED,
  MREMAP_MAYMOVE,
  MS_INVALIDATE,
  O_CREAT,
  O_RDWR,
  PROT_EXEC,
  PROT_NONE,
  PROT_READ,
  PROT_WRITE,
  type ProcessHandle,
  type SignalInfo,
  type ThreadHandle,
  VARIANTS,
} from '../../../src/index.js';
import { ANON, PAGE, RW, assertSignal, map as mapWith, setup as setupWith, type Setup } from '../_helpers.js';

const FIXED = ANON | MAP_FIXED;
/** FreeBSD amd64 VM_MAXUSER_ADDRESS (4-level paging). */
const VM_MAXUSER = 0x800000000000;
/** An address range nothing else uses. */
const ARENA = 0x10000000;
/** PGEX_PK in the page-fault error code. */
const PF_PK = 0x20;

/** A FreeBSD machine (2 CPUs and PKU by default, 8 MiB of memory and of swap), optionally with the pre-fix variant, and one process. */
function setup(opts: { bug?: boolean; pku?: boolean; cpus?: number } = {}): Setup {
  return setupWith({
    os: 'freebsd',
    cpus: opts.cpus ?? 2,
    memory: 8 << 20,
    swap: 8 << 20,
    pku: opts.pku ?? true,
    variants: opts.bug ? ['pkru-swapout-bug'] : [],
  });
}

/** mmap that must succeed: read-write, private anonymous, MAP_FIXED when `addr` is not 0. */
function map(t: ThreadHandle, addr: number, len: number, prot = RW, flags = addr ? FIXED : ANON): number {
  return mapWith(t, addr, len, prot, flags);
}

/** The access raised SIGSEGV SEGV_PKUERR at `addr` for key `key`, with PK in the error code. */
function assertPkuErr(r: number | SignalInfo | null, addr: number, key: number, what = ''): void {
  assert.ok(isSignal(r), `${what}: expected SEGV_PKUERR, got ${JSON.stringify(r)}`);
  assert.deepEqual([r.signal, r.code, r.addr, r.pkey], ['SIGSEGV', 'SEGV_PKUERR', addr, key], what);
  assert.ok((r.errorCode & PF_PK) !== 0, `${what}: PK bit in the error code`);
}

/** The range covering `va` as [start, end, key, persist], or undefined. */
function rangeAt(p: ProcessHandle, va: number): [number, number, number, boolean] | undefined {
  const r = p.pkruRange(va);
  return r && [r.start, r.end, r.key, r.persist];
}

const flushesOf = (m: Machine, cpu = 0): number => m.counters().cpus[cpu].flushes;

describe('FreeBSD PKRU: constants, personality and errno numbers', () => {
  it('exports the sysarch operations and flags with FreeBSD\'s values', () => {
    assert.equal(AMD64_SET_PKRU, 133);
    assert.equal(AMD64_CLEAR_PKRU, 134);
    assert.equal(AMD64_PKRU_EXCL, 0x1);
    assert.equal(AMD64_PKRU_PERSIST, 0x2);
  });

  it('errno numbers differ between the personalities', () => {
    assert.equal(errno('ENOSYS').number('freebsd'), 78);
    assert.equal(errno('ENOSYS').number('linux'), 38);
    assert.equal(errno('EOPNOTSUPP').number('freebsd'), 45);
    assert.equal(errno('ENOTSUP').number('freebsd'), 45, 'ENOTSUP is EOPNOTSUPP on FreeBSD');
    assert.equal(errno('EOPNOTSUPP').number('linux'), 95);
    assert.equal(errno('ENOTSUP').number('linux'), 95);
    for (const [name, n] of [
      ['EFAULT', 14],
      ['EBUSY', 16],
      ['EINVAL', 22],
      ['ENOMEM', 12],
    ] as const) {
      assert.equal(errno(name).number('freebsd'), n, name);
      assert.equal(errno(name).number('linux'), n, name);
    }
  });

  it('the pkru-swapout-bug variant exists for freebsd only; unknown variants are refused', () => {
    const v = VARIANTS.find((x) => x.name === 'pkru-swapout-bug');
    assert.equal(v?.os, 'freebsd');
    assert.throws(() => new Machine({ os: 'linux', variants: ['pkru-swapout-bug'] }), RangeError);
    assert.throws(() => new Machine({ os: 'freebsd', variants: ['no-such-variant'] }), RangeError);
    assert.equal(new Machine({ os: 'freebsd', variants: ['pkru-swapout-bug'] }).os, 'freebsd');
  });

  it('under freebsd the Linux pkey syscalls and mremap are ENOSYS', () => {
    const { t } = setup();
    const a = map(t, 0, 2 * PAGE);
    const ENOSYS = errno('ENOSYS');
    assert.equal(t.pkeyAlloc(0, 0), ENOSYS);
    assert.equal(t.pkeyFree(1), ENOSYS);
    assert.equal(t.pkeyMprotect(a, PAGE, RW, 1), ENOSYS);
    assert.equal(t.pkeyMprotect(a, PAGE, PROT_READ, -1), ENOSYS);
    assert.equal(t.mremap(a, PAGE, 2 * PAGE, MREMAP_MAYMOVE), ENOSYS);
  });

  it('under linux the x86_pkru range calls are ENOSYS, and the process keeps no range set', () => {
    const { p } = setupWith({ os: 'linux' });
    const a = map(p.main, 0, PAGE);
    assert.equal(p.main.pkruProtectRange(a, PAGE, 1), errno('ENOSYS'));
    assert.equal(p.main.pkruUnprotectRange(a, PAGE), errno('ENOSYS'));
    assert.equal(p.pkruRange(a), undefined);
    assert.deepEqual(p.snapshot().pkruRanges, []);
  });

  it('pkey_set / pkey_get / WRPKRU are plain user instructions under freebsd too', () => {
    const { t } = setup();
    assert.equal(t.pkeySet(3, 1), 0);
    assert.equal(t.pkeyGet(3), 1);
    assert.deepEqual(t.pkruGetPerm(3), { access: false, modify: true });
    assert.equal(t.writePkru(0x80), null);
    assert.deepEqual(t.pkruGetPerm(3), { access: true, modify: false });
    assert.equal(t.pkeyGet(3), 2);
  });

  it('a new process starts with PKRU 0: every key readable and writable', () => {
    const { t } = setup();
    assert.equal(t.pkru, 0);
    for (let k = 0; k < 16; k++) assert.deepEqual(t.pkruGetPerm(k), { access: true, modify: true }, `key ${k}`);
  });
});

describe('FreeBSD PKRU: x86_pkru_protect_range / x86_pkru_unprotect_range errors, in FreeBSD\'s order', () => {
  it('EINVAL for a key above 15 (unsigned: -1 too); a non-integer key is the caller\'s RangeError', () => {
    const { t } = setup();
    const a = map(t, 0, PAGE);
    for (const key of [16, 255, -1, 2 ** 32 - 1]) assert.equal(t.pkruProtectRange(a, PAGE, key), errno('EINVAL'), `key ${key}`);
    assert.throws(() => t.pkruProtectRange(a, PAGE, 1.5), /ThreadHandle\.pkruProtectRange: key must be an integer/);
    assert.equal(t.pkruProtectRange(a, PAGE, 15), 0);
    assert.equal(t.pkruProtectRange(a, PAGE, 0), 0);
  });

  it('EINVAL for unknown flags', () => {
    const { t } = setup();
    const a = map(t, 0, PAGE);
    for (const flags of [0x4, 0x8, 0x100, -1, AMD64_PKRU_EXCL | 0x4]) assert.equal(t.pkruProtectRange(a, PAGE, 1, flags), errno('EINVAL'), `flags ${flags}`);
    assert.equal(t.pkruProtectRange(a, PAGE, 1, AMD64_PKRU_EXCL | AMD64_PKRU_PERSIST), 0);
    assert.equal(t.pkruProtectRange(a + PAGE, PAGE, 1, AMD64_PKRU_PERSIST), 0);
  });

  it('EFAULT for an empty range after rounding, one beyond VM_MAXUSER_ADDRESS, or one whose end wraps', () => {
    const { p, t } = setup();
    assert.equal(t.pkruProtectRange(ARENA, 0, 1), errno('EFAULT'), 'page-aligned, len 0');
    assert.equal(t.pkruProtectRange(VM_MAXUSER, PAGE, 1), errno('EFAULT'));
    assert.equal(t.pkruProtectRange(VM_MAXUSER - PAGE, PAGE + 1, 1), errno('EFAULT'), 'rounds up past the limit');
    assert.equal(t.pkruProtectRange(PAGE, 2 ** 64 - PAGE, 1), errno('EFAULT'), 'addr + len wraps to 0');
    assert.deepEqual(p.snapshot().pkruRanges, []);
    // The last page below the limit is user space.
    assert.equal(t.pkruProtectRange(VM_MAXUSER - PAGE, PAGE, 1), 0);
    assert.deepEqual(rangeAt(p, VM_MAXUSER - 1), [VM_MAXUSER - PAGE, VM_MAXUSER, 1, false]);
  });

  it('rounds the range out to pages: an unaligned address with len 0 covers its page', () => {
    const { p, t } = setup();
    assert.equal(t.pkruProtectRange(ARENA + 100, 0, 3), 0);
    assert.deepEqual(rangeAt(p, ARENA), [ARENA, ARENA + PAGE, 3, false]);
    assert.equal(t.pkruProtectRange(ARENA + 2 * PAGE + 5, PAGE, 4), 0);
    assert.deepEqual(rangeAt(p, ARENA + 3 * PAGE), [ARENA + 2 * PAGE, ARENA + 4 * PAGE, 4, false]);
  });

  it('EINVAL comes before EFAULT', () => {
    const { t } = setup();
    assert.equal(t.pkruProtectRange(ARENA, 0, 16), errno('EINVAL'));
    assert.equal(t.pkruProtectRange(VM_MAXUSER, PAGE, 1, 0x4), errno('EINVAL'));
  });

  it('without PKU: EINVAL and EFAULT still come first, then ENOTSUP', () => {
    const { p, t } = setup({ pku: false });
    assert.equal(t.pkruProtectRange(ARENA, PAGE, 16), errno('EINVAL'));
    assert.equal(t.pkruProtectRange(ARENA, PAGE, 1, 0x10), errno('EINVAL'));
    assert.equal(t.pkruProtectRange(ARENA, 0, 1), errno('EFAULT'));
    assert.equal(t.pkruProtectRange(VM_MAXUSER, PAGE, 1), errno('EFAULT'));
    assert.equal(t.pkruProtectRange(ARENA, PAGE, 1), errno('ENOTSUP'));
    assert.equal(t.pkruProtectRange(ARENA, PAGE, 1, AMD64_PKRU_EXCL), errno('ENOTSUP'));
    assert.equal(t.pkruUnprotectRange(ARENA, 0), errno('EFAULT'));
    assert.equal(t.pkruUnprotectRange(ARENA, PAGE), errno('ENOTSUP'));
    assert.equal(errno('ENOTSUP').number('freebsd'), 45);
    assert.deepEqual(p.snapshot().pkruRanges, []);
  });

  it('EXCL: EBUSY over any existing range, key 0 included; never-assigned pages are free; nothing changes on EBUSY', () => {
    const { p, t } = setup();
    assert.equal(t.pkruProtectRange(ARENA, 4 * PAGE, 2, AMD64_PKRU_EXCL), 0);
    assert.equal(t.pkruProtectRange(ARENA + PAGE, PAGE, 3, AMD64_PKRU_EXCL), errno('EBUSY'));
    assert.equal(t.pkruProtectRange(ARENA - PAGE, 2 * PAGE, 3, AMD64_PKRU_EXCL | AMD64_PKRU_PERSIST), errno('EBUSY'));
    assert.deepEqual(p.snapshot().pkruRanges, [{ start: ARENA, end: ARENA + 4 * PAGE, key: 2, persist: false }]);
    // An explicit key 0 is a range.
    assert.equal(t.pkruProtectRange(ARENA + 8 * PAGE, PAGE, 0), 0);
    assert.equal(t.pkruProtectRange(ARENA + 8 * PAGE, PAGE, 5, AMD64_PKRU_EXCL), errno('EBUSY'));
    // A range ending where the new one starts does not count.
    assert.equal(t.pkruProtectRange(ARENA + 4 * PAGE, PAGE, 6, AMD64_PKRU_EXCL), 0);
    // Without EXCL the new key replaces the old.
    assert.equal(t.pkruProtectRange(ARENA + PAGE, PAGE, 3), 0);
    assert.deepEqual(rangeAt(p, ARENA + PAGE), [ARENA + PAGE, ARENA + 2 * PAGE, 3, false]);
  });

  it('EXCL quirk: a range starting exactly at the new range\'s end also gives EBUSY', () => {
    const { p, t } = setup();
    assert.equal(t.pkruProtectRange(ARENA + 2 * PAGE, 2 * PAGE, 1), 0);
    assert.equal(t.pkruProtectRange(ARENA, 2 * PAGE, 2, AMD64_PKRU_EXCL), errno('EBUSY'));
    assert.equal(p.pkruRange(ARENA), undefined);
    assert.equal(t.pkruProtectRange(ARENA, PAGE, 2, AMD64_PKRU_EXCL), 0, 'one page short of it');
  });

  it('unprotect: EFAULT for an empty or out-of-range span; removes every key, PERSIST too, trimming', () => {
    const { p, t } = setup();
    assert.equal(t.pkruUnprotectRange(ARENA, 0), errno('EFAULT'));
    assert.equal(t.pkruUnprotectRange(VM_MAXUSER, PAGE), errno('EFAULT'));
    assert.equal(t.pkruUnprotectRange(ARENA, PAGE), 0, 'nothing to remove is fine');
    t.pkruProtectRange(ARENA, 4 * PAGE, 7, AMD64_PKRU_PERSIST);
    t.pkruProtectRange(ARENA + 4 * PAGE, 2 * PAGE, 8);
    assert.equal(t.pkruUnprotectRange(ARENA + PAGE, 4 * PAGE), 0);
    assert.deepEqual(p.snapshot().pkruRanges, [
      { start: ARENA, end: ARENA + PAGE, key: 7, persist: true },
      { start: ARENA + 5 * PAGE, end: ARENA + 6 * PAGE, key: 8, persist: false },
    ]);
  });
});

describe('FreeBSD PKRU: x86_pkru_get_perm / x86_pkru_set_perm', () => {
  it('without PKU, EOPNOTSUPP comes before the key check', () => {
    const { t } = setup({ pku: false });
    for (const key of [0, 3, 16, -1]) {
      assert.equal(t.pkruGetPerm(key), errno('EOPNOTSUPP'), `get ${key}`);
      assert.equal(t.pkruSetPerm(key, false, false), errno('EOPNOTSUPP'), `set ${key}`);
    }
    assert.equal(errno('EOPNOTSUPP').number('freebsd'), 45);
  });

  it('EINVAL for a key above 15 (or negative); PKRU unchanged', () => {
    const { t } = setup();
    for (const key of [16, 100, -1]) {
      assert.equal(t.pkruGetPerm(key), errno('EINVAL'), `get ${key}`);
      assert.equal(t.pkruSetPerm(key, false, false), errno('EINVAL'), `set ${key}`);
    }
    assert.throws(() => t.pkruGetPerm(2.5), RangeError);
    assert.throws(() => t.pkruSetPerm(2.5, false, false), RangeError);
    assert.equal(t.pkru, 0);
  });

  it('set_perm writes AD (bit 2k) unless access and WD (bit 2k+1) unless modify; get_perm reads them back', () => {
    const { t } = setup();
    assert.equal(t.pkruSetPerm(3, false, true), 0);
    assert.equal(t.pkru, 1 << 6);
    assert.deepEqual(t.pkruGetPerm(3), { access: false, modify: true });
    assert.equal(t.pkruSetPerm(3, true, false), 0);
    assert.equal(t.pkru, 2 << 6);
    assert.deepEqual(t.pkruGetPerm(3), { access: true, modify: false });
    assert.equal(t.pkruSetPerm(15, false, false), 0);
    assert.equal(t.pkru, ((3 << 30) | (2 << 6)) >>> 0);
    assert.equal(t.pkruSetPerm(3, true, true), 0);
    assert.equal(t.pkru, (3 << 30) >>> 0);
    assert.deepEqual(t.pkruGetPerm(0), { access: true, modify: true });
  });

  it('set_perm is a WRPKRU: no TLB flush, no IPI, one key-register write', () => {
    const { m, p, t } = setup();
    const a = map(t, 0, 2 * PAGE);
    t.pkruProtectRange(a, 2 * PAGE, 4);
    t.store(a, 1);
    p.spawnThread(1).load(a);
    const before = m.counters().cpus;
    for (let i = 0; i < 6; i++) assert.equal(t.pkruSetPerm(4, i % 2 === 0, i % 3 === 0), 0);
    const after = m.counters().cpus;
    for (const c of [0, 1]) {
      assert.equal(after[c].flushes, before[c].flushes, `cpu ${c} flushes`);
      assert.equal(after[c].ipisReceived, before[c].ipisReceived, `cpu ${c} IPIs`);
    }
    assert.equal(after[0].keyRegisterWrites - before[0].keyRegisterWrites, 6);
    // And it takes effect on the next access, through the cached translation.
    assert.equal(t.pkruSetPerm(4, false, false), 0);
    assertPkuErr(t.load(a), a, 4);
  });
});

describe('FreeBSD PKRU: keys in page-table entries', () => {
  it('a PTE entered later in a keyed range takes the key; a denied access is SIGSEGV SEGV_PKUERR with the range\'s key', () => {
    const { p, t } = setup();
    const a = map(t, 0, 4 * PAGE);
    assert.equal(t.pkruProtectRange(a, 4 * PAGE, 5), 0);
    assert.equal(p.pte(a).none, true, 'protecting maps nothing');
    assert.equal(t.store(a, 0x11), null);
    assert.equal(p.pte(a).key, 5);
    assert.equal(t.load(a + PAGE), 0);
    assert.equal(p.pte(a + PAGE).key, 5, 'the zero page is mapped with the key too');
    assert.equal(t.pkruSetPerm(5, true, false), 0);
    assertPkuErr(t.store(a, 0x22), a, 5, 'write-disabled store');
    assert.equal(t.load(a), 0x11, 'write-disable allows reads');
    assert.equal(t.pkruSetPerm(5, false, true), 0);
    assertPkuErr(t.load(a + 7), a + 7, 5, 'access-disabled load');
    // An untouched page: vm_fault maps it, then the retried access takes the PK fault.
    assertPkuErr(t.load(a + 2 * PAGE), a + 2 * PAGE, 5, 'untouched page');
    assert.equal(p.pte(a + 2 * PAGE).present, true);
    assert.equal(p.pte(a + 2 * PAGE).key, 5);
    assert.equal(t.pkruSetPerm(5, true, true), 0);
    assert.equal(t.load(a), 0x11);
  });

  it('keys never apply to instruction fetches', () => {
    const { t } = setup();
    const x = map(t, 0, PAGE, PROT_READ | PROT_WRITE | PROT_EXEC);
    t.store(x, 0x90);
    t.pkruProtectRange(x, PAGE, 5);
    t.pkruSetPerm(5, false, false);
    assertPkuErr(t.load(x), x, 5);
    assert.equal(t.fetch(x), 0x90);
  });

  it('protecting rewrites the keys of present PTEs with one range flush, and only when something changed', () => {
    const { m, p, t } = setup();
    const a = map(t, 0, 8 * PAGE);
    for (let i = 0; i < 3; i++) t.store(a + i * PAGE, i + 1);
    let f = flushesOf(m);
    assert.equal(t.pkruProtectRange(a, 4 * PAGE, 4), 0);
    assert.equal(flushesOf(m) - f, 4, 'one invalidation of the whole 4-page range');
    for (let i = 0; i < 3; i++) assert.equal(p.pte(a + i * PAGE).key, 4);
    assert.equal(p.pte(a + 3 * PAGE).none, true, 'a non-present entry is not written');

    f = flushesOf(m);
    assert.equal(t.pkruProtectRange(a, 4 * PAGE, 4), 0, 'the same key again');
    assert.equal(t.pkruProtectRange(a + 4 * PAGE, 4 * PAGE, 9), 0, 'over pages never touched');
    assert.equal(flushesOf(m), f, 'nothing changed in the page tables: no flush');
    assert.equal(t.pkruProtectRange(a + 5 * PAGE, PAGE, 0), 0);
    assert.equal(flushesOf(m), f);

    // Key 0 over key-0 PTEs changes no PTE but is still a range.
    const b = map(t, 0, 2 * PAGE);
    t.store(b, 1);
    f = flushesOf(m);
    assert.equal(t.pkruProtectRange(b, 2 * PAGE, 0), 0);
    assert.equal(flushesOf(m), f);
    assert.deepEqual(rangeAt(p, b), [b, b + 2 * PAGE, 0, false]);

    f = flushesOf(m);
    assert.equal(t.pkruUnprotectRange(a, 4 * PAGE), 0);
    assert.equal(flushesOf(m) - f, 4);
    assert.equal(p.pte(a).key, 0);
    f = flushesOf(m);
    assert.equal(t.pkruUnprotectRange(a, 4 * PAGE), 0);
    assert.equal(flushesOf(m), f, 'unprotecting key-0 entries changes nothing');
  });

  it('a large rekey flushes the whole PCID once; another CPU running the process gets an IPI', () => {
    const { m, p, t } = setup();
    const a = map(t, 0, 64 * PAGE);
    for (let i = 0; i < 64; i++) t.store(a + i * PAGE, 1);
    const t1 = p.spawnThread(1);
    assert.equal(t1.load(a), 1);
    const before = m.counters().cpus;
    assert.equal(t.pkruProtectRange(a, 64 * PAGE, 2), 0);
    const after = m.counters().cpus;
    assert.equal(after[0].fullFlushes - before[0].fullFlushes, 1);
    assert.equal(after[0].flushes - before[0].flushes, 1);
    assert.equal(after[0].ipisSent - before[0].ipisSent, 1);
    assert.equal(after[1].ipisReceived - before[1].ipisReceived, 1);
    // CPU 1 cannot use its cached key-0 translation with key 2 denied.
    assert.equal(t1.pkruSetPerm(2, false, false), 0);
    assertPkuErr(t1.load(a), a, 2);
  });

  it('a COW copy after fork takes the range\'s key', () => {
    const { p, t } = setup();
    const a = map(t, 0, PAGE);
    t.store(a, 3);
    t.pkruProtectRange(a, PAGE, 6);
    const c = t.fork();
    assert.ok(!isErrno(c));
    assert.equal(c.main.store(a, 4), null);
    assert.equal(c.pte(a).key, 6);
    assert.equal(t.store(a, 5), null);
    assert.equal(p.pte(a).key, 6);
    assert.equal(c.main.load(a), 4);
    assert.equal(t.load(a), 5);
  });

  it('protecting unmapped addresses keys the mapping made there later', () => {
    const { p, t } = setup();
    assert.equal(t.pkruProtectRange(ARENA, 4 * PAGE, 9), 0);
    assert.deepEqual(rangeAt(p, ARENA + PAGE), [ARENA, ARENA + 4 * PAGE, 9, false]);
    map(t, ARENA + PAGE, 2 * PAGE);
    assert.equal(t.store(ARENA + PAGE, 1), null);
    assert.equal(p.pte(ARENA + PAGE).key, 9);
    t.pkruSetPerm(9, false, false);
    assertPkuErr(t.load(ARENA + 2 * PAGE), ARENA + 2 * PAGE, 9);
    // Outside the range: key 0.
    map(t, ARENA + 4 * PAGE, PAGE);
    assert.equal(t.load(ARENA + 4 * PAGE), 0);
    assert.equal(p.pte(ARENA + 4 * PAGE).key, 0);
  });

  it('an access with no mapping is SEGV_MAPERR, a write to a read-only mapping SEGV_ACCERR, inside a keyed range too', () => {
    const { t } = setup();
    t.pkruProtectRange(ARENA, 4 * PAGE, 3);
    assertSignal(t.load(ARENA), 'SIGSEGV', 'SEGV_MAPERR', ARENA);
    map(t, ARENA, PAGE, PROT_READ);
    assertSignal(t.store(ARENA, 1), 'SIGSEGV', 'SEGV_ACCERR', ARENA, 'not present: vm_fault refuses the write');
    map(t, ARENA + PAGE, PAGE, PROT_NONE);
    assertSignal(t.load(ARENA + PAGE), 'SIGSEGV', 'SEGV_ACCERR', ARENA + PAGE);
  });
});

describe('FreeBSD PKRU: pmap_remove() keeps keys (fixed) / drops them (pkru-swapout-bug)', () => {
  it('swap-out keeps the key: the page comes back keyed', () => {
    const { m, p, t } = setup();
    const a = map(t, 0, 2 * PAGE);
    t.store(a, 0x42);
    t.pkruProtectRange(a, 2 * PAGE, 5);
    assert.ok(m.swapOut(p) > 0);
    assert.equal(p.pte(a).swapped, true);
    assert.deepEqual(rangeAt(p, a), [a, a + 2 * PAGE, 5, false]);
    t.pkruSetPerm(5, false, false);
    assertPkuErr(t.load(a), a, 5, 'after swap-in');
    t.pkruSetPerm(5, true, true);
    assert.equal(t.load(a), 0x42);
    assert.equal(p.pte(a).key, 5);
  });

  it('pkru-swapout-bug: swap-out drops the non-PERSIST key and the page comes back unkeyed; PERSIST survives', () => {
    const { m, p, t } = setup({ bug: true });
    const a = map(t, 0, 2 * PAGE);
    const b = map(t, 0, PAGE);
    t.store(a, 0x42);
    t.store(b, 0x43);
    t.pkruProtectRange(a, 2 * PAGE, 5);
    t.pkruProtectRange(b, PAGE, 6, AMD64_PKRU_PERSIST);
    t.pkruSetPerm(5, false, false);
    t.pkruSetPerm(6, false, false);
    assertPkuErr(t.load(a), a, 5, 'before swap-out');
    m.swapOut(p);
    assert.equal(p.pkruRange(a), undefined);
    assert.equal(t.load(a), 0x42, 'the bug: key 5 is denied, yet the load succeeds');
    assert.equal(p.pte(a).key, 0);
    assertPkuErr(t.load(b), b, 6, 'a PERSIST range survives');
  });

  it('pkru-swapout-bug: a swap-out of a span drops only the keys in it, unmapped addresses included', () => {
    const { m, p, t } = setup({ bug: true });
    t.pkruProtectRange(ARENA, 8 * PAGE, 2);
    map(t, ARENA, 2 * PAGE);
    t.store(ARENA, 1);
    m.swapOut(p, ARENA + PAGE, ARENA + 6 * PAGE);
    assert.deepEqual(p.snapshot().pkruRanges, [
      { start: ARENA, end: ARENA + PAGE, key: 2, persist: false },
      { start: ARENA + 6 * PAGE, end: ARENA + 8 * PAGE, key: 2, persist: false },
    ]);
  });

  for (const bug of [false, true]) {
    it(`mprotect(PROT_NONE) and back ${bug ? 'loses the key in its span (pkru-swapout-bug)' : 'keeps the key'}; the data survives`, () => {
      const { p, t } = setup({ bug });
      const a = map(t, 0, 4 * PAGE);
      for (let i = 0; i < 4; i++) t.store(a + i * PAGE, 0x10 + i);
      t.pkruProtectRange(a, 4 * PAGE, 5);
      t.pkruSetPerm(5, false, false);
      assert.equal(t.mprotect(a, PAGE, PROT_NONE), 0);
      assert.equal(p.pte(a).present, false, 'pmap_remove: the translation is gone');
      assert.equal(t.mprotect(a, PAGE, RW), 0);
      if (bug) {
        assert.equal(t.load(a), 0x10, 'the bug: the page came back without its key');
        assert.equal(p.pte(a).key, 0);
        assert.deepEqual(rangeAt(p, a + PAGE), [a + PAGE, a + 4 * PAGE, 5, false]);
      } else {
        assertPkuErr(t.load(a), a, 5);
        assert.deepEqual(rangeAt(p, a), [a, a + 4 * PAGE, 5, false]);
      }
      assertPkuErr(t.load(a + PAGE), a + PAGE, 5, 'outside the span');
      t.pkruSetPerm(5, true, true);
      for (let i = 0; i < 4; i++) assert.equal(t.load(a + i * PAGE), 0x10 + i);
    });

    it(`msync(MS_INVALIDATE) ${bug ? 'loses the key in its span (pkru-swapout-bug)' : 'keeps the key'}`, () => {
      const { p, t } = setup({ bug });
      const a = map(t, 0, 4 * PAGE);
      for (let i = 0; i < 4; i++) t.store(a + i * PAGE, 0x20 + i);
      t.pkruProtectRange(a, 4 * PAGE, 7);
      assert.equal(t.msync(a + 2 * PAGE, PAGE, MS_INVALIDATE), 0);
      assert.equal(p.pte(a + 2 * PAGE).present, false);
      t.pkruSetPerm(7, true, false);
      if (bug) {
        assert.equal(t.store(a + 2 * PAGE, 0x99), null, 'the bug: the write went through');
        assert.equal(t.load(a + 2 * PAGE), 0x99);
        assert.equal(p.pkruRange(a + 2 * PAGE), undefined);
      } else {
        assertPkuErr(t.store(a + 2 * PAGE, 0x99), a + 2 * PAGE, 7);
        assert.equal(t.load(a + 2 * PAGE), 0x22);
      }
      assertPkuErr(t.store(a + 3 * PAGE, 0x99), a + 3 * PAGE, 7, 'outside the span');
      assert.equal(t.load(a + 3 * PAGE), 0x23);
    });
  }

  it('mprotect that keeps PROT_READ is pmap_protect, not pmap_remove: keys stay even in the variant', () => {
    const { p, t } = setup({ bug: true });
    const a = map(t, 0, 2 * PAGE);
    t.store(a, 1);
    t.pkruProtectRange(a, 2 * PAGE, 3);
    assert.equal(t.mprotect(a, 2 * PAGE, PROT_READ), 0);
    assert.equal(p.pte(a).present, true);
    assert.equal(p.pte(a).key, 3);
    assert.deepEqual(rangeAt(p, a), [a, a + 2 * PAGE, 3, false]);
  });

  it('pkru-swapout-bug: PERSIST ranges survive PROT_NONE and MS_INVALIDATE', () => {
    const { p, t } = setup({ bug: true });
    const a = map(t, 0, 2 * PAGE);
    t.store(a, 1);
    t.pkruProtectRange(a, 2 * PAGE, 8, AMD64_PKRU_PERSIST);
    t.mprotect(a, PAGE, PROT_NONE);
    t.mprotect(a, PAGE, RW);
    t.msync(a, 2 * PAGE, MS_INVALIDATE);
    assert.deepEqual(rangeAt(p, a), [a, a + 2 * PAGE, 8, true]);
    t.pkruSetPerm(8, false, false);
    assertPkuErr(t.load(a), a, 8);
  });
});

describe('FreeBSD PKRU: removals that are not pmap_remove() keep keys even before the fix', () => {
  // FreeBSD vm_map_madvise(): MADV_DONTNEED and MADV_FREE call pmap_advise() (which clears
  // A/D bits) and vm_object_madvise(), never pmap_remove(), so even the pre-fix
  // pmap_pkru_on_remove() never ran for them. mmsim reuses Linux's zap (pmap.remove()),
  // whose onRemove hook drops the keys in the variant.
  it('pkru-swapout-bug: madvise(MADV_DONTNEED) keeps the key (pmap_advise, not pmap_remove)', () => {
    const { p, t } = setup({ bug: true });
    const a = map(t, 0, 2 * PAGE);
    t.store(a, 1);
    t.pkruProtectRange(a, 2 * PAGE, 3);
    assert.equal(t.madvise(a, 2 * PAGE, MADV_DONTNEED), 0);
    assert.deepEqual(rangeAt(p, a), [a, a + 2 * PAGE, 3, false]);
  });

  it('madvise(MADV_DONTNEED) keeps the key after the fix', () => {
    const { p, t } = setup();
    const a = map(t, 0, 2 * PAGE);
    t.store(a, 1);
    t.pkruProtectRange(a, 2 * PAGE, 3);
    assert.equal(t.madvise(a, 2 * PAGE, MADV_DONTNEED), 0);
    assert.deepEqual(rangeAt(p, a), [a, a + 2 * PAGE, 3, false]);
  });

  // Truncation unmaps through vm_object_page_remove() → pmap_remove_all() per page, which
  // never touches pm_pkru (notes §3) — before the fix as after.
  it('pkru-swapout-bug: ftruncate that unmaps a keyed shared file page keeps the key', () => {
    const { m, p, t } = setup({ bug: true });
    m.createFile('/f', 2 * PAGE);
    const fd = t.open('/f', O_RDWR) as number;
    const f = t.mmap(0, 2 * PAGE, RW, MAP_SHARED, fd, 0) as number;
    assert.equal(typeof f, 'number');
    t.store(f + PAGE, 1);
    t.pkruProtectRange(f, 2 * PAGE, 4);
    assert.equal(t.ftruncate(fd, PAGE), 0);
    assert.equal(t.ftruncate(fd, 2 * PAGE), 0);
    assert.deepEqual(rangeAt(p, f + PAGE), [f, f + 2 * PAGE, 4, false]);
    t.pkruSetPerm(4, false, false);
    assertPkuErr(t.load(f + PAGE), f + PAGE, 4);
  });

  it('ftruncate that unmaps a keyed shared file page keeps the key after the fix', () => {
    const { m, p, t } = setup();
    m.createFile('/f', 2 * PAGE);
    const fd = t.open('/f', O_RDWR) as number;
    const f = t.mmap(0, 2 * PAGE, RW, MAP_SHARED, fd, 0) as number;
    t.store(f + PAGE, 1);
    t.pkruProtectRange(f, 2 * PAGE, 4);
    assert.equal(t.ftruncate(fd, PAGE), 0);
    assert.equal(t.ftruncate(fd, 2 * PAGE), 0);
    assert.deepEqual(rangeAt(p, f + PAGE), [f, f + 2 * PAGE, 4, false]);
    t.pkruSetPerm(4, false, false);
    assertPkuErr(t.load(f + PAGE), f + PAGE, 4);
  });

  it('memory-pressure reclaim (pmap_remove_all per page) keeps keys, in the variant too', () => {
    for (const bug of [false, true]) {
      const { m, p, t } = setup({ bug });
      const a = map(t, 0, 4 * PAGE);
      for (let i = 0; i < 4; i++) t.store(a + i * PAGE, i + 1);
      t.pkruProtectRange(a, 4 * PAGE, 2);
      m.reclaim(1 << 20);
      assert.deepEqual(rangeAt(p, a), [a, a + 4 * PAGE, 2, false], `bug ${bug}`);
      t.pkruSetPerm(2, false, false);
      assertPkuErr(t.load(a + PAGE), a + PAGE, 2, `bug ${bug}`);
    }
  });
});

describe('FreeBSD PKRU: munmap (pmap_map_delete) and PERSIST', () => {
  // The mappings munmapped below are all touched and the process has several resident
  // pages: FreeBSD's vm_map_delete() calls pmap_map_delete() only for an entry with a VM
  // object, and pmap_remove1() returns early for a nearly empty pmap (notes §3); mmsim,
  // like SEMANTICS.md, does not model those corners, and these tests stay clear of them.
  it('munmap drops a non-PERSIST range in its span: a new mapping there has key 0', () => {
    const { p, t } = setup();
    const a = map(t, ARENA, 4 * PAGE);
    for (let i = 0; i < 4; i++) t.store(a + i * PAGE, 1);
    t.pkruProtectRange(a, 4 * PAGE, 2);
    assert.equal(t.munmap(a + PAGE, 2 * PAGE), 0);
    assert.deepEqual(p.snapshot().pkruRanges, [
      { start: a, end: a + PAGE, key: 2, persist: false },
      { start: a + 3 * PAGE, end: a + 4 * PAGE, key: 2, persist: false },
    ]);
    map(t, a + PAGE, PAGE);
    t.pkruSetPerm(2, false, false);
    assert.equal(t.store(a + PAGE, 5), null);
    assert.equal(p.pte(a + PAGE).key, 0);
  });

  it('munmap keeps a PERSIST range: the per-thread heap arena — memory mapped into it later is keyed at once', () => {
    const { p, t } = setup();
    const arena = map(t, 0, 64 * PAGE, PROT_NONE);
    assert.equal(t.munmap(arena, 64 * PAGE), 0);
    assert.equal(t.pkruProtectRange(arena, 64 * PAGE, 7, AMD64_PKRU_PERSIST), 0);
    const a = map(t, arena, 16 * PAGE);
    assert.equal(t.store(a, 0x11), null);
    assert.equal(p.pte(a).key, 7);
    const t1 = p.spawnThread(1);
    t1.pkruSetPerm(7, false, false);
    assertPkuErr(t1.load(a), a, 7, 'another thread denied key 7');
    assert.equal(t.munmap(a, 16 * PAGE), 0);
    assert.deepEqual(rangeAt(p, arena + 32 * PAGE), [arena, arena + 64 * PAGE, 7, true]);
    const b = map(t, arena + 32 * PAGE, 8 * PAGE);
    assert.equal(t.store(b, 0x22), null);
    assert.equal(p.pte(b).key, 7);
    assertPkuErr(t1.load(b), b, 7);
  });

  it('unprotect removes a PERSIST range: after munmap and mmap the key is gone', () => {
    const { p, t } = setup();
    const a = map(t, ARENA, 2 * PAGE);
    t.pkruProtectRange(a, 2 * PAGE, 7, AMD64_PKRU_PERSIST);
    assert.equal(t.pkruUnprotectRange(a, 2 * PAGE), 0);
    t.munmap(a, 2 * PAGE);
    map(t, a, 2 * PAGE);
    t.store(a, 1);
    assert.equal(p.pte(a).key, 0);
    assert.deepEqual(p.snapshot().pkruRanges, []);
  });

  it('MAP_FIXED over a mapping is a logical unmap too', () => {
    const { p, t } = setup();
    const a = map(t, ARENA, 2 * PAGE);
    t.store(a, 1);
    t.store(a + PAGE, 1);
    t.pkruProtectRange(a, PAGE, 3);
    t.pkruProtectRange(a + PAGE, PAGE, 4, AMD64_PKRU_PERSIST);
    map(t, a, 2 * PAGE);
    assert.deepEqual(p.snapshot().pkruRanges, [{ start: a + PAGE, end: a + 2 * PAGE, key: 4, persist: true }]);
  });

  it('munmap of addresses with no mapping leaves their keys (pmap_map_delete runs per map entry)', () => {
    const { p, t } = setup();
    t.pkruProtectRange(ARENA, 4 * PAGE, 3);
    map(t, ARENA + PAGE, PAGE);
    t.store(ARENA + PAGE, 1);
    t.store(map(t, 0, PAGE), 1);
    assert.equal(t.munmap(ARENA, 4 * PAGE), 0);
    assert.deepEqual(p.snapshot().pkruRanges, [
      { start: ARENA, end: ARENA + PAGE, key: 3, persist: false },
      { start: ARENA + 2 * PAGE, end: ARENA + 4 * PAGE, key: 3, persist: false },
    ]);
  });
});

describe('FreeBSD PKRU: fork, exec, exit, threads, signals, kernel copies', () => {
  it('fork copies the range set (PERSIST flags too), the PTE keys and the PKRU; the copies are independent', () => {
    const { p, t } = setup();
    const a = map(t, 0, 4 * PAGE);
    t.store(a, 1);
    t.pkruProtectRange(a, 2 * PAGE, 3);
    t.pkruProtectRange(a + 2 * PAGE, 2 * PAGE, 4, AMD64_PKRU_PERSIST);
    t.pkruProtectRange(ARENA, PAGE, 5);
    t.pkruSetPerm(3, false, true);
    const c = t.fork(1);
    assert.ok(!isErrno(c));
    assert.deepEqual(c.snapshot().pkruRanges, p.snapshot().pkruRanges);
    assert.equal(c.main.pkru, t.pkru);
    assert.deepEqual(c.main.pkruGetPerm(3), { access: false, modify: true });
    assert.equal(c.pte(a).key, 3, 'copied PTEs keep their key bits');
    assertPkuErr(c.main.load(a), a, 3, 'the child is denied key 3 as well');
    // Independent afterwards.
    assert.equal(c.main.pkruUnprotectRange(a, 4 * PAGE), 0);
    assert.equal(t.pkruProtectRange(ARENA + PAGE, PAGE, 6), 0);
    assert.deepEqual(rangeAt(p, a), [a, a + 2 * PAGE, 3, false]);
    assert.equal(c.pkruRange(a), undefined);
    assert.equal(c.pkruRange(ARENA + PAGE), undefined);
    assert.equal(c.main.pkruSetPerm(3, true, true), 0);
    assert.deepEqual(t.pkruGetPerm(3), { access: false, modify: true });
    assert.equal(c.main.load(a), 1);
    assertPkuErr(t.load(a), a, 3);
  });

  it('exec drops every range, PERSIST included, and resets PKRU to 0', () => {
    const { p, t } = setup();
    const a = map(t, ARENA, 2 * PAGE);
    t.store(a, 1);
    t.pkruProtectRange(a, PAGE, 3);
    t.pkruProtectRange(a + PAGE, PAGE, 4, AMD64_PKRU_PERSIST);
    t.pkruSetPerm(3, false, false);
    t.pkruSetPerm(9, true, false);
    assert.equal(t.exec(), 0);
    assert.deepEqual(p.snapshot().pkruRanges, []);
    assert.equal(t.pkru, 0);
    assert.deepEqual(t.pkruGetPerm(3), { access: true, modify: true });
    map(t, ARENA, 2 * PAGE);
    assert.equal(t.store(ARENA + PAGE, 1), null);
    assert.equal(p.pte(ARENA + PAGE).key, 0);
  });

  it('exit drops the ranges of the process; a child forked before keeps its own', () => {
    const { m, p, t } = setup();
    const a = map(t, 0, PAGE);
    t.store(a, 1);
    t.pkruProtectRange(a, PAGE, 2, AMD64_PKRU_PERSIST);
    const c = t.fork();
    assert.ok(!isErrno(c));
    p.exit();
    assert.equal(p.alive, false);
    assert.deepEqual(p.snapshot().pkruRanges, []);
    assert.deepEqual(rangeAt(c, a), [a, a + PAGE, 2, true]);
    c.main.pkruSetPerm(2, false, false);
    assertPkuErr(c.main.load(a), a, 2);
    c.exit();
    assert.deepEqual(m.checkInvariants(), []);
  });

  it('a new thread inherits its creator\'s PKRU; PKRU is per thread afterwards', () => {
    const { p, t } = setup();
    const a = map(t, 0, PAGE);
    t.store(a, 9);
    t.pkruProtectRange(a, PAGE, 4);
    t.pkruSetPerm(4, false, true);
    const t1 = p.spawnThread(1);
    assert.deepEqual(t1.pkruGetPerm(4), { access: false, modify: true });
    assert.equal(t1.pkru, t.pkru);
    const t2 = p.spawnThread(1, t1);
    assert.equal(t2.pkru, t.pkru);
    assert.equal(t1.pkruSetPerm(4, true, true), 0);
    assert.equal(t1.load(a), 9);
    assertPkuErr(t.load(a), a, 4, 'the creator is still denied');
    assertPkuErr(t2.load(a), a, 4, 'so is the thread made before the change');
    // A thread made by the changed one inherits the change.
    assert.equal(p.spawnThread(0, t1).load(a), 9);
  });

  it('a signal handler runs with PKRU 0; the interrupted PKRU is restored on return', () => {
    const { p, t } = setup();
    const a = map(t, 0, PAGE);
    t.store(a, 7);
    t.pkruProtectRange(a, PAGE, 2);
    t.pkruSetPerm(2, false, false);
    const interrupted = t.pkru;
    const seen = t.runSignalHandler((h) => {
      const pkru = h.pkru;
      const v = h.load(a);
      h.pkruSetPerm(5, false, false);
      return [pkru, v] as const;
    });
    assert.deepEqual(seen, [0, 7]);
    assert.equal(t.pkru, interrupted, 'what the handler wrote is lost at sigreturn');
    assert.deepEqual(t.pkruGetPerm(5), { access: true, modify: true });
    assertPkuErr(t.load(a), a, 2);
    assert.equal(p.pte(a).key, 2);
  });

  it('pread/pwrite with a key-denied buffer are EFAULT, not a signal; write-disable stops only the copy-out', () => {
    const { m, t } = setup();
    m.createFile('/f', new Uint8Array([1, 2, 3, 4]));
    const fd = t.open('/f', O_RDWR);
    assert.ok(!isErrno(fd));
    const a = map(t, 0, 2 * PAGE);
    t.store(a, 0x55);
    t.pkruProtectRange(a, 2 * PAGE, 6);
    t.pkruSetPerm(6, false, false);
    const before = t.signals.length;
    assert.equal(t.pread(fd, a, 4, 0), errno('EFAULT'));
    assert.equal(t.pwrite(fd, a, 4, 0), errno('EFAULT'));
    assert.equal(t.pread(fd, a + PAGE, 4, 0), errno('EFAULT'), 'an untouched page: faulted in, then the key denies');
    assert.equal(t.signals.length, before, 'no signal for a kernel access');
    t.pkruSetPerm(6, true, false);
    assert.equal(t.pread(fd, a, 4, 0), errno('EFAULT'), 'copyout needs write access');
    assert.equal(t.pwrite(fd, a, 1, 0), 1, 'copyin only reads');
    t.pkruSetPerm(6, true, true);
    assert.equal(t.pread(fd, a, 4, 0), 4);
    assert.equal(t.load(a), 0x55, 'the byte pwrite stored in the file came back');
    assert.equal(t.load(a + 3), 4);
  });

  it('a file created with O_CREAT is no different: EFAULT for a denied buffer, then success', () => {
    const { t } = setup();
    const fd = t.open('/new', O_RDWR | O_CREAT);
    assert.ok(!isErrno(fd));
    const a = map(t, 0, PAGE);
    t.pkruProtectRange(a, PAGE, 1);
    t.pkruSetPerm(1, false, false);
    assert.equal(t.pwrite(fd, a, 8, 0), errno('EFAULT'));
    t.pkruSetPerm(1, true, true);
    assert.equal(t.pwrite(fd, a, 8, 0), 8);
  });
});

describe('FreeBSD pmap_protect() and vm_map_sync(): exactly when pmap_remove() runs', () => {
  it('mprotect removes the pages only for VM_PROT_NONE after masking write off a private entry', () => {
    const { m, p, t } = setup({ bug: true });
    const a = map(t, ARENA, 4 * PAGE);
    for (let i = 0; i < 4; i++) t.store(a + i * PAGE, 1);
    assert.equal(t.pkruProtectRange(a, 4 * PAGE, 5), 0);
    // Execute-only keeps a right: pmap_protect() proper, no pmap_remove(), so even the
    // pre-fix kernel keeps the key.
    assert.equal(t.mprotect(a, PAGE, PROT_EXEC), 0);
    assert.equal(p.pkruRange(a)?.key, 5);
    assert.ok(p.pte(a).present);
    // Write-only on a private (copy-on-write) entry masks to nothing: pmap_remove().
    assert.equal(t.mprotect(a + PAGE, PAGE, PROT_WRITE), 0);
    assert.equal(p.pkruRange(a + PAGE), undefined, 'the bug variant dropped the key');
    assert.ok(p.pte(a + PAGE).protnone, 'the page left the pmap');
    assert.equal(m.checkInvariants().length, 0);
  });

  it('msync(MS_INVALIDATE) over a hole is ENOMEM and changes nothing', () => {
    const { p, t } = setup({ bug: true });
    const a = map(t, ARENA, PAGE);
    t.store(a, 1);
    assert.equal(t.pkruProtectRange(a, 3 * PAGE, 5), 0);
    assert.equal(t.msync(a, 3 * PAGE, MS_INVALIDATE), errno('ENOMEM'));
    assert.ok(p.pte(a).present);
    assert.equal(p.pkruRange(a)?.key, 5);
  });

  it('an access past the end of a file is SIGBUS BUS_OBJERR (vm_fault_trap(): KERN_OUT_OF_BOUNDS)', () => {
    const { m, t } = setup();
    m.createFile('/small', 100);
    const fd = t.open('/small', O_RDWR) as number;
    const a = t.mmap(0, 2 * PAGE, RW, MAP_SHARED, fd, 0) as number;
    const r = t.load(a + PAGE);
    assert.ok(isSignal(r) && r.signal === 'SIGBUS' && r.code === 'BUS_OBJERR');
  });
});

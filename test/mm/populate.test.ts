/**
 * MAP_POPULATE against PKRU (D19). Linux populates through GUP: __get_user_pages() →
 * check_vma_flags() → arch_vma_access_permitted() refuses a VMA whose key PKRU denies,
 * populate_vma_page_range() fails with -EFAULT and __mm_populate() ignores it: the mmap
 * succeeds and nothing is populated. FreeBSD's prefault knows no PKRU.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MAP_ANONYMOUS, MAP_FIXED, MAP_LOCKED, MAP_POPULATE, MAP_PRIVATE, MAP_SHARED, O_RDWR, PKEY_DISABLE_ACCESS, PKEY_DISABLE_WRITE, PROT_EXEC, PROT_READ } from '../../src/index.js';
import { ANON, PAGE, RW, assertSignal, machine, map, open, setup } from './_helpers.js';

const MiB = 1 << 20;

describe('linux: MAP_POPULATE honours PKRU', () => {
  it('an execute-only mapping (PROT_EXEC gets the execute-only key) populates nothing', () => {
    const { p, t } = setup({ memory: MiB, swap: MiB });
    const a = map(t, 0, 4 * PAGE, PROT_EXEC, ANON | MAP_POPULATE);
    assert.equal(p.vma(a)?.pkey, 1);
    assert.equal(p.resident, 0);
    assert.equal(p.pte(a).none, true);
  });

  it('nothing is populated while PKRU denies access to key 0, and the mmap still succeeds', () => {
    const { p, t } = setup({ memory: MiB, swap: MiB });
    assert.equal(t.pkeySet(0, PKEY_DISABLE_ACCESS), 0);
    const a = map(t, 0, 4 * PAGE, RW, ANON | MAP_POPULATE);
    assert.equal(p.resident, 0);
    assert.equal(t.pkeySet(0, 0), 0);
    assert.equal(t.load(a), 0);
  });

  it('MAP_LOCKED populates through the same path: nothing while the key is denied', () => {
    const { p, t } = setup({ memory: MiB, swap: MiB });
    assert.equal(t.pkeySet(0, PKEY_DISABLE_ACCESS), 0);
    map(t, 0, 2 * PAGE, RW, ANON | MAP_LOCKED);
    assert.equal(p.resident, 0);
  });

  it('write-disable stops the write faults of a private writable populate, not the read faults of a shared one', () => {
    const { p, t } = setup({ memory: MiB, swap: MiB });
    assert.equal(t.pkeySet(0, PKEY_DISABLE_WRITE), 0);
    map(t, 0, 2 * PAGE, RW, ANON | MAP_POPULATE);
    assert.equal(p.resident, 0, 'FOLL_WRITE is denied');
    map(t, 0, 2 * PAGE, PROT_READ, ANON | MAP_POPULATE);
    assert.equal(p.resident, 2, 'a read-only private populate reads');
    map(t, 0, 2 * PAGE, RW, MAP_SHARED | MAP_ANONYMOUS | MAP_POPULATE);
    assert.equal(p.resident, 4, 'a shared writable populate reads');
  });

  it('a private file mapping populated while denied copies nothing early: it shows the file as it is later', () => {
    const m = machine({ memory: MiB, swap: MiB });
    m.createFile('/f', new Uint8Array(PAGE).fill(0x11));
    const p = m.spawn('p');
    const t = p.main;
    const fd = open(t, '/f', O_RDWR);
    assert.equal(t.pkeySet(0, PKEY_DISABLE_ACCESS), 0);
    const a = map(t, 0, PAGE, RW, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    assert.equal(p.resident, 0);
    const w = map(t, 0, PAGE, RW, MAP_SHARED, fd, 0);
    assert.equal(t.pkeySet(0, 0), 0);
    t.store(w, 0x22);
    assert.equal(t.load(a), 0x22, 'no COW copy was made at mmap time');
  });

  it('populates as before when PKRU allows the key, and on a CPU without PKU', () => {
    const a = setup({ memory: MiB, swap: MiB });
    map(a.t, 0, 3 * PAGE, RW, ANON | MAP_POPULATE);
    assert.equal(a.p.resident, 3);
    const b = setup({ memory: MiB, swap: MiB, pku: false });
    map(b.t, 0, 3 * PAGE, PROT_EXEC, ANON | MAP_POPULATE);
    assert.equal(b.p.resident, 3, 'no PKU: no execute-only key');
  });
});

describe('freebsd: the prefault knows no PKRU', () => {
  it('pages in a range whose key PKRU denies are populated with the key; the access then faults', () => {
    const { p, t } = setup({ os: 'freebsd', memory: 8 * MiB, swap: 8 * MiB });
    const ARENA = 0x10000000;
    assert.equal(t.pkruProtectRange(ARENA, 2 * PAGE, 3), 0);
    assert.equal(t.pkruSetPerm(3, false, false), 0);
    assert.equal(t.mmap(ARENA, 2 * PAGE, RW, ANON | MAP_FIXED | MAP_POPULATE), ARENA);
    assert.equal(p.resident, 2);
    assert.equal(p.pte(ARENA).key, 3);
    assertSignal(t.load(ARENA), 'SIGSEGV', 'SEGV_PKUERR', ARENA);
  });
});

/**
 * mprotect(2) against Linux (mm/mprotect.c do_mprotect_pkey(), mprotect_fixup()): the
 * split/merge behaviour /proc/pid/maps shows, its errors in Linux's order, data kept
 * across PROT_NONE, COW kept across a protection change, and the TLB shoot-down.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  MAP_PRIVATE,
  MAP_SHARED,
  O_RDONLY,
  O_RDWR,
  PROT_EXEC,
  PROT_GROWSDOWN,
  PROT_GROWSUP,
  PROT_NONE,
  PROT_READ,
  PROT_SEM,
  PROT_WRITE,
  errno,
  isErrno,
  isSignal,
} from '../../src/index.js';
import { PAGE, RW, ANON, assertSignal, map, setup, vmas } from './_helpers.js';

describe('mprotect: splitting and merging', () => {
  it('24 read-only pages with the first and last made PROT_NONE leave one 22-page r-- VMA in the middle', () => {
    const { t, p } = setup();
    const a = map(t, 0, 24 * PAGE, PROT_READ, ANON);
    assert.equal(t.mprotect(a, PAGE, PROT_NONE), 0);
    assert.equal(t.mprotect(a + 23 * PAGE, PAGE, PROT_NONE), 0);
    assert.deepEqual(vmas(p), [
      [a, a + PAGE, '---p'],
      [a + PAGE, a + 23 * PAGE, 'r--p'],
      [a + 23 * PAGE, a + 24 * PAGE, '---p'],
    ]);
    const lines = p.maps().trim().split('\n');
    assert.equal(lines.length, 3);
    assert.equal(lines[1], `${(a + PAGE).toString(16)}-${(a + 23 * PAGE).toString(16)} r--p 00000000 00:00 0 `);
    // Restoring the protection merges the three back into one VMA.
    assert.equal(t.mprotect(a, PAGE, PROT_READ), 0);
    assert.equal(p.mapCount, 2);
    assert.equal(t.mprotect(a + 23 * PAGE, PAGE, PROT_READ), 0);
    assert.deepEqual(vmas(p), [[a, a + 24 * PAGE, 'r--p']]);
  });

  it('restores one VMA in a single call over the whole range, with pages faulted in', () => {
    const { t, p } = setup();
    const a = map(t, 0, 24 * PAGE, RW, ANON);
    for (let i = 0; i < 24; i++) t.store(a + i * PAGE, i + 1);
    t.mprotect(a, PAGE, PROT_NONE);
    t.mprotect(a + 23 * PAGE, PAGE, PROT_NONE);
    t.mprotect(a + 10 * PAGE, 2 * PAGE, PROT_READ);
    assert.equal(p.mapCount, 5);
    assert.equal(t.mprotect(a, 24 * PAGE, RW), 0);
    assert.deepEqual(vmas(p), [[a, a + 24 * PAGE, 'rw-p']]);
    for (let i = 0; i < 24; i++) assert.equal(t.load(a + i * PAGE), i + 1);
  });

  it('a protection that changes nothing neither splits nor fails', () => {
    const { t, p } = setup();
    const a = map(t, 0, 4 * PAGE, PROT_READ, ANON);
    assert.equal(t.mprotect(a + PAGE, PAGE, PROT_READ), 0);
    assert.equal(p.mapCount, 1);
  });

  it('changes several VMAs in one call and merges them when they become alike', () => {
    const { t, p } = setup();
    const a = map(t, 0x10000000, 2 * PAGE, PROT_READ, ANON);
    map(t, 0x10002000, 2 * PAGE, RW, ANON);
    map(t, 0x10004000, 2 * PAGE, PROT_NONE, ANON);
    assert.equal(p.mapCount, 3);
    assert.equal(t.mprotect(a, 6 * PAGE, PROT_READ), 0);
    assert.deepEqual(vmas(p), [[a, a + 6 * PAGE, 'r--p']]);
  });
});

describe('mprotect: errors', () => {
  it('ENOMEM at a hole, after the VMAs before it were already changed', () => {
    const { t, p } = setup();
    const a = map(t, 0x10000000, 2 * PAGE, RW, ANON);
    const b = map(t, 0x10003000, 2 * PAGE, RW, ANON);
    assert.equal(t.mprotect(a, 5 * PAGE, PROT_READ), errno('ENOMEM'));
    assert.deepEqual(vmas(p), [
      [a, a + 2 * PAGE, 'r--p'],
      [b, b + 2 * PAGE, 'rw-p'],
    ]);
    assertSignal(t.store(a, 1), 'SIGSEGV', 'SEGV_ACCERR');
    assert.equal(t.store(b, 1), null);
  });

  it('ENOMEM when the range runs past the last VMA, after changing it', () => {
    const { t, p } = setup();
    const a = map(t, 0x10000000, 2 * PAGE, RW, ANON);
    assert.equal(t.mprotect(a + PAGE, 2 * PAGE, PROT_READ), errno('ENOMEM'));
    assert.deepEqual(vmas(p), [
      [a, a + PAGE, 'rw-p'],
      [a + PAGE, a + 2 * PAGE, 'r--p'],
    ]);
  });

  it('ENOMEM, changing nothing, when the start is not mapped', () => {
    const { t, p } = setup();
    const a = map(t, 0x10001000, 2 * PAGE, RW, ANON);
    assert.equal(t.mprotect(0x10000000, 3 * PAGE, PROT_READ), errno('ENOMEM'));
    assert.equal(t.mprotect(0x20000000, PAGE, PROT_READ), errno('ENOMEM'));
    assert.deepEqual(vmas(p), [[a, a + 2 * PAGE, 'rw-p']]);
  });

  it('EACCES for PROT_WRITE on a MAP_SHARED mapping of an O_RDONLY file', () => {
    const { m, t, p } = setup();
    m.createFile('/ro', 2 * PAGE);
    const fd = t.open('/ro', O_RDONLY) as number;
    const a = map(t, 0, 2 * PAGE, PROT_READ, MAP_SHARED, fd);
    assert.equal(t.mprotect(a, 2 * PAGE, RW), errno('EACCES'));
    assert.equal(t.mprotect(a, PAGE, PROT_WRITE), errno('EACCES'));
    assert.deepEqual(vmas(p), [[a, a + 2 * PAGE, 'r--s']]);
    // PROT_EXEC and PROT_NONE are still allowed.
    assert.equal(t.mprotect(a, PAGE, PROT_READ | PROT_EXEC), 0);
    assert.equal(t.mprotect(a + PAGE, PAGE, PROT_NONE), 0);
  });

  it('PROT_WRITE is fine on a MAP_PRIVATE mapping of an O_RDONLY file, and stays private', () => {
    const { m, t } = setup();
    m.createFile('/ro', new Uint8Array([1, 2, 3]));
    const fd = t.open('/ro', O_RDONLY) as number;
    const a = map(t, 0, PAGE, PROT_READ, MAP_PRIVATE, fd);
    assert.equal(t.mprotect(a, PAGE, RW), 0);
    assert.equal(t.store(a, 0x77), null);
    assert.equal(t.load(a), 0x77);
    const b = map(t, 0, PAGE, PROT_READ, MAP_SHARED, fd);
    assert.equal(t.load(b), 1);
  });

  it('EACCES at the second VMA leaves the first one changed', () => {
    const { m, t, p } = setup();
    m.createFile('/ro', 2 * PAGE);
    const fd = t.open('/ro', O_RDONLY) as number;
    const a = map(t, 0x10000000, PAGE, PROT_NONE, ANON);
    map(t, 0x10001000, PAGE, PROT_READ, MAP_SHARED, fd);
    assert.equal(t.mprotect(a, 2 * PAGE, RW), errno('EACCES'));
    assert.equal(vmas(p)[0][2], 'rw-p');
  });

  it('EINVAL for an unaligned start', () => {
    const { t } = setup();
    const a = map(t, 0, 2 * PAGE, RW, ANON);
    assert.equal(t.mprotect(a + 8, PAGE, PROT_READ), errno('EINVAL'));
  });

  it('EINVAL for unknown protection bits and for GROWSDOWN with GROWSUP', () => {
    const { t, p } = setup();
    const a = map(t, 0, 2 * PAGE, RW, ANON);
    assert.equal(t.mprotect(a, PAGE, 0x10), errno('EINVAL'));
    assert.equal(t.mprotect(a, PAGE, RW | 0x80), errno('EINVAL'));
    assert.equal(t.mprotect(a, PAGE, PROT_READ | PROT_GROWSDOWN | PROT_GROWSUP), errno('EINVAL'));
    assert.equal(p.mapCount, 1);
    // PROT_SEM is accepted by x86's arch_validate_prot().
    assert.equal(t.mprotect(a, PAGE, PROT_READ | PROT_SEM), 0);
  });

  it('len 0 returns 0 even for unmapped memory or bad protection bits', () => {
    const { t } = setup();
    assert.equal(t.mprotect(0x10000000, 0, PROT_READ), 0);
    assert.equal(t.mprotect(0x10000000, 0, 0x40), 0);
    // ... but the alignment check comes first.
    assert.equal(t.mprotect(0x10000001, 0, PROT_READ), errno('EINVAL'));
  });

  it('checks in Linux order: wrap-around ENOMEM before bad prot EINVAL, bad prot before the hole', () => {
    const { t } = setup();
    assert.equal(t.mprotect(0x10000000, 2 ** 64 - PAGE, 0x40), errno('ENOMEM'));
    assert.equal(t.mprotect(0x10000000, PAGE, 0x40), errno('EINVAL'));
  });
});

describe('mprotect: data and COW', () => {
  it('PROT_NONE then back keeps the data', () => {
    const { t, p } = setup();
    const a = map(t, 0, 4 * PAGE, RW, ANON);
    for (let i = 0; i < 4; i++) t.store(a + i * PAGE + 1, 0xd0 + i);
    assert.equal(t.mprotect(a, 4 * PAGE, PROT_NONE), 0);
    assertSignal(t.load(a + PAGE + 1), 'SIGSEGV', 'SEGV_ACCERR');
    assertSignal(t.store(a + 2 * PAGE, 9), 'SIGSEGV', 'SEGV_ACCERR');
    assert.equal(p.resident, 4);
    assert.equal(t.mprotect(a, 4 * PAGE, RW), 0);
    for (let i = 0; i < 4; i++) assert.equal(t.load(a + i * PAGE + 1), 0xd0 + i);
    assert.equal(t.store(a, 1), null);
  });

  it('read-only makes stores fault with SEGV_ACCERR while loads still work', () => {
    const { t } = setup();
    const a = map(t, 0, PAGE, RW, ANON);
    t.store(a, 0x12);
    assert.equal(t.mprotect(a, PAGE, PROT_READ), 0);
    const s = t.store(a, 0x13);
    assertSignal(s, 'SIGSEGV', 'SEGV_ACCERR');
    assert.ok(isSignal(s) && s.addr === a);
    assert.equal(t.load(a), 0x12);
  });

  it('making a COW-shared page writable again does not break COW after fork', () => {
    const { t } = setup();
    const a = map(t, 0, PAGE, RW, ANON);
    t.store(a, 0x41);
    const child = t.fork();
    assert.ok(!isErrno(child));
    assert.equal(t.mprotect(a, PAGE, PROT_READ), 0);
    assert.equal(t.mprotect(a, PAGE, RW), 0);
    assert.equal(t.store(a, 0x42), null);
    assert.equal(child.main.load(a), 0x41);
    assert.equal(t.load(a), 0x42);
  });

  it('a zero-page mapping made writable still gets its own frame on the first store', () => {
    const { t, p } = setup();
    const a = map(t, 0, PAGE, PROT_READ, ANON);
    assert.equal(t.load(a), 0);
    assert.equal(t.mprotect(a, PAGE, RW), 0);
    assert.equal(t.store(a, 5), null);
    assert.equal(t.load(a), 5);
    assert.equal(p.snapshot().pageTable[0].frame?.kind, 'anon');
  });
});

describe('mprotect: TLB shoot-down', () => {
  it('a store on another CPU through a cached writable translation faults after mprotect(PROT_READ)', () => {
    const { m, t, p } = setup({ cpus: 2 });
    const t1 = p.spawnThread(1);
    const a = map(t, 0, PAGE, RW, ANON);
    assert.equal(t1.store(a, 0x11), null);
    // CPU 1's TLB now holds a writable translation of a.
    const cached = m.hw.cpus[1].tlb.entries().some((e) => e.va === a && e.writable);
    assert.ok(cached, 'CPU 1 did not cache the writable translation');
    const before = m.counters().cpus;
    assert.equal(t.mprotect(a, PAGE, PROT_READ), 0);
    const after = m.counters().cpus;
    assert.ok(after[0].ipisSent > before[0].ipisSent, 'CPU 0 sent no IPI');
    assert.ok(after[1].ipisReceived > before[1].ipisReceived, 'CPU 1 received no IPI');
    const s = t1.store(a, 0x22);
    assertSignal(s, 'SIGSEGV', 'SEGV_ACCERR');
    assert.ok(isSignal(s) && s.tid === t1.tid);
    assert.equal(t1.load(a), 0x11);
    assert.deepEqual(m.checkInvariants(), []);
  });

  it('sends no IPI to a CPU that never ran the address space', () => {
    const { m, t } = setup({ cpus: 2 });
    const a = map(t, 0, PAGE, RW, ANON);
    t.store(a, 1);
    assert.equal(t.mprotect(a, PAGE, PROT_READ), 0);
    assert.equal(m.counters().cpus[0].ipisSent, 0);
    assert.equal(m.counters().cpus[1].ipisReceived, 0);
  });

  it('PROT_NONE on a shared file mapping also stops the other CPU', () => {
    const { m, t, p } = setup({ cpus: 2 });
    m.createFile('/f', PAGE);
    const fd = t.open('/f', O_RDWR) as number;
    const t1 = p.spawnThread(1);
    const a = map(t, 0, PAGE, RW, MAP_SHARED, fd);
    assert.equal(t1.store(a, 0x33), null);
    assert.equal(t.mprotect(a, PAGE, PROT_NONE), 0);
    assertSignal(t1.load(a), 'SIGSEGV', 'SEGV_ACCERR');
    assert.equal(t.mprotect(a, PAGE, PROT_READ), 0);
    assert.equal(t1.load(a), 0x33);
  });
});

/**
 * mremap(2) against Linux (mm/mremap.c): growing in place, moving with MREMAP_MAYMOVE,
 * shrinking, MREMAP_FIXED, MREMAP_DONTUNMAP, and the errors in Linux's order.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  MAP_ANONYMOUS,
  MAP_SHARED,
  MREMAP_DONTUNMAP,
  MREMAP_FIXED,
  MREMAP_MAYMOVE,
  O_RDWR,
  PROT_READ,
  errno,
  isErrno,
  isSignal,
  type ThreadHandle,
} from '../../src/index.js';
import { PAGE, RW, ANON, assertSignal, map, setup, vmas } from './_helpers.js';

const MAYMOVE = MREMAP_MAYMOVE;

function remap(t: ThreadHandle, addr: number, oldLen: number, newLen: number, flags: number, newAddr = 0): number {
  const r = t.mremap(addr, oldLen, newLen, flags, newAddr);
  if (isErrno(r)) assert.fail(`mremap failed with ${r.name}`);
  return r;
}

/** Writes page-distinct values at two offsets of each page. */
function fill(t: ThreadHandle, a: number, pages: number, seed: number): void {
  for (let i = 0; i < pages; i++) {
    assert.equal(t.store(a + i * PAGE, (seed + i) & 0xff), null);
    assert.equal(t.store(a + i * PAGE + 4095, (seed * 3 + i) & 0xff), null);
  }
}

/** Checks what {@link fill} wrote, for pages `first ..` of the filled range now at `a`. */
function check(t: ThreadHandle, a: number, pages: number, seed: number, first = 0): void {
  for (let j = 0; j < pages; j++) {
    const i = first + j;
    assert.equal(t.load(a + j * PAGE), (seed + i) & 0xff, `page ${i}`);
    assert.equal(t.load(a + j * PAGE + 4095), (seed * 3 + i) & 0xff, `page ${i} end`);
  }
}

describe('mremap: growing', () => {
  it('grows in place when the space above is free, keeping the data', () => {
    const { t, p } = setup();
    const a = map(t, 0x10000000, 4 * PAGE, RW, ANON);
    fill(t, a, 4, 10);
    assert.equal(remap(t, a, 4 * PAGE, 8 * PAGE, 0), a);
    assert.deepEqual(vmas(p), [[a, a + 8 * PAGE, 'rw-p']]);
    check(t, a, 4, 10);
    assert.equal(t.load(a + 7 * PAGE), 0);
    assert.equal(t.store(a + 7 * PAGE, 1), null);
  });

  it('growing shared anonymous memory does not grow its object: the new part is SIGBUS', () => {
    // Linux: shmem_zero_setup() sizes the shmem file to the original length and mremap
    // does not resize it, so shmem_fault() past i_size gives VM_FAULT_SIGBUS.
    const { t } = setup();
    const a = map(t, 0x10000000, 2 * PAGE, RW, MAP_SHARED | MAP_ANONYMOUS);
    t.store(a + PAGE, 0x21);
    assert.equal(remap(t, a, 2 * PAGE, 4 * PAGE, 0), a);
    assert.equal(t.load(a + PAGE), 0x21);
    const s = t.load(a + 3 * PAGE);
    assert.ok(isSignal(s) && s.signal === 'SIGBUS' && s.code === 'BUS_ADRERR');
  });

  it('grows in place up to a neighbour exactly', () => {
    const { t, p } = setup();
    const a = map(t, 0x10000000, 2 * PAGE, RW, ANON);
    map(t, 0x10004000, PAGE, PROT_READ, ANON);
    assert.equal(remap(t, a, 2 * PAGE, 4 * PAGE, 0), a);
    assert.equal(p.mapCount, 2);
  });

  it('without MREMAP_MAYMOVE, a blocked grow is ENOMEM and changes nothing', () => {
    const { t, p } = setup();
    const a = map(t, 0x10000000, 4 * PAGE, RW, ANON);
    map(t, 0x10004000, PAGE, PROT_READ, ANON);
    fill(t, a, 4, 1);
    const before = p.maps();
    assert.equal(t.mremap(a, 4 * PAGE, 5 * PAGE, 0), errno('ENOMEM'));
    assert.equal(p.maps(), before);
    check(t, a, 4, 1);
  });

  it('with MREMAP_MAYMOVE, a blocked grow moves the mapping: the data goes along, the old range is unmapped', () => {
    const { t, p } = setup();
    const a = map(t, 0x10000000, 4 * PAGE, RW, ANON);
    const blocker = map(t, 0x10004000, PAGE, PROT_READ, ANON);
    fill(t, a, 4, 50);
    const resident = p.resident;
    const b = remap(t, a, 4 * PAGE, 8 * PAGE, MAYMOVE);
    assert.notEqual(b, a);
    check(t, b, 4, 50);
    for (let i = 4; i < 8; i++) assert.equal(t.load(b + i * PAGE), 0);
    for (let i = 0; i < 4; i++) assertSignal(t.load(a + i * PAGE), 'SIGSEGV', 'SEGV_MAPERR');
    assert.deepEqual(vmas(p), [
      [blocker, blocker + PAGE, 'r--p'],
      [b, b + 8 * PAGE, 'rw-p'],
    ]);
    // Pages were moved, not copied.
    assert.equal(p.counters.cowCopies, 0);
    assert.ok(p.resident >= resident);
  });

  it('moves a shared file mapping, which keeps mapping the same file pages', () => {
    const { m, t } = setup();
    const bytes = new Uint8Array(8 * PAGE);
    for (let i = 0; i < 8; i++) bytes[i * PAGE] = 0x80 + i;
    m.createFile('/f', bytes);
    const fd = t.open('/f', O_RDWR) as number;
    const a = map(t, 0x10000000, 2 * PAGE, RW, MAP_SHARED, fd, 2 * PAGE);
    map(t, 0x10002000, PAGE, PROT_READ, ANON);
    t.store(a + 1, 0x55);
    const b = remap(t, a, 2 * PAGE, 4 * PAGE, MAYMOVE);
    assert.notEqual(b, a);
    for (let i = 0; i < 4; i++) assert.equal(t.load(b + i * PAGE), 0x82 + i);
    assert.equal(t.load(b + 1), 0x55);
    const out = map(t, 0, PAGE, RW, ANON);
    assert.equal(t.pread(fd, out, 1, 2 * PAGE + 1), 1);
    assert.equal(t.load(out), 0x55);
  });

  it('moves only part of a VMA when the old range starts inside it', () => {
    const { t, p } = setup();
    const a = map(t, 0x10000000, 6 * PAGE, RW, ANON);
    map(t, 0x10006000, PAGE, PROT_READ, ANON);
    fill(t, a, 6, 7);
    const b = remap(t, a + 4 * PAGE, 2 * PAGE, 3 * PAGE, MAYMOVE);
    check(t, a, 4, 7);
    check(t, b, 2, 7, 4);
    assertSignal(t.load(a + 4 * PAGE), 'SIGSEGV', 'SEGV_MAPERR');
    assert.equal(p.snapshot().vmas.find((v) => v.start === a)?.end, a + 4 * PAGE);
  });

  it('a moved area survives a later fork and swap round trip', () => {
    const { m, t, p } = setup();
    const a = map(t, 0x10000000, 3 * PAGE, RW, ANON);
    map(t, 0x10003000, PAGE, PROT_READ, ANON);
    fill(t, a, 3, 90);
    const b = remap(t, a, 3 * PAGE, 6 * PAGE, MAYMOVE);
    m.swapOut(p);
    check(t, b, 3, 90);
    const child = t.fork();
    assert.ok(!isErrno(child));
    check(child.main, b, 3, 90);
  });
  it('moves swapped-out and PROT_NONE pages too', () => {
    const { m, t, p } = setup();
    const a = map(t, 0x10000000, 4 * PAGE, RW, ANON);
    map(t, 0x10004000, PAGE, PROT_READ, ANON);
    fill(t, a, 4, 70);
    m.swapOut(p, a, a + 2 * PAGE);
    assert.equal(m.counters().machine.swapUsed, 2);
    assert.equal(t.mprotect(a, 4 * PAGE, 0), 0);
    const b = remap(t, a, 4 * PAGE, 5 * PAGE, MAYMOVE);
    assert.equal(m.counters().machine.swapUsed, 2);
    assert.equal(t.mprotect(b, 5 * PAGE, RW), 0);
    check(t, b, 4, 70);
    assertSignal(t.load(a), 'SIGSEGV', 'SEGV_MAPERR');
  });

  it('grows while moving to a fixed address', () => {
    const { t, p } = setup();
    const a = map(t, 0x10000000, 2 * PAGE, RW, ANON);
    fill(t, a, 2, 33);
    assert.equal(remap(t, a, 2 * PAGE, 5 * PAGE, MAYMOVE | MREMAP_FIXED, 0x30000000), 0x30000000);
    check(t, 0x30000000, 2, 33);
    assert.equal(t.load(0x30004000), 0);
    assert.deepEqual(vmas(p), [[0x30000000, 0x30005000, 'rw-p']]);
  });

  it('a thread on another CPU cannot keep using the old address after a move', () => {
    const { m, t, p } = setup({ cpus: 2 });
    const t1 = p.spawnThread(1);
    const a = map(t, 0x10000000, 2 * PAGE, RW, ANON);
    map(t, 0x10002000, PAGE, PROT_READ, ANON);
    assert.equal(t1.store(a, 0x5f), null);
    const b = remap(t, a, 2 * PAGE, 4 * PAGE, MAYMOVE);
    assertSignal(t1.load(a), 'SIGSEGV', 'SEGV_MAPERR');
    assert.equal(t1.load(b), 0x5f);
    assert.deepEqual(m.checkInvariants(), []);
  });
});

describe('mremap: shrinking', () => {
  it('unmaps the tail and returns the same address', () => {
    const { t, p } = setup();
    const a = map(t, 0, 8 * PAGE, RW, ANON);
    fill(t, a, 8, 3);
    assert.equal(remap(t, a, 8 * PAGE, 3 * PAGE, 0), a);
    assert.deepEqual(vmas(p), [[a, a + 3 * PAGE, 'rw-p']]);
    check(t, a, 3, 3);
    assertSignal(t.load(a + 3 * PAGE), 'SIGSEGV', 'SEGV_MAPERR');
    assert.equal(p.resident, 3);
  });

  it('the same length is a no-op that returns the address', () => {
    const { t, p } = setup();
    const a = map(t, 0, 2 * PAGE, RW, ANON);
    assert.equal(remap(t, a, 2 * PAGE, 2 * PAGE, 0), a);
    assert.equal(p.mapCount, 1);
  });

  it('shrinking from the middle of a VMA splits it', () => {
    const { t, p } = setup();
    const a = map(t, 0, 8 * PAGE, RW, ANON);
    assert.equal(remap(t, a + 2 * PAGE, 4 * PAGE, PAGE, 0), a + 2 * PAGE);
    assert.deepEqual(vmas(p), [
      [a, a + 3 * PAGE, 'rw-p'],
      [a + 6 * PAGE, a + 8 * PAGE, 'rw-p'],
    ]);
  });

  it('a shrink that would split a VMA in three at max_map_count is ENOMEM', () => {
    // Fixed: Linux shrinks through do_vmi_munmap(), which refuses the split at max_map_count, as munmap(2) does.
    const { t, p } = setup({ maxMapCount: 3 });
    const a = map(t, 0, 8 * PAGE, RW, ANON);
    map(t, 0, PAGE, PROT_READ, ANON);
    map(t, 0, PAGE, RW, ANON);
    assert.equal(p.mapCount, 3);
    assert.equal(t.munmap(a + 2 * PAGE, 2 * PAGE), errno('ENOMEM'));
    assert.equal(t.mremap(a + 2 * PAGE, 4 * PAGE, PAGE, 0), errno('ENOMEM'));
    assert.equal(p.mapCount, 3);
  });
});

describe('mremap: MREMAP_FIXED', () => {
  it('moves to exactly new_addr, replacing what was there', () => {
    const { t, p } = setup();
    const a = map(t, 0x10000000, 2 * PAGE, RW, ANON);
    const dst = map(t, 0x20000000, 4 * PAGE, PROT_READ, ANON);
    fill(t, a, 2, 20);
    assert.equal(remap(t, a, 2 * PAGE, 2 * PAGE, MAYMOVE | MREMAP_FIXED, dst + PAGE), dst + PAGE);
    check(t, dst + PAGE, 2, 20);
    assertSignal(t.load(a), 'SIGSEGV', 'SEGV_MAPERR');
    assert.deepEqual(vmas(p), [
      [dst, dst + PAGE, 'r--p'],
      [dst + PAGE, dst + 3 * PAGE, 'rw-p'],
      [dst + 3 * PAGE, dst + 4 * PAGE, 'r--p'],
    ]);
  });

  it('can shrink while moving', () => {
    const { t, p } = setup();
    const a = map(t, 0x10000000, 4 * PAGE, RW, ANON);
    fill(t, a, 4, 5);
    assert.equal(remap(t, a, 4 * PAGE, 2 * PAGE, MAYMOVE | MREMAP_FIXED, 0x30000000), 0x30000000);
    check(t, 0x30000000, 2, 5);
    assert.deepEqual(vmas(p), [[0x30000000, 0x30002000, 'rw-p']]);
    assert.equal(p.resident, 2);
  });

  it('EINVAL without MREMAP_MAYMOVE', () => {
    const { t } = setup();
    const a = map(t, 0, 2 * PAGE, RW, ANON);
    assert.equal(t.mremap(a, 2 * PAGE, 2 * PAGE, MREMAP_FIXED, 0x30000000), errno('EINVAL'));
  });

  it('EINVAL when the new range overlaps the old one', () => {
    const { t, p } = setup();
    const a = map(t, 0x10000000, 4 * PAGE, RW, ANON);
    fill(t, a, 4, 9);
    assert.equal(t.mremap(a, 4 * PAGE, 4 * PAGE, MAYMOVE | MREMAP_FIXED, a + 2 * PAGE), errno('EINVAL'));
    assert.equal(t.mremap(a, 4 * PAGE, 4 * PAGE, MAYMOVE | MREMAP_FIXED, a - 2 * PAGE), errno('EINVAL'));
    assert.equal(t.mremap(a, 4 * PAGE, 4 * PAGE, MAYMOVE | MREMAP_FIXED, a), errno('EINVAL'));
    assert.deepEqual(vmas(p), [[a, a + 4 * PAGE, 'rw-p']]);
    check(t, a, 4, 9);
    // Adjacent is fine.
    assert.equal(remap(t, a, 4 * PAGE, 4 * PAGE, MAYMOVE | MREMAP_FIXED, a + 4 * PAGE), a + 4 * PAGE);
    check(t, a + 4 * PAGE, 4, 9);
  });

  it('EINVAL for an unaligned new_addr or one that runs past TASK_SIZE', () => {
    const { t } = setup();
    const a = map(t, 0, 2 * PAGE, RW, ANON);
    assert.equal(t.mremap(a, 2 * PAGE, 2 * PAGE, MAYMOVE | MREMAP_FIXED, 0x30000800), errno('EINVAL'));
    assert.equal(t.mremap(a, 2 * PAGE, 2 * PAGE, MAYMOVE | MREMAP_FIXED, 0x7ffffffff000 - PAGE), errno('EINVAL'));
  });
});

describe('mremap: errors', () => {
  it('EINVAL for unknown flags, an unaligned address and new_len 0', () => {
    const { t } = setup();
    const a = map(t, 0, 2 * PAGE, RW, ANON);
    assert.equal(t.mremap(a, PAGE, 2 * PAGE, 8), errno('EINVAL'));
    assert.equal(t.mremap(a + 1, PAGE, 2 * PAGE, MAYMOVE), errno('EINVAL'));
    assert.equal(t.mremap(a, PAGE, 0, MAYMOVE), errno('EINVAL'));
  });

  it('EFAULT for an address that is not mapped', () => {
    const { t } = setup();
    const a = map(t, 0x10000000, 2 * PAGE, RW, ANON);
    assert.equal(t.mremap(0x20000000, PAGE, 2 * PAGE, MAYMOVE), errno('EFAULT'));
    assert.equal(t.mremap(a + 2 * PAGE, PAGE, 2 * PAGE, MAYMOVE), errno('EFAULT'));
    // Also for a shrink: the VMA lookup comes first.
    assert.equal(t.mremap(0x20000000, 2 * PAGE, PAGE, 0), errno('EFAULT'));
  });

  it('EFAULT when the old range runs beyond its VMA, even into an adjacent VMA', () => {
    const { t, p } = setup();
    const a = map(t, 0x10000000, 2 * PAGE, RW, ANON);
    map(t, 0x10002000, 2 * PAGE, PROT_READ, ANON);
    assert.equal(t.mremap(a, 3 * PAGE, 6 * PAGE, MAYMOVE), errno('EFAULT'));
    assert.equal(t.mremap(a + PAGE, 2 * PAGE, 3 * PAGE, MAYMOVE), errno('EFAULT'));
    assert.equal(t.mremap(a, 4 * PAGE, 4 * PAGE, MAYMOVE | MREMAP_FIXED, 0x30000000), errno('EFAULT'));
    assert.equal(p.mapCount, 2);
  });

  it('old_len 0 on a private mapping is EINVAL', () => {
    const { t, p } = setup();
    const a = map(t, 0, 2 * PAGE, RW, ANON);
    assert.equal(t.mremap(a, 0, 2 * PAGE, MAYMOVE), errno('EINVAL'));
    assert.equal(p.mapCount, 1);
  });

  it('old_len 0 on a shared mapping duplicates it: both views share the pages', () => {
    // Linux vma_to_resize() allows old_len 0 for VM_SHARED/VM_MAYSHARE (the "duplicate
    // shm area" case); move_vma() then copies the VMA without moving or unmapping anything.
    // Fixed: with old_len 0 nothing is split or moved; the new VMA gets the length asked for.
    const { t, p } = setup();
    const a = map(t, 0, 2 * PAGE, RW, MAP_SHARED | MAP_ANONYMOUS);
    t.store(a + PAGE, 0x2d);
    const b = remap(t, a, 0, 2 * PAGE, MAYMOVE);
    assert.notEqual(b, a);
    assert.equal(p.mapCount, 2);
    assert.deepEqual(
      p.snapshot().vmas.map((v) => v.end - v.start),
      [2 * PAGE, 2 * PAGE],
    );
    assert.equal(t.load(b + PAGE), 0x2d);
    t.store(b, 0x3e);
    assert.equal(t.load(a), 0x3e);
  });
});

describe('mremap: MREMAP_DONTUNMAP', () => {
  it('needs MREMAP_MAYMOVE and equal lengths (EINVAL otherwise)', () => {
    const { t } = setup();
    const a = map(t, 0, 2 * PAGE, RW, ANON);
    assert.equal(t.mremap(a, 2 * PAGE, 2 * PAGE, MREMAP_DONTUNMAP), errno('EINVAL'));
    assert.equal(t.mremap(a, 2 * PAGE, 4 * PAGE, MAYMOVE | MREMAP_DONTUNMAP), errno('EINVAL'));
    assert.equal(t.mremap(a, 2 * PAGE, PAGE, MAYMOVE | MREMAP_DONTUNMAP), errno('EINVAL'));
  });

  it('moves the pages and leaves the old range mapped and empty', () => {
    const { t, p } = setup();
    const a = map(t, 0x10000000, 3 * PAGE, RW, ANON);
    fill(t, a, 3, 40);
    const b = remap(t, a, 3 * PAGE, 3 * PAGE, MAYMOVE | MREMAP_DONTUNMAP);
    assert.notEqual(b, a);
    check(t, b, 3, 40);
    assert.equal(p.mapCount, 2);
    // The old VMA is still there; its anonymous pages are gone, so it reads zeros.
    for (let i = 0; i < 3; i++) assert.equal(t.load(a + i * PAGE), 0);
    assert.equal(t.store(a, 1), null);
    assert.equal(t.load(b), 40);
  });

  it('works with MREMAP_FIXED too', () => {
    const { t, p } = setup();
    const a = map(t, 0x10000000, 2 * PAGE, RW, ANON);
    fill(t, a, 2, 60);
    assert.equal(remap(t, a, 2 * PAGE, 2 * PAGE, MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP, 0x30000000), 0x30000000);
    check(t, 0x30000000, 2, 60);
    assert.deepEqual(vmas(p), [
      [a, a + 2 * PAGE, 'rw-p'],
      [0x30000000, 0x30002000, 'rw-p'],
    ]);
    assert.equal(t.load(a + PAGE + 4095), 0);
  });

  it('of a shared file mapping: the old range refaults the same file pages', () => {
    const { m, t } = setup();
    m.createFile('/f', new Uint8Array([9, 8, 7]));
    const fd = t.open('/f', O_RDWR) as number;
    const a = map(t, 0, PAGE, RW, MAP_SHARED, fd);
    assert.equal(t.load(a), 9);
    const b = remap(t, a, PAGE, PAGE, MAYMOVE | MREMAP_DONTUNMAP);
    assert.equal(t.load(b + 1), 8);
    assert.equal(t.load(a + 2), 7);
    t.store(b, 0x11);
    assert.equal(t.load(a), 0x11);
  });
});

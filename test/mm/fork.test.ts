/**
 * fork(2), execve(2) and exit(2) as far as memory goes (Linux kernel/fork.c dup_mmap(),
 * mm/memory.c copy_pte_range() and do_wp_page(), fs/exec.c exec_mmap(), exit_mmap()):
 * copy-on-write of anonymous and private file memory, shared memory staying shared,
 * exec's fresh address space, and exit giving every frame and swap slot back.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  MAP_SHARED,
  O_RDWR,
  PROT_NONE,
  PROT_READ,
  isSignal,
  type Machine,
  type ProcessHandle,
} from '../../src/index.js';
import { PAGE, RW, ANON, fork, machine as smallMachine, map, setup as setupWith, type Setup } from './_helpers.js';

/** A 2-CPU machine by default. */
const machine = (cpus = 2): Machine => smallMachine({ cpus });

/** A 2-CPU machine by default, with the process 'parent'. */
const setup = (cpus = 2): Setup => setupWith({ cpus, name: 'parent' });

/** Frame numbers of the leaf entries of `p` in [start, end). */
function frames(p: ProcessHandle, start: number, end: number): Array<number | null> {
  return p.snapshot({ start, end }).pageTable.map((e) => e.pfn);
}

describe('fork: copy-on-write of anonymous memory', () => {
  it('the child starts with the parent’s data', () => {
    const { t } = setup();
    const a = map(t, 0, 4 * PAGE, RW, ANON);
    for (let i = 0; i < 4; i++) t.store(a + i * PAGE, 0x30 + i);
    const c = fork(t, 1);
    assert.equal(c.maps(), t.machine.processes[0].maps());
    for (let i = 0; i < 4; i++) assert.equal(c.main.load(a + i * PAGE), 0x30 + i);
  });

  it('shares frames until the first write, then each side sees only its own writes', () => {
    const { p, t } = setup();
    const a = map(t, 0, 2 * PAGE, RW, ANON);
    t.store(a, 0x11);
    t.store(a + PAGE, 0x12);
    const c = fork(t, 1);
    assert.deepEqual(frames(c, a, a + 2 * PAGE), frames(p, a, a + 2 * PAGE));
    assert.equal(p.snapshot({ start: a, end: a + PAGE }).pageTable[0].frame?.mapcount, 2);

    assert.equal(t.store(a, 0x21), null);
    assert.equal(c.main.store(a + PAGE, 0x32), null);
    assert.equal(t.load(a), 0x21);
    assert.equal(c.main.load(a), 0x11);
    assert.equal(t.load(a + PAGE), 0x12);
    assert.equal(c.main.load(a + PAGE), 0x32);
    assert.notDeepEqual(frames(c, a, a + 2 * PAGE), frames(p, a, a + 2 * PAGE));
  });

  it('counts one COW copy per broken page; the last sharer reuses the frame', () => {
    const { p, t } = setup();
    const a = map(t, 0, 3 * PAGE, RW, ANON);
    for (let i = 0; i < 3; i++) t.store(a + i * PAGE, i);
    const c = fork(t, 1);
    const parent0 = p.counters.cowCopies;
    assert.equal(c.counters.cowCopies, 0);
    // Parent writes every page: three copies in the parent.
    for (let i = 0; i < 3; i++) t.store(a + i * PAGE, 0x40 + i);
    assert.equal(p.counters.cowCopies - parent0, 3);
    // The child now holds the only mapping of each old frame: it writes in place.
    for (let i = 0; i < 3; i++) c.main.store(a + i * PAGE, 0x50 + i);
    assert.equal(c.counters.cowCopies, 0);
    assert.equal(c.counters.cowReuses, 3);
    for (let i = 0; i < 3; i++) {
      assert.equal(t.load(a + i * PAGE), 0x40 + i);
      assert.equal(c.main.load(a + i * PAGE), 0x50 + i);
    }
    // A second write costs nothing more.
    t.store(a, 0x99);
    assert.equal(p.counters.cowCopies - parent0, 3);
  });

  it('the parent’s writable TLB entries are flushed at fork, so its next write copies', () => {
    const { m, t } = setup();
    const a = map(t, 0, PAGE, RW, ANON);
    t.store(a, 1);
    const c = fork(t, 1);
    assert.equal(t.store(a, 2), null);
    assert.equal(c.main.load(a), 1);
    assert.deepEqual(m.checkInvariants(), []);
  });

  it('the parent’s other thread on another CPU cannot write through a stale entry after fork', () => {
    const { m, p, t } = setup();
    const t1 = p.spawnThread(1);
    const a = map(t, 0, PAGE, RW, ANON);
    assert.equal(t1.store(a, 0x61), null);
    const c = fork(t, 0);
    assert.equal(t1.store(a, 0x62), null);
    assert.equal(c.main.load(a), 0x61);
    assert.equal(t.load(a), 0x62);
    assert.deepEqual(m.checkInvariants(), []);
  });

  it('a zero-page read before fork stays zero in both and COWs on write', () => {
    const { t } = setup();
    const a = map(t, 0, PAGE, RW, ANON);
    assert.equal(t.load(a), 0);
    const c = fork(t, 1);
    assert.equal(c.main.store(a, 7), null);
    assert.equal(t.load(a), 0);
    assert.equal(c.main.load(a), 7);
  });

  it('data behind PROT_NONE is inherited and survives swap in both', () => {
    const { m, p, t } = setup();
    const a = map(t, 0, PAGE, RW, ANON);
    t.store(a, 9);
    t.mprotect(a, PAGE, PROT_NONE);
    const c = fork(t, 1);
    assert.equal(c.main.mprotect(a, PAGE, RW), 0);
    assert.equal(c.main.load(a), 9);
    assert.equal(c.main.store(a, 10), null);
    m.swapOut(c);
    m.swapOut(p);
    assert.equal(t.mprotect(a, PAGE, PROT_READ), 0);
    assert.equal(t.load(a), 9);
    assert.equal(c.main.load(a), 10);
  });

  it('a grandchild keeps the original data while parent and child change theirs', () => {
    const { t } = setup();
    const a = map(t, 0, PAGE, RW, ANON);
    t.store(a, 1);
    const c = fork(t, 1);
    const g = fork(c.main, 0);
    t.store(a, 2);
    c.main.store(a, 3);
    assert.equal(g.main.load(a), 1);
    g.main.store(a, 4);
    assert.deepEqual([t.load(a), c.main.load(a), g.main.load(a)], [2, 3, 4]);
  });

  it('the child inherits protections: read-only memory stays read-only', () => {
    const { t } = setup();
    const a = map(t, 0, PAGE, RW, ANON);
    t.store(a, 5);
    t.mprotect(a, PAGE, PROT_READ);
    const c = fork(t, 1);
    const s = c.main.store(a, 6);
    assert.ok(isSignal(s) && s.code === 'SEGV_ACCERR');
    assert.equal(c.main.load(a), 5);
  });
});

describe('fork: private file mappings', () => {
  it('COW copies of a private file mapping are inherited and then private to each side', () => {
    const { m, t } = setup();
    m.createFile('/f', new Uint8Array([1, 2, 3, 4]));
    const fd = t.open('/f', O_RDWR) as number;
    const a = map(t, 0, 2 * PAGE, RW, MAP_PRIVATE, fd);
    // Page 0 gets a private copy before fork; page 1 is past EOF (the file is 4 bytes).
    t.store(a + 1, 0x22);
    assert.equal(t.load(a), 1);
    const c = fork(t, 1);
    assert.equal(c.main.load(a + 1), 0x22);
    assert.equal(c.main.store(a + 2, 0x33), null);
    assert.equal(t.load(a + 2), 3);
    assert.equal(t.store(a + 3, 0x44), null);
    assert.equal(c.main.load(a + 3), 4);
    // The file itself never changed.
    const buf = map(t, 0, PAGE, RW, ANON);
    assert.equal(t.pread(fd, buf, 4, 0), 4);
    assert.deepEqual([0, 1, 2, 3].map((i) => t.load(buf + i)), [1, 2, 3, 4]);
  });

  it('unwritten pages of a private file mapping refault from the page cache in the child', () => {
    const { m, t } = setup();
    m.createFile('/f', new Uint8Array([9, 9, 9]));
    const fd = t.open('/f', O_RDWR) as number;
    const a = map(t, 0, PAGE, PROT_READ, MAP_PRIVATE, fd);
    assert.equal(t.load(a), 9);
    const c = fork(t, 1);
    assert.equal(c.main.load(a + 2), 9);
    const s = c.main.store(a, 1);
    assert.ok(isSignal(s));
  });

  it('a child write to a private file mapping is a COW copy from the page cache', () => {
    const { m, t } = setup();
    m.createFile('/f', new Uint8Array([5, 6]));
    const fd = t.open('/f', O_RDWR) as number;
    const a = map(t, 0, PAGE, RW, MAP_PRIVATE, fd);
    assert.equal(t.load(a), 5);
    const c = fork(t, 1);
    assert.equal(c.main.store(a, 0x50), null);
    assert.equal(c.counters.cowCopies, 1);
    assert.equal(t.load(a), 5);
    assert.equal(c.main.load(a + 1), 6);
  });
});

describe('fork: shared memory', () => {
  it('shared anonymous memory stays shared across fork, both ways', () => {
    const { t } = setup();
    const a = map(t, 0, 2 * PAGE, RW, MAP_SHARED | MAP_ANONYMOUS);
    t.store(a, 0x10);
    const c = fork(t, 1);
    assert.equal(c.main.load(a), 0x10);
    c.main.store(a, 0x20);
    assert.equal(t.load(a), 0x20);
    // A page neither touched before fork is shared as well.
    t.store(a + PAGE, 0x30);
    assert.equal(c.main.load(a + PAGE), 0x30);
    assert.equal(c.counters.cowCopies, 0);
  });

  it('a shared file mapping is shared with the child and with the file', () => {
    const { m, t } = setup();
    m.createFile('/f', PAGE);
    const fd = t.open('/f', O_RDWR) as number;
    const a = map(t, 0, PAGE, RW, MAP_SHARED, fd);
    t.store(a, 1);
    const c = fork(t, 1);
    c.main.store(a + 1, 2);
    assert.equal(t.load(a + 1), 2);
    const buf = map(t, 0, PAGE, RW, ANON);
    assert.equal(t.pread(fd, buf, 2, 0), 2);
    assert.equal(t.load(buf), 1);
    assert.equal(t.load(buf + 1), 2);
  });

  it('shared anonymous memory survives the parent’s exit for the child', () => {
    const { p, t } = setup();
    const a = map(t, 0, PAGE, RW, MAP_SHARED | MAP_ANONYMOUS);
    t.store(a, 0x77);
    const c = fork(t, 1);
    p.exit(0);
    assert.equal(c.main.load(a), 0x77);
  });
});

describe('exec', () => {
  it('gives an empty address space', () => {
    const { p, t } = setup();
    const a = map(t, 0, 4 * PAGE, RW, ANON);
    t.store(a, 1);
    map(t, 0, PAGE, PROT_READ, MAP_SHARED | MAP_ANONYMOUS);
    assert.equal(t.exec(), 0);
    assert.equal(p.maps(), '');
    assert.equal(p.mapCount, 0);
    assert.equal(p.resident, 0);
    const s = t.load(a);
    assert.ok(isSignal(s) && s.signal === 'SIGSEGV' && s.code === 'SEGV_MAPERR');
    // The new address space works.
    const b = map(t, 0, PAGE, RW, ANON);
    assert.equal(b, a + 3 * PAGE);
    assert.equal(t.load(b), 0);
  });

  it('ends the other threads of the process: they cannot touch the new address space', () => {
    const { p, t } = setup();
    const sibling = p.spawnThread(1);
    assert.equal(t.exec(), 0);
    assert.equal(sibling.alive, false);
    const b = map(t, 0, PAGE, RW, ANON);
    t.store(b, 7);
    const r = sibling.load(b);
    assert.ok(isSignal(r), `a dead thread read ${JSON.stringify(r)}`);
  });

  it('in a forked child leaves the parent’s memory alone and releases the shared frames', () => {
    const { p, t } = setup();
    const a = map(t, 0, 2 * PAGE, RW, ANON);
    t.store(a, 0x42);
    const c = fork(t, 1);
    assert.equal(c.main.exec(), 0);
    assert.equal(c.maps(), '');
    assert.equal(p.snapshot({ start: a, end: a + PAGE }).pageTable[0].frame?.mapcount, 1);
    // The parent's page is exclusive again: the write reuses it in place.
    assert.equal(t.store(a, 0x43), null);
    assert.equal(p.counters.cowCopies, 0);
  });
});

describe('exit frees every frame and swap slot', () => {
  it('private anonymous memory, some of it swapped out', () => {
    const m = machine();
    const free0 = m.counters().machine.freeFrames;
    const p = m.spawn('p');
    const t = p.main;
    const a = map(t, 0, 32 * PAGE, RW, ANON);
    for (let i = 0; i < 32; i++) t.store(a + i * PAGE, i);
    const b = map(t, 0x40000000, 4 * PAGE, RW, ANON);
    t.store(b, 1);
    m.swapOut(p, a, a + 16 * PAGE);
    assert.equal(m.counters().machine.swapUsed, 16);
    p.exit(0);
    assert.equal(p.alive, false);
    assert.deepEqual(p.exitReason, { kind: 'exited', code: 0 });
    assert.equal(m.counters().machine.freeFrames, free0);
    assert.equal(m.counters().machine.swapUsed, 0);
    assert.equal(m.counters().machine.pageTables, 0);
  });

  it('a parent and child that shared COW pages and swap slots', () => {
    const m = machine();
    const free0 = m.counters().machine.freeFrames;
    const p = m.spawn('p');
    const t = p.main;
    const a = map(t, 0, 8 * PAGE, RW, ANON);
    for (let i = 0; i < 8; i++) t.store(a + i * PAGE, i);
    const c = fork(t, 1);
    m.swapOut(p);
    m.swapOut(c, a, a + 4 * PAGE);
    c.main.store(a + 6 * PAGE, 0x66);
    assert.ok(m.counters().machine.swapUsed > 0);
    p.exit(0);
    assert.equal(c.main.load(a + PAGE), 1);
    c.exit(1);
    assert.equal(m.counters().machine.freeFrames, free0);
    assert.equal(m.counters().machine.swapUsed, 0);
  });

  it('the child exiting first, then the parent', () => {
    const m = machine();
    const free0 = m.counters().machine.freeFrames;
    const p = m.spawn('p');
    const a = map(p.main, 0, 4 * PAGE, RW, ANON);
    for (let i = 0; i < 4; i++) p.main.store(a + i * PAGE, i);
    const c = fork(p.main, 1);
    m.swapOut(c);
    c.exit(0);
    for (let i = 0; i < 4; i++) assert.equal(p.main.load(a + i * PAGE), i);
    p.exit(0);
    assert.equal(m.counters().machine.freeFrames, free0);
    assert.equal(m.counters().machine.swapUsed, 0);
  });

  it('a process that used shared anonymous memory', () => {
    // Fixed: Linux frees shared anonymous memory (an unlinked shmem file) with its last mapping.
    const m = machine();
    const free0 = m.counters().machine.freeFrames;
    const p = m.spawn('p');
    const a = map(p.main, 0, 8 * PAGE, RW, MAP_SHARED | MAP_ANONYMOUS);
    for (let i = 0; i < 8; i++) p.main.store(a + i * PAGE, i);
    const c = fork(p.main, 1);
    assert.equal(c.main.load(a + 3 * PAGE), 3);
    c.exit(0);
    p.exit(0);
    assert.equal(m.counters().machine.pageCachePages, 0);
    assert.equal(m.counters().machine.freeFrames, free0);
  });

  it('munmap of the last mapping of shared anonymous memory frees its pages', () => {
    const m = machine();
    const p = m.spawn('p');
    // A neighbour keeps the page tables alive, so only data frames are counted.
    const keep = map(p.main, 0, PAGE, RW, ANON);
    p.main.store(keep, 1);
    const a = map(p.main, 0, 4 * PAGE, RW, MAP_SHARED | MAP_ANONYMOUS);
    const free0 = m.counters().machine.freeFrames;
    for (let i = 0; i < 4; i++) p.main.store(a + i * PAGE, i);
    assert.equal(p.main.munmap(a, 4 * PAGE), 0);
    assert.equal(m.counters().machine.freeFrames, free0);
  });

  it('exec releases the old address space the same way', () => {
    const m = machine();
    const free0 = m.counters().machine.freeFrames;
    const p = m.spawn('p');
    const a = map(p.main, 0, 8 * PAGE, RW, ANON);
    for (let i = 0; i < 8; i++) p.main.store(a + i * PAGE, i);
    m.swapOut(p, a, a + 4 * PAGE);
    const afterSpawn = free0 - 1; // the new PML4
    assert.equal(p.main.exec(), 0);
    assert.equal(m.counters().machine.freeFrames, afterSpawn);
    assert.equal(m.counters().machine.swapUsed, 0);
    p.exit(0);
    assert.equal(m.counters().machine.freeFrames, free0);
  });
});

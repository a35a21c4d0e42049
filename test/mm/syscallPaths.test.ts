/**
 * The calls that used to run in one step under a schedule — fork, msync, exec, the file
 * calls, loads and stores wider than a byte — are kernel paths now: they yield at their
 * preemption points and interleave with other threads' paths. Each race below is explored
 * over bounded schedules (see exploreSchedules) and must reach every outcome the kernel
 * allows, with every invariant holding after each run.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isErrno, isSignal, MAP_SHARED, MS_SYNC, type ProcessHandle, PROT_READ } from '../../src/index.js';
import { ANON, exploreSchedules, PAGE, RW, setup } from './_helpers.js';

/** A process with thread A on CPU 0 and thread B on CPU 1. */
function world(memory = 1 << 20) {
  const { m, p } = setup({ cpus: 2, memory, swap: 1 << 20, tlbEntries: 64 });
  return { m, p, A: p.main, B: p.spawnThread(1) };
}

function mapped(r: unknown): number {
  assert.equal(typeof r, 'number', `mmap failed: ${String(r)}`);
  return r as number;
}

describe('fork is a kernel path', () => {
  it('a fork racing a store in a sibling thread: the child sees the old byte or the new one, by schedule', () => {
    const outcomes = exploreSchedules(
      () => {
        const w = world();
        const a = mapped(w.A.mmap(0, PAGE, RW, ANON));
        assert.equal(w.A.store(a, 0x11), null);
        // B has never touched the page: its store walks the page table (or faults on the
        // write-protected entry) at whatever point of the fork the schedule puts it.
        return { ...w, addr: a, a: w.A.paths.fork(), b: w.B.paths.store(a, 0x22) };
      },
      (run, r) => {
        const child = r.results[0] as ProcessHandle;
        assert.ok(!isErrno(child), 'fork failed');
        assert.equal(r.results[1], null, 'the store lands');
        assert.equal(run.p.peek(run.addr), 0x22, 'the parent sees its own store');
        const seen = child.peek(run.addr);
        assert.ok(seen === 0x11 || seen === 0x22, `child sees ${String(seen)}`);
        // Whichever byte the child got, the two address spaces are separate from now on.
        assert.equal(run.A.store(run.addr, 0x33), null);
        assert.equal(child.peek(run.addr), seen);
        return seen === 0x11 ? 'child sees old' : 'child sees new';
      },
    );
    assert.deepEqual([...outcomes.keys()].sort(), ['child sees new', 'child sees old']);
  });

  it('fork yields while it copies, a step per VMA, under mmap_lock held for writing', () => {
    const w = world();
    for (let i = 0; i < 3; i++) {
      const a = mapped(w.A.mmap(0, PAGE, i === 1 ? PROT_READ : RW, ANON));
      w.A.store(a, 1);
    }
    const r = w.m.interleave([[w.A, w.A.paths.fork()]]);
    const copies = r.steps.filter((s) => s.kind === 'pte-write' && s.what.startsWith('copy ptes'));
    // The read-only VMA has no page (its store faulted with SIGSEGV), so no anon_vma to copy.
    assert.ok(copies.length >= 2, `copy steps: ${copies.map((s) => s.what).join(', ')}`);
    assert.ok(r.steps.length > copies.length, 'and a lock step before them');
  });

  it('a fork drained and a fork scheduled alone leave the same child', () => {
    const child = (scheduled: boolean): (number | undefined)[] => {
      const w = world();
      const a = mapped(w.A.mmap(0, 3 * PAGE, RW, ANON));
      w.A.store(a, 7);
      w.A.store(a + 2 * PAGE, 9);
      const c = scheduled ? (w.m.interleave([[w.A, w.A.paths.fork()]]).results[0] as ProcessHandle) : (w.A.fork() as ProcessHandle);
      return [0, 1, 2].map((i) => c.peek(a + i * PAGE));
    };
    assert.deepEqual(child(true), child(false));
  });
});

describe('msync, exec and the file calls are kernel paths', () => {
  it('msync yields once per page table it writes back', () => {
    const { m, p } = setup({ cpus: 1, memory: 16 << 20 });
    m.createFile('/f', 4 << 20);
    const fd = p.main.open('/f', 2);
    assert.equal(typeof fd, 'number');
    const len = 4 << 20;
    const a = mapped(p.main.mmap(0, len, RW, MAP_SHARED, fd as number, 0));
    p.main.store(a, 1);
    const r = m.interleave([[p.main, p.main.paths.msync(a, len, MS_SYNC)]]);
    assert.equal(r.results[0], 0);
    const pageTables = Math.floor((a + len - 1) / (2 << 20)) - Math.floor(a / (2 << 20)) + 1;
    assert.equal(r.steps.filter((s) => s.kind === 'pte-read' && s.what.startsWith('write back')).length, pageTables);
  });

  it('pread racing munmap of its buffer: the whole count or EFAULT, by schedule', () => {
    const outcomes = exploreSchedules(
      () => {
        const w = world();
        w.m.createFile('/f', new Uint8Array(PAGE).fill(0x5a));
        const fd = w.A.open('/f', 0) as number;
        const buf = mapped(w.A.mmap(0, PAGE, RW, ANON));
        return { ...w, buf, a: w.A.paths.pread(fd, buf, PAGE, 0), b: w.B.paths.munmap(buf, PAGE) };
      },
      (run, r) => {
        assert.equal(r.results[1], 0);
        const got = r.results[0];
        if (isErrno(got)) {
          assert.equal(got.name, 'EFAULT');
          return 'EFAULT';
        }
        assert.equal(got, PAGE);
        return 'read';
      },
    );
    assert.deepEqual([...outcomes.keys()].sort(), ['EFAULT', 'read']);
  });

  it('exec waits for a sibling munmap to finish (exec_mmap() takes mmap_lock), and a killed waiter gets EINTR', () => {
    const w = world();
    const a = mapped(w.A.mmap(0, PAGE, RW, ANON));
    w.A.store(a, 1);
    const r = w.m.interleave(
      [
        [w.B, w.B.paths.munmap(a, PAGE)],
        [w.A, w.A.paths.exec()],
      ],
      [w.B.tid, w.A.tid],
    );
    assert.deepEqual(r.results, [0, 0]);
    const blocked = r.steps.findIndex((s) => s.tid === w.A.tid && s.kind === 'blocked');
    const unmapped = r.steps.findIndex((s) => s.tid === w.B.tid && s.kind === 'done');
    assert.ok(blocked >= 0 && blocked < unmapped, 'exec waited while munmap held mmap_lock');
    assert.equal(w.B.alive, false, 'exec ended the sibling');
  });

  it('ftruncate, open and close run as paths, with the drained results', () => {
    const w = world();
    w.m.createFile('/f', 2 * PAGE);
    const r = w.m.interleave([[w.A, w.A.paths.open('/f', 2)]]);
    const fd = r.results[0] as number;
    assert.equal(w.m.interleave([[w.A, w.A.paths.ftruncate(fd, PAGE)]]).results[0], 0);
    assert.equal(w.m.interleave([[w.A, w.A.paths.close(fd)]]).results[0], 0);
    assert.equal(isErrno(w.m.interleave([[w.A, w.A.paths.close(fd)]]).results[0]), true, 'a second close is EBADF');
  });
});

describe('wide loads and stores are kernel paths', () => {
  it('a 4-byte store straddling two pages, then a load of it, as paths', () => {
    const w = world();
    const a = mapped(w.A.mmap(0, 2 * PAGE, RW, ANON));
    const va = a + PAGE - 2;
    const s = w.m.interleave([[w.A, w.A.paths.store(va, 0x11223344, 4)]]);
    assert.equal(s.results[0], null);
    // Both pages faulted in: at least one access step for each page.
    assert.ok(s.steps.filter((x) => x.kind === 'access').length >= 2);
    const l = w.m.interleave([[w.B, w.B.paths.load(va, 4)]]);
    assert.equal(l.results[0], 0x11223344);
    assert.equal(w.A.load(va, 4), 0x11223344);
  });

  it('a straddling load racing munmap of its second page: the value or SIGSEGV, never half of it', () => {
    const outcomes = exploreSchedules(
      () => {
        const w = world();
        const a = mapped(w.A.mmap(0, 2 * PAGE, RW, ANON));
        w.A.store(a + PAGE - 1, 0xbbaa, 2);
        return { ...w, a: w.A.paths.load(a + PAGE - 1, 2), b: w.B.paths.munmap(a + PAGE, PAGE) };
      },
      (_run, r) => {
        const v = r.results[0];
        if (isSignal(v)) {
          assert.equal(v.signal, 'SIGSEGV');
          return 'SIGSEGV';
        }
        assert.equal(v, 0xbbaa);
        return 'value';
      },
    );
    assert.deepEqual([...outcomes.keys()].sort(), ['SIGSEGV', 'value']);
  });

  it('a path store checks its value and size as the method does', () => {
    const w = world();
    assert.throws(() => w.A.paths.store(0, 1.5), /ThreadPaths\.store: value must be a safe integer/);
    assert.throws(() => w.A.paths.load(0, 3 as 1), /access size must be 1, 2 or 4, not 3/);
  });
});

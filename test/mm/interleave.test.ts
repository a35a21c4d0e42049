/**
 * Concurrency: two threads of one process on two CPUs, their kernel paths interleaved by
 * Machine.interleave. Forced schedules show specific races (a store faulting while
 * another thread unmaps); small bounded explorations run every schedule of the form
 * "A for i steps, B for j steps, then round-robin" and check the outcome and every
 * invariant after each run (the machines run with invariants: 'throw').
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  MADV_DONTNEED,
  MREMAP_MAYMOVE,
  type Machine,
  PROT_READ,
  isErrno,
  isSignal,
  type InterleaveResult,
  type KernelPath,
  type ProcessHandle,
  type ThreadHandle,
} from '../../src/index.js';
import { PAGE, RW, ANON, exploreSchedules, map as mapWith, setup } from './_helpers.js';

/** A process with thread A on CPU 0 and thread B on CPU 1. */
interface World {
  m: Machine;
  p: ProcessHandle;
  A: ThreadHandle;
  B: ThreadHandle;
}

function world(): World {
  const { m, p } = setup({ cpus: 2, memory: 1 << 20, swap: 1 << 20, tlbEntries: 64 });
  return { m, p, A: p.main, B: p.spawnThread(1) };
}

/** mmap of private anonymous memory that must succeed. */
function map(t: ThreadHandle, len: number, prot = RW): number {
  return mapWith(t, 0, len, prot, ANON);
}

/** What one exploration run needs: the two paths and a check of their results. */
interface Run {
  readonly w: World;
  readonly a: KernelPath<unknown>;
  readonly b: KernelPath<unknown>;
  readonly check: (ra: unknown, rb: unknown, r: InterleaveResult) => string;
}

/**
 * Runs `make()` under the schedules A^i B^j and B^j A^i (then round-robin) for i, j up to
 * `bound` (see {@link exploreSchedules}); `check` validates the results and names the
 * outcome. Returns the outcomes seen.
 */
function explore(make: () => Run, bound = 6): Map<string, number> {
  return exploreSchedules(
    () => {
      const run = make();
      return { ...run, m: run.w.m, A: run.w.A, B: run.w.B };
    },
    (run, r) => run.check(r.results[0], r.results[1], r),
    bound,
  );
}

/** How many steps `path` takes on `w` before (and including) the first step matching `pred`. */
function stepsUntil(w: World, t: ThreadHandle, path: KernelPath<unknown>, pred: (kind: string, what: string) => boolean): number {
  const r = w.m.interleave([[t, path]]);
  const i = r.steps.findIndex((s) => pred(s.kind, s.what));
  assert.ok(i >= 0, 'the path never took that step');
  return i + 1;
}

function signalName(r: unknown): string {
  if (r === null) return 'ok';
  if (typeof r === 'number') return `value ${r}`;
  if (isSignal(r)) return `${r.signal} ${r.code}`;
  if (isErrno(r)) return r.name;
  return JSON.stringify(r) ?? 'undefined';
}

describe('interleave: a store faulting while another thread munmaps', () => {
  it('munmap wins the mmap_lock first: the store faults on a missing VMA (SEGV_MAPERR)', () => {
    const w = world();
    const a = map(w.A, 4 * PAGE);
    // A's access misses the TLB; B takes mmap_lock for writing before A's fault gets it.
    const r = w.m.interleave(
      [
        [w.A, w.A.paths.store(a, 1)],
        [w.B, w.B.paths.munmap(a, PAGE)],
      ],
      [w.A.tid, w.A.tid, w.B.tid],
    );
    assert.equal(r.results[1], 0);
    const s = r.results[0];
    assert.ok(isSignal(s));
    assert.equal(s.signal, 'SIGSEGV');
    assert.equal(s.code, 'SEGV_MAPERR');
    assert.equal(s.addr, a);
    assert.ok(r.steps.some((x) => x.tid === w.A.tid && x.kind === 'blocked'), 'A never waited for mmap_lock');
    assert.equal(w.p.resident, 0);
    assert.deepEqual(w.m.checkInvariants(), []);
  });

  it('the fault holds mmap_lock for reading: munmap waits, the store lands, then the page goes', () => {
    const probe = world();
    const pa = map(probe.A, 4 * PAGE);
    const n = stepsUntil(probe, probe.A, probe.A.paths.store(pa, 1), (k, what) => k === 'lock' && what.includes('(read)'));

    const w = world();
    const a = map(w.A, 4 * PAGE);
    const schedule = [...Array<number>(n).fill(w.A.tid), w.B.tid, w.B.tid];
    const r = w.m.interleave(
      [
        [w.A, w.A.paths.store(a, 0x5c)],
        [w.B, w.B.paths.munmap(a, PAGE)],
      ],
      schedule,
    );
    assert.equal(r.results[0], null);
    assert.equal(r.results[1], 0);
    assert.ok(r.steps.some((x) => x.tid === w.B.tid && x.kind === 'blocked'), 'B never waited for mmap_lock');
    const l = w.A.load(a);
    assert.ok(isSignal(l) && l.code === 'SEGV_MAPERR');
    assert.equal(w.p.resident, 0);
    assert.deepEqual(w.m.checkInvariants(), []);
  });

  it('every bounded schedule ends in one of the two outcomes, with the invariants intact', () => {
    const outcomes = explore(() => {
      const w = world();
      const a = map(w.A, 4 * PAGE);
      return {
        w,
        a: w.A.paths.store(a + PAGE, 7),
        b: w.B.paths.munmap(a, 2 * PAGE),
        check: (ra, rb) => {
          assert.equal(rb, 0);
          assert.ok(ra === null || (isSignal(ra) && ra.code === 'SEGV_MAPERR'), `store gave ${signalName(ra)}`);
          assert.equal(w.p.resident, 0);
          const l = w.A.load(a + PAGE);
          assert.ok(isSignal(l) && l.code === 'SEGV_MAPERR');
          return signalName(ra);
        },
      };
    });
    assert.deepEqual([...outcomes.keys()].sort(), ['SIGSEGV SEGV_MAPERR', 'ok']);
  });
});

describe('interleave: stores racing other address-space changes', () => {
  it('a store racing mremap’s move either lands in the moved page or faults; never in a lost frame', () => {
    // Fixed: a TLB hit on a PTE cleared but not yet flushed (Linux move_ptes()) is not a keys-enforced violation.
    const outcomes = explore(() => {
      const w = world();
      const a = map(w.A, 2 * PAGE);
      // A blocker above makes mremap move the area.
      const blocker = w.A.mmap(a + 2 * PAGE, PAGE, PROT_READ, ANON);
      assert.equal(blocker, a + 2 * PAGE);
      w.A.store(a + PAGE, 1); // A's TLB now holds a writable entry for it
      let moved = -1;
      return {
        w,
        a: w.A.paths.store(a + PAGE, 2),
        b: (function* (): KernelPath<unknown> {
          const r = yield* w.B.paths.mremap(a, 2 * PAGE, 4 * PAGE, MREMAP_MAYMOVE);
          moved = typeof r === 'number' ? r : -1;
          return r;
        })(),
        check: (ra) => {
          assert.ok(moved > 0 && moved !== a, 'mremap did not move');
          const v = w.A.load(moved + PAGE);
          if (ra === null) assert.equal(v, 2, 'a store that succeeded was lost');
          else {
            assert.ok(isSignal(ra) && ra.code === 'SEGV_MAPERR', `store gave ${signalName(ra)}`);
            assert.equal(v, 1);
          }
          const old = w.B.load(a + PAGE);
          assert.ok(isSignal(old) && old.code === 'SEGV_MAPERR');
          return signalName(ra);
        },
      };
    });
    assert.ok(outcomes.has('ok'));
  });

  it('after mprotect(PROT_READ) returns, no schedule lets the other CPU write; an earlier store may land', () => {
    const outcomes = explore(() => {
      const w = world();
      const a = map(w.A, PAGE);
      w.B.store(a, 1); // CPU 1 caches a writable translation
      return {
        w,
        a: w.A.paths.mprotect(a, PAGE, PROT_READ),
        b: w.B.paths.store(a, 2),
        check: (ra, rb) => {
          assert.equal(ra, 0);
          const v = w.B.load(a);
          if (rb === null) assert.equal(v, 2);
          else {
            assert.ok(isSignal(rb) && rb.code === 'SEGV_ACCERR', `store gave ${signalName(rb)}`);
            assert.equal(v, 1);
          }
          const again = w.B.store(a, 3);
          assert.ok(isSignal(again) && again.code === 'SEGV_ACCERR', 'CPU 1 could still write after mprotect returned');
          return signalName(rb);
        },
      };
    });
    assert.ok(outcomes.has('ok') && outcomes.has('SIGSEGV SEGV_ACCERR'), [...outcomes.keys()].join(', '));
  });

  it('a read on another CPU during a COW write fault sees the old or the new value', () => {
    // Fixed: the same for wpFault()'s clear, yield, flush (Linux ptep_clear_flush()): CPU 1 may read the old frame.
    const outcomes = explore(() => {
      const w = world();
      const a = map(w.A, PAGE);
      w.A.store(a, 0x11);
      const child = w.A.fork(0);
      assert.ok(typeof child === 'object' && !isErrno(child));
      assert.equal(w.B.load(a), 0x11); // CPU 1 caches a read-only translation
      return {
        w,
        a: w.A.paths.store(a, 0x22),
        b: w.B.paths.load(a),
        check: (ra, rb) => {
          assert.equal(ra, null);
          assert.ok(rb === 0x11 || rb === 0x22, `read ${signalName(rb)}`);
          assert.equal(w.B.load(a), 0x22);
          assert.equal(child.main.load(a), 0x11);
          return signalName(rb);
        },
      };
    });
    assert.ok(outcomes.has('value 17') && outcomes.has('value 34'), [...outcomes.keys()].join(', '));
  });

  it('two threads first-touching the same page get one frame and both bytes', () => {
    const outcomes = explore(() => {
      const w = world();
      const a = map(w.A, PAGE);
      return {
        w,
        a: w.A.paths.store(a, 0xa1),
        b: w.B.paths.store(a + 1, 0xb2),
        check: (ra, rb) => {
          assert.equal(ra, null);
          assert.equal(rb, null);
          assert.equal(w.p.resident, 1);
          assert.equal(w.A.load(a), 0xa1);
          assert.equal(w.B.load(a + 1), 0xb2);
          return `spurious ${w.p.counters.spuriousFaults > 0}`;
        },
      };
    });
    assert.ok(outcomes.size >= 1);
  });

  it('two threads writing one COW page after fork: one copy, both bytes, the child untouched', () => {
    explore(() => {
      const w = world();
      const a = map(w.A, PAGE);
      w.A.store(a, 0x11);
      w.A.store(a + 1, 0x11);
      const child = w.A.fork(0);
      assert.ok(typeof child === 'object' && !isErrno(child));
      const copies = w.p.counters.cowCopies;
      return {
        w,
        a: w.A.paths.store(a, 0xa1),
        b: w.B.paths.store(a + 1, 0xb2),
        check: (ra, rb) => {
          assert.equal(ra, null);
          assert.equal(rb, null);
          assert.equal(w.p.counters.cowCopies - copies, 1);
          assert.equal(w.A.load(a), 0xa1);
          assert.equal(w.A.load(a + 1), 0xb2);
          assert.equal(child.main.load(a), 0x11);
          assert.equal(child.main.load(a + 1), 0x11);
          return 'ok';
        },
      };
    });
  });
});

describe('interleave: MADV_DONTNEED (mmap_lock for reading) racing a fault', () => {
  it('against a COW write fault: the forked child’s page is never freed under it', () => {
    // MADV_DONTNEED runs under mmap_lock for reading, concurrently with faults; Linux
    // zap_pte_range() takes the PTE lock, and wp_page_copy() re-checks pte_same() under
    // it. If the zap can clear the entry while the COW fault works on the value it read,
    // the old frame is released twice and the child's page is freed while mapped.
    explore(() => {
      const w = world();
      const a = map(w.A, PAGE);
      w.A.store(a, 0x11);
      const child = w.A.fork(0);
      assert.ok(typeof child === 'object' && !isErrno(child));
      return {
        w,
        a: w.A.paths.store(a, 0x22),
        b: w.B.paths.madvise(a, PAGE, MADV_DONTNEED),
        check: (ra, rb) => {
          assert.equal(ra, null);
          assert.equal(rb, 0);
          assert.equal(child.main.load(a), 0x11, 'the child lost its page');
          const v = w.A.load(a);
          assert.ok(v === 0 || v === 0x22, `parent reads ${signalName(v)}`);
          return `parent ${signalName(v)}`;
        },
      };
    });
  });

  it('against a swap-in fault: the swap slot is released exactly once', () => {
    explore(() => {
      const w = world();
      const a = map(w.A, PAGE);
      w.A.store(a, 0x11);
      w.p.swapOut();
      return {
        w,
        a: w.A.paths.load(a),
        b: w.B.paths.madvise(a, PAGE, MADV_DONTNEED),
        check: (ra, rb) => {
          assert.ok(ra === 0x11 || ra === 0, `load gave ${signalName(ra)}`);
          assert.equal(rb, 0);
          assert.equal(w.m.counters().machine.swapUsed, 0);
          assert.equal(w.A.load(a), 0);
          return signalName(ra);
        },
      };
    });
  });

  it('against a first-touch fault: no frame is leaked', () => {
    explore(() => {
      const w = world();
      const a = map(w.A, PAGE);
      const free = w.m.counters().machine.freeFrames;
      return {
        w,
        a: w.A.paths.store(a, 0x33),
        b: w.B.paths.madvise(a, PAGE, MADV_DONTNEED),
        check: (ra, rb) => {
          assert.equal(ra, null);
          assert.equal(rb, 0);
          const v = w.A.load(a);
          assert.ok(v === 0 || v === 0x33);
          assert.equal(w.B.madvise(a, PAGE, MADV_DONTNEED), 0);
          // Only the page-table pages remain allocated.
          assert.equal(w.m.counters().machine.freeFrames, free - 3);
          return `value ${String(v)}`;
        },
      };
    });
  });
});

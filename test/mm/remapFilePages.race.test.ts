/**
 * The fault race Hugh Dickins found in the VM_MANYPROTS series (seed 001): "Consider two
 * threads faulting on the same pte on different cpus. One of them fixes it up, you're
 * giving the other SIGSEGV?" Two threads of one process, on CPUs 0 and 1, load the same
 * page of a VM_MANYPROTS mapping whose entry is a file entry (the page was reclaimed) or
 * none (never touched). Under a forced schedule both take the fault before either installs
 * the page: the second finds the entry already installed under the page-table lock.
 * - rfp-manyprots (the fix): it compares the access with the entry's rights, sees that
 *   they allow it, and retries — a spurious fault — and reads the value;
 * - manyprots-fault-race-bug (the posted handler): any fault on an installed entry of a
 *   VM_MANYPROTS VMA is SIGSEGV SEGV_ACCERR, so the loser dies.
 * Machines run with invariants: 'throw'.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  isErrno,
  isSignal,
  Machine,
  MAP_CHGPROT,
  MAP_SHARED,
  O_RDWR,
  PROT_NONE,
  PROT_READ,
  type InterleaveResult,
  type KernelPath,
  type ProcessHandle,
  type ThreadHandle,
} from '../../src/index.js';
import { byteOf, exploreSchedules, fileContents, PAGE, RW } from './_helpers.js';

/** Pages of /f: byte `off` of page i is byteOf(i, off). */
const FILE_PAGES = 8;

/** The page both threads load: it shows file page TARGET_INDEX. */
const TARGET_PAGE = 3;
const TARGET_INDEX = 6;

interface World {
  m: Machine;
  p: ProcessHandle;
  A: ThreadHandle;
  B: ThreadHandle;
  /** The window; page TARGET_PAGE is the one raced for. */
  a: number;
}

type Entry = 'file' | 'none';

/**
 * A process with thread A on CPU 0 and thread B on CPU 1 and a VM_MANYPROTS window of /f.
 * 'file': a PROT_NONE window whose page TARGET_PAGE was remapped (MAP_CHGPROT) to file
 * page TARGET_INDEX with `prot`, then reclaimed, so its entry is a file entry carrying
 * `prot`. 'none': a window with default protection `prot` whose page TARGET_PAGE was never
 * touched (another page was remapped to make the VMA VM_MANYPROTS): no entry at all.
 */
function world(variant: string, entry: Entry, prot = RW): World {
  const m = new Machine({ cpus: 2, memory: 1 << 20, swap: 1 << 20, tlbEntries: 64, invariants: 'throw', variants: [variant] });
  m.createFile('/f', fileContents(FILE_PAGES));
  const p = m.spawn('p', 0);
  const A = p.main;
  const B = p.spawnThread(1);
  const fd = A.open('/f', O_RDWR);
  if (isErrno(fd)) assert.fail(fd.name);
  const a = A.mmap(0, FILE_PAGES * PAGE, entry === 'file' ? PROT_NONE : prot, MAP_SHARED, fd, 0);
  if (isErrno(a)) assert.fail(a.name);
  if (entry === 'file') {
    assert.equal(A.remapFilePages(a + TARGET_PAGE * PAGE, PAGE, prot, TARGET_INDEX, MAP_CHGPROT), 0);
    m.swapOut(p);
    const e = p.pte(a + TARGET_PAGE * PAGE);
    assert.deepEqual([e.file, e.pgoff, e.fileProt], [true, TARGET_INDEX, prot]);
  } else {
    assert.equal(A.remapFilePages(a, PAGE, PROT_READ, 1, MAP_CHGPROT), 0);
    assert.equal(p.pte(a + TARGET_PAGE * PAGE).none, true);
  }
  return { m, p, A, B, a };
}

/** The index shown at the raced page. */
const targetIndex = (entry: Entry): number => (entry === 'file' ? TARGET_INDEX : TARGET_PAGE);

/**
 * Both threads access, both take the fault and the mmap_lock for reading, before either
 * gets the page-table lock; then round-robin: A installs the entry while B waits for the
 * lock, and B finds it installed.
 */
function bothFault(w: World): number[] {
  return [w.A.tid, w.B.tid, w.A.tid, w.B.tid, w.A.tid, w.B.tid];
}

function trace(r: InterleaveResult): string {
  return r.steps.map((s) => `${s.tid}:${s.kind} ${s.what}`).join(' | ');
}

/** The steps say that both threads faulted before the first entry was written, and that B then waited for A's page-table lock. */
function assertBothFaultedFirst(w: World, r: InterleaveResult): void {
  const firstWrite = r.steps.findIndex((s) => s.kind === 'pte-write');
  assert.ok(firstWrite >= 0, `nobody wrote the entry: ${trace(r)}`);
  assert.equal(r.steps[firstWrite].tid, w.A.tid, trace(r));
  for (const t of [w.A, w.B]) {
    const fault = r.steps.findIndex((s) => s.tid === t.tid && s.kind === 'fault');
    assert.ok(fault >= 0 && fault < firstWrite, `thread ${t.tid} did not fault before the entry was written: ${trace(r)}`);
  }
  assert.ok(
    r.steps.some((s, i) => i < firstWrite && s.tid === w.B.tid && s.kind === 'blocked' && s.what.startsWith('ptl')),
    `B never waited for the page-table lock: ${trace(r)}`,
  );
  assert.equal(r.steps.filter((s) => s.kind === 'pte-write').length, 1, `the entry was written twice: ${trace(r)}`);
}

function race(w: World, schedule: readonly number[], b: (t: ThreadHandle) => KernelPath<unknown> = (t) => t.paths.load(w.a + TARGET_PAGE * PAGE + 5)): InterleaveResult {
  return w.m.interleave(
    [
      [w.A, w.A.paths.load(w.a + TARGET_PAGE * PAGE + 5)],
      [w.B, b(w.B)],
    ],
    schedule,
  );
}

for (const entry of ['file', 'none'] as const) {
  const expected = byteOf(targetIndex(entry), 5);

  describe(`the VM_MANYPROTS fault race on a page whose entry is ${entry === 'file' ? 'a file entry (reclaimed)' : 'none (never touched)'}`, () => {
    it('rfp-manyprots: the loser finds the entry installed, retries (a spurious fault) and reads the value', () => {
      const w = world('rfp-manyprots', entry);
      const spurious = w.p.counters.spuriousFaults;
      const r = race(w, bothFault(w));
      assertBothFaultedFirst(w, r);
      assert.deepEqual(r.results, [expected, expected], trace(r));
      assert.equal(w.p.counters.spuriousFaults, spurious + 1);
      assert.equal(w.B.signals.length, 0);
      assert.equal(w.A.signals.length, 0);
      // B accessed the page again after its fault.
      const bAccesses = r.steps.filter((s) => s.tid === w.B.tid && s.kind === 'access').length;
      assert.equal(bAccesses, 2, trace(r));
      const e = w.p.pte(w.a + TARGET_PAGE * PAGE);
      assert.deepEqual([e.present, e.writable, e.pgoff], [true, true, targetIndex(entry)]);
      assert.equal(w.p.mapCount, 1);
    });

    it('manyprots-fault-race-bug: the loser gets SIGSEGV SEGV_ACCERR for a page it may read', () => {
      const w = world('manyprots-fault-race-bug', entry);
      const r = race(w, bothFault(w));
      assertBothFaultedFirst(w, r);
      assert.equal(r.results[0], expected);
      const s = r.results[1];
      assert.ok(isSignal(s), `B should have died: ${trace(r)}`);
      assert.equal(s.signal, 'SIGSEGV');
      assert.equal(s.code, 'SEGV_ACCERR');
      assert.equal(s.addr, w.a + TARGET_PAGE * PAGE + 5);
      assert.equal(s.tid, w.B.tid);
      assert.deepEqual(w.B.signals, [s]);
      assert.equal(w.p.counters.spuriousFaults, 0);
      // The page is fine: B's next load reads it.
      assert.equal(w.B.load(w.a + TARGET_PAGE * PAGE + 5), expected);
    });

    it('manyprots-fault-race-bug: without the race (A done before B starts) nobody dies', () => {
      const w = world('manyprots-fault-race-bug', entry);
      const probe = world('manyprots-fault-race-bug', entry);
      const steps = probe.m.interleave([[probe.A, probe.A.paths.load(probe.a + TARGET_PAGE * PAGE + 5)]]).steps.length;
      const r = race(w, Array<number>(steps).fill(w.A.tid));
      assert.deepEqual(r.results, [expected, expected], trace(r));
      assert.equal(w.B.signals.length, 0);
      assert.ok(!r.steps.some((s) => s.tid === w.B.tid && s.kind === 'fault'), 'B should hit the entry A installed');
    });

    it('rfp-manyprots: a store racing a load succeeds too, and lands in the file page', () => {
      const w = world('rfp-manyprots', entry);
      const r = race(w, bothFault(w), (t) => t.paths.store(w.a + TARGET_PAGE * PAGE + 9, 0x5e));
      assert.deepEqual(r.results, [expected, null], trace(r));
      assert.equal(w.A.load(w.a + TARGET_PAGE * PAGE + 9), 0x5e);
      assert.equal(w.B.signals.length, 0);
    });

    it('rfp-manyprots: the retry grants nothing — a store racing into a read-only page is still SIGSEGV', () => {
      const w = world('rfp-manyprots', entry, PROT_READ);
      const r = race(w, bothFault(w), (t) => t.paths.store(w.a + TARGET_PAGE * PAGE + 9, 0x5e));
      assert.equal(r.results[0], expected, trace(r));
      const s = r.results[1];
      assert.ok(isSignal(s), trace(r));
      assert.equal(s.code, 'SEGV_ACCERR');
      assert.equal(w.A.load(w.a + TARGET_PAGE * PAGE + 9), byteOf(targetIndex(entry), 9));
    });
  });
}

describe('the VM_MANYPROTS fault race, every schedule of the form A^i B^j', () => {
  /**
   * Runs both loads under the prefixes A^i B^j and B^j A^i (then round-robin) and returns
   * each outcome ("value/value", "value/SIGSEGV", …) with how often it came.
   */
  function explore(variant: string, entry: Entry, bound = 6): Map<string, number> {
    return exploreSchedules(
      () => {
        const w = world(variant, entry);
        const load = (t: ThreadHandle): KernelPath<unknown> => t.paths.load(w.a + TARGET_PAGE * PAGE + 5);
        return { m: w.m, A: w.A, B: w.B, a: load(w.A), b: load(w.B) };
      },
      (_run, r) => r.results.map((x) => (isSignal(x) ? `${x.signal} ${x.code}` : String(x))).join('/'),
      bound,
    );
  }

  for (const entry of ['file', 'none'] as const) {
    const v = String(byteOf(targetIndex(entry), 5));

    it(`rfp-manyprots (${entry}): both threads always read the value`, () => {
      const outcomes = explore('rfp-manyprots', entry);
      assert.deepEqual([...outcomes.keys()], [`${v}/${v}`]);
    });

    it(`manyprots-fault-race-bug (${entry}): some schedules kill one thread, the others do not`, () => {
      const outcomes = explore('manyprots-fault-race-bug', entry);
      const keys = [...outcomes.keys()].sort();
      assert.ok(keys.includes(`${v}/${v}`), `outcomes: ${keys.join(', ')}`);
      assert.ok(keys.includes(`${v}/SIGSEGV SEGV_ACCERR`) && keys.includes(`SIGSEGV SEGV_ACCERR/${v}`), `outcomes: ${keys.join(', ')}`);
      assert.ok(!keys.includes('SIGSEGV SEGV_ACCERR/SIGSEGV SEGV_ACCERR'), 'the winner never dies');
    });
  }
});

/** Library misuse: dead, foreign and reentrant handles, bad arguments (D15, D16, D21). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ApiError,
  ForeignHandleError,
  isErrno,
  isSignal,
  Machine,
  MAP_ANONYMOUS,
  MAP_POPULATE,
  MAP_PRIVATE,
  ProcessExitedError,
  PROT_READ,
  PROT_WRITE,
  ReentrantCallError,
  ThreadEndedError,
  type KernelPath,
} from '../../src/index.js';

const PAGE = 4096;
const RW = PROT_READ | PROT_WRITE;
const PA = MAP_PRIVATE | MAP_ANONYMOUS;

function machine(): Machine {
  return new Machine({ memory: 4 << 20, swap: 4 << 20, invariants: 'throw' });
}

/** After everything exits, nothing is left allocated. */
function assertAllFree(m: Machine): void {
  for (const p of m.processes) p.exit();
  const c = m.counters().machine;
  assert.equal(c.pageTables, 0, 'page tables');
  assert.equal(c.swapUsed, 0, 'swap');
  assert.deepEqual(m.checkInvariants(), []);
}

describe('spawnThread refuses what clone(2) could not do (D15)', () => {
  it('on an exited process: ProcessExitedError with a stable code, and nothing changes', () => {
    const m = machine();
    const p = m.spawn('p');
    p.main.store(p.main.mmap(0, 4 * PAGE, RW, PA) as number, 1);
    p.exit();
    const threads = p.threads.length;
    let e: unknown = null;
    try {
      p.spawnThread(0);
    } catch (err) {
      e = err;
    }
    assert.ok(e instanceof ProcessExitedError && e instanceof ApiError);
    assert.equal(e.code, 'PROCESS_EXITED');
    assert.deepEqual((JSON.parse(JSON.stringify(e)) as { data: unknown }).data, { pid: p.pid });
    assert.equal(p.threads.length, threads);
    assertAllFree(m);
  });

  it('with an ended creator, a creator of another process, or one of another machine', () => {
    const m = machine();
    const p = m.spawn('p');
    const q = m.spawn('q');
    const t1 = p.spawnThread(0);
    assert.throws(() => p.spawnThread(0, q.main), (e: unknown) => e instanceof ForeignHandleError && e.code === 'FOREIGN_HANDLE');
    const other = machine().spawn('x');
    assert.throws(() => p.spawnThread(0, other.main), ForeignHandleError);
    t1.exec();
    const ended = p.threads.find((t) => !t.alive)!;
    assert.throws(() => p.spawnThread(0, ended), ThreadEndedError);
    assert.throws(() => p.spawnThread(NaN, t1), /Machine\.cpuAt: cpu must be/);
  });
});

describe('handles of another machine and ended threads (D15)', () => {
  it('swapOut, interleave and ptracePeek refuse a handle of another machine', () => {
    const m = machine();
    const n = machine();
    const p = m.spawn('p');
    const q = n.spawn('q');
    assert.throws(() => m.swapOut(q), ForeignHandleError);
    assert.throws(() => m.interleave([[q.main, q.main.paths.load(0x10000)]]), ForeignHandleError);
    assert.throws(() => p.main.ptracePeek(q, 0x10000), ForeignHandleError);
  });

  it('ptracePeek from an ended thread throws; writePkru and pkeySet on one report its end instead of succeeding', () => {
    const m = machine();
    const p = m.spawn('p');
    const target = m.spawn('t');
    const a = target.main.mmap(0, PAGE, RW, PA) as number;
    target.main.store(a, 5);
    const t = p.main;
    p.exit();
    assert.throws(() => t.ptracePeek(target, a), ThreadEndedError);
    const w = t.writePkru(0);
    assert.ok(w !== null && isSignal(w) && w.signal === 'SIGKILL');
    const s = t.pkeySet(1, 0);
    assert.ok(isSignal(s));
  });
});

describe('a path that throws inside interleave() wedges nothing (D16)', () => {
  it('the other paths finish and release mmap_lock; the process goes on working', () => {
    const m = machine();
    const A = m.spawn('A');
    const B = m.spawn('B');
    const a = A.main.mmap(0, 4 * PAGE, RW, PA) as number;
    function* boom(): KernelPath<void> {
      yield* B.main.paths.load(0x10000);
      throw new Error('a custom path failed');
    }
    assert.throws(() => m.interleave([[A.main, A.main.paths.mprotect(a, PAGE, PROT_READ)], [B.main, boom()]], [A.main.tid, B.main.tid, B.main.tid]), /a custom path failed/);
    assert.equal(typeof A.main.mmap(0, PAGE, PROT_READ, PA), 'number');
    assert.equal(A.main.store(a + PAGE, 1), null);
    assert.ok(isSignal(A.main.store(a, 1)), 'the mprotect finished');
    assertAllFree(m);
  });

  it('a bad argument to a path is the caller\'s RangeError before anything is scheduled', () => {
    const m = machine();
    const B = m.spawn('B');
    assert.throws(() => B.main.paths.mmap(0, NaN, PROT_READ, PA), /ThreadPaths\.mmap: length must be a/);
  });
});

describe('synchronous calls from inside an in-flight path (D16)', () => {
  it('exit() of a process whose MAP_POPULATE holds mmap_lock is ReentrantCallError; nothing leaks', () => {
    const m = machine();
    const p = m.spawn('p');
    const q = m.spawn('q');
    let refused: unknown = null;
    function* killer(): KernelPath<void> {
      yield* q.main.paths.load(0x10000);
      try {
        p.exit();
      } catch (e) {
        refused = e;
      }
    }
    const r = m.interleave([[p.main, p.main.paths.mmap(0, 64 * PAGE, RW, PA | MAP_POPULATE)], [q.main, killer()]], [p.main.tid, p.main.tid, q.main.tid, q.main.tid]);
    assert.ok(refused instanceof ReentrantCallError, String(refused));
    assert.equal(refused.code, 'REENTRANT_CALL');
    assert.equal(typeof r.results[0], 'number');
    assert.ok(p.alive);
    assertAllFree(m);
  });

  it('a synchronous syscall or access of that process is refused the same way, not a DeadlockError', () => {
    const m = machine();
    const p = m.spawn('p');
    const t1 = p.spawnThread(0);
    const q = m.spawn('q');
    const a = p.main.mmap(0, PAGE, RW, PA) as number;
    const seen: unknown[] = [];
    function* caller(): KernelPath<void> {
      yield* q.main.paths.load(0x10000);
      for (const f of [() => t1.mmap(0, PAGE, RW, PA), () => t1.store(a, 1), () => t1.fork()]) {
        try {
          f();
        } catch (e) {
          seen.push(e);
        }
      }
    }
    m.interleave([[p.main, p.main.paths.mmap(0, 16 * PAGE, RW, PA | MAP_POPULATE)], [q.main, caller()]], [p.main.tid, p.main.tid, q.main.tid, q.main.tid]);
    assert.equal(seen.length, 3);
    for (const e of seen) assert.ok(e instanceof ReentrantCallError, String(e));
    // Outside the interleave the same calls work.
    assert.ok(!isErrno(t1.mmap(0, PAGE, RW, PA)));
    assertAllFree(m);
  });
});

describe('argument validation names the method and the argument (D21)', () => {
  it('syscalls: NaN, undefined, objects, Infinity and fractions are TypeError/RangeError, never an internal error', () => {
    const m = machine();
    const t = m.spawn('p').main;
    const a = t.mmap(0, PAGE, RW, PA) as number;
    const bad: unknown[] = [NaN, undefined, {}, -Infinity, Infinity, 1.5, '4096', 1n];
    for (const v of bad) {
      const n = v as number;
      const named = (re: RegExp) => (e: unknown) => (e instanceof TypeError || e instanceof RangeError) && re.test(e.message);
      assert.throws(() => t.mmap(0, n, RW, PA), named(/^ThreadHandle\.mmap: length /), `mmap ${String(v)}`);
      assert.throws(() => t.munmap(a, n), named(/^ThreadHandle\.munmap: length /));
      assert.throws(() => t.mremap(a, PAGE, n, 1), named(/^ThreadHandle\.mremap: newLength /));
      assert.throws(() => t.pkruProtectRange(a, n, 1), named(/^ThreadHandle\.pkruProtectRange: length /));
      assert.throws(() => t.pkeySet(1, n), named(/^ThreadHandle\.pkeySet: rights /));
      assert.throws(() => t.pkeyAlloc(0, n), named(/^ThreadHandle\.pkeyAlloc: rights /));
      assert.throws(() => t.writePkru(n), named(/^ThreadHandle\.writePkru: value /));
      assert.throws(() => t.ftruncate(3, n), named(/^ThreadHandle\.ftruncate: size /));
      assert.throws(() => t.pread(3, a, 10, n), named(/^ThreadHandle\.pread: offset /));
      assert.throws(() => t.pwrite(3, a, 1, n), named(/^ThreadHandle\.pwrite: offset /));
    }
    // Integers a C caller could pass still reach the kernel and get its errno.
    assert.ok(isErrno(t.mmap(0, -1, RW, PA)));
    assert.equal(t.pkru, 0x55555554, 'no bad value opened a key');
    assert.deepEqual(m.checkInvariants(), []);
  });

  it('createFile and Machine options', () => {
    const m = machine();
    for (const size of [-1, NaN, Infinity, 0.5]) assert.throws(() => m.createFile('/f', size), /^RangeError: Machine\.createFile: /);
    assert.throws(() => m.createFile(7 as unknown as string, 1), TypeError);
    const bad: [string, object][] = [
      ['memory', { memory: NaN }],
      ['swap', { swap: -1 }],
      ['tlbEntries', { tlbEntries: 0 }],
      ['tlbEntries', { tlbEntries: NaN }],
      ['tlbEntries', { tlbEntries: 100 }],
      ['invariants', { invariants: 'bogus' }],
      ['cpus', { cpus: 0 }],
      ['maxMapCount', { maxMapCount: 1.5 }],
      ['pku', { pku: 'yes' }],
    ];
    for (const [name, o] of bad) assert.throws(() => new Machine(o), (e: unknown) => e instanceof Error && e.message.startsWith(`new Machine: ${name} `), name);
  });
});

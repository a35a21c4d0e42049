import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RwSemaphore, SpinLock } from '../../src/step/locks.js';
import { Scheduler, ScheduleError } from '../../src/step/scheduler.js';
import { DeadlockError, drain, KernelCtx, type KernelPath } from '../../src/step/step.js';

function* steps(ctx: KernelCtx, n: number, log: string[]): KernelPath<number> {
  for (let i = 0; i < n; i++) {
    log.push(`${ctx.tid}:${i}`);
    yield ctx.at('vma', `step ${i}`);
  }
  return n * 10;
}

describe('drain', () => {
  it('runs a path to its result', () => {
    const log: string[] = [];
    assert.equal(drain(steps(new KernelCtx(1), 3, log)), 30);
    assert.deepEqual(log, ['1:0', '1:1', '1:2']);
  });

  it('calls a path that blocks sequentially a bug, not a hang', () => {
    const lock = new SpinLock('ptl');
    const holder = new KernelCtx(1, true);
    drain(
      (function* () {
        yield* lock.lock(holder);
      })(),
    );
    const waiter = new KernelCtx(2, true);
    assert.throws(() => drain(lock.lock(waiter)), DeadlockError);
  });

  it('reuses one step record per context: yielding allocates nothing', () => {
    const ctx = new KernelCtx(1, true);
    const seen = new Set<object>();
    const path = steps(ctx, 4, []);
    for (let r = path.next(); !r.done; r = path.next()) seen.add(r.value);
    assert.equal(seen.size, 1);
  });
});

describe('Scheduler', () => {
  it('follows an explicit schedule, then drains round-robin', () => {
    const log: string[] = [];
    const s = new Scheduler();
    s.spawn(1, steps(new KernelCtx(1, true), 2, log));
    s.spawn(2, steps(new KernelCtx(2, true), 2, log));
    s.run([2, 2, 1]);
    assert.deepEqual(log, ['2:0', '2:1', '1:0', '1:1']);
    assert.equal(s.resultOf(1), 20);
    assert.equal(s.resultOf(2), 20);
  });

  it('rejects a schedule naming a finished or unknown thread, with its position', () => {
    const s = new Scheduler();
    s.spawn(1, steps(new KernelCtx(1, true), 1, []));
    assert.throws(
      () => s.run([1, 1, 1]),
      (e: unknown) => e instanceof ScheduleError && e.position === 2,
    );
    const s2 = new Scheduler();
    s2.spawn(1, steps(new KernelCtx(1, true), 1, []));
    assert.throws(() => s2.run([7]), ScheduleError);
  });

  it('a writer waits for readers of a RwSemaphore and proceeds when they leave', () => {
    const sem = new RwSemaphore('mmap_lock');
    const order: string[] = [];
    const reader = (ctx: KernelCtx): KernelPath<void> =>
      (function* () {
        yield* sem.read(ctx);
        order.push('read-in');
        yield ctx.at('vma', 'reading');
        sem.readUnlock();
        order.push('read-out');
      })();
    const writer = (ctx: KernelCtx): KernelPath<void> =>
      (function* () {
        yield* sem.write(ctx);
        order.push('write-in');
        sem.writeUnlock(ctx.tid);
      })();
    const s = new Scheduler();
    s.spawn(1, reader(new KernelCtx(1, true)));
    s.spawn(2, writer(new KernelCtx(2, true)));
    // Reader takes the lock; the writer's attempts block; the reader finishes; the writer gets in.
    s.run([1, 2, 2, 1, 1]);
    assert.deepEqual(order, ['read-in', 'read-out', 'write-in']);
    assert.ok(s.history.some((h) => h.tid === 2 && h.kind === 'blocked'));
    assert.ok(sem.contended > 0);
  });

  it('reports a deadlock instead of spinning forever', () => {
    const a = new SpinLock('A');
    const b = new SpinLock('B');
    const path = (ctx: KernelCtx, first: SpinLock, second: SpinLock): KernelPath<void> =>
      (function* () {
        yield* first.lock(ctx);
        yield* second.lock(ctx);
      })();
    const s = new Scheduler();
    s.spawn(1, path(new KernelCtx(1, true), a, b));
    s.spawn(2, path(new KernelCtx(2, true), b, a));
    assert.throws(() => s.run([1, 2]), /deadlock/);
  });

  it('a path that throws: the others still run to their ends, then the first error is rethrown', () => {
    const sem = new RwSemaphore('mmap_lock');
    const log: string[] = [];
    function* holder(ctx: KernelCtx): KernelPath<void> {
      yield* sem.write(ctx);
      try {
        yield ctx.at('vma', 'work');
        log.push('holder done');
      } finally {
        sem.writeUnlock(ctx.tid);
      }
    }
    function* thrower(ctx: KernelCtx): KernelPath<void> {
      yield ctx.at('vma', 'before');
      throw new Error('boom');
    }
    const s = new Scheduler();
    s.spawn(1, holder(new KernelCtx(1, true)));
    s.spawn(2, thrower(new KernelCtx(2, true)));
    assert.throws(() => s.run([1, 2, 2]), /boom/);
    assert.deepEqual(log, ['holder done']);
    assert.equal(sem.writer, -1, 'no lock left held');
    assert.ok(s.history.some((h) => h.tid === 2 && h.what === 'threw'));
  });

  it('after a deadlock, every live path is aborted so its finally blocks release its locks', () => {
    const a = new SpinLock('A');
    const b = new SpinLock('B');
    const path = (ctx: KernelCtx, first: SpinLock, second: SpinLock): KernelPath<void> =>
      (function* () {
        yield* first.lock(ctx);
        try {
          yield* second.lock(ctx);
          second.unlock(ctx);
        } finally {
          first.unlock(ctx);
        }
      })();
    const s = new Scheduler();
    s.spawn(1, path(new KernelCtx(1, true), a, b));
    s.spawn(2, path(new KernelCtx(2, true), b, a));
    assert.throws(() => s.run([1, 2]), ScheduleError);
    assert.ok(a.free && b.free);
  });

  it('unlocking a lock one does not hold is an mmsim bug', () => {
    const l = new SpinLock('ptl');
    assert.throws(() => l.unlock(new KernelCtx(3)), /mmsim bug/);
    const sem = new RwSemaphore('mmap_lock');
    assert.throws(() => sem.readUnlock(), /mmsim bug/);
    assert.throws(() => sem.writeUnlock(1), /mmsim bug/);
  });
});

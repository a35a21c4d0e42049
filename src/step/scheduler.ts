import { type KernelPath, type Step } from './step.js';

/** One thread's path under a scheduler. */
interface Task {
  readonly tid: number;
  readonly path: KernelPath<unknown>;
  /** The last step it yielded, copied (the record itself is reused). */
  lastKind: Step['kind'] | 'start';
  lastWhat: string;
  done: boolean;
  result: unknown;
}

/** Generator return() calls to run a path's finally blocks before mmsim gives up on it. */
const MAX_ABORT_STEPS = 64;

/** One executed step, for traces and tests. */
export interface ScheduledStep {
  readonly tid: number;
  readonly kind: Step['kind'] | 'done';
  readonly what: string;
}

/** Why a schedule could not be followed. */
export class ScheduleError extends Error {
  constructor(
    message: string,
    /** Position in the schedule that could not run. */
    readonly position: number,
  ) {
    super(message);
  }
}

/**
 * Runs several kernel paths, one step at a time, in an order given explicitly by thread
 * ids — so a test can force an interleaving — and then drains the rest in the default
 * order: round-robin by thread id, skipping blocked threads.
 *
 * A path that throws has already released what it held: its locks are dropped in
 * `finally` blocks, which run as the exception leaves the generator. The other paths are
 * still suspended, some holding locks, so {@link run} finishes them before it rethrows —
 * otherwise their process would stay wedged on its mmap_lock for good.
 */
export class Scheduler {
  private readonly tasks = new Map<number, Task>();
  /** Every step executed, in order. */
  readonly history: ScheduledStep[] = [];

  /** Adds a path run by thread `tid` (its context must be preemptible to interleave finely). */
  spawn(tid: number, path: KernelPath<unknown>): void {
    if (this.tasks.has(tid)) throw new Error(`mmsim bug: thread ${tid} already has a scheduled path`);
    this.tasks.set(tid, { tid, path, lastKind: 'start', lastWhat: '', done: false, result: undefined });
  }

  /** True when `tid` has a path that has not finished. */
  isLive(tid: number): boolean {
    const t = this.tasks.get(tid);
    return t !== undefined && !t.done;
  }

  /** Result a finished path returned. */
  resultOf(tid: number): unknown {
    return this.tasks.get(tid)?.result;
  }

  /**
   * Advances thread `tid` by one step. Returns false if it has finished or does not exist.
   * A path that throws is finished: the exception propagates to the caller.
   */
  stepThread(tid: number): boolean {
    const task = this.tasks.get(tid);
    if (!task || task.done) return false;
    let r: IteratorResult<Step, unknown>;
    try {
      r = task.path.next();
    } catch (e) {
      task.done = true;
      this.history.push({ tid, kind: 'done', what: 'threw' });
      throw e;
    }
    if (r.done) {
      task.done = true;
      task.result = r.value;
      this.history.push({ tid, kind: 'done', what: '' });
    } else {
      task.lastKind = r.value.kind;
      task.lastWhat = r.value.what;
      this.history.push({ tid, kind: r.value.kind, what: r.value.what });
    }
    return true;
  }

  /**
   * Follows `schedule` (thread ids), then drains every remaining path round-robin. When a
   * path throws, the others still run to their ends and the first exception is rethrown;
   * when the schedule cannot be followed, a {@link ScheduleError} is thrown after the
   * drain. If the drain itself deadlocks, every live path is aborted (its finally blocks
   * run, releasing its locks) and the deadlock is reported.
   */
  run(schedule: readonly number[] = []): void {
    let failure: { readonly error: unknown } | null = null;
    let bad: ScheduleError | null = null;
    try {
      for (let position = 0; position < schedule.length; position++) {
        const tid = schedule[position];
        if (!this.stepThread(tid)) {
          bad = new ScheduleError(`schedule position ${position + 1}: thread ${tid} has no step left to run`, position);
          break;
        }
      }
    } catch (e) {
      failure = { error: e };
    }
    // Even when the schedule cannot be followed or a path threw, every path runs to its
    // end, so no lock stays held by a path nobody will resume.
    const drained = this.drainAll(false);
    failure ??= drained;
    if (failure) throw failure.error;
    if (bad) throw bad;
  }

  /**
   * Round-robin over live threads until all finish. A path that throws ends there and the
   * others go on; the first exception is thrown at the end (or, with `rethrow` false,
   * returned). If every live thread is blocked, the live paths are aborted and a
   * {@link ScheduleError} is the failure.
   */
  drainAll(rethrow = true): { readonly error: unknown } | null {
    const ids = [...this.tasks.keys()].sort((a, b) => a - b);
    let failure: { readonly error: unknown } | null = null;
    let idleRounds = 0;
    while (ids.some((id) => this.isLive(id))) {
      let progressed = false;
      for (const id of ids) {
        if (!this.isLive(id)) continue;
        try {
          this.stepThread(id);
        } catch (e) {
          failure ??= { error: e };
          progressed = true;
          continue;
        }
        if (this.tasks.get(id)!.lastKind !== 'blocked') progressed = true;
      }
      idleRounds = progressed ? 0 : idleRounds + 1;
      if (idleRounds > 2) {
        const stuck = ids.filter((id) => this.isLive(id)).map((id) => `${id} on ${this.tasks.get(id)!.lastWhat}`);
        this.abortLive();
        failure ??= { error: new ScheduleError(`deadlock: every live thread is blocked (${stuck.join(', ')})`, -1) };
        break;
      }
    }
    if (failure && rethrow) throw failure.error;
    return failure;
  }

  /**
   * Ends every live path early with the generator's return(): its finally blocks run, so
   * the locks it holds are released. What it did before stays done; this is the last
   * resort after a deadlock, where no order could finish the paths.
   */
  private abortLive(): void {
    for (const task of this.tasks.values()) {
      if (task.done) continue;
      task.done = true;
      this.history.push({ tid: task.tid, kind: 'done', what: 'aborted' });
      try {
        // A finally block that yields again (none of mmsim's do) gets a few more turns.
        for (let i = 0; i < MAX_ABORT_STEPS && !task.path.return(undefined).done; i++);
      } catch {
        // The path failed while unwinding; its remaining finally blocks have run.
      }
    }
  }
}

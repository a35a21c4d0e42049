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

  /** Advances thread `tid` by one step. Returns false if it has finished or does not exist. */
  stepThread(tid: number): boolean {
    const task = this.tasks.get(tid);
    if (!task || task.done) return false;
    const r = task.path.next();
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

  /** Follows `schedule` (thread ids), then drains every remaining path round-robin. */
  run(schedule: readonly number[] = []): void {
    let bad: ScheduleError | null = null;
    for (let position = 0; position < schedule.length; position++) {
      const tid = schedule[position];
      if (!this.stepThread(tid)) {
        bad = new ScheduleError(`schedule position ${position + 1}: thread ${tid} has no step left to run`, position);
        break;
      }
    }
    // Even when the schedule cannot be followed, every path runs to its end, so no lock
    // stays held by a path nobody will resume.
    this.drainAll();
    if (bad) throw bad;
  }

  /** Round-robin over live threads until all finish; throws if every live thread is blocked. */
  drainAll(): void {
    const ids = [...this.tasks.keys()].sort((a, b) => a - b);
    let idleRounds = 0;
    while (ids.some((id) => this.isLive(id))) {
      let progressed = false;
      for (const id of ids) {
        if (!this.isLive(id)) continue;
        this.stepThread(id);
        if (this.tasks.get(id)!.lastKind !== 'blocked') progressed = true;
      }
      idleRounds = progressed ? 0 : idleRounds + 1;
      if (idleRounds > 2) {
        const stuck = ids.filter((id) => this.isLive(id)).map((id) => `${id} on ${this.tasks.get(id)!.lastWhat}`);
        throw new ScheduleError(`deadlock: every live thread is blocked (${stuck.join(', ')})`, -1);
      }
    }
  }
}

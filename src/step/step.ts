/**
 * Kernel paths as step machines (DESIGN.md §2). A kernel path is a generator that yields
 * a {@link Step} at each preemption point and says what it touches, so a scheduler can
 * interleave paths and an explorer can tell which steps commute. A sequential caller
 * drains the generator; it may clear {@link KernelCtx.preemptible} so paths skip the yield
 * points that no scheduler would use — one copy of the logic, never a fast twin.
 * @packageDocumentation
 */

/** What a step did, in kernel terms. */
export type StepKind =
  | 'lock'
  | 'unlock'
  | 'blocked'
  | 'pte-read'
  | 'pte-write'
  | 'pmd-write'
  | 'tlb-flush'
  | 'rcu-lock'
  | 'rcu-unlock'
  | 'rcu-sync'
  | 'access'
  | 'fault'
  | 'vma'
  | 'alloc';

/** Anything that can be held and waited for: mmap_lock, a page-table lock. */
export interface Waitable {
  readonly name: string;
}

/**
 * One preemption point. Each context owns one Step record and reuses it: yielding
 * allocates nothing. A consumer must copy what it wants to keep before resuming.
 */
export class Step {
  kind: StepKind = 'vma';
  /** Human-readable subject: the lock's name, "pte 0x7ffff000", … */
  what = '';
  /** Virtual address touched, or -1. */
  addr = -1;
  /** The lock this step waits for when kind is 'blocked'. */
  waitingFor: Waitable | null = null;
}

/** A kernel path: yields steps, returns its result. */
export type KernelPath<R> = Generator<Step, R, void>;

/** Per-thread kernel execution context: who runs, and whether yields are wanted. */
export class KernelCtx {
  /** When false, paths skip their optional yield points (sequential execution). */
  preemptible: boolean;
  /** Nesting depth of RCU read-side critical sections. */
  rcuDepth = 0;
  readonly step = new Step();

  constructor(
    /** Thread id running this context (the lock owner). */
    readonly tid: number,
    preemptible = false,
  ) {
    this.preemptible = preemptible;
  }

  /** Fills and returns the reused step record. */
  at(kind: StepKind, what: string, addr = -1): Step {
    const s = this.step;
    s.kind = kind;
    s.what = what;
    s.addr = addr;
    s.waitingFor = null;
    return s;
  }

  /** A step that cannot proceed until `lock` is released. */
  blocked(lock: Waitable): Step {
    const s = this.at('blocked', lock.name);
    s.waitingFor = lock;
    return s;
  }
}

/** Thrown when a sequential drain meets a path that waits for a lock nobody will release: a bug in mmsim. */
export class DeadlockError extends Error {}

/** Runs a path to completion without interleaving. */
export function drain<R>(path: KernelPath<R>): R {
  for (;;) {
    const r = path.next();
    if (r.done) return r.value;
    if (r.value.kind === 'blocked') {
      throw new DeadlockError(`mmsim bug: sequential kernel path blocked on ${r.value.what}`);
    }
  }
}

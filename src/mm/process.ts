import { type Cpu } from '../hw/cpu.js';
import { KernelCtx } from '../step/step.js';
import { type OpenFile } from './file.js';
import { type Mm } from './mm.js';
import { type SignalInfo } from './signal.js';

/**
 * A thread: a kernel context, the CPU it is pinned to, and the registers that belong to
 * it rather than to the CPU (PKRU is saved and restored with the thread's XSAVE state).
 */
export class Thread {
  /** PKRU value of this thread; loaded into its CPU when it runs. */
  pkru: number;
  /** Signals delivered to this thread, oldest first. */
  readonly signals: SignalInfo[] = [];
  /** False once the thread has exited or was killed. */
  alive = true;
  /** A frame a fault in progress allocated before taking the page-table lock; -1 when none. */
  spareFrame = -1;
  /** A page-cache page a fault in progress pinned before taking the page-table lock; -1 when none. */
  pinnedPage = -1;
  /** The PKRU of each signal handler's interrupted context, innermost last (the signal frames' saved XSTATE). */
  readonly signalFrames: number[] = [];
  readonly ctx: KernelCtx;

  constructor(
    readonly tid: number,
    readonly process: Process,
    /** The CPU this thread runs on. */
    public cpu: Cpu,
    pkru: number,
  ) {
    this.pkru = pkru;
    this.ctx = new KernelCtx(tid);
  }
}

/** Why a process is no longer running. */
export type ExitReason = { readonly kind: 'exited'; readonly code: number } | { readonly kind: 'killed'; readonly signal: SignalInfo['signal']; readonly why: string };

/** A process: an address space, threads and open files. */
export class Process {
  readonly threads: Thread[] = [];
  /** File descriptor table. */
  readonly fds = new Map<number, OpenFile>();
  /** Set when the process has exited or was killed. */
  exit: ExitReason | null = null;
  /**
   * /proc/pid/oom_score_adj, -1000 … 1000: added to the OOM killer's score in thousandths
   * of memory; -1000 exempts the process (FreeBSD: procctl(PROC_SPROTECT), P_PROTECTED).
   */
  oomScoreAdj = 0;

  constructor(
    readonly pid: number,
    /** The address space; replaced by exec. */
    public mm: Mm,
    readonly parent: Process | null,
    /** A name for dumps. */
    readonly name: string,
  ) {}

  /** True until exit. */
  get alive(): boolean {
    return this.exit === null;
  }

  /** The lowest free file descriptor number. */
  nextFd(): number {
    let fd = 3;
    while (this.fds.has(fd)) fd++;
    return fd;
  }
}

import { type Cpu } from '../hw/cpu.js';
import { Hardware } from '../hw/hardware.js';
import { checkInvariants } from '../invariants/index.js';
import { type Violation } from '../hw/violation.js';
import { type Personality } from '../mm/errno.js';
import { createFile } from '../mm/fileOps.js';
import { Kernel } from '../mm/kernel.js';
import { type Process, type Thread } from '../mm/process.js';
import { reclaim, swapOutProcess } from '../mm/reclaim.js';
import { variantProblem, withImpliedVariants } from '../mm/variants.js';
import { PathOnCpu } from '../mm/onCpu.js';
import { Scheduler, type ScheduledStep } from '../step/scheduler.js';
import { type KernelPath } from '../step/step.js';
import { machineCounters } from './snapshot.js';
import { ProcessHandle } from './process.js';
import { ThreadHandle } from './thread.js';

/** How a machine checks the invariants of DESIGN.md §3. */
export type InvariantMode = 'off' | 'record' | 'throw';

/** What a machine is made of. Sizes are in bytes. */
export interface MachineOptions {
  /**
   * OS personality (default 'linux'). Both share the VM layer; 'freebsd' differs in the
   * system calls it offers (sysarch PKRU ranges instead of pkey_*), in where user keys live
   * (a per-pmap range set instead of the VMA), in which pmap operations mprotect(PROT_NONE),
   * msync(MS_INVALIDATE) and swap-out use, and in errno and signal numbers.
   */
  readonly os?: Personality;
  /** Logical CPUs (default 1). */
  readonly cpus?: number;
  /** Physical memory in bytes (default 256 MiB). */
  readonly memory?: number;
  /** Swap in bytes (default 256 MiB). */
  readonly swap?: number;
  /** Named design variants to switch on. */
  readonly variants?: readonly string[];
  /** vm.max_map_count (default 65530). */
  readonly maxMapCount?: number;
  /** TLB entries per CPU (default 1024). */
  readonly tlbEntries?: number;
  /** Whether the CPUs have PKU (default true). */
  readonly pku?: boolean;
  /**
   * Check every invariant after each operation: 'record' collects violations in
   * {@link Machine.violations}, 'throw' throws {@link InvariantError} at the first.
   * Default 'off' (benchmarks); tests use 'throw'.
   */
  readonly invariants?: InvariantMode;
}

/** Thrown when the machine cannot start a process: memory is gone, even after reclaim and the OOM killer. */
export class OutOfMemoryError extends Error {}

/** Thrown in 'throw' mode when an operation leaves the machine breaking an invariant. */
export class InvariantError extends Error {
  constructor(readonly violations: readonly Violation[]) {
    super(`invariant broken: ${violations.map((v) => `[${v.id}] ${v.message}`).join('; ')}`);
  }
}

/** The result of {@link Machine.interleave}: each path's result and the steps as they ran. */
export interface InterleaveResult {
  readonly results: readonly unknown[];
  readonly steps: readonly ScheduledStep[];
}

const MiB = 1024 * 1024;

/**
 * A modelled machine: x86-64 hardware (CPUs with TLBs and key registers, physical
 * memory, page tables, a swap disk) running a kernel personality. Processes and threads
 * are made here; everything they do goes through their handles.
 *
 * ```ts
 * const m = new Machine({ cpus: 2, memory: 64 * MiB, invariants: 'throw' });
 * const p = m.spawn('demo');
 * const a = p.main.mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
 * ```
 */
export class Machine {
  readonly hw: Hardware;
  /** @internal */
  readonly kernel: Kernel;
  /** Violations found so far in 'record' mode. */
  readonly violations: Violation[] = [];
  private readonly mode: InvariantMode;
  private readonly handles = new WeakMap<Thread, ThreadHandle>();
  private readonly processHandles = new WeakMap<Process, ProcessHandle>();

  constructor(options: MachineOptions = {}) {
    const os = options.os ?? 'linux';
    if (os !== 'linux' && os !== 'freebsd') throw new RangeError(`unknown os '${String(os)}': 'linux' or 'freebsd'`);
    for (const v of options.variants ?? []) {
      const problem = variantProblem(v, os);
      if (problem) throw new RangeError(problem);
    }
    this.hw = new Hardware({
      cpus: options.cpus ?? 1,
      memoryBytes: options.memory ?? 256 * MiB,
      swapBytes: options.swap ?? 256 * MiB,
      tlbEntries: options.tlbEntries ?? 1024,
      pku: options.pku ?? true,
    });
    this.kernel = new Kernel(this.hw, {
      personality: os,
      variants: new Set(withImpliedVariants(options.variants ?? [])),
      maxMapCount: options.maxMapCount ?? 65530,
    });
    this.mode = options.invariants ?? 'off';
    this.checking = this.mode !== 'off';
    this.hw.mmu.checkKeys = this.mode !== 'off';
  }

  /** The OS personality this machine runs. */
  get os(): Personality {
    return this.kernel.config.personality;
  }

  /** True when invariants are checked after each operation (a field: accesses read it every time). */
  readonly checking: boolean;

  /** CPU number `n`. */
  cpuAt(n: number): Cpu {
    const cpu = this.hw.cpus[n];
    if (!cpu) throw new RangeError(`no CPU ${n}: the machine has ${this.hw.cpus.length}`);
    return cpu;
  }

  /** Starts a process with an empty address space and one thread on `cpu`; {@link OutOfMemoryError} when no frame is left for its page table. */
  spawn(name = 'process', cpu = 0): ProcessHandle {
    const p = this.kernel.createProcess(name, this.cpuAt(cpu));
    if (!p) throw new OutOfMemoryError(`out of memory: no frame for the page table of a new process '${name}'`);
    return this.processHandle(p.pid);
  }

  /** The handle of process `pid`. */
  processHandle(pid: number): ProcessHandle {
    const p = this.kernel.process(pid);
    if (!p) throw new RangeError(`no process ${pid}`);
    let h = this.processHandles.get(p);
    if (!h) this.processHandles.set(p, (h = new ProcessHandle(this, p)));
    return h;
  }

  /** @internal */
  threadHandle(t: Thread): ThreadHandle {
    let h = this.handles.get(t);
    if (!h) this.handles.set(t, (h = new ThreadHandle(this, t)));
    return h;
  }

  /** Every process ever started, in pid order. */
  get processes(): ProcessHandle[] {
    return [...this.kernel.processes.keys()].map((pid) => this.processHandle(pid));
  }

  /**
   * Creates an in-memory file with these bytes (or this many zero bytes). `readOnly`: no
   * process may open it for writing; `noexec`: it sits on a noexec mount, so no mapping of
   * it may be executable.
   */
  createFile(name: string, contents: Uint8Array | number, options: { readonly readOnly?: boolean; readonly noexec?: boolean } = {}): void {
    const file = createFile(this.kernel, name, contents);
    file.writable = options.readOnly !== true;
    file.noexec = options.noexec === true;
    this.afterOperation();
  }

  /**
   * Swaps out the resident pages of `p` in [start, end): anonymous pages become swap
   * entries, file pages are unmapped; pages whose last mapping goes are written out and
   * freed. Returns the number of entries unmapped. Under the freebsd personality this is
   * the process swap-out (vm_swapout_map_deactivate_pages()), which ends with pmap_remove()
   * over the span — where the pkru-swapout-bug variant loses the keys.
   */
  swapOut(p: ProcessHandle, start = 0, end = Number.MAX_SAFE_INTEGER): number {
    const n = p.alive ? swapOutProcess(this.kernel, p.process.mm, start, end) : 0;
    this.afterOperation();
    return n;
  }

  /** Runs memory-pressure reclaim (page cache, swap cache, then a clock over all processes) until `pages` frames are freed or nothing more can be. */
  reclaim(pages: number): number {
    const n = reclaim(this.kernel, pages);
    this.afterOperation();
    return n;
  }

  /**
   * Runs kernel paths of several threads concurrently: first the explicit `schedule`
   * (a list of thread ids, one step each), then the rest round-robin by thread id.
   * Paths come from {@link ThreadHandle.paths}; their threads yield at every preemption point.
   */
  interleave(paths: readonly (readonly [ThreadHandle, KernelPath<unknown>])[], schedule: readonly number[] = []): InterleaveResult {
    const s = new Scheduler();
    const tids = new Set<number>();
    for (const [t] of paths) {
      if (tids.has(t.tid)) throw new RangeError(`interleave: thread ${t.tid} is given two paths; a thread runs one at a time`);
      tids.add(t.tid);
    }
    const onCpu = paths.map(([t, path]) => new PathOnCpu(this.kernel, t.thread, path));
    paths.forEach(([t], i) => {
      t.thread.ctx.preemptible = true;
      s.spawn(t.tid, onCpu[i].steps);
    });
    try {
      s.run(schedule);
    } finally {
      for (const [t] of paths) t.thread.ctx.preemptible = false;
      for (const p of onCpu) p.release();
    }
    this.afterOperation();
    return { results: paths.map(([t]) => s.resultOf(t.tid)), steps: s.history };
  }

  /** Every invariant checked now; the violations found. */
  checkInvariants(): Violation[] {
    return checkInvariants(this.kernel);
  }

  /** @internal Runs the invariant checks the machine was configured for. */
  afterOperation(): void {
    if (this.mode === 'off') return;
    const v = checkInvariants(this.kernel);
    if (v.length === 0) return;
    if (this.mode === 'throw') throw new InvariantError(v);
    this.violations.push(...v);
  }

  /** Machine-wide counters: frames, swap, page cache, and each CPU's TLB and fault counts. */
  counters(): { machine: Record<string, number>; cpus: Record<string, number>[] } {
    return { machine: machineCounters(this.kernel), cpus: this.hw.cpus.map((c) => c.counters.toJSON()) };
  }

  /** Events such as OOM kills and reclaim passes. */
  get events(): readonly { readonly kind: string; readonly message: string }[] {
    return this.kernel.events;
  }
}

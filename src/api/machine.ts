import { type Cpu } from '../hw/cpu.js';
import { Hardware } from '../hw/hardware.js';
import { checkInvariants } from '../invariants/index.js';
import { type Violation } from '../hw/violation.js';
import { type Personality } from '../mm/errno.js';
import { createFile, fileSizeProblem } from '../mm/fileOps.js';
import { Kernel } from '../mm/kernel.js';
import { type Process, type Thread } from '../mm/process.js';
import { reclaim, swapOutProcess } from '../mm/reclaim.js';
import { variantProblem, withImpliedVariants } from '../mm/variants.js';
import { PathOnCpu } from '../mm/onCpu.js';
import { Scheduler, type ScheduledStep } from '../step/scheduler.js';
import { type KernelPath } from '../step/step.js';
import { intIn, longArg, optionalBoolean, stringArg } from './args.js';
import { ForeignHandleError, ReentrantCallError } from './errors.js';
import { machineCounters } from './snapshot.js';
import { ProcessHandle } from './process.js';
import { ThreadHandle } from './thread.js';

/** How a machine checks the invariants of DESIGN.md §3. */
export type InvariantMode = 'off' | 'record' | 'throw';

/**
 * What a machine is made of. Sizes are in bytes. A value outside the documented range (or
 * not a number) is a RangeError/TypeError from the constructor, never a machine that
 * breaks later.
 */
export interface MachineOptions {
  /**
   * OS personality (default 'linux'). Both share the VM layer; 'freebsd' differs in the
   * system calls it offers (sysarch PKRU ranges instead of pkey_*), in where user keys live
   * (a per-pmap range set instead of the VMA), in which pmap operations mprotect(PROT_NONE),
   * msync(MS_INVALIDATE) and swap-out use, and in errno and signal numbers.
   */
  readonly os?: Personality;
  /** Logical CPUs, 1 to 256 (default 1). */
  readonly cpus?: number;
  /** Physical memory in bytes, 64 KiB to 64 GiB (default 256 MiB). */
  readonly memory?: number;
  /** Swap in bytes, 0 to 64 GiB (default 256 MiB). */
  readonly swap?: number;
  /** Named design variants to switch on. */
  readonly variants?: readonly string[];
  /** vm.max_map_count, a positive integer (default 65530). */
  readonly maxMapCount?: number;
  /** TLB entries per CPU, a power of two up to 2^20 (default 1024). */
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
    const o = checkOptions(options);
    this.hw = new Hardware({ cpus: o.cpus, memoryBytes: o.memory, swapBytes: o.swap, tlbEntries: o.tlbEntries, pku: o.pku });
    this.kernel = new Kernel(this.hw, {
      personality: o.os,
      variants: new Set(withImpliedVariants(o.variants)),
      maxMapCount: o.maxMapCount,
    });
    this.mode = o.invariants;
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
    intIn('Machine.cpuAt', 'cpu', n, 0, Number.MAX_SAFE_INTEGER, 'a CPU number');
    const cpu = this.hw.cpus[n];
    if (!cpu) throw new RangeError(`no CPU ${n}: the machine has ${this.hw.cpus.length}`);
    return cpu;
  }

  /** Starts a process with an empty address space and one thread on `cpu`; {@link OutOfMemoryError} when no frame is left for its page table. */
  spawn(name = 'process', cpu = 0): ProcessHandle {
    stringArg('Machine.spawn', 'name', name);
    const p = this.kernel.createProcess(name, this.cpuAt(cpu));
    if (!p) throw new OutOfMemoryError(`out of memory: no frame for the page table of a new process '${name}'`);
    return this.processHandle(p.pid);
  }

  /** The handle of process `pid`. */
  processHandle(pid: number): ProcessHandle {
    intIn('Machine.processHandle', 'pid', pid, 0, Number.MAX_SAFE_INTEGER, 'a process id');
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
   * it may be executable. A size is a whole number of bytes up to MAX_FILE_SIZE (8 TiB, the
   * limit ftruncate(2) and pwrite(2) enforce with EFBIG); anything else is a RangeError.
   */
  createFile(name: string, contents: Uint8Array | number, options: { readonly readOnly?: boolean; readonly noexec?: boolean } = {}): void {
    stringArg('Machine.createFile', 'name', name);
    if (typeof contents === 'number') {
      const problem = fileSizeProblem(contents);
      if (problem) throw new RangeError(`Machine.createFile: ${problem}`);
    } else if (!(contents instanceof Uint8Array)) {
      throw new TypeError('Machine.createFile: contents must be a Uint8Array or a size in bytes');
    }
    optionalBoolean('Machine.createFile', 'options.readOnly', options.readOnly);
    optionalBoolean('Machine.createFile', 'options.noexec', options.noexec);
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
    this.own('Machine.swapOut', p);
    longArg('Machine.swapOut', 'start', start);
    longArg('Machine.swapOut', 'end', end);
    const n = p.alive ? swapOutProcess(this.kernel, p.process.mm, start, end) : 0;
    this.afterOperation();
    return n;
  }

  /** Runs memory-pressure reclaim (page cache, swap cache, then a clock over all processes) until `pages` frames are freed or nothing more can be. */
  reclaim(pages: number): number {
    intIn('Machine.reclaim', 'pages', pages, 0, Number.MAX_SAFE_INTEGER, 'a page count');
    const n = reclaim(this.kernel, pages);
    this.afterOperation();
    return n;
  }

  /**
   * Runs kernel paths of several threads concurrently: first the explicit `schedule`
   * (a list of thread ids, one step each), then the rest round-robin by thread id.
   * Paths come from {@link ThreadHandle.paths}; their threads yield at every preemption point.
   *
   * A path that throws ends there; the other paths still run to their ends (so no lock
   * stays held) before the first exception is rethrown. Inside a path, a synchronous call
   * on a process whose mmap_lock an in-flight path holds throws {@link ReentrantCallError}.
   */
  interleave(paths: readonly (readonly [ThreadHandle, KernelPath<unknown>])[], schedule: readonly number[] = []): InterleaveResult {
    if (!isArray(paths)) throw new TypeError('Machine.interleave: paths must be an array of [thread, path] pairs');
    const s = new Scheduler();
    const tids = new Set<number>();
    for (const pair of paths) {
      const [t, path] = pair;
      if (!(t instanceof ThreadHandle)) throw new TypeError('Machine.interleave: each entry must be [ThreadHandle, KernelPath]');
      if (t.machine !== this) throw new ForeignHandleError('Machine.interleave', `thread ${t.tid} belongs to another machine`);
      if (typeof (path as Partial<KernelPath<unknown>> | null)?.next !== 'function') throw new TypeError(`Machine.interleave: the path of thread ${t.tid} is not a kernel path (take one from ThreadHandle.paths)`);
      if (tids.has(t.tid)) throw new RangeError(`Machine.interleave: thread ${t.tid} is given two paths; a thread runs one at a time`);
      tids.add(t.tid);
    }
    if (!Array.isArray(schedule)) throw new TypeError('Machine.interleave: schedule must be an array of thread ids');
    const onCpu = paths.map(([t, path]) => new PathOnCpu(this.kernel, t.thread, path));
    paths.forEach(([t], i) => {
      t.thread.ctx.preemptible = true;
      s.spawn(t.tid, onCpu[i].steps);
    });
    this.interleaving++;
    try {
      s.run(schedule);
    } finally {
      this.interleaving--;
      for (const [t] of paths) t.thread.ctx.preemptible = false;
      for (const p of onCpu) p.release();
    }
    this.afterOperation();
    return { results: paths.map(([t]) => s.resultOf(t.tid)), steps: s.history };
  }

  /**
   * @internal Depth of {@link interleave} calls under way: paths may be suspended holding
   * locks, which synchronous calls must not wait for.
   */
  interleaving = 0;

  /**
   * @internal Refuses a synchronous operation on `p` while an in-flight path holds its
   * mmap_lock: drained to completion, it would wait for a lock nobody can release.
   */
  checkNotReentrant(what: string, p: Process): void {
    if (this.interleaving === 0) return;
    const l = p.mm.mmapLock;
    if (l.writer !== -1 || l.readers > 0) throw new ReentrantCallError(what, p.pid, l.name);
  }

  /** @internal Refuses a handle of another machine. */
  own(what: string, p: ProcessHandle): void {
    if (!(p instanceof ProcessHandle)) throw new TypeError(`${what}: expected a ProcessHandle`);
    if (p.machine !== this) throw new ForeignHandleError(what, `process ${p.pid} belongs to another machine`);
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
    for (const x of v) this.violations.push(x);
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

/** Array.isArray without narrowing the caller's typed value to any[]. */
function isArray(v: unknown): boolean {
  return Array.isArray(v);
}

const INVARIANT_MODES: readonly InvariantMode[] = ['off', 'record', 'throw'];

/** The options with defaults filled in, each checked: a bad one is the constructor's RangeError/TypeError. */
function checkOptions(options: MachineOptions): Required<Omit<MachineOptions, 'variants'>> & { variants: readonly string[] } {
  const c = 'new Machine';
  if (typeof options !== 'object' || options === null) throw new TypeError(`${c}: options must be an object`);
  const os = options.os ?? 'linux';
  if (os !== 'linux' && os !== 'freebsd') throw new RangeError(`${c}: unknown os '${String(os)}': 'linux' or 'freebsd'`);
  const variants = options.variants ?? [];
  if (!isArray(variants)) throw new TypeError(`${c}: variants must be an array of variant names`);
  for (const v of variants) {
    stringArg(c, 'a variant', v);
    const problem = variantProblem(v, os);
    if (problem) throw new RangeError(problem);
  }
  const tlbEntries = intIn(c, 'tlbEntries', options.tlbEntries ?? 1024, 1, 2 ** 20, 'a power of two');
  if ((tlbEntries & (tlbEntries - 1)) !== 0) throw new RangeError(`${c}: tlbEntries must be a power of two from 1 to ${2 ** 20}, not ${tlbEntries}`);
  const invariants = options.invariants ?? 'off';
  if (!INVARIANT_MODES.includes(invariants)) throw new RangeError(`${c}: invariants must be 'off', 'record' or 'throw', not ${JSON.stringify(invariants)}`);
  return {
    os,
    variants,
    cpus: intIn(c, 'cpus', options.cpus ?? 1, 1, 256),
    memory: intIn(c, 'memory', options.memory ?? 256 * MiB, 64 * 1024, 64 * 1024 * MiB, 'a size in bytes'),
    swap: intIn(c, 'swap', options.swap ?? 256 * MiB, 0, 64 * 1024 * MiB, 'a size in bytes'),
    maxMapCount: intIn(c, 'maxMapCount', options.maxMapCount ?? 65530, 1, 2 ** 31 - 1),
    tlbEntries,
    pku: optionalBoolean(c, 'pku', options.pku) ?? true,
    invariants,
  };
}

/** Shared setup and assertions of the mm behaviour tests. */
import assert from 'node:assert/strict';
import {
  isErrno,
  isSignal,
  Machine,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  PROT_READ,
  PROT_WRITE,
  ScheduleError,
  type InterleaveResult,
  type KernelPath,
  type MachineOptions,
  type ProcessHandle,
  type SignalCode,
  type SignalInfo,
  type SignalName,
  type ThreadHandle,
} from '../../src/index.js';

export const PAGE = 4096;
export const RW = PROT_READ | PROT_WRITE;
export const ANON = MAP_PRIVATE | MAP_ANONYMOUS;

// ---- Machines and processes -------------------------------------------------------------

/** Options of {@link setup}: the machine's, and the name of the process it spawns (default 'p'). */
export type SetupOptions = MachineOptions & { readonly name?: string };

/** What {@link setup} gives: the machine, its one process and that process's main thread. */
export interface Setup {
  m: Machine;
  p: ProcessHandle;
  t: ThreadHandle;
}

/**
 * A small machine checking every invariant after each operation. Defaults: 1 CPU, 4 MiB of
 * memory and 4 MiB of swap, `invariants: 'throw'`; `opts` overrides any of them.
 */
export function machine(opts: MachineOptions = {}): Machine {
  return new Machine({
    ...opts,
    cpus: opts.cpus ?? 1,
    memory: opts.memory ?? 4 << 20,
    swap: opts.swap ?? 4 << 20,
    invariants: opts.invariants ?? 'throw',
  });
}

/**
 * A {@link machine} with one process (named `opts.name`, default 'p', on CPU 0).
 * `setup(n)` is short for `setup({ cpus: n })`.
 */
export function setup(opts: SetupOptions | number = {}): Setup {
  const { name = 'p', ...options } = typeof opts === 'number' ? { cpus: opts } : opts;
  const m = machine(options);
  const p = m.spawn(name);
  return { m, p, t: p.main };
}

/** mmap that must succeed. */
export function map(t: ThreadHandle, addr: number, len: number, prot: number, flags: number, fd = -1, off = 0): number {
  const a = t.mmap(addr, len, prot, flags, fd, off);
  if (isErrno(a)) assert.fail(`mmap(0x${addr.toString(16)}, ${len}) failed with ${a.name}`);
  return a;
}

/** open that must succeed. */
export function open(t: ThreadHandle, path: string, flags: number): number {
  const fd = t.open(path, flags);
  if (isErrno(fd)) assert.fail(`open failed with ${fd.name}`);
  return fd;
}

/** fork that must succeed: the child. */
export function fork(t: ThreadHandle, cpu?: number): ProcessHandle {
  const c = t.fork(cpu);
  if (isErrno(c)) assert.fail(`fork failed with ${c.name}`);
  return c;
}

/** The VMAs of `p` as [start, end, perms]. */
export function vmas(p: ProcessHandle): Array<[number, number, string]> {
  return p.snapshot().vmas.map((v) => [v.start, v.end, v.perms]);
}

// ---- Signals ----------------------------------------------------------------------------

/**
 * The access raised `signal` with si_code `code` (and, when given, si_addr `addr`).
 * `what` prefixes the failure messages.
 */
export function assertSignal(r: unknown, signal: SignalName, code: SignalCode, addr?: number, what?: string): asserts r is SignalInfo {
  const at = addr === undefined ? '' : ` at 0x${addr.toString(16)}`;
  assert.ok(isSignal(r), `${what === undefined ? '' : `${what}: `}expected ${signal} ${code}${at}, got ${JSON.stringify(r)}`);
  assert.equal(r.signal, signal, what);
  assert.equal(r.code, code, what);
  if (addr !== undefined) assert.equal(r.addr, addr, what);
}

// ---- File contents ----------------------------------------------------------------------

/** Byte `off` of page `page` of a test file (or of memory) made with `seed`: differs between pages and between offsets. */
export const byteOf = (page: number, off: number, seed = 0): number => (page * 37 + off * 11 + 5 + seed) & 0xff;

/** `pages` pages whose every byte is {@link byteOf} its page and offset. */
export function fileContents(pages: number, seed = 0): Uint8Array {
  const b = new Uint8Array(pages * PAGE);
  for (let i = 0; i < b.length; i++) b[i] = byteOf(Math.floor(i / PAGE), i % PAGE, seed);
  return b;
}

// ---- Exploring schedules ----------------------------------------------------------------

/** One run of {@link exploreSchedules}: a machine, two of its threads and the kernel path each runs. */
export interface Race {
  readonly m: Machine;
  readonly A: ThreadHandle;
  readonly B: ThreadHandle;
  readonly a: KernelPath<unknown>;
  readonly b: KernelPath<unknown>;
}

/**
 * Runs a fresh `make()` under each schedule prefix A^i B^j and B^j A^i (then round-robin)
 * for i, j up to `bound`, once per distinct prefix, skipping prefixes longer than a path
 * (ScheduleError). After each run, `outcome` checks the results and names the outcome, and
 * the machine's invariants must hold. Returns each outcome with how often it came; an
 * error names its schedule and the steps taken.
 */
export function exploreSchedules<R extends Race>(make: () => R, outcome: (run: R, r: InterleaveResult) => string, bound = 6): Map<string, number> {
  const outcomes = new Map<string, number>();
  const seen = new Set<string>();
  for (let i = 0; i <= bound; i++) {
    for (let j = 0; j <= bound; j++) {
      for (const aFirst of [true, false]) {
        const run = make();
        const as = Array<number>(i).fill(run.A.tid);
        const bs = Array<number>(j).fill(run.B.tid);
        const prefix = aFirst ? [...as, ...bs] : [...bs, ...as];
        const key = prefix.join(',');
        if (seen.has(key)) continue;
        seen.add(key);
        let r: InterleaveResult;
        try {
          r = run.m.interleave([
            [run.A, run.a],
            [run.B, run.b],
          ], prefix);
        } catch (e) {
          if (e instanceof ScheduleError) continue;
          throw new Error(`schedule [${key}]: ${(e as Error).message}`, { cause: e });
        }
        let name: string;
        try {
          name = outcome(run, r);
          assert.deepEqual(run.m.checkInvariants(), []);
        } catch (e) {
          const trace = r.steps.map((s) => `${s.tid}:${s.kind} ${s.what}`).join(' | ');
          throw new Error(`schedule [${key}] failed: ${(e as Error).message}\n  trace: ${trace}`, { cause: e });
        }
        outcomes.set(name, (outcomes.get(name) ?? 0) + 1);
      }
    }
  }
  return outcomes;
}

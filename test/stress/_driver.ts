/**
 * The stress test's driver: one machine, a set of candidate reference worlds, and the
 * operations of one generated sequence, step by step.
 *
 * Each step is resolved against the first candidate world (which process, thread and
 * address it names), run on the machine (`invariants: 'throw'`: every invariant after
 * every operation), and then checked against every candidate: a candidate that predicts
 * another result is dropped. An interleaved step (Machine.interleave of two or three kernel
 * paths of different threads, with a random schedule) must match one of the serial orders
 * of its paths: each candidate is tried in every order, and every order that explains
 * the results becomes a candidate (at most {@link MAX_WORLDS}) until later steps tell them
 * apart. After every step the surviving candidates must agree with /proc/pid/maps, the
 * VMA keys (Linux) or PKRU range sets (FreeBSD), every thread's PKRU and, every few steps
 * and at the end, the bytes of every mapped page.
 *
 * An OOM kill is allowed (the machines are small on purpose): the victim leaves every
 * world, and what its own last step returned is not checked. A fork may fail with
 * ENOMEM and must then change nothing. At the end every process exits and nothing may be
 * left but the named files' page cache.
 *
 * Everything the driver does is logged as a straight-line library script that replays
 * the run (see {@link Runner.script}).
 */
import {
  AMD64_PKRU_EXCL,
  AMD64_PKRU_PERSIST,
  isErrno,
  isSignal,
  Machine,
  MADV_DONTNEED,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_POPULATE,
  MAP_PRIVATE,
  MAP_SHARED,
  O_RDWR,
  OutOfMemoryError,
  ScheduleError,
  type KernelPath,
  type ProcessHandle,
  type ThreadHandle,
} from '../../src/index.js';
import { swapOutProcess } from '../../src/mm/reclaim.js';
import { PkruRangeSet } from '../../src/pmap/pkruRangeSet.js';
import { type Fault, hex, MemObj, Mismatch, PAGE, parseMaps, protStr, type Result } from '../mm/_model.js';
import { ARENA, ARENA_PAGES, type AddrSel, type Config, MAX_PROCS, MAX_THREADS, OFFSETS, type Op, type Pairing, type PathOp, type Who } from './_ops.js';
import { type Expected, OOM_SCORE_ADJ_MIN, World } from './_refModel.js';
import { expectation, ScenarioLog } from './_scenario.js';

/** Candidate worlds kept at most while interleavings stay ambiguous. */
export const MAX_WORLDS = 8;
/** Steps between two byte-by-byte comparisons of every mapped page. */
const BYTES_EVERY = 6;

export const FILES: readonly { readonly name: string; readonly size: number }[] = [
  { name: '/f0', size: 2 * PAGE },
  // A partial last page: its tail reads as zeros; the page after it raises SIGBUS.
  { name: '/f1', size: PAGE + 1234 },
];

/**
 * The bytes of named file `i`: differ between files, pages and offsets, and are never 0;
 * letters, digits, + and -, so that a scenario can spell them as a string.
 */
export function fileBytes(i: number, size: number): Uint8Array {
  const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+-';
  const b = new Uint8Array(size);
  for (let k = 0; k < size; k++) b[k] = chars.charCodeAt(((i + 1) * 67 + k * 13 + (k >>> 12) * 101) & 63);
  return b;
}

/** The named files' bytes, made once: every run starts from copies. */
const FILE_BYTES = FILES.map((f, i) => fileBytes(i, f.size));

/** Every byte offset a store from {@link OFFSETS} can write, to compare page contents at. */
const PEEK_OFFSETS = [...new Set(OFFSETS.flatMap((o) => [o, o + 1, o + 2, o + 3].map((x) => x % PAGE)))].sort((a, b) => a - b);

/** A concrete operation: what a resolved step does, on which thread and where. */
export type Call =
  | { readonly k: 'load'; readonly t: ThreadHandle; readonly pid: number; readonly va: number; readonly size: 1 | 2 | 4 }
  | { readonly k: 'store'; readonly t: ThreadHandle; readonly pid: number; readonly va: number; readonly size: 1 | 2 | 4; readonly value: number }
  | { readonly k: 'mmap'; readonly t: ThreadHandle; readonly pid: number; readonly addr: number; readonly pages: number; readonly prot: number; readonly shared: boolean; readonly file: number; readonly fileOff: number; readonly fixed: boolean; readonly populate: boolean; readonly fd: number }
  | { readonly k: 'munmap'; readonly t: ThreadHandle; readonly pid: number; readonly addr: number; readonly pages: number }
  | { readonly k: 'mprotect'; readonly t: ThreadHandle; readonly pid: number; readonly addr: number; readonly pages: number; readonly prot: number }
  | { readonly k: 'dontneed'; readonly t: ThreadHandle; readonly pid: number; readonly addr: number; readonly pages: number }
  | { readonly k: 'pkeyMprotect'; readonly t: ThreadHandle; readonly pid: number; readonly addr: number; readonly pages: number; readonly prot: number; readonly key: number }
  | { readonly k: 'pkruProtect'; readonly t: ThreadHandle; readonly pid: number; readonly addr: number; readonly pages: number; readonly key: number; readonly flags: number }
  | { readonly k: 'swapout'; readonly t: ThreadHandle; readonly pid: number; readonly start: number; readonly end: number };

const WHOLE = Number.MAX_SAFE_INTEGER;

function fmt(r: unknown): string {
  if (r === null) return 'null';
  if (r === undefined) return 'undefined';
  if (typeof r === 'number') return r >= 0x1000 ? hex(r) : String(r);
  if (isErrno(r)) return r.name;
  if (isSignal(r)) return `${r.signal} ${r.code} addr=${hex(r.addr)}${r.code === 'SEGV_PKUERR' ? ` pkey=${r.pkey}` : ''}`;
  if (r instanceof Error) return `${r.constructor.name}: ${r.message}`;
  return JSON.stringify(r) ?? typeof r;
}

const fmtFault = (f: Fault): string => `${f.signal} ${f.code} addr=${hex(f.addr)}${f.pkey !== undefined ? ` pkey=${f.pkey}` : ''}`;

function fmtExpected(e: Expected, write: boolean): string {
  if (!e.ok) return e.faults.map(fmtFault).join(' or ');
  return write ? 'success' : `bytes [${e.bytes.map((b) => (b < 0 ? '?' : hex(b))).join(', ')}]`;
}

/** A result as the model compares it: a value, an errno name. */
const asResult = (r: unknown): Result => (isErrno(r) ? r.name : (r as number));

/** Every order of 0..n-1. */
function permutations(n: number): number[][] {
  if (n === 1) return [[0]];
  const out: number[][] = [];
  for (const p of permutations(n - 1)) for (let i = 0; i <= p.length; i++) out.push([...p.slice(0, i), n - 1, ...p.slice(i)]);
  return out;
}

/**
 * oom_score_adj through the library; the two places the original commit 46aee4a lacks
 * (the header of stress.prop.test.ts says how it is run there).
 */
const oomScoreAdjOf = (h: ProcessHandle): number => h.process.oomScoreAdj;
const setOomScoreAdj = (h: ProcessHandle, value: number): unknown => h.setOomScoreAdj(value);

/** Counters over runs, printed with STRESS_STATS=1. */
export const stats = new Map<string, number>();
const count = (key: string, n = 1): void => void stats.set(key, (stats.get(key) ?? 0) + n);
const STATS = process.env.STRESS_STATS !== undefined;

export class Runner {
  readonly m: Machine;
  worlds: World[];
  readonly handles = new Map<number, ProcessHandle>();
  /** Each process's fd of each named file. */
  readonly fds = new Map<number, number[]>();
  /** The thread whose kernel path runs an interleaved swap-out: a process of its own, with nothing mapped. */
  readonly kswapd: ThreadHandle;
  /** The replay script, one statement per line. */
  readonly log: string[] = [];
  /** The same run as a scenario, where the language can say it. */
  readonly mms = new ScenarioLog();
  private steps = 0;

  constructor(readonly cfg: Config) {
    const opts = { os: cfg.os, cpus: cfg.cpus, memory: cfg.memory, swap: cfg.swap, tlbEntries: cfg.tlbEntries, variants: cfg.variants, invariants: 'throw' as const };
    this.m = new Machine(opts);
    this.log.push(`const m = new Machine(${JSON.stringify(opts)});`);
    this.mms.machine(cfg);
    const objs = FILES.map((f, i) => {
      const bytes = FILE_BYTES[i].slice();
      this.m.createFile(f.name, bytes);
      this.log.push(`m.createFile('${f.name}', fileBytes(${i}, ${f.size}));`);
      this.mms.file(f.name, bytes);
      return new MemObj(f.name, f.size, false, bytes);
    });
    this.worlds = [new World(cfg.os, cfg.variants.includes('pkru-swapout-bug'), objs)];
    this.kswapd = this.m.spawn('kswapd', 0).main;
    this.log.push(`const kswapd = m.spawn('kswapd', 0).main;`);
    this.mms.spawn(this.kswapd.thread.process.pid, this.kswapd.tid, 'kswapd', 0);
    for (const cpu of cfg.placement) {
      let h: ProcessHandle;
      try {
        h = this.m.spawn(`p${this.handles.size}`, cpu);
      } catch (e) {
        if (e instanceof OutOfMemoryError) break;
        throw e;
      }
      this.log.push(`P[${h.pid}] = m.spawn('p${this.handles.size}', ${cpu}); T[${h.main.tid}] = P[${h.pid}].main; ${FILES.map((f) => `T[${h.main.tid}].open('${f.name}', ${O_RDWR});`).join(' ')}`);
      this.mms.spawn(h.pid, h.main.tid, `p${this.handles.size}`, cpu);
      this.handles.set(h.pid, h);
      this.fds.set(
        h.pid,
        FILES.map((f) => {
          const fd = h.main.open(f.name, O_RDWR);
          if (typeof fd !== 'number') throw new Error(`open ${f.name}: ${fmt(fd)}`);
          this.mms.op(h.main.tid, `open ${f.name}`).expect = expectation(fd);
          return fd;
        }),
      );
      for (const w of this.worlds) w.spawn(h.pid, h.main.tid);
    }
  }

  /** The run as a library script, to paste into a file at the repository root and run with node. */
  script(): string {
    return [
      `import { Machine } from './dist/src/index.js';`,
      `import { swapOutProcess } from './dist/src/mm/reclaim.js';`,
      `const fileBytes = ${fileBytes.toString()};`,
      `function* swapOutPath(t, p, start, end) { yield t.thread.ctx.at('vma', 'swap-out'); return swapOutProcess(m.kernel, p.process.mm, start, end); }`,
      `const P = {}, T = {};`,
      ...this.log,
    ].join('\n');
  }

  /** The run as a scenario ending with `failure`, or why the language cannot say it. */
  scenario(failure: string): string {
    const s = this.mms.print(failure);
    return 'text' in s ? s.text : `(no scenario: the language cannot express ${s.missing}; the library script is the replay)`;
  }

  private get w0(): World {
    return this.worlds[0];
  }

  // ---- resolving selectors -----------------------------------------------------------

  private livePids(): number[] {
    return [...this.w0.procs.keys()].sort((a, b) => a - b);
  }

  private pidOf(who: Who): number | null {
    const pids = this.livePids();
    return pids.length ? pids[who % pids.length] : null;
  }

  private threadOf(pid: number, who: Who): ThreadHandle {
    const live = this.handles.get(pid)!.threads.filter((t) => t.alive);
    return live[Math.floor(who / 8) % live.length];
  }

  private addr(pid: number, sel: AddrSel): number {
    if (sel.mapped) {
      const pages = this.w0.proc(pid).pm.mappedPages();
      if (pages.length) return pages[sel.n % pages.length];
    }
    return ARENA + (sel.n % ARENA_PAGES) * PAGE;
  }

  /** A key for pkey_mprotect / pkey_set: one the process allocated (Linux), or the generated one. */
  private key(pid: number, key: number): number {
    if (this.cfg.os !== 'linux') return key;
    const pm = this.w0.proc(pid).pm;
    const keys: number[] = [];
    for (let k = 1; k < 16; k++) if (pm.keyIsAllocated(k)) keys.push(k);
    return keys.length ? keys[key % keys.length] : key;
  }

  private resolve(op: PathOp, t: ThreadHandle, pid: number): Call {
    switch (op.t) {
      case 'load':
        return { k: 'load', t, pid, va: this.addr(pid, op.a) + op.off, size: 1 };
      case 'store':
        return { k: 'store', t, pid, va: this.addr(pid, op.a) + op.off, size: 1, value: op.value };
      case 'munmap':
        return { k: 'munmap', t, pid, addr: this.addr(pid, op.a), pages: op.n };
      case 'mprotect':
        return { k: 'mprotect', t, pid, addr: this.addr(pid, op.a), pages: op.n, prot: op.prot };
      case 'dontneed':
        return { k: 'dontneed', t, pid, addr: this.addr(pid, op.a), pages: op.n };
      case 'mmap': {
        const file = op.kind === 'fpriv' || op.kind === 'fshared' ? op.file : -1;
        return {
          k: 'mmap',
          t,
          pid,
          addr: op.fixed ? this.addr(pid, op.a) : 0,
          pages: op.n,
          prot: op.prot,
          shared: op.kind === 'shanon' || op.kind === 'fshared',
          file,
          fileOff: op.fileOff,
          fixed: op.fixed,
          populate: op.populate,
          fd: file >= 0 ? this.fds.get(pid)![file] : -1,
        };
      }
      case 'keyprot': {
        const addr = this.addr(pid, op.a);
        if (this.cfg.os === 'linux') return { k: 'pkeyMprotect', t, pid, addr, pages: op.n, prot: op.prot, key: this.key(pid, op.key) };
        return { k: 'pkruProtect', t, pid, addr, pages: op.n, key: op.key, flags: op.flags & (AMD64_PKRU_EXCL | AMD64_PKRU_PERSIST) };
      }
      case 'swapout': {
        if (op.whole) return { k: 'swapout', t: this.kswapd, pid, start: 0, end: WHOLE };
        const a = this.addr(pid, op.a);
        return { k: 'swapout', t: this.kswapd, pid, start: a + op.startOff, end: a + op.n * PAGE + op.endOff };
      }
    }
  }

  // ---- running calls -----------------------------------------------------------------

  private mmapFlags(c: Extract<Call, { k: 'mmap' }>): number {
    return (c.shared ? MAP_SHARED : MAP_PRIVATE) | (c.file < 0 ? MAP_ANONYMOUS : 0) | (c.fixed ? MAP_FIXED : 0) | (c.populate ? MAP_POPULATE : 0);
  }

  /** The call as a line of the replay script (`path`: as a kernel path for interleave). */
  private text(c: Call, path: boolean): string {
    const T = `T[${c.t.tid}]${path ? '.paths' : ''}`;
    switch (c.k) {
      case 'load':
        return path ? `${T}.load(${hex(c.va)})` : `${T}.load(${hex(c.va)}, ${c.size})`;
      case 'store':
        return path ? `${T}.store(${hex(c.va)}, ${hex(c.value)})` : `${T}.store(${hex(c.va)}, ${hex(c.value)}, ${c.size})`;
      case 'mmap':
        return `${T}.mmap(${hex(c.addr)}, ${c.pages * PAGE}, ${c.prot}, ${hex(this.mmapFlags(c))}, ${c.fd}, ${c.file >= 0 ? c.fileOff * PAGE : 0})`;
      case 'munmap':
        return `${T}.munmap(${hex(c.addr)}, ${c.pages * PAGE})`;
      case 'mprotect':
        return `${T}.mprotect(${hex(c.addr)}, ${c.pages * PAGE}, ${c.prot} /* ${protStr(c.prot)} */)`;
      case 'dontneed':
        return `${T}.madvise(${hex(c.addr)}, ${c.pages * PAGE}, ${MADV_DONTNEED})`;
      case 'pkeyMprotect':
        return `${T}.pkeyMprotect(${hex(c.addr)}, ${c.pages * PAGE}, ${c.prot}, ${c.key})`;
      case 'pkruProtect':
        return `${T}.pkruProtectRange(${hex(c.addr)}, ${c.pages * PAGE}, ${c.key}, ${c.flags})`;
      case 'swapout':
        return path ? `swapOutPath(kswapd, P[${c.pid}], ${hex(c.start)}, ${hex(c.end)})` : `P[${c.pid}].swapOut(${hex(c.start)}, ${c.end === WHOLE ? 'Number.MAX_SAFE_INTEGER' : hex(c.end)})`;
    }
  }

  /** The call as a statement of the scenario language (`path`: inside a concurrent block, where loads and stores are one byte). */
  private statement(c: Call, path: boolean): string {
    const S = ScenarioLog;
    switch (c.k) {
      case 'load':
        return path ? `load ${hex(c.va)}` : `load ${hex(c.va)} size=${c.size}`;
      case 'store':
        return path ? `store ${hex(c.va)} ${hex(c.value)}` : `store ${hex(c.va)} ${hex(c.value)} size=${c.size}`;
      case 'mmap':
        return `mmap ${c.pages * PAGE} ${S.prot(c.prot)} ${S.mmapWords(this.mmapFlags(c))}${c.addr ? ` at=${hex(c.addr)}` : ''}${c.fd >= 0 ? ` fd=${c.fd} offset=${c.fileOff * PAGE}` : ''}`;
      case 'munmap':
        return `munmap ${hex(c.addr)} ${c.pages * PAGE}`;
      case 'mprotect':
        return `mprotect ${hex(c.addr)} ${c.pages * PAGE} ${S.prot(c.prot)}`;
      case 'dontneed':
        return `madvise ${hex(c.addr)} ${c.pages * PAGE} dontneed`;
      case 'pkeyMprotect':
        return `pkey_mprotect ${hex(c.addr)} ${c.pages * PAGE} ${S.prot(c.prot)} ${c.key}`;
      case 'pkruProtect':
        return `x86_pkru_protect_range ${hex(c.addr)} ${c.pages * PAGE} ${c.key} flags=${c.flags}`;
      case 'swapout':
        return c.end === WHOLE ? `swapout ${this.mms.procOf(c.pid)}` : `swapout ${this.mms.procOf(c.pid)} ${hex(c.start)} ${c.end - c.start}`;
    }
  }

  /** Runs a call to completion. */
  private exec(c: Call): unknown {
    const t = c.t;
    switch (c.k) {
      case 'load':
        return t.load(c.va, c.size);
      case 'store':
        return t.store(c.va, c.value, c.size);
      case 'mmap':
        return t.mmap(c.addr, c.pages * PAGE, c.prot, this.mmapFlags(c), c.fd, c.file >= 0 ? c.fileOff * PAGE : 0);
      case 'munmap':
        return t.munmap(c.addr, c.pages * PAGE);
      case 'mprotect':
        return t.mprotect(c.addr, c.pages * PAGE, c.prot);
      case 'dontneed':
        return t.madvise(c.addr, c.pages * PAGE, MADV_DONTNEED);
      case 'pkeyMprotect':
        return t.pkeyMprotect(c.addr, c.pages * PAGE, c.prot, c.key);
      case 'pkruProtect':
        return t.pkruProtectRange(c.addr, c.pages * PAGE, c.key, c.flags);
      case 'swapout':
        try {
          return this.handles.get(c.pid)!.swapOut(c.start, c.end);
        } catch (e) {
          // A library that rejects an unaligned range (a typed RangeError) changes nothing.
          if (e instanceof RangeError) return e;
          throw e;
        }
    }
  }

  /** The call as a kernel path (loads and stores are one byte there). */
  private path(c: Call): KernelPath<unknown> {
    const p = c.t.paths;
    switch (c.k) {
      case 'load':
        return p.load(c.va);
      case 'store':
        return p.store(c.va, c.value);
      case 'mmap':
        return p.mmap(c.addr, c.pages * PAGE, c.prot, this.mmapFlags(c), c.fd, c.file >= 0 ? c.fileOff * PAGE : 0);
      case 'munmap':
        return p.munmap(c.addr, c.pages * PAGE);
      case 'mprotect':
        return p.mprotect(c.addr, c.pages * PAGE, c.prot);
      case 'dontneed':
        return p.madvise(c.addr, c.pages * PAGE, MADV_DONTNEED);
      case 'pkeyMprotect':
        return p.pkeyMprotect(c.addr, c.pages * PAGE, c.prot, c.key);
      case 'pkruProtect':
        return p.pkruProtectRange(c.addr, c.pages * PAGE, c.key, c.flags);
      case 'swapout':
        return this.swapOutPath(c);
    }
  }

  /** A process swap-out as a kernel path of kswapd: one preemption point, then the whole swap-out (as reclaim runs inside any allocation). */
  private *swapOutPath(c: Extract<Call, { k: 'swapout' }>): KernelPath<unknown> {
    yield this.kswapd.thread.ctx.at('vma', 'swap-out');
    const h = this.handles.get(c.pid)!;
    return h.alive ? swapOutProcess(this.m.kernel, h.process.mm, c.start, c.end) : 0;
  }

  /** What the model says a call returns, in world `w`, given what mmsim returned; throws Mismatch when `actual` is not it. */
  private model(w: World, c: Call, actual: unknown): void {
    const expect = (want: Result): void => {
      if (asResult(actual) !== want) throw new Mismatch(`${this.text(c, false)} returned ${fmt(actual)}, the model says ${fmt(want)}`);
    };
    switch (c.k) {
      case 'load':
      case 'store': {
        const write = c.k === 'store';
        const e = w.access(c.pid, c.t.tid, c.va, c.size, write, write ? c.value : 0);
        const bad = (): Mismatch => new Mismatch(`${this.text(c, false)} gave ${fmt(actual)}, the model says ${fmtExpected(e, write)}`);
        if (!e.ok) {
          if (!isSignal(actual) || !e.faults.some((f) => f.signal === actual.signal && f.code === actual.code && f.addr === actual.addr && (f.pkey === undefined || f.pkey === actual.pkey))) throw bad();
          return;
        }
        if (write) {
          if (actual !== null) throw bad();
          return;
        }
        if (typeof actual !== 'number') throw bad();
        let v = actual;
        for (let i = 0; i < c.size; i++) {
          if (e.bytes[i] >= 0 && e.bytes[i] !== v % 256) throw bad();
          v = Math.floor(v / 256);
        }
        return;
      }
      case 'mmap':
        return expect(w.mmap(c.pid, c.t.tid, c.addr, c.pages, c.prot, c.shared, c.file, c.fileOff, c.fixed, asResult(actual)));
      case 'munmap':
        return expect(w.munmap(c.pid, c.addr, c.pages));
      case 'mprotect':
        return expect(w.mprotect(c.pid, c.t.tid, c.addr, c.pages, c.prot));
      case 'dontneed':
        return expect(w.madviseDontneed(c.pid, c.addr, c.pages));
      case 'pkeyMprotect':
        return expect(w.pkeyMprotect(c.pid, c.t.tid, c.addr, c.pages, c.prot, c.key));
      case 'pkruProtect':
        return expect(w.pkruProtect(c.pid, c.addr / PAGE, c.pages, c.key, (c.flags & AMD64_PKRU_EXCL) !== 0, (c.flags & AMD64_PKRU_PERSIST) !== 0));
      case 'swapout':
        if (actual instanceof RangeError) return;
        return w.swapOut(c.pid, c.start, c.end);
    }
  }

  /** Keeps the worlds in which `check` holds; throws the last reason when none is left. */
  private filter(what: string, check: (w: World) => void): void {
    let reason: Error | null = null;
    const kept = this.worlds.filter((w) => {
      try {
        check(w);
        return true;
      } catch (e) {
        if (!(e instanceof Mismatch)) throw e;
        reason = e;
        return false;
      }
    });
    if (kept.length === 0) {
      const n = this.worlds.length;
      throw new Mismatch(`[model: ${what}] ${reason!.message}${n > 1 ? ` (and in the ${n - 1} other candidate worlds)` : ''}`);
    }
    this.worlds = kept;
  }

  /**
   * Drops processes the OOM killer took from every world; any other death is a mismatch.
   * `running`: the processes whose threads ran the step. A process at oom_score_adj -1000
   * is never the OOM killer's victim (Linux oom_badness() gives OOM_SCORE_ADJ_MIN tasks
   * LONG_MIN; FreeBSD vm_pageout_oom() skips P_PROTECTED): it may only die of its own
   * allocation finding nothing else to kill, in a step it ran.
   */
  private reap(running: ReadonlySet<number> = new Set()): void {
    for (const pid of this.livePids()) {
      const h = this.handles.get(pid)!;
      if (h.alive) continue;
      const why = h.exitReason;
      if (!why || why.kind !== 'killed' || !why.why.startsWith('out of memory')) throw new Mismatch(`[model: process life] pid ${pid} ended unexpectedly: ${JSON.stringify(why)}`);
      if (this.w0.proc(pid).oomScoreAdj === OOM_SCORE_ADJ_MIN && (why.why === 'out of memory' || !running.has(pid))) {
        throw new Mismatch(`[model: oom] pid ${pid} has oom_score_adj -1000, yet it was killed (${why.why})${running.has(pid) ? '' : ' in a step it did not run'}`);
      }
      this.log.push(`// pid ${pid} was OOM-killed here`);
      if (STATS) count('oom kills');
      for (const w of this.worlds) w.exit(pid);
    }
  }

  private runCall(c: Call): void {
    const line = this.text(c, false);
    this.log.push(`${line};`);
    const stmt = c.k === 'swapout' ? this.mms.top(this.statement(c, false)) : this.mms.op(c.t.tid, this.statement(c, false));
    const actual = this.exec(c);
    this.log[this.log.length - 1] += ` // => ${fmt(actual)}`;
    stmt.expect = expectation(actual);
    if (actual instanceof RangeError) this.mms.cannot('a swap-out range the library refused');
    this.reap(new Set(c.t === this.kswapd ? [] : [c.pid]));
    if (!this.w0.procs.has(c.pid)) return;
    this.filter(c.k, (w) => this.model(w, c, actual));
    if (STATS) count(`${c.k}${c.k === 'load' || c.k === 'store' ? c.size : ''} ${isSignal(actual) ? actual.code : isErrno(actual) ? actual.name : 'ok'}`);
  }

  // ---- steps -------------------------------------------------------------------------

  step(op: Op): void {
    this.steps++;
    if (op.t === 'reclaim') {
      this.log.push(`m.reclaim(${op.n});`);
      const stmt = this.mms.top(`reclaim ${op.n}`);
      stmt.expect = expectation(this.m.reclaim(op.n));
      this.reap();
      return;
    }
    if (op.t === 'conc') return this.conc(op);
    const pid = this.pidOf(op.who);
    if (pid === null) return;
    const t = this.threadOf(pid, op.who);
    const h = this.handles.get(pid)!;
    switch (op.t) {
      case 'access': {
        const va = this.addr(pid, op.a) + op.off;
        const value = op.value % 2 ** (8 * op.size);
        return this.runCall(op.write ? { k: 'store', t, pid, va, size: op.size, value } : { k: 'load', t, pid, va, size: op.size });
      }
      case 'keyprot':
        // A key to protect with, first, so that keyed pages are common.
        if (this.cfg.os === 'linux' && this.key(pid, op.key) === op.key && op.key !== 0) this.keyAlloc(pid, t, op.flags);
        return this.runCall(this.resolve(op, t, pid));
      case 'keyalloc':
        if (this.cfg.os === 'linux') return this.keyAlloc(pid, t, op.rights);
        return this.keySet(pid, t, op.who % 3, op.rights);
      case 'keyset':
        return this.keySet(pid, t, this.key(pid, op.key), op.rights);
      case 'unprotect': {
        if (this.cfg.os === 'linux') {
          const key = this.key(pid, op.n);
          return this.sys(t, `T[${t.tid}].pkeyFree(${key})`, `pkey_free ${key}`, () => t.pkeyFree(key), (w) => w.proc(pid).pm.pkeyFree(key));
        }
        const a = this.addr(pid, op.a);
        return this.sys(t, `T[${t.tid}].pkruUnprotectRange(${hex(a)}, ${op.n * PAGE})`, `x86_pkru_unprotect_range ${hex(a)} ${op.n * PAGE}`, () => t.pkruUnprotectRange(a, op.n * PAGE), (w) => w.pkruUnprotect(pid, a / PAGE, op.n));
      }
      case 'fork': {
        if (this.livePids().length >= MAX_PROCS) return;
        const cpu = op.cpu % this.cfg.cpus;
        this.log.push(`P.fork = T[${t.tid}].fork(${cpu});`);
        let c: ReturnType<ThreadHandle['fork']>;
        try {
          c = t.fork(cpu);
        } catch (e) {
          this.mms.fork(t.tid, cpu, null);
          throw e;
        }
        this.mms.fork(t.tid, cpu, isErrno(c) ? null : { pid: c.pid, tid: c.main.tid }).expect = expectation(c);
        this.reap(new Set([pid]));
        if (isErrno(c)) {
          // dup_mmap() failing half-way: no child, and nothing the parent can see changed.
          if (c.name !== 'ENOMEM') throw new Mismatch(`[model: fork] fork failed with ${c.name}`);
          this.log[this.log.length - 1] += ' // => ENOMEM';
          if (STATS) count(this.w0.procs.has(pid) && this.w0.proc(pid).oomScoreAdj === OOM_SCORE_ADJ_MIN ? 'fork ENOMEM, parent exempt' : 'fork ENOMEM');
          return;
        }
        this.log[this.log.length - 1] = `P[${c.pid}] = T[${t.tid}].fork(${cpu}); T[${c.main.tid}] = P[${c.pid}].main;`;
        this.handles.set(c.pid, c);
        this.fds.set(c.pid, this.fds.get(pid)!);
        if (STATS) count('fork ok');
        if (!this.w0.procs.has(pid)) return;
        for (const w of this.worlds) {
          w.fork(pid, t.tid, c.pid, c.main.tid);
          if (!c.alive) w.exit(c.pid);
        }
        const adj = this.w0.proc(pid).oomScoreAdj;
        if (c.alive && this.cfg.os === 'linux' && oomScoreAdjOf(c) !== adj) {
          // Linux copy_signal() gives the child the parent's oom_score_adj; mmsim's fork does
          // not (yet): set it, so that the model's exemption holds for the child too.
          this.log.push(`P[${c.pid}].setOomScoreAdj(${adj}); // copy_signal() inherits it; mmsim's fork does not`);
          this.mms.cannot('oom_score_adj');
          setOomScoreAdj(c, adj);
          if (STATS) count('fork: oom_score_adj not inherited');
        }
        return;
      }
      case 'oomadj':
        return this.sys(null, `P[${pid}].setOomScoreAdj(${op.value})`, null, () => setOomScoreAdj(h, op.value), (w) => w.setOomScoreAdj(pid, op.value));
      case 'exit':
        if (this.livePids().length <= 1) return;
        this.log.push(`P[${pid}].exit();`);
        this.mms.op(h.main.tid, 'exit');
        h.exit();
        for (const w of this.worlds) w.exit(pid);
        return;
      case 'thread': {
        if (h.threads.filter((x) => x.alive).length >= MAX_THREADS) return;
        const cpu = op.cpu % this.cfg.cpus;
        const samePkru = t.pkru === h.main.pkru;
        const nt = h.spawnThread(cpu, t);
        this.log.push(`T[${nt.tid}] = P[${pid}].spawnThread(${cpu}, T[${t.tid}]);`);
        this.mms.thread(pid, nt.tid, cpu, samePkru);
        for (const w of this.worlds) w.thread(pid, t.tid, nt.tid);
        return;
      }
      default:
        return this.runCall(this.resolve(op, t, pid));
    }
  }

  /** A system call outside {@link Call} (keys, oom_score_adj): run, log (`stmt`: in the scenario language, by `t`; null: it has none), check. */
  private sys(t: ThreadHandle | null, text: string, stmt: string | null, run: () => unknown, model: (w: World) => Result): void {
    this.log.push(`${text};`);
    const line = t && stmt !== null ? this.mms.op(t.tid, stmt) : null;
    if (!line) this.mms.cannot(text.replace(/^[TP]\[\d+\]\./, '').replace(/\(.*/, ''));
    const actual = run();
    this.log[this.log.length - 1] += ` // => ${fmt(actual)}`;
    if (line) line.expect = expectation(actual);
    this.filter(text.replace(/^[TP]\[\d+\]\./, '').replace(/\(.*/, ''), (w) => {
      const want = model(w);
      if (asResult(actual) !== want) throw new Mismatch(`${text} returned ${fmt(actual)}, the model says ${fmt(want)}`);
    });
  }

  private keyAlloc(pid: number, t: ThreadHandle, rights: number): void {
    this.sys(t, `T[${t.tid}].pkeyAlloc(0, ${rights & 3})`, `pkey_alloc flags=0 rights=${rights & 3}`, () => t.pkeyAlloc(0, rights & 3), (w) => w.pkeyAlloc(pid, t.tid, rights & 3));
  }

  private keySet(pid: number, t: ThreadHandle, key: number, rights: number): void {
    if (this.cfg.os === 'linux') return this.sys(t, `T[${t.tid}].pkeySet(${key}, ${rights})`, `pkey_set ${key} ${ScenarioLog.rights(rights)}`, () => t.pkeySet(key, rights), (w) => w.pkeySet(pid, t.tid, key, rights));
    const access = (rights & 1) === 0;
    const modify = (rights & 2) === 0;
    this.sys(t, `T[${t.tid}].pkruSetPerm(${key}, ${access}, ${modify})`, `x86_pkru_set_perm ${key} ${access ? 1 : 0} ${modify ? 1 : 0}`, () => t.pkruSetPerm(key, access, modify), (w) => w.pkruSetPerm(pid, t.tid, key, access, modify));
  }

  /** Picks a distinct thread for each path, leaning towards the pairing asked for. */
  private pickThreads(op: Extract<Op, { t: 'conc' }>): { calls: Call[] } {
    const calls: Call[] = [];
    const used = new Set<number>();
    const all = this.livePids().flatMap((pid) => this.handles.get(pid)!.threads.filter((t) => t.alive).map((t) => ({ pid, t })));
    let first: { pid: number; t: ThreadHandle } | null = null;
    for (const p of op.paths) {
      if (p.t === 'swapout') {
        if (used.has(this.kswapd.tid)) continue;
        const pid = this.pidOf(p.who);
        if (pid === null) continue;
        used.add(this.kswapd.tid);
        calls.push(this.resolve(p, this.kswapd, pid));
        continue;
      }
      const free = all.filter((x) => !used.has(x.t.tid));
      if (free.length === 0) continue;
      let pool = free;
      const pairing: Pairing = op.pairing;
      if (first && pairing !== 'any') {
        const f = first;
        const sameCpu = free.filter((x) => x.t.cpu === f.t.cpu);
        const want = pairing === 'same-cpu-other-process' ? sameCpu.filter((x) => x.pid !== f.pid) : sameCpu.filter((x) => x.pid === f.pid);
        if (pairing === 'other-cpu') {
          const others = free.filter((x) => !calls.some((c) => c.t.cpu === x.t.cpu));
          pool = others;
        } else {
          pool = want.length ? want : sameCpu.length ? sameCpu : free;
        }
        if (pool.length === 0) continue;
      }
      const pick: { pid: number; t: ThreadHandle } = first === null ? (free.find((x) => x.pid === this.pidOf(p.who) && x.t === this.threadOf(x.pid, p.who)) ?? pool[0]) : pool[p.who % pool.length];
      first ??= pick;
      used.add(pick.t.tid);
      calls.push(this.resolve(p, pick.t, pick.pid));
    }
    return { calls };
  }

  /** An interleaved step: 2 or 3 kernel paths of different threads under a random schedule, then round-robin. */
  private conc(op: Extract<Op, { t: 'conc' }>): void {
    const { calls } = this.pickThreads(op);
    if (calls.length === 0) return;
    if (calls.length === 1) return this.runCall(calls[0]);
    const tids = calls.map((c) => c.t.tid);
    const schedule = op.schedule.map((i) => tids[i % tids.length]);
    const boxes: { done: boolean; v: unknown }[] = calls.map(() => ({ done: false, v: undefined }));
    const wrap = function* (path: KernelPath<unknown>, box: { done: boolean; v: unknown }): KernelPath<unknown> {
      box.v = yield* path;
      box.done = true;
      return box.v;
    };
    const entries = calls.map((c, i) => [c.t, wrap(this.path(c), boxes[i])] as const);
    this.log.push(`m.interleave([${calls.map((c) => `[T[${c.t.tid}], ${this.text(c, true)}]`).join(', ')}], [${schedule.join(', ')}]);`);
    if (calls.some((c) => c.t === this.kswapd)) this.mms.cannot('an interleaved swap-out');
    // The steps the schedule forced: a schedule longer than the paths stops where it could not be followed.
    let forced = schedule.length;
    try {
      this.m.interleave(entries, schedule);
    } catch (e) {
      // A schedule longer than the paths: they ran to their ends anyway; check what interleave would have.
      if (!(e instanceof ScheduleError) || e.position < 0) throw e;
      forced = e.position;
      const v = this.m.checkInvariants();
      if (v.length) throw new Mismatch(`[invariant] after the interleaving: ${v.map((x) => `[${x.id}] ${x.message}`).join('; ')}`);
    } finally {
      const lines = this.mms.concurrent(
        calls.map((c) => ({ tid: c.t.tid, text: c.t === this.kswapd ? '' : this.statement(c, true) })),
        schedule.slice(0, forced),
      );
      boxes.forEach((b, i) => {
        if (b.done) lines[i].expect = expectation(b.v);
      });
    }
    this.log[this.log.length - 1] += ` // => ${boxes.map((b) => fmt(b.v)).join(', ')}`;
    if (STATS) count(`conc ${calls.length} ${new Set(calls.map((c) => c.t.cpu)).size === 1 ? 'same-cpu' : 'cpus'} ${new Set(calls.map((c) => c.pid)).size === 1 ? 'one-process' : 'processes'}`);
    this.reap(new Set(calls.filter((c) => c.t !== this.kswapd).map((c) => c.pid)));
    if (this.worlds.length === 1 && this.commute(calls)) {
      // Paths of different processes that share nothing: every order ends the same, so one is enough.
      const w = this.w0;
      this.filter('interleaving', (x) => {
        for (let i = 0; i < calls.length; i++) if (x.procs.has(calls[i].pid)) this.model(x, calls[i], boxes[i].v);
      });
      if (this.worlds[0] !== w) throw new Error('stress driver bug');
      return;
    }
    const next: World[] = [];
    let reason: Error | null = null;
    const orders = permutations(calls.length);
    for (const w of this.worlds) {
      for (const order of orders) {
        if (next.length >= MAX_WORLDS) break;
        const c = w.clone();
        try {
          for (const i of order) if (c.procs.has(calls[i].pid)) this.model(c, calls[i], boxes[i].v);
          next.push(c);
        } catch (e) {
          if (!(e instanceof Mismatch)) throw e;
          reason = e;
        }
      }
    }
    if (next.length === 0) throw new Mismatch(`[model: interleaving matches no serial order] e.g. ${reason!.message}`);
    this.worlds = next;
  }

  /** True when the calls are of different processes and none of them can reach memory another process may map. */
  private commute(calls: readonly Call[]): boolean {
    if (new Set(calls.map((c) => c.pid)).size !== calls.length) return false;
    const w = this.w0;
    return calls.every((c) => {
      if (c.k === 'mmap') return !c.shared && c.file < 0;
      if (c.k === 'swapout' || !w.procs.has(c.pid)) return c.k === 'swapout' ? w.os === 'linux' || !w.dropKeysOnRemove : true;
      const pm = w.proc(c.pid).pm;
      const [start, end] = c.k === 'load' || c.k === 'store' ? [c.va, c.va + 1] : [c.addr, c.addr + c.pages * PAGE];
      for (let a = start - (start % PAGE); a < end; a += PAGE) if (pm.entry(a)?.b.kind === 'shared') return false;
      return true;
    });
  }

  // ---- checks ------------------------------------------------------------------------

  /** After every step: the candidates must agree with what the machine shows. */
  check(): void {
    const obs = this.livePids().map((pid) => {
      const h = this.handles.get(pid)!;
      const maps = parseMaps(h.maps());
      const keys = this.cfg.os === 'linux' ? maps.map((v) => ({ start: v.start, end: v.end, pkey: h.vma(v.start)!.pkey })) : [];
      const ranges = this.cfg.os === 'freebsd' ? [...(PkruRangeSet.of(h.process.mm.pmap)?.entries() ?? [])] : [];
      const threads = h.threads.filter((t) => t.alive).map((t) => [t.tid, t.pkru] as const);
      return { pid, h, maps, keys, ranges, threads };
    });
    const bytes = this.steps % BYTES_EVERY === 0;
    const peeks = new Map<number, number | undefined>();
    this.filter('state', (w) => {
      for (const o of obs) {
        w.checkMaps(o.pid, o.maps, o.keys);
        if (this.cfg.os === 'freebsd') w.checkRanges(o.pid, o.ranges);
        const pm = w.proc(o.pid).pm;
        if (o.threads.length !== pm.pkru.size) throw new Mismatch(`pid ${o.pid} has ${o.threads.length} live threads, the model ${pm.pkru.size}`);
        for (const [tid, pkru] of o.threads) if (pkru !== pm.pkruOf(tid)) throw new Mismatch(`tid ${tid} has PKRU ${hex(pkru)}, the model says ${hex(pm.pkruOf(tid))}`);
        if (bytes) this.checkBytes(w, o.pid, o.h, peeks);
      }
    });
  }

  /** Every mapped page's bytes at the offsets stores reach, read with peek (no fault, no state change). */
  private checkBytes(w: World, pid: number, h: ProcessHandle, peeks: Map<number, number | undefined>): void {
    const pm = w.proc(pid).pm;
    for (const page of pm.mappedPages()) {
      const e = pm.entry(page)!;
      const b = e.b;
      if (b.kind !== 'anon' && !(b.kind === 'priv' && b.data) && b.index >= b.obj.pages) continue;
      for (const off of PEEK_OFFSETS) {
        const va = page + off;
        const key = pid * 2 ** 48 + va;
        let got = peeks.get(key);
        if (!peeks.has(key)) peeks.set(key, (got = h.peek(va)));
        const want = pm.readByte(va);
        if (want >= 0 && got !== want) throw new Mismatch(`pid ${pid}: byte ${hex(va)} is ${got === undefined ? 'unreadable' : hex(got)}, the model says ${hex(want)}`);
      }
    }
  }

  /** At the end: bytes once more, then every process exits; nothing but the named files' page cache may stay allocated. */
  finish(): void {
    this.steps = 0;
    this.check();
    this.log.push(`for (const p of [...Object.values(P), kswapd.machine.processes[0]]) p.exit();`);
    this.mms.exitAll([...[...this.handles.values()].filter((h) => h.alive).map((h) => h.pid), this.kswapd.thread.process.pid]);
    for (const h of this.handles.values()) h.exit();
    this.kswapd.machine.processes.forEach((p) => p.exit());
    this.log.push(`console.log(m.counters().machine, m.checkInvariants());`);
    const c = this.m.counters().machine;
    const problems: string[] = [];
    if (c.swapUsed !== 0) problems.push(`${c.swapUsed} swap slots still used`);
    if (c.pageTables !== 0) problems.push(`${c.pageTables} page tables still live`);
    let fileCache = 0;
    for (const f of this.m.kernel.files.values()) fileCache += f.cache.size;
    // Frame 0 is reserved; one frame is the zero page.
    const used = c.frames - c.freeFrames - 2;
    if (used !== fileCache) problems.push(`${used} frames in use, but the named files cache only ${fileCache}`);
    const v = this.m.checkInvariants();
    if (v.length) problems.push(...v.map((x) => `[${x.id}] ${x.message}`));
    if (problems.length) throw new Mismatch(`[accounting after every process exited] ${problems.join('; ')}`);
  }
}

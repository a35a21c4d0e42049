/**
 * The stress run as a scenario (docs/scenario-language.md), next to the library script:
 * the driver reports every step here as it runs it, and when every step has an
 * equivalent statement the printed `.mms` replays the run call for call. Each statement
 * expects what the run saw (`=> …`), so a replay that drifted from the run shows at the
 * first line where it did; after the failing step come the failure as a comment and, for
 * a broken invariant, `require invariant ID`.
 *
 * Steps without an equivalent make the whole run inexpressible (the library script is
 * then the replay): oom_score_adj writes, an interleaved swap-out (the language's
 * `swapout` is no kernel path with a preemption point first), a thread made by a thread
 * whose PKRU differs from its main thread's (the language clones the main thread), and
 * a swap-out the library refused.
 */
import { isErrno, isSignal, MAP_ANONYMOUS, MAP_FIXED, MAP_POPULATE, MAP_PRIVATE, MAP_SHARED, ProcessHandle } from '../../src/index.js';
import { hex, protStr } from '../mm/_model.js';

/** What the language cannot say, or null. */
type Missing = string | null;

interface Line {
  text: string;
  /** The expectation, once the step has returned. */
  expect: string | null;
}

/** The invariant ids a scenario condition can name. */
const INVARIANTS = ['no-excess-rights', 'no-stale-tlb', 'no-pt-use-after-free', 'no-wx', 'keys-enforced', 'accounting'] as const;

/** `=> …` for what a call returned; null when it returns nothing to check. */
export function expectation(r: unknown): string | null {
  if (r === null) return 'ok';
  if (r instanceof ProcessHandle) return 'ok';
  if (typeof r === 'number') return r >= 0x1000 ? hex(r) : String(r);
  if (isErrno(r)) return r.name;
  if (isSignal(r)) {
    if (r.signal === 'SIGKILL') return 'SIGKILL';
    return `${r.signal} ${r.code} addr=${hex(r.addr)}${r.code === 'SEGV_PKUERR' ? ` key=${r.pkey}` : ''}`;
  }
  return null;
}

/** A size as the language writes it. */
const size = (n: number): string => (n > 0 && n % 1024 === 0 ? `${n / 1024}K` : String(n));

/** The literals of byte strings seen before: every run has the same files. */
const literals = new Map<string, string | null>();

/** A string literal holding `bytes` exactly, or null when it cannot (the language stores text as UTF-8). */
function literal(bytes: Uint8Array): string | null {
  const key = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  let s = literals.get(key);
  if (s === undefined) literals.set(key, (s = spell(bytes)));
  return s;
}

function spell(bytes: Uint8Array): string | null {
  let s = '"';
  for (const b of bytes) {
    if (b >= 0x80) return null;
    s += b === 0x22 || b === 0x5c ? `\\${String.fromCharCode(b)}` : b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`;
  }
  return `${s}"`;
}

export class ScenarioLog {
  private readonly head: string[] = [];
  private readonly body: (Line | string)[] = [];
  /** The block the last statement went into (a thread name), or null after a top-level line. */
  private block: string | null = null;
  private readonly procName = new Map<number, string>();
  private readonly threadName = new Map<number, string>();
  private missing: Missing = null;
  private forks = 0;

  machine(opts: { readonly os: string; readonly cpus: number; readonly memory: number; readonly swap: number; readonly tlbEntries: number; readonly variants: readonly string[] }): void {
    this.head.push(`machine x86_64 os=${opts.os} cpus=${opts.cpus} memory=${size(opts.memory)} swap=${size(opts.swap)} tlb=${opts.tlbEntries}${opts.variants.map((v) => ` variant=${v}`).join('')}`);
  }

  file(name: string, bytes: Uint8Array): void {
    const s = literal(bytes);
    if (s === null) this.cannot(`the contents of ${name}`);
    this.head.push(`file ${name} ${s ?? `size=${bytes.length}`}`);
  }

  /** A process spawned from outside: a `process` block that makes it. */
  spawn(pid: number, tid: number, name: string, cpu: number): void {
    this.name(pid, tid, name);
    this.header(`process ${name} cpu=${cpu}`, name);
  }

  /** A fork by thread `tid`; `child` is the new process's pid and main thread, or null when it failed. Returns the statement. */
  fork(tid: number, cpu: number, child: { readonly pid: number; readonly tid: number } | null): Line {
    const name = child ? `c${child.pid}` : `failed${++this.forks}`;
    if (child) this.name(child.pid, child.tid, name);
    return this.op(tid, `${name} = fork cpu=${cpu}`);
  }

  /** A thread spawned by `creator`; the language clones the main thread, so the two must have the same PKRU. */
  thread(pid: number, tid: number, cpu: number, samePkru: boolean): void {
    if (!samePkru) this.cannot('a thread cloned from a thread whose PKRU differs from its main thread');
    const name = `${this.procName.get(pid)}.t${tid}`;
    this.threadName.set(tid, name);
    this.header(`thread ${name} cpu=${cpu}`, name);
  }

  /** A statement thread `tid` runs; set its `expect` when it returns. */
  op(tid: number, text: string): Line {
    const t = this.nameOf(tid);
    if (this.block !== t) this.header(`${t.includes('.') ? 'thread' : 'process'} ${t}`, t);
    const line: Line = { text: `  ${text}`, expect: null };
    this.body.push(line);
    return line;
  }

  /** A statement at the top level (swapout PROC …, reclaim). */
  top(text: string): Line {
    this.block = null;
    const line: Line = { text, expect: null };
    this.body.push(line);
    return line;
  }

  /** An interleaved step: each thread's statement, then the schedule (thread ids). */
  concurrent(steps: readonly { readonly tid: number; readonly text: string }[], schedule: readonly number[]): Line[] {
    this.block = null;
    this.body.push('concurrent');
    const lines = steps.map((s) => {
      this.body.push(`  thread ${this.nameOf(s.tid)}`);
      const line: Line = { text: `    ${s.text}`, expect: null };
      this.body.push(line);
      return line;
    });
    if (schedule.length) this.body.push(`schedule ${schedule.map((t) => this.nameOf(t)).join(' ')}`);
    return lines;
  }

  /** Every live process exits (the end of a run). */
  exitAll(pids: readonly number[]): void {
    for (const pid of pids) this.op(this.mainTid(pid), 'exit');
  }

  /** A step the language has no statement for: the scenario is not printed. */
  cannot(what: string): void {
    this.missing ??= what;
  }

  /** The scenario, ending with the failure; or why there is none. */
  print(failure: string): { readonly text: string } | { readonly missing: string } {
    if (this.missing !== null) return { missing: this.missing };
    const out = ['# The stress run as a scenario; each expectation is what the run saw.', ...this.head];
    for (const l of this.body) out.push(typeof l === 'string' ? l : l.expect === null ? l.text : `${l.text} => ${l.expect}`);
    out.push(...failure.split('\n').map((l) => `# ${l}`));
    const ids = INVARIANTS.filter((id) => failure.includes(`[${id}]`));
    for (const id of ids) out.push(`require invariant ${id}`);
    if (failure.includes('swap slots still used')) out.push('require counter machine swapUsed == 0');
    if (failure.includes('page tables still live')) out.push('require counter machine pageTables == 0');
    return { text: `${out.join('\n')}\n` };
  }

  /** mmap's flags as words of the language. */
  static mmapWords(flags: number): string {
    const words = [flags & MAP_SHARED ? 'shared' : flags & MAP_PRIVATE ? 'private' : ''];
    if (flags & MAP_ANONYMOUS) words.push('anon');
    if (flags & MAP_FIXED) words.push('fixed');
    if (flags & MAP_POPULATE) words.push('populate');
    return words.filter((w) => w).join(' ');
  }

  static prot(prot: number): string {
    return protStr(prot);
  }

  /** pkey_set's rights as words. */
  static rights(rights: number): string {
    const words = [rights & 1 ? 'access-disable' : '', rights & 2 ? 'write-disable' : ''].filter((w) => w);
    return words.length ? words.join(' ') : 'none';
  }

  procOf(pid: number): string {
    return this.procName.get(pid)!;
  }

  private mainTid(pid: number): number {
    const name = this.procName.get(pid)!;
    for (const [tid, n] of this.threadName) if (n === name) return tid;
    throw new Error(`stress driver bug: no main thread named for pid ${pid}`);
  }

  private name(pid: number, tid: number, name: string): void {
    this.procName.set(pid, name);
    this.threadName.set(tid, name);
  }

  private nameOf(tid: number): string {
    const n = this.threadName.get(tid);
    if (n === undefined) throw new Error(`stress driver bug: thread ${tid} has no scenario name`);
    return n;
  }

  private header(text: string, thread: string): void {
    this.body.push(text);
    this.block = thread;
  }
}

import { Machine, OutOfMemoryError, type InvariantMode } from '../api/machine.js';
import { type ProcessHandle } from '../api/process.js';
import { ThreadEndedError, type ThreadHandle } from '../api/thread.js';
import { type TraceEvent } from '../hw/trace.js';
import { Errno, type ErrnoName, type Personality } from '../mm/errno.js';
import { variantProblem } from '../mm/variants.js';
import { isSignal, SIGNAL_CODE_NUMBERS, SIGNAL_NUMBERS } from '../mm/signal.js';
import { ScheduleError } from '../step/scheduler.js';
import { type KernelPath } from '../step/step.js';
import { ArgReader } from './args.js';
import {
  type ConcurrentBlock,
  type Expectation,
  type Expr,
  type FinalCondition,
  type MachineDecl,
  type OpStatement,
  type Scenario,
  type Span,
  type ThreadBlock,
} from './ast.js';
import { compileCondition, type CompiledCondition, ConditionError, type ConditionContext } from './conditions.js';
import { capDiagnostics, type Diagnostic, MAX_DIAGNOSTICS } from './diagnostics.js';
import { type CompiledOp, type OpResult, OPS, ScenarioRuntimeError } from './ops.js';
import { formatNumber } from './format.js';
import { parseText, type ParseResult } from './parser.js';
import { SourceLines, stripBom } from './scanner.js';

/** What one operation line did. */
export interface LineOutcome {
  readonly line: number;
  /** The thread that ran it (`p`, `p.t1`), or null at the top level. */
  readonly thread: string | null;
  /** The line as written, without its comment. */
  readonly source: string;
  /** The result, formatted: `0x7ffff7ff0000`, `EINVAL`, `SIGSEGV SEGV_ACCERR addr=0x1000`, `ok`. */
  readonly result: string;
  /** The expectation and whether it held; null when the line had none. */
  readonly expectation: { readonly text: string; readonly passed: boolean } | null;
  /** A problem that stopped the line from running (an unbound name). */
  readonly error: Diagnostic | null;
}

/** One final condition and its verdict. */
export interface FinalOutcome {
  readonly line: number;
  readonly source: string;
  readonly passed: boolean;
  /** What was observed. */
  readonly seen: string;
}

/** Everything a run produced. */
export interface RunReport {
  readonly file: string;
  /** Problems with the scenario text: when non-empty, nothing ran. */
  readonly diagnostics: readonly Diagnostic[];
  readonly lines: readonly LineOutcome[];
  readonly finals: readonly FinalOutcome[];
  /** Notes for the reader: the interleaving used, invariants broken. */
  readonly notes: readonly string[];
  /** True when there were no diagnostics and every expectation and final condition held. */
  readonly passed: boolean;
  /** The machine in its final state (null when the scenario did not run). */
  readonly machine: Machine | null;
  /** Scenario names of processes and threads, for displays. */
  readonly names: { readonly processes: ReadonlyMap<string, ProcessHandle>; readonly threads: ReadonlyMap<string, ThreadHandle> };
  /** The trace events, when tracing was asked for. */
  readonly trace: readonly TraceEvent[];
}

/** How to run a scenario. */
export interface RunOptions {
  /** Stop after the last statement on or before this line (for `mmsim show --at`). */
  readonly stopAfterLine?: number;
  /** Collect the step-by-step event stream. */
  readonly trace?: boolean;
  /** Invariant checking after every operation (default 'record': broken invariants are reported, the run goes on). */
  readonly invariants?: InvariantMode;
  /** Variants to switch on besides those of the machine line (for `mmsim compare`). */
  readonly extraVariants?: readonly string[];
}

const hex = formatNumber;

/** Formats an operation's result for people. */
export function formatResult(r: OpResult): string {
  if (r === undefined) return 'done';
  if (r === null) return 'ok';
  if (typeof r === 'number') return hex(r);
  if (r instanceof Errno) return r.name;
  if (isSignal(r)) return `${r.signal} ${r.code} addr=${hex(r.addr)}${r.pkey >= 0 ? ` key=${r.pkey}` : ''}`;
  return `pid ${r.pid}`;
}

const SIZE = { K: 1024, M: 1024 ** 2, G: 1024 ** 3 };

/**
 * Parses and runs a scenario. A leading byte order mark is skipped. When the text has
 * problems nothing runs, and the report lists them all (capped, see {@link capDiagnostics}).
 */
export function runScenario(text: string, file: string, options: RunOptions = {}): RunReport {
  const source = stripBom(text);
  const parsed = parseText(source, file);
  const run = new Run(parsed, source, options);
  const problems = run.validate();
  if (problems.length > 0) return problemReport(file, problems);
  return run.execute();
}

/** Parses and validates a scenario without running it: every diagnostic (capped). */
export function checkScenario(text: string, file: string): Diagnostic[] {
  const source = stripBom(text);
  return new Run(parseText(source, file), source, {}, false).validate();
}

/** The report of a scenario that did not run because of `diagnostics`. */
export function problemReport(file: string, diagnostics: readonly Diagnostic[]): RunReport {
  return { file, diagnostics, lines: [], finals: [], notes: [], passed: false, machine: null, names: { processes: new Map(), threads: new Map() }, trace: [] };
}

/** One execution of one scenario. */
class Run implements ConditionContext {
  private readonly diagnostics: Diagnostic[] = [];
  private readonly compiled = new Map<OpStatement, CompiledOp>();
  private readonly finals = new Map<FinalCondition, { line: number; quantifier: string; compiled: CompiledCondition }>();
  private readonly values = new Map<string, number>();
  /** Names that only a `NAME = fork` binds. */
  private readonly forkNames = new Set<string>();
  private machineCpus = 1;
  private os: Personality = 'linux';
  private readonly processes = new Map<string, ProcessHandle>();
  private readonly threads = new Map<string, ThreadHandle>();
  private readonly lines: LineOutcome[] = [];
  private readonly finalOutcomes: FinalOutcome[] = [];
  private readonly notes: string[] = [];
  private readonly trace: TraceEvent[] = [];
  private readonly sourceLines: SourceLines;
  private readonly scenario: Scenario;
  machine!: Machine;
  private stopped = false;
  /** Validation diagnostics past the first MAX_DIAGNOSTICS + 1, counted only. */
  private omitted = 0;
  /** The diagnostics of {@link validate}, once it ran. */
  private validated: Diagnostic[] | null = null;

  constructor(
    private readonly parsed: ParseResult,
    text: string,
    private readonly options: RunOptions,
    private readonly willRun = true,
  ) {
    this.scenario = parsed.scenario;
    this.sourceLines = new SourceLines(text);
  }

  private diag(span: Span, code: Diagnostic['code'], message: string): void {
    this.diagnostics.push({ file: this.scenario.file, span, code, message });
  }

  /** Drops diagnostics past the cap, counting them, so a file wrong on every line stays small. */
  private trimDiagnostics(): void {
    const over = this.diagnostics.length - (MAX_DIAGNOSTICS + 1);
    if (over <= 0) return;
    this.omitted += over;
    this.diagnostics.length = MAX_DIAGNOSTICS + 1;
  }

  /** Whether `name` may be defined by a line that had an error (so its uses are not reported again). */
  private unsure(name: string): boolean {
    return this.parsed.unsureNames.has(name);
  }

  /**
   * Every problem of the scenario, sorted and capped: those of the parse, and those the
   * static checks find in the statements that parsed (operations, their arguments and
   * places, names, conditions, the machine line).
   */
  validate(): Diagnostic[] {
    if (this.validated === null) {
      this.check();
      this.trimDiagnostics();
      this.validated = capDiagnostics([...this.parsed.diagnostics, ...this.diagnostics], this.parsed.omitted + this.omitted, this.scenario.file);
    }
    return this.validated;
  }

  private check(): void {
    const machine = this.machineOptions(this.scenario.machine);
    // A machine line with an error leaves the CPUs and the personality unknown: do not
    // report every cpu= and os-specific operation against the defaults.
    this.machineCpus = this.parsed.machineFailed ? 256 : machine.cpus;
    this.os = machine.os;
    const bound = new Set<string>();
    const procs = new Set<string>();
    const checkBlock = (b: ThreadBlock): void => {
      const name = b.name;
      if (b.header === 'process') {
        procs.add(name);
      } else {
        const dot = name.indexOf('.');
        const proc = dot > 0 ? name.slice(0, dot) : name;
        // `thread p` is p's main thread; other threads are named PROC.NAME.
        if (dot === name.length - 1 || dot === 0) this.diag(b.span, 'MMS3004', `a thread is named PROC.NAME (like p.t1), not '${name}'`);
        else if (!procs.has(proc) && !this.unsure(proc)) this.diag(b.span, 'MMS3001', `no process '${proc}' is declared before this thread`);
      }
      this.blockOptions(b, this.machineCpus);
      for (const s of b.body) {
        this.checkStatement(s, 'thread', bound, procs);
        this.trimDiagnostics();
      }
    };
    for (const item of this.scenario.body) {
      switch (item.kind) {
        case 'machine':
          break;
        case 'thread-block':
          checkBlock(item);
          break;
        case 'concurrent': {
          for (const t of item.threads) checkBlock(t);
          const names = new Set<string>();
          for (const t of item.threads) {
            if (names.has(threadKey(t.name))) this.diag(t.span, 'MMS3005', `thread '${t.name}' appears twice in this concurrent block`);
            names.add(threadKey(t.name));
          }
          for (const s of item.schedule ?? []) {
            if (!names.has(threadKey(s.name))) {
              this.diag(s.span, 'MMS3001', `'${s.name}' is not one of this concurrent block's threads (${item.threads.map((t) => t.name).join(', ')})`);
            }
          }
          break;
        }
        case 'top-op':
          this.checkStatement(item.statement, 'top', bound, procs);
          break;
        case 'final':
          this.finals.set(item, { line: item.span.line, quantifier: item.quantifier, compiled: compileCondition(item.condition, this.scenario.file, this.diagnostics) });
          break;
      }
      this.trimDiagnostics();
    }
  }

  private checkStatement(s: OpStatement, place: 'thread' | 'top', bound: Set<string>, procs: Set<string>): void {
    const def = Object.prototype.hasOwnProperty.call(OPS, s.op) ? OPS[s.op] : undefined;
    if (!def) {
      this.diag(s.opSpan, 'MMS2002', `unknown operation '${s.op}'; expected one of ${Object.keys(OPS).join(', ')}`);
      return;
    }
    if (def.place !== 'both' && def.place !== place) {
      this.diag(s.opSpan, 'MMS2003', place === 'top' ? `'${s.op}' runs in a thread: put it in a 'process' or 'thread' block` : `'${s.op}' stands at the top level, outside any block`);
      return;
    }
    if (def.os !== undefined && def.os !== this.os && !this.parsed.machineFailed) {
      this.diag(s.opSpan, 'MMS3007', `'${s.op}' is a ${def.os} interface; this machine runs os=${this.os} (set os=${def.os} on the machine line)`);
      return;
    }
    const before = this.diagnostics.length;
    const reader = new ArgReader(s, this.scenario.file, this.diagnostics);
    const compiled = def.compile(reader);
    // Only a run needs the compiled operations; a check keeps just the diagnostics.
    if (this.willRun) this.compiled.set(s, compiled);
    if (this.diagnostics.length === before) {
      for (const name of reader.valueExprs.flatMap(exprNames)) {
        if (!bound.has(name.name) && !procs.has(name.name) && !this.unsure(name.name)) {
          this.diag(name.span, 'MMS3001', `'${name.name}' is not defined before this line; bind it with '${name.name} = …' first`);
        }
      }
    }
    if (s.op === 'fork') this.checkForkCpu(s);
    if (s.expect) this.checkExpectation(s.expect, bound, procs);
    if (s.bind) {
      if (s.op === 'fork') {
        procs.add(s.bind.name);
        this.forkNames.add(s.bind.name);
      }
      else bound.add(s.bind.name);
    }
  }

  /** A literal `fork cpu=N` is checked against the machine before anything runs. */
  private checkForkCpu(s: OpStatement): void {
    const cpus = this.machineCpus;
    for (const a of s.args) {
      if (a.kind !== 'option' || a.key !== 'cpu' || a.value.kind !== 'expr' || a.value.expr.kind !== 'number') continue;
      const n = a.value.expr.value;
      if (!Number.isInteger(n) || n < 0 || n >= cpus) this.diag(a.value.span, 'MMS3004', `cpu=${n}, but the machine has CPU${cpus === 1 ? ' 0 only' : `s 0 to ${cpus - 1}`}`);
    }
  }

  private checkExpectation(e: Expectation, bound: Set<string>, procs: Set<string>): void {
    const exprs: Expr[] = [];
    if (e.kind === 'value') exprs.push(e.expr);
    if (e.kind === 'errno' && !Errno.all.has(e.name as ErrnoName)) {
      this.diag(e.span, 'MMS3006', `unknown errno '${e.name}'; expected one of ${[...Errno.all.keys()].join(', ')}`);
    }
    if (e.kind === 'signal') {
      if (!Object.prototype.hasOwnProperty.call(SIGNAL_NUMBERS, e.signal)) this.diag(e.span, 'MMS3006', `unknown signal '${e.signal}'; expected ${Object.keys(SIGNAL_NUMBERS).join(', ')}`);
      if (e.code !== null && !Object.prototype.hasOwnProperty.call(SIGNAL_CODE_NUMBERS, e.code)) {
        this.diag(e.span, 'MMS3006', `unknown signal code '${e.code}'; expected one of ${Object.keys(SIGNAL_CODE_NUMBERS).join(', ')}`);
      }
      if (e.pkey) exprs.push(e.pkey);
      if (e.addr) exprs.push(e.addr);
    }
    for (const x of exprs) {
      for (const n of exprNames(x)) if (!bound.has(n.name) && !procs.has(n.name) && !this.unsure(n.name)) this.diag(n.span, 'MMS3001', `'${n.name}' is not defined before this line`);
    }
  }

  private machineOptions(m: MachineDecl | null): { os: Personality; cpus: number; memory: number; swap: number; variants: string[]; maxMapCount: number; tlb: number; pku: boolean } {
    const out = { os: 'linux' as Personality, cpus: 1, memory: 256 * SIZE.M, swap: 256 * SIZE.M, variants: [] as string[], maxMapCount: 65530, tlb: 1024, pku: true };
    if (!m) return this.withExtraVariants(out, { line: 1, column: 1, length: 0 });
    // The personality decides which variants exist, wherever os= stands on the line.
    for (const a of m.options) {
      if (a.kind === 'option' && a.key === 'os' && a.value.kind === 'word' && (a.value.word === 'linux' || a.value.word === 'freebsd')) out.os = a.value.word;
      if (a.kind === 'option' && a.key === 'os' && a.value.kind === 'expr' && a.value.expr.kind === 'name' && (a.value.expr.name === 'linux' || a.value.expr.name === 'freebsd')) out.os = a.value.expr.name;
    }
    if (m.arch !== 'x86_64') this.diag(m.span, 'MMS3007', `only the x86_64 architecture is modelled, not '${m.arch}'`);
    const given = new Map<string, Span>();
    for (const a of m.options) {
      if (a.kind !== 'option') {
        this.diag(a.span, 'MMS2001', 'expected an option like cpus=2 on the machine line');
        continue;
      }
      // Only variant= adds up; a second cpus= would silently override the first.
      if (a.key !== 'variant' && !this.onceOnly(a, given)) continue;
      const num = (): number | null => {
        if (a.value.kind === 'expr' && a.value.expr.kind === 'number') return a.value.expr.value;
        this.diag(a.value.span, 'MMS3004', `${a.key}= takes a number`);
        return null;
      };
      const word = a.value.kind === 'word' ? a.value.word : a.value.kind === 'expr' && a.value.expr.kind === 'name' ? a.value.expr.name : null;
      switch (a.key) {
        case 'os':
          if (word !== 'linux' && word !== 'freebsd') this.diag(a.value.span, 'MMS3004', 'os= takes linux or freebsd');
          break;
        case 'cpus': {
          const n = num();
          if (n !== null && (n < 1 || n > 256 || !Number.isInteger(n))) this.diag(a.value.span, 'MMS3004', 'cpus= takes a whole number from 1 to 256');
          else if (n !== null) out.cpus = n;
          break;
        }
        case 'memory':
        case 'swap': {
          const n = num();
          if (n !== null && (n < 0 || (a.key === 'memory' && n < 64 * 1024) || n > 64 * SIZE.G)) this.diag(a.value.span, 'MMS3004', `${a.key}= takes a size from ${a.key === 'memory' ? '64K' : '0'} to 64G`);
          else if (n !== null) out[a.key] = n;
          break;
        }
        case 'variant':
          if (word === null) this.diag(a.value.span, 'MMS3004', 'variant= takes a variant name');
          else {
            const problem = variantProblem(word, out.os);
            if (problem) this.diag(a.value.span, 'MMS3007', problem);
            else if (!out.variants.includes(word)) out.variants.push(word);
          }
          break;
        case 'max_map_count': {
          const n = num();
          if (n !== null && (n < 1 || !Number.isInteger(n))) this.diag(a.value.span, 'MMS3004', 'max_map_count= takes a positive whole number');
          else if (n !== null) out.maxMapCount = n;
          break;
        }
        case 'tlb': {
          const n = num();
          if (n !== null && (n < 1 || (n & (n - 1)) !== 0 || n > 1 << 20)) this.diag(a.value.span, 'MMS3004', 'tlb= takes a power of two up to 1048576');
          else if (n !== null) out.tlb = n;
          break;
        }
        case 'pku':
          if (word !== 'on' && word !== 'off') this.diag(a.value.span, 'MMS3004', 'pku= takes on or off');
          else out.pku = word === 'on';
          break;
        default:
          this.diag(a.span, 'MMS3003', `unknown machine option '${a.key}='; expected os, cpus, memory, swap, variant, max_map_count, tlb or pku`);
      }
    }
    return this.withExtraVariants(out, m.span);
  }

  /** Adds the variants the caller asked for on top of the machine line's. */
  private withExtraVariants<T extends { os: Personality; variants: string[] }>(out: T, span: Span): T {
    for (const v of this.options.extraVariants ?? []) {
      const problem = variantProblem(v, out.os);
      if (problem) this.diag(span, 'MMS3007', `${problem} (asked for with --variant)`);
      else if (!out.variants.includes(v)) out.variants.push(v);
    }
    return out;
  }

  /** Whether option `a` is the first of its key in `given`; reports a repeat. */
  private onceOnly(a: { readonly key: string; readonly span: Span }, given: Map<string, Span>): boolean {
    const first = given.get(a.key);
    if (first === undefined) {
      given.set(a.key, a.span);
      return true;
    }
    this.diag(a.span, 'MMS3003', `option '${a.key}=' is given twice (first at column ${first.column}): give it once`);
    return false;
  }

  private blockOptions(b: ThreadBlock, cpus: number): void {
    const given = new Map<string, Span>();
    for (const a of b.options) {
      if (a.kind !== 'option' || a.key !== 'cpu') {
        this.diag(a.span, 'MMS3003', `'${b.header}' takes only cpu=N`);
        continue;
      }
      if (!this.onceOnly(a, given)) continue;
      if (a.value.kind !== 'expr' || a.value.expr.kind !== 'number') this.diag(a.value.span, 'MMS3004', 'cpu= takes a CPU number');
      else {
        const n = a.value.expr.value;
        if (!Number.isInteger(n) || n < 0 || n >= cpus) {
          this.diag(a.value.span, 'MMS3004', `cpu=${n}, but the machine has CPU${cpus === 1 ? ' 0 only' : `s 0 to ${cpus - 1}`} (cpus=N on the machine line)`);
        }
      }
    }
  }

  /** Validates, then runs every statement and evaluates the final conditions. */
  execute(): RunReport {
    const problems = this.validate();
    if (problems.length > 0) return problemReport(this.scenario.file, problems);
    const opts = this.machineOptions(this.scenario.machine);
    this.machine = new Machine({
      os: opts.os,
      cpus: opts.cpus,
      memory: opts.memory,
      swap: opts.swap,
      variants: opts.variants,
      maxMapCount: opts.maxMapCount,
      tlbEntries: opts.tlb,
      pku: opts.pku,
      invariants: this.options.invariants ?? 'record',
    });
    if (this.options.trace) this.machine.hw.mmu.tracer = (e) => this.trace.push(e);
    for (const item of this.scenario.body) {
      if (this.stopped) break;
      switch (item.kind) {
        case 'thread-block':
          this.runBlock(item);
          break;
        case 'concurrent':
          this.runConcurrent(item);
          break;
        case 'top-op':
          if (!this.shouldStop(item.statement.span.line)) this.runStatement(item.statement, null, null);
          break;
        case 'final':
          // A condition is checked where it stands, over the state everything above it left.
          if (!this.shouldStop(item.span.line)) this.finalOutcomes.push(this.evaluateFinal(this.finals.get(item)!));
          break;
        default:
          break;
      }
    }
    const finals = this.finalOutcomes;
    const broken = this.machine.violations;
    if (broken.length > 0) {
      const ids = [...new Set(broken.map((v) => v.id))];
      this.notes.push(`invariants broken during the run: ${ids.join(', ')} (first: ${broken[0].message})`);
    }
    this.machine.hw.mmu.tracer = null;
    const passed = this.lines.every((l) => l.error === null && (l.expectation === null || l.expectation.passed)) && finals.every((f) => f.passed);
    return {
      file: this.scenario.file,
      diagnostics: [],
      lines: this.lines,
      finals,
      notes: this.notes,
      passed,
      machine: this.machine,
      names: { processes: this.processes, threads: this.threads },
      trace: this.trace,
    };
  }

  private shouldStop(line: number): boolean {
    if (this.options.stopAfterLine !== undefined && line > this.options.stopAfterLine) this.stopped = true;
    return this.stopped;
  }

  /** The thread a block runs as, declaring it if new; a ScenarioRuntimeError when it cannot exist here. */
  private resolveThread(b: ThreadBlock): ThreadHandle {
    const cpu = cpuOption(b);
    if (b.header === 'process') {
      let p = this.processes.get(b.name);
      if (!p) {
        if (this.forkNames.has(b.name)) throw new ScenarioRuntimeError(`no process '${b.name}' exists here: the fork that binds it did not succeed (or has not run)`, b.span);
        try {
          p = this.machine.spawn(b.name, cpu ?? 0);
        } catch (e) {
          if (!(e instanceof OutOfMemoryError)) throw e;
          throw new ScenarioRuntimeError(`cannot start process '${b.name}': ${e.message}`, b.span, 'MMS4003');
        }
        this.addProcess(b.name, p);
      }
      return p.main;
    }
    const existing = this.threads.get(b.name);
    if (existing) return existing;
    if (!b.name.includes('.')) return this.process(b.name, b.span).main;
    const procName = b.name.slice(0, b.name.indexOf('.'));
    const p = this.process(procName, b.span);
    if (!p.alive) throw new ScenarioRuntimeError(`process '${procName}' has exited: it can start no thread`, b.span);
    const t = p.spawnThread(cpu ?? p.main.cpu);
    this.threads.set(b.name, t);
    return t;
  }

  private blockError(b: ThreadBlock | ConcurrentBlock, e: unknown): boolean {
    if (!(e instanceof ScenarioRuntimeError)) return false;
    this.lines.push({ line: b.span.line, thread: null, source: this.source(b.span.line), result: 'not run', expectation: null, error: { file: this.scenario.file, span: e.span, code: e.code, message: e.message } });
    return true;
  }

  private addProcess(name: string, p: ProcessHandle): void {
    this.processes.set(name, p);
    this.threads.set(name, p.main);
    this.threads.set(`${name}.main`, p.main);
  }

  private runBlock(b: ThreadBlock): void {
    if (this.shouldStop(b.span.line)) return;
    let t: ThreadHandle;
    try {
      t = this.resolveThread(b);
    } catch (e) {
      if (this.blockError(b, e)) return;
      throw e;
    }
    for (const s of b.body) {
      if (this.shouldStop(s.span.line)) return;
      this.runStatement(s, t, b.name);
    }
  }

  private runStatement(s: OpStatement, t: ThreadHandle | null, threadName: string | null): void {
    const op = this.compiled.get(s)!;
    let result: OpResult;
    const eventsBefore = this.machine.events.length;
    try {
      if (t && !t.alive) throw new ScenarioRuntimeError(`thread '${threadName ?? t.tid}' has ended (exit, exec by another thread, or a kill): it runs nothing more`, s.opSpan, 'MMS4003');
      result = op.run(this, t);
      this.noteEvents(s.span.line, eventsBefore);
    } catch (e) {
      const err = asRuntimeError(e, s.opSpan);
      if (err) {
        this.record(s, threadName, 'not run', { file: this.scenario.file, span: err.span, code: err.code, message: err.message });
        return;
      }
      throw e;
    }
    this.finish(s, threadName, result);
  }

  /**
   * Where mmsim knowingly differs from the kernel (advice accepted without a modelled
   * effect) or the kernel killed a process, the report says so, naming the line.
   */
  private noteEvents(line: number, from: number): void {
    const events = this.machine.events;
    for (let i = from; i < events.length; i++) {
      const e = events[i];
      if (e.kind === 'unmodelled' || e.kind === 'oom-kill') this.notes.push(`line ${line}: ${e.message}`);
    }
  }

  private finish(s: OpStatement, threadName: string | null, result: OpResult): void {
    if (s.bind) this.bind(s.bind.name, result);
    let error: Diagnostic | null = null;
    let expectation: LineOutcome['expectation'] = null;
    if (s.expect) {
      try {
        expectation = { text: this.expectationText(s.expect), passed: this.expectationHolds(s.expect, result) };
      } catch (e) {
        if (!(e instanceof ScenarioRuntimeError)) throw e;
        error = { file: this.scenario.file, span: e.span, code: e.code, message: e.message };
      }
    }
    this.lines.push({ line: s.span.line, thread: threadName, source: this.source(s.span.line), result: formatResult(result), expectation, error });
    if (this.options.trace) this.trace.push({ type: 'op', thread: threadName ?? '-', line: s.span.line, text: this.source(s.span.line), result: formatResult(result) });
  }

  private record(s: OpStatement, threadName: string | null, result: string, error: Diagnostic): void {
    this.lines.push({ line: s.span.line, thread: threadName, source: this.source(s.span.line), result, expectation: s.expect ? { text: this.expectationText(s.expect), passed: false } : null, error });
  }

  private bind(name: string, result: OpResult): void {
    if (typeof result === 'number') this.values.set(name, result);
    else if (result !== null && result !== undefined && !(result instanceof Errno) && !isSignal(result)) this.addProcess(name, result);
  }

  private runConcurrent(c: ConcurrentBlock): void {
    if (this.shouldStop(c.span.line)) return;
    const pairs: [ThreadHandle, KernelPath<unknown>][] = [];
    const byName = new Map<string, ThreadHandle>();
    for (const b of c.threads) {
      let t: ThreadHandle;
      try {
        t = this.resolveThread(b);
      } catch (e) {
        if (this.blockError(b, e)) return;
        throw e;
      }
      byName.set(b.name, t);
      const path = this.threadPath(b, t);
      pairs.push([t, this.options.trace ? this.traced(path, b.name) : path]);
    }
    const tids = new Map<string, number>();
    for (const [n, t] of byName) tids.set(threadKey(n), t.tid);
    const schedule = (c.schedule ?? []).map((s) => tids.get(threadKey(s.name)) ?? -1);
    const note = (forced: number): string =>
      !c.schedule
        ? `concurrent block at line ${c.span.line}: no schedule given, so the default order ran: round-robin over its threads in the order they are written, one step each`
        : forced < schedule.length
          ? `concurrent block at line ${c.span.line}: the schedule forced the first ${forced} of its ${schedule.length} steps (step ${forced + 1} could not be taken); the rest ran round-robin in the order the threads are written`
          : `concurrent block at line ${c.span.line}: the schedule forced the first ${forced} steps; the rest ran round-robin in the order the threads are written`;
    try {
      this.machine.interleave(pairs, schedule);
      this.notes.push(note(schedule.length));
    } catch (e) {
      if (e instanceof ScheduleError) {
        // Position -1 is a deadlock after the whole schedule was followed.
        this.notes.push(note(e.position >= 0 ? e.position : schedule.length));
        const at = c.schedule && e.position >= 0 ? c.schedule[e.position].span : c.span;
        this.lines.push({
          line: at.line,
          thread: null,
          source: this.source(at.line),
          result: 'schedule stopped',
          expectation: null,
          error: { file: this.scenario.file, span: at, code: 'MMS4002', message: e.message.replace(/thread (\d+)/, (_m, tid: string) => `thread ${this.threadNameOf(Number(tid))}`) },
        });
        return;
      }
      throw e;
    }
  }

  /** Forwards a path's steps, recording each in the trace as it is taken. */
  private *traced(path: KernelPath<void>, thread: string): KernelPath<void> {
    for (;;) {
      const r = path.next();
      if (r.done) return;
      this.trace.push({ type: 'step', thread, kind: r.value.kind, what: r.value.what });
      yield r.value;
    }
  }

  private threadNameOf(tid: number): string {
    for (const [n, t] of this.threads) if (t.tid === tid && !n.endsWith('.main')) return n;
    return String(tid);
  }

  private *threadPath(b: ThreadBlock, t: ThreadHandle): KernelPath<void> {
    for (const s of b.body) {
      const op = this.compiled.get(s)!;
      let result: OpResult;
      try {
        if (!t.alive) throw new ScenarioRuntimeError(`thread '${b.name}' has ended: it runs nothing more`, s.opSpan, 'MMS4003');
        // Every operation a thread can run is a kernel path (ops.ts): a system call's
        // own, or one step between paths for a machine operation.
        if (!op.path) throw new Error(`mmsim bug: operation '${s.op}' has no kernel path`);
        result = yield* op.path(this, t);
      } catch (e) {
        // A sibling ended this thread (exit, exec, a kill) while its operation waited to run.
        const err = e instanceof ThreadEndedError ? new ScenarioRuntimeError(`thread '${b.name}' has ended: it runs nothing more`, s.opSpan, 'MMS4003') : asRuntimeError(e, s.opSpan);
        if (err) {
          this.record(s, b.name, 'not run', { file: this.scenario.file, span: err.span, code: err.code, message: err.message });
          continue;
        }
        throw e;
      }
      this.finish(s, b.name, result);
    }
  }

  private evaluateFinal(f: { line: number; quantifier: string; compiled: CompiledCondition }): FinalOutcome {
    let value: boolean;
    let seen: string;
    try {
      ({ value, seen } = f.compiled(this));
    } catch (e) {
      if (!(e instanceof ScenarioRuntimeError) && !(e instanceof ConditionError)) throw e;
      return { line: f.line, source: this.source(f.line), passed: false, seen: e.message };
    }
    // One outcome until the explorer lands: require and exists ask for it to hold, forbid for it not to.
    const passed = f.quantifier === 'forbid' ? !value : value;
    return { line: f.line, source: this.source(f.line), passed, seen };
  }

  private source(line: number): string {
    const raw = this.sourceLines.line(line);
    let quoted = false;
    for (let i = 0; i < raw.length; i++) {
      const c = raw[i];
      if (c === '\\' && quoted) i++;
      else if (c === '"') quoted = !quoted;
      else if (c === '#' && !quoted) return raw.slice(0, i).trim();
    }
    return raw.trim();
  }

  private expectationText(e: Expectation): string {
    return this.sourceLines.line(e.span.line).slice(e.span.column - 1, e.span.column - 1 + e.span.length).trim();
  }

  private expectationHolds(e: Expectation, r: OpResult): boolean {
    switch (e.kind) {
      case 'ok':
        return !(r instanceof Errno) && !isSignal(r);
      case 'value':
        return typeof r === 'number' && r === this.num(e.expr);
      case 'errno':
        return r instanceof Errno && r.name === e.name;
      case 'signal':
        return isSignal(r) && r.signal === e.signal && (e.code === null || r.code === e.code) && (e.pkey === null || r.pkey === this.num(e.pkey)) && (e.addr === null || r.addr === this.num(e.addr));
    }
  }

  // OpContext and ConditionContext

  num(e: Expr): number {
    switch (e.kind) {
      case 'number':
        return e.value;
      case 'name': {
        const v = this.values.get(e.name);
        if (v !== undefined) return v;
        const p = this.processes.get(e.name);
        if (p) return p.pid;
        throw new ScenarioRuntimeError(`'${e.name}' has no value here: the line that binds it did not succeed (or has not run)`, e.span);
      }
      case 'binary': {
        const l = this.num(e.left);
        const r = this.num(e.right);
        return e.op === '+' ? l + r : l - r;
      }
    }
  }

  hasProcess(name: string): boolean {
    return this.processes.has(name);
  }

  process(name: string, span: Span): ProcessHandle {
    const p = this.processes.get(name);
    if (!p) throw new ScenarioRuntimeError(`no process '${name}' exists here`, span);
    return p;
  }

  thread(name: string, span: Span): ThreadHandle {
    const t = this.threads.get(name);
    if (!t) throw new ScenarioRuntimeError(`no thread '${name}' exists here`, span);
    return t;
  }

  *openForMap(thread: ThreadHandle, path: string, span: Span): KernelPath<number> {
    const fd = yield* thread.paths.open(path, 2);
    if (typeof fd !== 'number') {
      const ro = yield* thread.paths.open(path, 0);
      if (typeof ro === 'number') return ro;
      throw new ScenarioRuntimeError(`cannot open '${path}' for mmap: ${fd.name}`, span);
    }
    return fd;
  }

  createFile(path: string, contents: Uint8Array | number, readOnly: boolean, noexec: boolean): void {
    this.machine.createFile(path, contents, { readOnly, noexec });
  }
}

/** A user-level problem an operation raised, as a runtime diagnostic; null for anything else (an mmsim bug). */
function asRuntimeError(e: unknown, span: Span): ScenarioRuntimeError | null {
  if (e instanceof ScenarioRuntimeError) return e;
  // The thread was killed (OOM) between the check before the operation and its system call.
  if (e instanceof ThreadEndedError) return new ScenarioRuntimeError(`${e.message} (killed while waiting to run)`, span, 'MMS4003');
  return null;
}

function cpuOption(b: ThreadBlock): number | null {
  for (const a of b.options) {
    if (a.kind === 'option' && a.key === 'cpu' && a.value.kind === 'expr' && a.value.expr.kind === 'number') return a.value.expr.value;
  }
  return null;
}

/** A thread's name with `p.main` written as `p`, so both spellings compare equal. */
function threadKey(name: string): string {
  return name.endsWith('.main') ? name.slice(0, -5) : name;
}

function exprNames(e: Expr): { name: string; span: Span }[] {
  if (e.kind === 'name') return [{ name: e.name, span: e.span }];
  if (e.kind === 'binary') return [...exprNames(e.left), ...exprNames(e.right)];
  return [];
}


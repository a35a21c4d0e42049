/**
 * The parser of the scenario language (docs/scenario-language.md): a recursive-descent
 * parser over the lines the scanner produces, building the syntax tree of `ast.ts`.
 *
 * The parser knows the statements (`machine`, `process`, `thread`, `concurrent`,
 * `schedule`, `forbid`/`exists`/`require`, the top-level `file`, `swapout`, `reclaim`,
 * `check`) and the grammar of expressions, expectations and conditions, but not the
 * operation table: any word in operation position is an operation, and the runner
 * validates operations and their arguments.
 *
 * Errors are diagnostics, never exceptions. Parsing recovers at the next line, so one
 * call reports every problem it finds; lines under a header that failed are still
 * parsed (for their own errors), and the lines under a line that is not a header are
 * reported once.
 *
 * Arguments are kept as written: a lone word (`a`, `rw`, `private`) is a `word` argument
 * even when it names a value bound earlier, because only the operation's schema says
 * which it is; {@link argExpr} reads such an argument as an expression. A word followed
 * by `+` or `-` starts an expression, so `a + 4K` is an `expr` argument.
 * @packageDocumentation
 */
import type {
  Arg,
  ConcurrentBlock,
  Condition,
  Expectation,
  Expr,
  FinalCondition,
  MachineDecl,
  OpStatement,
  Scenario,
  Span,
  ThreadBlock,
  TopLevel,
} from './ast.js';
import { capDiagnostics, MAX_DIAGNOSTICS, type Diagnostic, type DiagnosticCode } from './diagnostics.js';
import { eachLine, quote, scanLine, stripBom, type Comparison, type ScannedLine, type Token } from './scanner.js';

/** Statements that may stand at the top level, in the order messages list them. */
export const TOP_LEVEL_STATEMENTS = [
  'machine',
  'process',
  'thread',
  'concurrent',
  'schedule',
  'file',
  'swapout',
  'reclaim',
  'check',
  'forbid',
  'exists',
  'require',
] as const;

/** Operations that may also stand at the top level (as a {@link TopOp}). */
export const TOP_LEVEL_OPS: ReadonlySet<string> = new Set(['file', 'swapout', 'reclaim', 'check']);

/** Words that open a statement and are never operations inside a block. */
const KEYWORDS: ReadonlySet<string> = new Set([
  'machine',
  'process',
  'thread',
  'concurrent',
  'schedule',
  'forbid',
  'exists',
  'require',
]);

/** The subjects of condition atoms. */
export const CONDITION_SUBJECTS = ['pte', 'vma', 'pkru_range', 'tlb', 'counter', 'value', 'signal', 'alive', 'invariant', 'maps'] as const;

const NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
const THREAD_RE = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/;
const ERRNO_RE = /^E[A-Z0-9_]+$/;
const SIGNAL_RE = /^SIG[A-Z0-9_]+$/;
const CODE_RE = /^[A-Z][A-Z0-9_]*$/;
const PROT_RE = /^(?:[r-][w-][x-]|r?w?x?)$/;

/** Whether `word` can name a value (`a = …`) or a process: letters, digits and `_`, not starting with a digit. */
export function isName(word: string): boolean {
  return NAME_RE.test(word);
}

/** Whether `word` can name a thread: `p`, `p.t1`, `p.main`. */
export function isThreadName(word: string): boolean {
  return THREAD_RE.test(word);
}

/**
 * The PROT_* bits a protection word denotes (`rwx`, `rw-`, `r--`, `---`, `rw`, `r`, `rx`,
 * `none`): PROT_READ 1, PROT_WRITE 2, PROT_EXEC 4; null if `word` is not a protection.
 */
export function protectionBits(word: string): number | null {
  if (word === 'none') return 0;
  if (word === '' || !PROT_RE.test(word)) return null;
  return (word.includes('r') ? 1 : 0) | (word.includes('w') ? 2 : 0) | (word.includes('x') ? 4 : 0);
}

/**
 * An argument read as an expression: an `expr` argument, or a `word` argument that is a
 * name (`a`) read as that name. Null for anything else (`rw-`, a string, an option).
 */
export function argExpr(arg: Arg): Expr | null {
  if (arg.kind === 'expr') return arg.expr;
  if (arg.kind === 'word' && isName(arg.word)) return { kind: 'name', name: arg.word, span: arg.span };
  return null;
}

/** An argument read as a bare word (`private`, `rw-`); a name alone is a word too. Null otherwise. */
export function argWord(arg: Arg): string | null {
  if (arg.kind === 'word') return arg.word;
  return null;
}

/** How deeply `not` and parentheses may nest in a condition (the parser recurses). */
const MAX_DEPTH = 64;
/**
 * How many operands one line may chain with `and`, `or`, `+` and `-`: the trees they make
 * are walked recursively, so a chain of thousands would overflow the stack.
 */
const MAX_OPERANDS = 256;

/** Thrown, after its diagnostic is recorded, to abandon the rest of a line; caught in `line`. */
class Bail extends Error {}
const BAIL = new Bail('abandon the line');

type Frame =
  | { readonly kind: 'top'; readonly headerIndent: -1; bodyIndent: number | null; firstBodyLine: number }
  | {
      readonly kind: 'block';
      readonly headerIndent: number;
      bodyIndent: number | null;
      firstBodyLine: number;
      /** Where the block's statements go; null when its header was wrong (parsed for errors, then dropped). */
      readonly body: OpStatement[] | null;
    }
  | {
      readonly kind: 'concurrent';
      readonly headerIndent: number;
      bodyIndent: number | null;
      firstBodyLine: number;
      readonly threads: ThreadBlock[] | null;
      readonly header: Token;
    }
  | { readonly kind: 'sink'; readonly headerIndent: number; bodyIndent: number | null; firstBodyLine: number };

/**
 * The largest scenario read: 16 MiB (bytes of a file, UTF-16 code units of a string).
 * Parsing keeps about 40 bytes of syntax tree per byte of statements, so a scenario at the
 * limit parses within a default Node heap; far larger inputs are not hand-written tests.
 */
export const MAX_SCENARIO_BYTES = 16 * 1024 * 1024;

/** Parses a scenario. Never throws; problems are returned as diagnostics, sorted by position and capped (see {@link capDiagnostics}). */
export function parseScenario(text: string, file: string): { scenario: Scenario; diagnostics: Diagnostic[] } {
  const p = parseText(stripBom(text), file);
  return { scenario: p.scenario, diagnostics: capDiagnostics(p.diagnostics, p.omitted, file) };
}

/** What a parse leaves besides the tree, for the runner's checks. */
export interface ParseResult {
  readonly scenario: Scenario;
  /** The first diagnostics found (at most {@link MAX_DIAGNOSTICS} + 1), in the order found. */
  readonly diagnostics: readonly Diagnostic[];
  /** How many more were found and dropped. */
  readonly omitted: number;
  /**
   * Names that lines with errors would have bound (`a = …`, `process p`, `thread p.t1`):
   * the checks of the other lines take them as defined, so an error is reported once,
   * not again at every use of what the broken line was meant to define.
   */
  readonly unsureNames: ReadonlySet<string>;
  /** Whether a machine line was written but had an error (its options are unknown). */
  readonly machineFailed: boolean;
}

/** @internal Parses `text` (its byte order mark already removed) without sorting or capping its diagnostics. */
export function parseText(text: string, file: string): ParseResult {
  const p = new Parser(file);
  if (text.length > MAX_SCENARIO_BYTES) {
    p.diagnostics.push({
      file,
      span: { line: 0, column: 0, length: 0 },
      code: 'MMS0003',
      message: `scenarios are limited to ${MAX_SCENARIO_BYTES / (1024 * 1024)} MiB (${MAX_SCENARIO_BYTES} characters), and this one is ${text.length}: split it into several files`,
    });
  } else {
    eachLine(text, (t, n) => p.line(scanLine(t, n, file)));
    p.finish();
  }
  return { scenario: { file, machine: p.machine, body: p.body }, diagnostics: p.diagnostics, omitted: p.omitted, unsureNames: p.unsureNames, machineFailed: p.machineFailed };
}

class Parser {
  readonly diagnostics: Diagnostic[] = [];
  /** Diagnostics found past the first MAX_DIAGNOSTICS + 1, counted only. */
  omitted = 0;
  readonly body: TopLevel[] = [];
  machine: MachineDecl | null = null;
  readonly unsureNames = new Set<string>();
  machineFailed = false;
  /** Whether the current line's statement (or header) was kept in the tree. */
  private kept = false;

  private readonly stack: Frame[] = [{ kind: 'top', headerIndent: -1, bodyIndent: 0, firstBodyLine: 0 }];
  /** Whether a statement other than the machine line has been seen. */
  private started = false;
  /** The concurrent block a `schedule` line may follow: the last top-level statement, if it is one. */
  private lastConcurrent: { index: number } | null = null;

  // The line being parsed.
  private tokens: readonly Token[] = [];
  private pos = 0;
  private lineNo = 0;
  /** The diagnostic code of generic "expected …" errors in the current context. */
  private code: DiagnosticCode = 'MMS2001';
  /** How deeply the condition being parsed nests. */
  private depth = 0;
  /** Operands chained on this line so far (see MAX_OPERANDS). */
  private operands = 0;

  constructor(private readonly file: string) {}

  // ---- Lines and blocks -------------------------------------------------------------

  line(l: ScannedLine): void {
    for (const d of l.diagnostics) this.push(d);
    if (l.tokens.length === 0) return;
    this.kept = false;
    try {
      this.statementLine(l);
    } finally {
      if (!this.kept) this.rememberUnsure(l.tokens);
    }
  }

  /** A line that was not kept may have meant to define a name; note which. */
  private rememberUnsure(tokens: readonly Token[]): void {
    const [a, b] = tokens;
    if (a === undefined) return;
    if (a.kind === 'word' && a.text === 'machine') this.machineFailed ||= this.machine === null;
    if (b === undefined) return;
    if (a.kind === 'word' && isOp(b, '=')) this.unsureNames.add(a.text);
    else if (a.kind === 'option' && b.kind === 'word') this.unsureNames.add(a.key);
    else if (a.kind === 'word' && (a.text === 'process' || a.text === 'thread') && b.kind === 'word') {
      this.unsureNames.add(b.text);
      const dot = b.text.indexOf('.');
      if (dot > 0) this.unsureNames.add(b.text.slice(0, dot));
    }
  }

  private statementLine(l: ScannedLine): void {
    this.tokens = l.tokens;
    this.pos = 0;
    this.lineNo = l.line;
    this.code = 'MMS2001';
    this.depth = 0;
    this.operands = 0;
    const w = l.indent;
    let top = this.top();
    while (top.kind !== 'top' && w <= top.headerIndent) {
      this.close(top);
      this.stack.pop();
      top = this.top();
    }
    if (top.kind === 'sink') return;
    // A tab-indented line (already reported) cannot say where a block's lines stand.
    if (l.tabInIndent && w !== top.bodyIndent) return;
    if (top.bodyIndent === null) {
      top.bodyIndent = w;
      top.firstBodyLine = l.line;
    }
    if (w !== top.bodyIndent) {
      const first = l.tokens[0];
      if (top.kind === 'top') {
        this.report(
          'MMS2003',
          first.span,
          "an indented line with no 'process', 'thread' or 'concurrent' header above it: top-level statements are not indented",
        );
        this.stack.push({ kind: 'sink', headerIndent: 0, bodyIndent: null, firstBodyLine: 0 });
      } else {
        this.report(
          'MMS1004',
          first.span,
          `inconsistent indentation: expected ${spaces(top.bodyIndent)}, like the first line of this block (line ${top.firstBodyLine}), found ${w}`,
        );
        if (w > top.bodyIndent) this.stack.push({ kind: 'sink', headerIndent: top.bodyIndent, bodyIndent: null, firstBodyLine: 0 });
      }
      return;
    }
    try {
      if (top.kind === 'top') this.topLine(w);
      else if (top.kind === 'block') this.bodyLine(top, w);
      else this.concurrentLine(top, w);
    } catch (e) {
      if (!(e instanceof Bail)) throw e;
    }
  }

  finish(): void {
    while (this.stack.length > 1) {
      this.close(this.top());
      this.stack.pop();
    }
  }

  private top(): Frame {
    return this.stack[this.stack.length - 1];
  }

  private close(f: Frame): void {
    if (f.kind === 'concurrent' && f.bodyIndent === null && f.threads !== null) {
      this.report('MMS2001', f.header.span, "expected indented 'thread NAME' blocks under 'concurrent'");
    }
  }

  /** A statement at the top level. */
  private topLine(w: number): void {
    const first = this.tokens[0];
    const word = first.kind === 'word' ? first.text : null;
    const afterConcurrent = this.lastConcurrent;
    this.lastConcurrent = null;

    if (word === 'machine' && !this.isBinding()) {
      this.machineLine();
      return;
    }
    if (word === 'schedule' && !this.isBinding()) {
      this.started = true;
      this.scheduleLine(afterConcurrent);
      return;
    }
    if ((word === 'process' || word === 'thread') && !this.isBinding()) {
      this.started = true;
      this.header(w, word, (b) => {
        this.body.push(b);
        this.kept = true;
      });
      return;
    }
    if (word === 'concurrent' && !this.isBinding()) {
      this.started = true;
      const threads: ThreadBlock[] = [];
      this.stack.push({ kind: 'concurrent', headerIndent: w, bodyIndent: null, firstBodyLine: 0, threads, header: first });
      this.body.push({ kind: 'concurrent', threads, schedule: null, span: first.span });
      this.lastConcurrent = { index: this.body.length - 1 };
      this.next();
      this.expectEnd("after 'concurrent'");
      return;
    }
    if ((word === 'forbid' || word === 'exists' || word === 'require') && !this.isBinding()) {
      this.started = true;
      this.finalLine(word);
      return;
    }
    // An operation: only file, swapout, reclaim and check stand at the top level.
    const op = this.isBinding() ? this.tokens[first.kind === 'option' ? 1 : 2] : first;
    if (op === undefined || op.kind !== 'word' || !TOP_LEVEL_OPS.has(op.text)) {
      const at = op ?? first;
      if (at.kind === 'error') return;
      const found = at.kind === 'word' ? `unknown statement ${quote(at.text)}` : `expected a statement, found ${this.describe(at)}`;
      this.report(
        'MMS2002',
        at.span,
        `${found}: at the top level, expected ${listOf(TOP_LEVEL_STATEMENTS)}` +
          (at.kind === 'word' && !KEYWORDS.has(at.text) ? " (operations go in a block under 'process NAME')" : ''),
      );
      // Its indented lines, if any, are most likely the body of a misspelt header.
      this.stack.push({ kind: 'sink', headerIndent: w, bodyIndent: null, firstBodyLine: 0 });
      return;
    }
    this.started = true;
    const statement = this.opStatement();
    this.body.push({ kind: 'top-op', statement });
    this.kept = true;
  }

  /** A line in a `process` or `thread` block: an operation. */
  private bodyLine(frame: Frame & { kind: 'block' }, w: number): void {
    const first = this.tokens[0];
    const binding = this.isBinding();
    const op = binding ? this.tokens[first.kind === 'option' ? 1 : 2] : first;
    const misplaced = op !== undefined && op.kind === 'word' ? this.misplaced(op.text) : null;
    if (op !== undefined && misplaced !== null) {
      if (binding) {
        this.report('MMS2003', op.span, `'${op.text}' starts a statement of its own; it is not an operation`);
      } else {
        this.report('MMS2003', op.span, misplaced);
        this.openDiscarded(op.text, w);
      }
      return;
    }
    const s = this.opStatement();
    if (frame.body !== null) {
      frame.body.push(s);
      this.kept = true;
    }
  }

  /** A line directly in a `concurrent` block: a `thread` header. */
  private concurrentLine(frame: Frame & { kind: 'concurrent' }, w: number): void {
    const first = this.tokens[0];
    if (first.kind === 'word' && first.text === 'thread') {
      this.header(w, 'thread', (b) => {
        if (frame.threads === null) return;
        frame.threads.push(b);
        this.kept = true;
      });
      return;
    }
    if (first.kind === 'error') return;
    if (first.kind === 'word' && first.text === 'process') {
      this.report(
        'MMS2003',
        first.span,
        "a 'process' block inside 'concurrent': write 'thread p' for the main thread of process p, or 'thread p.t1'",
      );
      this.openDiscarded('process', w);
      return;
    }
    this.report(
      'MMS2003',
      first.span,
      `expected 'thread NAME', found ${this.describe(first)}: the statements of a 'concurrent' block go in its indented 'thread' blocks`,
    );
    if (first.kind === 'word') this.openDiscarded(first.text, w);
    else this.stack.push({ kind: 'sink', headerIndent: w, bodyIndent: null, firstBodyLine: 0 });
  }

  /** After a misplaced statement: parse the lines under it (for their errors) but keep nothing. */
  private openDiscarded(word: string, w: number): void {
    if (word === 'concurrent') {
      this.stack.push({ kind: 'concurrent', headerIndent: w, bodyIndent: null, firstBodyLine: 0, threads: null, header: this.tokens[0] });
      return;
    }
    if (word === 'process' || word === 'thread') {
      this.stack.push({ kind: 'block', headerIndent: w, bodyIndent: null, firstBodyLine: 0, body: null });
      return;
    }
    this.stack.push({ kind: 'sink', headerIndent: w, bodyIndent: null, firstBodyLine: 0 });
  }

  /** Why `word` cannot start a line inside a block, or null if it can. */
  private misplaced(word: string): string | null {
    switch (word) {
      case 'machine':
        return "the machine line goes at the top of the scenario, before any other statement, not inside a block";
      case 'process':
        return "'process' opens a block at the top level; blocks do not nest (to start another block, write it without indentation)";
      case 'thread':
        return "'thread' opens a block at the top level or inside 'concurrent'; blocks do not nest";
      case 'concurrent':
        return "'concurrent' opens a block at the top level; blocks do not nest";
      case 'schedule':
        return "'schedule' goes at the top level, on the line right after a 'concurrent' block";
      case 'forbid':
      case 'exists':
      case 'require':
        return `final conditions ('${word} …') go at the top level, after the statements, not inside a block`;
      case 'file':
        return "'file' creates a file at the top level, not inside a block";
      default:
        return null;
    }
  }

  // ---- Statements -------------------------------------------------------------------

  private machineLine(): void {
    const kw = this.next();
    if (this.machine !== null) {
      this.report('MMS2006', kw.span, `a second machine line: a scenario has at most one (the first is on line ${this.machine.span.line})`);
      return;
    }
    if (this.started) {
      this.report('MMS2003', kw.span, 'the machine line must come before any other statement');
      return;
    }
    const arch = this.peek();
    if (arch === null || arch.kind !== 'word') {
      this.fail(arch, "expected the architecture (x86_64) after 'machine'");
    }
    this.next();
    const options = this.options('like cpus=2 or memory=64M');
    const decl: MachineDecl = { kind: 'machine', arch: arch.text, options, span: this.spanFrom(kw) };
    this.machine = decl;
    this.body.push(decl);
    this.kept = true;
  }

  /** `process NAME [cpu=N]` or `thread PROC.NAME [cpu=N]`: opens a block at indentation `w`. */
  private header(w: number, kind: 'process' | 'thread', add: (b: ThreadBlock) => void): void {
    const body: OpStatement[] = [];
    let ok = false;
    try {
      const kw = this.next();
      const name = this.peek();
      const what = kind === 'process' ? 'a process name, like p,' : 'a thread name, like p.t1 or p,';
      if (name === null || name.kind !== 'word') this.fail(name, `expected ${what} after '${kind}'`);
      if (kind === 'process' ? !isName(name.text) : !isThreadName(name.text)) {
        this.fail(name, `expected ${what} after '${kind}', found ${quote(name.text)} (a name is letters, digits and _)`);
      }
      this.next();
      const options = this.options('like cpu=1');
      add({ kind: 'thread-block', header: kind, name: name.text, options, body, span: this.spanFrom(kw) });
      ok = true;
    } finally {
      // Open the block even when its header is wrong, so the lines under it are parsed.
      this.stack.push({ kind: 'block', headerIndent: w, bodyIndent: null, firstBodyLine: 0, body: ok ? body : null });
    }
  }

  private scheduleLine(afterConcurrent: { index: number } | null): void {
    const kw = this.next();
    if (afterConcurrent === null) {
      const prev = this.body[this.body.length - 1];
      const why =
        prev !== undefined && prev.kind === 'concurrent' && prev.schedule !== null
          ? `this 'concurrent' block already has a schedule (line ${prev.schedule[0]?.span.line ?? kw.span.line})`
          : "'schedule' must come on the line right after a 'concurrent' block";
      this.report('MMS2003', kw.span, why);
      return;
    }
    const names: { name: string; span: Span }[] = [];
    for (let t = this.peek(); t !== null; t = this.peek()) {
      if (t.kind !== 'word' || !isThreadName(t.text)) this.fail(t, `expected a thread name, like p or p.t1, found ${this.describe(t)}`);
      names.push({ name: t.text, span: t.span });
      this.next();
    }
    if (names.length === 0) this.fail(null, "expected thread names after 'schedule', one step each, like 'schedule p p.t1 p'");
    const block = this.body[afterConcurrent.index];
    if (block.kind === 'concurrent') this.body[afterConcurrent.index] = { ...block, schedule: names } satisfies ConcurrentBlock;
  }

  private finalLine(quantifier: 'forbid' | 'exists' | 'require'): void {
    this.code = 'MMS2005';
    const kw = this.next();
    const condition = this.orCondition(`'${quantifier}'`);
    const t = this.peek();
    if (t !== null) {
      this.fail(t, `expected 'and', 'or' or the end of the line, found ${this.describe(t)}${this.subtractHint(t)}`);
    }
    const node: FinalCondition = { kind: 'final', quantifier, condition, span: this.spanFrom(kw) };
    this.body.push(node);
  }

  /** `[name =] op args… [=> expectation]`. */
  private opStatement(): OpStatement {
    const first = this.peek();
    if (first === null) this.fail(first, 'expected an operation');
    let bind: { name: string; span: Span } | null = null;
    if (this.isBinding()) {
      if (first.kind === 'option') {
        bind = { name: first.key, span: { ...first.span, length: first.key.length } };
        if (!isName(first.key)) this.fail(bind.span, `expected a name to bind, found ${quote(first.key)} (a name is letters, digits and _)`);
        this.next();
      } else {
        if (first.kind !== 'word' || !isName(first.text)) {
          this.fail(first, `expected a name to bind, found ${this.describe(first)} (a name is letters, digits and _)`);
        }
        bind = { name: first.text, span: first.span };
        this.next();
        this.next(); // '='
      }
    }
    const op = this.peek();
    if (op === null || op.kind !== 'word') {
      this.fail(
        op,
        bind === null
          ? `expected an operation, like 'load a' or 'a = mmap 4K rw private anon', found ${this.describe(op)}`
          : `expected an operation after '${bind.name} =', found ${this.describe(op)}`,
      );
    }
    this.next();
    const args: Arg[] = [];
    for (let t = this.peek(); t !== null && !isOp(t, '=>'); t = this.peek()) {
      const arg = this.arg();
      if (arg === null) this.fail(t, `expected an argument or '=>', found ${this.describe(t)}${this.misuseHint(t)}`);
      args.push(arg);
    }
    let expect: Expectation | null = null;
    const arrow = this.peek();
    if (arrow !== null) {
      this.next();
      expect = this.expectation();
    }
    return { kind: 'op', bind, op: op.text, opSpan: op.span, args: compact(args), expect, span: this.spanFrom(first) };
  }

  /** Options only (`key=value`), to the end of the line. */
  private options(like: string): Arg[] {
    const out: Arg[] = [];
    for (let t = this.peek(); t !== null; t = this.peek()) {
      if (t.kind !== 'option') this.fail(t, `expected an option ${like}, found ${this.describe(t)}`);
      const a = this.arg();
      if (a !== null) out.push(a);
    }
    return out;
  }

  // ---- Expectations -----------------------------------------------------------------

  private expectation(): Expectation {
    this.code = 'MMS2004';
    const t = this.peek();
    const what = "a value, an errno like EINVAL, a signal like SIGSEGV, or 'ok'";
    if (t === null) this.fail(t, `expected ${what} after '=>'`);
    let e: Expectation;
    if (t.kind === 'word' && t.text === 'ok') {
      this.next();
      e = { kind: 'ok', span: t.span };
    } else if (t.kind === 'word' && SIGNAL_RE.test(t.text)) {
      e = this.signalExpectation();
    } else if (t.kind === 'word' && ERRNO_RE.test(t.text)) {
      this.next();
      e = { kind: 'errno', name: t.text, span: t.span };
    } else if (t.kind === 'number' || (t.kind === 'word' && isName(t.text))) {
      const expr = this.expr(`after '=>'`);
      e = { kind: 'value', expr, span: expr.span };
    } else {
      this.fail(t, `expected ${what} after '=>', found ${this.describe(t)}`);
    }
    const extra = this.peek();
    if (extra !== null) this.fail(extra, `unexpected ${this.describe(extra)} after the expectation${this.subtractHint(extra)}`);
    return e;
  }

  /** `SIGNAME [CODE] [key=EXPR] [addr=EXPR]`. */
  private signalExpectation(): Expectation {
    const sig = this.next();
    let code: string | null = null;
    let pkey: Expr | null = null;
    let addr: Expr | null = null;
    const c = this.peek();
    if (c !== null && c.kind === 'word') {
      if (!CODE_RE.test(c.text)) {
        this.fail(c, `expected a signal code like SEGV_ACCERR, or key=N or addr=ADDR, found ${quote(c.text)}`);
      }
      code = c.text;
      this.next();
    }
    for (let t = this.peek(); t !== null; t = this.peek()) {
      if (t.kind !== 'option' || (t.key !== 'key' && t.key !== 'addr')) {
        const found = t.kind === 'option' ? `'${t.key}='` : this.describe(t);
        this.fail(t, `expected key=N or addr=ADDR after the signal, found ${found}${this.subtractHint(t)}`);
      }
      if ((t.key === 'key' ? pkey : addr) !== null) this.fail(t, `'${t.key}=' is given twice`);
      this.next();
      const v = this.expr(`after '${t.key}='`);
      if (t.key === 'key') pkey = v;
      else addr = v;
    }
    return { kind: 'signal', signal: sig.text, code, pkey, addr, span: this.spanFrom(sig) };
  }

  // ---- Conditions -------------------------------------------------------------------

  private orCondition(after: string): Condition {
    let left = this.andCondition(after);
    for (let t = this.peek(); t !== null && isWord(t, 'or'); t = this.peek()) {
      this.chained(t);
      this.next();
      const right = this.andCondition("'or'");
      left = { kind: 'or', left, right, span: join(left.span, right.span) };
    }
    return left;
  }

  private andCondition(after: string): Condition {
    let left = this.notCondition(after);
    for (let t = this.peek(); t !== null && isWord(t, 'and'); t = this.peek()) {
      this.chained(t);
      this.next();
      const right = this.notCondition("'and'");
      left = { kind: 'and', left, right, span: join(left.span, right.span) };
    }
    return left;
  }

  private notCondition(after: string): Condition {
    const t = this.peek();
    if (t !== null && (isWord(t, 'not') || isOp(t, '('))) {
      if (this.depth >= MAX_DEPTH) this.fail(t, `the condition nests too deeply (more than ${MAX_DEPTH} levels of 'not' and parentheses)`);
      this.depth++;
      try {
        return this.nested(t);
      } finally {
        this.depth--;
      }
    }
    if (t !== null && t.kind === 'word' && (CONDITION_SUBJECTS as readonly string[]).includes(t.text)) return this.atom();
    this.fail(
      t,
      `expected a condition after ${after}, like 'pte p a writable' or 'counter p cowCopies == 1' ` +
        `(${listOf(CONDITION_SUBJECTS.filter((s) => s !== 'maps'))}), found ${this.describe(t)}`,
    );
  }

  /** `not COND` or `( COND )`, starting at `t`. */
  private nested(t: Token): Condition {
    if (isWord(t, 'not')) {
      this.next();
      const operand = this.notCondition("'not'");
      return { kind: 'not', operand, span: join(t.span, operand.span) };
    }
    this.next();
    const inner = this.orCondition("'('");
    const close = this.peek();
    if (close === null || !isOp(close, ')')) {
      this.fail(close, `expected ')' to close the '(' at column ${t.span.column}, found ${this.describe(close)}`);
    }
    this.next();
    return { ...inner, span: join(t.span, close.span) };
  }

  /** `SUBJECT args… [OP right]`, checked against the shape of its subject. */
  private atom(): Condition {
    const subject = this.next() as Token & { kind: 'word' };
    const args: Arg[] = [];
    for (let t = this.peek(); t !== null && !isAtomEnd(t); t = this.peek()) {
      const a = this.arg();
      if (a === null) break;
      args.push(a);
    }
    let compare: { op: Comparison; right: Arg } | null = null;
    const c = this.peek();
    if (c !== null && c.kind === 'op' && isComparison(c.op)) {
      this.next();
      const r = this.peek();
      const right = r === null ? null : this.arg();
      if (right === null) {
        const prot = subject.text === 'vma' && args[2]?.kind === 'word' && args[2].word === 'prot';
        this.fail(r, `expected ${prot ? 'a protection like rw- or r--' : 'a value'} after '${c.op}', found ${this.describe(r)}`);
      }
      compare = { op: c.op, right };
    }
    this.checkAtom(subject, args, compare, c);
    const last = compare?.right.span ?? args[args.length - 1]?.span ?? subject.span;
    return { kind: 'atom', subject: subject.text, args: compact(args), compare, span: join(subject.span, last) };
  }

  private checkAtom(
    subject: Token & { kind: 'word' },
    args: readonly Arg[],
    compare: { op: Comparison; right: Arg } | null,
    cmpToken: Token | null,
  ): void {
    const shape = ATOM_SHAPES[subject.text];
    if (shape === undefined) return;
    const usage = `'${subject.text} ${shape.usage}'`;
    for (let i = 0; i < shape.slots.length; i++) {
      const slot = shape.slots[i];
      const a = args[i];
      if (a === undefined) {
        if (slot.optional === true) break;
        const after = i === 0 ? `'${subject.text}'` : quote(lastText(args[i - 1]));
        const at = this.peek();
        this.fail(at, `expected ${slot.what} after ${after}, found ${this.describe(at)} (write ${usage})`);
      }
      const fits = slot.kind === 'address' ? argExpr(a) !== null : a.kind === 'word' && (slot.test?.(a.word) ?? true);
      if (!fits) this.fail(a.span, `expected ${slot.what}, found ${describeArg(a)} (write ${usage})`);
    }
    if (args.length > shape.slots.length) {
      const extra = args[shape.slots.length];
      this.fail(extra.span, `unexpected ${describeArg(extra)}: write ${usage}`);
    }
    const property = args[shape.slots.length - 1];
    if (shape.compare === 'never' && compare !== null && cmpToken !== null) {
      this.fail(cmpToken, `'${subject.text}' takes no comparison (write ${usage})`);
    }
    if (compare === null && (shape.compare === 'always' || (subject.text === 'vma' && property?.kind === 'word' && property.word === 'prot'))) {
      const at = this.peek();
      const like = subject.text === 'vma' ? "'== r--'" : "'== 1'";
      this.fail(at, `expected a comparison like ${like} after ${quote(lastText(args[args.length - 1]))}, found ${this.describe(at)}`);
    }
    if (subject.text === 'vma' && property?.kind === 'word' && property.word === 'prot' && compare !== null) {
      const r = compare.right;
      if (r.kind !== 'word' || protectionBits(r.word) === null) {
        this.fail(r.span, `expected a protection like rw- or r-- after '${compare.op}', found ${describeArg(r)}`);
      }
    }
  }

  // ---- Arguments and expressions ----------------------------------------------------

  /**
   * One argument starting at the current token, or null (nothing consumed) if the token
   * cannot start one.
   */
  private arg(): Arg | null {
    const t = this.peek();
    if (t === null) return null;
    switch (t.kind) {
      case 'number': {
        const expr = this.expr('');
        return { kind: 'expr', expr, span: expr.span };
      }
      case 'word': {
        const after = this.peekAt(1);
        if (after !== null && (isOp(after, '+') || isOp(after, '-'))) {
          const expr = this.expr('');
          return { kind: 'expr', expr, span: expr.span };
        }
        this.next();
        return { kind: 'word', word: t.text, span: t.span };
      }
      case 'string':
        this.next();
        return { kind: 'string', value: t.value, span: t.span };
      case 'option': {
        this.next();
        const v = this.peek();
        if (v === null || v.kind === 'option' || v.kind === 'op') {
          this.fail(v, `expected a value after '${t.key}=', found ${this.describe(v)}`);
        }
        const value = this.arg();
        if (value === null) this.fail(v, `expected a value after '${t.key}='`);
        return { kind: 'option', key: t.key, value, span: join(t.span, value.span) };
      }
      default:
        return null;
    }
  }

  /** An expression: operands joined by `+` and `-`, left to right. */
  private expr(after: string): Expr {
    let left = this.operand(after === '' ? '' : ` ${after}`, 'a number or a name');
    for (let t = this.peek(); t !== null && t.kind === 'op' && (t.op === '+' || t.op === '-'); t = this.peek()) {
      this.chained(t);
      this.next();
      const right = this.operand(` after '${t.op}'`, 'an expression');
      left = { kind: 'binary', op: t.op, left, right, span: join(left.span, right.span) };
    }
    return left;
  }

  private operand(after: string, what: string): Expr {
    const t = this.peek();
    if (t !== null && t.kind === 'number') {
      this.next();
      return { kind: 'number', value: t.value, span: t.span };
    }
    if (t !== null && t.kind === 'word' && isName(t.text)) {
      this.next();
      return { kind: 'name', name: t.text, span: t.span };
    }
    const why =
      t !== null && t.kind === 'word'
        ? /^[A-Za-z_][A-Za-z0-9_]*-/.test(t.text)
          ? " (to subtract, put spaces around '-')"
          : ' (a name is letters, digits and _)'
        : '';
    if (t === null) this.fail(t, `expected ${what}${after}`);
    this.fail(t, `expected ${what}${after}, found ${this.describe(t)}${why}`);
  }

  // ---- Tokens -----------------------------------------------------------------------

  /** Whether the line is a binding: `name = op …` (or `name=op …`). */
  private isBinding(): boolean {
    const [a, b] = this.tokens;
    if (a === undefined || b === undefined) return false;
    if (a.kind === 'word' && isOp(b, '=')) return true;
    return a.kind === 'option' && b.kind === 'word';
  }

  /** The current token, or null at the end of the line; bails out silently at a lexical error. */
  private peek(): Token | null {
    return this.peekAt(0);
  }

  private peekAt(k: number): Token | null {
    const t = this.tokens[this.pos + k];
    if (t === undefined) return null;
    if (t.kind === 'error') throw BAIL;
    return t;
  }

  private next(): Token {
    const t = this.peek();
    if (t === null) throw BAIL;
    this.pos++;
    return t;
  }

  private expectEnd(after: string): void {
    const t = this.peek();
    if (t !== null) this.fail(t, `expected the end of the line ${after}, found ${this.describe(t)}`);
  }

  /** The span from token `first` to the last token consumed. */
  private spanFrom(first: Token): Span {
    const last = this.tokens[this.pos - 1] ?? first;
    return join(first.span, last.span);
  }

  /** Where a missing token would go: just after the last token of the line. */
  private endSpan(): Span {
    const last = this.tokens[this.tokens.length - 1];
    return { line: this.lineNo, column: last.span.column + last.span.length, length: 0 };
  }

  private describe(t: Token | null): string {
    if (t === null) return 'the end of the line';
    switch (t.kind) {
      case 'string':
        return 'a string';
      case 'option':
        return `'${t.key}='`;
      default:
        return quote(t.text);
    }
  }

  /** A hint for a negative number where an operator was expected (`a -1`). */
  private subtractHint(t: Token): string {
    const prev = this.tokens[this.pos - 1];
    if (t.kind === 'number' && t.text.startsWith('-') && prev !== undefined && prev.kind !== 'op') {
      return ` (to subtract, write '- ${t.text.slice(1)}' with a space after '-')`;
    }
    return '';
  }

  private misuseHint(t: Token): string {
    if (isOp(t, '=')) return " (a binding is written 'name = op …' at the start of the line; an expectation with '=>')";
    if (t.kind === 'op' && isComparison(t.op)) return " (comparisons belong in final conditions; an operation's expected result follows '=>')";
    return '';
  }

  private report(code: DiagnosticCode, span: Span, message: string): void {
    this.push({ file: this.file, span, code, message });
  }

  /** Keeps a diagnostic, or only counts it past the first MAX_DIAGNOSTICS + 1 (the one past the cap says where the cut falls). */
  private push(d: Diagnostic): void {
    if (this.diagnostics.length > MAX_DIAGNOSTICS) this.omitted++;
    else this.diagnostics.push(d);
  }

  /** Reports at a token (or the end of the line when null, or a span) in the current context's code, and bails. */
  /** Counts one more chained operand on this line, failing past MAX_OPERANDS. */
  private chained(at: Token): void {
    if (++this.operands > MAX_OPERANDS) this.fail(at, `the line chains too many operands (more than ${MAX_OPERANDS} joined by and, or, + or -)`);
  }

  private fail(at: Token | Span | null, message: string): never {
    const span = at === null ? this.endSpan() : 'span' in at ? at.span : at;
    this.report(this.code, span, message);
    throw BAIL;
  }
}

// ---- Atom shapes ----------------------------------------------------------------------

interface Slot {
  readonly what: string;
  readonly kind: 'word' | 'address';
  readonly test?: (w: string) => boolean;
  readonly optional?: boolean;
}

interface Shape {
  readonly usage: string;
  readonly slots: readonly Slot[];
  readonly compare: 'optional' | 'always' | 'never';
}

const PROC: Slot = { what: 'a process name', kind: 'word', test: isName };
const ADDR: Slot = { what: 'an address', kind: 'address' };
const isCpu = (w: string): boolean => /^cpu[0-9]+$/.test(w);

const ATOM_SHAPES: Readonly<Record<string, Shape>> = {
  pte: {
    usage: 'PROC ADDR PROPERTY', // present, writable, … or key == N, pfn == N
    slots: [PROC, ADDR, { what: 'a property like present, writable or key', kind: 'word', test: isName }],
    compare: 'optional',
  },
  vma: {
    usage: 'PROC ADDR exists|prot|pkey …',
    slots: [PROC, ADDR, { what: 'a property like exists, prot or pkey', kind: 'word', test: isName }],
    compare: 'optional',
  },
  tlb: {
    usage: 'cpuN PROC ADDR PROPERTY',
    slots: [
      { what: 'a CPU like cpu1', kind: 'word', test: isCpu },
      PROC,
      ADDR,
      { what: 'a property like present, writable or key', kind: 'word', test: isName },
    ],
    compare: 'optional',
  },
  counter: {
    usage: 'PROC|cpuN|machine NAME OP N',
    slots: [
      { what: 'a process, a CPU like cpu1, or machine', kind: 'word', test: isName },
      { what: 'a counter name like cowCopies', kind: 'word', test: isName },
    ],
    compare: 'always',
  },
  value: { usage: 'PROC ADDR OP V', slots: [PROC, ADDR], compare: 'always' },
  signal: {
    usage: 'THREAD SIGNAME [CODE]',
    slots: [
      { what: 'a thread name like p or p.t1', kind: 'word', test: isThreadName },
      { what: 'a signal like SIGSEGV', kind: 'word', test: (w) => SIGNAL_RE.test(w) },
      { what: 'a signal code like SEGV_ACCERR', kind: 'word', test: (w) => CODE_RE.test(w), optional: true },
    ],
    compare: 'never',
  },
  alive: { usage: 'PROC', slots: [PROC], compare: 'never' },
  invariant: {
    usage: 'ID',
    slots: [{ what: 'an invariant like no-stale-tlb', kind: 'word' }],
    compare: 'never',
  },
};

// ---- Helpers ------------------------------------------------------------------------

const NO_ARGS: readonly Arg[] = Object.freeze([]);

/**
 * The arguments as kept in the tree: an array grown by push() keeps room for 17, which on
 * a million statements is most of the tree's memory; a copy is exactly as long.
 */
function compact(args: Arg[]): readonly Arg[] {
  return args.length === 0 ? NO_ARGS : args.slice();
}

function isOp(t: Token, op: string): boolean {
  return t.kind === 'op' && t.op === op;
}

function isWord(t: Token, w: string): boolean {
  return t.kind === 'word' && t.text === w;
}

function isComparison(op: string): op is Comparison {
  return op === '==' || op === '!=' || op === '<' || op === '<=' || op === '>' || op === '>=';
}

/** Tokens that end the arguments of a condition atom. */
function isAtomEnd(t: Token): boolean {
  if (t.kind === 'word') return t.text === 'and' || t.text === 'or' || t.text === 'not';
  return t.kind === 'op' && (t.op === ')' || isComparison(t.op));
}

/** The span from the start of `a` to the end of `b` (both on one line). */
function join(a: Span, b: Span): Span {
  return { line: a.line, column: a.column, length: b.column + b.length - a.column };
}

function describeArg(a: Arg): string {
  switch (a.kind) {
    case 'word':
      return quote(a.word);
    case 'string':
      return 'a string';
    case 'option':
      return `'${a.key}='`;
    case 'expr':
      return a.expr.kind === 'number' ? quote(String(a.expr.value)) : 'an expression';
  }
}

function lastText(a: Arg | undefined): string {
  if (a === undefined) return '';
  if (a.kind === 'word') return a.word;
  if (a.kind === 'expr' && a.expr.kind === 'name') return a.expr.name;
  if (a.kind === 'expr' && a.expr.kind === 'number') return String(a.expr.value);
  return a.kind === 'option' ? `${a.key}=…` : a.kind === 'string' ? '"…"' : '…';
}

function spaces(n: number): string {
  return n === 1 ? '1 space' : `${n} spaces`;
}

function listOf(words: readonly string[]): string {
  return `${words.slice(0, -1).join(', ')} or ${words[words.length - 1]}`;
}

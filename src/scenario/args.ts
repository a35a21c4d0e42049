import { type Arg, type Expr, type OpStatement, type Span } from './ast.js';
import { type Diagnostic, type DiagnosticCode } from './diagnostics.js';

/** A word that can name a value (`a`, `buf_2`), as opposed to a flag-like word (`r--`, `write-disable`). */
const NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Protection words: `rwx` style (with `-` for missing rights, or letters only) and `none`. */
export function parseProt(word: string): number | null {
  if (word === 'none') return 0;
  if (/^[r-][w-][x-]$/.test(word)) return (word[0] === 'r' ? 1 : 0) | (word[1] === 'w' ? 2 : 0) | (word[2] === 'x' ? 4 : 0);
  if (/^r?w?x?$/.test(word) && word.length > 0) return (word.includes('r') ? 1 : 0) | (word.includes('w') ? 2 : 0) | (word.includes('x') ? 4 : 0);
  return null;
}

/**
 * Reads an operation's arguments against what the operation expects, reporting every
 * mismatch as a diagnostic with the argument's own span. Used once, before anything runs,
 * so a scenario with a wrong argument anywhere never starts.
 */
export class ArgReader {
  private readonly positional: Arg[];
  private readonly options = new Map<string, Arg & { kind: 'option' }>();
  private next = 0;
  private readonly used = new Set<string>();
  /** Every expression handed out as a value, so names can be checked before the run. */
  readonly valueExprs: Expr[] = [];

  constructor(
    private readonly statement: OpStatement,
    private readonly file: string,
    private readonly diagnostics: Diagnostic[],
  ) {
    this.positional = statement.args.filter((a) => a.kind !== 'option');
    for (const a of statement.args) {
      if (a.kind !== 'option') continue;
      if (this.options.has(a.key)) this.error(a.span, 'MMS3003', `option '${a.key}' is given twice`);
      this.options.set(a.key, a);
    }
  }

  /** Reports a problem at `span`. */
  error(span: Span, code: DiagnosticCode, message: string): void {
    this.diagnostics.push({ file: this.file, span, code, message });
  }

  private get op(): string {
    return this.statement.op;
  }

  /** The span just after the last argument, for "missing argument" errors. */
  private get endSpan(): Span {
    const last = this.statement.args[this.statement.args.length - 1];
    const s = last ? last.span : this.statement.opSpan;
    return { line: s.line, column: s.column + s.length, length: 1 };
  }

  /** The whole statement's span. */
  get statementSpan(): Span {
    return this.statement.span;
  }

  /** The next positional argument, without taking it. */
  peek(): Arg | undefined {
    return this.positional[this.next];
  }

  /** The span of option `key=`, or of the statement when it is absent. */
  optionSpan(key: string): Span {
    return this.options.get(key)?.span ?? this.statement.span;
  }

  /** True when another positional argument follows. */
  hasMore(): boolean {
    return this.next < this.positional.length;
  }

  /** The next positional argument as an integer expression (`what` names it in errors). */
  expr(what: string): Expr | null {
    const a = this.positional[this.next];
    if (!a) {
      this.error(this.endSpan, 'MMS3002', `'${this.op}' expects ${what} here`);
      return null;
    }
    this.next++;
    return this.asExpr(a, what);
  }

  /** The next positional argument as an expression, or null (without error) if there is none. */
  optionalExpr(what: string): Expr | null {
    return this.hasMore() ? this.expr(what) : null;
  }

  private asExpr(a: Arg, what: string): Expr | null {
    const e = this.exprOf(a);
    if (e) {
      this.valueExprs.push(e);
      return e;
    }
    this.error(a.span, 'MMS3002', `'${this.op}' expects ${what} here, not ${describe(a)}`);
    return null;
  }

  private exprOf(a: Arg): Expr | null {
    if (a.kind === 'expr') return a.expr;
    if (a.kind === 'word' && NAME_RE.test(a.word)) return { kind: 'name', name: a.word, span: a.span };
    return null;
  }

  /** The next positional argument as a protection (`rw-`, `r--`, `none`, or a number). */
  prot(): number | Expr | null {
    const a = this.positional[this.next];
    if (!a) {
      this.error(this.endSpan, 'MMS3002', `'${this.op}' expects a protection like rw- or r-- here`);
      return null;
    }
    this.next++;
    const word = a.kind === 'word' ? a.word : a.kind === 'expr' && a.expr.kind === 'name' ? a.expr.name : null;
    if (word !== null) {
      const p = parseProt(word);
      if (p !== null) return p;
    }
    if (a.kind === 'expr' && a.expr.kind === 'number') {
      this.valueExprs.push(a.expr);
      return a.expr;
    }
    this.error(a.span, 'MMS3004', `expected a protection like rw-, r--, rwx or none, not ${describe(a)}`);
    return null;
  }

  /** The next positional argument as a word from `allowed` (case-sensitive). */
  word(what: string, allowed: readonly string[]): string | null {
    const a = this.positional[this.next];
    if (!a) {
      this.error(this.endSpan, 'MMS3002', `'${this.op}' expects ${what} here (${allowed.join(', ')})`);
      return null;
    }
    this.next++;
    const w = wordOf(a);
    if (w !== null && allowed.includes(w)) return w;
    this.error(a.span, 'MMS3004', `expected ${what} (${allowed.join(', ')}), not ${describe(a)}`);
    return null;
  }

  /** The next positional argument as any name-like word (a process or thread name). */
  name(what: string): { name: string; span: Span } | null {
    const a = this.positional[this.next];
    if (!a) {
      this.error(this.endSpan, 'MMS3002', `'${this.op}' expects ${what} here`);
      return null;
    }
    this.next++;
    const w = wordOf(a);
    if (w !== null) return { name: w, span: a.span };
    this.error(a.span, 'MMS3002', `expected ${what}, not ${describe(a)}`);
    return null;
  }

  /** Every remaining positional word that is a key of `flags`, OR-ed; others are errors. */
  flags(what: string, flags: Readonly<Record<string, number>>): number {
    let value = 0;
    while (this.hasMore()) {
      const a = this.positional[this.next++];
      const w = wordOf(a);
      if (w !== null && Object.prototype.hasOwnProperty.call(flags, w)) value |= flags[w];
      else this.error(a.span, 'MMS3004', `expected ${what} (${Object.keys(flags).join(', ')}), not ${describe(a)}`);
    }
    return value;
  }

  /**
   * Flags written as words (`excl persist`) or as a number in option `key=` (`flags=3`),
   * not both: the option would silently win over the words.
   */
  flagsOrOption(what: string, flags: Readonly<Record<string, number>>, key: string): number | Expr {
    const hadWords = this.hasMore();
    const words = this.flags(what, flags);
    const span = this.optionSpan(key);
    const option = this.optionExpr(key);
    if (option === null) return words;
    if (hadWords) this.error(span, 'MMS3004', `give the ${what} as words or as ${key}=N, not both`);
    return option;
  }

  /** A string positional argument (file contents). */
  string(what: string): string | null {
    const a = this.positional[this.next];
    if (!a || a.kind !== 'string') {
      this.error(a ? a.span : this.endSpan, 'MMS3002', `'${this.op}' expects ${what} (a string in double quotes) here`);
      if (a) this.next++;
      return null;
    }
    this.next++;
    return a.value;
  }

  /** The value of option `key=` as an expression, or null when absent. */
  optionExpr(key: string): Expr | null {
    const o = this.takeOption(key);
    return o ? this.asExpr(o.value, `a number for ${key}=`) : null;
  }

  /** The value of option `key=` as a word from `allowed`, or null when absent. */
  optionWord(key: string, allowed: readonly string[]): string | null {
    const o = this.takeOption(key);
    if (!o) return null;
    const w = wordOf(o.value);
    if (w !== null && allowed.includes(w)) return w;
    this.error(o.value.span, 'MMS3004', `${key}= takes one of ${allowed.join(', ')}, not ${describe(o.value)}`);
    return null;
  }

  /** The value of option `key=` as a path or any word, or null when absent. */
  optionText(key: string): string | null {
    const o = this.takeOption(key);
    if (!o) return null;
    const w = o.value.kind === 'string' ? o.value.value : wordOf(o.value);
    if (w !== null) return w;
    this.error(o.value.span, 'MMS3004', `${key}= takes a name or path, not ${describe(o.value)}`);
    return null;
  }

  private takeOption(key: string): (Arg & { kind: 'option' }) | undefined {
    this.used.add(key);
    return this.options.get(key);
  }

  /** Reports leftover arguments and options the operation does not take. */
  end(): void {
    while (this.hasMore()) {
      const a = this.positional[this.next++];
      this.error(a.span, 'MMS3002', `'${this.op}' takes no further argument here, but got ${describe(a)}`);
    }
    for (const [key, o] of this.options) {
      if (!this.used.has(key)) this.error(o.span, 'MMS3003', `'${this.op}' has no option '${key}='`);
    }
  }
}

/** The word an argument spells, if it is a bare word or a bare name. */
export function wordOf(a: Arg): string | null {
  if (a.kind === 'word') return a.word;
  if (a.kind === 'expr' && a.expr.kind === 'name') return a.expr.name;
  return null;
}

function describe(a: Arg): string {
  switch (a.kind) {
    case 'word':
      return `'${a.word}'`;
    case 'string':
      return 'a string';
    case 'option':
      return `option '${a.key}='`;
    case 'expr':
      return a.expr.kind === 'name' ? `'${a.expr.name}'` : 'a number';
  }
}

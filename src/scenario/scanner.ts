/**
 * The scanner of the scenario language (docs/scenario-language.md): the language is
 * line-oriented, so the scanner turns one line at a time into its indentation and its
 * tokens. Lexical errors (MMS1001–MMS1004) become diagnostics and `error` tokens, never
 * exceptions; the parser stops reading a line at its first `error` token, whose problem
 * has already been reported.
 *
 * Columns count UTF-16 code units from 1, as JavaScript strings (and LSP editors) do.
 * @packageDocumentation
 */
import { type Span } from './ast.js';
import { type Diagnostic, type DiagnosticCode } from './diagnostics.js';

/** The operators of the language. */
export type Operator = '=' | '=>' | '+' | '-' | '==' | '!=' | '<' | '<=' | '>' | '>=' | '(' | ')';

/** The comparison operators of final conditions. */
export type Comparison = '==' | '!=' | '<' | '<=' | '>' | '>=';

/**
 * A token. `text` is the source text it covers (`span.length` characters).
 *
 * - `number`: `42`, `0x7f00`, `-1`, `16K`, `0x10K`: `value` is the integer it denotes.
 *   A `-` immediately followed by a digit at the start of a token is a negative number
 *   (so `a -1` is two operands: subtraction needs spaces, `a - 1`).
 * - `word`: `rw-`, `private`, `p.t1`, `/data`, `SEGV_ACCERR`, `a`.
 * - `string`: `"hello\n"`: `value` has its escapes decoded.
 * - `option`: the `key=` of a `key=value` option; `text` and `span` include the `=`, and
 *   the value's token follows immediately (no space).
 * - `op`: an operator.
 * - `error`: a lexical error, already reported as a diagnostic.
 */
export type Token =
  | { readonly kind: 'number'; readonly value: number; readonly text: string; readonly span: Span }
  | { readonly kind: 'word'; readonly text: string; readonly span: Span }
  | { readonly kind: 'string'; readonly value: string; readonly text: string; readonly span: Span }
  | { readonly kind: 'option'; readonly key: string; readonly text: string; readonly span: Span }
  | { readonly kind: 'op'; readonly op: Operator; readonly text: string; readonly span: Span }
  | { readonly kind: 'error'; readonly text: string; readonly span: Span };

/** One scanned line. */
export interface ScannedLine {
  /** 1-based line number. */
  readonly line: number;
  /** The line as written (without its line break). */
  readonly text: string;
  /** Width of the leading whitespace, in characters (a tab counts as one). */
  readonly indent: number;
  /** True when the indentation contains a tab (reported as MMS1004 if the line has tokens). */
  readonly tabInIndent: boolean;
  /** Tokens, without comments. Empty for a blank or comment-only line. */
  readonly tokens: readonly Token[];
  /** The lexical errors of this line. */
  readonly diagnostics: readonly Diagnostic[];
}

/** The largest magnitude a number may have: integers are exact up to 2^53. */
export const MAX_EXACT = 2 ** 53;

/** Splits a text into lines at `\n`, `\r\n` or `\r`, as editors number them. */
export function splitLines(text: string): string[] {
  return text.split(/\r\n|\r|\n/);
}

/** The text without a leading UTF-8 byte order mark (U+FEFF), which editors do not count as a column. */
export function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

const LF = 10;
const CR = 13;

/**
 * Calls `f` with each line of `text` (split as {@link splitLines} does) and its 1-based
 * number, without building the array of lines: a file of blank lines costs no memory.
 */
export function eachLine(text: string, f: (line: string, n: number) => void): void {
  let start = 0;
  let n = 1;
  const len = text.length;
  for (let i = 0; i < len; i++) {
    const c = text.charCodeAt(i);
    if (c !== LF && c !== CR) continue;
    f(text.slice(start, i), n++);
    if (c === CR && i + 1 < len && text.charCodeAt(i + 1) === LF) i++;
    start = i + 1;
  }
  f(text.slice(start), n);
}

/**
 * The lines of a text by number, found through an index of where each starts (4 bytes a
 * line) rather than an array of strings, and split as {@link splitLines} does.
 */
export class SourceLines {
  /** Offset of each line's first character; one more entry holds the text's length + 1. */
  private readonly starts: Uint32Array;

  constructor(private readonly text: string) {
    let count = 1;
    const len = text.length;
    for (let i = 0; i < len; i++) {
      const c = text.charCodeAt(i);
      if (c === LF || (c === CR && (i + 1 >= len || text.charCodeAt(i + 1) !== LF))) count++;
    }
    this.starts = new Uint32Array(count + 1);
    let k = 1;
    for (let i = 0; i < len; i++) {
      const c = text.charCodeAt(i);
      if (c === LF || (c === CR && (i + 1 >= len || text.charCodeAt(i + 1) !== LF))) this.starts[k++] = i + 1;
    }
    this.starts[count] = len + 1;
  }

  /** How many lines the text has (a final line break starts an empty last line). */
  get count(): number {
    return this.starts.length - 1;
  }

  /** Line `n` (1-based) without its line break; '' outside the text. */
  line(n: number): string {
    if (!Number.isInteger(n) || n < 1 || n > this.count) return '';
    const start = this.starts[n - 1];
    let end = this.starts[n] - 1;
    if (end > start && this.text.charCodeAt(end - 1) === CR && this.text.charCodeAt(end) === LF) end--;
    return this.text.slice(start, end);
  }
}

/** Scans a whole text: one {@link ScannedLine} per line. */
export function scan(text: string, file: string): ScannedLine[] {
  return splitLines(text).map((t, i) => scanLine(t, i + 1, file));
}

const CH_0 = 48;
const CH_9 = 57;

function isDigit(c: string): boolean {
  const k = c.charCodeAt(0);
  return k >= CH_0 && k <= CH_9;
}

function isLetter(c: string): boolean {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

function isHexDigit(c: string): boolean {
  return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/** Characters that may continue a word. */
export function isWordChar(c: string): boolean {
  return isLetter(c) || isDigit(c) || c === '_' || c === '-' || c === '.' || c === '/';
}

/** Characters that separate tokens without being one. */
function isSpace(c: string): boolean {
  return c === ' ' || c === '\t';
}

/** A character as a message shows it: `'@'`, or `U+00A0` when it would not print. */
export function showChar(c: string): string {
  const k = c.codePointAt(0) ?? 0;
  if (c === "'") return `"'"`;
  if (k > 0x20 && k < 0x7f) return `'${c}'`;
  return `U+${k.toString(16).toUpperCase().padStart(4, '0')}`;
}

/** Source text as a message quotes it: printable ASCII kept, the rest escaped, long text cut. */
export function quote(text: string, max = 40): string {
  let s = '';
  for (const c of text) {
    const k = c.codePointAt(0) ?? 0;
    s += k >= 0x20 && k < 0x7f ? c : `\\u{${k.toString(16)}}`;
  }
  if (s.length > max) s = `${s.slice(0, max - 1)}…`;
  return `'${s}'`;
}

/** Scans one line (`text` without its line break) into its indentation and tokens. */
export function scanLine(text: string, line: number, file: string): ScannedLine {
  const tokens: Token[] = [];
  const diagnostics: Diagnostic[] = [];
  const n = text.length;
  const span = (start: number, end: number): Span => ({ line, column: start + 1, length: end - start });
  const report = (code: DiagnosticCode, start: number, end: number, message: string): void => {
    diagnostics.push({ file, span: span(start, end), code, message });
  };
  const error = (start: number, end: number): void => {
    tokens.push({ kind: 'error', text: text.slice(start, end), span: span(start, end) });
  };

  // Indentation.
  let i = 0;
  let firstTab = -1;
  while (i < n && isSpace(text[i])) {
    if (text[i] === '\t' && firstTab < 0) firstTab = i;
    i++;
  }
  const indent = i;
  const blank = i >= n || text[i] === '#';
  if (firstTab >= 0 && !blank) {
    report('MMS1004', firstTab, firstTab + 1, 'a tab in the indentation: indent with spaces only');
  }

  while (i < n) {
    const c = text[i];
    if (isSpace(c)) {
      i++;
      continue;
    }
    if (c === '#') break;
    const start = i;
    const next = i + 1 < n ? text[i + 1] : '';

    // Numbers, including a `-` immediately followed by a digit.
    if (isDigit(c) || (c === '-' && next !== '' && isDigit(next))) {
      i = scanNumber(start);
      continue;
    }

    // Words and `key=` options.
    if (isLetter(c) || c === '_' || c === '/' || (c === '-' && next !== '' && isWordChar(next))) {
      while (i < n && isWordChar(text[i])) i++;
      const word = text.slice(start, i);
      const after = i + 1 < n ? text[i + 1] : '';
      if (i < n && text[i] === '=' && after !== '' && after !== '=' && after !== '>' && after !== '#' && !isSpace(after)) {
        i++;
        tokens.push({ kind: 'option', key: word, text: text.slice(start, i), span: span(start, i) });
      } else {
        tokens.push({ kind: 'word', text: word, span: span(start, i) });
      }
      continue;
    }

    if (c === '"') {
      i = scanString(start);
      continue;
    }

    // Operators.
    const two = text.slice(i, i + 2);
    if (two === '=>' || two === '==' || two === '!=' || two === '<=' || two === '>=') {
      i += 2;
      tokens.push({ kind: 'op', op: two, text: two, span: span(start, i) });
      continue;
    }
    if (c === '=' || c === '+' || c === '-' || c === '<' || c === '>' || c === '(' || c === ')') {
      i++;
      tokens.push({ kind: 'op', op: c, text: c, span: span(start, i) });
      continue;
    }

    // A single-quoted string: one diagnostic for all of it.
    if (c === "'") {
      const close = text.indexOf("'", i + 1);
      i = close < 0 ? i + 1 : close + 1;
      report('MMS1001', start, i, `unexpected character ${showChar(c)}: strings are written in double quotes`);
      error(start, i);
      continue;
    }

    // Anything else: one diagnostic for a run of unexpected characters.
    const cp = text.codePointAt(i) ?? 0;
    i += cp > 0xffff ? 2 : 1;
    while (i < n && !isSpace(text[i]) && isUnexpected(text, i)) {
      const k = text.codePointAt(i) ?? 0;
      i += k > 0xffff ? 2 : 1;
    }
    const hint =
      c === '!'
        ? " (did you mean '!='?)"
        : c === '\u00a0'
          ? ' (a non-breaking space; use a plain space)'
          : '';
    report('MMS1001', start, i, `unexpected character ${showChar(String.fromCodePoint(cp))}${hint}`);
    error(start, i);
  }

  return { line, text, indent, tabInIndent: firstTab >= 0, tokens, diagnostics };

  /** Scans a number starting at `start`; returns the position after it. */
  function scanNumber(start: number): number {
    let j = start;
    const negative = text[j] === '-';
    if (negative) j++;
    let digits: string;
    let radix = 10;
    let problem: string | null = null;
    if (text[j] === '0' && (text[j + 1] === 'x' || text[j + 1] === 'X')) {
      radix = 16;
      j += 2;
      const d0 = j;
      while (j < n && isHexDigit(text[j])) j++;
      digits = text.slice(d0, j);
      if (digits === '') problem = "expected hexadecimal digits after '0x'";
    } else {
      const d0 = j;
      while (j < n && isDigit(text[j])) j++;
      digits = text.slice(d0, j);
    }
    let scale = 1n;
    if (j < n && (text[j] === 'K' || text[j] === 'M' || text[j] === 'G')) {
      scale = text[j] === 'K' ? 1n << 10n : text[j] === 'M' ? 1n << 20n : 1n << 30n;
      j++;
    }
    if (j < n && isWordChar(text[j])) {
      const bad = text[j];
      const suffixed = scale !== 1n;
      while (j < n && isWordChar(text[j])) j++;
      if (problem === null) {
        problem =
          bad === '.'
            ? 'numbers are integers'
            : bad === '-'
              ? "to subtract, put spaces around '-'"
              : !suffixed && (bad === 'k' || bad === 'm' || bad === 'g')
                ? 'size suffixes are upper case: K, M or G'
                : 'expected digits, then optionally K, M or G';
      }
    }
    const written = text.slice(start, j);
    if (problem === null) {
      const magnitude = BigInt(radix === 16 ? `0x${digits}` : digits) * scale;
      if (magnitude > BigInt(MAX_EXACT)) {
        problem = 'it is too large: integers are exact up to 2^53';
      } else {
        const v = Number(magnitude);
        tokens.push({ kind: 'number', value: negative && v !== 0 ? -v : v, text: written, span: span(start, j) });
        return j;
      }
    }
    report('MMS1003', start, j, `malformed number ${quote(written)}: ${problem}`);
    error(start, j);
    return j;
  }

  /** Scans a string starting at the `"` at `start`; returns the position after it. */
  function scanString(start: number): number {
    let j = start + 1;
    let value = '';
    let bad = false;
    while (j < n && text[j] !== '"') {
      if (text[j] !== '\\') {
        value += text[j];
        j++;
        continue;
      }
      const e = j + 1 < n ? text[j + 1] : '';
      if (e === 'n' || e === 't' || e === '\\' || e === '"') {
        value += e === 'n' ? '\n' : e === 't' ? '\t' : e;
        j += 2;
      } else if (e === 'x' && j + 3 < n && isHexDigit(text[j + 2]) && isHexDigit(text[j + 3])) {
        value += String.fromCharCode(parseInt(text.slice(j + 2, j + 4), 16));
        j += 4;
      } else if (e === '') {
        j++; // a backslash at the end of the line: the string is unterminated
      } else {
        const cp = text.codePointAt(j + 1) ?? 0;
        const end = j + 1 + (cp > 0xffff ? 2 : 1);
        const shown = cp > 0x20 && cp < 0x7f ? `'\\${e}'` : `'\\' followed by ${showChar(String.fromCodePoint(cp))}`;
        report(
          'MMS1001',
          j,
          end,
          e === 'x'
            ? "malformed escape '\\x': expected two hexadecimal digits, like \\x0a"
            : `unknown escape ${shown}: expected \\n, \\t, \\\\, \\" or \\xNN`,
        );
        bad = true;
        j = end;
      }
    }
    if (j >= n) {
      report('MMS1002', start, n, "unterminated string: expected a closing '\"' before the end of the line");
      error(start, n);
      return n;
    }
    j++;
    if (bad) error(start, j);
    else tokens.push({ kind: 'string', value, text: text.slice(start, j), span: span(start, j) });
    return j;
  }
}

/** Whether the character at `i` could not start any token (so it continues a run of errors). */
function isUnexpected(text: string, i: number): boolean {
  const c = text[i];
  if (isLetter(c) || isDigit(c) || c === '_' || c === '/' || c === '-' || c === '"' || c === '#') return false;
  if (c === '=' || c === '+' || c === '<' || c === '>' || c === '(' || c === ')') return false;
  if (c === "'" || (c === '!' && text[i + 1] === '=')) return false;
  return true;
}

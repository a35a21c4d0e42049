import { type Span } from './ast.js';

/**
 * The catalogue of user-error codes (TypeScript's model): a stable code per kind of
 * mistake, so tests, the CLI and the visualizer agree on what went wrong.
 */
export const DIAGNOSTIC_CODES = {
  // Input (a whole file: reported at line 0, which names no line)
  MMS0001: 'cannot read the input',
  MMS0002: 'not a regular file',
  MMS0003: 'input too large',
  MMS0004: 'more problems than are listed',
  // Scanner
  MMS1001: 'unexpected character',
  MMS1002: 'unterminated string',
  MMS1003: 'malformed number',
  MMS1004: 'inconsistent indentation',
  // Parser
  MMS2001: 'expected something else here',
  MMS2002: 'unknown statement',
  MMS2003: 'misplaced statement',
  MMS2004: 'malformed expectation',
  MMS2005: 'malformed condition',
  MMS2006: 'duplicate machine line',
  // Validation (names, arguments, options)
  MMS3001: 'unknown name',
  MMS3002: 'wrong arguments for this operation',
  MMS3003: 'unknown option',
  MMS3004: 'invalid option value',
  MMS3005: 'name already defined',
  MMS3006: 'unknown errno or signal',
  MMS3007: 'unsupported by this machine',
  // Runtime (the scenario is well-formed, but cannot go on)
  MMS4001: 'a name has no value here',
  MMS4003: 'the operation cannot run in this state',
  MMS4002: 'schedule cannot be followed',
} as const;

/** A diagnostic code. */
export type DiagnosticCode = keyof typeof DIAGNOSTIC_CODES;

/** A user error in a scenario: where, which kind, and a sentence saying what was expected. */
export interface Diagnostic {
  readonly file: string;
  readonly span: Span;
  readonly code: DiagnosticCode;
  readonly message: string;
}

/**
 * `file:line:column: error MMS2001: message`, the form editors and terminals understand;
 * `file: error MMS0001: message` for a problem with the whole input (line 0).
 */
export function formatDiagnostic(d: Diagnostic): string {
  const at = d.span.line === 0 ? d.file : `${d.file}:${d.span.line}:${d.span.column}`;
  return `${at}: error ${d.code}: ${d.message}`;
}

/**
 * How many diagnostics one scenario keeps: a file that is wrong on every line (a binary
 * read by mistake) would otherwise hold millions of them. The first ones, by position,
 * are kept, and a last MMS0004 diagnostic says how many more there were.
 */
export const MAX_DIAGNOSTICS = 100;

/**
 * `diagnostics` sorted by position (stable) and cut to {@link MAX_DIAGNOSTICS}, with an
 * MMS0004 summary for the `omitted` ones already dropped and the ones cut here.
 */
export function capDiagnostics(diagnostics: readonly Diagnostic[], omitted = 0, file = diagnostics[0]?.file ?? ''): Diagnostic[] {
  const sorted = diagnostics
    .map((d, i) => ({ d, i }))
    .sort((x, y) => x.d.span.line - y.d.span.line || x.d.span.column - y.d.span.column || x.i - y.i)
    .map((x) => x.d);
  const kept = sorted.slice(0, MAX_DIAGNOSTICS);
  const more = omitted + sorted.length - kept.length;
  if (more > 0) {
    const first = sorted[MAX_DIAGNOSTICS] ?? kept[kept.length - 1];
    kept.push({ file, span: { line: first.span.line, column: first.span.column, length: 0 }, code: 'MMS0004', message: `… and ${more} more problem${more === 1 ? '' : 's'}, not listed: only the first ${MAX_DIAGNOSTICS} are` });
  }
  return kept;
}

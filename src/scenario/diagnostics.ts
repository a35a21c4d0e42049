import { type Span } from './ast.js';

/**
 * The catalogue of user-error codes (TypeScript's model): a stable code per kind of
 * mistake, so tests, the CLI and the visualizer agree on what went wrong.
 */
export const DIAGNOSTIC_CODES = {
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

/** `file:line:column: error MMS2001: message`, the form editors and terminals understand. */
export function formatDiagnostic(d: Diagnostic): string {
  return `${d.file}:${d.span.line}:${d.span.column}: error ${d.code}: ${d.message}`;
}

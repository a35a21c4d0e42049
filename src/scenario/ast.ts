/**
 * The syntax tree of a scenario (`.mms`) file: what the parser produces and the runner
 * executes. Every node carries its source span, so the runner reports outcomes and
 * errors against the line and column the user wrote. See docs/scenario-language.md.
 * @packageDocumentation
 */

/** A source position: 1-based line and column; `length` in characters. */
export interface Span {
  readonly line: number;
  readonly column: number;
  readonly length: number;
}

/** An integer expression: numbers (with K/M/G suffixes), names bound earlier, + and -. */
export type Expr =
  | { readonly kind: 'number'; readonly value: number; readonly span: Span }
  | { readonly kind: 'name'; readonly name: string; readonly span: Span }
  | { readonly kind: 'binary'; readonly op: '+' | '-'; readonly left: Expr; readonly right: Expr; readonly span: Span };

/**
 * One argument of an operation, as written: a positional expression, a bare word
 * (`rw`, `private`, `dontneed`, `write-disable`), a `key=value` option, or a string.
 * Operations interpret their arguments by their schema (see `ops.ts`).
 */
export type Arg =
  | { readonly kind: 'expr'; readonly expr: Expr; readonly span: Span }
  | { readonly kind: 'word'; readonly word: string; readonly span: Span }
  | { readonly kind: 'option'; readonly key: string; readonly value: Arg; readonly span: Span }
  | { readonly kind: 'string'; readonly value: string; readonly span: Span };

/** What a line says must happen: `=> 0x11`, `=> EINVAL`, `=> SIGSEGV SEGV_PKUERR key=3`, `=> ok`. */
export type Expectation =
  | { readonly kind: 'value'; readonly expr: Expr; readonly span: Span }
  | { readonly kind: 'errno'; readonly name: string; readonly span: Span }
  | {
      readonly kind: 'signal';
      readonly signal: string;
      readonly code: string | null;
      /** `key=3` (si_pkey) and `addr=EXPR` (si_addr) refinements. */
      readonly pkey: Expr | null;
      readonly addr: Expr | null;
      readonly span: Span;
    }
  | { readonly kind: 'ok'; readonly span: Span };

/** One operation line: `[name =] op args... [=> expectation]`. */
export interface OpStatement {
  readonly kind: 'op';
  /** The name the result is bound to (`a = mmap …`), or null. */
  readonly bind: { readonly name: string; readonly span: Span } | null;
  readonly op: string;
  readonly opSpan: Span;
  readonly args: readonly Arg[];
  readonly expect: Expectation | null;
  readonly span: Span;
}

/** A block of statements run by one thread: `process p cpu=0` or `thread p.t1 cpu=1`, then indented lines. */
export interface ThreadBlock {
  readonly kind: 'thread-block';
  /** `process` declares (or resumes) a process and runs as its main thread; `thread` names a thread `proc.name`. */
  readonly header: 'process' | 'thread';
  readonly name: string;
  readonly options: readonly Arg[];
  readonly body: readonly OpStatement[];
  readonly span: Span;
}

/** Threads whose statements may interleave, and an optional forced schedule. */
export interface ConcurrentBlock {
  readonly kind: 'concurrent';
  readonly threads: readonly ThreadBlock[];
  /** `schedule p p.t1 p.t1 …`: thread names, one step each; null for the default order. */
  readonly schedule: readonly { readonly name: string; readonly span: Span }[] | null;
  readonly span: Span;
}

/** A condition over the final state (litmus style). */
export type Condition =
  | { readonly kind: 'and' | 'or'; readonly left: Condition; readonly right: Condition; readonly span: Span }
  | { readonly kind: 'not'; readonly operand: Condition; readonly span: Span }
  | {
      readonly kind: 'atom';
      /** `pte`, `vma`, `tlb`, `counter`, `value`, `signal`, `invariant`, `alive`. */
      readonly subject: string;
      readonly args: readonly Arg[];
      /** A comparison `== != < <= > >=` with its right-hand side, or null for a boolean property. */
      readonly compare: { readonly op: '==' | '!=' | '<' | '<=' | '>' | '>='; readonly right: Arg } | null;
      readonly span: Span;
    };

/** `forbid`: no explored outcome may satisfy it; `exists`: some must; `require`: all must. */
export interface FinalCondition {
  readonly kind: 'final';
  readonly quantifier: 'forbid' | 'exists' | 'require';
  readonly condition: Condition;
  readonly span: Span;
}

/** `machine x86_64 os=linux cpus=2 memory=64M swap=64M variant=…`. */
export interface MachineDecl {
  readonly kind: 'machine';
  readonly arch: string;
  readonly options: readonly Arg[];
  readonly span: Span;
}

/** A top-level statement that is not a block: `file /data size=8K`, `swapout p`, `reclaim 64`, `check`. */
export interface TopOp {
  readonly kind: 'top-op';
  readonly statement: OpStatement;
}

/** Anything at the top level of a scenario. */
export type TopLevel = MachineDecl | ThreadBlock | ConcurrentBlock | FinalCondition | TopOp;

/** A parsed scenario. */
export interface Scenario {
  /** File name as given, for diagnostics. */
  readonly file: string;
  readonly machine: MachineDecl | null;
  readonly body: readonly TopLevel[];
}

import { type Machine } from '../api/machine.js';
import { type ProcessHandle } from '../api/process.js';
import { type ThreadHandle } from '../api/thread.js';
import {
  MADV_DONTNEED,
  MADV_NORMAL,
  MADV_RANDOM,
  MADV_SEQUENTIAL,
  MADV_WILLNEED,
  MADV_COLD,
  MADV_COLLAPSE,
  MADV_DODUMP,
  MADV_DOFORK,
  MADV_DONTDUMP,
  MADV_DONTFORK,
  MADV_DONTNEED_LOCKED,
  MADV_FREE,
  MADV_HUGEPAGE,
  MADV_KEEPONFORK,
  MADV_MERGEABLE,
  MADV_NOHUGEPAGE,
  MADV_PAGEOUT,
  MADV_POPULATE_READ,
  MADV_POPULATE_WRITE,
  MADV_REMOVE,
  MADV_UNMERGEABLE,
  MADV_WIPEONFORK,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_FIXED_NOREPLACE,
  MAP_FLAG_NAMES,
  MAP_GROWSDOWN,
  MAP_HUGETLB,
  MAP_LOCKED,
  MAP_NONBLOCK,
  MAP_NORESERVE,
  MAP_POPULATE,
  MAP_PRIVATE,
  MAP_SHARED,
  MAP_SHARED_VALIDATE,
  MAP_STACK,
  MREMAP_DONTUNMAP,
  MREMAP_FIXED,
  MREMAP_MAYMOVE,
  MS_ASYNC,
  MS_INVALIDATE,
  MS_SYNC,
  O_CREAT,
  O_RDONLY,
  O_RDWR,
  O_TRUNC,
  O_WRONLY,
} from '../mm/abi.js';
import { type Errno, isErrno, type Personality } from '../mm/errno.js';
import { AMD64_PKRU_EXCL, AMD64_PKRU_PERSIST } from '../pmap/pkruRangeSet.js';
import { MAP_CHGPROT } from '../mm/remapFilePages.js';
import { fileSizeProblem } from '../mm/fileOps.js';
import { type SignalInfo } from '../mm/signal.js';
import { type KernelPath } from '../step/step.js';
import { type ArgReader } from './args.js';
import { type Expr, type Span } from './ast.js';

/** What an operation produced: a syscall value or errno, a loaded value, a signal, a new process, or nothing. */
export type OpResult = number | Errno | SignalInfo | null | ProcessHandle | undefined;

/** Raised while running when an operation cannot be carried out as written (an unbound name). */
export class ScenarioRuntimeError extends Error {
  constructor(
    message: string,
    readonly span: Span,
    /** MMS4001 for an unbound name or a value out of range, MMS4003 for an operation the state does not allow. */
    readonly code: 'MMS4001' | 'MMS4003' = 'MMS4001',
  ) {
    super(message);
  }
}

/** What a compiled operation can use while it runs. */
export interface OpContext {
  /** The value of an expression; throws ScenarioRuntimeError for an unbound name. */
  num(e: Expr): number;
  /** A process by name; throws ScenarioRuntimeError when unknown. */
  process(name: string, span: Span): ProcessHandle;
  /** True when `name` names a process. */
  hasProcess(name: string): boolean;
  /** Opens a file for an `mmap file=PATH`, returning a descriptor. */
  openForMap(thread: ThreadHandle, path: string, span: Span): number;
  /** Creates a file. */
  createFile(path: string, contents: Uint8Array | number, readOnly: boolean, noexec: boolean): void;
  readonly machine: Machine;
}

/** An operation ready to run: sequentially, or as a kernel path under a scheduler. */
export interface CompiledOp {
  run(ctx: OpContext, thread: ThreadHandle | null): OpResult;
  /** The operation as a kernel path with preemption points, when it has one. */
  path?: ((ctx: OpContext, thread: ThreadHandle) => KernelPath<OpResult>) | undefined;
}

/** Where an operation may appear. */
export type OpPlace = 'thread' | 'top' | 'both';

/** An operation of the language: where it may stand, and how its arguments are read. */
export interface OpDef {
  readonly place: OpPlace;
  /** One line of help, shown when a name is unknown. */
  readonly usage: string;
  /** The personality whose interface this is, when only one has it. */
  readonly os?: Personality;
  compile(r: ArgReader): CompiledOp;
}

const MAP_WORDS: Readonly<Record<string, number>> = {
  ...MAP_FLAG_NAMES,
  private: MAP_PRIVATE,
  shared: MAP_SHARED,
  'shared-validate': MAP_SHARED_VALIDATE,
  anon: MAP_ANONYMOUS,
  anonymous: MAP_ANONYMOUS,
  fixed: MAP_FIXED,
  noreplace: MAP_FIXED_NOREPLACE,
  'fixed-noreplace': MAP_FIXED_NOREPLACE,
  populate: MAP_POPULATE,
  locked: MAP_LOCKED,
  growsdown: MAP_GROWSDOWN,
  hugetlb: MAP_HUGETLB,
  noreserve: MAP_NORESERVE,
  stack: MAP_STACK,
};

/** Advice both kernels number alike (FreeBSD's sys/mman.h agrees with Linux up to MADV_DONTNEED). */
const ADVICE: Readonly<Record<string, number>> = {
  normal: MADV_NORMAL,
  random: MADV_RANDOM,
  sequential: MADV_SEQUENTIAL,
  willneed: MADV_WILLNEED,
  dontneed: MADV_DONTNEED,
};

/** Linux's further advice, by its name without MADV_ (FreeBSD numbers its own differently: write a number there). */
const LINUX_ADVICE: Readonly<Record<string, number>> = {
  free: MADV_FREE,
  remove: MADV_REMOVE,
  dontfork: MADV_DONTFORK,
  dofork: MADV_DOFORK,
  mergeable: MADV_MERGEABLE,
  unmergeable: MADV_UNMERGEABLE,
  hugepage: MADV_HUGEPAGE,
  nohugepage: MADV_NOHUGEPAGE,
  dontdump: MADV_DONTDUMP,
  dodump: MADV_DODUMP,
  wipeonfork: MADV_WIPEONFORK,
  keeponfork: MADV_KEEPONFORK,
  cold: MADV_COLD,
  pageout: MADV_PAGEOUT,
  populate_read: MADV_POPULATE_READ,
  populate_write: MADV_POPULATE_WRITE,
  dontneed_locked: MADV_DONTNEED_LOCKED,
  collapse: MADV_COLLAPSE,
};

const MSYNC_WORDS: Readonly<Record<string, number>> = { sync: MS_SYNC, async: MS_ASYNC, invalidate: MS_INVALIDATE, MS_SYNC, MS_ASYNC, MS_INVALIDATE };
const MREMAP_WORDS: Readonly<Record<string, number>> = { maymove: MREMAP_MAYMOVE, fixed: MREMAP_FIXED, dontunmap: MREMAP_DONTUNMAP, MREMAP_MAYMOVE, MREMAP_FIXED, MREMAP_DONTUNMAP };
/** Rights of a protection key, as pkey_alloc() and pkey_set() take them. */
const RIGHTS_WORDS: Readonly<Record<string, number>> = {
  none: 0,
  'access-disable': 1,
  'disable-access': 1,
  'write-disable': 2,
  'disable-write': 2,
  PKEY_DISABLE_ACCESS: 1,
  PKEY_DISABLE_WRITE: 2,
};

/** remap_file_pages() flags. */
const REMAP_WORDS: Readonly<Record<string, number>> = {
  chgprot: MAP_CHGPROT,
  nonblock: MAP_NONBLOCK,
  MAP_CHGPROT,
  MAP_NONBLOCK,
};

/** FreeBSD x86_pkru_protect_range(3) flags. */
const PKRU_RANGE_WORDS: Readonly<Record<string, number>> = {
  excl: AMD64_PKRU_EXCL,
  persist: AMD64_PKRU_PERSIST,
  AMD64_PKRU_EXCL,
  AMD64_PKRU_PERSIST,
};

/** O_RDONLY is 0: this marker bit says it was written, so the rdwr default does not apply. */
const RDONLY_WRITTEN = 1 << 30;
const OPEN_WORDS: Readonly<Record<string, number>> = {
  rdonly: RDONLY_WRITTEN | O_RDONLY,
  wronly: O_WRONLY,
  rdwr: O_RDWR,
  creat: O_CREAT,
  trunc: O_TRUNC,
  O_RDONLY: RDONLY_WRITTEN | O_RDONLY,
  O_WRONLY,
  O_RDWR,
  O_CREAT,
  O_TRUNC,
};

function need<T>(thread: T | null): T {
  if (thread === null) throw new Error('mmsim bug: a thread operation ran without a thread');
  return thread;
}

/** A value the reader settled (a protection, flags) or an expression evaluated at run time. */
function settledValue(ctx: OpContext, p: number | Expr | null): number {
  return typeof p === 'number' ? p : p === null ? 0 : ctx.num(p);
}

function accessSize(r: ArgReader): Expr | null {
  const e = r.optionExpr('size');
  // A literal size is checked before anything runs.
  if (e && e.kind === 'number' && e.value !== 1 && e.value !== 2 && e.value !== 4) r.error(e.span, 'MMS3004', `size= must be 1, 2 or 4, not ${e.value}`);
  return e;
}

/** An access address, checked: a value the API cannot take is a runtime error on the line. */
function address(ctx: OpContext, e: Expr): number {
  const va = ctx.num(e);
  if (!(va >= 0 && va <= Number.MAX_SAFE_INTEGER)) throw new ScenarioRuntimeError(`address ${va} is outside 0 … 2^53-1`, e.span);
  return va;
}

function sizeOf(ctx: OpContext, e: Expr | null): 1 | 2 | 4 {
  if (e === null) return 1;
  const n = ctx.num(e);
  if (n === 1 || n === 2 || n === 4) return n;
  throw new ScenarioRuntimeError(`size= must be 1, 2 or 4, not ${n}`, e.span);
}

/**
 * How an operation reads one argument: a positional integer expression (the string names
 * it for error messages), or a reader that returns a value settled now (a protection,
 * flags) or an expression to evaluate when the line runs. A reader returning null has
 * reported a diagnostic, so the operation never runs.
 */
type ArgSpec = string | ((r: ArgReader) => number | Expr | null);

const protArg = (r: ArgReader): number | Expr | null => r.prot();
const optionArg =
  (key: string) =>
  (r: ArgReader): Expr | null =>
    r.optionExpr(key);
/** Option `key=` that must be there. */
const requiredOptionArg =
  (op: string, key: string) =>
  (r: ArgReader): Expr | null => {
    const e = r.optionExpr(key);
    if (e === null) r.error(r.statementSpan, 'MMS3002', `'${op}' needs ${key}=${key.toUpperCase()}`);
    return e;
  };
const flagsArg =
  (what: string, words: Readonly<Record<string, number>>, option?: string) =>
  (r: ArgReader): number | Expr =>
    option === undefined ? r.flags(what, words) : r.flagsOrOption(what, words, option);

/**
 * A thread operation whose arguments, read in order by `args`, are handed as numbers to
 * `call` — and to `path`, when the operation has preemption points.
 */
function numericOp(
  usage: string,
  args: readonly ArgSpec[],
  call: (t: ThreadHandle, args: readonly number[]) => OpResult,
  extra: { readonly os?: Personality; readonly path?: (t: ThreadHandle, args: readonly number[]) => KernelPath<OpResult> } = {},
): OpDef {
  return {
    place: 'thread',
    usage,
    ...(extra.os ? { os: extra.os } : {}),
    compile(r) {
      const read = args.map((a) => (typeof a === 'string' ? r.expr(a) : a(r)));
      r.end();
      const values = (ctx: OpContext): number[] => read.map((v) => settledValue(ctx, v));
      const path = extra.path;
      return { run: (ctx, t) => call(need(t), values(ctx)), ...(path ? { path: (ctx: OpContext, t: ThreadHandle) => path(t, values(ctx)) } : {}) };
    },
  };
}

/** pread and pwrite: `FD BUF LEN OFFSET`, through user memory at BUF. */
function fileTransfer(op: 'pread' | 'pwrite'): OpDef {
  return numericOp(`${op} FD BUF LEN OFFSET`, ['a descriptor', 'a buffer address', 'a length', 'a file offset'], (t, [fd, buf, len, off]) => t[op](fd, buf, len, off));
}

/**
 * FreeBSD x86_pkru_protect_range: `ADDR LEN KEY [FLAGS…]`, or with `keyOption` (the short
 * `pkru_protect` spelling) `ADDR LEN key=KEY [FLAGS…]`.
 */
function pkruProtect(keyOption: boolean): OpDef {
  const name = keyOption ? 'pkru_protect' : 'x86_pkru_protect_range';
  return numericOp(
    `${name} ADDR LEN ${keyOption ? 'key=KEY' : 'KEY'} [excl] [persist] [flags=N]`,
    ['an address', 'a length', keyOption ? requiredOptionArg(name, 'key') : 'a key', flagsArg('range flags', PKRU_RANGE_WORDS, 'flags')],
    (t, [a, len, key, flags]) => t.pkruProtectRange(a, len, key, flags),
    { os: 'freebsd', path: (t, [a, len, key, flags]) => t.paths.pkruProtectRange(a, len, key, flags) },
  );
}

/** FreeBSD x86_pkru_unprotect_range: `ADDR LEN`. */
function pkruUnprotect(name: string): OpDef {
  return numericOp(`${name} ADDR LEN`, ['an address', 'a length'], (t, [a, len]) => t.pkruUnprotectRange(a, len), {
    os: 'freebsd',
    path: (t, [a, len]) => t.paths.pkruUnprotectRange(a, len),
  });
}

/** The operations of the language, by name. */
export const OPS: Readonly<Record<string, OpDef>> = {
  mmap: {
    place: 'thread',
    usage: 'mmap LEN PROT FLAGS… [at=ADDR] [file=PATH | fd=FD] [offset=N]',
    compile(r) {
      const len = r.expr('a length');
      const prot = r.prot();
      const flags = r.flags('mmap flags', MAP_WORDS);
      const at = r.optionExpr('at');
      const path = r.optionText('file');
      const pathSpan = r.optionSpan('file');
      const fd = r.optionExpr('fd');
      const offset = r.optionExpr('offset');
      r.end();
      const args = (ctx: OpContext, t: ThreadHandle): [number, number, number, number, number, number] => {
        let f = flags;
        let desc = -1;
        if (path !== null) desc = ctx.openForMap(t, path, pathSpan);
        else if (fd !== null) desc = ctx.num(fd);
        else if (!(f & (MAP_SHARED | MAP_PRIVATE))) f |= MAP_PRIVATE;
        if (path === null && fd === null) f |= MAP_ANONYMOUS;
        return [at === null ? 0 : ctx.num(at), len === null ? 0 : ctx.num(len), settledValue(ctx, prot), f, desc, offset === null ? 0 : ctx.num(offset)];
      };
      return {
        run: (ctx, thread) => need(thread).mmap(...args(ctx, need(thread))),
        path: (ctx, t) => t.paths.mmap(...args(ctx, t)),
      };
    },
  },
  munmap: numericOp('munmap ADDR LEN', ['an address', 'a length'], (t, [a, len]) => t.munmap(a, len), { path: (t, [a, len]) => t.paths.munmap(a, len) }),
  mprotect: numericOp('mprotect ADDR LEN PROT', ['an address', 'a length', protArg], (t, [a, len, prot]) => t.mprotect(a, len, prot), {
    path: (t, [a, len, prot]) => t.paths.mprotect(a, len, prot),
  }),
  mremap: numericOp(
    'mremap ADDR OLDLEN NEWLEN [maymove] [fixed] [dontunmap] [to=ADDR]',
    ['an address', 'the old length', 'the new length', flagsArg('mremap flags', MREMAP_WORDS), optionArg('to')],
    (t, [a, oldLen, newLen, flags, to]) => t.mremap(a, oldLen, newLen, flags, to),
    { os: 'linux', path: (t, [a, oldLen, newLen, flags, to]) => t.paths.mremap(a, oldLen, newLen, flags, to) },
  ),
  madvise: {
    place: 'thread',
    usage: 'madvise ADDR LEN ADVICE',
    compile(r) {
      const addr = r.expr('an address');
      const len = r.expr('a length');
      // Advice by name, or by number as madvise(2) takes it.
      let advice: number | Expr | null = null;
      let linuxOnly: Span | null = null;
      const next = r.peek();
      if (next && next.kind === 'expr' && next.expr.kind !== 'name') advice = r.expr('advice');
      else {
        const a = r.name('advice (dontneed, normal, random, sequential, willneed, a Linux advice such as dontfork, or a number)');
        const has = (table: Readonly<Record<string, number>>, name: string): boolean => Object.prototype.hasOwnProperty.call(table, name);
        if (a && has(ADVICE, a.name)) advice = ADVICE[a.name];
        else if (a && has(LINUX_ADVICE, a.name)) {
          linuxOnly = a.span;
          advice = LINUX_ADVICE[a.name];
        } else if (a) r.error(a.span, 'MMS3004', `expected advice (${[...Object.keys(ADVICE), ...Object.keys(LINUX_ADVICE)].join(', ')}, or a number), not '${a.name}'`);
      }
      r.end();
      const value = (ctx: OpContext): number => {
        if (linuxOnly && ctx.machine.kernel.freebsd) throw new ScenarioRuntimeError('this advice name is Linux\'s; FreeBSD numbers its advice differently: write the number', linuxOnly);
        return advice === null ? 0 : typeof advice === 'number' ? advice : ctx.num(advice);
      };
      return {
        run: (ctx, t) => need(t).madvise(ctx.num(addr!), ctx.num(len!), value(ctx)),
        path: (ctx, t) => t.paths.madvise(ctx.num(addr!), ctx.num(len!), value(ctx)),
      };
    },
  },
  msync: numericOp('msync ADDR LEN FLAGS…', ['an address', 'a length', flagsArg('msync flags', MSYNC_WORDS)], (t, [a, len, flags]) => t.msync(a, len, flags)),
  open: {
    place: 'thread',
    usage: 'open PATH [rdonly | wronly | rdwr] [creat] [trunc]',
    compile(r) {
      const path = r.name('a path');
      const written = r.flags('open flags', OPEN_WORDS);
      r.end();
      const flags = written & RDONLY_WRITTEN || written & (O_WRONLY | O_RDWR) ? written & ~RDONLY_WRITTEN : written | O_RDWR;
      return { run: (_ctx, t) => need(t).open(path ? path.name : '', flags) };
    },
  },
  close: numericOp('close FD', ['a descriptor'], (t, [fd]) => t.close(fd)),
  pread: fileTransfer('pread'),
  pwrite: fileTransfer('pwrite'),
  ftruncate: numericOp('ftruncate FD SIZE', ['a descriptor', 'a size'], (t, [fd, size]) => t.ftruncate(fd, size)),
  load: {
    place: 'thread',
    usage: 'load ADDR [size=1|2|4]',
    compile(r) {
      const addr = r.expr('an address');
      const size = accessSize(r);
      r.end();
      return {
        run: (ctx, t) => need(t).load(address(ctx, addr!), sizeOf(ctx, size)),
        path: size === null ? (ctx, t) => t.paths.load(address(ctx, addr!)) : undefined,
      };
    },
  },
  store: {
    place: 'thread',
    usage: 'store ADDR VALUE [size=1|2|4]',
    compile(r) {
      const addr = r.expr('an address');
      const value = r.expr('a value');
      const size = accessSize(r);
      r.end();
      return {
        run: (ctx, t) => need(t).store(address(ctx, addr!), ctx.num(value!), sizeOf(ctx, size)),
        path: size === null ? (ctx, t) => t.paths.store(address(ctx, addr!), ctx.num(value!)) : undefined,
      };
    },
  },
  fetch: {
    place: 'thread',
    usage: 'fetch ADDR',
    compile(r) {
      const addr = r.expr('an address');
      r.end();
      return { run: (ctx, t) => need(t).fetch(address(ctx, addr!)), path: (ctx, t) => t.paths.fetch(address(ctx, addr!)) };
    },
  },
  fork: {
    place: 'thread',
    usage: 'NAME = fork [cpu=N]',
    compile(r) {
      const cpu = r.optionExpr('cpu');
      r.end();
      return {
        run(ctx, t) {
          if (cpu === null) return need(t).fork();
          const n = ctx.num(cpu);
          if (!Number.isInteger(n) || n < 0 || n >= ctx.machine.hw.cpus.length) throw new ScenarioRuntimeError(`cpu=${n}, but the machine has CPUs 0 to ${ctx.machine.hw.cpus.length - 1}`, cpu.span);
          return need(t).fork(n);
        },
      };
    },
  },
  exec: {
    place: 'thread',
    usage: 'exec',
    compile(r) {
      r.end();
      return { run: (_ctx, t) => need(t).exec() };
    },
  },
  exit: {
    place: 'thread',
    usage: 'exit [CODE]',
    compile(r) {
      const code = r.optionalExpr('an exit code');
      r.end();
      return {
        run(ctx, t) {
          const th = need(t);
          ctx.machine.processHandle(th.thread.process.pid).exit(code === null ? 0 : ctx.num(code));
          return undefined;
        },
      };
    },
  },
  swapout: {
    place: 'both',
    usage: 'swapout [PROC] [ADDR LEN]',
    compile(r) {
      // `swapout p`, `swapout p ADDR LEN`, or in a block `swapout` and `swapout ADDR LEN`:
      // whether the first word names a process or an address is known only when it runs.
      const head = r.peek();
      // An arithmetic expression can only be an address; a bare word may name a process.
      const firstIsExpr = head !== undefined && head.kind === 'expr' && head.expr.kind !== 'name';
      const firstExpr = firstIsExpr ? r.expr('an address') : null;
      const first = !firstIsExpr && r.hasMore() ? r.name('a process name or an address') : null;
      const second = r.hasMore() ? r.expr(firstIsExpr ? 'a length' : 'an address or a length') : null;
      const third = r.hasMore() ? r.expr('a length') : null;
      r.end();
      return {
        run(ctx, t) {
          let proc: ProcessHandle;
          let range: (Expr | null)[] = [];
          if (first && ctx.hasProcess(first.name)) {
            proc = ctx.process(first.name, first.span);
            range = [second, third];
          } else {
            if (!t) throw new ScenarioRuntimeError('swapout at the top level needs a process name first', first ? first.span : firstExpr ? firstExpr.span : r.statementSpan);
            proc = ctx.machine.processHandle(t.thread.process.pid);
            range = firstExpr ? [firstExpr, second] : first ? [{ kind: 'name', name: first.name, span: first.span }, second] : [];
          }
          const [startExpr, lenExpr] = range;
          const start = startExpr ? ctx.num(startExpr) : 0;
          const end = startExpr ? start + (lenExpr ? ctx.num(lenExpr) : 4096) : Number.MAX_SAFE_INTEGER;
          return ctx.machine.swapOut(proc, start, end);
        },
      };
    },
  },
  reclaim: {
    place: 'both',
    usage: 'reclaim PAGES',
    compile(r) {
      const pages = r.expr('a number of pages');
      r.end();
      return { run: (ctx) => ctx.machine.reclaim(ctx.num(pages!)) };
    },
  },
  check: {
    place: 'both',
    usage: 'check',
    compile(r) {
      r.end();
      return {
        run(ctx) {
          return ctx.machine.checkInvariants().length;
        },
      };
    },
  },
  pkey_alloc: numericOp(
    'NAME = pkey_alloc [RIGHTS…] [flags=N] [rights=N]',
    [flagsArg('key rights', RIGHTS_WORDS, 'rights'), optionArg('flags')],
    (t, [rights, flags]) => t.pkeyAlloc(flags, rights),
    { os: 'linux' },
  ),
  pkey_free: numericOp('pkey_free KEY', ['a key'], (t, [key]) => t.pkeyFree(key), { os: 'linux' }),
  pkey_mprotect: numericOp('pkey_mprotect ADDR LEN PROT KEY', ['an address', 'a length', protArg, 'a key'], (t, [a, len, prot, key]) => t.pkeyMprotect(a, len, prot, key), {
    os: 'linux',
    path: (t, [a, len, prot, key]) => t.paths.pkeyMprotect(a, len, prot, key),
  }),
  pkey_set: numericOp('pkey_set KEY RIGHTS…   (also pkru_set key=KEY RIGHTS…)', ['a key', flagsArg('key rights', RIGHTS_WORDS)], (t, [key, rights]) => t.pkeySet(key, rights)),
  pkru_set: numericOp('pkru_set key=KEY RIGHTS…', [requiredOptionArg('pkru_set', 'key'), flagsArg('key rights', RIGHTS_WORDS)], (t, [key, rights]) => t.pkeySet(key, rights)),
  pkey_get: numericOp('pkey_get KEY', ['a key'], (t, [key]) => t.pkeyGet(key)),
  wrpkru: numericOp('wrpkru VALUE', ['a PKRU value'], (t, [value]) => t.writePkru(value)),
  ptrace_peek: {
    place: 'thread',
    usage: 'ptrace_peek PROC ADDR',
    compile(r) {
      const proc = r.name('a process name');
      const addr = r.expr('an address');
      r.end();
      return { run: (ctx, t) => need(t).ptracePeek(ctx.process(proc ? proc.name : '', proc ? proc.span : r.statementSpan), address(ctx, addr!)) };
    },
  },
  sigenter: {
    place: 'thread',
    usage: 'sigenter   (enter a signal handler: PKRU saved in the frame, the init PKRU loaded)',
    compile(r) {
      r.end();
      return {
        run(_ctx, t) {
          need(t).enterSignalHandler();
          return null;
        },
      };
    },
  },
  sigreturn: {
    place: 'thread',
    usage: 'sigreturn   (leave the innermost signal handler: the saved PKRU comes back)',
    compile(r) {
      const span = r.statementSpan;
      r.end();
      return {
        run(_ctx, t) {
          if (!need(t).returnFromSignalHandler()) throw new ScenarioRuntimeError("'sigreturn' with no signal handler running (use 'sigenter' first)", span, 'MMS4003');
          return null;
        },
      };
    },
  },
  rdpkru: {
    place: 'thread',
    usage: 'rdpkru',
    compile(r) {
      r.end();
      return { run: (_ctx, t) => need(t).pkru };
    },
  },
  remap_file_pages: numericOp(
    'remap_file_pages ADDR SIZE PROT PGOFF [chgprot] [nonblock] [flags=N]',
    ['an address', 'a size', protArg, 'a file page offset', flagsArg('remap flags', REMAP_WORDS, 'flags')],
    (t, [a, size, prot, pgoff, flags]) => t.remapFilePages(a, size, prot, pgoff, flags),
    { os: 'linux', path: (t, [a, size, prot, pgoff, flags]) => t.paths.remapFilePages(a, size, prot, pgoff, flags) },
  ),
  x86_pkru_protect_range: pkruProtect(false),
  pkru_protect: pkruProtect(true),
  x86_pkru_unprotect_range: pkruUnprotect('x86_pkru_unprotect_range'),
  pkru_unprotect: pkruUnprotect('pkru_unprotect'),
  x86_pkru_get_perm: numericOp(
    "x86_pkru_get_perm KEY   (=> the key's PKRU bits: 1 no access, 2 no modify)",
    ['a key'],
    (t, [key]) => {
      const perm = t.pkruGetPerm(key);
      return isErrno(perm) ? perm : (perm.access ? 0 : 1) | (perm.modify ? 0 : 2);
    },
    { os: 'freebsd' },
  ),
  x86_pkru_set_perm: numericOp(
    'x86_pkru_set_perm KEY ACCESS MODIFY   (ACCESS, MODIFY: 1 allows, 0 denies)',
    ['a key', 'ACCESS (1 allows reads, 0 denies)', 'MODIFY (1 allows writes, 0 denies)'],
    (t, [key, access, modify]) => t.pkruSetPerm(key, access !== 0, modify !== 0),
    { os: 'freebsd' },
  ),
  file: {
    place: 'top',
    usage: 'file PATH size=SIZE | file PATH "contents" [mode=ro|rw] [mount=noexec]',
    compile(r) {
      const path = r.name('a path');
      const contents = r.hasMore() ? r.string('the contents') : null;
      const size = r.optionExpr('size');
      const mode = r.optionWord('mode', ['ro', 'rw']);
      const mount = r.optionWord('mount', ['exec', 'noexec']);
      r.end();
      return {
        run(ctx) {
          const data = contents !== null ? new TextEncoder().encode(contents) : size !== null ? ctx.num(size) : 0;
          const tooBig = typeof data === 'number' ? fileSizeProblem(data) : null;
          if (tooBig !== null && size !== null) throw new ScenarioRuntimeError(`size=: ${tooBig}`, size.span);
          ctx.createFile(path ? path.name : '', data, mode === 'ro', mount === 'noexec');
          return undefined;
        },
      };
    },
  },
};


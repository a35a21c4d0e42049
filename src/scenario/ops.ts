import { type Machine } from '../api/machine.js';
import { type ProcessHandle } from '../api/process.js';
import { ThreadEndedError, type ThreadHandle } from '../api/thread.js';
import { SYSCALL_NAMES, SYSCALLS, type SyscallArgs, type SyscallName, type SyscallResult } from '../api/syscalls.js';
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
import { drain, type KernelPath } from '../step/step.js';
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
  /** Opens a file for an `mmap file=PATH` (a kernel path: open(2) as the thread's), returning a descriptor. */
  openForMap(thread: ThreadHandle, path: string, span: Span): KernelPath<number>;
  /** Creates a file. */
  createFile(path: string, contents: Uint8Array | number, readOnly: boolean, noexec: boolean): void;
  readonly machine: Machine;
}

/** An operation ready to run: sequentially, or as a kernel path under a scheduler. */
export interface CompiledOp {
  run(ctx: OpContext, thread: ThreadHandle | null): OpResult;
  /** The operation as a kernel path with preemption points: every operation a thread can run has one. */
  path?: (ctx: OpContext, thread: ThreadHandle) => KernelPath<OpResult>;
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
  /** The call of the syscall table this operation spells, if it is one. */
  readonly syscall?: SyscallName;
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

// ---- The syscall operations, generated from the syscall table ---------------------------

/**
 * The arguments of call `N`, computed when the line runs: a path, since computing them
 * may itself make a call (`mmap file=PATH` opens the file) that must wait for locks.
 */
type ArgsAt<N extends SyscallName> = (ctx: OpContext, t: ThreadHandle) => KernelPath<SyscallArgs<N>>;

/**
 * How the scenario language spells call `N` of the syscall table: a usage line, a reader
 * of the line's arguments (it reports what is wrong, then returns how to compute the
 * call's arguments when the line runs), and how the result shows, when not as it is.
 */
interface Spelling<N extends SyscallName> {
  readonly usage: string;
  readonly read: (r: ArgReader) => ArgsAt<N>;
  readonly show?: (r: SyscallResult<N>) => OpResult;
}

/** Arguments computed with no call to make: a path of no step. */
function at<N extends SyscallName>(f: (ctx: OpContext, t: ThreadHandle) => SyscallArgs<N>): ArgsAt<N> {
  // eslint-disable-next-line require-yield
  return function* (ctx, t) {
    return f(ctx, t);
  };
}

/**
 * Positional arguments, read in order by `args`, evaluated as numbers when the line runs
 * and handed to `to` for the call's argument list.
 */
function numeric<N extends SyscallName>(usage: string, args: readonly ArgSpec[], to: (v: readonly number[]) => SyscallArgs<N>): Spelling<N> {
  return {
    usage,
    read(r) {
      const read = args.map((a) => (typeof a === 'string' ? r.expr(a) : a(r)));
      return at((ctx) => to(read.map((v) => settledValue(ctx, v))));
    },
  };
}

/** pread and pwrite: `FD BUF LEN OFFSET`, through user memory at BUF. */
function fileTransfer<N extends 'pread' | 'pwrite'>(op: N): Spelling<N> {
  return numeric(`${op} FD BUF LEN OFFSET`, ['a descriptor', 'a buffer address', 'a length', 'a file offset'], ([fd, buf, len, off]) => [fd, buf, len, off] as SyscallArgs<N>);
}

/**
 * FreeBSD x86_pkru_protect_range: `ADDR LEN KEY [FLAGS…]`, or with `keyOption` (the short
 * `pkru_protect` spelling) `ADDR LEN key=KEY [FLAGS…]`.
 */
function pkruProtect(keyOption: boolean): Spelling<'pkruProtectRange'> {
  const name = keyOption ? 'pkru_protect' : 'x86_pkru_protect_range';
  return numeric(
    `${name} ADDR LEN ${keyOption ? 'key=KEY' : 'KEY'} [excl] [persist] [flags=N]`,
    ['an address', 'a length', keyOption ? requiredOptionArg(name, 'key') : 'a key', flagsArg('range flags', PKRU_RANGE_WORDS, 'flags')],
    ([a, len, key, flags]) => [a, len, key, flags],
  );
}

/** FreeBSD x86_pkru_unprotect_range: `ADDR LEN`. */
function pkruUnprotect(name: string): Spelling<'pkruUnprotectRange'> {
  return numeric(`${name} ADDR LEN`, ['an address', 'a length'], ([a, len]) => [a, len]);
}

/** `pkey_set KEY RIGHTS…` and its `pkru_set key=KEY RIGHTS…` spelling. */
function pkeySet(usage: string, key: ArgSpec): Spelling<'pkeySet'> {
  return numeric(usage, [key, flagsArg('key rights', RIGHTS_WORDS)], ([k, rights]) => [k, rights]);
}

/**
 * Every call of the syscall table, by the scenario operations that spell it. The type
 * asks for every name of the table, so a new call without an operation does not compile.
 */
const SPELLINGS: { readonly [N in SyscallName]: Readonly<Record<string, Spelling<N>>> } = {
  mmap: {
    mmap: {
      usage: 'mmap LEN PROT FLAGS… [at=ADDR] [file=PATH | fd=FD] [offset=N]',
      read(r) {
        const len = r.expr('a length');
        const prot = r.prot();
        const flags = r.flags('mmap flags', MAP_WORDS);
        const at = r.optionExpr('at');
        const path = r.optionText('file');
        const pathSpan = r.optionSpan('file');
        const fd = r.optionExpr('fd');
        const offset = r.optionExpr('offset');
        return function* (ctx, t) {
          let f = flags;
          let desc = -1;
          if (path !== null) desc = yield* ctx.openForMap(t, path, pathSpan);
          else if (fd !== null) desc = ctx.num(fd);
          else if (!(f & (MAP_SHARED | MAP_PRIVATE))) f |= MAP_PRIVATE;
          if (path === null && fd === null) f |= MAP_ANONYMOUS;
          return [at === null ? 0 : ctx.num(at), len === null ? 0 : ctx.num(len), settledValue(ctx, prot), f, desc, offset === null ? 0 : ctx.num(offset)];
        };
      },
    },
  },
  munmap: { munmap: numeric('munmap ADDR LEN', ['an address', 'a length'], ([a, len]) => [a, len]) },
  mprotect: { mprotect: numeric('mprotect ADDR LEN PROT', ['an address', 'a length', protArg], ([a, len, prot]) => [a, len, prot]) },
  mremap: {
    mremap: numeric(
      'mremap ADDR OLDLEN NEWLEN [maymove] [fixed] [dontunmap] [to=ADDR]',
      ['an address', 'the old length', 'the new length', flagsArg('mremap flags', MREMAP_WORDS), optionArg('to')],
      ([a, oldLen, newLen, flags, to]) => [a, oldLen, newLen, flags, to],
    ),
  },
  madvise: {
    madvise: {
      usage: 'madvise ADDR LEN ADVICE',
      read(r) {
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
        return at((ctx) => {
          if (linuxOnly && ctx.machine.kernel.freebsd) throw new ScenarioRuntimeError('this advice name is Linux\'s; FreeBSD numbers its advice differently: write the number', linuxOnly);
          return [ctx.num(addr!), ctx.num(len!), advice === null ? 0 : typeof advice === 'number' ? advice : ctx.num(advice)];
        });
      },
    },
  },
  msync: { msync: numeric('msync ADDR LEN FLAGS…', ['an address', 'a length', flagsArg('msync flags', MSYNC_WORDS)], ([a, len, flags]) => [a, len, flags]) },
  open: {
    open: {
      usage: 'open PATH [rdonly | wronly | rdwr] [creat] [trunc]',
      read(r) {
        const path = r.name('a path');
        const written = r.flags('open flags', OPEN_WORDS);
        const flags = written & RDONLY_WRITTEN || written & (O_WRONLY | O_RDWR) ? written & ~RDONLY_WRITTEN : written | O_RDWR;
        return at(() => [path ? path.name : '', flags]);
      },
    },
  },
  close: { close: numeric('close FD', ['a descriptor'], ([fd]) => [fd]) },
  pread: { pread: fileTransfer('pread') },
  pwrite: { pwrite: fileTransfer('pwrite') },
  ftruncate: { ftruncate: numeric('ftruncate FD SIZE', ['a descriptor', 'a size'], ([fd, size]) => [fd, size]) },
  load: {
    load: {
      usage: 'load ADDR [size=1|2|4]',
      read(r) {
        const addr = r.expr('an address');
        const size = accessSize(r);
        return at((ctx) => [address(ctx, addr!), sizeOf(ctx, size)]);
      },
    },
  },
  store: {
    store: {
      usage: 'store ADDR VALUE [size=1|2|4]',
      read(r) {
        const addr = r.expr('an address');
        const value = r.expr('a value');
        const size = accessSize(r);
        return at((ctx) => [address(ctx, addr!), ctx.num(value!), sizeOf(ctx, size)]);
      },
    },
  },
  fetch: {
    fetch: {
      usage: 'fetch ADDR',
      read(r) {
        const addr = r.expr('an address');
        return at((ctx) => [address(ctx, addr!)]);
      },
    },
  },
  fork: {
    fork: {
      usage: 'NAME = fork [cpu=N]',
      read(r) {
        const cpu = r.optionExpr('cpu');
        return at((ctx) => {
          if (cpu === null) return [];
          const n = ctx.num(cpu);
          if (!Number.isInteger(n) || n < 0 || n >= ctx.machine.hw.cpus.length) throw new ScenarioRuntimeError(`cpu=${n}, but the machine has CPUs 0 to ${ctx.machine.hw.cpus.length - 1}`, cpu.span);
          return [n];
        });
      },
    },
  },
  exec: { exec: numeric('exec', [], () => []) },
  writePkru: { wrpkru: numeric('wrpkru VALUE', ['a PKRU value'], ([value]) => [value]) },
  pkeyAlloc: {
    pkey_alloc: numeric('NAME = pkey_alloc [RIGHTS…] [flags=N] [rights=N]', [flagsArg('key rights', RIGHTS_WORDS, 'rights'), optionArg('flags')], ([rights, flags]) => [flags, rights]),
  },
  pkeyFree: { pkey_free: numeric('pkey_free KEY', ['a key'], ([key]) => [key]) },
  pkeyMprotect: { pkey_mprotect: numeric('pkey_mprotect ADDR LEN PROT KEY', ['an address', 'a length', protArg, 'a key'], ([a, len, prot, key]) => [a, len, prot, key]) },
  pkeyGet: { pkey_get: numeric('pkey_get KEY', ['a key'], ([key]) => [key]) },
  pkeySet: {
    pkey_set: pkeySet('pkey_set KEY RIGHTS…   (also pkru_set key=KEY RIGHTS…)', 'a key'),
    pkru_set: pkeySet('pkru_set key=KEY RIGHTS…', requiredOptionArg('pkru_set', 'key')),
  },
  pkruProtectRange: { x86_pkru_protect_range: pkruProtect(false), pkru_protect: pkruProtect(true) },
  pkruUnprotectRange: { x86_pkru_unprotect_range: pkruUnprotect('x86_pkru_unprotect_range'), pkru_unprotect: pkruUnprotect('pkru_unprotect') },
  pkruGetPerm: {
    x86_pkru_get_perm: {
      ...numeric<'pkruGetPerm'>("x86_pkru_get_perm KEY   (=> the key's PKRU bits: 1 no access, 2 no modify)", ['a key'], ([key]) => [key]),
      show: (perm) => (isErrno(perm) ? perm : (perm.access ? 0 : 1) | (perm.modify ? 0 : 2)),
    },
  },
  pkruSetPerm: {
    x86_pkru_set_perm: numeric(
      'x86_pkru_set_perm KEY ACCESS MODIFY   (ACCESS, MODIFY: 1 allows, 0 denies)',
      ['a key', 'ACCESS (1 allows reads, 0 denies)', 'MODIFY (1 allows writes, 0 denies)'],
      ([key, access, modify]) => [key, access !== 0, modify !== 0],
    ),
  },
  remapFilePages: {
    remap_file_pages: numeric(
      'remap_file_pages ADDR SIZE PROT PGOFF [chgprot] [nonblock] [flags=N]',
      ['an address', 'a size', protArg, 'a file page offset', flagsArg('remap flags', REMAP_WORDS, 'flags')],
      ([a, size, prot, pgoff, flags]) => [a, size, prot, pgoff, flags],
    ),
  },
  ptracePeek: {
    ptrace_peek: {
      usage: 'ptrace_peek PROC ADDR',
      read(r) {
        const proc = r.name('a process name');
        const addr = r.expr('an address');
        return at((ctx) => [ctx.process(proc ? proc.name : '', proc ? proc.span : r.statementSpan), address(ctx, addr!)]);
      },
    },
  },
};

/**
 * The operation `spelling` of call `name`: run, the thread's method drains the call's
 * kernel path; in a concurrent block, its path from {@link ThreadHandle.paths} runs under
 * the scheduler — the same path either way.
 */
function syscallOp<N extends SyscallName>(name: N, spelling: Spelling<N>): OpDef {
  const personality = SYSCALLS[name].personality;
  const show = spelling.show ?? ((r: SyscallResult<N>): OpResult => r as OpResult);
  return {
    place: 'thread',
    usage: spelling.usage,
    ...(personality !== 'both' ? { os: personality } : {}),
    syscall: name,
    compile(r) {
      const args = spelling.read(r);
      r.end();
      return {
        run: (ctx, t) => {
          const th = need(t);
          return show(th.syscall(name, ...drain(args(ctx, th))));
        },
        *path(ctx, t) {
          const a = yield* args(ctx, t);
          return show(yield* t.syscallPath(name, ...a));
        },
      };
    },
  };
}

function syscallOps(): Record<string, OpDef> {
  const ops: Record<string, OpDef> = {};
  for (const name of SYSCALL_NAMES) {
    const spellings: Readonly<Record<string, Spelling<typeof name>>> = SPELLINGS[name];
    for (const [op, spelling] of Object.entries(spellings)) ops[op] = syscallOp(name, spelling);
  }
  return ops;
}

// ---- Operations that are not system calls ------------------------------------------------

/**
 * A machine operation (swapout, reclaim, check) or a process exit in a concurrent block.
 * None is a kernel path of a thread: each runs in one step, between the kernel paths —
 * once no other thread holds a lock it may need (mmap_lock, a page-table lock), as
 * kswapd or an invariant check would find the kernel. A thread that a sibling ended
 * while it waited runs nothing ({@link ThreadEndedError}).
 */
function betweenPaths(what: string, run: (ctx: OpContext, t: ThreadHandle) => OpResult): NonNullable<CompiledOp['path']> {
  return function* (ctx, t) {
    for (;;) {
      const held = ctx.machine.kernel.heldLock(t.tid);
      if (held === null) break;
      yield t.thread.ctx.blocked(held);
    }
    if (!t.alive) throw new ThreadEndedError(t.tid);
    const r = run(ctx, t);
    yield t.thread.ctx.at('vma', what);
    return r;
  };
}

/**
 * A user-mode instruction (RDPKRU, a signal frame's push or pop): one step, touching only
 * the thread's own registers and frames.
 */
function instruction(run: (ctx: OpContext, t: ThreadHandle) => OpResult): NonNullable<CompiledOp['path']> {
  // eslint-disable-next-line require-yield
  return function* (ctx, t) {
    return run(ctx, t);
  };
}

/** A thread operation that is no call of the syscall table. */
function threadOp(usage: string, compile: (r: ArgReader) => (ctx: OpContext, t: ThreadHandle) => OpResult, kind: 'between-paths' | 'instruction', name: string): OpDef {
  return {
    place: 'thread',
    usage,
    compile(r) {
      const run = compile(r);
      r.end();
      return { run: (ctx, t) => run(ctx, need(t)), path: kind === 'instruction' ? instruction(run) : betweenPaths(name, run) };
    },
  };
}

/** The operations of the language, by name. */
export const OPS: Readonly<Record<string, OpDef>> = {
  ...syscallOps(),
  exit: threadOp(
    'exit [CODE]',
    (r) => {
      const code = r.optionalExpr('an exit code');
      return (ctx, t) => {
        ctx.machine.processHandle(t.thread.process.pid).exit(code === null ? 0 : ctx.num(code));
        return undefined;
      };
    },
    'between-paths',
    'exit',
  ),
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
      const run = (ctx: OpContext, t: ThreadHandle | null): OpResult => {
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
      };
      return { run, path: betweenPaths('swapout', run) };
    },
  },
  reclaim: {
    place: 'both',
    usage: 'reclaim PAGES',
    compile(r) {
      const pages = r.expr('a number of pages');
      r.end();
      const run = (ctx: OpContext): OpResult => ctx.machine.reclaim(ctx.num(pages!));
      return { run, path: betweenPaths('reclaim', run) };
    },
  },
  check: {
    place: 'both',
    usage: 'check',
    compile(r) {
      r.end();
      const run = (ctx: OpContext): OpResult => ctx.machine.checkInvariants().length;
      return { run, path: betweenPaths('check', run) };
    },
  },
  sigenter: threadOp(
    'sigenter   (enter a signal handler: PKRU saved in the frame, the init PKRU loaded)',
    () => (_ctx, t) => {
      t.enterSignalHandler();
      return null;
    },
    'instruction',
    'sigenter',
  ),
  sigreturn: threadOp(
    'sigreturn   (leave the innermost signal handler: the saved PKRU comes back)',
    (r) => {
      const span = r.statementSpan;
      return (_ctx, t) => {
        if (!t.returnFromSignalHandler()) throw new ScenarioRuntimeError("'sigreturn' with no signal handler running (use 'sigenter' first)", span, 'MMS4003');
        return null;
      };
    },
    'instruction',
    'sigreturn',
  ),
  rdpkru: threadOp('rdpkru', () => (_ctx, t) => t.pkru, 'instruction', 'rdpkru'),
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

/**
 * The syscall surface of a thread, as one table. Each entry names the call,
 * the personality whose interface it is, its arguments (checked by {@link checkArgs}),
 * the kernel path that runs it and the kind of its result. {@link ThreadHandle} drains
 * these paths (its methods delegate here), {@link ThreadPaths} hands them to a scheduler
 * unchanged, and the scenario language's syscall operations are generated from the same
 * names — so a call has one kernel path, whichever way it runs.
 * @packageDocumentation
 */
import { type Errno, errno, type SysResult } from '../mm/errno.js';
import { sysPkeyAlloc, sysPkeyFree, sysPkeyMprotect } from '../mm/pkeySyscalls.js';
import { pkruGetPerm, type PkruPerm, pkruSetPerm, sysPkruProtectRange, sysPkruUnprotectRange } from '../mm/freebsd/pkru.js';
import { VM_MAYREAD } from '../mm/vma.js';
import { sysClose, sysFtruncate, sysOpen, sysPread, sysPwrite } from '../mm/fileOps.js';
import { sysExec, sysFork } from '../mm/fork.js';
import { sysMadvise, sysMsync } from '../mm/madvise.js';
import { sysMmap, sysMunmap } from '../mm/mmap.js';
import { sysMprotect } from '../mm/mprotect.js';
import { sysMremap } from '../mm/mremap.js';
import { sysRemapFilePages } from '../mm/remapFilePages.js';
import { type Kernel } from '../mm/kernel.js';
import { type Thread } from '../mm/process.js';
import { type SignalInfo } from '../mm/signal.js';
import { userFetch, userFetchPath, userLoad, userLoadPath, userStore, userStorePath } from '../mm/uaccess.js';
import { type KernelPath } from '../step/step.js';
import { type ArgSpec } from './args.js';
import { type Machine } from './machine.js';
import { type ProcessHandle } from './process.js';

/** Bytes a load or store moves at once. */
export type AccessSize = 1 | 2 | 4;

/** What a table entry's path runs with: the machine, its kernel, and the calling thread. */
export interface SyscallCtx {
  readonly machine: Machine;
  readonly kernel: Kernel;
  readonly thread: Thread;
}

/** Whose interface a call is. The other personality still answers it (ENOSYS, or its own rules). */
export type SyscallPersonality = 'linux' | 'freebsd' | 'both';

/** What a call returns, for drivers that print or compare results (the scenario runner, a conformance runner). */
export type SyscallResultKind =
  /** A value or an {@link Errno}. */
  | 'sysresult'
  /** A loaded value or the signal the access raised. */
  | 'value-or-signal'
  /** null, or the signal the access raised. */
  | 'null-or-signal'
  /** A value, an errno, or the signal the instruction raised (glibc pkey_set over WRPKRU). */
  | 'sysresult-or-signal'
  /** The child process, or an errno. */
  | 'process'
  /** FreeBSD's PKRU permission pair, or an errno. */
  | 'pkru-perm';

/**
 * What a call on a thread that has ended does: throw {@link ThreadEndedError} (a system
 * call), return the signal that ended it (an instruction such as WRPKRU, which a dead
 * thread cannot execute), or nothing special — the path itself answers, as an access does.
 */
export type OnEnded = 'throw' | 'signal' | 'path';

/** One entry of the table. `P` is the argument tuple, `R` the result. */
export interface SyscallDef<P extends readonly unknown[], R> {
  readonly personality: SyscallPersonality;
  /** One spec per argument, in order; an optional argument's spec says so. */
  readonly args: { readonly [I in keyof P]-?: ArgSpec };
  readonly result: SyscallResultKind;
  /** The kernel path, made after the arguments were checked. */
  readonly path: (c: SyscallCtx, ...args: P) => KernelPath<R>;
  /** Default 'throw'. */
  readonly ended?: OnEnded;
  /**
   * Whether a drained call refuses to run while an in-flight path holds its process's
   * mmap_lock (default true). An instruction that takes no lock (WRPKRU) runs anyway.
   */
  readonly reentrancy?: boolean;
  /** Whether a drained call runs the machine's invariant checks after it (default true), or which results do. */
  readonly check?: boolean | ((r: R) => boolean);
  /**
   * A sequential fast path with the path's semantics, for the accesses only: a TLB hit
   * must not make a generator (the per-access cost the benchmarks hold to).
   */
  readonly direct?: (c: SyscallCtx, ...args: P) => R;
}

/** Infers an entry's types from its path, checking the argument specs against its parameters. */
function def<P extends readonly unknown[], R>(
  d: SyscallDef<P, R> & { readonly args: NoInfer<{ readonly [I in keyof P]-?: ArgSpec }>; readonly check?: boolean | ((r: NoInfer<R>) => boolean) },
): SyscallDef<P, R> {
  return d;
}

/** A path of one step: the call runs between two preemption points, taking no lock. */
function oneStep<P extends readonly unknown[], R>(f: (c: SyscallCtx, ...args: P) => R): (c: SyscallCtx, ...args: P) => KernelPath<R> {
  // eslint-disable-next-line require-yield
  return function* (c, ...args) {
    return f(c, ...args);
  };
}

const long = (name: string): ArgSpec => ({ name, kind: 'long' });
const int = (name: string): ArgSpec => ({ name, kind: 'int' });
const optional = (spec: ArgSpec): ArgSpec => ({ ...spec, optional: true });

/** What an instruction on an ended thread reports: the signal that ended it, or SIGKILL (as an access does). */
export function endedSignal(t: Thread): SignalInfo {
  return t.signals[t.signals.length - 1] ?? { signal: 'SIGKILL', code: 'SI_KERNEL', addr: 0, pkey: -1, errorCode: 0, tid: t.tid };
}

/** The thread's PKRU value (its CPU's while it runs there): RDPKRU. */
export function readPkru(c: SyscallCtx): number {
  c.kernel.syncPkru(c.thread);
  return c.thread.pkru;
}

/** WRPKRU: SIGILL (ILL_ILLOPN) without PKU (CR4.PKE clear), as on hardware; no TLB flush. */
function writePkru(c: SyscallCtx, value: number): SignalInfo | null {
  const t = c.thread;
  if (!t.alive) return endedSignal(t);
  const cpu = c.kernel.switchTo(t);
  if (!cpu.pke) {
    const sig: SignalInfo = { signal: 'SIGILL', code: 'ILL_ILLOPN', addr: 0, pkey: -1, errorCode: 0, tid: t.tid };
    t.signals.push(sig);
    return sig;
  }
  cpu.writePkru(value >>> 0);
  t.pkru = value >>> 0;
  return null;
}

/** A key glibc's pkey_get()/pkey_set() accept: 0 to 15. */
function badKey(pkey: number): boolean {
  return !Number.isInteger(pkey) || pkey < 0 || pkey >= 16;
}

/**
 * The table. Names are {@link ThreadHandle}'s method names; the argument specs name the
 * parameters as the methods do, so a misuse names the method and the argument.
 */
export const SYSCALLS = {
  mmap: def({
    personality: 'both',
    args: [long('addr'), long('length'), int('prot'), int('flags'), optional(int('fd')), optional(long('offset'))],
    result: 'sysresult',
    path: (c, addr: number, length: number, prot: number, flags: number, fd: number = -1, offset: number = 0) => sysMmap(c.kernel, c.thread, addr, length, prot, flags, fd, offset),
  }),
  munmap: def({
    personality: 'both',
    args: [long('addr'), long('length')],
    result: 'sysresult',
    path: (c, addr: number, length: number) => sysMunmap(c.kernel, c.thread, addr, length),
  }),
  mprotect: def({
    personality: 'both',
    args: [long('addr'), long('length'), int('prot')],
    result: 'sysresult',
    path: (c, addr: number, length: number, prot: number) => sysMprotect(c.kernel, c.thread, addr, length, prot),
  }),
  mremap: def({
    personality: 'linux',
    args: [long('addr'), long('oldLength'), long('newLength'), int('flags'), optional(long('newAddr'))],
    result: 'sysresult',
    path: (c, addr: number, oldLength: number, newLength: number, flags: number, newAddr: number = 0) => sysMremap(c.kernel, c.thread, addr, oldLength, newLength, flags, newAddr),
  }),
  remapFilePages: def({
    personality: 'linux',
    args: [long('start'), long('size'), int('prot'), long('pgoff'), optional(int('flags'))],
    result: 'sysresult',
    path: (c, start: number, size: number, prot: number, pgoff: number, flags: number = 0) => sysRemapFilePages(c.kernel, c.thread, start, size, prot, pgoff, flags),
  }),
  madvise: def({
    personality: 'both',
    args: [long('addr'), long('length'), int('advice')],
    result: 'sysresult',
    path: (c, addr: number, length: number, advice: number) => sysMadvise(c.kernel, c.thread, addr, length, advice),
  }),
  msync: def({
    personality: 'both',
    args: [long('addr'), long('length'), int('flags')],
    result: 'sysresult',
    path: (c, addr: number, length: number, flags: number) => sysMsync(c.kernel, c.thread, addr, length, flags),
  }),
  open: def({
    personality: 'both',
    args: [{ name: 'path', kind: 'string' }, int('flags')],
    result: 'sysresult',
    path: (c, path: string, flags: number) => sysOpen(c.kernel, c.thread, path, flags),
  }),
  close: def({
    personality: 'both',
    args: [int('fd')],
    result: 'sysresult',
    path: (c, fd: number) => sysClose(c.kernel, c.thread, fd),
    check: false,
  }),
  pread: def({
    personality: 'both',
    args: [int('fd'), long('buf'), long('length'), long('offset')],
    result: 'sysresult',
    path: (c, fd: number, buf: number, length: number, offset: number) => sysPread(c.kernel, c.thread, fd, buf, length, offset),
  }),
  pwrite: def({
    personality: 'both',
    args: [int('fd'), long('buf'), long('length'), long('offset')],
    result: 'sysresult',
    path: (c, fd: number, buf: number, length: number, offset: number) => sysPwrite(c.kernel, c.thread, fd, buf, length, offset),
  }),
  ftruncate: def({
    personality: 'both',
    args: [int('fd'), long('size')],
    result: 'sysresult',
    path: (c, fd: number, size: number) => sysFtruncate(c.kernel, c.thread, fd, size),
  }),
  load: def({
    personality: 'both',
    args: [{ name: 'va', kind: 'address' }, { name: 'size', kind: 'access-size', optional: true }],
    result: 'value-or-signal',
    ended: 'path',
    path: (c, va: number, size: AccessSize = 1) => userLoadPath(c.kernel, c.thread, va, size),
    direct: (c, va: number, size: AccessSize = 1) => userLoad(c.kernel, c.thread, va, size),
  }),
  store: def({
    personality: 'both',
    args: [{ name: 'va', kind: 'address' }, { name: 'value', kind: 'store-value' }, { name: 'size', kind: 'access-size', optional: true }],
    result: 'null-or-signal',
    ended: 'path',
    path: (c, va: number, value: number, size: AccessSize = 1) => userStorePath(c.kernel, c.thread, va, value, size),
    direct: (c, va: number, value: number, size: AccessSize = 1) => userStore(c.kernel, c.thread, va, value, size),
  }),
  fetch: def({
    personality: 'both',
    args: [{ name: 'va', kind: 'address' }],
    result: 'value-or-signal',
    ended: 'path',
    path: (c, va: number) => userFetchPath(c.kernel, c.thread, va),
    direct: (c, va: number) => userFetch(c.kernel, c.thread, va),
  }),
  fork: def({
    personality: 'both',
    args: [{ name: 'cpu', kind: 'cpu', optional: true }],
    result: 'process',
    *path(c, cpu?: number): KernelPath<ProcessHandle | Errno> {
      const r = yield* sysFork(c.kernel, c.thread, cpu === undefined ? c.thread.cpu : c.machine.cpuAt(cpu));
      return typeof r === 'number' ? c.machine.processHandle(r) : r;
    },
  }),
  exec: def({
    personality: 'both',
    args: [],
    result: 'sysresult',
    path: (c) => sysExec(c.kernel, c.thread),
  }),
  writePkru: def({
    personality: 'both',
    args: [int('value')],
    result: 'null-or-signal',
    ended: 'signal',
    reentrancy: false,
    check: (r) => r === null,
    path: oneStep<[value: number], SignalInfo | null>(writePkru),
  }),
  pkeyAlloc: def({
    personality: 'linux',
    args: [int('flags'), int('rights')],
    result: 'sysresult',
    path: (c, flags: number, rights: number) => sysPkeyAlloc(c.kernel, c.thread, flags, rights),
  }),
  pkeyFree: def({
    personality: 'linux',
    args: [int('pkey')],
    result: 'sysresult',
    path: (c, pkey: number) => sysPkeyFree(c.kernel, c.thread, pkey),
  }),
  pkeyMprotect: def({
    personality: 'linux',
    args: [long('addr'), long('length'), int('prot'), int('pkey')],
    result: 'sysresult',
    path: (c, addr: number, length: number, prot: number, pkey: number) => sysPkeyMprotect(c.kernel, c.thread, addr, length, prot, pkey),
  }),
  pkeyGet: def({
    personality: 'both',
    args: [int('pkey')],
    result: 'sysresult',
    ended: 'path',
    reentrancy: false,
    check: false,
    path: oneStep((c, pkey: number): SysResult => (badKey(pkey) ? errno('EINVAL') : (readPkru(c) >>> (2 * pkey)) & 3)),
  }),
  pkeySet: def({
    personality: 'both',
    args: [int('pkey'), int('rights')],
    result: 'sysresult-or-signal',
    ended: 'signal',
    reentrancy: false,
    check: (r) => r === 0,
    path: oneStep<[pkey: number, rights: number], SysResult | SignalInfo>((c, pkey, rights) => {
      if (!c.thread.alive) return endedSignal(c.thread);
      if (badKey(pkey) || rights & ~3) return errno('EINVAL');
      const value = ((readPkru(c) & ~(3 << (2 * pkey))) | (rights << (2 * pkey))) >>> 0;
      return writePkru(c, value) ?? 0;
    }),
  }),
  pkruProtectRange: def({
    personality: 'freebsd',
    args: [long('addr'), long('length'), int('key'), optional(int('flags'))],
    result: 'sysresult',
    path: (c, addr: number, length: number, key: number, flags: number = 0) => sysPkruProtectRange(c.kernel, c.thread, addr, length, key, flags),
  }),
  pkruUnprotectRange: def({
    personality: 'freebsd',
    args: [long('addr'), long('length')],
    result: 'sysresult',
    path: (c, addr: number, length: number) => sysPkruUnprotectRange(c.kernel, c.thread, addr, length),
  }),
  pkruGetPerm: def({
    personality: 'freebsd',
    args: [int('key')],
    result: 'pkru-perm',
    check: false,
    path: oneStep((c, key: number): PkruPerm | Errno => pkruGetPerm(c.kernel, c.thread, key)),
  }),
  pkruSetPerm: def({
    personality: 'freebsd',
    args: [int('key'), { name: 'access', kind: 'boolean' }, { name: 'modify', kind: 'boolean' }],
    result: 'sysresult',
    path: oneStep((c, key: number, access: boolean, modify: boolean) => pkruSetPerm(c.kernel, c.thread, key, access, modify)),
  }),
  ptracePeek: def({
    personality: 'both',
    args: [{ name: 'target', kind: 'process' }, { name: 'va', kind: 'user-address' }],
    result: 'sysresult',
    reentrancy: false,
    check: false,
    // One step: mmsim reads without faulting the page in, so the peek takes no lock.
    path: oneStep((_c, target: ProcessHandle, va: number): SysResult => {
      const vma = target.process.mm.vmaAt(va);
      if (!vma || !(vma.flags & VM_MAYREAD)) return errno('EIO');
      const v = target.peek(va);
      return v === undefined ? errno('EIO') : v;
    }),
  }),
} as const;

/** The name of a call in the table: a {@link ThreadHandle} method and a {@link ThreadPaths} method. */
export type SyscallName = keyof typeof SYSCALLS;

/** The arguments of call `N`, as its method takes them. */
export type SyscallArgs<N extends SyscallName> = Parameters<(typeof SYSCALLS)[N]['path']> extends [SyscallCtx, ...infer P] ? P : never;

/** What call `N` returns. */
export type SyscallResult<N extends SyscallName> = ReturnType<(typeof SYSCALLS)[N]['path']> extends KernelPath<infer R> ? R : never;

/** Every name of the table, in its order. */
export const SYSCALL_NAMES = Object.keys(SYSCALLS) as readonly SyscallName[];

/** Entry `name`, typed for its own arguments and result. */
export function syscallDef<N extends SyscallName>(name: N): SyscallDef<SyscallArgs<N>, SyscallResult<N>> {
  return SYSCALLS[name] as unknown as SyscallDef<SyscallArgs<N>, SyscallResult<N>>;
}

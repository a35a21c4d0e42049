import { type Errno, type SysResult } from '../mm/errno.js';
import { type PkruPerm } from '../mm/freebsd/pkru.js';
import { type Thread } from '../mm/process.js';
import { type SignalInfo } from '../mm/signal.js';
import { runToCompletion } from '../mm/onCpu.js';
import { userFetch, userLoad, userStore } from '../mm/uaccess.js';
import { DeadlockError, type KernelPath } from '../step/step.js';
import { type Machine } from './machine.js';
import { type ProcessHandle } from './process.js';
import { checkArgs } from './args.js';
import { ApiError, ReentrantCallError } from './errors.js';
import { type AccessSize, endedSignal, readPkru, SYSCALL_NAMES, SYSCALLS, type SyscallArgs, type SyscallCtx, syscallDef, type SyscallName, type SyscallResult } from './syscalls.js';

export { type AccessSize } from './syscalls.js';

/**
 * A thread of a modelled process: the syscalls it can make and the memory accesses it
 * can perform. A syscall returns its value or an {@link Errno}; an access returns its
 * value (or null for a store) or the {@link SignalInfo} it raised.
 *
 * Arguments are C integers. Any integer the C type can hold is passed to the modelled
 * kernel, which answers as the real one does (a negative length is a huge `size_t`); a
 * value C cannot express — NaN, ±Infinity, 1.5, a string, a bigint — is a TypeError or
 * RangeError naming the method and the argument, not an errno. Calling a syscall on an
 * ended thread throws {@link ThreadEndedError}; calling one from inside
 * {@link Machine.interleave} on a process whose mmap_lock a path holds throws
 * {@link ReentrantCallError}.
 *
 * Each method runs to completion. To interleave threads, take the same operation as a
 * kernel path from {@link ThreadHandle.paths} and hand it to {@link Machine.interleave}.
 */
export class ThreadHandle {
  /** The same operations as kernel paths, for {@link Machine.interleave}. */
  readonly paths: ThreadPaths;
  /** What the table's paths run with. */
  private readonly sys: SyscallCtx;

  /** @internal */
  constructor(
    readonly machine: Machine,
    /** @internal */ readonly thread: Thread,
  ) {
    this.sys = { machine, kernel: machine.kernel, thread };
    this.paths = new ThreadPaths(this);
  }

  /** Thread id. */
  get tid(): number {
    return this.thread.tid;
  }

  /** The CPU the thread runs on. */
  get cpu(): number {
    return this.thread.cpu.id;
  }

  /** Signals delivered to this thread so far. */
  get signals(): readonly SignalInfo[] {
    return this.thread.signals;
  }

  /** False once the thread's process exited or was killed. */
  get alive(): boolean {
    return this.thread.alive;
  }

  /**
   * Call `name` of the syscall table (any method below that makes a system call or runs
   * an access or a PKRU instruction) with `args`, to completion — what each of those
   * methods does. For drivers that take the call's name as data.
   */
  syscall<N extends SyscallName>(name: N, ...args: SyscallArgs<N>): SyscallResult<N> {
    const d = syscallDef(name);
    const what = `ThreadHandle.${name}`;
    checkArgs(what, d.args, args, this.machine);
    const t = this.thread;
    if (!t.alive) {
      // A system call runs on a live thread only: a call on an ended one is a bug in the caller.
      if ((d.ended ?? 'throw') === 'throw') throw new ThreadEndedError(t.tid);
      if (d.ended === 'signal') return endedSignal(t) as SyscallResult<N>;
    }
    // Drained to completion, the call must not wait for a lock an in-flight path holds.
    if (d.reentrancy !== false) this.machine.checkNotReentrant(what, t.process);
    const r = d.direct ? d.direct(this.sys, ...args) : this.drain(what, d.path(this.sys, ...args));
    const check = d.check ?? true;
    if (check === true || (check !== false && check(r))) this.machine.afterOperation();
    return r;
  }

  /**
   * Call `name` as a kernel path for {@link Machine.interleave}, checked as
   * {@link syscall} checks it: {@link ThreadPaths} is this, a method per name.
   */
  syscallPath<N extends SyscallName>(name: N, ...args: SyscallArgs<N>): KernelPath<SyscallResult<N>> {
    const d = syscallDef(name);
    checkArgs(`ThreadPaths.${name}`, d.args, args, this.machine);
    // A system call's path is made for a live thread only (an access's path, or an
    // instruction's, answers for an ended thread as the call would).
    if (!this.thread.alive && (d.ended ?? 'throw') === 'throw') throw new ThreadEndedError(this.thread.tid);
    return d.path(this.sys, ...args);
  }

  private drain<R>(what: string, path: KernelPath<R>): R {
    try {
      return runToCompletion(this.machine.kernel, this.thread, path);
    } catch (e) {
      // Inside an interleave, a lock the check above could not see (a page-table lock) is
      // held by a suspended path: end this path (its finally blocks release what it took)
      // and report the caller's mistake rather than an mmsim bug.
      if (e instanceof DeadlockError && this.machine.interleaving > 0) {
        path.return(undefined as never);
        throw new ReentrantCallError(what, this.thread.process.pid, e.message.replace(/^.*blocked on /, ''));
      }
      throw e;
    }
  }

  /** mmap(2). `fd` is ignored with MAP_ANONYMOUS. */
  mmap(addr: number, length: number, prot: number, flags: number, fd = -1, offset = 0): SysResult {
    return this.syscall('mmap', addr, length, prot, flags, fd, offset);
  }

  /** munmap(2). */
  munmap(addr: number, length: number): SysResult {
    return this.syscall('munmap', addr, length);
  }

  /** mprotect(2). */
  mprotect(addr: number, length: number, prot: number): SysResult {
    return this.syscall('mprotect', addr, length, prot);
  }

  /** mremap(2). `newAddr` is used with MREMAP_FIXED. */
  mremap(addr: number, oldLength: number, newLength: number, flags: number, newAddr = 0): SysResult {
    return this.syscall('mremap', addr, oldLength, newLength, flags, newAddr);
  }

  /**
   * remap_file_pages(2) on a shared file mapping: [start, start + size) shows file pages
   * `pgoff …`. Mainline emulates it with one VMA per run (`prot` must be 0); the variants
   * rfp-nonlinear and rfp-manyprots run the 2.6 design and the VM_MANYPROTS series, where
   * MAP_CHGPROT in `flags` gives the pages `prot` as their own protection.
   */
  remapFilePages(start: number, size: number, prot: number, pgoff: number, flags = 0): SysResult {
    return this.syscall('remapFilePages', start, size, prot, pgoff, flags);
  }

  /**
   * madvise(2). Under linux, DONTNEED(_LOCKED), FREE (eagerly), PAGEOUT and the advice that
   * sets a VMA flag (DONTFORK, WIPEONFORK, …) are modelled; the rest is accepted and, where
   * a program could see the difference, recorded as an 'unmodelled' event in
   * {@link Machine.events} (docs/madvise.md).
   */
  madvise(addr: number, length: number, advice: number): SysResult {
    return this.syscall('madvise', addr, length, advice);
  }

  /** msync(2). */
  msync(addr: number, length: number, flags: number): SysResult {
    return this.syscall('msync', addr, length, flags);
  }

  /** open(2) of an in-memory file; O_CREAT creates it. */
  open(path: string, flags: number): SysResult {
    return this.syscall('open', path, flags);
  }

  /** close(2). */
  close(fd: number): SysResult {
    return this.syscall('close', fd);
  }

  /**
   * pread(2) into user memory at `buf` (copy_to_user: a PKRU-denied buffer is EFAULT).
   * Linux: a buffer past the user address space is EFAULT before anything moves
   * (access_ok()); a fault part-way gives a short count.
   */
  pread(fd: number, buf: number, length: number, offset: number): SysResult {
    return this.syscall('pread', fd, buf, length, offset);
  }

  /** pwrite(2) from user memory at `buf`, with pread's buffer rules; EFBIG at the 8 TiB file-size limit. */
  pwrite(fd: number, buf: number, length: number, offset: number): SysResult {
    return this.syscall('pwrite', fd, buf, length, offset);
  }

  /** ftruncate(2). */
  ftruncate(fd: number, size: number): SysResult {
    return this.syscall('ftruncate', fd, size);
  }

  /** Loads `size` bytes (little-endian) at `va`. */
  load(va: number, size: AccessSize = 1): number | SignalInfo {
    // The hot accesses skip the generic dispatch (a rest array, the spec loop): the same
    // checks, inline, then the entry's direct path.
    if (!isAccess(va, size)) checkArgs('ThreadHandle.load', SYSCALLS.load.args, [va, size], this.machine);
    if (this.machine.interleaving !== 0) this.machine.checkNotReentrant('ThreadHandle.load', this.thread.process);
    const r = userLoad(this.machine.kernel, this.thread, va, size);
    if (this.machine.checking) this.machine.afterOperation();
    return r;
  }

  /** Stores the low `size` bytes of `value` at `va`; null on success. */
  store(va: number, value: number, size: AccessSize = 1): SignalInfo | null {
    if (!isAccess(va, size) || ((value | 0) !== value && !Number.isSafeInteger(value))) checkArgs('ThreadHandle.store', SYSCALLS.store.args, [va, value, size], this.machine);
    if (this.machine.interleaving !== 0) this.machine.checkNotReentrant('ThreadHandle.store', this.thread.process);
    const r = userStore(this.machine.kernel, this.thread, va, value, size);
    if (this.machine.checking) this.machine.afterOperation();
    return r;
  }

  /** Fetches an instruction byte at `va` (keys never apply to fetches). */
  fetch(va: number): number | SignalInfo {
    if (!isAccess(va, 1)) checkArgs('ThreadHandle.fetch', SYSCALLS.fetch.args, [va], this.machine);
    if (this.machine.interleaving !== 0) this.machine.checkNotReentrant('ThreadHandle.fetch', this.thread.process);
    const r = userFetch(this.machine.kernel, this.thread, va);
    if (this.machine.checking) this.machine.afterOperation();
    return r;
  }

  /** fork(2): the child process (one thread, on `cpu` or this thread's CPU), or an errno. */
  fork(cpu?: number): ProcessHandle | Errno {
    return this.syscall('fork', cpu);
  }

  /** execve(2) as far as memory goes: a new, empty address space. */
  exec(): SysResult {
    return this.syscall('exec');
  }

  /** The thread's PKRU value (its CPU's while it runs there): RDPKRU. */
  get pkru(): number {
    return readPkru(this.sys);
  }

  /**
   * WRPKRU: takes effect on the next access with no TLB flush. Without PKU (CR4.PKE clear)
   * the instruction is undefined: SIGILL (ILL_ILLOPN), as on hardware. An ended thread runs
   * no instruction: like an access, it returns the signal that ended it (SIGKILL when it
   * exited), never null.
   */
  writePkru(value: number): SignalInfo | null {
    return this.syscall('writePkru', value);
  }

  /**
   * Enters a signal handler on this thread: the interrupted PKRU is saved in the signal
   * frame and the handler starts with the init PKRU. Linux loads 0x55555554 (only key 0
   * accessible) (arch/x86/kernel/signal.c, fpu__clear_user_states()). FreeBSD's sendsig()
   * saves the FPU state to the frame and drops it (fpstate_drop()), so the handler starts
   * from the initial XSAVE state, PKRU 0 — an inference from the code, not a documented
   * rule. Without PKU the registers are untouched. Pair with {@link returnFromSignalHandler}.
   */
  enterSignalHandler(): void {
    if (!this.thread.alive) throw new ThreadEndedError(this.thread.tid);
    const k = this.machine.kernel;
    const interrupted = this.pkru;
    this.thread.signalFrames.push(interrupted);
    const cpu = k.switchTo(this.thread);
    if (cpu.pke) {
      cpu.writePkru(k.initPkru);
      this.thread.pkru = k.initPkru;
    }
  }

  /**
   * sigreturn(2): restores the PKRU saved when the innermost handler was entered; what the
   * handler wrote with WRPKRU is lost. False when no handler is running.
   */
  returnFromSignalHandler(): boolean {
    const saved = this.thread.signalFrames.pop();
    if (saved === undefined) return false;
    if (!this.thread.alive) return true;
    const cpu = this.machine.kernel.switchTo(this.thread);
    if (cpu.pke) {
      cpu.writePkru(saved);
      this.thread.pkru = saved;
    }
    return true;
  }

  /** Runs `handler` as a signal handler of this thread ({@link enterSignalHandler}, then {@link returnFromSignalHandler}). */
  runSignalHandler<R>(handler: (t: ThreadHandle) => R): R {
    this.enterSignalHandler();
    try {
      return handler(this);
    } finally {
      this.returnFromSignalHandler();
    }
  }

  /**
   * PTRACE_PEEKDATA-style foreign read of one byte of `target` (Linux access_remote_vm()
   * with FOLL_FORCE): protection keys never apply to a foreign access, and FOLL_FORCE reads
   * even PROT_NONE memory the VMA may read (VM_MAYREAD). EIO when nothing readable is
   * mapped there. Unlike the kernel, mmsim reads without faulting the page in (a swapped
   * page is read from swap), so the peek changes no state.
   */
  ptracePeek(target: ProcessHandle, va: number): SysResult {
    return this.syscall('ptracePeek', target, va);
  }

  /** pkey_alloc(2): a key with `rights` (PKEY_DISABLE_ACCESS / PKEY_DISABLE_WRITE) set in this thread's PKRU. */
  pkeyAlloc(flags: number, rights: number): SysResult {
    return this.syscall('pkeyAlloc', flags, rights);
  }

  /** pkey_free(2). */
  pkeyFree(pkey: number): SysResult {
    return this.syscall('pkeyFree', pkey);
  }

  /** pkey_mprotect(2); `pkey` -1 is plain mprotect. */
  pkeyMprotect(addr: number, length: number, prot: number, pkey: number): SysResult {
    return this.syscall('pkeyMprotect', addr, length, prot, pkey);
  }

  /** glibc pkey_get(3): the rights PKRU gives `pkey`, or EINVAL for a key outside 0–15. */
  pkeyGet(pkey: number): SysResult {
    return this.syscall('pkeyGet', pkey);
  }

  /**
   * glibc pkey_set(3): writes `rights` for `pkey` into PKRU (RDPKRU, WRPKRU); EINVAL for a
   * bad key or rights. Without PKU the instructions raise SIGILL, as they do under glibc.
   * On an ended thread it returns the signal that ended it, as {@link writePkru} does.
   */
  pkeySet(pkey: number, rights: number): SysResult | SignalInfo {
    return this.syscall('pkeySet', pkey, rights);
  }

  /**
   * FreeBSD x86_pkru_protect_range(3): key `key` for [addr, addr + len) in the pmap's range
   * set, with AMD64_PKRU_EXCL (0x1) / AMD64_PKRU_PERSIST (0x2) `flags`. ENOSYS under linux.
   */
  pkruProtectRange(addr: number, length: number, key: number, flags = 0): SysResult {
    return this.syscall('pkruProtectRange', addr, length, key, flags);
  }

  /** FreeBSD x86_pkru_unprotect_range(3): no key over [addr, addr + len), PERSIST ranges included. ENOSYS under linux. */
  pkruUnprotectRange(addr: number, length: number): SysResult {
    return this.syscall('pkruUnprotectRange', addr, length);
  }

  /** FreeBSD x86_pkru_get_perm(3): whether PKRU lets this thread read (`access`) and write (`modify`) pages of `key`. */
  pkruGetPerm(key: number): PkruPerm | Errno {
    return this.syscall('pkruGetPerm', key);
  }

  /** FreeBSD x86_pkru_set_perm(3): sets this thread's PKRU bits for `key` by WRPKRU (no TLB flush). */
  pkruSetPerm(key: number, access: boolean, modify: boolean): SysResult {
    return this.syscall('pkruSetPerm', key, access, modify);
  }
}

/** An address and size an access can take, tested without a call: the common case of {@link ThreadHandle.load}. */
function isAccess(va: number, size: number): boolean {
  return va >= 0 && va <= Number.MAX_SAFE_INTEGER && Math.floor(va) === va && (size === 1 || size === 2 || size === 4);
}

/** Thrown when a system call is made on a thread that has exited, was killed, or was ended by exec (code THREAD_ENDED). */
export class ThreadEndedError extends ApiError {
  constructor(readonly tid: number) {
    super('THREAD_ENDED', `thread ${tid} has ended: it makes no more system calls`, { tid });
  }
}

/** A thread's operations as kernel paths that yield at every preemption point: a method per entry of the syscall table. */
export type ThreadPathMethods = { readonly [N in SyscallName]: (...args: SyscallArgs<N>) => KernelPath<SyscallResult<N>> };

// The class carries the table's methods on its prototype (below); the interface of the
// same name gives them their types, so a new table entry is a path with no edit here.
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging, @typescript-eslint/no-empty-object-type
export interface ThreadPaths extends ThreadPathMethods {}

/** A thread's operations as kernel paths that yield at every preemption point, checked as {@link ThreadHandle}'s are. */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export class ThreadPaths {
  /** @internal */
  constructor(
    /** @internal */ readonly handle: ThreadHandle,
  ) {}
}

for (const name of SYSCALL_NAMES) {
  Object.defineProperty(ThreadPaths.prototype, name, {
    value(this: ThreadPaths, ...args: SyscallArgs<typeof name>): KernelPath<SyscallResult<typeof name>> {
      return this.handle.syscallPath(name, ...args);
    },
  });
}

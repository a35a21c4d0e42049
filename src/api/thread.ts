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
import { userFetch, userLoad, userStore, userTranslatePath } from '../mm/uaccess.js';
import { runToCompletion } from '../mm/onCpu.js';
import { DeadlockError, type KernelPath } from '../step/step.js';
import { ACCESS_FETCH, ACCESS_READ, ACCESS_WRITE } from '../hw/mmu.js';
import { pageOffset } from '../hw/pte.js';
import { type Machine } from './machine.js';
import { type ProcessHandle } from './process.js';
import { addressArg, intArg, intIn, longArg, stringArg } from './args.js';
import { ApiError, ReentrantCallError } from './errors.js';

/** Bytes a load or store moves at once. */
export type AccessSize = 1 | 2 | 4;

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

  /** @internal */
  constructor(
    readonly machine: Machine,
    /** @internal */ readonly thread: Thread,
  ) {
    this.paths = new ThreadPaths(machine, thread);
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
   * A system call runs on a live thread only, and not into a lock an in-flight path holds:
   * either is a bug in the caller.
   */
  private enter(what: string): void {
    if (!this.thread.alive) throw new ThreadEndedError(this.thread.tid);
    this.machine.checkNotReentrant(what, this.thread.process);
  }

  private run<R>(what: string, path: KernelPath<R>): R {
    this.enter(what);
    let r: R;
    try {
      r = runToCompletion(this.machine.kernel, this.thread, path);
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
    this.machine.afterOperation();
    return r;
  }

  /** A synchronous call that is not a kernel path. */
  private call<R>(what: string, f: () => R, check = true): R {
    this.enter(what);
    const r = f();
    if (check) this.machine.afterOperation();
    return r;
  }

  /** mmap(2). `fd` is ignored with MAP_ANONYMOUS. */
  mmap(addr: number, length: number, prot: number, flags: number, fd = -1, offset = 0): SysResult {
    checkMmap('ThreadHandle.mmap', addr, length, prot, flags, fd, offset);
    return this.run('ThreadHandle.mmap', sysMmap(this.machine.kernel, this.thread, addr, length, prot, flags, fd, offset));
  }

  /** munmap(2). */
  munmap(addr: number, length: number): SysResult {
    checkRange('ThreadHandle.munmap', addr, length);
    return this.run('ThreadHandle.munmap', sysMunmap(this.machine.kernel, this.thread, addr, length));
  }

  /** mprotect(2). */
  mprotect(addr: number, length: number, prot: number): SysResult {
    checkRange('ThreadHandle.mprotect', addr, length, ['prot', prot]);
    return this.run('ThreadHandle.mprotect', sysMprotect(this.machine.kernel, this.thread, addr, length, prot));
  }

  /** mremap(2). `newAddr` is used with MREMAP_FIXED. */
  mremap(addr: number, oldLength: number, newLength: number, flags: number, newAddr = 0): SysResult {
    checkMremap('ThreadHandle.mremap', addr, oldLength, newLength, flags, newAddr);
    return this.run('ThreadHandle.mremap', sysMremap(this.machine.kernel, this.thread, addr, oldLength, newLength, flags, newAddr));
  }

  /**
   * remap_file_pages(2) on a shared file mapping: [start, start + size) shows file pages
   * `pgoff …`. Mainline emulates it with one VMA per run (`prot` must be 0); the variants
   * rfp-nonlinear and rfp-manyprots run the 2.6 design and the VM_MANYPROTS series, where
   * MAP_CHGPROT in `flags` gives the pages `prot` as their own protection.
   */
  remapFilePages(start: number, size: number, prot: number, pgoff: number, flags = 0): SysResult {
    checkRemap('ThreadHandle.remapFilePages', start, size, prot, pgoff, flags);
    return this.run('ThreadHandle.remapFilePages', sysRemapFilePages(this.machine.kernel, this.thread, start, size, prot, pgoff, flags));
  }

  /**
   * madvise(2). Under linux, DONTNEED(_LOCKED), FREE (eagerly), PAGEOUT and the advice that
   * sets a VMA flag (DONTFORK, WIPEONFORK, …) are modelled; the rest is accepted and, where
   * a program could see the difference, recorded as an 'unmodelled' event in
   * {@link Machine.events} (docs/madvise.md).
   */
  madvise(addr: number, length: number, advice: number): SysResult {
    checkRange('ThreadHandle.madvise', addr, length, ['advice', advice]);
    return this.run('ThreadHandle.madvise', sysMadvise(this.machine.kernel, this.thread, addr, length, advice));
  }

  /** msync(2). */
  msync(addr: number, length: number, flags: number): SysResult {
    checkRange('ThreadHandle.msync', addr, length, ['flags', flags]);
    return this.run('ThreadHandle.msync', sysMsync(this.machine.kernel, this.thread, addr, length, flags));
  }

  /** open(2) of an in-memory file; O_CREAT creates it. */
  open(path: string, flags: number): SysResult {
    stringArg('ThreadHandle.open', 'path', path);
    intArg('ThreadHandle.open', 'flags', flags);
    return this.call('ThreadHandle.open', () => sysOpen(this.machine.kernel, this.thread.process, path, flags));
  }

  /** close(2). */
  close(fd: number): SysResult {
    intArg('ThreadHandle.close', 'fd', fd);
    return this.call('ThreadHandle.close', () => sysClose(this.machine.kernel, this.thread.process, fd), false);
  }

  /**
   * pread(2) into user memory at `buf` (copy_to_user: a PKRU-denied buffer is EFAULT).
   * Linux: a buffer past the user address space is EFAULT before anything moves
   * (access_ok()); a fault part-way gives a short count.
   */
  pread(fd: number, buf: number, length: number, offset: number): SysResult {
    checkRw('ThreadHandle.pread', fd, buf, length, offset);
    return this.call('ThreadHandle.pread', () => sysPread(this.machine.kernel, this.thread, fd, buf, length, offset));
  }

  /** pwrite(2) from user memory at `buf`, with pread's buffer rules; EFBIG at the 8 TiB file-size limit. */
  pwrite(fd: number, buf: number, length: number, offset: number): SysResult {
    checkRw('ThreadHandle.pwrite', fd, buf, length, offset);
    return this.call('ThreadHandle.pwrite', () => sysPwrite(this.machine.kernel, this.thread, fd, buf, length, offset));
  }

  /** ftruncate(2). */
  ftruncate(fd: number, size: number): SysResult {
    intArg('ThreadHandle.ftruncate', 'fd', fd);
    longArg('ThreadHandle.ftruncate', 'size', size);
    return this.call('ThreadHandle.ftruncate', () => sysFtruncate(this.machine.kernel, this.thread, fd, size));
  }

  /** Loads `size` bytes (little-endian) at `va`. */
  load(va: number, size: AccessSize = 1): number | SignalInfo {
    checkAddress(va, size);
    if (this.machine.interleaving !== 0) this.machine.checkNotReentrant('ThreadHandle.load', this.thread.process);
    const r = userLoad(this.machine.kernel, this.thread, va, size);
    if (this.machine.checking) this.machine.afterOperation();
    return r;
  }

  /** Stores the low `size` bytes of `value` at `va`; null on success. */
  store(va: number, value: number, size: AccessSize = 1): SignalInfo | null {
    checkAddress(va, size);
    if ((value | 0) !== value && !Number.isSafeInteger(value)) storeValue('ThreadHandle.store', value);
    if (this.machine.interleaving !== 0) this.machine.checkNotReentrant('ThreadHandle.store', this.thread.process);
    const r = userStore(this.machine.kernel, this.thread, va, value, size);
    if (this.machine.checking) this.machine.afterOperation();
    return r;
  }

  /** Fetches an instruction byte at `va` (keys never apply to fetches). */
  fetch(va: number): number | SignalInfo {
    checkAddress(va, 1);
    if (this.machine.interleaving !== 0) this.machine.checkNotReentrant('ThreadHandle.fetch', this.thread.process);
    const r = userFetch(this.machine.kernel, this.thread, va);
    if (this.machine.checking) this.machine.afterOperation();
    return r;
  }

  /** fork(2): the child process (one thread, on `cpu` or this thread's CPU), or an errno. */
  fork(cpu?: number): ProcessHandle | Errno {
    const k = this.machine.kernel;
    const r = this.run('ThreadHandle.fork', sysFork(k, this.thread, cpu === undefined ? this.thread.cpu : this.machine.cpuAt(cpu)));
    return typeof r === 'number' ? this.machine.processHandle(r) : r;
  }

  /** execve(2) as far as memory goes: a new, empty address space. */
  exec(): SysResult {
    return this.call('ThreadHandle.exec', () => sysExec(this.machine.kernel, this.thread));
  }

  /** The thread's PKRU value (its CPU's while it runs there): RDPKRU. */
  get pkru(): number {
    this.machine.kernel.syncPkru(this.thread);
    return this.thread.pkru;
  }

  /**
   * WRPKRU: takes effect on the next access with no TLB flush. Without PKU (CR4.PKE clear)
   * the instruction is undefined: SIGILL (ILL_ILLOPN), as on hardware. An ended thread runs
   * no instruction: like an access, it returns the signal that ended it (SIGKILL when it
   * exited), never null.
   */
  writePkru(value: number): SignalInfo | null {
    intArg('ThreadHandle.writePkru', 'value', value);
    const k = this.machine.kernel;
    if (!this.thread.alive) return endedSignal(this.thread);
    const cpu = k.switchTo(this.thread);
    if (!cpu.pke) {
      const sig: SignalInfo = { signal: 'SIGILL', code: 'ILL_ILLOPN', addr: 0, pkey: -1, errorCode: 0, tid: this.thread.tid };
      this.thread.signals.push(sig);
      return sig;
    }
    cpu.writePkru(value >>> 0);
    this.thread.pkru = value >>> 0;
    if (this.machine.checking) this.machine.afterOperation();
    return null;
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
    this.machine.own('ThreadHandle.ptracePeek', target);
    addressArg('ThreadHandle.ptracePeek', 'va', va);
    // The tracer makes a system call: an ended thread makes none.
    if (!this.thread.alive) throw new ThreadEndedError(this.thread.tid);
    const vma = target.process.mm.vmaAt(va);
    if (!vma || !(vma.flags & VM_MAYREAD)) return errno('EIO');
    const v = target.peek(va);
    return v === undefined ? errno('EIO') : v;
  }

  /** pkey_alloc(2): a key with `rights` (PKEY_DISABLE_ACCESS / PKEY_DISABLE_WRITE) set in this thread's PKRU. */
  pkeyAlloc(flags: number, rights: number): SysResult {
    intArg('ThreadHandle.pkeyAlloc', 'flags', flags);
    intArg('ThreadHandle.pkeyAlloc', 'rights', rights);
    return this.run('ThreadHandle.pkeyAlloc', sysPkeyAlloc(this.machine.kernel, this.thread, flags, rights));
  }

  /** pkey_free(2). */
  pkeyFree(pkey: number): SysResult {
    intArg('ThreadHandle.pkeyFree', 'pkey', pkey);
    return this.run('ThreadHandle.pkeyFree', sysPkeyFree(this.machine.kernel, this.thread, pkey));
  }

  /** pkey_mprotect(2); `pkey` -1 is plain mprotect. */
  pkeyMprotect(addr: number, length: number, prot: number, pkey: number): SysResult {
    checkRange('ThreadHandle.pkeyMprotect', addr, length, ['prot', prot], ['pkey', pkey]);
    return this.run('ThreadHandle.pkeyMprotect', sysPkeyMprotect(this.machine.kernel, this.thread, addr, length, prot, pkey));
  }

  /** glibc pkey_get(3): the rights PKRU gives `pkey`, or EINVAL for a key outside 0–15. */
  pkeyGet(pkey: number): SysResult {
    intArg('ThreadHandle.pkeyGet', 'pkey', pkey);
    if (!Number.isInteger(pkey) || pkey < 0 || pkey >= 16) return errno('EINVAL');
    return (this.pkru >>> (2 * pkey)) & 3;
  }

  /**
   * glibc pkey_set(3): writes `rights` for `pkey` into PKRU (RDPKRU, WRPKRU); EINVAL for a
   * bad key or rights. Without PKU the instructions raise SIGILL, as they do under glibc.
   * On an ended thread it returns the signal that ended it, as {@link writePkru} does.
   */
  pkeySet(pkey: number, rights: number): SysResult | SignalInfo {
    intArg('ThreadHandle.pkeySet', 'pkey', pkey);
    intArg('ThreadHandle.pkeySet', 'rights', rights);
    if (!this.thread.alive) return endedSignal(this.thread);
    if (!Number.isInteger(pkey) || pkey < 0 || pkey >= 16 || rights & ~3) return errno('EINVAL');
    const value = ((this.pkru & ~(3 << (2 * pkey))) | (rights << (2 * pkey))) >>> 0;
    return this.writePkru(value) ?? 0;
  }

  /**
   * FreeBSD x86_pkru_protect_range(3): key `key` for [addr, addr + len) in the pmap's range
   * set, with AMD64_PKRU_EXCL (0x1) / AMD64_PKRU_PERSIST (0x2) `flags`. ENOSYS under linux.
   */
  pkruProtectRange(addr: number, length: number, key: number, flags = 0): SysResult {
    checkRange('ThreadHandle.pkruProtectRange', addr, length, ['key', key], ['flags', flags]);
    return this.run('ThreadHandle.pkruProtectRange', sysPkruProtectRange(this.machine.kernel, this.thread, addr, length, key, flags));
  }

  /** FreeBSD x86_pkru_unprotect_range(3): no key over [addr, addr + len), PERSIST ranges included. ENOSYS under linux. */
  pkruUnprotectRange(addr: number, length: number): SysResult {
    checkRange('ThreadHandle.pkruUnprotectRange', addr, length);
    return this.run('ThreadHandle.pkruUnprotectRange', sysPkruUnprotectRange(this.machine.kernel, this.thread, addr, length));
  }

  /** FreeBSD x86_pkru_get_perm(3): whether PKRU lets this thread read (`access`) and write (`modify`) pages of `key`. */
  pkruGetPerm(key: number): PkruPerm | Errno {
    intArg('ThreadHandle.pkruGetPerm', 'key', key);
    return this.call('ThreadHandle.pkruGetPerm', () => pkruGetPerm(this.machine.kernel, this.thread, key), false);
  }

  /** FreeBSD x86_pkru_set_perm(3): sets this thread's PKRU bits for `key` by WRPKRU (no TLB flush). */
  pkruSetPerm(key: number, access: boolean, modify: boolean): SysResult {
    intArg('ThreadHandle.pkruSetPerm', 'key', key);
    if (typeof access !== 'boolean' || typeof modify !== 'boolean') throw new TypeError('ThreadHandle.pkruSetPerm: access and modify must be true or false');
    return this.call('ThreadHandle.pkruSetPerm', () => pkruSetPerm(this.machine.kernel, this.thread, key, access, modify), this.machine.checking);
  }
}

/** Thrown when a system call is made on a thread that has exited, was killed, or was ended by exec (code THREAD_ENDED). */
export class ThreadEndedError extends ApiError {
  constructor(readonly tid: number) {
    super('THREAD_ENDED', `thread ${tid} has ended: it makes no more system calls`, { tid });
  }
}

/** What an instruction on an ended thread reports: the signal that ended it, or SIGKILL (as an access does). */
function endedSignal(t: Thread): SignalInfo {
  return t.signals[t.signals.length - 1] ?? { signal: 'SIGKILL', code: 'SI_KERNEL', addr: 0, pkey: -1, errorCode: 0, tid: t.tid };
}

/** A caller passing something that is not an address is a programming error, not a fault to model. */
function checkAddress(va: number, size: number): void {
  if (!(va >= 0 && va <= Number.MAX_SAFE_INTEGER && Math.floor(va) === va)) throw new RangeError(`address must be a non-negative safe integer, not ${va}`);
  if (size !== 1 && size !== 2 && size !== 4) throw new RangeError(`access size must be 1, 2 or 4, not ${String(size)}`);
}

/** A stored value is any safe integer: its low bytes are written. Anything else is the caller's bug. */
function storeValue(c: string, value: unknown): never {
  intIn(c, 'value', value, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, 'a safe integer');
  throw new Error('unreachable');
}

// The argument checks of each system call, shared by ThreadHandle and ThreadPaths.

function checkRange(c: string, addr: number, length: number, ...ints: readonly (readonly [string, number])[]): void {
  longArg(c, 'addr', addr);
  longArg(c, 'length', length);
  for (const [name, v] of ints) intArg(c, name, v);
}

function checkMmap(c: string, addr: number, length: number, prot: number, flags: number, fd: number, offset: number): void {
  checkRange(c, addr, length, ['prot', prot], ['flags', flags], ['fd', fd]);
  longArg(c, 'offset', offset);
}

function checkMremap(c: string, addr: number, oldLength: number, newLength: number, flags: number, newAddr: number): void {
  checkRange(c, addr, oldLength, ['flags', flags]);
  longArg(c, 'newLength', newLength);
  longArg(c, 'newAddr', newAddr);
}

function checkRemap(c: string, start: number, size: number, prot: number, pgoff: number, flags: number): void {
  checkRange(c, start, size, ['prot', prot], ['flags', flags]);
  longArg(c, 'pgoff', pgoff);
}

function checkRw(c: string, fd: number, buf: number, length: number, offset: number): void {
  intArg(c, 'fd', fd);
  longArg(c, 'buf', buf);
  longArg(c, 'length', length);
  longArg(c, 'offset', offset);
}

/** A thread's operations as kernel paths that yield at every preemption point. */
export class ThreadPaths {
  /** @internal */
  constructor(
    private readonly machine: Machine,
    private readonly thread: Thread,
  ) {}

  /** A system call's path is made for a live thread only, as {@link ThreadHandle} calls are. */
  private live(): Kernel {
    if (!this.thread.alive) throw new ThreadEndedError(this.thread.tid);
    return this.machine.kernel;
  }

  mmap(addr: number, length: number, prot: number, flags: number, fd = -1, offset = 0): KernelPath<SysResult> {
    checkMmap('ThreadPaths.mmap', addr, length, prot, flags, fd, offset);
    return sysMmap(this.live(), this.thread, addr, length, prot, flags, fd, offset);
  }

  munmap(addr: number, length: number): KernelPath<SysResult> {
    checkRange('ThreadPaths.munmap', addr, length);
    return sysMunmap(this.live(), this.thread, addr, length);
  }

  mprotect(addr: number, length: number, prot: number): KernelPath<SysResult> {
    checkRange('ThreadPaths.mprotect', addr, length, ['prot', prot]);
    return sysMprotect(this.live(), this.thread, addr, length, prot);
  }

  mremap(addr: number, oldLength: number, newLength: number, flags: number, newAddr = 0): KernelPath<SysResult> {
    checkMremap('ThreadPaths.mremap', addr, oldLength, newLength, flags, newAddr);
    return sysMremap(this.live(), this.thread, addr, oldLength, newLength, flags, newAddr);
  }

  madvise(addr: number, length: number, advice: number): KernelPath<SysResult> {
    checkRange('ThreadPaths.madvise', addr, length, ['advice', advice]);
    return sysMadvise(this.live(), this.thread, addr, length, advice);
  }

  remapFilePages(start: number, size: number, prot: number, pgoff: number, flags = 0): KernelPath<SysResult> {
    checkRemap('ThreadPaths.remapFilePages', start, size, prot, pgoff, flags);
    return sysRemapFilePages(this.live(), this.thread, start, size, prot, pgoff, flags);
  }

  pkeyMprotect(addr: number, length: number, prot: number, pkey: number): KernelPath<SysResult> {
    checkRange('ThreadPaths.pkeyMprotect', addr, length, ['prot', prot], ['pkey', pkey]);
    return sysPkeyMprotect(this.live(), this.thread, addr, length, prot, pkey);
  }

  pkruProtectRange(addr: number, length: number, key: number, flags = 0): KernelPath<SysResult> {
    checkRange('ThreadPaths.pkruProtectRange', addr, length, ['key', key], ['flags', flags]);
    return sysPkruProtectRange(this.live(), this.thread, addr, length, key, flags);
  }

  pkruUnprotectRange(addr: number, length: number): KernelPath<SysResult> {
    checkRange('ThreadPaths.pkruUnprotectRange', addr, length);
    return sysPkruUnprotectRange(this.live(), this.thread, addr, length);
  }

  /** A one-byte load: yields at the access and inside any fault it takes. */
  load(va: number): KernelPath<number | SignalInfo> {
    checkAddress(va, 1);
    return this.loadPath(va);
  }

  private *loadPath(va: number): KernelPath<number | SignalInfo> {
    const pfn = yield* userTranslatePath(this.machine.kernel, this.thread, va, ACCESS_READ);
    return typeof pfn === 'number' ? this.machine.kernel.hw.mem.read8(pfn, pageOffset(va)) : pfn;
  }

  /** A one-byte store. */
  store(va: number, value: number): KernelPath<SignalInfo | null> {
    checkAddress(va, 1);
    if (!Number.isSafeInteger(value)) storeValue('ThreadPaths.store', value);
    return this.storePath(va, value);
  }

  private *storePath(va: number, value: number): KernelPath<SignalInfo | null> {
    const pfn = yield* userTranslatePath(this.machine.kernel, this.thread, va, ACCESS_WRITE);
    if (typeof pfn !== 'number') return pfn;
    this.machine.kernel.hw.mem.write8(pfn, pageOffset(va), value);
    return null;
  }

  /** An instruction fetch. */
  fetch(va: number): KernelPath<number | SignalInfo> {
    checkAddress(va, 1);
    return this.fetchPath(va);
  }

  private *fetchPath(va: number): KernelPath<number | SignalInfo> {
    const pfn = yield* userTranslatePath(this.machine.kernel, this.thread, va, ACCESS_FETCH);
    return typeof pfn === 'number' ? this.machine.kernel.hw.mem.read8(pfn, pageOffset(va)) : pfn;
  }
}

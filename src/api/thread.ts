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
import { type KernelPath } from '../step/step.js';
import { ACCESS_FETCH, ACCESS_READ, ACCESS_WRITE } from '../hw/mmu.js';
import { pageOffset } from '../hw/pte.js';
import { type Machine } from './machine.js';
import { type ProcessHandle } from './process.js';

/** Bytes a load or store moves at once. */
export type AccessSize = 1 | 2 | 4;

/**
 * A thread of a modelled process: the syscalls it can make and the memory accesses it
 * can perform. A syscall returns its value or an {@link Errno}; an access returns its
 * value (or null for a store) or the {@link SignalInfo} it raised.
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

  /** A system call runs on a live thread only: calling one on an ended thread is a bug in the caller. */
  private live(): void {
    if (!this.thread.alive) throw new ThreadEndedError(this.thread.tid);
  }

  private run<R>(path: KernelPath<R>): R {
    this.live();
    const r = runToCompletion(this.machine.kernel, this.thread, path);
    this.machine.afterOperation();
    return r;
  }

  /** mmap(2). `fd` is ignored with MAP_ANONYMOUS. */
  mmap(addr: number, length: number, prot: number, flags: number, fd = -1, offset = 0): SysResult {
    return this.run(sysMmap(this.machine.kernel, this.thread, addr, length, prot, flags, fd, offset));
  }

  /** munmap(2). */
  munmap(addr: number, length: number): SysResult {
    return this.run(sysMunmap(this.machine.kernel, this.thread, addr, length));
  }

  /** mprotect(2). */
  mprotect(addr: number, length: number, prot: number): SysResult {
    return this.run(sysMprotect(this.machine.kernel, this.thread, addr, length, prot));
  }

  /** mremap(2). `newAddr` is used with MREMAP_FIXED. */
  mremap(addr: number, oldLength: number, newLength: number, flags: number, newAddr = 0): SysResult {
    return this.run(sysMremap(this.machine.kernel, this.thread, addr, oldLength, newLength, flags, newAddr));
  }

  /**
   * remap_file_pages(2) on a shared file mapping: [start, start + size) shows file pages
   * `pgoff …`. Mainline emulates it with one VMA per run (`prot` must be 0); the variants
   * rfp-nonlinear and rfp-manyprots run the 2.6 design and the VM_MANYPROTS series, where
   * MAP_CHGPROT in `flags` gives the pages `prot` as their own protection.
   */
  remapFilePages(start: number, size: number, prot: number, pgoff: number, flags = 0): SysResult {
    return this.run(sysRemapFilePages(this.machine.kernel, this.thread, start, size, prot, pgoff, flags));
  }

  /** madvise(2). */
  madvise(addr: number, length: number, advice: number): SysResult {
    return this.run(sysMadvise(this.machine.kernel, this.thread, addr, length, advice));
  }

  /** msync(2). */
  msync(addr: number, length: number, flags: number): SysResult {
    return this.run(sysMsync(this.machine.kernel, this.thread, addr, length, flags));
  }

  /** open(2) of an in-memory file; O_CREAT creates it. */
  open(path: string, flags: number): SysResult {
    this.live();
    const r = sysOpen(this.machine.kernel, this.thread.process, path, flags);
    this.machine.afterOperation();
    return r;
  }

  /** close(2). */
  close(fd: number): SysResult {
    this.live();
    return sysClose(this.machine.kernel, this.thread.process, fd);
  }

  /** pread(2) into user memory at `buf` (copy_to_user: a PKRU-denied buffer is EFAULT). */
  pread(fd: number, buf: number, length: number, offset: number): SysResult {
    this.live();
    const r = sysPread(this.machine.kernel, this.thread, fd, buf, length, offset);
    this.machine.afterOperation();
    return r;
  }

  /** pwrite(2) from user memory at `buf`. */
  pwrite(fd: number, buf: number, length: number, offset: number): SysResult {
    this.live();
    const r = sysPwrite(this.machine.kernel, this.thread, fd, buf, length, offset);
    this.machine.afterOperation();
    return r;
  }

  /** ftruncate(2). */
  ftruncate(fd: number, size: number): SysResult {
    this.live();
    const r = sysFtruncate(this.machine.kernel, this.thread, fd, size);
    this.machine.afterOperation();
    return r;
  }

  /** Loads `size` bytes (little-endian) at `va`. */
  load(va: number, size: AccessSize = 1): number | SignalInfo {
    checkAddress(va, size);
    const r = userLoad(this.machine.kernel, this.thread, va, size);
    if (this.machine.checking) this.machine.afterOperation();
    return r;
  }

  /** Stores the low `size` bytes of `value` at `va`; null on success. */
  store(va: number, value: number, size: AccessSize = 1): SignalInfo | null {
    checkAddress(va, size);
    const r = userStore(this.machine.kernel, this.thread, va, value, size);
    if (this.machine.checking) this.machine.afterOperation();
    return r;
  }

  /** Fetches an instruction byte at `va` (keys never apply to fetches). */
  fetch(va: number): number | SignalInfo {
    checkAddress(va, 1);
    const r = userFetch(this.machine.kernel, this.thread, va);
    if (this.machine.checking) this.machine.afterOperation();
    return r;
  }

  /** fork(2): the child process (one thread, on `cpu` or this thread's CPU), or an errno. */
  fork(cpu?: number): ProcessHandle | Errno {
    const k = this.machine.kernel;
    const r = this.run(sysFork(k, this.thread, cpu === undefined ? this.thread.cpu : this.machine.cpuAt(cpu)));
    return typeof r === 'number' ? this.machine.processHandle(r) : r;
  }

  /** execve(2) as far as memory goes: a new, empty address space. */
  exec(): SysResult {
    this.live();
    const r = sysExec(this.machine.kernel, this.thread);
    this.machine.afterOperation();
    return r;
  }

  /** The thread's PKRU value (its CPU's while it runs there): RDPKRU. */
  get pkru(): number {
    this.machine.kernel.syncPkru(this.thread);
    return this.thread.pkru;
  }

  /**
   * WRPKRU: takes effect on the next access with no TLB flush. Without PKU (CR4.PKE clear)
   * the instruction is undefined: SIGILL (ILL_ILLOPN), as on hardware.
   */
  writePkru(value: number): SignalInfo | null {
    const k = this.machine.kernel;
    if (!this.thread.alive) return this.thread.signals[this.thread.signals.length - 1] ?? null;
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
    this.live();
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
    checkAddress(va, 1);
    const vma = target.process.mm.vmaAt(va);
    if (!vma || !(vma.flags & VM_MAYREAD)) return errno('EIO');
    const v = target.peek(va);
    return v === undefined ? errno('EIO') : v;
  }

  /** pkey_alloc(2): a key with `rights` (PKEY_DISABLE_ACCESS / PKEY_DISABLE_WRITE) set in this thread's PKRU. */
  pkeyAlloc(flags: number, rights: number): SysResult {
    return this.run(sysPkeyAlloc(this.machine.kernel, this.thread, flags, rights));
  }

  /** pkey_free(2). */
  pkeyFree(pkey: number): SysResult {
    return this.run(sysPkeyFree(this.machine.kernel, this.thread, pkey));
  }

  /** pkey_mprotect(2); `pkey` -1 is plain mprotect. */
  pkeyMprotect(addr: number, length: number, prot: number, pkey: number): SysResult {
    return this.run(sysPkeyMprotect(this.machine.kernel, this.thread, addr, length, prot, pkey));
  }

  /** glibc pkey_get(3): the rights PKRU gives `pkey`, or EINVAL for a key outside 0–15. */
  pkeyGet(pkey: number): SysResult {
    if (!Number.isInteger(pkey) || pkey < 0 || pkey >= 16) return errno('EINVAL');
    return (this.pkru >>> (2 * pkey)) & 3;
  }

  /**
   * glibc pkey_set(3): writes `rights` for `pkey` into PKRU (RDPKRU, WRPKRU); EINVAL for a
   * bad key or rights. Without PKU the instructions raise SIGILL, as they do under glibc.
   */
  pkeySet(pkey: number, rights: number): SysResult | SignalInfo {
    if (!Number.isInteger(pkey) || pkey < 0 || pkey >= 16 || rights & ~3) return errno('EINVAL');
    const value = ((this.pkru & ~(3 << (2 * pkey))) | (rights << (2 * pkey))) >>> 0;
    return this.writePkru(value) ?? 0;
  }

  /**
   * FreeBSD x86_pkru_protect_range(3): key `key` for [addr, addr + len) in the pmap's range
   * set, with AMD64_PKRU_EXCL (0x1) / AMD64_PKRU_PERSIST (0x2) `flags`. ENOSYS under linux.
   */
  pkruProtectRange(addr: number, length: number, key: number, flags = 0): SysResult {
    return this.run(sysPkruProtectRange(this.machine.kernel, this.thread, addr, length, key, flags));
  }

  /** FreeBSD x86_pkru_unprotect_range(3): no key over [addr, addr + len), PERSIST ranges included. ENOSYS under linux. */
  pkruUnprotectRange(addr: number, length: number): SysResult {
    return this.run(sysPkruUnprotectRange(this.machine.kernel, this.thread, addr, length));
  }

  /** FreeBSD x86_pkru_get_perm(3): whether PKRU lets this thread read (`access`) and write (`modify`) pages of `key`. */
  pkruGetPerm(key: number): PkruPerm | Errno {
    this.live();
    return pkruGetPerm(this.machine.kernel, this.thread, key);
  }

  /** FreeBSD x86_pkru_set_perm(3): sets this thread's PKRU bits for `key` by WRPKRU (no TLB flush). */
  pkruSetPerm(key: number, access: boolean, modify: boolean): SysResult {
    this.live();
    const r = pkruSetPerm(this.machine.kernel, this.thread, key, access, modify);
    if (this.machine.checking) this.machine.afterOperation();
    return r;
  }
}

/** Thrown when a system call is made on a thread that has exited, was killed, or was ended by exec. */
export class ThreadEndedError extends Error {
  constructor(readonly tid: number) {
    super(`thread ${tid} has ended: it makes no more system calls`);
  }
}

/** A caller passing something that is not an address is a programming error, not a fault to model. */
function checkAddress(va: number, size: number): void {
  if (!(va >= 0 && va <= Number.MAX_SAFE_INTEGER && Math.floor(va) === va)) throw new RangeError(`address must be a non-negative safe integer, not ${va}`);
  if (size !== 1 && size !== 2 && size !== 4) throw new RangeError(`access size must be 1, 2 or 4, not ${String(size)}`);
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
    return sysMmap(this.live(), this.thread, addr, length, prot, flags, fd, offset);
  }

  munmap(addr: number, length: number): KernelPath<SysResult> {
    return sysMunmap(this.live(), this.thread, addr, length);
  }

  mprotect(addr: number, length: number, prot: number): KernelPath<SysResult> {
    return sysMprotect(this.live(), this.thread, addr, length, prot);
  }

  mremap(addr: number, oldLength: number, newLength: number, flags: number, newAddr = 0): KernelPath<SysResult> {
    return sysMremap(this.live(), this.thread, addr, oldLength, newLength, flags, newAddr);
  }

  madvise(addr: number, length: number, advice: number): KernelPath<SysResult> {
    return sysMadvise(this.live(), this.thread, addr, length, advice);
  }

  remapFilePages(start: number, size: number, prot: number, pgoff: number, flags = 0): KernelPath<SysResult> {
    return sysRemapFilePages(this.live(), this.thread, start, size, prot, pgoff, flags);
  }

  pkeyMprotect(addr: number, length: number, prot: number, pkey: number): KernelPath<SysResult> {
    return sysPkeyMprotect(this.live(), this.thread, addr, length, prot, pkey);
  }

  pkruProtectRange(addr: number, length: number, key: number, flags = 0): KernelPath<SysResult> {
    return sysPkruProtectRange(this.live(), this.thread, addr, length, key, flags);
  }

  pkruUnprotectRange(addr: number, length: number): KernelPath<SysResult> {
    return sysPkruUnprotectRange(this.live(), this.thread, addr, length);
  }

  /** A one-byte load: yields at the access and inside any fault it takes. */
  *load(va: number): KernelPath<number | SignalInfo> {
    const pfn = yield* userTranslatePath(this.machine.kernel, this.thread, va, ACCESS_READ);
    return typeof pfn === 'number' ? this.machine.kernel.hw.mem.read8(pfn, pageOffset(va)) : pfn;
  }

  /** A one-byte store. */
  *store(va: number, value: number): KernelPath<SignalInfo | null> {
    const pfn = yield* userTranslatePath(this.machine.kernel, this.thread, va, ACCESS_WRITE);
    if (typeof pfn !== 'number') return pfn;
    this.machine.kernel.hw.mem.write8(pfn, pageOffset(va), value);
    return null;
  }

  /** An instruction fetch. */
  *fetch(va: number): KernelPath<number | SignalInfo> {
    const pfn = yield* userTranslatePath(this.machine.kernel, this.thread, va, ACCESS_FETCH);
    return typeof pfn === 'number' ? this.machine.kernel.hw.mem.read8(pfn, pageOffset(va)) : pfn;
  }
}

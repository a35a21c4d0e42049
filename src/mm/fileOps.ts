import { PAGE_SIZE, pageOffset } from '../hw/pte.js';
import { NO_FRAME } from '../hw/physMem.js';
import { drain, type KernelCtx, type KernelPath } from '../step/step.js';
import { O_ACCMODE, O_CREAT, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY } from './abi.js';
import { EACCES, EBADF, EFAULT, EFBIG, EINVAL, ENOENT, ENOMEM, type Errno, isErrno, type SysResult } from './errno.js';
import { pageCacheGet } from './fault.js';
import { File } from './file.js';
import { type Kernel } from './kernel.js';
import { type SpinLock } from '../step/locks.js';
import { type Process, type Thread } from './process.js';
import { copyUser } from './uaccess.js';
import { zapVmaRange } from './vmaOps.js';
import { zapNonlinear } from './remapFilePages.js';
import { VM_NONLINEAR } from './vma.js';
import { accessOk, MAX_RW_COUNT } from './sysArgs.js';
import { TASK_SIZE } from './mm.js';

/**
 * Largest file size mmsim accepts: the superblock's s_maxbytes of its in-memory file
 * system. Linux's tmpfs allows MAX_LFS_FILESIZE; 8 TiB keeps every file page index below
 * 2^31 — within the 40-bit offset of a nonlinear file entry (PTE_FILE_MAX_BITS) and exact
 * in every typed array that keeps one. ftruncate(2) and pwrite(2) refuse to pass it with
 * EFBIG; a file declared larger (`Machine.createFile`, the scenario `file` line) is refused
 * before it exists, through {@link fileSizeProblem}.
 */
export const MAX_FILE_SIZE = 2 ** 31 * PAGE_SIZE;

/**
 * Why `size` cannot be the size of a new file, or null when it can: a whole number of
 * bytes from 0 to {@link MAX_FILE_SIZE}. Callers that declare files (the API, the scenario
 * parser) report the message as their own error.
 */
export function fileSizeProblem(size: number): string | null {
  if (typeof size !== 'number' || !Number.isInteger(size) || size < 0) return `a file size must be a whole number of bytes, not ${String(size)}`;
  if (size > MAX_FILE_SIZE) return `a file size must be at most 8 TiB (${MAX_FILE_SIZE} bytes, the limit ftruncate and pwrite enforce with EFBIG), not ${size}`;
  return null;
}

/** Creates (or replaces) an in-memory file holding `contents` (a size {@link fileSizeProblem} accepts). */
export function createFile(k: Kernel, name: string, contents: Uint8Array | number): File {
  const size = typeof contents === 'number' ? contents : contents.length;
  // A file of that name is replaced as by unlink() and create: mappings and descriptors of
  // the old one keep it (and its page cache) until they go.
  k.unlinkFile(name);
  const file = new File(name, size, k.newInode());
  k.files.set(name, file);
  if (typeof contents !== 'number') writeFileBytes(k, file, 0, contents, null);
  return file;
}

/** open(2): the lowest free descriptor for `name`; O_TRUNC truncates as {@link truncateFile} does. */
export function* sysOpen(k: Kernel, t: Thread, name: string, flags: number): KernelPath<SysResult> {
  const p = t.process;
  const mode = flags & O_ACCMODE;
  if (mode === O_ACCMODE) return EINVAL;
  let file = k.files.get(name);
  if (!file) {
    if (!(flags & O_CREAT)) return ENOENT;
    file = new File(name, 0, k.newInode());
    k.files.set(name, file);
  }
  const canRead = mode === O_RDONLY || mode === O_RDWR;
  const canWrite = mode === O_WRONLY || mode === O_RDWR;
  if ((canRead && !file.readable) || (canWrite && !file.writable)) return EACCES;
  if (flags & O_TRUNC && canWrite) {
    const r = yield* truncateFile(k, t.ctx, file, 0);
    if (isErrno(r)) return r;
  }
  const fd = p.nextFd();
  p.fds.set(fd, { file, canRead, canWrite });
  return fd;
}

/** close(2): one step, with no lock a fault path could hold (fput() of an in-memory file). */
// eslint-disable-next-line require-yield
export function* sysClose(k: Kernel, t: Thread, fd: number): KernelPath<SysResult> {
  return t.process.fds.delete(fd) ? (k.releaseUnlinkedFiles(), 0) : EBADF;
}

/** Writes bytes into a file through its page cache, growing it; returns bytes written or ENOMEM. */
export function writeFileBytes(k: Kernel, file: File, offset: number, bytes: Uint8Array, requester: Process | null): SysResult {
  if (offset + bytes.length > MAX_FILE_SIZE) return EFBIG;
  const mem = k.hw.mem;
  let i = 0;
  while (i < bytes.length) {
    const pos = offset + i;
    const index = Math.floor(pos / PAGE_SIZE);
    const pfn = pageCacheGet(k, file, index, requester);
    if (pfn === NO_FRAME) return i > 0 ? i : ENOMEM;
    const off = pageOffset(pos);
    const n = Math.min(bytes.length - i, PAGE_SIZE - off);
    mem.writeBytes(pfn, off, bytes, i, n);
    i += n;
  }
  if (offset + bytes.length > file.size) file.size = offset + bytes.length;
  return bytes.length;
}

/** Reads bytes of a file through its page cache (short at end of file). */
export function readFileBytes(k: Kernel, file: File, offset: number, length: number, requester: Process | null): Uint8Array | SysResult {
  const n = Math.max(0, Math.min(length, file.size - offset));
  const out = new Uint8Array(n);
  const mem = k.hw.mem;
  for (let i = 0; i < n; ) {
    const pos = offset + i;
    const pfn = pageCacheGet(k, file, Math.floor(pos / PAGE_SIZE), requester);
    if (pfn === NO_FRAME) return ENOMEM;
    const off = pageOffset(pos);
    const m = Math.min(n - i, PAGE_SIZE - off);
    for (let j = 0; j < m; j++) out[i + j] = mem.read8(pfn, off + j);
    i += m;
  }
  return out;
}

/** One page of kernel buffer: pread and pwrite move data a page at a time, never a buffer of the caller's length. */
const bounce = new Uint8Array(PAGE_SIZE);

/** What {@link rwCheck} lets through: the bytes to move, and whether the buffer ends in a fault past them. */
interface RwCount {
  readonly count: number;
  readonly faultAfter: boolean;
}

/**
 * The checks pread(2) and pwrite(2) share. Linux's order (ksys_pread64() /
 * ksys_pwrite64(), vfs_read() / vfs_write(), rw_verify_area()): a negative offset is
 * EINVAL; a bad descriptor EBADF; a buffer that access_ok() refuses — it runs past the
 * user address space or wraps, as a count of -1 does — EFAULT before anything moves; an
 * offset plus count past 2^63 EINVAL; then the count is clamped to MAX_RW_COUNT.
 * FreeBSD's (sys_pread(), kern_preadv()): a count above IOSIZE_MAX (SSIZE_MAX) is EINVAL,
 * then EBADF, then a negative offset EINVAL. It checks the buffer only in copyin() and
 * copyout(), chunk by chunk: the part below the user limit moves, and the rest is EFAULT.
 */
function rwCheck(k: Kernel, t: Thread, fd: number, bufVa: number, len: number, offset: number, write: boolean): RwCount | Errno {
  const open = t.process.fds.get(fd);
  const badFd = !open || !(write ? open.canWrite : open.canRead);
  if (k.freebsd) {
    if (len < 0 || len > 2 ** 63 - 1) return EINVAL;
    if (badFd) return EBADF;
    if (offset < 0) return EINVAL;
    const room = bufVa < 0 ? 0 : Math.max(0, TASK_SIZE - bufVa);
    return { count: Math.min(len, room), faultAfter: len > room };
  }
  if (offset < 0) return EINVAL;
  if (badFd) return EBADF;
  if (!accessOk(bufVa, len)) return EFAULT;
  if (offset + len > 2 ** 63 - 1) return EINVAL;
  return { count: Math.min(len, MAX_RW_COUNT), faultAfter: false };
}

/**
 * pwrite(2) from a user buffer (Linux generic_perform_write()): a file page at a time,
 * copy_from_user into a kernel page and then into the page cache. A fault that stops the
 * copy ends the write there: the bytes before it are written and counted, and nothing
 * written is EFAULT. FreeBSD's uiomove() returns EFAULT even after a partial copy, and
 * dofilewrite() passes the error on; the bytes before the fault stay written.
 * Linux's generic_write_check_limits() refuses to start at or past the file-size limit
 * (EFBIG) and shortens a write that would pass it; FreeBSD refuses the whole write (EFBIG).
 */
export function* sysPwrite(k: Kernel, t: Thread, fd: number, bufVa: number, len: number, offset: number): KernelPath<SysResult> {
  const checked = rwCheck(k, t, fd, bufVa, len, offset, true);
  if (isErrno(checked)) return checked;
  let count = checked.count;
  if (count === 0) return checked.faultAfter ? EFAULT : 0;
  if (k.freebsd ? offset + len > MAX_FILE_SIZE : offset >= MAX_FILE_SIZE) return EFBIG;
  count = Math.min(count, MAX_FILE_SIZE - offset);
  const file = t.process.fds.get(fd)!.file;
  let done = 0;
  while (done < count) {
    const pos = offset + done;
    const n = Math.min(count - done, PAGE_SIZE - pageOffset(pos));
    const chunk = bounce.subarray(0, n);
    const copied = yield* copyUser(k, t, bufVa + done, chunk, false);
    const got = isErrno(copied) ? 0 : copied;
    if (got > 0) {
      const w = writeFileBytes(k, file, pos, chunk.subarray(0, got), t.process);
      if (isErrno(w)) return done > 0 ? done : w;
      done += w;
    }
    if (got < n) return k.freebsd || done === 0 ? EFAULT : done;
  }
  return checked.faultAfter ? EFAULT : done;
}

/**
 * pread(2) into a user buffer (Linux filemap_read()): a page at a time from the page cache,
 * then copy_to_user (which honours PKRU). Reading at or past the end returns 0; a fault
 * ends the read with the bytes copied so far, or EFAULT when there are none (FreeBSD:
 * EFAULT in either case, as for pwrite).
 */
export function* sysPread(k: Kernel, t: Thread, fd: number, bufVa: number, len: number, offset: number): KernelPath<SysResult> {
  const checked = rwCheck(k, t, fd, bufVa, len, offset, false);
  if (isErrno(checked)) return checked;
  const file = t.process.fds.get(fd)!.file;
  const count = Math.max(0, Math.min(checked.count, file.size - offset));
  let done = 0;
  while (done < count) {
    const pos = offset + done;
    const n = Math.min(count - done, PAGE_SIZE - pageOffset(pos));
    const data = readFileBytes(k, file, pos, n, t.process);
    if (!(data instanceof Uint8Array)) return done > 0 ? done : data;
    const copied = yield* copyUser(k, t, bufVa + done, data, true);
    const got = isErrno(copied) ? 0 : copied;
    done += got;
    if (got < data.length) return k.freebsd || done === 0 ? EFAULT : done;
  }
  // FreeBSD: the buffer ran past the user limit with file data left to copy there.
  return checked.faultAfter && offset + checked.count < file.size ? EFAULT : done;
}

/** ftruncate(2). A length past MAX_FILE_SIZE is EFBIG (Linux do_truncate(): inode_newsize_ok() against s_maxbytes). */
export function* sysFtruncate(k: Kernel, t: Thread, fd: number, size: number): KernelPath<SysResult> {
  const open = t.process.fds.get(fd);
  if (!open) return EBADF;
  if (!open.canWrite || size < 0) return EINVAL;
  return yield* truncateFile(k, t.ctx, open.file, size);
}

/**
 * truncate_setsize() → truncate_pagecache(): shrinking unmaps every page past the new
 * end from every mapping — private COW copies included (Linux unmap_mapping_range() with
 * even_cows) — drops them from the page cache, and zeroes the tail of the last page.
 *
 * unmap_mapping_range() holds i_mmap_rwsem across the whole walk, so no mapping of the
 * file comes or goes under it, and zap_pte_range() takes each page table's lock. mmsim
 * models neither sleeping lock: the walk runs in one step, once no other thread holds
 * the lock of a page table it will zap (a fault that has yielded holding it) — waiting
 * as spin_lock() would.
 */
export function* truncateFile(k: Kernel, ctx: KernelCtx, file: File, size: number): KernelPath<SysResult> {
  if (size > MAX_FILE_SIZE) return EFBIG;
  for (;;) {
    const held = heldPtLock(k, ctx, file, Math.ceil(size / PAGE_SIZE));
    if (held === null) break;
    yield ctx.blocked(held);
  }
  const oldPages = file.pages;
  file.size = size;
  const newPages = file.pages;
  const mem = k.hw.mem;
  if (newPages < oldPages) {
    for (const vma of file.mappings) {
      if (vma.flags & VM_NONLINEAR) {
        if (vma.mm) zapNonlinear(k, null, vma.mm, vma, vma.start, vma.end, newPages);
        continue;
      }
      const firstVa = vma.start + (newPages - vma.pgoff) * PAGE_SIZE;
      const start = Math.max(vma.start, firstVa);
      if (start >= vma.end) continue;
      const mm = vma.mm;
      if (!mm) continue;
      drain(zapVmaRange(k, k.kernelCtx, null, mm, start, vma.end, false));
    }
    file.dropPages(mem, newPages);
  }
  // The bytes past the new size in its last page read as zeros from now on.
  const tail = size % PAGE_SIZE;
  if (tail !== 0) {
    // Cached or written back, the last page's bytes past the end must read as zeros.
    const index = Math.floor(size / PAGE_SIZE);
    const pfn = file.cache.get(index);
    if (pfn !== undefined) for (let o = tail; o < PAGE_SIZE; o++) mem.write8(pfn, o, 0);
    const block = file.disk.get(index);
    if (block !== undefined) for (let o = tail; o < PAGE_SIZE; o++) mem.content.write8(block, o, 0);
  }
  return 0;
}


/** A page-table lock another thread holds over a page of `file` from `fromPage` on, or null. */
function heldPtLock(k: Kernel, ctx: KernelCtx, file: File, fromPage: number): SpinLock | null {
  for (const vma of file.mappings) {
    const mm = vma.mm;
    if (!mm) continue;
    // A nonlinear VMA may show any file page anywhere in it.
    const start = vma.flags & VM_NONLINEAR ? vma.start : Math.max(vma.start, vma.start + (fromPage - vma.pgoff) * PAGE_SIZE);
    if (start >= vma.end) continue;
    const held: SpinLock[] = [];
    mm.pmap.forEachPt(start, vma.end, (table) => {
      const l = k.ptLock(table);
      if (!l.free && l.owner !== ctx.tid) held.push(l);
    });
    if (held.length > 0) return held[0];
  }
  return null;
}

import { PAGE_SIZE, pageOffset } from '../hw/pte.js';
import { NO_FRAME } from '../hw/physMem.js';
import { drain } from '../step/step.js';
import { O_ACCMODE, O_CREAT, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY } from './abi.js';
import { EACCES, EBADF, EFBIG, EINVAL, ENOENT, ENOMEM, isErrno, type SysResult } from './errno.js';
import { pageCacheGet } from './fault.js';
import { File } from './file.js';
import { type Kernel } from './kernel.js';
import { type Process, type Thread } from './process.js';
import { copyUser } from './uaccess.js';
import { zapVmaRange } from './vmaOps.js';
import { zapNonlinear } from './remapFilePages.js';
import { VM_NONLINEAR } from './vma.js';

/** Largest file size mmsim accepts (Linux MAX_LFS_FILESIZE is far larger; this keeps page indexes in 32 bits). */
export const MAX_FILE_SIZE = 2 ** 31 * PAGE_SIZE;

/** Creates (or replaces) an in-memory file holding `contents`. */
export function createFile(k: Kernel, name: string, contents: Uint8Array | number): File {
  const size = typeof contents === 'number' ? contents : contents.length;
  // A file of that name is replaced as by unlink() and create: mappings and descriptors of
  // the old one keep it (and its page cache) until they go.
  k.unlinkFile(name);
  const file = new File(name, size);
  k.files.set(name, file);
  if (typeof contents !== 'number') writeFileBytes(k, file, 0, contents, null);
  return file;
}

/** open(2): the lowest free descriptor for `name`. */
export function sysOpen(k: Kernel, p: Process, name: string, flags: number): SysResult {
  const mode = flags & O_ACCMODE;
  if (mode === O_ACCMODE) return EINVAL;
  let file = k.files.get(name);
  if (!file) {
    if (!(flags & O_CREAT)) return ENOENT;
    file = new File(name, 0);
    k.files.set(name, file);
  }
  const canRead = mode === O_RDONLY || mode === O_RDWR;
  const canWrite = mode === O_WRONLY || mode === O_RDWR;
  if ((canRead && !file.readable) || (canWrite && !file.writable)) return EACCES;
  if (flags & O_TRUNC && canWrite) {
    const r = truncateFile(k, file, 0);
    if (isErrno(r)) return r;
  }
  const fd = p.nextFd();
  p.fds.set(fd, { file, canRead, canWrite });
  return fd;
}

/** close(2). */
export function sysClose(k: Kernel, p: Process, fd: number): SysResult {
  return p.fds.delete(fd) ? (k.releaseUnlinkedFiles(), 0) : EBADF;
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
    for (let j = 0; j < n; j++) mem.write8(pfn, off + j, bytes[i + j]);
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

/** pwrite(2) from a user buffer: copy_from_user, then into the page cache. */
export function sysPwrite(k: Kernel, t: Thread, fd: number, bufVa: number, len: number, offset: number): SysResult {
  const open = t.process.fds.get(fd);
  if (!open || !open.canWrite) return EBADF;
  if (offset < 0 || len < 0) return EINVAL;
  const bytes = new Uint8Array(len);
  const copied = copyUser(k, t, bufVa, bytes, false);
  if (isErrno(copied)) return copied;
  // generic_perform_write(): only what was copied in is written.
  return writeFileBytes(k, open.file, offset, bytes.subarray(0, copied), t.process);
}

/** pread(2) into a user buffer: from the page cache, then copy_to_user (which honours PKRU). */
export function sysPread(k: Kernel, t: Thread, fd: number, bufVa: number, len: number, offset: number): SysResult {
  const open = t.process.fds.get(fd);
  if (!open || !open.canRead) return EBADF;
  if (offset < 0 || len < 0) return EINVAL;
  const data = readFileBytes(k, open.file, offset, len, t.process);
  if (!(data instanceof Uint8Array)) return data;
  return copyUser(k, t, bufVa, data, true);
}

/** ftruncate(2). */
export function sysFtruncate(k: Kernel, t: Thread, fd: number, size: number): SysResult {
  const open = t.process.fds.get(fd);
  if (!open) return EBADF;
  if (!open.canWrite || size < 0) return EINVAL;
  return truncateFile(k, open.file, size);
}

/**
 * truncate_setsize() → truncate_pagecache(): shrinking unmaps every page past the new
 * end from every mapping — private COW copies included (Linux unmap_mapping_range() with
 * even_cows) — drops them from the page cache, and zeroes the tail of the last page.
 */
export function truncateFile(k: Kernel, file: File, size: number): SysResult {
  if (size > MAX_FILE_SIZE) return EFBIG;
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


/**
 * Syscall argument arithmetic in the kernel's 64-bit unsigned terms, exact where a double
 * is not. A JS number holds every integer up to 2^53 exactly; above that (a negative
 * `size_t` such as -1 is 2^64 - 1) it does not, so the page rounding that wraps to 0 in C
 * is computed from the signed value instead.
 * @packageDocumentation
 */
import { TASK_SIZE } from './mm.js';

const PAGE = 4096;
const TWO64 = 2 ** 64;

/**
 * PAGE_ALIGN() of a length as the C caller wrote it (`raw`, possibly negative): rounded up
 * to a page modulo 2^64. Lengths within a page of 2^64 (-1 … -4095) wrap to 0, as
 * `(len + ~PAGE_MASK) & PAGE_MASK` does; other negative values stay near 2^64, exactly.
 */
export function pageAlignLen(raw: number): number {
  if (raw < 0) {
    const pages = Math.floor(-raw / PAGE);
    return pages === 0 ? 0 : TWO64 - pages * PAGE;
  }
  // 2^64 - 1 reads as 2^64 in a double: both wrap.
  if (raw > TWO64 - PAGE) return 0;
  return Math.ceil(raw / PAGE) * PAGE;
}

/** True when a C value (possibly negative: the top of the unsigned range) is page aligned. */
export function pageAligned(raw: number): boolean {
  return raw % PAGE === 0;
}

/**
 * x86-64 access_ok(buf, count) (arch/x86/include/asm/uaccess_64.h, Linux 6.12 and later):
 * `sum = buf + count` must not wrap and must be at most USER_PTR_MAX, which is
 * TASK_SIZE_MAX without LAM. (Kernels 6.1–6.11 only checked the sign bit of the sum, so a
 * buffer that runs past the user half but below 2^63 reached the copy and faulted there.)
 * `buf` and `count` are the caller's values; negative ones are huge unsigned ones and fail.
 */
export function accessOk(buf: number, count: number): boolean {
  return buf >= 0 && count >= 0 && buf + count <= TASK_SIZE;
}

/**
 * MAX_RW_COUNT (include/linux/fs.h): INT_MAX & PAGE_MASK. vfs_read() and vfs_write() clamp
 * a larger count to it, so one call moves at most this many bytes.
 */
export const MAX_RW_COUNT = 0x7ffff000;

/**
 * MAX_LFS_FILESIZE on 64-bit Linux: LLONG_MAX. file_mmap_ok() refuses a mapping whose
 * end in the file would pass it (EOVERFLOW).
 */
export const MAX_LFS_FILESIZE = 2 ** 63 - 1;

/**
 * file_mmap_ok() (mm/mmap.c) for a regular file: `pgoff` pages in, `len` bytes long, the
 * mapping must end by MAX_LFS_FILESIZE: `pgoff <= (MAX_LFS_FILESIZE - len) >> PAGE_SHIFT`.
 */
export function fileMmapOk(pgoff: number, len: number): boolean {
  if (len > MAX_LFS_FILESIZE) return false;
  // (2^63 - 1 - len) >> 12: for page-aligned len that is 2^51 - len/4096 - 1.
  return pgoff <= 2 ** 51 - len / PAGE - 1;
}

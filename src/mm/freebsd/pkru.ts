import { AMD64_PKRU_EXCL, AMD64_PKRU_PERSIST, PkruRangeSet } from '../../pmap/pkruRangeSet.js';
import { type KernelPath } from '../../step/step.js';
import { u64 } from '../abi.js';
import { EBUSY, EFAULT, EINVAL, ENOSYS, type Errno, errno, type SysResult } from '../errno.js';
import { type Kernel } from '../kernel.js';
import { PKEY_COUNT, pkruAccessDisable, pkruWriteDisable } from '../pkeys.js';
import { type Thread } from '../process.js';

/** sysarch(2) operations (FreeBSD sys/x86/include/sysarch.h). */
export const AMD64_SET_PKRU = 133;
export const AMD64_CLEAR_PKRU = 134;

/** FreeBSD amd64 VM_MAXUSER_ADDRESS with 4-level paging (VM_MAXUSER_ADDRESS_LA48). */
export const FREEBSD_VM_MAXUSER_ADDRESS = 0x800000000000;

const PAGE = 4096;
const ENOTSUP = errno('ENOTSUP');
const EOPNOTSUPP = errno('EOPNOTSUPP');

/** [trunc_page(addr), round_page(addr + len)) as vm_offset_t arithmetic does it (mod 2^64). */
function pageSpan(addr: number, len: number): [number, number] {
  const start = u64(addr) - (u64(addr) % PAGE);
  let end = u64(addr) + u64(len);
  if (end >= 2 ** 64) end -= 2 ** 64;
  end = Math.ceil(end / PAGE) * PAGE;
  return [start, end];
}

/**
 * x86_pkru_protect_range(3) → sysarch(AMD64_SET_PKRU) → pmap_pkru_set() (FreeBSD
 * sys/amd64/amd64/pmap.c): gives [addr, addr + len), rounded out to pages, key `key`.
 * Checks in FreeBSD's order: a key above 15 or an unknown flag → EINVAL; an empty range
 * or one ending beyond user space → EFAULT; no PKU → ENOTSUP; AMD64_PKRU_EXCL over any
 * existing range → EBUSY. Then every valid PTE in the range is rewritten with the key,
 * and the TLBs are invalidated if anything changed.
 */
export function* sysPkruProtectRange(k: Kernel, t: Thread, addr: number, len: number, key: number, flags: number): KernelPath<SysResult> {
  const mm = t.process.mm;
  const set = PkruRangeSet.of(mm.pmap);
  if (!set) return ENOSYS;
  const [start, end] = pageSpan(addr, len);
  // keyidx is an unsigned int and flags an int in struct amd64_set_pkru.
  if (u32(key) >= PKEY_COUNT || (flags | 0) !== flags || flags & ~(AMD64_PKRU_EXCL | AMD64_PKRU_PERSIST)) return EINVAL;
  if (end <= start || end > FREEBSD_VM_MAXUSER_ADDRESS) return EFAULT;
  if (!k.hw.pku) return ENOTSUP;
  // sysarch() holds the map read-locked so a parallel fork copies a consistent set.
  yield* mm.mmapLock.read(t.ctx);
  try {
    if (set.assign(start, end, key, flags) === 'busy') return EBUSY;
    mm.pmap.rekey(k.switchTo(t), start, end, key);
    if (t.ctx.preemptible) yield t.ctx.at('pte-write', `pkru range 0x${start.toString(16)}-0x${end.toString(16)} key ${key}`, start);
    return 0;
  } finally {
    mm.mmapLock.readUnlock();
  }
}

/**
 * x86_pkru_unprotect_range(3) → sysarch(AMD64_CLEAR_PKRU) → pmap_pkru_clear(): removes
 * every key, PERSIST included, from [addr, addr + len) and puts key 0 back into the valid
 * PTEs there. An empty range or one beyond user space → EFAULT; no PKU → ENOTSUP.
 */
export function* sysPkruUnprotectRange(k: Kernel, t: Thread, addr: number, len: number): KernelPath<SysResult> {
  const mm = t.process.mm;
  const set = PkruRangeSet.of(mm.pmap);
  if (!set) return ENOSYS;
  const [start, end] = pageSpan(addr, len);
  if (end <= start || end > FREEBSD_VM_MAXUSER_ADDRESS) return EFAULT;
  if (!k.hw.pku) return ENOTSUP;
  yield* mm.mmapLock.read(t.ctx);
  try {
    set.remove(start, end, null);
    mm.pmap.rekey(k.switchTo(t), start, end, 0);
    if (t.ctx.preemptible) yield t.ctx.at('pte-write', `pkru clear 0x${start.toString(16)}-0x${end.toString(16)}`, start);
    return 0;
  } finally {
    mm.mmapLock.readUnlock();
  }
}

/** What x86_pkru_get_perm(3) reports for a key. */
export interface PkruPerm {
  /** Reads (and writes) are allowed: AD clear. */
  readonly access: boolean;
  /** Writes are allowed: WD clear. */
  readonly modify: boolean;
}

/**
 * x86_pkru_get_perm(3) (FreeBSD lib/libc/x86/sys/pkru.c): RDPKRU and the key's two
 * bits. EINVAL for a key above 15; EOPNOTSUPP without PKU. A libc function: no syscall.
 */
export function pkruGetPerm(k: Kernel, t: Thread, key: number): PkruPerm | Errno {
  if (!k.hw.pku) return EOPNOTSUPP;
  if (u32(key) >= PKEY_COUNT) return EINVAL;
  const pkru = k.switchTo(t).pkru;
  return { access: (pkru & pkruAccessDisable(key)) === 0, modify: (pkru & pkruWriteDisable(key)) === 0 };
}

/**
 * x86_pkru_set_perm(3): sets the key's AD bit unless `access` and its WD bit unless
 * `modify`, by WRPKRU — no TLB flush. EINVAL for a key above 15; EOPNOTSUPP without PKU.
 */
export function pkruSetPerm(k: Kernel, t: Thread, key: number, access: boolean, modify: boolean): SysResult {
  if (!k.hw.pku) return EOPNOTSUPP;
  if (u32(key) >= PKEY_COUNT) return EINVAL;
  const cpu = k.switchTo(t);
  const bits = pkruAccessDisable(key) | pkruWriteDisable(key);
  const value = ((cpu.pkru & ~bits) | (access ? 0 : pkruAccessDisable(key)) | (modify ? 0 : pkruWriteDisable(key))) >>> 0;
  cpu.writePkru(value);
  t.pkru = value;
  return 0;
}

/** An integer argument as C's unsigned int sees it. */
function u32(v: number): number {
  return Number.isInteger(v) ? v >>> 0 : Infinity;
}

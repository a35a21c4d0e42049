import { type KernelPath } from '../step/step.js';
import { EINVAL, ENOSPC, ENOSYS, type SysResult } from './errno.js';
import { sysMprotect } from './mprotect.js';
import { type Kernel } from './kernel.js';
import { lowestFreePkey, maxPkey, PKEY_DISABLE_ACCESS, PKEY_DISABLE_WRITE, pkeyIsAllocated, setPkeyRights } from './pkeys.js';
import { type Thread } from './process.js';

// Linux's pkey system calls; FreeBSD has none (its keys come from sysarch(2), see freebsd/pkru.ts).

/**
 * pkey_alloc(2) (Linux mm/mprotect.c): the lowest free key, with `rights` written into the
 * calling thread's PKRU for it. ENOSPC when none is free — always without PKU, where only
 * key 0 exists.
 */
export function* sysPkeyAlloc(k: Kernel, t: Thread, flags: number, rights: number): KernelPath<SysResult> {
  if (k.freebsd) return ENOSYS;
  if (flags !== 0) return EINVAL;
  if (rights & ~(PKEY_DISABLE_ACCESS | PKEY_DISABLE_WRITE)) return EINVAL;
  const mm = t.process.mm;
  yield* mm.mmapLock.write(t.ctx);
  try {
    const key = maxPkey(k) === 1 ? -1 : lowestFreePkeyIncludingZero(mm.pkeyAllocationMap);
    if (key < 0) return ENOSPC;
    mm.pkeyAllocationMap |= 1 << key;
    setPkeyRights(k, t, key, rights);
    return key;
  } finally {
    mm.mmapLock.writeUnlock(t.ctx.tid);
  }
}

/** Linux mm_pkey_alloc() takes the first zero bit: key 0 again if a program freed it. */
function lowestFreePkeyIncludingZero(map: number): number {
  return (map & 1) === 0 ? 0 : lowestFreePkey(map);
}

/**
 * pkey_free(2): EINVAL unless `pkey` is allocated (the execute-only key never is, to the
 * user interfaces). Freeing a key still attached to memory is allowed: the VMAs keep it.
 */
export function* sysPkeyFree(k: Kernel, t: Thread, pkey: number): KernelPath<SysResult> {
  if (k.freebsd) return ENOSYS;
  const mm = t.process.mm;
  yield* mm.mmapLock.write(t.ctx);
  try {
    if (!pkeyIsAllocated(k, t, pkey)) return EINVAL;
    mm.pkeyAllocationMap &= ~(1 << pkey);
    return 0;
  } finally {
    mm.mmapLock.writeUnlock(t.ctx.tid);
  }
}

/** pkey_mprotect(2): mprotect(2) that also sets the VMAs' key; -1 keeps each VMA's key. */
export function* sysPkeyMprotect(k: Kernel, t: Thread, start: number, len: number, prot: number, pkey: number): KernelPath<SysResult> {
  if (k.freebsd) return ENOSYS;
  return yield* sysMprotect(k, t, start, len, prot, pkey);
}

import { PROT_EXEC } from './abi.js';
import { type Kernel } from './kernel.js';
import { type Mm } from './mm.js';
import { type Thread } from './process.js';
import { type Vma } from './vma.js';

/** Protection keys per address space (x86: 4 PTE bits). */
export const PKEY_COUNT = 16;
/** PKRU access-disable for `key`. */
export const pkruAccessDisable = (key: number): number => 1 << (2 * key);
/** PKRU write-disable for `key`. */
export const pkruWriteDisable = (key: number): number => 1 << (2 * key + 1);

/** The lowest key not allocated in `map`, or -1 (Linux mm_pkey_alloc()). */
export function lowestFreePkey(map: number): number {
  for (let k = 1; k < PKEY_COUNT; k++) if (!(map & (1 << k))) return k;
  return -1;
}

/**
 * Linux __execute_only_pkey() (arch/x86/mm/pkeys.c): the address space's execute-only
 * key, allocated on first use, with access disabled in the calling thread's PKRU so
 * data reads of execute-only memory fault while instruction fetches (which keys never
 * check) go on. -1 without PKU or when no key is free.
 */
export function executeOnlyPkey(k: Kernel, t: Thread): number {
  // FreeBSD has no execute-only keys: its keys come from the pmap's range set alone.
  if (!k.hw.pku || !k.keysOnVma) return -1;
  const mm = t.process.mm;
  let key = mm.executeOnlyPkey;
  const cpu = k.switchTo(t);
  if (key < 0) {
    key = lowestFreePkey(mm.pkeyAllocationMap);
    if (key < 0) return -1;
    mm.pkeyAllocationMap |= 1 << key;
    mm.executeOnlyPkey = key;
  } else if (cpu.pkru & pkruAccessDisable(key)) {
    // Already unreadable for this thread: Linux leaves PKRU alone (and any WD with it).
    return key;
  }
  const want = ((cpu.pkru & ~(pkruAccessDisable(key) | pkruWriteDisable(key))) | pkruAccessDisable(key)) >>> 0;
  if (cpu.pkru !== want) cpu.writePkru(want);
  t.pkru = want;
  return key;
}

/**
 * Linux arch_override_mprotect_pkey(): the key a VMA gets from mprotect(prot) or
 * pkey_mprotect(prot, pkey). An explicit key wins; exactly PROT_EXEC takes the
 * execute-only key; leaving execute-only returns the VMA to key 0; otherwise it keeps its key.
 */
export function mprotectPkey(k: Kernel, t: Thread, vma: Vma, prot: number, pkey: number): number {
  if (pkey !== -1) return pkey;
  if (prot === PROT_EXEC) {
    const key = executeOnlyPkey(k, t);
    if (key > 0) return key;
  }
  const mm = t.process.mm;
  if (mm.executeOnlyPkey >= 0 && vma.pkey === mm.executeOnlyPkey) return 0;
  return vma.pkey;
}

/** The key of the page at `va` of `vma`: the VMA's (Linux), or the pmap range set's (FreeBSD). */
export function pkeyAt(mm: Mm, vma: Vma, va: number): number {
  const ranges = mm.pmap.extension;
  return ranges ? ranges.keyAt(va) : vma.pkey;
}

/** pkey_alloc() rights: PKEY_DISABLE_ACCESS and PKEY_DISABLE_WRITE. */
export const PKEY_DISABLE_ACCESS = 0x1;
export const PKEY_DISABLE_WRITE = 0x2;
const PKEY_ACCESS_MASK = PKEY_DISABLE_ACCESS | PKEY_DISABLE_WRITE;

/** Keys this CPU can offer (Linux arch_max_pkey()): 16 with PKU, only key 0 without. */
export function maxPkey(k: Kernel): number {
  return k.hw.pku ? PKEY_COUNT : 1;
}

/**
 * Linux mm_pkey_is_allocated(): allocated by pkey_alloc() (or key 0, implicitly) — the
 * execute-only key is in the map but belongs to no user interface.
 */
export function pkeyIsAllocated(k: Kernel, t: Thread, pkey: number): boolean {
  const mm = t.process.mm;
  if (!Number.isInteger(pkey) || pkey < 0 || pkey >= maxPkey(k)) return false;
  if (pkey === mm.executeOnlyPkey) return false;
  return (mm.pkeyAllocationMap & (1 << pkey)) !== 0;
}

/** Writes `rights` (PKEY_DISABLE_*) for `key` into the calling thread's PKRU (arch_set_user_pkey_access()). */
export function setPkeyRights(k: Kernel, t: Thread, key: number, rights: number): void {
  const cpu = k.switchTo(t);
  const shift = 2 * key;
  const value = ((cpu.pkru & ~(PKEY_ACCESS_MASK << shift)) | ((rights & PKEY_ACCESS_MASK) << shift)) >>> 0;
  cpu.writePkru(value);
  t.pkru = value;
}

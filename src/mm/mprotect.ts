import { PTE_RW, ptePfn } from '../hw/pte.js';
import { readOnlyProt } from '../pmap/pmap.js';
import { type KernelPath } from '../step/step.js';
import { PROT_EXEC, PROT_GROWSDOWN, PROT_GROWSUP, PROT_READ, PROT_SEM, PROT_WRITE, u64 } from './abi.js';
import { EACCES, EINVAL, ENOMEM, type Errno, isErrno, type SysResult } from './errno.js';
import { type Kernel } from './kernel.js';
import { type Mm } from './mm.js';
import { mprotectPkey, pkeyIsAllocated } from './pkeys.js';
import { type Thread } from './process.js';
import { VM_MANYPROTS, VM_NONLINEAR, type Vma } from './vma.js';
import { reprotectFileEntries } from './remapFilePages.js';
import { isolateVmaRange, mergeAround } from './vmaOps.js';

const PAGE = 4096;

/**
 * mprotect(2) and pkey_mprotect(2) (Linux do_mprotect_pkey()). `pkey` -1 keeps each
 * VMA's key. Linux walks the VMAs in order and stops at the first hole with ENOMEM,
 * leaving the VMAs before it already changed — and so does this.
 */
export function* sysMprotect(k: Kernel, t: Thread, start: number, len: number, prot: number, pkey = -1): KernelPath<SysResult> {
  start = u64(start);
  len = u64(len);
  const grows = prot & (PROT_GROWSDOWN | PROT_GROWSUP);
  prot &= ~(PROT_GROWSDOWN | PROT_GROWSUP);
  if (grows === (PROT_GROWSDOWN | PROT_GROWSUP)) return EINVAL;
  if (start % PAGE !== 0) return EINVAL;
  if (len === 0) return 0;
  len = Math.ceil(len / PAGE) * PAGE;
  const end = start + len;
  if (end <= start || end > 2 ** 64) return ENOMEM;
  if (prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC | PROT_SEM)) return EINVAL;
  prot &= PROT_READ | PROT_WRITE | PROT_EXEC;
  const mm = t.process.mm;
  const ctx = t.ctx;
  yield* mm.mmapLock.write(ctx);
  try {
    if (pkey !== -1 && !pkeyIsAllocated(k, t, pkey)) return EINVAL;
    let vma = mm.findVma(start);
    let at = start;
    while (at < end) {
      // A hole: Linux returns ENOMEM with the VMAs before it already changed.
      if (!vma || vma.start > at) return ENOMEM;
      // Every posted VM_MANYPROTS version refused mprotect on such a VMA ("no agreement
      // on which behavior"); Hugh Dickins' alternative resets the per-page protections.
      if (vma.flags & VM_MANYPROTS && !k.variant('manyprots-mprotect-resets')) return EACCES;
      const newPkey: number = mprotectPkey(k, t, vma, prot, pkey);
      // A right without its VM_MAY* bit is EACCES.
      if (prot & ~vma.mayProt) return EACCES;
      const stop = Math.min(end, vma.end);
      let covering: Vma = vma;
      if (vma.prot !== prot || vma.pkey !== newPkey || vma.flags & VM_MANYPROTS) {
        const oldProt = vma.prot;
        const nonlinear = (vma.flags & VM_NONLINEAR) !== 0;
        const changed = mprotectFixup(k, mm, vma, at, stop, prot, newPkey);
        if (isErrno(changed)) return changed;
        covering = changed;
        // Other threads may see the new VMA before its entries change.
        if (ctx.preemptible) yield ctx.at('vma', `mprotect 0x${at.toString(16)}-0x${stop.toString(16)}`, at);
        changeEntries(k, t, covering, at, stop, oldProt, nonlinear);
        if (ctx.preemptible) yield ctx.at('pte-write', `change_protection 0x${at.toString(16)}-0x${stop.toString(16)}`, at);
      }
      // Like Linux's iterator, continue after the (possibly merged) VMA.
      at = covering.end;
      vma = covering.nextSpan;
    }
    return 0;
  } finally {
    mm.mmapLock.writeUnlock(ctx.tid);
  }
}

/**
 * mprotect_fixup(), the VMA half: gives [start, end) of `vma` the new protection and key,
 * splitting and merging as Linux does. Returns the VMA now covering the range, or ENOMEM
 * at the map count limit. A plain function, not a kernel path: its caller yields between
 * this and {@link changeEntries}, so no generator is made per VMA.
 */
function mprotectFixup(k: Kernel, mm: Mm, vma: Vma, start: number, end: number, prot: number, pkey: number): Vma | Errno {
  const target = isolateVmaRange(k, mm, vma, start, end);
  if (isErrno(target)) return target;
  target.prot = prot;
  target.pkey = pkey;
  if (target.flags & VM_MANYPROTS) target.flags &= ~VM_MANYPROTS;
  return mergeAround(mm, target);
}

/**
 * mprotect_fixup(), the entries half: change_protection() for the VMA's new protection
 * (FreeBSD: pmap_protect(), or pmap_remove() for none). Entries not present in a
 * nonlinear VMA keep a protection too (the VMA's when reclaimed, or a page's own under
 * VM_MANYPROTS): they take the new one.
 */
function changeEntries(k: Kernel, t: Thread, vma: Vma, start: number, end: number, oldProt: number, nonlinear: boolean): void {
  if (k.freebsd) freebsdPmapProtect(k, t, vma, start, end, oldProt);
  else changeProtection(k, t, vma, start, end);
  if (nonlinear) reprotectFileEntries(t.process.mm.pmap, start, end, vma.prot);
}

/**
 * change_protection(): rewrites the entries of [start, end) for the VMA's protection and
 * key. Private pages stay read-only unless the page is exclusively ours, so COW still
 * happens (Linux can_change_pte_writable()).
 */
export function changeProtection(k: Kernel, t: Thread, vma: Vma, start: number, end: number, presentOnly = false): void {
  const keepCow = !vma.shared && (vma.prot & PROT_WRITE) !== 0;
  t.process.mm.pmap.protect(
    t.cpu,
    start,
    end,
    (_va, lo, hi) => (!keepCow || lo & PTE_RW || k.canReuse(ptePfn(lo, hi)) ? vma.prot : readOnlyProt(vma.prot)),
    vma.pkey,
    presentOnly,
  );
}

/**
 * FreeBSD vm_map_protect() → pmap_protect(): the pmap is touched only when rights are
 * taken away (added rights arrive by fault), with the entry's protection masked by
 * MASK(entry) — a copy-on-write (private) entry never has VM_PROT_WRITE in its PTEs — and
 * amd64 pmap_protect() of VM_PROT_NONE is pmap_remove(). That is why mprotect(PROT_NONE)
 * met the PKRU swap-out bug (seed 000).
 */
function freebsdPmapProtect(k: Kernel, t: Thread, vma: Vma, start: number, end: number, oldProt: number): void {
  if ((oldProt & ~vma.prot) === 0) return;
  const masked = vma.shared ? vma.prot : vma.prot & ~PROT_WRITE;
  if (masked === 0) t.process.mm.pmap.evict(t.cpu, start, end);
  // FreeBSD's pmap holds only what is mapped: pages pmap_remove() took stay out.
  else changeProtection(k, t, vma, start, end, true);
}

import { type Cpu } from '../hw/cpu.js';
import { pteIsSwap, swapPteOffset } from '../hw/pte.js';
import { type KernelPath } from '../step/step.js';
import { ENOMEM, errno, type SysResult } from './errno.js';
import { type Kernel } from './kernel.js';
import { Mm } from './mm.js';
import { type Process, type Thread } from './process.js';
import { Vma, VM_DONTCOPY, VM_NONLINEAR, VM_WIPEONFORK } from './vma.js';
import { insertVma } from './vmaOps.js';

/** A killable lock wait ended by a fatal signal (mmap_write_lock_killable(), mmap_read_lock_killable()). */
const EINTR = errno('EINTR');

/**
 * fork(2) (Linux copy_process() → dup_mmap()): a child with a copy of every VMA; page
 * tables are copied only for VMAs with anonymous pages (the rest refault from the page
 * cache, as Linux's vma_needs_copy() decides); private writable pages become read-only
 * in both so the first write copies. The child's single thread inherits the caller's
 * PKRU and runs on `childCpu`. Returns the child's pid.
 */
export function* sysFork(k: Kernel, t: Thread, childCpu: Cpu = t.cpu): KernelPath<SysResult> {
  const parent = t.process;
  const mm = parent.mm;
  const ctx = t.ctx;
  k.syncPkru(t);
  yield* mm.mmapLock.write(ctx);
  try {
    // dup_mmap(): mmap_write_lock_killable() — a thread killed while it waited (a
    // sibling's exit) gets EINTR and forks nothing.
    if (!t.alive) return EINTR;
    const pmap = k.newPmap(parent);
    if (!pmap) return ENOMEM;
    const childMm = k.newMm(pmap);
    childMm.pkeyAllocationMap = mm.pkeyAllocationMap;
    childMm.executeOnlyPkey = mm.executeOnlyPkey;
    // FreeBSD pmap_vmspace_copy(): the child gets the parent's PKRU range set.
    mm.pmap.extension?.copyTo(pmap);
    const anonMap = new Map<number, number>();
    let wrprotected = false;
    for (let v = mm.vmas.first(); v; v = v.nextSpan) {
      // dup_mmap(): MADV_DONTFORK memory is not in the child at all.
      if (v.flags & VM_DONTCOPY) continue;
      const c = Vma.make(childMm, v.start, v.end, v.prot, v.flags, v.file, v.pgoff);
      c.pkey = v.pkey;
      // dup_mmap(): MADV_WIPEONFORK memory starts empty in the child (no anon_vma, no page
      // tables copied) and keeps the flag.
      if (v.flags & VM_WIPEONFORK) {
        insertVma(childMm, c);
        continue;
      }
      if (v.anonVma) {
        // anon_vma_fork(): the child's pages get an anon_vma of their own.
        let id = anonMap.get(v.anonVma);
        if (id === undefined) anonMap.set(v.anonVma, (id = Mm.nextAnonVma++));
        c.anonVma = id;
      }
      insertVma(childMm, c);
      // Nonlinear entries say which file page sits where: only the page tables know it.
      if (!v.anonVma && !(v.flags & VM_NONLINEAR)) continue;
      const ok = copyPageRange(k, mm, childMm, v);
      if (ok < 0) {
        // dup_mmap()'s error path still ends with flush_tlb_mm(oldmm): the VMAs copied so
        // far were write-protected in the parent, and its TLBs may hold writable entries.
        if (wrprotected) mm.pmap.flushAll(t.cpu);
        k.mmput(childMm);
        return ENOMEM;
      }
      if (ok > 0) wrprotected = true;
      if (ctx.preemptible) yield ctx.at('pte-write', `copy ptes 0x${v.start.toString(16)}-0x${v.end.toString(16)}`, v.start);
    }
    // dup_mmap() ends with flush_tlb_mm(): the parent's writable translations are gone.
    if (wrprotected) mm.pmap.flushAll(t.cpu);
    const child = k.createProcessWithMm(parent.name, childMm, parent, childCpu, t.pkru);
    // Linux copy_signal() copies oom_score_adj to the child; FreeBSD's fork1() passes
    // P_PROTECTED on only with PPROT_INHERIT, which mmsim does not model.
    if (!k.freebsd) child.oomScoreAdj = parent.oomScoreAdj;
    // A fork inside a signal handler: the child returns through the same signal frames.
    // (A loop, not push(...frames): a deep handler nesting would overflow the call stack.)
    const frames = child.threads[0].signalFrames;
    for (const f of t.signalFrames) frames.push(f);
    for (const [fd, open] of parent.fds) child.fds.set(fd, open);
    return child.pid;
  } finally {
    mm.mmapLock.writeUnlock(ctx.tid);
  }
}

/** copy_pte_range() for one VMA: the pmap copies and counts frames; the kernel counts swap slots. */
function copyPageRange(k: Kernel, src: Mm, dst: Mm, vma: Vma): number {
  return src.pmap.copyRange(dst.pmap, vma.start, vma.end, vma.isCow, vma.shared, k.zeroPfn, (lo, hi) => {
    if (pteIsSwap(lo)) k.swap.refs[swapPteOffset(lo, hi)]++;
  });
}

/**
 * execve(2) as far as memory goes: a fresh, empty address space; the old one is dropped;
 * PKRU and the key allocation start over; the other threads of the process are gone.
 * Linux exec_mmap() takes the old mm's mmap_lock for reading (killable: EINTR for a
 * thread killed while it waited), so a sibling's munmap or fault finishes first.
 */
export function* sysExec(k: Kernel, t: Thread): KernelPath<SysResult> {
  const p = t.process;
  const old = p.mm;
  yield* old.mmapLock.read(t.ctx);
  let locked = true;
  try {
    if (!t.alive) return EINTR;
    const pmap = k.newPmap(p);
    if (!pmap) return ENOMEM;
    for (const other of p.threads) {
      if (other !== t) other.alive = false;
    }
    p.mm = k.newMm(pmap);
    old.mmapLock.readUnlock();
    locked = false;
    k.mmput(old);
  } finally {
    if (locked) old.mmapLock.readUnlock();
  }
  t.pkru = k.initPkru;
  // The new image runs no handler: the old signal frames are gone with the old stack.
  t.signalFrames.length = 0;
  k.forgetCpu(t);
  return 0;
}

/** exit(2) of the whole process: every thread ends and the address space goes. */
export function sysExit(k: Kernel, p: Process, code: number): void {
  if (!p.alive) return;
  p.exit = { kind: 'exited', code };
  for (const t of p.threads) t.alive = false;
  p.fds.clear();
  k.dropMm(p);
  k.releaseUnlinkedFiles();
}

import { PF_I, PF_P, PF_PK, PF_W } from '../hw/mmu.js';
import { FRAME_ANON, FRAME_FILE, FRAME_SWAPCACHE, NO_FRAME } from '../hw/physMem.js';
import { filePteOffset, filePteProt, pageOffset, pteProt, PTE_D, PTE_P, PTE_PROTNONE, PTE_RW, pteIsFile, pteIsSwap, pteMapsFrame, ptePfn, pteNone, swapPteOffset } from '../hw/pte.js';
import { readOnlyProt } from '../pmap/pmap.js';
import { type KernelPath } from '../step/step.js';
import { PROT_EXEC, PROT_READ, PROT_WRITE } from './abi.js';
import { type File } from './file.js';
import { type Kernel } from './kernel.js';
import { Mm } from './mm.js';
import { type Thread } from './process.js';
import { type SignalInfo } from './signal.js';
import { pkeyAt } from './pkeys.js';
import { VM_MANYPROTS, type Vma } from './vma.js';

/** A fault the kernel could not resolve becomes this signal; null means "retry the access". */
export type FaultOutcome = SignalInfo | null;

function signal(t: Thread, s: SignalInfo['signal'], code: SignalInfo['code'], addr: number, ec: number, pkey = -1): SignalInfo {
  const info: SignalInfo = { signal: s, code, addr, pkey, errorCode: ec, tid: t.tid };
  t.signals.push(info);
  return info;
}

/**
 * si_code of an access past the end of a file: Linux's filemap fault says BUS_ADRERR;
 * FreeBSD's vm_fault_trap() turns KERN_OUT_OF_BOUNDS into BUS_OBJERR.
 */
function busCode(k: Kernel): SignalInfo['code'] {
  return k.freebsd ? 'BUS_OBJERR' : 'BUS_ADRERR';
}

/**
 * Takes back the signal a fault recorded when the access was the kernel's own (populate,
 * copy_to_user), which reports the failure another way. A SIGKILL — the OOM killer chose
 * this process — is not the fault's to take back: it stays.
 */
export function retractFaultSignal(t: Thread, out: FaultOutcome): void {
  if (out !== null && out.signal !== 'SIGKILL' && t.signals[t.signals.length - 1] === out) t.signals.pop();
}

/** PKRU allows this data access to a page of key `pkey` (Linux arch_vma_access_permitted()). */
export function pkruPermits(pkru: number, pkey: number, write: boolean): boolean {
  const bits = (pkru >>> (pkey * 2)) & 3;
  return (bits & 1) === 0 && !(write && bits & 2);
}

/**
 * Linux arch/x86/mm/fault.c access_error(): whether the VMA forbids this access, which
 * turns the fault into SIGSEGV rather than a page to map.
 */
function accessError(ec: number, vma: Vma, pkru: number, pke: boolean): boolean {
  if (ec & PF_PK) return true;
  if (pke && !(ec & PF_I) && !pkruPermits(pkru, vma.pkey, (ec & PF_W) !== 0)) return true;
  // VM_MANYPROTS: the VMA's protection is only the default (a PROT_NONE window may hold
  // writable pages), so the entry decides, in handle_mm_fault() (the series' patch 08).
  if (vma.flags & VM_MANYPROTS) return false;
  if (ec & PF_W) return (vma.prot & PROT_WRITE) === 0;
  // A read or fetch that faulted on a present page is a protection violation.
  if (ec & PF_P) return true;
  return (vma.prot & (PROT_READ | PROT_WRITE | PROT_EXEC)) === 0;
}

/**
 * The page-fault handler (Linux do_user_addr_fault() → handle_mm_fault()): takes
 * mmap_lock for reading, finds the VMA, checks the access, and resolves the fault under
 * the page-table lock. Returns null when the access should be retried.
 */
export function* handleUserFault(k: Kernel, t: Thread, va: number, ec: number): KernelPath<FaultOutcome> {
  const ctx = t.ctx;
  const mm = t.process.mm;
  if (ctx.preemptible) yield ctx.at('fault', `page fault at 0x${va.toString(16)}`, va);
  if (!mm.mmapLock.tryRead()) yield* mm.mmapLock.read(ctx);
  else if (ctx.preemptible) yield ctx.at('lock', `${mm.mmapLock.name} (read)`);
  try {
    const vma = mm.vmaAt(va);
    if (!vma) return signal(t, 'SIGSEGV', 'SEGV_MAPERR', va, ec);
    // Linux checks PKRU against the VMA's key before it maps anything; FreeBSD's vm_fault()
    // knows no keys, so a page whose range key PKRU denies is mapped and the retried access
    // takes the PK fault (trap_pfault(): PGEX_PK → SIGSEGV SEGV_PKUERR).
    const softwareKeys = t.cpu.pke && k.keysOnVma;
    if (accessError(ec, vma, t.cpu.pkru, softwareKeys)) {
      const byKey = (ec & PF_PK) !== 0 || (softwareKeys && !(ec & PF_I) && !pkruPermits(t.cpu.pkru, vma.pkey, (ec & PF_W) !== 0));
      if (!byKey) return signal(t, 'SIGSEGV', 'SEGV_ACCERR', va, ec);
      // Linux bad_area_access_error() reports the VMA's key in si_pkey. FreeBSD's siginfo
      // has no si_pkey; mmsim reports the range set's key there all the same.
      return signal(t, 'SIGSEGV', 'SEGV_PKUERR', va, ec, pkeyAt(mm, vma, va));
    }
    return yield* handleMmFault(k, t, vma, va, (ec & PF_W) !== 0, ec);
  } finally {
    mm.mmapLock.readUnlock();
  }
}


/**
 * handle_mm_fault() for one page: demand-zero, file, swap-in, write-protect (COW) or a
 * spurious fault. Runs under mmap_lock (read) and takes the page-table lock.
 */
export function* handleMmFault(k: Kernel, t: Thread, vma: Vma, addr: number, write: boolean, ec: number): KernelPath<FaultOutcome> {
  const ctx = t.ctx;
  const page = addr - pageOffset(addr);
  const mm = t.process.mm;
  const pmap = mm.pmap;
  const slot = pmap.ensurePteSlot(page);
  if (slot < 0) return oom(k, t, page, ec);
  // Linux allocates before it takes the page-table lock (do_anonymous_page(),
  // filemap_fault(), wp_page_copy(), swapin): reclaim may need that very lock. Peek at the
  // entry, get what the fault will probably need, then lock and look again.
  // A file entry (a reclaimed nonlinear page) names its file page; otherwise it is the linear one.
  const seenLo = pmap.lo(slot);
  const seenHi = pmap.hi(slot);
  const fileIndex = !vma.file ? -1 : pteIsFile(seenLo) ? filePteOffset(seenLo, seenHi) : vma.pgoffAt(page);
  const notPresent = pteNone(seenLo, seenHi) || pteIsFile(seenLo);
  // A per-page protection that denies the access: nothing to read in (checked again under the lock).
  if (notPresent && !permitted(vma, seenLo, write, ec)) return signal(t, 'SIGSEGV', 'SEGV_ACCERR', addr, ec);
  if (vma.file && fileIndex >= vma.file.pages && notPresent) return signal(t, 'SIGBUS', busCode(k), addr, ec);
  const prepared = prepareFrames(k, t, vma, slot, fileIndex, write);
  if (prepared !== null) {
    releasePrepared(k, t);
    return oom(k, t, page, ec);
  }
  const ptl = k.ptLock((slot / 512) | 0);
  if (ptl.owner !== -1) yield* ptl.lock(ctx);
  else {
    ptl.owner = ctx.tid;
    if (ctx.preemptible) yield ctx.at('lock', ptl.name, page);
  }
  try {
    const lo = pmap.lo(slot);
    const hi = pmap.hi(slot);
    // The step after the entry is written is where other CPUs' walkers can see it.
    if (pteNone(lo, hi) || pteIsFile(lo)) {
      // Per-page protections: a page never remapped has the VMA's, a file entry its own.
      if (!permitted(vma, lo, write, ec)) return signal(t, 'SIGSEGV', 'SEGV_ACCERR', addr, ec);
      if (pteIsFile(lo)) {
        const out = nonlinearFault(k, t, vma, page, slot, lo, hi, ec);
        if (ctx.preemptible) yield ctx.at('pte-write', `pte 0x${page.toString(16)}`, page);
        return out;
      }
      if (vma.file && fileIndex >= vma.file.pages) return signal(t, 'SIGBUS', busCode(k), addr, ec);
      const out = vma.file ? fileFault(k, t, vma, page, slot, write, ec) : anonFault(k, t, vma, page, slot, write, ec);
      if (ctx.preemptible) yield ctx.at('pte-write', `pte 0x${page.toString(16)}`, page);
      return out;
    }
    if (pteIsSwap(lo)) {
      const out = swapInFault(k, t, vma, page, slot, lo, hi, write, ec);
      if (ctx.preemptible) yield ctx.at('pte-write', `pte 0x${page.toString(16)}`, page);
      if (out !== SWAPPED_IN_READ_ONLY) return out;
      return yield* wpFault(k, t, vma, page, slot, pmap.lo(slot), pmap.hi(slot), ec);
    }
    if (!pteMapsFrame(lo)) throw new Error(`mmsim bug: unknown PTE 0x${hi.toString(16)}_${lo.toString(16)} at 0x${page.toString(16)}`);
    if (vma.flags & VM_MANYPROTS) {
      // The posted series: "VM_NONUNIFORM vma's have PTE's always installed with the
      // correct protection. So, generate a SIGSEGV if a fault is caught there." A thread
      // that faulted on an entry another thread has just installed dies with it.
      if (k.variant('manyprots-fault-race-bug')) return signal(t, 'SIGSEGV', 'SEGV_ACCERR', addr, ec);
      // The fix Hugh Dickins asked for: compare the access with the entry's protection;
      // if it allows it, the fault was fixed under us — retry.
      if (!protPermits(pteProt(lo, hi), write, ec)) return signal(t, 'SIGSEGV', 'SEGV_ACCERR', addr, ec);
      mm.counters.spuriousFaults++;
      return null;
    }
    if ((lo & PTE_P) === 0 && lo & PTE_PROTNONE) {
      // The VMA allows access now but the PTE still says PROT_NONE: re-derive it.
      const pfn = ptePfn(lo, hi);
      const prot = write && vma.prot & PROT_WRITE && (vma.shared || k.canReuse(pfn)) ? vma.prot : readOnlyProt(vma.prot);
      pmap.enter(slot, page, pfn, prot, vma.pkey, (lo & PTE_D) !== 0);
      if (ctx.preemptible) yield ctx.at('pte-write', `pte 0x${page.toString(16)}`, page);
      mm.counters.minorFaults++;
      return null;
    }
    if (write && (lo & PTE_RW) === 0) return yield* wpFault(k, t, vma, page, slot, lo, hi, ec);
    // Already fixed: a stale TLB entry (the fault dropped it) or another thread won the race.
    mm.counters.spuriousFaults++;
    return null;
  } finally {
    ptl.unlock(ctx);
    releasePrepared(k, t);
  }
}

/**
 * Gets, before the page-table lock, the frames this fault will probably need: a new
 * anonymous frame (first write, COW copy, swap-in) and the file's page-cache page, which
 * is pinned until the fault ends. Returns null, or 'oom' when memory could not be found.
 */
function prepareFrames(k: Kernel, t: Thread, vma: Vma, slot: number, fileIndex: number, write: boolean): null | 'oom' {
  const pmap = t.process.mm.pmap;
  const lo = pmap.lo(slot);
  const hi = pmap.hi(slot);
  const mem = k.hw.mem;
  let needAnon = false;
  if (pteNone(lo, hi) || pteIsFile(lo)) {
    if (vma.file) {
      const cached = pageCacheGet(k, vma.file, fileIndex, t.process);
      if (cached === NO_FRAME) return 'oom';
      mem.refcount[cached]++;
      t.pinnedPage = cached;
      needAnon = write && !vma.shared;
    } else {
      needAnon = write;
    }
  } else if (pteIsSwap(lo)) {
    needAnon = k.swap.cache[swapPteOffset(lo, hi)] < 0;
  } else if (write && lo & PTE_P && !(lo & PTE_RW) && !vma.shared) {
    needAnon = !k.canReuse(ptePfn(lo, hi));
  }
  if (needAnon) {
    const pfn = k.allocFrame(FRAME_ANON, t.process);
    if (pfn === NO_FRAME) return 'oom';
    t.spareFrame = pfn;
  }
  return null;
}

/** An anonymous frame for this fault: the one prepared before the lock, or a new one. */
function takeFrame(k: Kernel, t: Thread): number {
  const pfn = t.spareFrame;
  if (pfn !== NO_FRAME) {
    t.spareFrame = NO_FRAME;
    return pfn;
  }
  return k.allocFrame(FRAME_ANON, t.process);
}

/** Gives back what the fault prepared but did not use, and unpins the page-cache page. */
function releasePrepared(k: Kernel, t: Thread): void {
  if (t.spareFrame !== NO_FRAME) {
    k.hw.mem.free(t.spareFrame);
    t.spareFrame = NO_FRAME;
  }
  if (t.pinnedPage !== NO_FRAME) {
    k.hw.mem.put(t.pinnedPage);
    t.pinnedPage = NO_FRAME;
  }
}

function oom(k: Kernel, t: Thread, _page: number, _ec: number): FaultOutcome {
  // Linux pagefault_out_of_memory(): the OOM killer already ran inside the allocator.
  const p = t.process;
  if (p.alive) {
    // Every OOM kill is reported, like the kernel's "Out of memory: Killed process" line.
    k.events.push({ kind: 'oom-kill', message: `Out of memory: killed process ${p.pid} (${p.name}): its page fault found no memory` });
    k.killProcess(p, 'out of memory in a page fault');
  }
  return t.signals[t.signals.length - 1] ?? null;
}

/** anon_vma_prepare(): gives the VMA an anon_vma, sharing a mergeable neighbour's as Linux does. */
export function anonVmaPrepare(vma: Vma): number {
  if (vma.anonVma) return vma.anonVma;
  const prev = vma.prevSpan;
  const next = vma.nextSpan;
  if (prev && prev.anonVma && prev.end === vma.start && prev.file === null && prev.pgoff + prev.pages === vma.pgoff) vma.anonVma = prev.anonVma;
  else if (next && next.anonVma && next.start === vma.end && next.file === null && vma.pgoff + vma.pages === next.pgoff) vma.anonVma = next.anonVma;
  else vma.anonVma = Mm.nextAnonVma++;
  return vma.anonVma;
}

function anonFault(k: Kernel, t: Thread, vma: Vma, page: number, slot: number, write: boolean, ec: number): FaultOutcome {
  const mm = t.process.mm;
  if (!write) {
    // do_anonymous_page(): a read maps the shared zero page read-only.
    mm.pmap.enter(slot, page, k.zeroPfn, readOnlyProt(vma.prot), vma.pkey, false);
  } else {
    const anon = anonVmaPrepare(vma);
    const pfn = takeFrame(k, t);
    if (pfn === NO_FRAME) return oom(k, t, page, ec);
    k.hw.mem.owner[pfn] = anon;
    k.hw.mem.mapcount[pfn] = 1;
    mm.pmap.enter(slot, page, pfn, vma.prot, vma.pkey, true);
  }
  mm.counters.minorFaults++;
  return null;
}

/** The page-cache frame of `file` page `index`, reading it in if needed; NO_FRAME when memory is gone. */
export function pageCacheGet(k: Kernel, file: File, index: number, requester: Thread['process'] | null): number {
  let pfn = file.cache.get(index);
  if (pfn !== undefined) return pfn;
  pfn = k.allocFrame(FRAME_FILE, requester);
  if (pfn === NO_FRAME) return NO_FRAME;
  const mem = k.hw.mem;
  mem.owner[pfn] = file.inode;
  mem.index[pfn] = index;
  const block = file.disk.get(index);
  if (block !== undefined) {
    file.disk.delete(index);
    mem.giveContent(pfn, block);
  }
  file.cache.set(index, pfn);
  return pfn;
}

function fileFault(k: Kernel, t: Thread, vma: Vma, page: number, slot: number, write: boolean, ec: number): FaultOutcome {
  const mm = t.process.mm;
  const cached = t.pinnedPage !== NO_FRAME ? t.pinnedPage : pageCacheGet(k, vma.file!, vma.pgoffAt(page), t.process);
  if (cached === NO_FRAME) return oom(k, t, page, ec);
  const mem = k.hw.mem;
  if (write && !vma.shared) {
    // do_cow_fault(): a private copy of the file page.
    const pfn = takeFrame(k, t);
    if (pfn === NO_FRAME) return oom(k, t, page, ec);
    mem.owner[pfn] = anonVmaPrepare(vma);
    mem.copyContent(pfn, cached);
    mem.mapcount[pfn] = 1;
    mm.pmap.enter(slot, page, pfn, vma.prot, vma.pkey, true);
    mm.counters.cowCopies++;
  } else {
    mem.refcount[cached]++;
    mem.mapcount[cached]++;
    mm.pmap.enter(slot, page, cached, vma.shared ? vma.prot : readOnlyProt(vma.prot), vma.pkey, write);
  }
  mm.counters.minorFaults++;
  return null;
}

/**
 * do_file_page() for a file entry: the page named by the entry (its offset, and under
 * VM_MANYPROTS its protection) is mapped again — at its nonlinear place, with its own rights.
 */
function nonlinearFault(k: Kernel, t: Thread, vma: Vma, page: number, slot: number, lo: number, hi: number, ec: number): FaultOutcome {
  const mm = t.process.mm;
  const index = filePteOffset(lo, hi);
  const file = vma.file!;
  if (index >= file.pages) return signal(t, 'SIGBUS', busCode(k), page, ec);
  const cached = t.pinnedPage !== NO_FRAME ? t.pinnedPage : pageCacheGet(k, file, index, t.process);
  if (cached === NO_FRAME) return oom(k, t, page, ec);
  const mem = k.hw.mem;
  mem.refcount[cached]++;
  mem.mapcount[cached]++;
  const prot = vma.flags & VM_MANYPROTS ? filePteProt(lo) : vma.prot;
  mm.pmap.enter(slot, page, cached, prot, vma.pkey, (ec & PF_W) !== 0);
  mm.counters.minorFaults++;
  return null;
}

/** Whether rights `prot` allow the access: a fetch needs EXEC, a write WRITE, a read any right (x86 has no write-only or exec-only pages). */
function protPermits(prot: number, write: boolean, ec: number): boolean {
  if (ec & PF_I) return (prot & PROT_EXEC) !== 0;
  if (write) return (prot & PROT_WRITE) !== 0;
  return (prot & (PROT_READ | PROT_WRITE | PROT_EXEC)) !== 0;
}

/**
 * Whether the protection of a not-present entry allows the access: under VM_MANYPROTS a
 * file entry's own, or the VMA's default for a page never remapped; elsewhere the VMA
 * was checked already.
 */
function permitted(vma: Vma, lo: number, write: boolean, ec: number): boolean {
  if (!(vma.flags & VM_MANYPROTS)) return true;
  return protPermits(pteIsFile(lo) ? filePteProt(lo) : vma.prot, write, ec);
}

/** swapInFault() mapped the page read-only for a write fault: the caller continues with do_wp_page(). */
const SWAPPED_IN_READ_ONLY: SignalInfo = Object.freeze({ signal: 'SIGSEGV', code: 'SI_KERNEL', addr: 0, pkey: -1, errorCode: 0, tid: -1 });

/** do_swap_page(). */
function swapInFault(k: Kernel, t: Thread, vma: Vma, page: number, slot: number, lo: number, hi: number, write: boolean, ec: number): FaultOutcome {
  const mm = t.process.mm;
  const mem = k.hw.mem;
  const sw = k.swap;
  const swapSlot = swapPteOffset(lo, hi);
  let pfn = sw.cache[swapSlot];
  if (pfn < 0) {
    // Not in the swap cache: read it in (a major fault).
    pfn = takeFrame(k, t);
    if (pfn === NO_FRAME) return oom(k, t, page, ec);
    mem.giveContent(pfn, k.hw.swap.take(swapSlot));
    mem.owner[pfn] = anonVmaPrepare(vma);
    mem.flags[pfn] |= FRAME_SWAPCACHE;
    mem.index[pfn] = swapSlot;
    sw.cache[swapSlot] = pfn;
    // The swap cache holds the frame's first reference; the mapping takes another below.
    mem.refcount[pfn] = 1;
    mm.counters.majorFaults++;
  } else {
    mm.counters.minorFaults++;
  }
  mm.counters.swapIns++;
  sw.refs[swapSlot]--;
  mem.refcount[pfn]++;
  mem.mapcount[pfn]++;
  // Once no other entry names the slot, the page leaves the swap cache (Linux swap_free + try_to_free_swap).
  k.maybeFreeSwapSlot(swapSlot);
  const exclusive = k.canReuse(pfn);
  mm.pmap.enter(slot, page, pfn, write && exclusive ? vma.prot : readOnlyProt(vma.prot), vma.pkey, write && exclusive);
  return write && !exclusive ? SWAPPED_IN_READ_ONLY : null;
}

/** do_wp_page(): a write to a present read-only page in a writable VMA. */
function* wpFault(k: Kernel, t: Thread, vma: Vma, page: number, slot: number, lo: number, hi: number, ec: number): KernelPath<FaultOutcome> {
  const ctx = t.ctx;
  const mm = t.process.mm;
  const mem = k.hw.mem;
  const old = ptePfn(lo, hi);
  // The VMA's key goes into every PTE made for it, the COW copy's included.
  const key = vma.pkey;
  if (vma.shared) {
    // wp_page_shared(): the page stays; the entry becomes writable and dirty.
    mm.pmap.enter(slot, page, old, vma.prot, key, true);
    mm.counters.minorFaults++;
  } else if (old !== k.zeroPfn && mem.kind[old] === FRAME_ANON && k.canReuse(old)) {
    mm.pmap.enter(slot, page, old, vma.prot, key, true);
    mm.counters.cowReuses++;
  } else {
    const pfn = takeFrame(k, t);
    if (pfn === NO_FRAME) return oom(k, t, page, ec);
    mem.owner[pfn] = anonVmaPrepare(vma);
    if (old !== k.zeroPfn) mem.copyContent(pfn, old);
    mem.mapcount[pfn] = 1;
    // ptep_clear_flush(): the old translation leaves every TLB before the new one is used.
    mm.pmap.setPte(slot, 0, 0);
    if (ctx.preemptible) yield ctx.at('pte-write', `clear pte 0x${page.toString(16)}`, page);
    mm.pmap.flushPage(t.cpu, page);
    if (ctx.preemptible) yield ctx.at('tlb-flush', `flush 0x${page.toString(16)}`, page);
    mm.pmap.enter(slot, page, pfn, vma.prot, key, true);
    k.releaseEntry(lo, hi);
    mm.counters.cowCopies++;
  }
  if (ctx.preemptible) yield ctx.at('pte-write', `pte 0x${page.toString(16)}`, page);
  return null;
}


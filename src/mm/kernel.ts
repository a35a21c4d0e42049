import { type Cpu } from '../hw/cpu.js';
import { type Hardware } from '../hw/hardware.js';
import { FRAME_ANON, FRAME_DIRTY, FRAME_FILE, FRAME_KERNEL, FRAME_SWAPCACHE, NO_FRAME } from '../hw/physMem.js';
import { PTE_D, pteIsSwap, pteMapsFrame, ptePfn, swapPteOffset } from '../hw/pte.js';
import { PkruRangeSet } from '../pmap/pkruRangeSet.js';
import { Pmap } from '../pmap/pmap.js';
import { SpinLock } from '../step/locks.js';
import { KernelCtx, type Waitable } from '../step/step.js';
import { type Personality } from './errno.js';
import type { File } from './file.js';
import { Mm } from './mm.js';
import { Process, Thread } from './process.js';
import { oomReap } from './oomReaper.js';
import { allocSlowPath, pageTableSlowPath } from './oom.js';
import { ReclaimState } from './reclaim.js';
import { type SignalInfo } from './signal.js';
import { SwapSpace } from './swap.js';
import { removeVma } from './vmaOps.js';

/** PKRU at execve: access-disable on keys 1-15 (Linux init_pkru_value). */
export const INIT_PKRU = 0x55555554;

/**
 * FreeBSD's PKRU for a new process: the XSAVE initial state, every key open (FreeBSD
 * sets no access-disable bits at exec; programs opt in with x86_pkru_set_perm(3)).
 */
export const FREEBSD_INIT_PKRU = 0;

/** Tunables of a kernel instance. */
export interface KernelConfig {
  readonly personality: Personality;
  /** Named design variants switched on (e.g. 'pkru-swapout-bug'). */
  readonly variants: ReadonlySet<string>;
  /** vm.max_map_count. */
  readonly maxMapCount: number;
}

/** Something the kernel did that a user may want to see: an OOM kill, a reclaim pass. */
export interface KernelEvent {
  readonly kind: 'oom-kill' | 'reclaim' | 'signal' | 'unmodelled';
  readonly message: string;
}

/**
 * The machine-independent kernel state of one machine: processes, files, swap, the page
 * tables' locks, and the shared pieces every kernel path uses (frame allocation with
 * reclaim and OOM, releasing what a cleared PTE held).
 */
export class Kernel {
  readonly processes = new Map<number, Process>();
  readonly threads = new Map<number, Thread>();
  readonly files = new Map<string, File>();
  /** Every address space not yet torn down, a dead process's included while a path pins it. */
  readonly mms = new Set<Mm>();
  readonly swap: SwapSpace;
  /** The shared zero page that read faults on anonymous memory map (Linux ZERO_PAGE). */
  readonly zeroPfn: number;
  readonly events: KernelEvent[] = [];
  /** Thread currently loaded on each CPU. */
  private readonly running: (Thread | null)[];
  private readonly ptLocks: (SpinLock | undefined)[] = [];
  /** Context for kernel work done on no thread's behalf (truncate's unmapping, reclaim). */
  readonly kernelCtx = new KernelCtx(0);
  /** Dirty file pages written back by msync(MS_SYNC). */
  writebacks = 0;
  /** Where the reclaim clocks resume. */
  readonly reclaimState = new ReclaimState();
  private nextPid = 1;
  private nextMmId = 1;
  /** Inode numbers start at 2, as on a fresh file system (1 is reserved). */
  private nextInodeNumber = 2;
  private nextTid = 1;

  constructor(
    readonly hw: Hardware,
    readonly config: KernelConfig,
  ) {
    this.swap = new SwapSpace(hw.swap);
    const zero = hw.mem.alloc(FRAME_KERNEL);
    if (zero === NO_FRAME) throw new RangeError('physical memory too small for the zero page');
    this.zeroPfn = zero;
    this.running = hw.cpus.map(() => null);
    for (const cpu of hw.cpus) cpu.pke = hw.pku;
  }

  /** True under the freebsd personality. */
  get freebsd(): boolean {
    return this.config.personality === 'freebsd';
  }

  /** Linux keeps user protection keys on the VMA; FreeBSD in the pmap's range set. */
  get keysOnVma(): boolean {
    return !this.freebsd;
  }

  /** PKRU a new process starts with and execve() sets. */
  get initPkru(): number {
    return this.freebsd ? FREEBSD_INIT_PKRU : INIT_PKRU;
  }

  /** True when a variant is switched on. */
  variant(name: string): boolean {
    return this.config.variants.has(name);
  }

  /** A new process with an empty address space and one thread on `cpu`; null when memory is exhausted. */
  createProcess(name: string, cpu: Cpu, parent: Process | null = null): Process | null {
    const pmap = this.newPmap();
    if (!pmap) return null;
    const p = new Process(this.nextPid++, this.newMm(pmap), parent, name);
    this.processes.set(p.pid, p);
    this.addThread(p, cpu, this.initPkru);
    return p;
  }

  /** A process around an address space made elsewhere (fork), with one thread inheriting `pkru`. */
  createProcessWithMm(name: string, mm: Mm, parent: Process, cpu: Cpu, pkru: number): Process {
    const p = new Process(this.nextPid++, mm, parent, name);
    this.processes.set(p.pid, p);
    this.addThread(p, cpu, pkru);
    return p;
  }

  /** Forgets which thread ran on `t`'s CPU, so the next switch reloads CR3 and PKRU. */
  forgetCpu(t: Thread): void {
    if (this.running[t.cpu.id] === t) {
      this.running[t.cpu.id] = null;
      t.cpu.cr3Table = -1;
      t.cpu.owner = null;
    }
  }

  /**
   * A new pmap, its PML4 and later page tables allocated like any GFP_KERNEL page:
   * reclaim, then the OOM killer (Linux pgd_alloc(), pte_alloc_one()). `requester` is the
   * process whose path asks (fork's parent, exec's process; null for a spawn from outside):
   * null when it was the OOM killer's victim, or when nothing could be freed.
   */
  newPmap(requester: Process | null = null): Pmap | null {
    let pmap = Pmap.create(this.hw);
    if (!pmap) {
      allocSlowPath(this, () => (pmap = Pmap.create(this.hw)) !== null, requester);
      if (!pmap) return null;
    }
    const made: Pmap = pmap;
    made.onOutOfFrames = () => pageTableSlowPath(this, made, requester);
    // FreeBSD keeps user protection keys in the pmap, by address range; Linux on the VMA.
    if (this.freebsd) made.extension = new PkruRangeSet({ dropKeysOnRemove: this.variant('pkru-swapout-bug') });
    return made;
  }

  /** clone(CLONE_VM | CLONE_THREAD): a thread sharing the process's address space, inheriting `pkru`. */
  addThread(p: Process, cpu: Cpu, pkru: number): Thread {
    const t = new Thread(this.nextTid++, p, cpu, pkru);
    p.threads.push(t);
    this.threads.set(t.tid, t);
    return t;
  }

  /** Makes `t` the thread running on its CPU: loads its address space and its PKRU. */
  switchTo(t: Thread): Cpu {
    const cpu = t.cpu;
    if (cpu.owner === t) return cpu;
    const current = this.running[cpu.id];
    if (current && current !== t && current.alive) current.pkru = cpu.pkru;
    t.process.mm.pmap.activate(cpu);
    if (cpu.pkru !== t.pkru) cpu.writePkru(t.pkru);
    this.running[cpu.id] = t;
    cpu.owner = t;
    return cpu;
  }

  /** Records the thread's current PKRU from its CPU when it is the one running there. */
  syncPkru(t: Thread): void {
    if (this.running[t.cpu.id] === t) t.pkru = t.cpu.pkru;
  }

  /** A lock some thread other than `tid` holds now (an mmap_lock or a page-table lock), or null. */
  heldLock(tid: number): Waitable | null {
    for (const p of this.processes.values()) {
      const l = p.mm.mmapLock;
      if ((l.writer !== -1 && l.writer !== tid) || l.readers > 0) return l;
    }
    for (const l of this.ptLocks) if (l && l.owner !== -1 && l.owner !== tid) return l;
    return null;
  }

  /** The page-table lock of a page table (Linux split PTE locks). */
  ptLock(table: number): SpinLock {
    let l = this.ptLocks[table];
    if (!l) this.ptLocks[table] = l = new SpinLock(`ptl of table ${table}`);
    return l;
  }

  /**
   * A frame for the kernel or a fault: from the free list, else after reclaim, else by
   * killing the process the OOM killer picks (see oom.ts). Returns NO_FRAME only when even
   * that freed nothing, or when `requester`'s own process was the victim.
   */
  allocFrame(kind: number, requester: Process | null): number {
    const mem = this.hw.mem;
    let pfn = mem.alloc(kind);
    if (pfn !== NO_FRAME) return pfn;
    allocSlowPath(this, () => (pfn = mem.alloc(kind)) !== NO_FRAME, requester);
    return pfn;
  }

  /** Ends a process with SIGKILL (an OOM kill): its threads die and its memory is released. */
  killProcess(p: Process, why: string): void {
    if (!p.alive) return;
    p.exit = { kind: 'killed', signal: 'SIGKILL', why };
    for (const t of p.threads) {
      if (t.alive) t.signals.push(killSignal(t.tid));
      t.alive = false;
    }
    const mm = p.mm;
    this.dropMm(p);
    // A path of the victim still pins its address space: reap what can be reaped now.
    if (this.mms.has(mm)) oomReap(this, mm);
    this.releaseUnlinkedFiles();
  }

  /** The next inode number for a file or shmem object of this machine. */
  newInode(): number {
    return this.nextInodeNumber++;
  }

  /** A new address space around `pmap`, registered until it is torn down. */
  newMm(pmap: Pmap): Mm {
    const mm = new Mm(pmap, this.nextMmId++);
    this.mms.add(mm);
    return mm;
  }

  /**
   * mmget(): a kernel path in flight pins the address space it works on. A process that
   * dies meanwhile (an OOM kill, a sibling's exit or exec) keeps the page tables the path
   * may still write until the path ends, as Linux's exit_mmap() runs only at the last mmput().
   */
  mmget(mm: Mm): void {
    mm.users++;
  }

  /** mmput(): drops a reference; the last one tears the address space down (exit_mmap()). */
  mmput(mm: Mm): void {
    if (--mm.users > 0) return;
    teardownMm(this, mm);
    this.mms.delete(mm);
  }

  /** Detaches `p` from its address space, tearing the space down when it was the last user. */
  dropMm(p: Process): void {
    this.mmput(p.mm);
  }

  /**
   * Releases what a cleared leaf entry held, after the TLBs were flushed: a frame
   * mapping (mapcount and reference; a dirty file page is marked for writeback), or a
   * swap entry's reference on its slot.
   */
  releaseEntry(lo: number, hi: number): void {
    if (pteIsSwap(lo)) {
      const slot = swapPteOffset(lo, hi);
      this.swap.refs[slot]--;
      this.maybeFreeSwapSlot(slot);
      return;
    }
    if (!pteMapsFrame(lo)) return;
    const pfn = ptePfn(lo, hi);
    if (pfn === this.zeroPfn) return;
    const mem = this.hw.mem;
    mem.mapcount[pfn]--;
    if (lo & PTE_D && mem.kind[pfn] === FRAME_FILE) mem.flags[pfn] |= FRAME_DIRTY;
    mem.put(pfn);
    // An unmapped swap-cache page whose slot nobody names any more is garbage.
    if (mem.kind[pfn] === FRAME_ANON && mem.flags[pfn] & FRAME_SWAPCACHE && mem.mapcount[pfn] === 0) {
      this.maybeFreeSwapSlot(mem.index[pfn]);
    }
  }

  /** Frees a swap slot once no swap entry names it, dropping its swap-cache frame's cache reference. */
  maybeFreeSwapSlot(slot: number): void {
    const sw = this.swap;
    if (sw.refs[slot] !== 0) return;
    const mem = this.hw.mem;
    const cached = sw.cache[slot];
    if (cached >= 0) {
      // Mapped or not, the frame no longer stands for the slot.
      sw.cache[slot] = -1;
      mem.flags[cached] &= ~FRAME_SWAPCACHE;
      mem.put(cached);
    }
    const content = sw.releaseIfUnused(slot);
    if (content >= 0) mem.content.free(content);
  }

  /**
   * Whether a write may reuse anonymous frame `pfn` in place instead of copying it: it is
   * mapped once and no swap entry elsewhere still expects its old contents.
   */
  canReuse(pfn: number): boolean {
    const mem = this.hw.mem;
    if (pfn === this.zeroPfn || mem.kind[pfn] !== FRAME_ANON || mem.mapcount[pfn] !== 1) return false;
    if (mem.flags[pfn] & FRAME_SWAPCACHE) return this.swap.refs[mem.index[pfn]] === 0;
    return true;
  }

  /** Shared anonymous memory objects (shmem), which have no name in the file table. */
  readonly shmemFiles = new Set<File>();

  /** Registers a shmem object; it frees its pages when its last mapping goes. */
  addShmem(file: File): void {
    this.shmemFiles.add(file);
    file.onLastUnmap = () => {
      file.dropPages(this.hw.mem, 0);
      this.shmemFiles.delete(file);
    };
  }

  /**
   * Files whose name went (a new file took it) while they were mapped or open. Like an
   * unlinked inode in Linux (iput() frees it at the last reference), each keeps its page
   * cache until its last mapping and descriptor are gone.
   */
  readonly unlinkedFiles = new Set<File>();

  /** Removes `name` from the file table; the file lives on while anything still uses it. */
  unlinkFile(name: string): void {
    const old = this.files.get(name);
    if (!old) return;
    this.files.delete(name);
    this.unlinkedFiles.add(old);
    old.onLastUnmap = () => this.releaseUnlinkedFiles();
    this.releaseUnlinkedFiles();
  }

  /** Frees the page cache of every unlinked file that nothing maps or has open any more. */
  releaseUnlinkedFiles(): void {
    if (this.unlinkedFiles.size === 0) return;
    const open = new Set<File>();
    for (const p of this.processes.values()) if (p.alive) for (const o of p.fds.values()) open.add(o.file);
    for (const f of this.unlinkedFiles) {
      if (f.mappings.size > 0 || f.holds > 0 || open.has(f)) continue;
      f.dropPages(this.hw.mem, 0);
      this.unlinkedFiles.delete(f);
    }
  }

  /** Every file with a page cache: named files, unlinked ones still in use, and shmem objects. */
  *allFiles(): IterableIterator<File> {
    yield* this.files.values();
    yield* this.unlinkedFiles;
    yield* this.shmemFiles;
  }

  /** The file or shmem object with inode number `inode` (a page-cache frame's owner). */
  fileByInode(inode: number): File | undefined {
    for (const f of this.allFiles()) if (f.inode === inode) return f;
    return undefined;
  }

  /** A process by pid. */
  process(pid: number): Process | undefined {
    return this.processes.get(pid);
  }
}

/** Unmaps everything of an address space and frees its page tables. */
export function teardownMm(k: Kernel, mm: Mm): void {
  for (let v = mm.vmas.first(); v; v = v.nextSpan) {
    mm.pmap.mapDelete(null, v.start, v.end, (_va, lo, hi) => k.releaseEntry(lo, hi));
  }
  while (mm.vmas.size > 0) removeVma(mm, mm.vmas.first()!);
  mm.pmap.destroy();
}

/** The SIGKILL record of an OOM kill. */
function killSignal(tid: number): SignalInfo {
  return { signal: 'SIGKILL', code: 'SI_KERNEL', addr: 0, pkey: -1, errorCode: 0, tid };
}

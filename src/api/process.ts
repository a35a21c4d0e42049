import { PkruRangeSet } from '../pmap/pkruRangeSet.js';
import { mmCounters, type PkruRangeSnapshot, vmaSnapshot } from './snapshot.js';
import { sysExit } from '../mm/fork.js';
import { type ExitReason, type Process } from '../mm/process.js';
import { formatMaps } from './maps.js';
import { type Machine } from './machine.js';
import { type ProcessSnapshot, snapshotProcess, type SnapshotRange, type VmaSnapshot } from './snapshot.js';
import { peekByte, pteOf, type PteView, tlbEntryOf } from './inspect.js';
import { type TlbEntryView } from '../hw/tlb.js';
import { ThreadEndedError, ThreadHandle } from './thread.js';
import { inspectAddressArg } from './args.js';
import { ForeignHandleError, ProcessExitedError } from './errors.js';
import { EINVAL, type SysResult } from '../mm/errno.js';

/** A modelled process: its threads, its address space as /proc/pid/maps shows it, and its lifecycle. */
export class ProcessHandle {
  /** @internal */
  constructor(
    readonly machine: Machine,
    /** @internal */ readonly process: Process,
  ) {}

  /** Process id. */
  get pid(): number {
    return this.process.pid;
  }

  /** True until the process exits or is killed. */
  get alive(): boolean {
    return this.process.alive;
  }

  /** How it ended, once it has. */
  get exitReason(): ExitReason | null {
    return this.process.exit;
  }

  /** Its threads, the first being the main thread. */
  get threads(): ThreadHandle[] {
    return this.process.threads.map((t) => this.machine.threadHandle(t));
  }

  /** The main thread. */
  get main(): ThreadHandle {
    return this.machine.threadHandle(this.process.threads[0]);
  }

  /**
   * clone(CLONE_VM | CLONE_THREAD): a new thread on `cpu`, inheriting the creator's PKRU.
   * The creator makes the system call, so it must be a live thread of this process:
   * {@link ProcessExitedError} when the process has exited, {@link ThreadEndedError} when
   * the creator has ended, {@link ForeignHandleError} for a thread of another process or
   * machine.
   */
  spawnThread(cpu: number, creator: ThreadHandle = this.main): ThreadHandle {
    const what = 'ProcessHandle.spawnThread';
    if (!(creator instanceof ThreadHandle)) throw new TypeError(`${what}: creator must be a ThreadHandle`);
    if (creator.machine !== this.machine) throw new ForeignHandleError(what, `creator thread ${creator.tid} belongs to another machine`);
    if (creator.thread.process !== this.process) throw new ForeignHandleError(what, `creator thread ${creator.tid} belongs to process ${creator.thread.process.pid}, not ${this.pid}`);
    if (!this.process.alive) throw new ProcessExitedError(this.pid, what);
    if (!creator.thread.alive) throw new ThreadEndedError(creator.tid);
    const where = this.machine.cpuAt(cpu);
    this.machine.checkNotReentrant(what, this.process);
    const k = this.machine.kernel;
    k.syncPkru(creator.thread);
    const t = k.addThread(this.process, where, creator.thread.pkru);
    return this.machine.threadHandle(t);
  }

  /**
   * Writes /proc/pid/oom_score_adj (-1000 … 1000; -1000: the OOM killer never picks this
   * process). Under freebsd, -1000 stands for procctl(PROC_SPROTECT) and other values only
   * clear it. Returns 0, or EINVAL for a value out of range, as the proc write does.
   */
  setOomScoreAdj(value: number): SysResult {
    if (!Number.isInteger(value)) throw new TypeError(`ProcessHandle.setOomScoreAdj: value must be an integer, not ${String(value)}`);
    if (value < -1000 || value > 1000) return EINVAL;
    this.process.oomScoreAdj = value;
    return 0;
  }

  /**
   * exit(2); nothing on a process that has already ended. From inside
   * {@link Machine.interleave}, while a path of this process holds its mmap_lock (a
   * MAP_POPULATE under way, say), it throws {@link ReentrantCallError}: tearing the address
   * space down under that path would leave it writing into freed page tables.
   */
  exit(code = 0): void {
    if (typeof code !== 'number' || !Number.isInteger(code)) throw new TypeError(`ProcessHandle.exit: code must be an integer, not ${String(code)}`);
    if (!this.process.alive) return;
    this.machine.checkNotReentrant('ProcessHandle.exit', this.process);
    sysExit(this.machine.kernel, this.process, code);
    this.machine.afterOperation();
  }

  /** /proc/pid/maps. */
  maps(): string {
    return formatMaps(this.process.mm);
  }

  /** Number of VMAs. */
  get mapCount(): number {
    return this.process.mm.mapCount;
  }

  /** Resident pages (entries mapping a frame). */
  get resident(): number {
    return this.process.mm.pmap.resident;
  }

  /** Fault, COW and swap counts of the address space, and its resident pages, page tables and VMAs. */
  get counters(): Readonly<Record<string, number>> {
    return mmCounters(this.process.mm);
  }

  /** Swaps out every resident page (or those in [start, end)): anonymous pages go to swap, file pages are unmapped. */
  swapOut(start = 0, end = Number.MAX_SAFE_INTEGER): number {
    return this.machine.swapOut(this, start, end);
  }

  /** The leaf page-table entry for `va`, decoded. */
  pte(va: number): PteView {
    inspectAddressArg('ProcessHandle.pte', 'va', va);
    return pteOf(this.machine.kernel, this.process, va);
  }

  /** FreeBSD: the PKRU range covering `va`, or undefined (always under linux). */
  pkruRange(va: number): PkruRangeSnapshot | undefined {
    inspectAddressArg('ProcessHandle.pkruRange', 'va', va);
    const r = PkruRangeSet.of(this.process.mm.pmap)?.rangeAt(va);
    return r && { start: r.start, end: r.end, key: r.key, persist: r.persist };
  }

  /** The VMA containing `va`, or undefined. */
  vma(va: number): VmaSnapshot | undefined {
    inspectAddressArg('ProcessHandle.vma', 'va', va);
    const v = this.process.mm.vmaAt(va);
    return v && vmaSnapshot(v);
  }

  /** The byte at `va` without faulting anything in; undefined when nothing is mapped there. */
  peek(va: number): number | undefined {
    inspectAddressArg('ProcessHandle.peek', 'va', va);
    return peekByte(this.machine.kernel, this.process, va);
  }

  /** CPU `cpu`'s cached translation of `va` in this address space, if any. */
  tlbEntry(cpu: number, va: number): TlbEntryView | undefined {
    this.machine.cpuAt(cpu);
    inspectAddressArg('ProcessHandle.tlbEntry', 'va', va);
    return tlbEntryOf(this.machine.kernel, cpu, this.process, va);
  }

  /** A JSON-ready snapshot: VMAs, page-table entries in a range, TLBs, counters. */
  snapshot(range: SnapshotRange = {}): ProcessSnapshot {
    return snapshotProcess(this.machine.kernel, this.process, range);
  }
}

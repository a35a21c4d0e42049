import { type Pmap } from '../pmap/pmap.js';
import { RwSemaphore } from '../step/locks.js';
import { type Vma } from './vma.js';
import { SpanTree } from '../ds/spanTree.js';

/** x86-64 TASK_SIZE_MAX with 4-level paging: the user address space ends one page below 2^47. */
export const TASK_SIZE = 0x7ffffffff000;
/**
 * mmap_base without address-space randomisation: TASK_SIZE minus the minimum stack gap of
 * 128 MiB (Linux arch/x86/mm/mmap.c mmap_base()).
 */
export const MMAP_BASE = 0x7ffff7fff000;
/** TASK_UNMAPPED_BASE: where the bottom-up fallback search starts (TASK_SIZE / 3, page aligned). */
export const TASK_UNMAPPED_BASE = Math.floor(TASK_SIZE / 3 / 4096) * 4096;
/** vm.mmap_min_addr default. */
export const MMAP_MIN_ADDR = 0x10000;

/** Fault and paging counts of one address space. */
export class MmCounters {
  /** Faults that mapped a page without I/O. */
  minorFaults = 0;
  /** Faults that read a page from swap. */
  majorFaults = 0;
  /** Write faults that copied a page. */
  cowCopies = 0;
  /** Write faults that reused an exclusive page in place. */
  cowReuses = 0;
  /** Faults found already fixed (a stale TLB entry or another thread won). */
  spuriousFaults = 0;
  /** Pages this address space had written out to swap. */
  swapOuts = 0;
  /** Pages read back from swap. */
  swapIns = 0;
}

/**
 * An address space (Linux `struct mm_struct`): the VMA tree, the pmap, `mmap_lock`, and
 * what belongs to the address space rather than a thread (protection-key allocations).
 */
export class Mm {
  readonly id: number;
  readonly vmas = new SpanTree<Vma>();
  readonly mmapLock: RwSemaphore;
  /** References (mm_users): the processes using this address space and the kernel paths in flight that pin it (see Kernel.mmget). */
  users = 1;
  /** Bitmap of allocated protection keys; key 0 always is. */
  pkeyAllocationMap = 1;
  /** The execute-only key, once allocated; -1 before. */
  executeOnlyPkey = -1;
  readonly counters = new MmCounters();
  /** VMAs this address space removed, kept for reuse (see {@link Vma.make}). */
  readonly unusedVmas: Vma[] = [];
  /** Next anon_vma identity handed out by anon_vma_prepare(). */
  static nextAnonVma = 1;

  constructor(
    readonly pmap: Pmap,
    /** Numbered per kernel, so names that carry it (mmap_lock of mm N) replay alike on every machine. */
    id: number,
  ) {
    this.id = id;
    this.mmapLock = new RwSemaphore(`mmap_lock of mm ${this.id}`);
  }

  /** Number of VMAs (Linux map_count). */
  get mapCount(): number {
    return this.vmas.size;
  }

  /** Linux find_vma(): the first VMA ending above `addr`. */
  findVma(addr: number): Vma | undefined {
    return this.vmas.findFirstEndAfter(addr);
  }

  /** The VMA containing `addr` (Linux vma_lookup()). */
  vmaAt(addr: number): Vma | undefined {
    const v = this.vmas.findFirstEndAfter(addr);
    return v !== undefined && v.start <= addr ? v : undefined;
  }
}

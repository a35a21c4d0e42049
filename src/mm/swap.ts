import { type SwapDevice } from '../hw/swapDevice.js';

/**
 * {@link SwapSpace.cache} value of a slot that holds a written-out shmem page. No PTE
 * names such a slot: Linux keeps its swap entry in the shmem mapping's page cache
 * (shmem_writepage() replaces the folio there by the entry), and so does mmsim, in
 * the object's {@link ShmemSwap}.
 */
export const SWAP_SHMEM = -2;

/**
 * The kernel's view of the swap device (Linux swap_map plus the swap cache): how many
 * swap entries in page tables name each slot, and which frame, if any, holds the
 * slot's page in memory right now.
 */
export class SwapSpace {
  /** Swap PTEs naming each slot (Linux swap_map count). */
  readonly refs: Int32Array;
  /** Frame caching each slot's page, -1 for none (Linux swap cache), or {@link SWAP_SHMEM}. */
  readonly cache: Int32Array;
  private readonly inUse: Uint8Array;
  private readonly freeSlots: Int32Array;
  private freeTop: number;
  /**
   * One past the highest slot ever handed out: every slot from here up is free and
   * untouched. Slots never used are on no list — freed slots go first, then fresh ones in
   * increasing order — so a big swap device costs nothing until it is used.
   */
  highWater: number;

  constructor(readonly device: SwapDevice) {
    const n = device.slots;
    this.refs = new Int32Array(n);
    this.cache = new Int32Array(n).fill(-1);
    this.inUse = new Uint8Array(n);
    this.freeSlots = new Int32Array(n);
    this.freeTop = 0;
    // Slot 0 is the swap header on Linux and is never handed out.
    this.highWater = Math.min(1, n);
  }

  /** Slots in use. */
  get usedSlots(): number {
    return this.highWater - Math.min(1, this.device.slots) - this.freeTop;
  }

  /** Slots left. */
  get freeSlotCount(): number {
    return this.freeTop + (this.device.slots - this.highWater);
  }

  /** True while `slot` is allocated. */
  isUsed(slot: number): boolean {
    return this.inUse[slot] === 1;
  }

  /** A free slot, or -1 when swap is full. */
  alloc(): number {
    let s: number;
    if (this.freeTop > 0) s = this.freeSlots[--this.freeTop];
    else if (this.highWater < this.device.slots) s = this.highWater++;
    else return -1;
    this.inUse[s] = 1;
    this.refs[s] = 0;
    this.cache[s] = -1;
    return s;
  }

  /** Gives a free slot to a shmem page being written out, or returns -1 when swap is full. */
  allocShmem(): number {
    const s = this.alloc();
    if (s >= 0) this.cache[s] = SWAP_SHMEM;
    return s;
  }

  /** Frees a slot {@link allocShmem} gave out; returns its content to drop, or -1 (zeros, or already read in). */
  freeShmem(slot: number): number {
    if (this.cache[slot] !== SWAP_SHMEM) throw new Error(`mmsim bug: swap slot ${slot} is not a shmem slot`);
    this.cache[slot] = -1;
    return this.releaseIfUnused(slot);
  }

  /** Frees `slot` if no swap entry names it and no frame caches it; returns its content to drop, or -1. */
  releaseIfUnused(slot: number): number {
    if (this.refs[slot] !== 0 || this.cache[slot] !== -1 || this.inUse[slot] !== 1) return -1;
    this.inUse[slot] = 0;
    this.freeSlots[this.freeTop++] = slot;
    return this.device.discard(slot);
  }
}

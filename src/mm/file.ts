import { type ContentPool } from '../hw/contentPool.js';
import { type PhysMem } from '../hw/physMem.js';
import { type SwapSpace } from './swap.js';
import { type Vma } from './vma.js';


/**
 * An in-memory file: its size, its blocks on "disk" (content ids, sparse), its page
 * cache (file page index → frame) and the VMAs mapping it (Linux i_mmap), which
 * truncation must unmap.
 */
export class File {
  readonly inode: number;
  /** Size in bytes. */
  size: number;
  /** Page cache: file page index → frame. */
  readonly cache = new Map<number, number>();
  /**
   * Backing store: file page index → content id (absent: a hole, zeros). A named file's
   * pages go to its own blocks; a shmem object's to swap slots ({@link ShmemSwap}).
   */
  readonly disk: Map<number, number> | ShmemSwap;
  /** VMAs that map this file. */
  readonly mappings = new Set<Vma>();
  /** Whether a process may open it for writing. */
  writable: boolean;
  /** Whether a process may open it for reading. */
  readable: boolean;
  /** On a noexec mount: mappings of it may not be executable (no VM_MAYEXEC). */
  noexec: boolean;
  /** Called when the last mapping goes: a shmem object has no other reference and frees its pages. */
  onLastUnmap: (() => void) | null;
  /** References held by kernel code (Linux get_file()) that keep a shmem object alive without a mapping. */
  holds: number;

  constructor(
    /** Path shown in /proc/pid/maps. */
    readonly name: string,
    size: number,
    /** Numbered per kernel ({@link Kernel.newInode}), so /proc/pid/maps replays alike on every machine. */
    inode: number,
    /** Memory of a shared anonymous mapping (shmem): shown as "/dev/zero (deleted)". */
    readonly shmem = false,
  ) {
    this.inode = inode;
    this.size = size;
    this.disk = shmem ? new ShmemSwap() : new Map<number, number>();
    this.writable = true;
    this.readable = true;
    this.noexec = false;
    this.onLastUnmap = null;
    this.holds = 0;
  }

  /**
   * Drops the file's pages from page `firstIndex` on: page-cache frames lose the cache's
   * reference, blocks on "disk" are freed (truncation, and a shmem object's end).
   */
  dropPages(mem: PhysMem, firstIndex: number): void {
    for (const [index, pfn] of this.cache) {
      if (index < firstIndex) continue;
      this.cache.delete(index);
      mem.put(pfn);
    }
    if (this.disk instanceof ShmemSwap) {
      this.disk.dropFrom(firstIndex, mem.content);
      return;
    }
    for (const [index, content] of this.disk) {
      if (index < firstIndex) continue;
      this.disk.delete(index);
      mem.content.free(content);
    }
  }

  /** Drops the last reference if no mapping and no hold remains. */
  releaseIfUnused(): void {
    if (this.mappings.size === 0 && this.holds === 0) this.onLastUnmap?.();
  }

  /** Pages covering the size: accesses at or past this page raise SIGBUS. */
  get pages(): number {
    return Math.ceil(this.size / 4096);
  }
}

/**
 * The backing store of a shmem object: Linux shmem is swap-backed, so a page written out
 * (shmem_writepage()) takes a swap slot, counted in the swap in use like an anonymous
 * page's, and a page cannot be written out at all when swap is full. Reading it back in
 * (shmem_swapin_folio()) frees the slot. Offers the part of Map's interface that page-cache
 * code uses on {@link File.disk}: `get` for the content and `delete` once the caller
 * has taken that content into a frame.
 */
export class ShmemSwap {
  /** File page index → swap slot. */
  private readonly slots = new SlotTable();
  /** The swap the slots are in, known from the first write-out on. */
  private swap: SwapSpace | null = null;

  /** Pages in swap. */
  get size(): number {
    return this.slots.size;
  }

  /** The content of page `index` in swap (never -1: a written-out page always has one), or undefined. */
  get(index: number): number | undefined {
    const slot = this.slots.get(index);
    return slot < 0 ? undefined : this.swap!.device.peek(slot);
  }

  /** The swap slot holding page `index`, or -1. */
  slotOf(index: number): number {
    return this.slots.get(index);
  }

  /** Swap-in of page `index`: the caller took its content (from {@link get}); the slot is freed. */
  delete(index: number): boolean {
    const slot = this.slots.delete(index);
    if (slot < 0) return false;
    const sw = this.swap!;
    sw.device.take(slot);
    sw.freeShmem(slot);
    return true;
  }

  /** shmem_writepage(): page `index`, with `content` (a real content id), goes to `slot` from {@link SwapSpace.allocShmem}. */
  writeOut(swap: SwapSpace, index: number, slot: number, content: number): void {
    if (this.slots.get(index) >= 0) throw new Error(`mmsim bug: shmem page ${index} written out twice`);
    this.swap = swap;
    swap.device.store(slot, content);
    this.slots.set(index, slot);
  }

  /** Frees the slots of the pages from `firstIndex` on, and their contents (the object's end). */
  dropFrom(firstIndex: number, pool: ContentPool): void {
    for (const index of this.slots.indices()) {
      if (index < firstIndex) continue;
      const content = this.swap!.freeShmem(this.slots.delete(index));
      if (content >= 0) pool.free(content);
    }
  }
}

/** Entries per {@link SlotTable} chunk. */
const CHUNK = 512;

/**
 * A sparse map from page index to a non-negative number, in chunks of 512 entries: a
 * shmem object may be terabytes large and sparse, and one Map entry per page gets slow
 * to grow and to probe once it holds millions.
 */
class SlotTable {
  /** Chunk number → entries (-1: none), with the chunk's count in the last element. */
  private readonly chunks = new Map<number, Int32Array>();
  size = 0;

  /** The value at `index`, or -1. */
  get(index: number): number {
    const c = this.chunks.get(Math.floor(index / CHUNK));
    return c === undefined ? -1 : c[index % CHUNK];
  }

  /** Sets the value at an `index` that has none. */
  set(index: number, value: number): void {
    const n = Math.floor(index / CHUNK);
    let c = this.chunks.get(n);
    if (c === undefined) {
      c = new Int32Array(CHUNK + 1).fill(-1);
      c[CHUNK] = 0;
      this.chunks.set(n, c);
    }
    c[index % CHUNK] = value;
    c[CHUNK]++;
    this.size++;
  }

  /** Removes the value at `index` and returns it, or -1 when there was none. */
  delete(index: number): number {
    const n = Math.floor(index / CHUNK);
    const c = this.chunks.get(n);
    if (c === undefined) return -1;
    const v = c[index % CHUNK];
    if (v < 0) return -1;
    c[index % CHUNK] = -1;
    this.size--;
    if (--c[CHUNK] === 0) this.chunks.delete(n);
    return v;
  }

  /** The indices that have a value, as a list (safe to delete from while going through it). */
  indices(): number[] {
    const out: number[] = [];
    for (const [n, c] of this.chunks) {
      for (let i = 0; i < CHUNK; i++) if (c[i] >= 0) out.push(n * CHUNK + i);
    }
    return out;
  }
}

/** An open file description: a file and the access mode it was opened with. */
export interface OpenFile {
  readonly file: File;
  readonly canRead: boolean;
  readonly canWrite: boolean;
}

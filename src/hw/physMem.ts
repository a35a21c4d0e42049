import { ContentPool } from './contentPool.js';
import { PAGE_SIZE } from './pte.js';


/** A frame on the free list. */
export const FRAME_FREE = 0;
/** Anonymous memory (process data, COW copies). */
export const FRAME_ANON = 1;
/** A page-cache page of a file. */
export const FRAME_FILE = 2;
/** A page-table page at any level. */
export const FRAME_PAGETABLE = 3;
/** Kernel memory (direct map, vmalloc, kernel data). */
export const FRAME_KERNEL = 4;

/** Frame kinds by number, for snapshots. */
export const FRAME_KIND_NAMES = ['free', 'anon', 'file', 'pagetable', 'kernel'] as const;

/** The frame is in the swap cache; `priv` holds its swap slot. */
export const FRAME_SWAPCACHE = 1 << 0;
/** The frame's contents differ from its backing store (file or swap). */
export const FRAME_DIRTY = 1 << 1;
/** Anonymous frame known to be mapped by one process only (Linux PageAnonExclusive). */
export const FRAME_EXCLUSIVE = 1 << 2;

/** Returned by {@link PhysMem.alloc} when no frame is free. */
export const NO_FRAME = -1;

/**
 * Physical memory: frame metadata in parallel typed arrays (no per-frame objects), and
 * contents stored sparsely in a {@link ContentPool}. Frame 0 is reserved, as the real
 * first page is, so a PFN of 0 never names a usable frame.
 */
export class PhysMem {
  /** Number of frames, frame 0 included. */
  readonly frameCount: number;
  /** References: one per mapping PTE, plus page cache, swap cache and pins. */
  readonly refcount: Int32Array;
  /** Page-table entries that map the frame. */
  readonly mapcount: Int32Array;
  /** FRAME_* kind. */
  readonly kind: Uint8Array;
  /** FRAME_SWAPCACHE | FRAME_DIRTY | FRAME_EXCLUSIVE. */
  readonly flags: Uint8Array;
  /** Content id (see ContentPool) for data frames, table number for page-table frames; -1 for none (zeros). */
  readonly data: Int32Array;
  /** Owner: the file id of a page-cache page, the anon_vma id of an anonymous page. */
  readonly owner: Int32Array;
  /** Page index within a file; the swap slot of a swap-cache page; the next free frame of a free one. */
  readonly index: Int32Array;
  /** Page contents. */
  readonly content: ContentPool;
  // The free list is threaded through `index` of free frames: no extra memory per frame.
  private freeHead: number;
  private freeCount: number;
  /** One past the highest frame ever allocated: every frame from here up is free and untouched. */
  highWater: number;

  constructor(bytes: number) {
    const frames = Math.floor(bytes / PAGE_SIZE);
    if (frames < 16) throw new RangeError(`physical memory of ${bytes} bytes is below 16 frames`);
    this.frameCount = frames;
    this.refcount = new Int32Array(frames);
    this.mapcount = new Int32Array(frames);
    this.kind = new Uint8Array(frames);
    this.flags = new Uint8Array(frames);
    this.data = new Int32Array(frames).fill(-1);
    this.owner = new Int32Array(frames).fill(-1);
    this.index = new Int32Array(frames);
    this.content = new ContentPool();
    // Frames never used are not on the list: they are handed out in increasing order after
    // the freed ones (low frames first keeps dumps readable), so making a machine and
    // checking one cost what was used, not what was configured.
    this.freeHead = NO_FRAME;
    this.freeCount = frames - 1;
    this.highWater = 1;
  }

  /** Frames on the free list. */
  get freeFrames(): number {
    return this.freeCount;
  }

  /** Takes a free frame with refcount 1, or returns NO_FRAME: running out is the caller's condition to handle. */
  alloc(kind: number): number {
    let pfn = this.freeHead;
    if (pfn !== NO_FRAME) this.freeHead = this.index[pfn]!;
    else if (this.highWater < this.frameCount) pfn = this.highWater++;
    else return NO_FRAME;
    this.freeCount--;
    // free() and the constructor left mapcount, flags, data and owner at their defaults.
    this.kind[pfn] = kind;
    this.refcount[pfn] = 1;
    this.index[pfn] = 0;
    return pfn;
  }

  /** Returns a frame to the free list, dropping its contents. */
  free(pfn: number): void {
    if (this.kind[pfn] === FRAME_FREE) throw new Error(`mmsim bug: frame ${pfn} freed twice`);
    if (this.kind[pfn] !== FRAME_PAGETABLE) this.dropContent(pfn);
    this.kind[pfn] = FRAME_FREE;
    this.refcount[pfn] = 0;
    this.mapcount[pfn] = 0;
    this.flags[pfn] = 0;
    this.data[pfn] = -1;
    this.owner[pfn] = -1;
    this.index[pfn] = this.freeHead;
    this.freeHead = pfn;
    this.freeCount++;
  }

  /** Drops one reference and frees the frame when it was the last. Returns true if freed. */
  put(pfn: number): boolean {
    if (--this.refcount[pfn] > 0) return false;
    this.free(pfn);
    return true;
  }

  /** Byte at `offset` of frame `pfn`. */
  read8(pfn: number, offset: number): number {
    const c = this.data[pfn];
    return c < 0 ? 0 : this.content.read8(c, offset);
  }

  /** Stores a byte; the first non-zero store gives the frame its content chunk. */
  write8(pfn: number, offset: number, value: number): void {
    let c = this.data[pfn];
    if (c < 0) {
      if ((value & 0xff) === 0) return;
      c = this.content.alloc();
      this.data[pfn] = c;
    }
    this.content.write8(c, offset, value);
  }

  /** Stores `src[from .. from+n)` at `offset` of frame `pfn` (within the page), as write8 would byte by byte. */
  writeBytes(pfn: number, offset: number, src: Uint8Array, from: number, n: number): void {
    let c = this.data[pfn];
    if (c < 0) {
      let zeros = true;
      for (let i = 0; i < n && zeros; i++) zeros = src[from + i] === 0;
      if (zeros) return;
      c = this.content.alloc();
      this.data[pfn] = c;
    }
    this.content.writeRange(c, offset, src, from, n);
  }

  /** Makes `dst` hold a copy of `src`'s contents. */
  copyContent(dst: number, src: number): void {
    if (dst === src) return;
    this.dropContent(dst);
    const chunk = this.data[src];
    if (chunk >= 0) this.data[dst] = this.content.duplicate(chunk);
  }

  /** Zero-fills a frame, giving its chunk back. */
  dropContent(pfn: number): void {
    const chunk = this.data[pfn];
    if (chunk >= 0) {
      this.content.free(chunk);
      this.data[pfn] = -1;
    }
  }

  /** Takes the frame's chunk away (it reads as zeros afterwards); -1 when it had none. */
  takeContent(pfn: number): number {
    const chunk = this.data[pfn];
    this.data[pfn] = -1;
    return chunk;
  }

  /** Gives the frame a chunk taken elsewhere (its old one is dropped). */
  giveContent(pfn: number, chunk: number): void {
    this.dropContent(pfn);
    this.data[pfn] = chunk;
  }

  /** Bytes of metadata kept per frame, for the benchmark's memory figure. */
  static readonly METADATA_BYTES_PER_FRAME = 4 + 4 + 1 + 1 + 4 + 4 + 4;
}

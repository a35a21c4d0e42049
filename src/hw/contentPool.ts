import { PAGE_SIZE } from './pte.js';

/**
 * Storage for page contents, 4 KiB chunks in one growable byte array, so that a page
 * never written costs nothing and a written one costs exactly its bytes. Frames and swap
 * slots refer to chunks by number; moving a page between them moves the number, not
 * the bytes.
 * @internal
 */
export class ContentPool {
  /** The chunks, back to back. Re-read after {@link alloc}: growth replaces the array. */
  bytes: Uint8Array;
  private freeChunks: Int32Array;
  private freeTop: number;
  private capacity: number;
  private used: number;

  constructor(initialChunks = 64) {
    this.capacity = initialChunks;
    this.bytes = new Uint8Array(initialChunks * PAGE_SIZE);
    this.freeChunks = new Int32Array(initialChunks);
    this.freeTop = 0;
    this.used = 0;
  }

  /** Chunks holding data now. */
  get chunksInUse(): number {
    return this.used - this.freeTop;
  }

  /** A zero-filled chunk. */
  alloc(): number {
    if (this.freeTop > 0) {
      const chunk = this.freeChunks[--this.freeTop]!;
      this.bytes.fill(0, chunk * PAGE_SIZE, (chunk + 1) * PAGE_SIZE);
      return chunk;
    }
    if (this.used === this.capacity) this.grow();
    return this.used++;
  }

  /** A new chunk holding a copy of `chunk`. */
  duplicate(chunk: number): number {
    const copy = this.alloc();
    this.bytes.copyWithin(copy * PAGE_SIZE, chunk * PAGE_SIZE, (chunk + 1) * PAGE_SIZE);
    return copy;
  }

  /** Returns a chunk to the pool. */
  free(chunk: number): void {
    if (this.freeTop === this.freeChunks.length) {
      const bigger = new Int32Array(this.freeChunks.length * 2);
      bigger.set(this.freeChunks);
      this.freeChunks = bigger;
    }
    this.freeChunks[this.freeTop++] = chunk;
  }

  private grow(): void {
    this.capacity *= 2;
    const bigger = new Uint8Array(this.capacity * PAGE_SIZE);
    bigger.set(this.bytes);
    this.bytes = bigger;
  }
}

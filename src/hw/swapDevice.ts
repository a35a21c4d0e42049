/**
 * A swap device: numbered slots of one page each. A slot holds a content id of the
 * machine's ContentPool (or -1 for a page of zeros): writing a page out moves the id
 * from the frame to the slot, reading it in moves it back — the bytes never change.
 * Which slots are in use, and by whom, is the kernel's business.
 */
export class SwapDevice {
  /** Number of slots (pages). */
  readonly slots: number;
  /** Content held by each slot; -1 for zeros. */
  readonly content: Int32Array;
  /** Pages written out. */
  writes = 0;
  /** Pages read in. */
  reads = 0;

  constructor(pages: number) {
    this.slots = pages;
    this.content = new Int32Array(pages).fill(-1);
  }

  /** Writes a page out: the slot owns `content` from now on. */
  store(slot: number, content: number): void {
    if (this.content[slot] !== -1) throw new Error(`mmsim bug: swap slot ${slot} overwritten`);
    this.content[slot] = content;
    this.writes++;
  }

  /** Reads a page in: returns the content and forgets it (the frame owns it now). */
  take(slot: number): number {
    const c = this.content[slot];
    this.content[slot] = -1;
    this.reads++;
    return c;
  }

  /** Drops the slot's page without reading it (the slot was freed); returns its content to free, or -1. */
  discard(slot: number): number {
    const c = this.content[slot];
    this.content[slot] = -1;
    return c;
  }

  /** The content of `slot` without taking it; -1 for zeros. */
  peek(slot: number): number {
    return this.content[slot];
  }
}

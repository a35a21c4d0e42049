import { PAGE_SIZE } from './pte.js';

/** Bytes per line: the unit in which page contents are stored. */
export const LINE_SIZE = 128;
const LINE_SHIFT = 7;
const LINES_PER_PAGE = PAGE_SIZE / LINE_SIZE;
const LINES_PER_PAGE_SHIFT = 5;
/** Contents per table segment, and lines per line segment (powers of two). */
const SEGMENT_SHIFT = 14;
const SEGMENT_MASK = (1 << SEGMENT_SHIFT) - 1;

/**
 * Storage for page contents, sparse twice over: a page never written has no content at
 * all, and a written page stores only the 128-byte lines that ever held a non-zero byte.
 * A model that wrote 4 KiB of real memory per modelled page would pay a real page fault
 * per modelled one; this pays a few hundred bytes.
 *
 * Storage grows by whole segments that never move, so growth copies nothing.
 * Frames, swap slots and file blocks all refer to contents by id, so moving a page
 * between them (swap-out, swap-in, writeback) moves a number, not bytes.
 * @internal
 */
export class ContentPool {
  /** Per content, LINES_PER_PAGE line ids (+1; 0 means a line of zeros), in segments of 2^14 contents. */
  private readonly tables: Int32Array[] = [];
  /** Line bytes, in segments of 2^14 lines. */
  private readonly lines: Uint8Array[] = [];
  private readonly freeContents: number[] = [];
  private readonly freeLines: number[] = [];
  private contentsUsed = 0;
  private linesUsed = 0;

  /** Contents allocated now. */
  get contentsInUse(): number {
    return this.contentsUsed - this.freeContents.length;
  }

  /** Bytes of line storage in use now. */
  get bytesInUse(): number {
    return (this.linesUsed - this.freeLines.length) * LINE_SIZE;
  }

  /** A new all-zero content. */
  alloc(): number {
    const reused = this.freeContents.pop();
    if (reused !== undefined) {
      const base = (reused & SEGMENT_MASK) << LINES_PER_PAGE_SHIFT;
      this.tables[reused >>> SEGMENT_SHIFT].fill(0, base, base + LINES_PER_PAGE);
      return reused;
    }
    const c = this.contentsUsed++;
    // A fresh segment is zero-filled already.
    if ((c & SEGMENT_MASK) === 0) this.tables.push(new Int32Array(LINES_PER_PAGE << SEGMENT_SHIFT));
    return c;
  }

  /** Frees a content and its lines. */
  free(c: number): void {
    const table = this.tables[c >>> SEGMENT_SHIFT];
    const base = (c & SEGMENT_MASK) << LINES_PER_PAGE_SHIFT;
    for (let i = 0; i < LINES_PER_PAGE; i++) {
      const l = table[base + i];
      if (l !== 0) this.freeLines.push(l - 1);
    }
    this.freeContents.push(c);
  }

  /** A new content equal to `c`. */
  duplicate(c: number): number {
    const copy = this.alloc();
    const from = this.tables[c >>> SEGMENT_SHIFT];
    const fromBase = (c & SEGMENT_MASK) << LINES_PER_PAGE_SHIFT;
    const to = this.tables[copy >>> SEGMENT_SHIFT];
    const toBase = (copy & SEGMENT_MASK) << LINES_PER_PAGE_SHIFT;
    for (let i = 0; i < LINES_PER_PAGE; i++) {
      const l = from[fromBase + i];
      if (l === 0) continue;
      const nl = this.allocLine();
      const src = this.lines[(l - 1) >>> SEGMENT_SHIFT];
      const srcOff = ((l - 1) & SEGMENT_MASK) << LINE_SHIFT;
      this.lines[nl >>> SEGMENT_SHIFT].set(src.subarray(srcOff, srcOff + LINE_SIZE), (nl & SEGMENT_MASK) << LINE_SHIFT);
      to[toBase + i] = nl + 1;
    }
    return copy;
  }

  /** Byte `offset` (0..4095) of content `c`. */
  read8(c: number, offset: number): number {
    const l = this.tables[c >>> SEGMENT_SHIFT][((c & SEGMENT_MASK) << LINES_PER_PAGE_SHIFT) + (offset >>> LINE_SHIFT)] - 1;
    return l < 0 ? 0 : this.lines[l >>> SEGMENT_SHIFT][((l & SEGMENT_MASK) << LINE_SHIFT) + (offset & (LINE_SIZE - 1))];
  }

  /** Stores a byte; a zero stored into a line of zeros allocates nothing. */
  write8(c: number, offset: number, value: number): void {
    const table = this.tables[c >>> SEGMENT_SHIFT];
    const ti = ((c & SEGMENT_MASK) << LINES_PER_PAGE_SHIFT) + (offset >>> LINE_SHIFT);
    let l = table[ti] - 1;
    if (l < 0) {
      if ((value & 0xff) === 0) return;
      l = this.allocLine();
      table[ti] = l + 1;
    }
    this.lines[l >>> SEGMENT_SHIFT][((l & SEGMENT_MASK) << LINE_SHIFT) + (offset & (LINE_SIZE - 1))] = value;
  }

  /**
   * Stores `src[from .. from+n)` at `offset` of content `c` a line at a time, as
   * {@link write8} would byte by byte: a line of zeros stays unallocated while only zeros
   * are written into it.
   */
  writeRange(c: number, offset: number, src: Uint8Array, from: number, n: number): void {
    const table = this.tables[c >>> SEGMENT_SHIFT];
    const tableBase = (c & SEGMENT_MASK) << LINES_PER_PAGE_SHIFT;
    let done = 0;
    while (done < n) {
      const at = offset + done;
      const inLine = at & (LINE_SIZE - 1);
      const m = Math.min(n - done, LINE_SIZE - inLine);
      const ti = tableBase + (at >>> LINE_SHIFT);
      let l = table[ti] - 1;
      if (l < 0) {
        let zeros = true;
        for (let i = 0; i < m && zeros; i++) zeros = src[from + done + i] === 0;
        if (zeros) {
          done += m;
          continue;
        }
        l = this.allocLine();
        table[ti] = l + 1;
      }
      this.lines[l >>> SEGMENT_SHIFT].set(src.subarray(from + done, from + done + m), ((l & SEGMENT_MASK) << LINE_SHIFT) + inLine);
      done += m;
    }
  }

  /** True when no line of `c` was ever written with a non-zero byte. */
  isEmpty(c: number): boolean {
    const table = this.tables[c >>> SEGMENT_SHIFT];
    const base = (c & SEGMENT_MASK) << LINES_PER_PAGE_SHIFT;
    for (let i = 0; i < LINES_PER_PAGE; i++) if (table[base + i] !== 0) return false;
    return true;
  }

  private allocLine(): number {
    const l = this.freeLines.pop();
    if (l !== undefined) {
      const off = (l & SEGMENT_MASK) << LINE_SHIFT;
      this.lines[l >>> SEGMENT_SHIFT].fill(0, off, off + LINE_SIZE);
      return l;
    }
    const n = this.linesUsed++;
    if ((n & SEGMENT_MASK) === 0) this.lines.push(new Uint8Array(LINE_SIZE << SEGMENT_SHIFT));
    return n;
  }
}

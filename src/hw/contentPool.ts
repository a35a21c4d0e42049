import { PAGE_SIZE } from './pte.js';

/** Bytes per line: the unit in which page contents are stored. */
export const LINE_SIZE = 64;
const LINES_PER_PAGE = PAGE_SIZE / LINE_SIZE;
const LINE_SHIFT = 6;

/**
 * Storage for page contents, sparse twice over: a page never written has no content at
 * all, and a written page stores only the 64-byte lines that ever held a non-zero byte.
 * A model that wrote 4 KiB of real memory per modelled page would pay a real page fault
 * per modelled one; this pays a few hundred bytes.
 *
 * Frames, swap slots and file blocks all refer to contents by id, so moving a page
 * between them (swap-out, swap-in, writeback) moves a number, not bytes.
 * @internal
 */
export class ContentPool {
  /** For content `c`, `tables[c * 64 + line]` is the line id holding that line, or -1 for zeros. */
  private tables: Int32Array;
  /** Line bytes, `lines[l * 64 + byte]`. */
  private lines: Uint8Array;
  private readonly freeContents: number[] = [];
  private readonly freeLines: number[] = [];
  private contentsUsed = 0;
  private linesUsed = 0;

  constructor(initialContents = 64) {
    this.tables = new Int32Array(initialContents * LINES_PER_PAGE);
    this.lines = new Uint8Array(initialContents * 4 * LINE_SIZE);
  }

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
    let c = this.freeContents.pop();
    if (c === undefined) {
      c = this.contentsUsed++;
      if (this.contentsUsed * LINES_PER_PAGE > this.tables.length) this.tables = growInt32(this.tables, -1);
    }
    this.tables.fill(-1, c * LINES_PER_PAGE, (c + 1) * LINES_PER_PAGE);
    return c;
  }

  /** Frees a content and its lines. */
  free(c: number): void {
    const base = c * LINES_PER_PAGE;
    for (let i = 0; i < LINES_PER_PAGE; i++) {
      const l = this.tables[base + i];
      if (l >= 0) this.freeLines.push(l);
    }
    this.freeContents.push(c);
  }

  /** A new content equal to `c`. */
  duplicate(c: number): number {
    const copy = this.alloc();
    const from = c * LINES_PER_PAGE;
    const to = copy * LINES_PER_PAGE;
    for (let i = 0; i < LINES_PER_PAGE; i++) {
      const l = this.tables[from + i];
      if (l < 0) continue;
      const nl = this.allocLine();
      this.lines.copyWithin(nl * LINE_SIZE, l * LINE_SIZE, (l + 1) * LINE_SIZE);
      this.tables[to + i] = nl;
    }
    return copy;
  }

  /** Byte `offset` (0..4095) of content `c`. */
  read8(c: number, offset: number): number {
    const l = this.tables[c * LINES_PER_PAGE + (offset >>> LINE_SHIFT)];
    return l < 0 ? 0 : this.lines[l * LINE_SIZE + (offset & (LINE_SIZE - 1))];
  }

  /** Stores a byte; a zero stored into a line of zeros allocates nothing. */
  write8(c: number, offset: number, value: number): void {
    const ti = c * LINES_PER_PAGE + (offset >>> LINE_SHIFT);
    let l = this.tables[ti];
    if (l < 0) {
      if ((value & 0xff) === 0) return;
      l = this.allocLine();
      this.tables[ti] = l;
    }
    this.lines[l * LINE_SIZE + (offset & (LINE_SIZE - 1))] = value;
  }

  /** True when every byte of `c` is zero as far as storage knows (no line allocated). */
  isEmpty(c: number): boolean {
    const base = c * LINES_PER_PAGE;
    for (let i = 0; i < LINES_PER_PAGE; i++) if (this.tables[base + i] >= 0) return false;
    return true;
  }

  private allocLine(): number {
    const l = this.freeLines.pop();
    if (l !== undefined) {
      this.lines.fill(0, l * LINE_SIZE, (l + 1) * LINE_SIZE);
      return l;
    }
    const n = this.linesUsed++;
    if (this.linesUsed * LINE_SIZE > this.lines.length) {
      const bigger = new Uint8Array(this.lines.length * 2);
      bigger.set(this.lines);
      this.lines = bigger;
    }
    return n;
  }
}

function growInt32(a: Int32Array, fill: number): Int32Array {
  const bigger = new Int32Array(a.length * 2).fill(fill);
  bigger.set(a);
  return bigger;
}

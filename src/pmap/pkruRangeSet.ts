import { SpanNode, SpanTree } from '../ds/spanTree.js';
import { type Pmap, type PmapExtension } from './pmap.js';

/** sysarch(AMD64_SET_PKRU) flag: fail with EBUSY when any key is already set in the range. */
export const AMD64_PKRU_EXCL = 0x1;
/** sysarch(AMD64_SET_PKRU) flag: the key outlives munmap (only AMD64_CLEAR_PKRU removes it). */
export const AMD64_PKRU_PERSIST = 0x2;

/** One keyed range (FreeBSD struct pmap_pkru_range). */
export class KeyRange extends SpanNode {
  constructor(
    start: number,
    end: number,
    readonly key: number,
    /** AMD64_PKRU_PERSIST or 0; EXCL only matters when the range is made. */
    readonly flags: number,
  ) {
    super(start, end);
  }

  get persist(): boolean {
    return (this.flags & AMD64_PKRU_PERSIST) !== 0;
  }
}

/** Where the range set lives and how it behaves when pmap_remove() runs. */
export interface PkruRangeSetOptions {
  /**
   * FreeBSD before commit 1e0e335b0f0d: every pmap_remove() — swap-out, mprotect(PROT_NONE),
   * msync(MS_INVALIDATE) — dropped the non-PERSIST keys of its span, not only a logical unmap.
   */
  readonly dropKeysOnRemove: boolean;
}

const notPersist = (r: KeyRange): boolean => !r.persist;

/**
 * FreeBSD amd64's per-pmap PKRU range set (pm_pkru, a rangeset(9) of pmap_pkru_range):
 * non-overlapping half-open ranges of user addresses, each with a key and flags. Keys
 * belong to address ranges, not to mappings: a range may cover unmapped addresses, and
 * every PTE entered inside it takes its key. Lookups and updates are O(log n).
 *
 * As a {@link PmapExtension} it follows the vm_map events the pmap sees: pmap_remove()
 * keeps keys (unless the pre-fix variant is on), pmap_map_delete() drops non-PERSIST
 * keys, fork copies the set, exec and exit drop all of it.
 */
export class PkruRangeSet implements PmapExtension {
  private readonly ranges = new SpanTree<KeyRange>();

  constructor(readonly options: PkruRangeSetOptions) {}

  /** The range set of a pmap, or null when it keeps none (the linux personality). */
  static of(pmap: Pmap): PkruRangeSet | null {
    return pmap.extension instanceof PkruRangeSet ? pmap.extension : null;
  }

  /** Number of ranges. */
  get size(): number {
    return this.ranges.size;
  }

  /** pmap_pkru_get(): the key PTEs at `va` get; 0 where no range covers it. */
  keyAt(va: number): number {
    const r = this.ranges.findContaining(va);
    return r === undefined ? 0 : r.key;
  }

  /** The range covering `va`, if any. */
  rangeAt(va: number): KeyRange | undefined {
    return this.ranges.findContaining(va);
  }

  /** True when no range, of any key (0 included), meets [start, end). */
  isEmpty(start: number, end: number): boolean {
    const r = this.ranges.findFirstEndAfter(start);
    return r === undefined || r.start >= end;
  }

  /**
   * FreeBSD rangeset_check_empty() as AMD64_PKRU_EXCL uses it: the range with the largest
   * start at or below `end` must end at or below `start`. The lookup includes `end`, so a
   * range that begins exactly where the new one ends — adjacent, not overlapping — also
   * counts as taken (sys/kern/subr_rangeset.c, LOOKUP_LE(end)).
   */
  private exclusiveFree(start: number, end: number): boolean {
    const r = this.ranges.findLastStartBefore(end + 1);
    return r === undefined || r.end <= start;
  }

  /**
   * pmap_pkru_assign(): gives [start, end) key `key`, replacing whatever keys were there
   * (the insert removes first). With AMD64_PKRU_EXCL any range already meeting the span
   * — key 0 counts, and so does one starting right at `end` — makes it fail with 'busy'
   * and change nothing.
   */
  assign(start: number, end: number, key: number, flags: number): 'busy' | 'ok' {
    if (flags & AMD64_PKRU_EXCL && !this.exclusiveFree(start, end)) return 'busy';
    this.remove(start, end, null);
    this.ranges.insert(new KeyRange(start, end, key, flags & AMD64_PKRU_PERSIST));
    return 'ok';
  }

  /**
   * rangeset_remove_pred(): removes the parts of ranges inside [start, end) that satisfy
   * `pred` (all when null), trimming ranges that stick out on either side and splitting
   * one that covers the span with room to spare.
   */
  remove(start: number, end: number, pred: ((r: KeyRange) => boolean) | null): void {
    let r = this.ranges.findFirstEndAfter(start);
    while (r !== undefined && r.start < end) {
      const next = r.nextSpan;
      if (pred === null || pred(r)) {
        if (r.start < start && r.end > end) {
          const tail = new KeyRange(end, r.end, r.key, r.flags);
          r.end = start;
          this.ranges.adjusted(r);
          this.ranges.insertAfter(r, tail);
          return;
        }
        if (r.start < start) {
          r.end = start;
          this.ranges.adjusted(r);
        } else if (r.end > end) {
          r.start = end;
          this.ranges.adjusted(r);
        } else {
          this.ranges.remove(r);
        }
      }
      r = next;
    }
  }

  /**
   * pmap_pkru_same(): whether every address of [start, end) has the same key — one range
   * covers it all, or none meets it. A superpage may only be made over such a span. Like
   * FreeBSD, no range and an explicit key-0 range differ here, though both mean key 0.
   */
  uniformOver(start: number, end: number): boolean {
    let r = this.ranges.findFirstEndAfter(start);
    if (r === undefined || r.start >= end) return true;
    if (r.start > start) return false;
    const key = r.key;
    // Abutting ranges with the same key are as good as one.
    while (r.end < end) {
      const next: KeyRange | undefined = r.nextSpan;
      if (next === undefined || next.start !== r.end || next.key !== key) return false;
      r = next;
    }
    return true;
  }

  /** The ranges in address order. */
  *entries(): IterableIterator<KeyRange> {
    for (let r = this.ranges.first(); r !== undefined; r = r.nextSpan) yield r;
  }

  onRemove(start: number, end: number): void {
    if (this.options.dropKeysOnRemove) this.remove(start, end, notPersist);
  }

  onMapDelete(start: number, end: number): void {
    this.remove(start, end, notPersist);
  }

  /** pmap_pkru_copy() at fork (pmap_vmspace_copy()): the child gets every range. */
  copyTo(child: Pmap): void {
    const copy = new PkruRangeSet(this.options);
    let prev: KeyRange | undefined;
    for (const r of this.entries()) {
      const c = new KeyRange(r.start, r.end, r.key, r.flags);
      copy.ranges.insertAfter(prev, c);
      prev = c;
    }
    child.extension = copy;
  }

  /** pmap_pkru_deassign_all(): exec and exit drop every key, PERSIST included. */
  onDestroy(): void {
    for (let r = this.ranges.first(); r !== undefined; r = this.ranges.first()) this.ranges.remove(r);
  }
}

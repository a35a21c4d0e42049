/**
 * An ordered set of non-overlapping half-open address spans — a process's VMAs — kept in
 * a B+-tree with wide nodes, after Linux's maple tree (lib/maple_tree.c), which replaced
 * the VMA rb-tree for the same reason: a binary tree of 100k VMAs is 17 levels of
 * pointer chasing, one likely cache miss each, on every lookup, insert and removal.
 *
 * Layout. Items (VMAs) sit in leaves, up to {@link CAP} per leaf, in address order; an
 * internal node holds up to {@link CAP} children. Nodes are not objects: a node is an
 * integer id naming a fixed-size block of one per-tree `Float64Array` (with an
 * `Int32Array` view of the same buffer), so the keys of a node are contiguous and
 * reaching a node costs no pointer dereference beyond its own cache lines:
 *
 *   - header (64 bytes): entry count, parent id, height (leaves are 1), free-list link,
 *     and the node's own summary (last end, max gap) — a copy of what its parent records,
 *     so an update that leaves a node's summary unchanged never touches the parent;
 *   - leaf: each item's `start` and `end`, and in the header the `end` of the item before
 *     the leaf's first (0 for the first leaf), so every item's own gap (`start - prev.end`)
 *     follows from the leaf alone; item references sit in a parallel plain array
 *     (`leaf * CAP + slot`);
 *   - internal: each child's id, its subtree's last `end` and its subtree's largest gap.
 *
 * The per-child max gap is the maple tree's `gap` array (the rb-tree's `rb_subtree_gap`),
 * so `findGapTopDown`/`findGapBottomUp` skip whole subtrees and stay O(log n). Every
 * lookup descends by `end` keys only, the way `find_vma()` does.
 *
 * The `end` keys are kept exact at every update. The max gaps are kept lazily: an update
 * only marks its leaf and the leaf's ancestors dirty, stopping at the first one already
 * dirty, and the next gap search first re-summarises the dirty nodes (and only those).
 * mprotect/munmap traffic opens and closes holes on every split and merge, which would
 * otherwise carry a changed max gap to the root each time, while gap searches (mmap
 * without MAP_FIXED) are comparatively rare; the search pays O(CAP) per node dirtied
 * since the last one, i.e. O(log n) amortised per update.
 *
 * Items keep an O(1) doubly-linked list in address order (`prevSpan`/`nextSpan`) and the
 * id of their leaf, so remove/adjusted find their slot with one short scan, no descent.
 * Nodes split when full (evenly, or skewed for appends at either end, so that ascending
 * or descending fills leave nodes ¾ full) and merge with or borrow from a sibling below
 * {@link MIN_FILL} entries (with hysteresis, so an insert/remove pair at a boundary
 * cannot thrash). Freed node blocks go to a free list; the buffer grows by doubling and
 * never shrinks. An emptied tree keeps its root leaf, so going between empty and one
 * item allocates nothing.
 *
 * @module
 */

const PAGE = 4096;

/** Largest number of entries (items or children) in a node. A power of two. */
const CAP = 16;
const LOG2_CAP = 4;
/**
 * A non-root node with fewer entries than this merges with or borrows from a sibling. At
 * least 2, so that every non-root node has a sibling, and at most CAP / 2 (split halves).
 */
const MIN_FILL = 4;
/**
 * Two siblings merge when their entries fit in this many, otherwise they share evenly:
 * below CAP, so a merge is not split again by the next insert, and at least
 * 2 * MIN_FILL - 1, so an even share gives each at least MIN_FILL.
 */
const MERGE_MAX = 12;

// A node block, in doubles: header, then three arrays of CAP.
const HDR = 8;
/** Leaf: item starts. Internal: child ids, in the Int32Array view (int index 2*(b+OFF_S)+k). */
const OFF_S = HDR;
/** Leaf: item ends. Internal: the last end of each child's subtree. */
const OFF_E = HDR + CAP;
/** Internal only: the largest own gap in each child's subtree. */
const OFF_G = HDR + 2 * CAP;
const STRIDE = HDR + 3 * CAP;
/** Header doubles: the node's own summary (last end, max gap), as its parent records it. */
const H_END = 2;
const H_GAP = 3;
/** Leaf header double: the end of the item before the leaf's first item, or 0. */
const H_PREV = 4;
// Header fields, in the Int32Array view, relative to 2 * block (doubles 0, 1 and 5).
const I_COUNT = 0;
const I_PARENT = 1;
const I_HEIGHT = 2;
/** Next free block, -1 at the end of the free list; LIVE while in use. */
const I_FREE = 3;
/** 1 while the node's max-gap summary (header and parent entry) may be stale. */
const I_DIRTY = 10;
const I_KIDS = 2 * OFF_S;
const LIVE = -2;

const EMPTY_BUFFER = new ArrayBuffer(0);

/** Formats a span for error messages. */
function fmtSpan(start: number, end: number): string {
  return `[0x${start.toString(16)}, 0x${end.toString(16)})`;
}

// Exact for a power-of-two `align` on doubles: the division only shifts the exponent.
function alignUp(x: number, align: number): number {
  return Math.ceil(x / align) * align;
}

function alignDown(x: number, align: number): number {
  return Math.floor(x / align) * align;
}

function isPowerOfTwoAtLeastPage(align: number): boolean {
  if (!(align >= PAGE) || !Number.isInteger(align)) return false;
  // Bitwise tricks would truncate to 32 bits, and alignments above 2^31 are legitimate.
  let x = align;
  while (x % 2 === 0) x /= 2;
  return x === 1;
}

/**
 * Where a full node splits when an entry is about to go in at `slot`: evenly, except
 * that an insertion at either end leaves the other side ¾ full (sequential fills).
 * Both halves keep at least MIN_FILL entries.
 */
function splitPoint(slot: number): number {
  if (slot >= CAP - 1) return CAP - MIN_FILL;
  if (slot <= 1) return MIN_FILL;
  return CAP >> 1;
}

/**
 * Base class for items held in a {@link SpanTree}: the tree's links live inside the item
 * (intrusive), so looking up never allocates and inserting allocates nothing per item.
 *
 * Subclass it (e.g. a VMA) and add your own fields after calling `super()`. An item can be
 * in at most one tree at a time; after {@link SpanTree.remove} it may be inserted again.
 *
 * Fields whose names start with `_` belong to the tree: never write them.
 */
export class SpanNode {
  /** Inclusive start address. Change it in place only as {@link SpanTree.adjusted} allows. */
  start: number;
  /** Exclusive end address. Change it in place only as {@link SpanTree.adjusted} allows. */
  end: number;
  /** @internal Predecessor in address order. */
  _prev: SpanNode | null;
  /** @internal Successor in address order. */
  _next: SpanNode | null;
  /** @internal The tree holding this item, or null. */
  _tree: SpanTree<SpanNode> | null;
  /** @internal Id of the leaf holding this item, or -1. */
  _leaf: number;

  /**
   * @param start - inclusive start address (a multiple of 4096 by convention)
   * @param end - exclusive end address, greater than `start`
   */
  constructor(start: number, end: number) {
    // Every field is set here, always in this order, so all items share one hidden class.
    this.start = start;
    this.end = end;
    this._prev = null;
    this._next = null;
    this._tree = null;
    this._leaf = -1;
  }

  /** The item just below this one in its tree, in O(1); undefined if first or not in a tree. */
  get prevSpan(): this | undefined {
    const p = this._prev;
    return p === null ? undefined : (p as this);
  }

  /** The item just above this one in its tree, in O(1); undefined if last or not in a tree. */
  get nextSpan(): this | undefined {
    const n = this._next;
    return n === null ? undefined : (n as this);
  }

  /**
   * @internal Debugging view of the gap augmentation recorded for the leaf holding this
   * item (the largest own gap among its items), 0 outside a tree. Writing it corrupts the
   * tree on purpose, for tests of {@link SpanTree.checkInvariants}.
   */
  get _maxGap(): number {
    const t = this._tree;
    return t === null ? 0 : t._recordedGap(this, Number.NaN);
  }

  set _maxGap(v: number) {
    const t = this._tree;
    if (t !== null) t._recordedGap(this, v);
  }

  /**
   * @internal Debugging view of the height recorded for the leaf holding this item (1),
   * 0 outside a tree. Writing it corrupts the tree on purpose, for tests.
   */
  get _height(): number {
    const t = this._tree;
    return t === null ? 0 : t._recordedHeight(this, Number.NaN);
  }

  set _height(v: number) {
    const t = this._tree;
    if (t !== null) t._recordedHeight(this, v);
  }
}

/**
 * A balanced search tree of non-overlapping half-open spans `[start, end)` ordered by
 * address, augmented for O(log n) free-gap searches.
 *
 * Complexity: `insert`, `insertAfter`, `remove`, `adjusted` and the `find*` lookups are
 * O(log n), with a fan-out of 4..16; the gap searches are O(log n) (with the default 4096
 * alignment) plus the lazy re-summarising of what changed since the previous search,
 * O(log n) amortised per update; `first`, `last`, `size`, `prevSpan`, `nextSpan` are
 * O(1); `overlapping` is O(log n + k). Lookups never allocate; inserts allocate only
 * when node storage has to grow. Behaviour is deterministic.
 *
 * Addresses are plain numbers: non-negative integers, by convention multiples of 4096
 * below 2^57. Page multiples in that range, and their sums and differences, are exact in
 * doubles; arbitrary integers are only exact below 2^53.
 *
 * @typeParam T - the item type, a subclass of {@link SpanNode}
 */
export class SpanTree<T extends SpanNode> {
  /** Node blocks, STRIDE doubles each. */
  private _f: Float64Array;
  /** The same buffer as int32: headers and child ids. */
  private _i: Int32Array;
  /** Leaf slots: the item at `leaf * CAP + slot`, null when unused. */
  private _items: Array<SpanNode | null>;
  /** Node blocks the buffer holds. */
  private _capacity: number;
  /** Node blocks ever handed out; ids at or above this have never been used. */
  private _used: number;
  /** First block of the free list, or -1. */
  private _freeHead: number;
  /** Root node id, or -1 when empty. */
  private _top: number;
  /** Levels: 0 when empty, 1 when the root is a leaf. */
  private _depth: number;
  private _first: SpanNode | null;
  private _last: SpanNode | null;
  private _size: number;
  // The last item looked up, inserted or adjusted, checked before descending, like
  // Linux's per-mm vmacache: faults and syscalls hit the same VMA over and over, and a
  // split's upper half goes in right after the lower half just adjusted.
  private _hint: SpanNode | null;

  /** Creates an empty tree (no storage until the first insert). */
  constructor() {
    this._f = new Float64Array(EMPTY_BUFFER);
    this._i = new Int32Array(EMPTY_BUFFER);
    this._items = [];
    this._capacity = 0;
    this._used = 0;
    this._freeHead = -1;
    this._top = -1;
    this._depth = 0;
    this._first = null;
    this._last = null;
    this._size = 0;
    this._hint = null;
  }

  /** Number of items in the tree. */
  get size(): number {
    return this._size;
  }

  /** The lowest item, or undefined if the tree is empty. O(1). */
  first(): T | undefined {
    const n = this._first;
    return n === null ? undefined : (n as T);
  }

  /** The highest item, or undefined if the tree is empty. O(1). */
  last(): T | undefined {
    const n = this._last;
    return n === null ? undefined : (n as T);
  }

  /**
   * Adds `item`, keyed by its current `[start, end)`. O(log n); O(1) plus a scan of one
   * leaf when `item` goes right after the item last looked up, inserted or adjusted (a
   * VMA split).
   *
   * @throws Error if `item` is already in a tree, if `start < 0` or `start >= end`, or if
   *   the span overlaps an item already present (all bugs in the caller); the tree is
   *   left unchanged.
   */
  insert(item: T): void {
    const start = item.start;
    const end = item.end;
    checkNewItem('insert', item, start, end);
    const h = this._hint;
    if (h !== null && h.end <= start) {
      const nx = h._next;
      if (nx === null || end <= nx.start) {
        const leaf = h._leaf;
        this.insertAt(leaf, this.slotOf(leaf, h) + 1, item);
        this._hint = item;
        return;
      }
    }
    const last = this._last;
    const at = last === null || last.end <= start ? -1 : this.locateEndAbove(start);
    if (at >= 0) {
      // The first item ending above `start`: the new span goes just before it, after an
      // item ending at or below `start`, so it is the only one that could overlap.
      const leaf = at >>> LOG2_CAP;
      const slot = at & (CAP - 1);
      if (this._f[leaf * STRIDE + OFF_S + slot] < end) {
        const x = this._items[at] as SpanNode;
        throw new Error(`SpanTree.insert: ${fmtSpan(start, end)} overlaps existing ${fmtSpan(x.start, x.end)}`);
      }
      this.insertAt(leaf, slot, item);
    } else {
      this.append(item);
    }
    this._hint = item;
  }

  /**
   * Adds `item` right after `prev` (at the front when `prev` is undefined) without
   * searching: for a split's upper half, whose lower neighbour is known. O(1) plus a scan
   * of one leaf, and O(log n) only when a node splits or the leaf's last end changes.
   * Same result as {@link SpanTree.insert}.
   *
   * @throws Error if `item` is already in a tree or is an invalid span, if `prev` is not
   *   in this tree, or if `item` does not fit between `prev` and its successor (overlap or
   *   wrong place); the tree is left unchanged.
   */
  insertAfter(prev: T | undefined, item: T): void {
    const start = item.start;
    const end = item.end;
    checkNewItem('insertAfter', item, start, end);
    let nx: SpanNode | null;
    if (prev === undefined) {
      nx = this._first;
    } else {
      if (prev._tree !== this) {
        throw new Error(`SpanTree.insertAfter: prev ${fmtSpan(prev.start, prev.end)} is not in this tree`);
      }
      if (start < prev.end) {
        throw new Error(
          end > prev.start
            ? `SpanTree.insertAfter: ${fmtSpan(start, end)} overlaps existing ${fmtSpan(prev.start, prev.end)}`
            : `SpanTree.insertAfter: ${fmtSpan(start, end)} is not above prev ${fmtSpan(prev.start, prev.end)}`,
        );
      }
      nx = prev._next;
    }
    if (nx !== null && end > nx.start) {
      throw new Error(
        start < nx.end
          ? `SpanTree.insertAfter: ${fmtSpan(start, end)} overlaps existing ${fmtSpan(nx.start, nx.end)}`
          : `SpanTree.insertAfter: ${fmtSpan(start, end)} is not directly after prev: ${fmtSpan(nx.start, nx.end)} lies between`,
      );
    }
    if (prev !== undefined) {
      const leaf = prev._leaf;
      this.insertAt(leaf, this.slotOf(leaf, prev) + 1, item);
    } else if (nx !== null) {
      this.insertAt(nx._leaf, 0, item);
    } else {
      this.append(item);
    }
    this._hint = item;
  }

  /**
   * Removes `item` from the tree; afterwards it is free to be inserted again. O(log n),
   * usually O(1) plus a scan of one leaf.
   *
   * @throws Error if `item` is not in this tree.
   */
  remove(item: T): void {
    if (item._tree !== this) {
      throw new Error(`SpanTree.remove: ${fmtSpan(item.start, item.end)} is not in this tree`);
    }
    const leaf = item._leaf;
    const slot = this.slotOf(leaf, item);
    const p = item._prev;
    const s = item._next;
    if (p === null) this._first = s;
    else p._next = s;
    if (s === null) this._last = p;
    else s._prev = p;

    const f = this._f;
    const iv = this._i;
    const items = this._items;
    const b = leaf * STRIDE;
    const base = leaf * CAP;
    const n = iv[2 * b + I_COUNT] - 1;
    for (let k = slot; k < n; k++) {
      f[b + OFF_S + k] = f[b + OFF_S + k + 1];
      f[b + OFF_E + k] = f[b + OFF_E + k + 1];
      items[base + k] = items[base + k + 1];
    }
    items[base + n] = null;
    iv[2 * b + I_COUNT] = n;
    // The successor's own gap grows to the merged hole: implicit within the leaf, but the
    // next leaf records the end before its first item.
    const nextLeaf = s !== null && slot === n ? s._leaf : -1;
    if (nextLeaf >= 0) f[nextLeaf * STRIDE + H_PREV] = n > 0 ? f[b + OFF_E + n - 1] : f[b + H_PREV];
    if (this._hint === item) this._hint = null;
    item._tree = null;
    item._leaf = -1;
    item._prev = null;
    item._next = null;
    this._size--;
    if (n < MIN_FILL) {
      this.rebalance(leaf);
    } else {
      if (iv[2 * b + I_DIRTY] === 0) this.markDirty(leaf);
      // Only removing the last entry changes the leaf's last end.
      if (slot === n) this.fixEnds(leaf);
    }
    // (The rebalance may have moved the successor; its leaf link is current.)
    if (nextLeaf >= 0) this.markDirty((s as SpanNode)._leaf);
  }

  /**
   * Call after changing `item.start` and/or `item.end` in place (a VMA split or merge
   * adjusting bounds) in a way that keeps address order and non-overlap: re-records the
   * item's bounds (and so the gaps of the item and its successor). O(log n), usually
   * O(1) plus a scan of one leaf.
   *
   * @throws Error if `item` is not in this tree, or the new bounds are empty, negative, or
   *   overlap a neighbour; the tree is then unchanged (it still records the old bounds).
   */
  adjusted(item: T): void {
    if (item._tree !== this) {
      throw new Error(`SpanTree.adjusted: ${fmtSpan(item.start, item.end)} is not in this tree`);
    }
    const start = item.start;
    const end = item.end;
    const p = item._prev;
    const s = item._next;
    const leaf = item._leaf;
    const slot = this.slotOf(leaf, item);
    const f = this._f;
    const b = leaf * STRIDE;
    const n = this._i[2 * b + I_COUNT];
    // The neighbours' bounds as recorded in the leaf: no need to touch their objects.
    let prevEnd = slot > 0 ? f[b + OFF_E + slot - 1] : f[b + H_PREV];
    let nextStart = slot + 1 < n ? f[b + OFF_S + slot + 1] : s === null ? Infinity : s.start;
    if (!(start >= 0 && start < end && end < Infinity) || prevEnd > start || end > nextStart) {
      // Judge by the neighbours' current bounds, which may be mid-update themselves.
      prevEnd = p === null ? 0 : p.end;
      nextStart = s === null ? Infinity : s.start;
      if (!(start >= 0 && start < end && end < Infinity) || prevEnd > start || end > nextStart) {
        throw new Error(
          `SpanTree.adjusted: ${fmtSpan(start, end)} is empty or overlaps a neighbour` +
            (p !== null ? ` (prev ${fmtSpan(p.start, p.end)})` : '') +
            (s !== null ? ` (next ${fmtSpan(s.start, s.end)})` : ''),
        );
      }
    }
    f[b + OFF_S + slot] = start;
    f[b + OFF_E + slot] = end;
    // Own gaps follow from the bounds, except the next leaf's record of the end before it.
    if (s !== null && slot + 1 === n) {
      const sl = s._leaf;
      if (f[sl * STRIDE + H_PREV] !== end) {
        f[sl * STRIDE + H_PREV] = end;
        this.markDirty(sl);
      }
    }
    // Only the last entry's end is the leaf's.
    if (this._i[2 * b + I_DIRTY] === 0) this.markDirty(leaf);
    if (slot + 1 === n) this.fixEnds(leaf);
    this._hint = item;
  }

  /**
   * Linux `find_vma()`: the first item whose `end > addr` (it contains `addr` or lies
   * entirely above it), or undefined. O(log n), no allocation; O(1) when the item last
   * looked up, inserted or adjusted contains `addr`.
   */
  findFirstEndAfter(addr: number): T | undefined {
    const h = this._hint;
    // Items before the one containing addr all end at or below addr.
    if (h !== null && h.start <= addr && addr < h.end) return h as T;
    const at = this.locateEndAbove(addr);
    if (at < 0) return undefined;
    const found = this._items[at] as SpanNode;
    this._hint = found;
    return found as T;
  }

  /**
   * The item with `start <= addr < end`, or undefined. O(log n), no allocation; O(1) when
   * it is the item last looked up, inserted or adjusted.
   */
  findContaining(addr: number): T | undefined {
    const h = this._hint;
    if (h !== null && h.start <= addr && addr < h.end) return h as T;
    const at = this.locateEndAbove(addr);
    if (at < 0) return undefined;
    if (this._f[(at >>> LOG2_CAP) * STRIDE + OFF_S + (at & (CAP - 1))] > addr) return undefined;
    const found = this._items[at] as SpanNode;
    this._hint = found;
    return found as T;
  }

  /**
   * The last item whose `start < addr`, or undefined: the predecessor of a hole at `addr`,
   * or the item containing `addr` when `addr` is not its first byte. O(log n).
   */
  findLastStartBefore(addr: number): T | undefined {
    const h = this._hint;
    // The next item starts at or above h.end, so not below addr.
    if (h !== null && h.start < addr && addr <= h.end) return h as T;
    // The first item ending at or above addr: the answer if it starts below addr (the
    // next one starts at or above its end), else the answer is its predecessor.
    let found: SpanNode | null;
    const at = this.locateEndAtLeast(addr);
    if (at < 0) {
      found = this._last;
    } else {
      const x = this._items[at] as SpanNode;
      found = this._f[(at >>> LOG2_CAP) * STRIDE + OFF_S + (at & (CAP - 1))] < addr ? x : x._prev;
    }
    if (found === null) return undefined;
    this._hint = found;
    return found as T;
  }

  /**
   * Linux `unmapped_area_topdown()`: the highest address `a`, a multiple of `align`, with
   * `low <= a`, `a + length <= high` and `[a, a + length)` overlapping no item; -1 if none.
   * The free space above the last item (up to `high`) counts. A negative `low` is treated
   * as 0.
   *
   * O(log n) when `align` is 4096 and spans are page-aligned. With a larger `align`, a gap
   * that is at least `length` long but cannot hold an aligned placement costs an extra
   * step of the walk, so layouts full of such near-miss gaps degrade towards O(n); the
   * answer is always exact (Linux instead over-asks `length + align - 4096` and may miss a
   * tight aligned fit).
   *
   * @param low - lowest acceptable start address
   * @param high - the placement must end at or below this address
   * @param length - size of the placement, > 0
   * @param align - power of two >= 4096 (default 4096)
   * @throws RangeError on a non-positive `length`, a bad `align`, or non-finite bounds.
   */
  findGapTopDown(low: number, high: number, length: number, align: number = PAGE): number {
    checkGapArgs('findGapTopDown', low, high, length, align);
    if (low < 0) low = 0;
    // lowLimit: a usable gap must end at or above it; highLimit: must start at or below it.
    const lowLimit = low + length;
    const highLimit = high - length;
    if (lowLimit > high) return -1;

    const last = this._last;
    const tailStart = last === null ? 0 : last.end;
    if (tailStart <= highLimit) {
      const a = alignDown(highLimit, align);
      if (a >= tailStart && a >= low) return a;
    }
    this.refreshGaps();
    const top = this._top;
    if (top < 0 || this._f[top * STRIDE + H_GAP] < length) return -1;

    // Start at the first item ending above `high` (or the last item): the gaps of the
    // items after it start above `high`. Then visit gaps in descending address order,
    // skipping subtrees whose max gap is too small.
    const f = this._f;
    const iv = this._i;
    let at = this.locateEndAbove(high);
    if (at < 0) at = this.slotIndexOfLast();
    let id = at >>> LOG2_CAP;
    let slot = at & (CAP - 1);
    while (true) {
      const b = id * STRIDE;
      for (let i = slot; i >= 0; i--) {
        const gapEnd = f[b + OFF_S + i];
        // Every remaining gap ends at or below this one.
        if (gapEnd < lowLimit) return -1;
        const gapStart = i > 0 ? f[b + OFF_E + i - 1] : f[b + H_PREV];
        if (gapEnd - gapStart >= length && gapStart <= highLimit) {
          const a = alignDown((gapEnd < high ? gapEnd : high) - length, align);
          if (a >= gapStart && a >= low) return a;
        }
      }
      // Climb to the nearest ancestor with a promising child left of the path...
      let child = id;
      let height = 1;
      let next = -1;
      while (next < 0) {
        const p = iv[2 * child * STRIDE + I_PARENT];
        if (p < 0) return -1;
        const pb = p * STRIDE;
        let k = this.indexInParent(p, child) - 1;
        for (; k >= 0; k--) {
          // Every gap in child k ends below the end of its last item.
          if (f[pb + OFF_E + k] <= lowLimit) return -1;
          if (f[pb + OFF_G + k] >= length) break;
        }
        if (k >= 0) next = iv[2 * pb + I_KIDS + k];
        else {
          child = p;
          height++;
        }
      }
      // ...and descend through the rightmost promising children.
      id = next;
      for (; height > 1; height--) {
        const b2 = id * STRIDE;
        let k = iv[2 * b2 + I_COUNT] - 1;
        for (; k >= 0; k--) {
          if (f[b2 + OFF_E + k] <= lowLimit) return -1;
          if (f[b2 + OFF_G + k] >= length) break;
        }
        if (k < 0) throw new Error('SpanTree: gap summary is inconsistent');
        id = iv[2 * b2 + I_KIDS + k];
      }
      slot = iv[2 * id * STRIDE + I_COUNT] - 1;
    }
  }

  /**
   * Linux `unmapped_area()`: the lowest address `a`, a multiple of `align`, with
   * `low <= a`, `a + length <= high` and `[a, a + length)` overlapping no item; -1 if none.
   * Same arguments, complexity and caveats as {@link SpanTree.findGapTopDown}.
   *
   * @throws RangeError on a non-positive `length`, a bad `align`, or non-finite bounds.
   */
  findGapBottomUp(low: number, high: number, length: number, align: number = PAGE): number {
    checkGapArgs('findGapBottomUp', low, high, length, align);
    if (low < 0) low = 0;
    const lowLimit = low + length;
    const highLimit = high - length;
    if (lowLimit > high) return -1;

    this.refreshGaps();
    const top = this._top;
    // Items ending at or below lowLimit own gaps that end below it: start after them.
    const at = top >= 0 && this._f[top * STRIDE + H_GAP] >= length ? this.locateEndAbove(lowLimit) : -1;
    search: if (at >= 0) {
      const f = this._f;
      const iv = this._i;
      let id = at >>> LOG2_CAP;
      let slot = at & (CAP - 1);
      // Visit gaps in ascending address order, skipping subtrees whose max gap is too small.
      while (true) {
        const b = id * STRIDE;
        const n = iv[2 * b + I_COUNT];
        for (let i = slot; i < n; i++) {
          const gapStart = i > 0 ? f[b + OFF_E + i - 1] : f[b + H_PREV];
          // Every remaining gap, the tail included, starts at or above this one.
          if (gapStart > highLimit) return -1;
          const gapEnd = f[b + OFF_S + i];
          if (gapEnd >= lowLimit && gapEnd - gapStart >= length) {
            const a = alignUp(gapStart > low ? gapStart : low, align);
            if (a + length <= gapEnd && a + length <= high) return a;
          }
        }
        // Climb to the nearest ancestor with a promising child right of the path...
        let child = id;
        let height = 1;
        let next = -1;
        while (next < 0) {
          const p = iv[2 * child * STRIDE + I_PARENT];
          if (p < 0) break search;
          const pb = p * STRIDE;
          const pn = iv[2 * pb + I_COUNT];
          let k = this.indexInParent(p, child) + 1;
          for (; k < pn; k++) {
            // Child k's first gap starts where child k-1's last item ends.
            if (f[pb + OFF_E + k - 1] > highLimit) return -1;
            if (f[pb + OFF_G + k] >= length) break;
          }
          if (k < pn) next = iv[2 * pb + I_KIDS + k];
          else {
            child = p;
            height++;
          }
        }
        // ...and descend through the leftmost promising children.
        id = next;
        for (; height > 1; height--) {
          const b2 = id * STRIDE;
          const n2 = iv[2 * b2 + I_COUNT];
          let k = 0;
          for (; k < n2; k++) {
            if (k > 0 && f[b2 + OFF_E + k - 1] > highLimit) return -1;
            if (f[b2 + OFF_G + k] >= length) break;
          }
          if (k === n2) throw new Error('SpanTree: gap summary is inconsistent');
          id = iv[2 * b2 + I_KIDS + k];
        }
        slot = 0;
      }
    }

    const last = this._last;
    const tailStart = last === null ? 0 : last.end;
    if (tailStart > highLimit) return -1;
    const a = alignUp(tailStart > low ? tailStart : low, align);
    return a + length <= high ? a : -1;
  }

  /**
   * Iterates, in address order, the items overlapping `[start, end)` (none if
   * `start >= end`). O(log n) to find the first, O(1) per further item.
   *
   * Removing (or shrinking) the item just yielded is safe: the successor is read before
   * yielding. Items inserted after it during the iteration are not visited; any other
   * mutation during iteration is unsupported.
   */
  *overlapping(start: number, end: number): IterableIterator<T> {
    if (!(start < end)) return;
    let n: SpanNode | null = this.findFirstEndAfter(start) ?? null;
    while (n !== null && n.start < end) {
      const next: SpanNode | null = n._next;
      yield n as T;
      n = next;
    }
  }

  /**
   * Checks every structural invariant and throws an Error naming the first violation:
   * address order and non-overlap of the items, the prev/next list, first/last, item
   * ownership and leaf back-links, the bounds each leaf records and the end it records
   * before its first item, every node's last end (header and parent entry), the max gaps
   * of clean nodes (header and parent entry) and the dirty marks (a dirty node's parent
   * is dirty), node fill (MIN_FILL..CAP, root excepted), uniform leaf depth and recorded
   * heights, parent links, the free list, the lookup hint and size. O(n); for tests.
   */
  checkInvariants(): void {
    const fail = (msg: string): never => {
      throw new Error(`SpanTree invariant violated: ${msg}`);
    };
    const f = this._f;
    const iv = this._i;
    const items = this._items;
    if (this._hint !== null && this._hint._tree !== this) fail('lookup hint is not in this tree');
    if (this._used > this._capacity || f.length !== this._capacity * STRIDE || items.length !== this._capacity * CAP) {
      fail('node storage sizes disagree');
    }
    const top = this._top;
    const seen = new Uint8Array(this._used);
    let reachable = 0;
    if (top < 0 || (top < this._used && iv[2 * top * STRIDE + I_COUNT] === 0)) {
      if (this._size !== 0) fail(`empty tree but size is ${this._size}`);
      if (this._first !== null || this._last !== null) fail('empty tree but first/last set');
      if (top < 0) {
        if (this._depth !== 0) fail(`empty tree but depth is ${this._depth}`);
      } else {
        // An emptied tree keeps its root leaf, with no entries and a -Infinity summary.
        const b = top * STRIDE;
        if (this._depth !== 1 || iv[2 * b + I_HEIGHT] !== 1) fail('empty tree but its root is not a single leaf');
        if (iv[2 * b + I_PARENT] !== -1 || iv[2 * b + I_FREE] !== LIVE) fail('empty root leaf has a parent or is marked free');
        if (f[b + H_END] !== -Infinity || f[b + H_GAP] !== -Infinity || iv[2 * b + I_DIRTY] !== 0) {
          fail('empty root leaf does not summarise as -Infinity');
        }
        for (let k = 0; k < CAP; k++) if (items[top * CAP + k] !== null) fail(`empty root leaf holds an item in slot ${k}`);
        seen[top] = 1;
        reachable = 1;
      }
    } else {
      if (top >= this._used) fail(`root id ${top} out of range`);
      if (iv[2 * top * STRIDE + I_PARENT] !== -1) fail('root has a parent');
      // Depth-first, children pushed right to left so leaves are met in address order.
      const stack: number[] = [top];
      let prev: SpanNode | null = null;
      let count = 0;
      while (stack.length > 0) {
        const id = stack.pop() as number;
        const b = id * STRIDE;
        const at = `node ${id}`;
        if (id < 0 || id >= this._used) fail(`${at}: id out of range`);
        if (seen[id] !== 0) fail(`${at} is reachable twice (cycle?)`);
        seen[id] = 1;
        reachable++;
        if (iv[2 * b + I_FREE] !== LIVE) fail(`${at} is reachable but marked free`);
        const n = iv[2 * b + I_COUNT];
        const height = iv[2 * b + I_HEIGHT];
        const parent = iv[2 * b + I_PARENT];
        const expectedHeight = parent < 0 ? this._depth : iv[2 * parent * STRIDE + I_HEIGHT] - 1;
        if (height !== expectedHeight) fail(`${at}: stored height ${height}, expected ${expectedHeight}`);
        if (height < 1) fail(`${at}: height ${height} below a leaf`);
        const minFill = id === top ? (height === 1 ? 1 : 2) : MIN_FILL;
        if (!(n >= minFill && n <= CAP)) fail(`${at}: ${n} entries, expected ${minFill}..${CAP}`);
        if (f[b + H_END] !== f[b + OFF_E + n - 1]) {
          fail(`${at}: header records end 0x${f[b + H_END].toString(16)}, expected 0x${f[b + OFF_E + n - 1].toString(16)}`);
        }
        // A clean node's max gap is exact (its children are clean too, checked below).
        const dirty = iv[2 * b + I_DIRTY];
        if (dirty !== 0 && dirty !== 1) fail(`${at}: dirty flag ${dirty}`);
        if (dirty === 1 && parent >= 0 && iv[2 * parent * STRIDE + I_DIRTY] !== 1) fail(`${at} is dirty under a clean parent`);
        const maxGap = this.computeMaxGap(id);
        if (dirty === 0 && f[b + H_GAP] !== maxGap) {
          fail(`${at}: header records max gap 0x${f[b + H_GAP].toString(16)}, expected 0x${maxGap.toString(16)}`);
        }
        if (height > 1) {
          for (let k = n - 1; k >= 0; k--) {
            const c = iv[2 * b + I_KIDS + k];
            if (!(c >= 0 && c < this._used)) fail(`${at}: child ${k} has bad id ${c}`);
            const cb = c * STRIDE;
            if (iv[2 * cb + I_PARENT] !== id) fail(`node ${c}: parent link is wrong`);
            const ch = iv[2 * cb + I_HEIGHT];
            if (ch !== height - 1) fail(`node ${c}: stored height ${ch}, expected ${height - 1}`);
            const cn = iv[2 * cb + I_COUNT];
            if (!(cn >= 1 && cn <= CAP)) fail(`node ${c}: ${cn} entries`);
            // Against the child's entries, not its header (checked when the child is visited).
            const e = f[cb + OFF_E + cn - 1];
            if (f[b + OFF_E + k] !== e) {
              fail(`${at}: stored end of child ${k} 0x${f[b + OFF_E + k].toString(16)}, expected 0x${e.toString(16)}`);
            }
            // A clean child's header max gap is checked against its entries when it is visited.
            const g = f[cb + H_GAP];
            if (dirty === 0 && f[b + OFF_G + k] !== g) {
              fail(`${at}: stored max gap of child ${k} 0x${f[b + OFF_G + k].toString(16)}, expected 0x${g.toString(16)}`);
            }
            stack.push(c);
          }
          continue;
        }
        const base = id * CAP;
        for (let k = 0; k < CAP; k++) {
          const it = items[base + k];
          if (k >= n) {
            if (it !== null) fail(`${at}: unused slot ${k} holds an item`);
            continue;
          }
          if (!(it instanceof SpanNode)) fail(`${at}: slot ${k} is empty`);
          const item = it as SpanNode;
          const span = fmtSpan(item.start, item.end);
          if (++count > this._size) fail(`more than size=${this._size} items reachable`);
          if (item._tree !== this) fail(`${span} does not belong to this tree`);
          if (item._leaf !== id) fail(`${span}: leaf link ${item._leaf}, expected ${id}`);
          if (!(Number.isInteger(item.start) && Number.isInteger(item.end))) fail(`${span} has non-integer bounds`);
          if (!(item.start >= 0 && item.start < item.end)) fail(`${span} is empty or negative`);
          if (item._prev !== prev) fail(`${span}: prev link does not match in-order predecessor`);
          if (prev === null) {
            if (this._first !== item) fail('first() is not the lowest item');
          } else {
            if (prev._next !== item) fail(`${fmtSpan(prev.start, prev.end)}: next link does not match in-order successor`);
            if (prev.end > item.start) fail(`${fmtSpan(prev.start, prev.end)} and ${span} are out of order or overlap`);
          }
          const rs = f[id * STRIDE + OFF_S + k];
          const re = f[id * STRIDE + OFF_E + k];
          if (rs !== item.start || re !== item.end) {
            fail(`${span}: leaf records ${fmtSpan(rs, re)} (bounds changed without adjusted()?)`);
          }
          if (k === 0) {
            const pe = prev === null ? 0 : prev.end;
            const rp = f[id * STRIDE + H_PREV];
            if (rp !== pe) fail(`${at}: records 0x${rp.toString(16)} as the end before it, expected 0x${pe.toString(16)}`);
          }
          prev = item;
        }
      }
      if (this._last !== prev) fail('last() is not the highest item');
      if (prev !== null && prev._next !== null) fail('highest item has a next link');
      if (count !== this._size) fail(`size is ${this._size} but ${count} items are reachable`);
    }
    let free = 0;
    for (let id = this._freeHead; id !== -1; id = iv[2 * id * STRIDE + I_FREE]) {
      if (!(id >= 0 && id < this._used)) fail(`free list holds bad id ${id}`);
      if (seen[id] !== 0) fail(`node ${id} is both reachable and free (or on the free list twice)`);
      seen[id] = 1;
      if (++free > this._used) fail('free list cycles');
      for (let k = 0; k < CAP; k++) if (items[id * CAP + k] !== null) fail(`free node ${id} still holds an item`);
    }
    if (reachable + free !== this._used) fail(`${this._used - reachable - free} node blocks leaked`);
    for (let k = this._used * CAP; k < items.length; k++) if (items[k] !== null) fail('unused storage holds an item');
  }

  /** @internal Reads (v is NaN) or overwrites the max gap recorded for `item`'s leaf; for tests. */
  _recordedGap(item: SpanNode, v: number): number {
    this.refreshGaps();
    const at = item._leaf * STRIDE + H_GAP;
    if (!Number.isNaN(v)) this._f[at] = v;
    return this._f[at];
  }

  /** @internal Reads (v is NaN) or overwrites the height recorded for `item`'s leaf; for tests. */
  _recordedHeight(item: SpanNode, v: number): number {
    const at = 2 * item._leaf * STRIDE + I_HEIGHT;
    if (!Number.isNaN(v)) this._i[at] = v;
    return this._i[at];
  }

  /**
   * @internal For tests: an item at the root's split point (the first item of the root's
   * middle child, or the middle item of a root leaf), or null when empty.
   */
  private get _root(): SpanNode | null {
    let id = this._top;
    if (id < 0) return null;
    const iv = this._i;
    let k = iv[2 * id * STRIDE + I_COUNT] >> 1;
    for (let d = this._depth; d > 1; d--) {
      id = iv[2 * id * STRIDE + I_KIDS + k];
      k = 0;
    }
    return this._items[id * CAP + k];
  }

  // -------------------------------------------------------------------------------------
  // Lookup helpers. An item position is `leaf * CAP + slot`, its index in `_items`.

  /** Position of the first item with `end > addr`, or -1. No allocation. */
  private locateEndAbove(addr: number): number {
    let id = this._top;
    if (id < 0) return -1;
    const f = this._f;
    const iv = this._i;
    // Past the root's check, every node on the way has an entry ending above addr, so the
    // scans need not read the node's count (its header is one cache line less to fetch).
    if (!(f[id * STRIDE + H_END] > addr)) return -1;
    for (let d = this._depth; ; d--) {
      const b = id * STRIDE;
      const e = b + OFF_E;
      let k = 0;
      while (f[e + k] <= addr && k < CAP - 1) k++;
      if (d === 1) return id * CAP + k;
      id = iv[2 * b + I_KIDS + k];
    }
  }

  /** Position of the first item with `end >= addr`, or -1. No allocation. */
  private locateEndAtLeast(addr: number): number {
    let id = this._top;
    if (id < 0) return -1;
    const f = this._f;
    const iv = this._i;
    if (!(f[id * STRIDE + H_END] >= addr)) return -1;
    for (let d = this._depth; ; d--) {
      const b = id * STRIDE;
      const e = b + OFF_E;
      let k = 0;
      while (f[e + k] < addr && k < CAP - 1) k++;
      if (d === 1) return id * CAP + k;
      id = iv[2 * b + I_KIDS + k];
    }
  }

  /** Position of the last item; the tree is not empty. */
  private slotIndexOfLast(): number {
    const leaf = (this._last as SpanNode)._leaf;
    return leaf * CAP + this._i[2 * leaf * STRIDE + I_COUNT] - 1;
  }

  /** Slot of `item` in `leaf`, found by identity (so it works whatever its bounds say). */
  private slotOf(leaf: number, item: SpanNode): number {
    const items = this._items;
    const base = leaf * CAP;
    const n = this._i[2 * leaf * STRIDE + I_COUNT];
    for (let k = 0; k < n; k++) if (items[base + k] === item) return k;
    throw new Error(`SpanTree: ${fmtSpan(item.start, item.end)} is missing from its leaf`);
  }

  /** Index of `child` among `parent`'s children. */
  private indexInParent(parent: number, child: number): number {
    const iv = this._i;
    const k0 = 2 * parent * STRIDE + I_KIDS;
    const n = iv[2 * parent * STRIDE + I_COUNT];
    for (let k = 0; k < n; k++) if (iv[k0 + k] === child) return k;
    throw new Error(`SpanTree: node ${child} is missing from its parent ${parent}`);
  }

  /** The largest own gap under node `id`, from its entries (not its header). */
  private computeMaxGap(id: number): number {
    const f = this._f;
    const b = id * STRIDE;
    const n = this._i[2 * b + I_COUNT];
    let g: number;
    if (this._i[2 * b + I_HEIGHT] === 1) {
      g = f[b + OFF_S] - f[b + H_PREV];
      for (let k = 1; k < n; k++) {
        const d = f[b + OFF_S + k] - f[b + OFF_E + k - 1];
        if (d > g) g = d;
      }
    } else {
      g = f[b + OFF_G];
      for (let k = 1; k < n; k++) if (f[b + OFF_G + k] > g) g = f[b + OFF_G + k];
    }
    return g;
  }

  // -------------------------------------------------------------------------------------
  // Updates.

  /** Inserts `item` at the very end (the tree may be empty, with or without a root leaf). */
  private append(item: SpanNode): void {
    const last = this._last;
    if (last === null) {
      let leaf = this._top;
      if (leaf < 0) {
        leaf = this.allocNode(1);
        this._top = leaf;
        this._depth = 1;
      }
      this.insertAt(leaf, 0, item);
    } else {
      const leaf = last._leaf;
      this.insertAt(leaf, this._i[2 * leaf * STRIDE + I_COUNT], item);
    }
  }

  /**
   * Puts `item` at `slot` of `leaf` (splitting a full leaf first), links it between its
   * neighbours and updates the summaries. The caller has checked that it fits there.
   */
  private insertAt(leaf: number, slot: number, item: SpanNode): void {
    const items = this._items;
    let n = this._i[2 * leaf * STRIDE + I_COUNT];
    let pred: SpanNode | null;
    let succ: SpanNode | null;
    if (slot < n) {
      const at = items[leaf * CAP + slot] as SpanNode;
      succ = at;
      pred = slot > 0 ? items[leaf * CAP + slot - 1] : at._prev;
    } else if (n > 0) {
      const before = items[leaf * CAP + n - 1] as SpanNode;
      pred = before;
      succ = before._next;
    } else {
      pred = null;
      succ = null;
    }
    if (n === CAP) {
      const mid = splitPoint(slot);
      const right = this.splitNode(leaf, mid);
      if (slot >= mid) {
        leaf = right;
        slot -= mid;
      }
      n = this._i[2 * leaf * STRIDE + I_COUNT];
    }
    const f = this._f;
    const b = leaf * STRIDE;
    const base = leaf * CAP;
    for (let k = n; k > slot; k--) {
      f[b + OFF_S + k] = f[b + OFF_S + k - 1];
      f[b + OFF_E + k] = f[b + OFF_E + k - 1];
      items[base + k] = items[base + k - 1];
    }
    const end = item.end;
    f[b + OFF_S + slot] = item.start;
    f[b + OFF_E + slot] = end;
    items[base + slot] = item;
    this._i[2 * b + I_COUNT] = n + 1;
    item._tree = this;
    item._leaf = leaf;
    item._prev = pred;
    item._next = succ;
    if (pred === null) this._first = item;
    else pred._next = item;
    this._size++;
    if (succ === null) {
      this._last = item;
    } else {
      succ._prev = item;
      // The successor's own gap shrank: implicit within the leaf, but the next leaf
      // records the end before its first item.
      if (slot === n) {
        const sl = succ._leaf;
        f[sl * STRIDE + H_PREV] = end;
        this.markDirty(sl);
      }
    }
    // Only an entry added at the end changes the leaf's last end.
    if (this._i[2 * b + I_DIRTY] === 0) this.markDirty(leaf);
    if (slot === n) this.fixEnds(leaf);
  }

  /**
   * Records that node `id`'s entries changed: brings its last end up to date in its header
   * and up the tree (eagerly: lookups descend by it), and marks its max gap dirty. Call it
   * for every node whose entries changed; the order does not matter.
   */
  private touched(id: number): void {
    this.markDirty(id);
    this.fixEnds(id);
  }

  /** Marks node `id` and its ancestors dirty, up to the first one already dirty. */
  private markDirty(id: number): void {
    const iv = this._i;
    for (let x = id; x >= 0 && iv[2 * x * STRIDE + I_DIRTY] === 0; x = iv[2 * x * STRIDE + I_PARENT]) {
      iv[2 * x * STRIDE + I_DIRTY] = 1;
    }
  }

  /** Brings the last end of node `id` up to date in its header and up the tree. */
  private fixEnds(id: number): void {
    const f = this._f;
    const iv = this._i;
    while (true) {
      const b = id * STRIDE;
      const e = f[b + OFF_E + iv[2 * b + I_COUNT] - 1];
      if (f[b + H_END] === e) return;
      f[b + H_END] = e;
      const p = iv[2 * b + I_PARENT];
      if (p < 0) return;
      const pb = p * STRIDE;
      const k0 = 2 * pb + I_KIDS;
      let k = 0;
      while (iv[k0 + k] !== id) {
        if (++k === CAP) throw new Error(`SpanTree: node ${id} is missing from its parent ${p}`);
      }
      f[pb + OFF_E + k] = e;
      id = p;
    }
  }

  /**
   * Re-summarises the max gap of every dirty node, children before parents, into its
   * header and its parent's entry; afterwards every node is clean. A post-order walk of
   * the dirty part of the tree, by parent links, without recursion or allocation.
   */
  private refreshGaps(): void {
    let x = this._top;
    const f = this._f;
    const iv = this._i;
    if (x < 0 || iv[2 * x * STRIDE + I_DIRTY] === 0) return;
    let k = 0;
    while (true) {
      const b = x * STRIDE;
      const n = iv[2 * b + I_COUNT];
      if (iv[2 * b + I_HEIGHT] > 1) {
        while (k < n && iv[2 * iv[2 * b + I_KIDS + k] * STRIDE + I_DIRTY] === 0) k++;
        if (k < n) {
          x = iv[2 * b + I_KIDS + k];
          k = 0;
          continue;
        }
      }
      const g = this.computeMaxGap(x);
      f[b + H_GAP] = g;
      iv[2 * b + I_DIRTY] = 0;
      const p = iv[2 * b + I_PARENT];
      if (p < 0) return;
      const kx = this.indexInParent(p, x);
      f[p * STRIDE + OFF_G + kx] = g;
      x = p;
      k = kx + 1;
    }
  }

  /** A fresh node block of the given height (1 = leaf), with no entries and no parent. */
  private allocNode(height: number): number {
    let id = this._freeHead;
    if (id >= 0) {
      this._freeHead = this._i[2 * id * STRIDE + I_FREE];
    } else {
      if (this._used === this._capacity) this.grow();
      id = this._used++;
    }
    const h = 2 * id * STRIDE;
    const iv = this._i;
    iv[h + I_COUNT] = 0;
    iv[h + I_PARENT] = -1;
    iv[h + I_HEIGHT] = height;
    iv[h + I_FREE] = LIVE;
    iv[h + I_DIRTY] = 0;
    // No summary yet: the caller's touched() records one.
    this._f[id * STRIDE + H_END] = Number.NaN;
    this._f[id * STRIDE + H_GAP] = Number.NaN;
    this._f[id * STRIDE + H_PREV] = 0;
    return id;
  }

  /** Returns an emptied node block to the free list. */
  private freeNode(id: number): void {
    const iv = this._i;
    const h = 2 * id * STRIDE;
    iv[h + I_COUNT] = 0;
    iv[h + I_PARENT] = -1;
    iv[h + I_HEIGHT] = 0;
    iv[h + I_FREE] = this._freeHead;
    this._freeHead = id;
  }

  /** Doubles node storage. */
  private grow(): void {
    const old = this._capacity;
    const capacity = old === 0 ? 1 : 2 * old;
    const buf = new ArrayBuffer(capacity * STRIDE * 8);
    const f = new Float64Array(buf);
    f.set(this._f);
    this._f = f;
    this._i = new Int32Array(buf);
    const items = this._items;
    for (let k = old * CAP; k < capacity * CAP; k++) items.push(null);
    this._capacity = capacity;
  }

  /**
   * Copies `m` entries from node `src` at `si` to a different node `dst` at `di`, moving
   * leaf items (and their leaf links) or children (and their parent links).
   */
  private copyEntries(src: number, si: number, dst: number, di: number, m: number): void {
    const f = this._f;
    const iv = this._i;
    const sb = src * STRIDE;
    const db = dst * STRIDE;
    for (let k = 0; k < m; k++) f[db + OFF_E + di + k] = f[sb + OFF_E + si + k];
    if (iv[2 * sb + I_HEIGHT] === 1) {
      const items = this._items;
      for (let k = 0; k < m; k++) {
        f[db + OFF_S + di + k] = f[sb + OFF_S + si + k];
        const it = items[src * CAP + si + k] as SpanNode;
        items[dst * CAP + di + k] = it;
        items[src * CAP + si + k] = null;
        it._leaf = dst;
      }
    } else {
      for (let k = 0; k < m; k++) {
        const c = iv[2 * sb + I_KIDS + si + k];
        iv[2 * db + I_KIDS + di + k] = c;
        iv[2 * c * STRIDE + I_PARENT] = dst;
        f[db + OFF_G + di + k] = f[sb + OFF_G + si + k];
      }
    }
  }

  /**
   * Moves entries [from, count) of node `id` by `delta` places within it (a negative
   * delta shifts down). Leaf items move with their keys; vacated item slots are cleared.
   */
  private shiftEntries(id: number, from: number, delta: number): void {
    const f = this._f;
    const iv = this._i;
    const b = id * STRIDE;
    const n = iv[2 * b + I_COUNT];
    const isLeaf = iv[2 * b + I_HEIGHT] === 1;
    const items = this._items;
    const base = id * CAP;
    const up = delta > 0;
    for (let j = from; j < n; j++) {
      const k = up ? n - 1 - (j - from) : j;
      f[b + OFF_E + k + delta] = f[b + OFF_E + k];
      // Internal nodes keep child ids in the int32 view of the OFF_S area.
      if (isLeaf) {
        f[b + OFF_S + k + delta] = f[b + OFF_S + k];
        items[base + k + delta] = items[base + k];
      } else {
        iv[2 * b + I_KIDS + k + delta] = iv[2 * b + I_KIDS + k];
        f[b + OFF_G + k + delta] = f[b + OFF_G + k];
      }
    }
    if (isLeaf) {
      // Clear the item slots no entry occupies any more.
      if (up) for (let k = from; k < from + delta && k < n; k++) items[base + k] = null;
      else for (let k = Math.max(n + delta, from + delta); k < n; k++) items[base + k] = null;
    }
  }

  /**
   * Splits the full node `id`: entries [mid, CAP) move to a new right sibling, which is
   * linked into the parent (splitting it in turn, or growing a new root). Returns it.
   * Rare (at most once per CAP/4 inserts into a node), so recursion up is fine.
   */
  private splitNode(id: number, mid: number): number {
    const right = this.allocNode(this._i[2 * id * STRIDE + I_HEIGHT]);
    const iv = this._i;
    const n = iv[2 * id * STRIDE + I_COUNT];
    this.copyEntries(id, mid, right, 0, n - mid);
    iv[2 * id * STRIDE + I_COUNT] = mid;
    iv[2 * right * STRIDE + I_COUNT] = n - mid;
    const f = this._f;
    f[right * STRIDE + H_PREV] = f[id * STRIDE + OFF_E + mid - 1];
    this.linkAfter(id, right);
    return right;
  }

  /** Links the new node `right` into the tree just after its left sibling `left`. */
  private linkAfter(left: number, right: number): void {
    let p = this._i[2 * left * STRIDE + I_PARENT];
    if (p < 0) {
      const root = this.allocNode(this._i[2 * left * STRIDE + I_HEIGHT] + 1);
      const iv = this._i;
      const rb = root * STRIDE;
      iv[2 * rb + I_KIDS] = left;
      iv[2 * rb + I_KIDS + 1] = right;
      iv[2 * rb + I_COUNT] = 2;
      iv[2 * left * STRIDE + I_PARENT] = root;
      iv[2 * right * STRIDE + I_PARENT] = root;
      this._top = root;
      this._depth++;
      // Both children's summaries changed (right has none yet): touched() records their
      // ends in the new root, and marks them dirty.
      this.touched(right);
      this.touched(left);
      return;
    }
    let k = this.indexInParent(p, left) + 1;
    if (this._i[2 * p * STRIDE + I_COUNT] === CAP) {
      const mid = splitPoint(k);
      const q = this.splitNode(p, mid);
      if (k >= mid) {
        p = q;
        k -= mid;
      }
    }
    this.shiftEntries(p, k, 1);
    const f = this._f;
    const iv = this._i;
    const pb = p * STRIDE;
    iv[2 * pb + I_COUNT]++;
    iv[2 * pb + I_KIDS + k] = right;
    iv[2 * right * STRIDE + I_PARENT] = p;
    // Right has no summary yet: touched() records its end and marks it dirty.
    f[pb + OFF_E + k] = Number.NaN;
    f[pb + OFF_G + k] = Number.NaN;
    this.touched(right);
    this.touched(left);
  }

  /**
   * Restores the fill of node `id` after it lost an entry: merges it with a sibling or
   * borrows from one, climbing while parents underflow, and collapses the root. Also
   * re-summarises what changed.
   */
  private rebalance(id: number): void {
    while (true) {
      const iv = this._i;
      const b = id * STRIDE;
      const n = iv[2 * b + I_COUNT];
      const p = iv[2 * b + I_PARENT];
      if (p < 0) {
        if (iv[2 * b + I_HEIGHT] === 1) {
          // An emptied root leaf stays, so that a tree going between empty and one item
          // (a process's first mmap) allocates nothing; with no entries it summarises as
          // ending and gapping at -Infinity, which every lookup and search takes as empty.
          if (n === 0) {
            const f = this._f;
            f[b + H_END] = -Infinity;
            f[b + H_GAP] = -Infinity;
            iv[2 * b + I_DIRTY] = 0;
          } else {
            this.touched(id);
          }
        } else if (n === 1) {
          // A root with one child hands over to it.
          const only = iv[2 * b + I_KIDS];
          iv[2 * only * STRIDE + I_PARENT] = -1;
          this.freeNode(id);
          this._top = only;
          this._depth--;
        } else {
          this.touched(id);
        }
        return;
      }
      if (n >= MIN_FILL) {
        this.touched(id);
        return;
      }
      const pb = p * STRIDE;
      const k = this.indexInParent(p, id);
      const kl = k + 1 < iv[2 * pb + I_COUNT] ? k : k - 1;
      const l = iv[2 * pb + I_KIDS + kl];
      const r = iv[2 * pb + I_KIDS + kl + 1];
      const ln = iv[2 * l * STRIDE + I_COUNT];
      const rn = iv[2 * r * STRIDE + I_COUNT];
      if (ln + rn <= MERGE_MAX) {
        this.copyEntries(r, 0, l, ln, rn);
        iv[2 * l * STRIDE + I_COUNT] = ln + rn;
        iv[2 * r * STRIDE + I_COUNT] = 0;
        this.freeNode(r);
        this.shiftEntries(p, kl + 2, -1);
        iv[2 * pb + I_COUNT]--;
        this.touched(l);
        id = p;
        continue;
      }
      const want = (ln + rn) >> 1;
      if (ln < want) {
        const m = want - ln;
        this.copyEntries(r, 0, l, ln, m);
        this.shiftEntries(r, m, -m);
      } else {
        const m = ln - want;
        this.shiftEntries(r, 0, m);
        this.copyEntries(l, want, r, 0, m);
      }
      iv[2 * l * STRIDE + I_COUNT] = want;
      iv[2 * r * STRIDE + I_COUNT] = ln + rn - want;
      const f = this._f;
      f[r * STRIDE + H_PREV] = f[l * STRIDE + OFF_E + want - 1];
      this.touched(l);
      this.touched(r);
      return;
    }
  }
}

function checkNewItem(fn: string, item: SpanNode, start: number, end: number): void {
  if (item._tree !== null) {
    throw new Error(`SpanTree.${fn}: ${fmtSpan(start, end)} is already in a tree`);
  }
  if (!(start >= 0 && start < end && end < Infinity)) {
    throw new Error(`SpanTree.${fn}: invalid span ${fmtSpan(start, end)}`);
  }
}

function checkGapArgs(fn: string, low: number, high: number, length: number, align: number): void {
  if (!(length > 0) || !Number.isFinite(length) || !Number.isFinite(low) || !Number.isFinite(high)) {
    throw new RangeError(`SpanTree.${fn}: bad arguments low=${low} high=${high} length=${length}`);
  }
  if (align !== PAGE && !isPowerOfTwoAtLeastPage(align)) {
    throw new RangeError(`SpanTree.${fn}: align ${align} is not a power of two >= 4096`);
  }
}

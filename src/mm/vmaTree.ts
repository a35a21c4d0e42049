/**
 * An intrusive, augmented AVL tree of non-overlapping half-open address spans: the
 * equivalent of Linux's pre-maple-tree VMA rb-tree with `rb_subtree_gap` (mm/mmap.c).
 *
 * Every node carries the largest free gap found in its subtree, where a node's own gap is
 * the free space just before it (`start - prev.end`, or `start - 0` for the first span).
 * That lets the gap searches skip whole subtrees, so `findGapTopDown`/`findGapBottomUp`
 * run in O(log n) like `unmapped_area_topdown()`/`unmapped_area()`.
 *
 * AVL rather than red-black: it is deterministic, keeps the tree shallower (lookups
 * dominate in an address space), and its fix-up walk doubles as the augmentation walk.
 *
 * @module
 */

const PAGE = 4096;

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
 * Base class for items held in a {@link SpanTree}: the tree's links live inside the item
 * (intrusive), so inserting, removing and looking up never allocate.
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
  /** @internal Left child. */
  _left: SpanNode | null;
  /** @internal Right child. */
  _right: SpanNode | null;
  /** @internal Parent, or null at the root. */
  _parent: SpanNode | null;
  /** @internal Predecessor in address order. */
  _prev: SpanNode | null;
  /** @internal Successor in address order. */
  _next: SpanNode | null;
  /** @internal AVL height of the subtree rooted here (a leaf is 1). */
  _height: number;
  /** @internal Largest own-gap (`start - prev.end`) in the subtree rooted here. */
  _maxGap: number;
  /** @internal The tree holding this item, or null. */
  _tree: object | null;

  /**
   * @param start - inclusive start address (a multiple of 4096 by convention)
   * @param end - exclusive end address, greater than `start`
   */
  constructor(start: number, end: number) {
    // Every field is set here, always in this order, so all items share one hidden class.
    this.start = start;
    this.end = end;
    this._left = null;
    this._right = null;
    this._parent = null;
    this._prev = null;
    this._next = null;
    this._height = 0;
    this._maxGap = 0;
    this._tree = null;
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
}

function heightOf(n: SpanNode | null): number {
  return n === null ? 0 : n._height;
}

/** Recomputes `n._maxGap` from its own gap and its children, without storing it. */
function computeMaxGap(n: SpanNode): number {
  const p = n._prev;
  let g = p === null ? n.start : n.start - p.end;
  const l = n._left;
  if (l !== null && l._maxGap > g) g = l._maxGap;
  const r = n._right;
  if (r !== null && r._maxGap > g) g = r._maxGap;
  return g;
}

function update(n: SpanNode): void {
  const hl = heightOf(n._left);
  const hr = heightOf(n._right);
  n._height = (hl > hr ? hl : hr) + 1;
  n._maxGap = computeMaxGap(n);
}

/**
 * A balanced search tree of non-overlapping half-open spans `[start, end)` ordered by
 * address, augmented for O(log n) free-gap searches.
 *
 * Complexity: `insert`, `remove`, `adjusted`, the `find*` lookups and (with the default
 * 4096 alignment) the gap searches are O(log n); `first`, `last`, `size`, `prevSpan`,
 * `nextSpan` are O(1); `overlapping` is O(log n + k).
 *
 * Addresses are plain numbers: non-negative integers, by convention multiples of 4096
 * below 2^57. Page multiples in that range, and their sums and differences, are exact in
 * doubles; arbitrary integers are only exact below 2^53.
 *
 * @typeParam T - the item type, a subclass of {@link SpanNode}
 */
export class SpanTree<T extends SpanNode> {
  private _root: SpanNode | null;
  private _first: SpanNode | null;
  private _last: SpanNode | null;
  private _size: number;
  // The last lookup result, checked before descending, like Linux's per-mm vmacache:
  // page faults and syscalls hit the same VMA over and over.
  private _hint: SpanNode | null;

  /** Creates an empty tree. */
  constructor() {
    this._root = null;
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
   * Adds `item`, keyed by its current `[start, end)`.
   *
   * @throws Error if `item` is already in a tree, if `start < 0` or `start >= end`, or if
   *   the span overlaps an item already present (all bugs in the caller); the tree is
   *   left unchanged.
   */
  insert(item: T): void {
    if (item._tree !== null) {
      throw new Error(`SpanTree.insert: ${fmtSpan(item.start, item.end)} is already in a tree`);
    }
    const start = item.start;
    const end = item.end;
    if (!(start >= 0 && start < end && end < Infinity)) {
      throw new Error(`SpanTree.insert: invalid span ${fmtSpan(start, end)}`);
    }
    let parent: SpanNode | null = null;
    let n = this._root;
    let goLeft = false;
    // Descending by "entirely left / entirely right" finds the in-order slot between the
    // predecessor and successor, which are the only items the new span could overlap and
    // are both on this path; so this descent is also the complete overlap check.
    while (n !== null) {
      parent = n;
      if (end <= n.start) {
        goLeft = true;
        n = n._left;
      } else if (start >= n.end) {
        goLeft = false;
        n = n._right;
      } else {
        throw new Error(
          `SpanTree.insert: ${fmtSpan(start, end)} overlaps existing ${fmtSpan(n.start, n.end)}`,
        );
      }
    }
    item._tree = this;
    item._left = null;
    item._right = null;
    item._parent = parent;
    item._height = 1;
    if (parent === null) {
      this._root = item;
      item._prev = null;
      item._next = null;
      this._first = item;
      this._last = item;
    } else if (goLeft) {
      parent._left = item;
      const p = parent._prev;
      item._prev = p;
      item._next = parent;
      parent._prev = item;
      if (p === null) this._first = item;
      else p._next = item;
    } else {
      parent._right = item;
      const s = parent._next;
      item._prev = parent;
      item._next = s;
      parent._next = item;
      if (s === null) this._last = item;
      else s._prev = item;
    }
    item._maxGap = computeMaxGap(item);
    this._size++;
    this.rebalanceUpward(parent);
    // The successor's own gap shrank; it is an ancestor of the new leaf, but the walk
    // above may have stopped below it.
    const succ = item._next;
    if (succ !== null) this.fixGapsUpward(succ);
  }

  /**
   * Removes `item` from the tree; afterwards it is free to be inserted again.
   *
   * @throws Error if `item` is not in this tree.
   */
  remove(item: T): void {
    if (item._tree !== this) {
      throw new Error(`SpanTree.remove: ${fmtSpan(item.start, item.end)} is not in this tree`);
    }
    const p = item._prev;
    const s = item._next;
    // Unlink from the address-order list first so every gap computed below already sees
    // the merged hole.
    if (p === null) this._first = s;
    else p._next = s;
    if (s === null) this._last = p;
    else s._prev = p;

    const l = item._left;
    const r = item._right;
    const parent = item._parent;
    let fixFrom: SpanNode | null;
    if (l !== null && r !== null) {
      // Two children: the successor is the leftmost node of the right subtree; move it
      // into item's position.
      const succ = s as SpanNode;
      if (succ._parent === item) {
        fixFrom = succ;
      } else {
        const sp = succ._parent as SpanNode;
        const sr = succ._right;
        sp._left = sr;
        if (sr !== null) sr._parent = sp;
        succ._right = r;
        r._parent = succ;
        fixFrom = sp;
      }
      succ._left = l;
      l._parent = succ;
      succ._parent = parent;
      this.replaceChild(parent, item, succ);
      // The walk compares each position's new summary with its old one to stop early;
      // succ now stands where item stood, so it inherits item's old summary.
      succ._height = item._height;
      succ._maxGap = item._maxGap;
    } else {
      const child = l !== null ? l : r;
      if (child !== null) child._parent = parent;
      this.replaceChild(parent, item, child);
      fixFrom = parent;
    }
    if (this._hint === item) this._hint = null;
    item._tree = null;
    item._left = null;
    item._right = null;
    item._parent = null;
    item._prev = null;
    item._next = null;
    item._height = 0;
    item._maxGap = 0;
    this._size--;
    this.rebalanceUpward(fixFrom);
    // The successor's own gap grew; it may sit off the path just walked (e.g. in item's
    // right subtree when item had one child).
    if (s !== null) this.fixGapsUpward(s);
  }

  /**
   * Call after changing `item.start` and/or `item.end` in place (a VMA split or merge
   * adjusting bounds) in a way that keeps address order and non-overlap: re-computes the
   * gap augmentation for the item and its successor. O(log n).
   *
   * @throws Error if `item` is not in this tree, or the new bounds are empty, negative, or
   *   overlap a neighbour.
   */
  adjusted(item: T): void {
    if (item._tree !== this) {
      throw new Error(`SpanTree.adjusted: ${fmtSpan(item.start, item.end)} is not in this tree`);
    }
    const start = item.start;
    const end = item.end;
    const p = item._prev;
    const s = item._next;
    if (
      !(start >= 0 && start < end && end < Infinity) ||
      (p !== null && p.end > start) ||
      (s !== null && end > s.start)
    ) {
      throw new Error(
        `SpanTree.adjusted: ${fmtSpan(start, end)} is empty or overlaps a neighbour` +
          (p !== null ? ` (prev ${fmtSpan(p.start, p.end)})` : '') +
          (s !== null ? ` (next ${fmtSpan(s.start, s.end)})` : ''),
      );
    }
    // Only two own-gaps changed: item's (start moved) and its successor's (end moved).
    this.fixGapsUpward(item);
    if (s !== null) this.fixGapsUpward(s);
  }

  /**
   * Linux `find_vma()`: the first item whose `end > addr` (it contains `addr` or lies
   * entirely above it), or undefined. O(log n), no allocation; O(1) when the previous
   * lookup's item contains `addr`.
   */
  findFirstEndAfter(addr: number): T | undefined {
    const h = this._hint;
    // Items before the one containing addr all end at or below addr.
    if (h !== null && h.start <= addr && addr < h.end) return h as T;
    let n = this._root;
    let found: SpanNode | null = null;
    while (n !== null) {
      if (n.end > addr) {
        found = n;
        n = n._left;
      } else {
        n = n._right;
      }
    }
    if (found === null) return undefined;
    this._hint = found;
    return found as T;
  }

  /**
   * The item with `start <= addr < end`, or undefined. O(log n), no allocation; O(1) when
   * it is the item the previous lookup returned.
   */
  findContaining(addr: number): T | undefined {
    const h = this._hint;
    if (h !== null && h.start <= addr && addr < h.end) return h as T;
    let n = this._root;
    while (n !== null) {
      if (addr < n.start) n = n._left;
      else if (addr >= n.end) n = n._right;
      else {
        this._hint = n;
        return n as T;
      }
    }
    return undefined;
  }

  /**
   * The last item whose `start < addr`, or undefined: the predecessor of a hole at `addr`,
   * or the item containing `addr` when `addr` is not its first byte. O(log n).
   */
  findLastStartBefore(addr: number): T | undefined {
    const h = this._hint;
    // The next item starts at or above h.end, so not below addr.
    if (h !== null && h.start < addr && addr <= h.end) return h as T;
    let n = this._root;
    let found: SpanNode | null = null;
    while (n !== null) {
      if (n.start < addr) {
        found = n;
        n = n._right;
      } else {
        n = n._left;
      }
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

    const root = this._root;
    if (root === null || root._maxGap < length) return -1;
    let n: SpanNode = root;
    // Reverse in-order walk over the candidate gaps, skipping subtrees whose max gap is too
    // small or that lie entirely above `high`; gaps are met in descending address order.
    outer: while (true) {
      // Every gap in the right subtree starts at or above n.end.
      if (n.end <= highLimit) {
        const r: SpanNode | null = n._right;
        if (r !== null && r._maxGap >= length) {
          n = r;
          continue;
        }
      }
      while (true) {
        const gapEnd = n.start;
        // Every remaining gap ends at or below this one.
        if (gapEnd < lowLimit) return -1;
        const p: SpanNode | null = n._prev;
        const gapStart = p === null ? 0 : p.end;
        if (gapStart <= highLimit && gapEnd - gapStart >= length) {
          const a = alignDown((gapEnd < high ? gapEnd : high) - length, align);
          if (a >= gapStart && a >= low) return a;
        }
        const l: SpanNode | null = n._left;
        if (l !== null && l._maxGap >= length) {
          n = l;
          continue outer;
        }
        // Climb until we arrive from a right child: that ancestor's own gap is next.
        let child: SpanNode = n;
        let up: SpanNode | null = n._parent;
        while (up !== null && up._left === child) {
          child = up;
          up = up._parent;
        }
        if (up === null) return -1;
        n = up;
      }
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

    const root = this._root;
    if (root !== null && root._maxGap >= length) {
      let n: SpanNode = root;
      // In-order walk over the candidate gaps, skipping subtrees whose max gap is too small
      // or that lie entirely below `low`; gaps are met in ascending address order.
      outer: while (true) {
        const l: SpanNode | null = n._left;
        // The left subtree's gaps all end at or below the start of n's predecessor, which
        // is the left subtree's last node.
        if (l !== null && l._maxGap >= length && (n._prev as SpanNode).start >= lowLimit) {
          n = l;
          continue;
        }
        while (true) {
          const p: SpanNode | null = n._prev;
          const gapStart = p === null ? 0 : p.end;
          // Every remaining gap, the tail included, starts at or above this one.
          if (gapStart > highLimit) return -1;
          const gapEnd = n.start;
          if (gapEnd >= lowLimit && gapEnd - gapStart >= length) {
            const a = alignUp(gapStart > low ? gapStart : low, align);
            if (a + length <= gapEnd && a + length <= high) return a;
          }
          const r: SpanNode | null = n._right;
          if (r !== null && r._maxGap >= length) {
            n = r;
            continue outer;
          }
          // Climb until we arrive from a left child: that ancestor's own gap is next.
          let child: SpanNode = n;
          let up: SpanNode | null = n._parent;
          while (up !== null && up._right === child) {
            child = up;
            up = up._parent;
          }
          if (up === null) break outer;
          n = up;
        }
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
   * Checks every structural invariant — BST/address order and non-overlap, AVL heights and
   * balance, the max-gap augmentation, parent/child links, the prev/next list, first/last,
   * ownership and size — and throws an Error naming the first violation. O(n); for tests.
   */
  checkInvariants(): void {
    const root = this._root;
    const fail = (msg: string): never => {
      throw new Error(`SpanTree invariant violated: ${msg}`);
    };
    if (root === null) {
      if (this._size !== 0) fail(`empty tree but size is ${this._size}`);
      if (this._first !== null || this._last !== null) fail('empty tree but first/last set');
      return;
    }
    if (root._parent !== null) fail('root has a parent');
    if (this._hint !== null && this._hint._tree !== this) fail('lookup hint is not in this tree');
    let cur: SpanNode | null = root;
    let steps = 0;
    while (cur._left !== null) {
      cur = cur._left;
      if (++steps > this._size) fail('left spine longer than size (cycle?)');
    }
    if (this._first !== cur) fail('first() is not the leftmost node');
    let count = 0;
    let prev: SpanNode | null = null;
    while (cur !== null) {
      const n: SpanNode = cur;
      const at = fmtSpan(n.start, n.end);
      if (++count > this._size) fail(`more than size=${this._size} nodes reachable`);
      if (n._tree !== this) fail(`${at} does not belong to this tree`);
      if (!(Number.isInteger(n.start) && Number.isInteger(n.end))) {
        fail(`${at} has non-integer bounds`);
      }
      if (!(n.start >= 0 && n.start < n.end)) fail(`${at} is empty or negative`);
      if (n._prev !== prev) fail(`${at}: prev link does not match in-order predecessor`);
      if (prev !== null) {
        if (prev._next !== n) fail(`${fmtSpan(prev.start, prev.end)}: next link does not match in-order successor`);
        if (prev.end > n.start) {
          fail(`${fmtSpan(prev.start, prev.end)} and ${at} are out of order or overlap`);
        }
      }
      const l: SpanNode | null = n._left;
      const r: SpanNode | null = n._right;
      if (l !== null && l._parent !== n) fail(`${at}: left child's parent link is wrong`);
      if (r !== null && r._parent !== n) fail(`${at}: right child's parent link is wrong`);
      const hl = heightOf(l);
      const hr = heightOf(r);
      const h = (hl > hr ? hl : hr) + 1;
      if (n._height !== h) fail(`${at}: stored height ${n._height}, expected ${h}`);
      if (hl - hr > 1 || hr - hl > 1) fail(`${at}: AVL balance ${hl - hr}`);
      const g = computeMaxGap(n);
      if (n._maxGap !== g) fail(`${at}: stored max gap 0x${n._maxGap.toString(16)}, expected 0x${g.toString(16)}`);
      prev = n;
      if (r !== null) {
        cur = r;
        while (cur._left !== null) cur = cur._left;
      } else {
        let child: SpanNode = n;
        let up = n._parent;
        while (up !== null && up._right === child) {
          child = up;
          up = up._parent;
        }
        if (up !== null && up._left !== child) fail(`${fmtSpan(child.start, child.end)}: parent link is wrong`);
        cur = up;
      }
    }
    if (this._last !== prev) fail('last() is not the rightmost node');
    if (prev !== null && prev._next !== null) fail('rightmost node has a next link');
    if (count !== this._size) fail(`size is ${this._size} but ${count} nodes are reachable`);
  }

  private replaceChild(parent: SpanNode | null, old: SpanNode, repl: SpanNode | null): void {
    if (parent === null) this._root = repl;
    else if (parent._left === old) parent._left = repl;
    else parent._right = repl;
  }

  /** x's right child takes x's place; returns it. */
  private rotateLeft(x: SpanNode): SpanNode {
    const y = x._right as SpanNode;
    const b = y._left;
    x._right = b;
    if (b !== null) b._parent = x;
    const p = x._parent;
    y._left = x;
    x._parent = y;
    y._parent = p;
    this.replaceChild(p, x, y);
    update(x);
    update(y);
    return y;
  }

  /** x's left child takes x's place; returns it. */
  private rotateRight(x: SpanNode): SpanNode {
    const y = x._left as SpanNode;
    const b = y._right;
    x._left = b;
    if (b !== null) b._parent = x;
    const p = x._parent;
    y._right = x;
    x._parent = y;
    y._parent = p;
    this.replaceChild(p, x, y);
    update(x);
    update(y);
    return y;
  }

  /**
   * Restores AVL balance at n (children already valid) and recomputes its summary;
   * returns the node now at n's position.
   */
  private rebalance(n: SpanNode): SpanNode {
    const l = n._left;
    const r = n._right;
    const hl = heightOf(l);
    const hr = heightOf(r);
    if (hl > hr + 1) {
      const ln = l as SpanNode;
      if (heightOf(ln._left) < heightOf(ln._right)) this.rotateLeft(ln);
      return this.rotateRight(n);
    }
    if (hr > hl + 1) {
      const rn = r as SpanNode;
      if (heightOf(rn._right) < heightOf(rn._left)) this.rotateRight(rn);
      return this.rotateLeft(n);
    }
    n._height = (hl > hr ? hl : hr) + 1;
    n._maxGap = computeMaxGap(n);
    return n;
  }

  /**
   * Rebalances and re-summarises from n to the root after a structural change below n,
   * stopping as soon as a position's height and max gap come out unchanged (nothing above
   * can then change, except through an own gap that moved: callers fix those separately).
   */
  private rebalanceUpward(n: SpanNode | null): void {
    while (n !== null) {
      const oldHeight = n._height;
      const oldGap = n._maxGap;
      const top = this.rebalance(n);
      if (top._height === oldHeight && top._maxGap === oldGap) return;
      n = top._parent;
    }
  }

  /** Re-summarises max gaps from n (whose own gap changed) up to the root, stopping early. */
  private fixGapsUpward(n: SpanNode | null): void {
    while (n !== null) {
      const g = computeMaxGap(n);
      if (g === n._maxGap) return;
      n._maxGap = g;
      n = n._parent;
    }
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

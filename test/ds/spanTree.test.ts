import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SpanNode, SpanTree } from '../../src/ds/spanTree.js';

const P = 4096;

/** A span in pages, to keep the tests readable. */
class Vma extends SpanNode {
  name: string;
  constructor(startPage: number, endPage: number, name = '') {
    super(startPage * P, endPage * P);
    this.name = name;
  }
}

/** Builds a tree from [startPage, endPage) pairs and checks it. */
function build(...spans: Array<[number, number]>): { tree: SpanTree<Vma>; items: Vma[] } {
  const tree = new SpanTree<Vma>();
  const items = spans.map(([s, e]) => new Vma(s, e));
  for (const it of items) tree.insert(it);
  tree.checkInvariants();
  return { tree, items };
}

/** Lists the tree's spans in pages, walking the prev/next links. */
function pages(tree: SpanTree<Vma>): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let n = tree.first(); n !== undefined; n = n.nextSpan) out.push([n.start / P, n.end / P]);
  return out;
}

describe('SpanTree: empty tree', () => {
  const tree = new SpanTree<Vma>();
  it('has no items', () => {
    tree.checkInvariants();
    assert.equal(tree.size, 0);
    assert.equal(tree.first(), undefined);
    assert.equal(tree.last(), undefined);
    assert.equal(tree.findFirstEndAfter(0), undefined);
    assert.equal(tree.findContaining(0), undefined);
    assert.equal(tree.findLastStartBefore(1 << 30), undefined);
    assert.deepEqual([...tree.overlapping(0, 1 << 30)], []);
  });
  it('offers the whole [low, high) window to the gap searches', () => {
    assert.equal(tree.findGapTopDown(0, 100 * P, P), 99 * P);
    assert.equal(tree.findGapBottomUp(0, 100 * P, P), 0);
    assert.equal(tree.findGapTopDown(3 * P, 10 * P, 7 * P), 3 * P);
    assert.equal(tree.findGapBottomUp(3 * P, 10 * P, 7 * P), 3 * P);
    assert.equal(tree.findGapTopDown(3 * P, 10 * P, 8 * P), -1);
    assert.equal(tree.findGapBottomUp(3 * P, 10 * P, 8 * P), -1);
    assert.equal(tree.findGapTopDown(-5 * P, 2 * P, 2 * P), 0, 'negative low is clamped to 0');
  });
  it('rejects removing or adjusting a foreign item', () => {
    const v = new Vma(0, 1);
    assert.throws(() => tree.remove(v), /not in this tree/);
    assert.throws(() => tree.adjusted(v), /not in this tree/);
  });
});

describe('SpanTree: insert', () => {
  it('keeps address order, first/last and the prev/next links', () => {
    const { tree, items } = build([10, 12], [2, 3], [20, 25], [5, 6], [0, 1], [15, 16]);
    assert.equal(tree.size, 6);
    assert.deepEqual(pages(tree), [[0, 1], [2, 3], [5, 6], [10, 12], [15, 16], [20, 25]]);
    assert.equal(tree.first(), items[4]);
    assert.equal(tree.last(), items[2]);
    assert.equal(tree.first()!.prevSpan, undefined);
    assert.equal(tree.last()!.nextSpan, undefined);
    assert.equal(items[0].prevSpan, items[3]);
    assert.equal(items[0].nextSpan, items[5]);
  });

  it('keeps subclass fields and types', () => {
    const tree = new SpanTree<Vma>();
    tree.insert(new Vma(1, 2, 'text'));
    tree.insert(new Vma(2, 3, 'data'));
    const text = tree.findContaining(P)!;
    const name: string = text.nextSpan!.name;
    assert.equal(name, 'data');
  });

  it('accepts spans that touch their neighbours', () => {
    const { tree } = build([0, 1], [2, 3], [1, 2]);
    assert.deepEqual(pages(tree), [[0, 1], [1, 2], [2, 3]]);
  });

  it('throws on every kind of overlap and leaves the tree unchanged', () => {
    const { tree } = build([10, 20], [30, 40]);
    for (const [s, e] of [
      [10, 20], // identical
      [5, 11], // over the start
      [19, 25], // over the end
      [12, 13], // inside
      [5, 45], // around both
      [25, 31], // over the second's start
    ] as Array<[number, number]>) {
      assert.throws(() => tree.insert(new Vma(s, e)), /overlaps existing/, `[${s}, ${e})`);
      tree.checkInvariants();
      assert.equal(tree.size, 2);
    }
    assert.deepEqual(pages(tree), [[10, 20], [30, 40]]);
  });

  it('throws on empty, inverted or negative spans and on double insertion', () => {
    const tree = new SpanTree<Vma>();
    assert.throws(() => tree.insert(new Vma(3, 3)), /invalid span/);
    assert.throws(() => tree.insert(new Vma(4, 3)), /invalid span/);
    assert.throws(() => tree.insert(new Vma(-1, 3)), /invalid span/);
    const v = new Vma(1, 2);
    tree.insert(v);
    assert.throws(() => tree.insert(v), /already in a tree/);
    assert.throws(() => new SpanTree<Vma>().insert(v), /already in a tree/);
    tree.checkInvariants();
    assert.equal(tree.size, 1);
  });

  it('stays balanced under ascending and descending insertion', () => {
    const up = new SpanTree<Vma>();
    const down = new SpanTree<Vma>();
    for (let i = 0; i < 1000; i++) {
      up.insert(new Vma(2 * i, 2 * i + 1));
      down.insert(new Vma(2 * (1000 - i), 2 * (1000 - i) + 1));
    }
    up.checkInvariants();
    down.checkInvariants();
  });

  it('handles addresses near 2^57', () => {
    const top = 2 ** 57;
    const tree = new SpanTree<SpanNode>();
    tree.insert(new SpanNode(top - 3 * P, top - 2 * P));
    tree.insert(new SpanNode(top - P, top));
    tree.checkInvariants();
    assert.equal(tree.findGapTopDown(0, top, P), top - 2 * P);
    assert.equal(tree.findGapTopDown(0, top, 2 * P), top - 5 * P);
    assert.equal(tree.findContaining(top - P / 2)!.start, top - P);
  });
});

describe('SpanTree: lookups', () => {
  // [2,4) [6,7) [7,10) [20,21)
  const { tree, items } = build([2, 4], [6, 7], [7, 10], [20, 21]);
  const [a, b, c, d] = items as [Vma, Vma, Vma, Vma];

  it('findFirstEndAfter behaves like find_vma()', () => {
    assert.equal(tree.findFirstEndAfter(0), a);
    assert.equal(tree.findFirstEndAfter(2 * P), a);
    assert.equal(tree.findFirstEndAfter(4 * P - 1), a);
    assert.equal(tree.findFirstEndAfter(4 * P), b, 'end is exclusive');
    assert.equal(tree.findFirstEndAfter(5 * P), b, 'in a hole: the next item');
    assert.equal(tree.findFirstEndAfter(7 * P), c);
    assert.equal(tree.findFirstEndAfter(10 * P), d);
    assert.equal(tree.findFirstEndAfter(21 * P - 1), d);
    assert.equal(tree.findFirstEndAfter(21 * P), undefined);
  });

  it('findContaining honours [start, end)', () => {
    assert.equal(tree.findContaining(2 * P - 1), undefined);
    assert.equal(tree.findContaining(2 * P), a);
    assert.equal(tree.findContaining(4 * P - 1), a);
    assert.equal(tree.findContaining(4 * P), undefined);
    assert.equal(tree.findContaining(7 * P - 1), b);
    assert.equal(tree.findContaining(7 * P), c);
    assert.equal(tree.findContaining(15 * P), undefined);
    assert.equal(tree.findContaining(20 * P + 5), d);
    assert.equal(tree.findContaining(21 * P), undefined);
  });

  it('findLastStartBefore finds the predecessor of a hole', () => {
    assert.equal(tree.findLastStartBefore(0), undefined);
    assert.equal(tree.findLastStartBefore(2 * P), undefined, 'start is not < start');
    assert.equal(tree.findLastStartBefore(2 * P + 1), a);
    assert.equal(tree.findLastStartBefore(5 * P), a);
    assert.equal(tree.findLastStartBefore(7 * P), b);
    assert.equal(tree.findLastStartBefore(15 * P), c);
    assert.equal(tree.findLastStartBefore(1e15), d);
  });

  it('overlapping yields the intersecting items in order', () => {
    const names = (s: number, e: number): Vma[] => [...tree.overlapping(s * P, e * P)];
    assert.deepEqual(names(0, 100), [a, b, c, d]);
    assert.deepEqual(names(0, 2), []);
    assert.deepEqual(names(4, 6), [], 'a hole exactly');
    assert.deepEqual(names(3, 7), [a, b]);
    assert.deepEqual(names(6.5, 7.5), [b, c]);
    assert.deepEqual(names(9, 20), [c]);
    assert.deepEqual(names(9, 20.0001), [c, d]);
    assert.deepEqual(names(21, 30), []);
    assert.deepEqual(names(5, 5), [], 'empty range');
    assert.deepEqual(names(8, 3), [], 'inverted range');
  });

  it('overlapping tolerates removing the item just yielded', () => {
    const t = build([0, 1], [2, 3], [4, 5], [6, 7], [8, 9]).tree;
    const seen: number[] = [];
    for (const v of t.overlapping(P, 7 * P)) {
      seen.push(v.start / P);
      t.remove(v);
    }
    assert.deepEqual(seen, [2, 4, 6]);
    t.checkInvariants();
    assert.deepEqual(pages(t), [[0, 1], [8, 9]]);
  });
});

describe('SpanTree: gap searches', () => {
  // Holes: [0,2) [4,6) [7,10) and the tail from 20.
  const { tree } = build([2, 4], [6, 7], [10, 20]);
  const top = (lo: number, hi: number, len: number, al = 1): number => {
    const a = tree.findGapTopDown(lo * P, hi * P, len * P, al * P);
    return a < 0 ? a : a / P;
  };
  const bot = (lo: number, hi: number, len: number, al = 1): number => {
    const a = tree.findGapBottomUp(lo * P, hi * P, len * P, al * P);
    return a < 0 ? a : a / P;
  };

  it('uses the space above the last item up to high', () => {
    assert.equal(top(0, 100, 1), 99);
    assert.equal(top(0, 100, 80), 20, 'exact fit in the tail');
    assert.equal(top(0, 100, 81), -1);
    assert.equal(bot(0, 100, 80), 20);
    assert.equal(bot(15, 100, 4), 20, 'first fit above low is the tail');
  });

  it('ignores the tail when high is at or below the last end', () => {
    assert.equal(top(0, 20, 1), 9);
    assert.equal(top(0, 15, 1), 9);
    assert.equal(top(0, 20, 3), 7, 'exact fit');
    assert.equal(top(0, 20, 4), -1);
    assert.equal(bot(0, 20, 3), 7);
    assert.equal(bot(0, 20, 4), -1);
  });

  it('finds the gap at the very bottom', () => {
    assert.equal(bot(0, 100, 1), 0);
    assert.equal(bot(0, 100, 2), 0, 'exact fit');
    assert.equal(top(0, 3, 2), 0);
    assert.equal(top(0, 2, 2), 0);
    assert.equal(top(0, 2, 3), -1);
  });

  it('clamps gaps to [low, high]', () => {
    assert.equal(top(0, 9, 2), 7, 'hole [7,10) clamped to [7,9)');
    assert.equal(top(0, 8, 2), 4, 'hole [7,10) clamped to [7,8) is too small');
    assert.equal(bot(8, 100, 2), 8, 'hole [7,10) clamped to [8,10)');
    assert.equal(bot(9, 100, 2), 20, 'hole [7,10) clamped to [9,10) is too small');
    assert.equal(bot(1, 100, 1), 1, 'hole [0,2) clamped to [1,2)');
    assert.equal(bot(1, 100, 2), 4);
    assert.equal(top(4, 6, 2), 4, 'window equal to a hole');
    assert.equal(top(4, 6, 3), -1, 'length larger than the window');
    assert.equal(bot(5, 5, 1), -1, 'empty window');
    assert.equal(bot(3, 4, 1), -1, 'window inside an item');
    assert.equal(top(3, 4, 1), -1, 'window inside an item');
  });

  it('honours alignment', () => {
    // Hole [7,10): 2-page aligned 2-page placements start at 8 only.
    assert.equal(top(0, 20, 2, 2), 8);
    assert.equal(bot(5, 20, 2, 2), 8);
    // Hole [4,6) fits an aligned 2-page placement exactly; [0,2) too.
    assert.equal(bot(0, 20, 2, 2), 0);
    assert.equal(bot(1, 20, 2, 2), 4);
    assert.equal(top(0, 7, 2, 2), 4);
    // 4-page alignment: in [7,10) only 8 is a multiple of 4, which fits 2 pages but not 3.
    assert.equal(top(0, 20, 2, 4), 8);
    assert.equal(top(0, 20, 3, 4), -1, 'hole [7,10) is 3 pages but not aligned to 4');
    assert.equal(bot(0, 100, 3, 4), 20);
    assert.equal(top(0, 100, 3, 4), 96);
    assert.equal(top(0, 98, 3, 4), 92, 'aligned down inside the tail');
    assert.equal(bot(21, 100, 1, 8), 24, 'aligned up inside the tail');
    assert.equal(bot(0, 100, 1, 16), 0);
    assert.equal(bot(1, 100, 1, 16), 32);
    assert.equal(top(0, 31, 1, 16), 0);
    // A huge alignment (above 2^32) is fine.
    assert.equal(tree.findGapBottomUp(P, 2 ** 50, P, 2 ** 40), 2 ** 40);
    assert.equal(tree.findGapTopDown(0, 2 ** 50, P, 2 ** 40), 2 ** 50 - 2 ** 40);
  });

  it('rejects bad arguments', () => {
    assert.throws(() => tree.findGapTopDown(0, 100 * P, 0), RangeError);
    assert.throws(() => tree.findGapBottomUp(0, 100 * P, -P), RangeError);
    assert.throws(() => tree.findGapTopDown(0, Infinity, P), RangeError);
    assert.throws(() => tree.findGapTopDown(NaN, 100 * P, P), RangeError);
    assert.throws(() => tree.findGapTopDown(0, 100 * P, P, 3 * P), RangeError);
    assert.throws(() => tree.findGapBottomUp(0, 100 * P, P, 2048), RangeError);
  });
});

describe('SpanTree: adjusted', () => {
  it('shrinking a span opens gaps the searches then find', () => {
    const { tree, items } = build([0, 4], [4, 8], [8, 12]);
    const mid = items[1];
    assert.equal(tree.findGapBottomUp(0, 12 * P, P), -1);
    mid.start = 5 * P; // unmap the first page of mid
    tree.adjusted(mid);
    tree.checkInvariants();
    assert.equal(tree.findGapBottomUp(0, 12 * P, P), 4 * P);
    mid.end = 6 * P; // and its last two pages
    tree.adjusted(mid);
    tree.checkInvariants();
    assert.equal(tree.findGapTopDown(0, 12 * P, 2 * P), 6 * P);
    assert.equal(tree.findGapTopDown(0, 12 * P, 3 * P), -1);
    assert.equal(tree.findContaining(7 * P), undefined);
  });

  it('growing a span closes gaps', () => {
    const { tree, items } = build([2, 3], [5, 6], [9, 10]);
    const last = items[2];
    last.start = 6 * P;
    last.end = 12 * P;
    tree.adjusted(last);
    tree.checkInvariants();
    assert.equal(tree.findGapTopDown(0, 12 * P, 2 * P), 3 * P);
    assert.equal(tree.findGapBottomUp(0, 100 * P, 5 * P), 12 * P);
    const first = items[0];
    first.start = 0; // the bottom gap disappears
    tree.adjusted(first);
    tree.checkInvariants();
    assert.equal(tree.findGapBottomUp(0, 100 * P, P), 3 * P);
    assert.equal(tree.findContaining(0), first);
  });

  it('a split (shrink + insert) and a merge (remove + grow) keep the tree valid', () => {
    const { tree, items } = build([0, 1], [4, 10], [20, 21]);
    const vma = items[1];
    vma.end = 7 * P;
    tree.adjusted(vma);
    const tail = new Vma(7, 10);
    tree.insert(tail);
    tree.checkInvariants();
    assert.deepEqual(pages(tree), [[0, 1], [4, 7], [7, 10], [20, 21]]);
    tree.remove(tail);
    vma.end = 10 * P;
    tree.adjusted(vma);
    tree.checkInvariants();
    assert.deepEqual(pages(tree), [[0, 1], [4, 10], [20, 21]]);
  });

  it('rejects bounds that would overlap a neighbour or be empty', () => {
    const { tree, items } = build([0, 2], [4, 6], [8, 10]);
    const mid = items[1];
    for (const [s, e] of [
      [1, 6],
      [4, 9],
      [5, 5],
      [6, 5],
    ] as Array<[number, number]>) {
      mid.start = s * P;
      mid.end = e * P;
      assert.throws(() => tree.adjusted(mid), /overlaps a neighbour/, `[${s}, ${e})`);
    }
    mid.start = 2 * P;
    mid.end = 8 * P; // touching both neighbours is fine
    tree.adjusted(mid);
    tree.checkInvariants();
    assert.equal(tree.findGapBottomUp(0, 10 * P, P), -1);
  });
});

describe('SpanTree: remove', () => {
  it('removes the first, last, middle and root items', () => {
    const spans: Array<[number, number]> = [];
    for (let i = 0; i < 15; i++) spans.push([2 * i, 2 * i + 1]);
    const { tree, items } = build(...spans);
    const first = items[0];
    tree.remove(first);
    tree.checkInvariants();
    assert.equal(tree.first(), items[1]);
    assert.equal(items[1].prevSpan, undefined);
    assert.equal(tree.findGapBottomUp(0, 100 * P, 2 * P), 0, 'the bottom hole is now [0, 2)');

    const last = items[14];
    tree.remove(last);
    tree.checkInvariants();
    assert.equal(tree.last(), items[13]);
    assert.equal(items[13].nextSpan, undefined);
    assert.equal(tree.findGapTopDown(0, 29 * P, 2 * P), 27 * P, 'the tail now starts at 27');

    const mid = items[7];
    tree.remove(mid);
    tree.checkInvariants();
    assert.equal(items[6].nextSpan, items[8]);
    assert.equal(items[8].prevSpan, items[6]);
    assert.equal(tree.findGapTopDown(0, 27 * P, 3 * P), 13 * P, 'the merged hole [13, 16)');

    while (tree.size > 0) {
      // Remove whichever item is at the root: exercises the two-children path.
      const root = (tree as unknown as { _root: Vma })._root;
      tree.remove(root);
      tree.checkInvariants();
    }
    assert.equal(tree.first(), undefined);
    assert.equal(tree.last(), undefined);
    assert.equal(tree.findGapTopDown(0, 10 * P, 10 * P), 0);
  });

  it('clears the links of a removed item, which can then be reinserted', () => {
    const { tree, items } = build([0, 1], [2, 3], [4, 5]);
    const mid = items[1];
    tree.remove(mid);
    assert.equal(mid.prevSpan, undefined);
    assert.equal(mid.nextSpan, undefined);
    assert.throws(() => tree.remove(mid), /not in this tree/);
    const other = new SpanTree<Vma>();
    other.insert(mid);
    other.checkInvariants();
    other.remove(mid);
    tree.insert(mid);
    tree.checkInvariants();
    assert.deepEqual(pages(tree), [[0, 1], [2, 3], [4, 5]]);
  });
});

describe('SpanTree: checkInvariants', () => {
  it('reports corrupted augmentation, order and links', () => {
    const fresh = (): { tree: SpanTree<Vma>; items: Vma[] } => build([0, 1], [2, 3], [4, 5], [6, 7], [8, 9]);
    {
      const { tree, items } = fresh();
      items[2]._maxGap += P;
      assert.throws(() => tree.checkInvariants(), /max gap/);
    }
    {
      const { tree, items } = fresh();
      items[3].start = 1 * P; // bypassing adjusted(): now overlaps its predecessor
      assert.throws(() => tree.checkInvariants(), /out of order or overlap|max gap/);
    }
    {
      const { tree, items } = fresh();
      items[4]._prev = items[0]!;
      assert.throws(() => tree.checkInvariants(), /prev link/);
    }
    {
      const { tree, items } = fresh();
      items[1]._height = 7;
      assert.throws(() => tree.checkInvariants(), /height/);
    }
  });
});

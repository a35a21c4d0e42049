import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SpanNode, SpanTree } from '../../src/ds/spanTree.js';

// Tests of the B+-tree behind SpanTree that the contract tests (spanTree.test.ts,
// spanTree.prop.test.ts) do not reach: insertAfter, trees deep enough for every split,
// merge, borrow and root change, and corruption of a multi-level tree.

const P = 4096;

class Item extends SpanNode {
  readonly id: number;
  constructor(startPage: number, endPage: number, id = 0) {
    super(startPage * P, endPage * P);
    this.id = id;
  }
}

function pages(tree: SpanTree<Item>): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let n = tree.first(); n !== undefined; n = n.nextSpan) out.push([n.start / P, n.end / P]);
  return out;
}

/** mulberry32: a small deterministic PRNG. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffle<X>(xs: X[], rand: () => number): X[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [xs[i], xs[j]] = [xs[j], xs[i]];
  }
  return xs;
}

describe('SpanTree.insertAfter', () => {
  it('inserts right after prev, or at the front with undefined', () => {
    const tree = new SpanTree<Item>();
    const b = new Item(10, 12);
    tree.insertAfter(undefined, b);
    const d = new Item(20, 21);
    tree.insertAfter(b, d);
    const c = new Item(12, 15);
    tree.insertAfter(b, c);
    const a = new Item(0, 1);
    tree.insertAfter(undefined, a);
    tree.checkInvariants();
    assert.deepEqual(pages(tree), [[0, 1], [10, 12], [12, 15], [20, 21]]);
    assert.equal(c.prevSpan, b);
    assert.equal(c.nextSpan, d);
    assert.equal(tree.first(), a);
    assert.equal(tree.last(), d);
    assert.equal(tree.findContaining(13 * P), c);
  });

  it('does a VMA split: shrink, adjusted, insertAfter', () => {
    const tree = new SpanTree<Item>();
    const items: Item[] = [];
    for (let i = 0; i < 200; i++) items.push(new Item(4 * i, 4 * i + 3));
    for (const it of items) tree.insert(it);
    for (let i = 0; i < 200; i += 3) {
      const v = items[i];
      const upper = new Item(4 * i + 1, 4 * i + 3);
      v.end = (4 * i + 1) * P;
      tree.adjusted(v);
      tree.insertAfter(v, upper);
    }
    tree.checkInvariants();
    assert.equal(tree.size, 200 + 67);
    assert.equal(tree.findGapBottomUp(0, 2 ** 40, 2 * P), 799 * P, 'no 2-page hole below the tail');
  });

  it('throws, leaving the tree unchanged, when the item does not fit right after prev', () => {
    const tree = new SpanTree<Item>();
    const [a, b, c] = [new Item(0, 2), new Item(4, 6), new Item(8, 10)];
    for (const it of [a, b, c]) tree.insert(it);
    const cases: Array<[Item | undefined, number, number, RegExp]> = [
      [b, 5, 7, /overlaps existing/], // over prev
      [b, 7, 9, /overlaps existing/], // over prev's successor
      [b, 6, 11, /overlaps existing/], // around prev's successor
      [b, 1, 2, /not above prev/], // below prev
      [b, 11, 12, /not directly after prev/], // beyond prev's successor
      [undefined, 1, 3, /overlaps existing/], // over the first
      [undefined, 12, 13, /not directly after prev/], // not before the first
    ];
    for (const [prev, s, e, re] of cases) {
      assert.throws(() => tree.insertAfter(prev, new Item(s, e)), re, `after ${prev ? prev.start / P : '-'}: [${s}, ${e})`);
      tree.checkInvariants();
      assert.deepEqual(pages(tree), [[0, 2], [4, 6], [8, 10]]);
    }
    assert.throws(() => tree.insertAfter(a, b), /already in a tree/);
    assert.throws(() => tree.insertAfter(a, new Item(3, 3)), /invalid span/);
    const stranger = new Item(20, 21);
    assert.throws(() => tree.insertAfter(stranger, new Item(22, 23)), /not in this tree/);
    tree.checkInvariants();
    assert.equal(tree.size, 3);
  });
});

describe('SpanTree: deep trees', () => {
  const orders: Array<[string, (n: number, rand: () => number) => number[]]> = [
    ['ascending', (n) => [...Array(n).keys()]],
    ['descending', (n) => [...Array(n).keys()].reverse()],
    ['random', (n, rand) => shuffle([...Array(n).keys()], rand)],
  ];
  for (const [insertName, insertOrder] of orders) {
    for (const [removeName, removeOrder] of orders) {
      it(`inserts 3000 spans ${insertName}, removes them ${removeName}`, () => {
        const rand = prng(insertName.length * 31 + removeName.length);
        const n = 3000;
        const items = [...Array(n).keys()].map((i) => new Item(3 * i, 3 * i + 2, i));
        const tree = new SpanTree<Item>();
        let step = 0;
        for (const i of insertOrder(n, rand)) {
          tree.insert(items[i]);
          if (++step % 250 === 0) tree.checkInvariants();
        }
        tree.checkInvariants();
        assert.equal(tree.size, n);
        assert.equal(tree.findFirstEndAfter(3 * 1234 * P + 1), items[1234]);
        assert.equal(tree.findGapTopDown(0, 3 * n * P, 2 * P), -1);
        for (const i of removeOrder(n, rand)) {
          tree.remove(items[i]);
          if (++step % 250 === 0) tree.checkInvariants();
        }
        tree.checkInvariants();
        assert.equal(tree.size, 0);
        assert.equal(tree.first(), undefined);
        // The emptied tree works as new.
        tree.insert(items[7]);
        tree.checkInvariants();
        assert.equal(tree.findContaining(21 * P), items[7]);
      });
    }
  }

  it('survives churn at node boundaries without leaking storage', () => {
    const tree = new SpanTree<Item>();
    const items = [...Array(2000).keys()].map((i) => new Item(2 * i, 2 * i + 1, i));
    for (const it of items) tree.insert(it);
    const storage = (): number => (tree as unknown as { _capacity: number })._capacity;
    const before = storage();
    const rand = prng(99);
    // Remove and re-insert runs of neighbours: leaves underflow, merge, borrow, split.
    for (let round = 0; round < 300; round++) {
      const at = Math.floor(rand() * 1900);
      const len = 1 + Math.floor(rand() * 40);
      for (let i = at; i < at + len; i++) tree.remove(items[i]);
      if (round % 10 === 0) tree.checkInvariants();
      for (let i = at + len - 1; i >= at; i--) tree.insert(items[i]);
    }
    tree.checkInvariants();
    assert.deepEqual(pages(tree), items.map((it) => [it.start / P, it.end / P]));
    assert.ok(storage() <= 2 * before, `node storage grew from ${before} to ${storage()} blocks`);
  });

  it('finds gaps in every part of a large tree', () => {
    // 4000 one-page spans with one-page holes, then a few wider holes.
    const n = 4000;
    const items = [...Array(n).keys()].map((i) => new Item(2 * i, 2 * i + 1, i));
    const tree = new SpanTree<Item>();
    for (const it of items) tree.insert(it);
    for (const i of [17, 1500, 1501, 3999]) tree.remove(items[i]);
    tree.checkInvariants();
    // Holes of 3 pages at [33, 36), of 5 at [2999, 3004), and the tail from 7997.
    assert.equal(tree.findGapBottomUp(0, 2 * n * P, 3 * P), 33 * P);
    assert.equal(tree.findGapTopDown(0, 2 * n * P, 3 * P), (2 * n - 3) * P);
    assert.equal(tree.findGapTopDown(0, 7990 * P, 3 * P), 3001 * P);
    assert.equal(tree.findGapTopDown(0, 7990 * P, 5 * P), 2999 * P);
    assert.equal(tree.findGapTopDown(0, 7990 * P, 6 * P), -1);
    assert.equal(tree.findGapBottomUp(34 * P, 7990 * P, 3 * P), 2999 * P);
    assert.equal(tree.findGapBottomUp(34 * P, 7990 * P, 4 * P, 4 * P), 3000 * P);
    assert.equal(tree.findGapBottomUp(34 * P, 7990 * P, 4 * P, 8 * P), 3000 * P);
    assert.equal(tree.findGapBottomUp(34 * P, 7990 * P, 4 * P, 16 * P), -1);
    assert.equal(tree.findGapTopDown(34 * P, 3000 * P, 2 * P), 34 * P, 'hole [33, 36) clamped to [34, 36)');
    assert.equal(tree.findGapTopDown(35 * P, 3000 * P, 2 * P), -1);
    assert.equal(tree.findGapTopDown(0, 3003 * P, 3 * P), 3000 * P, 'hole [2999, 3004) clamped to [2999, 3003)');
    // Moving a span far from the holes opens a new one the searches see, and closing it hides it.
    const v = items[2500];
    v.start = 4999 * P;
    v.end = 5000 * P;
    tree.adjusted(v);
    assert.equal(tree.findGapTopDown(3100 * P, 7990 * P, 2 * P), 5000 * P);
    assert.equal(tree.findGapBottomUp(3100 * P, 7990 * P, 2 * P), 5000 * P);
    v.end = 5002 * P;
    tree.adjusted(v);
    tree.checkInvariants();
    assert.equal(tree.findGapTopDown(3100 * P, 7990 * P, 2 * P), -1);
    assert.equal(tree.findGapBottomUp(3100 * P, 7990 * P, 2 * P), -1);
    assert.equal(tree.findContaining(5001 * P), v);
  });
});

describe('SpanTree: corruption of a multi-level tree', () => {
  const fresh = (): { tree: SpanTree<Item>; items: Item[] } => {
    const tree = new SpanTree<Item>();
    const items = [...Array(1000).keys()].map((i) => new Item(2 * i, 2 * i + 1, i));
    for (const it of items) tree.insert(it);
    tree.checkInvariants();
    return { tree, items };
  };
  it('reports a wrong max gap, height, leaf link, or bounds changed behind its back', () => {
    {
      const { tree, items } = fresh();
      items[500]._maxGap += P;
      assert.throws(() => tree.checkInvariants(), /max gap/);
    }
    {
      const { tree, items } = fresh();
      items[700]._height = 3;
      assert.throws(() => tree.checkInvariants(), /height/);
    }
    {
      const { tree, items } = fresh();
      items[300]._leaf = items[0]._leaf;
      assert.throws(() => tree.checkInvariants(), /leaf link/);
    }
    {
      const { tree, items } = fresh();
      items[600].end += P / 2; // no adjusted()
      assert.throws(() => tree.checkInvariants(), /without adjusted/);
    }
    {
      const { tree, items } = fresh();
      items[999]._next = items[0];
      assert.throws(() => tree.checkInvariants(), /next link/);
    }
  });

  it('reports adjusted() on an item whose neighbours disagree, leaving the tree unchanged', () => {
    const { tree, items } = fresh();
    const v = items[400];
    v.end = items[401].start + P;
    assert.throws(() => tree.adjusted(v), /overlaps a neighbour/);
    v.end = v.start + P;
    tree.checkInvariants();
  });
});

// ---------------------------------------------------------------------------------------
// Model-based, with trees of hundreds of items (several levels) and insertAfter.

type Op =
  | { t: 'insert'; startPage: number; pages: number; after: boolean }
  | { t: 'remove'; pick: number; run: number }
  | { t: 'adjust'; pick: number; a: number; b: number }
  | { t: 'split'; pick: number; at: number }
  | { t: 'query'; addr: number; len: number; topDown: boolean; alignShift: number };

function brute(items: readonly Item[], low: number, high: number, length: number, align: number, topDown: boolean): number {
  const fits = (a: number): boolean => a + length <= high && !items.some((it) => it.start < a + length && a < it.end);
  const lo = Math.ceil(Math.max(low, 0) / align) * align;
  if (topDown) {
    for (let a = Math.floor((high - length) / align) * align; a >= lo; a -= align) if (fits(a)) return a;
  } else {
    for (let a = lo; a + length <= high; a += align) if (fits(a)) return a;
  }
  return -1;
}

describe('SpanTree: model-based, several levels deep', () => {
  it('matches a sorted array under inserts, insertAfter, runs of removals, splits and adjusts', () => {
    const space = 2400;
    const opArb: fc.Arbitrary<Op> = fc.oneof(
      { weight: 6, arbitrary: fc.record({ t: fc.constant('insert' as const), startPage: fc.integer({ min: 0, max: space }), pages: fc.integer({ min: 1, max: 4 }), after: fc.boolean() }) },
      { weight: 3, arbitrary: fc.record({ t: fc.constant('remove' as const), pick: fc.nat(), run: fc.integer({ min: 1, max: 30 }) }) },
      { weight: 3, arbitrary: fc.record({ t: fc.constant('adjust' as const), pick: fc.nat(), a: fc.nat(), b: fc.nat() }) },
      { weight: 3, arbitrary: fc.record({ t: fc.constant('split' as const), pick: fc.nat(), at: fc.nat() }) },
      {
        weight: 2,
        arbitrary: fc.record({
          t: fc.constant('query' as const),
          addr: fc.integer({ min: 0, max: (space + 8) * P }),
          len: fc.integer({ min: 1, max: 6 }),
          topDown: fc.boolean(),
          alignShift: fc.integer({ min: 0, max: 2 }),
        }),
      },
    );
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 200, maxLength: 500 }), (ops) => {
        const tree = new SpanTree<Item>();
        const model: Item[] = [];
        const overlaps = (s: number, e: number): boolean => model.some((it) => it.start < e && s < it.end);
        let id = 0;
        // A dense start, so the operations meet a deep tree.
        for (let i = 0; i < 600; i++) {
          const it = new Item(4 * i, 4 * i + 2, id++);
          tree.insert(it);
          model.push(it);
        }
        for (const op of ops) {
          switch (op.t) {
            case 'insert': {
              const it = new Item(op.startPage, op.startPage + op.pages, id++);
              if (overlaps(it.start, it.end)) {
                assert.throws(() => tree.insert(it), /overlaps existing/);
                break;
              }
              const k = model.findIndex((x) => x.start > it.start);
              const at = k < 0 ? model.length : k;
              if (op.after) tree.insertAfter(at === 0 ? undefined : model[at - 1], it);
              else tree.insert(it);
              model.splice(at, 0, it);
              break;
            }
            case 'remove': {
              if (model.length === 0) break;
              const k = op.pick % model.length;
              for (const it of model.splice(k, Math.min(op.run, model.length - k))) tree.remove(it);
              break;
            }
            case 'adjust': {
              if (model.length === 0) break;
              const k = op.pick % model.length;
              const lo = k === 0 ? 0 : model[k - 1].end / P;
              const hi = k === model.length - 1 ? lo + 8 : model[k + 1].start / P;
              const s = lo + (op.a % (hi - lo));
              const e = s + 1 + (op.b % (hi - s));
              model[k].start = s * P;
              model[k].end = e * P;
              tree.adjusted(model[k]);
              break;
            }
            case 'split': {
              if (model.length === 0) break;
              const k = op.pick % model.length;
              const v = model[k];
              const pagesIn = (v.end - v.start) / P;
              if (pagesIn < 2) break;
              const cut = v.start + (1 + (op.at % (pagesIn - 1))) * P;
              const upper = new Item(cut / P, v.end / P, id++);
              v.end = cut;
              tree.adjusted(v);
              tree.insertAfter(v, upper);
              model.splice(k + 1, 0, upper);
              break;
            }
            case 'query': {
              const a = op.addr;
              assert.equal(tree.findFirstEndAfter(a), model.find((it) => it.end > a));
              assert.equal(tree.findContaining(a), model.find((it) => it.start <= a && a < it.end));
              assert.equal(tree.findLastStartBefore(a), model.filter((it) => it.start < a).at(-1));
              const high = a + 64 * P;
              const align = P << op.alignShift;
              const got = op.topDown ? tree.findGapTopDown(a - 64 * P, high, op.len * P, align) : tree.findGapBottomUp(a - 64 * P, high, op.len * P, align);
              assert.equal(got, brute(model, a - 64 * P, high, op.len * P, align, op.topDown));
              break;
            }
          }
        }
        tree.checkInvariants();
        assert.equal(tree.size, model.length);
        let i = 0;
        for (let n = tree.first(); n !== undefined; n = n.nextSpan) assert.equal(n, model[i++]);
        assert.equal(i, model.length);
        // Whole-space gap searches against brute force, once per run.
        for (const len of [1, 2, 3, 5]) {
          assert.equal(tree.findGapTopDown(0, (space + 8) * P, len * P), brute(model, 0, (space + 8) * P, len * P, P, true));
          assert.equal(tree.findGapBottomUp(0, (space + 8) * P, len * P), brute(model, 0, (space + 8) * P, len * P, P, false));
        }
      }),
      { numRuns: 40, seed: 0xb7ee },
    );
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SpanNode, SpanTree } from '../../src/ds/spanTree.js';

const P = 4096;

class Item extends SpanNode {
  readonly id: number;
  constructor(start: number, end: number, id: number) {
    super(start, end);
    this.id = id;
  }
}

// ---------------------------------------------------------------------------------------
// Model-based test against a sorted array.

type Op =
  | { t: 'insert'; startPage: number; pages: number }
  | { t: 'remove'; pick: number }
  | { t: 'adjust'; pick: number; a: number; b: number }
  | { t: 'badAdjust'; pick: number; side: boolean }
  | { t: 'lookup'; addr: number; len: number }
  | { t: 'gap'; low: number; high: number; relHigh: boolean; pages: number; alignShift: number; topDown: boolean };

/** The reference: items sorted by start, no clever structure at all. */
class Model {
  items: Item[] = [];

  overlapsAny(start: number, end: number): boolean {
    return this.items.some((it) => it.start < end && start < it.end);
  }
  insert(item: Item): void {
    this.items.push(item);
    this.items.sort((x, y) => x.start - y.start);
  }
  remove(item: Item): void {
    this.items.splice(this.items.indexOf(item), 1);
  }
  firstEndAfter(addr: number): Item | undefined {
    return this.items.find((it) => it.end > addr);
  }
  containing(addr: number): Item | undefined {
    return this.items.find((it) => it.start <= addr && addr < it.end);
  }
  lastStartBefore(addr: number): Item | undefined {
    return this.items.filter((it) => it.start < addr).at(-1);
  }
  overlapping(start: number, end: number): Item[] {
    return start < end ? this.items.filter((it) => it.start < end && start < it.end) : [];
  }
  /** Brute force over every aligned candidate address. */
  gap(low: number, high: number, length: number, align: number, topDown: boolean): number {
    const lo = Math.ceil(Math.max(low, 0) / align) * align;
    const fits = (a: number): boolean => a + length <= high && !this.overlapsAny(a, a + length);
    if (topDown) {
      for (let a = Math.floor((high - length) / align) * align; a >= lo; a -= align) if (fits(a)) return a;
    } else {
      for (let a = lo; a + length <= high; a += align) if (fits(a)) return a;
    }
    return -1;
  }
}

function insertArb(spacePages: number): fc.Arbitrary<Op> {
  return fc.record({
    t: fc.constant('insert' as const),
    startPage: fc.integer({ min: 0, max: spacePages }),
    pages: fc.oneof(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 8 })),
  });
}

function opArb(spacePages: number): fc.Arbitrary<Op> {
  const page = fc.integer({ min: 0, max: spacePages + 16 });
  return fc.oneof(
    { weight: 5, arbitrary: insertArb(spacePages) },
    { weight: 3, arbitrary: fc.record({ t: fc.constant('remove' as const), pick: fc.nat() }) },
    { weight: 3, arbitrary: fc.record({ t: fc.constant('adjust' as const), pick: fc.nat(), a: fc.nat(), b: fc.nat() }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('badAdjust' as const), pick: fc.nat(), side: fc.boolean() }) },
    { weight: 3, arbitrary: fc.record({ t: fc.constant('lookup' as const), addr: fc.integer({ min: 0, max: (spacePages + 16) * P }), len: fc.integer({ min: 0, max: 12 * P }) }) },
    {
      weight: 4,
      arbitrary: fc.record({
        t: fc.constant('gap' as const),
        low: fc.oneof(page.map((p) => p * P), fc.integer({ min: -P, max: (spacePages + 16) * P })),
        high: page.map((p) => p * P),
        relHigh: fc.boolean(),
        pages: fc.integer({ min: 1, max: 12 }),
        alignShift: fc.integer({ min: 0, max: 4 }),
        topDown: fc.boolean(),
      }),
    },
  );
}

function checkAgainstModel(tree: SpanTree<Item>, model: Model): void {
  tree.checkInvariants();
  const items = model.items;
  assert.equal(tree.size, items.length);
  assert.equal(tree.first(), items[0]);
  assert.equal(tree.last(), items.at(-1));
  let i = 0;
  for (let n = tree.first(); n !== undefined; n = n.nextSpan, i++) {
    assert.equal(n, items[i]);
    assert.equal(n.prevSpan, items[i - 1]);
  }
  assert.equal(i, items.length);
}

function run(ops: Op[]): void {
  const tree = new SpanTree<Item>();
  const model = new Model();
  let nextId = 0;
  for (const op of ops) {
    switch (op.t) {
      case 'insert': {
        const item = new Item(op.startPage * P, (op.startPage + op.pages) * P, nextId++);
        if (model.overlapsAny(item.start, item.end)) {
          assert.throws(() => tree.insert(item), /overlaps existing/);
        } else {
          tree.insert(item);
          model.insert(item);
        }
        break;
      }
      case 'remove': {
        if (model.items.length === 0) break;
        const item = model.items[op.pick % model.items.length];
        tree.remove(item);
        model.remove(item);
        assert.equal(item.nextSpan, undefined);
        break;
      }
      case 'adjust': {
        // New bounds anywhere between the neighbours: shrinks, grows, moves, touches.
        if (model.items.length === 0) break;
        const k = op.pick % model.items.length;
        const item = model.items[k];
        const lo = k === 0 ? 0 : model.items[k - 1].end / P;
        const hi = k === model.items.length - 1 ? lo + 24 : model.items[k + 1].start / P;
        const s = lo + (op.a % (hi - lo));
        const e = s + 1 + (op.b % (hi - s));
        item.start = s * P;
        item.end = e * P;
        tree.adjusted(item);
        break;
      }
      case 'badAdjust': {
        // Make the item overlap a neighbour (or become empty); adjusted() must refuse.
        if (model.items.length === 0) break;
        const k = op.pick % model.items.length;
        const item = model.items[k];
        const [s0, e0] = [item.start, item.end];
        const prev = model.items[k - 1];
        const next = model.items[k + 1];
        if (op.side && prev !== undefined) item.start = prev.end - P;
        else if (!op.side && next !== undefined) item.end = next.start + P;
        else item.end = item.start;
        assert.throws(() => tree.adjusted(item), /overlaps a neighbour/);
        item.start = s0;
        item.end = e0;
        break;
      }
      case 'lookup': {
        const a = op.addr;
        assert.equal(tree.findFirstEndAfter(a), model.firstEndAfter(a), `findFirstEndAfter(${a})`);
        assert.equal(tree.findContaining(a), model.containing(a), `findContaining(${a})`);
        assert.equal(tree.findLastStartBefore(a), model.lastStartBefore(a), `findLastStartBefore(${a})`);
        assert.deepEqual([...tree.overlapping(a, a + op.len)], model.overlapping(a, a + op.len), `overlapping(${a}, +${op.len})`);
        break;
      }
      case 'gap': {
        const align = P << op.alignShift;
        const len = op.pages * P;
        // relHigh: a window above low, so that most searches have something to find.
        const high = op.relHigh ? Math.floor(Math.max(op.low, 0) / P) * P + op.high : op.high;
        const got = op.topDown
          ? tree.findGapTopDown(op.low, high, len, align)
          : tree.findGapBottomUp(op.low, high, len, align);
        const want = model.gap(op.low, high, len, align, op.topDown);
        assert.equal(got, want, `${op.topDown ? 'top-down' : 'bottom-up'}(low=${op.low / P}p, high=${high / P}p, ${op.pages}p, align ${1 << op.alignShift}p)`);
        break;
      }
    }
    checkAgainstModel(tree, model);
  }
}

describe('SpanTree: model-based', () => {
  it('matches a sorted-array reference on random operation sequences', () => {
    fc.assert(
      fc.property(
        // A burst of inserts first so that the operations also meet deep trees.
        fc.constantFrom(24, 64, 256).chain((space) =>
          fc.tuple(
            fc.array(insertArb(space), { maxLength: 100, size: 'max' }),
            fc.array(opArb(space), { minLength: 1, maxLength: 100, size: 'max' }),
          ),
        ),
        ([fill, ops]) => run([...fill, ...ops]),
      ),
      { numRuns: 250, seed: 0x5eed },
    );
  });
});

// ---------------------------------------------------------------------------------------
// 100k spans.

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

describe('SpanTree: 100k spans', () => {
  it('answers lookups, gap searches and insert/remove pairs correctly', () => {
    const N = 100_000;
    const rand = prng(12345);
    const randInt = (n: number): number => Math.floor(rand() * n);
    const tree = new SpanTree<Item>();
    // Span i covers page 2i; every odd page is a one-page hole.
    const items: Item[] = [];
    for (let i = 0; i < N; i++) items.push(new Item(2 * i * P, (2 * i + 1) * P, i));
    for (const it of items) tree.insert(it);
    tree.checkInvariants();
    assert.equal(tree.size, N);

    // At most one span is missing at a time; `removed` is its index or -1.
    let removed = -1;
    const present = (i: number): boolean => i >= 0 && i < N && i !== removed;
    const freePage = (k: number): boolean => k % 2 === 1 || k >= 2 * N || !present(k / 2);
    const lastEnd = (): number => (present(N - 1) ? 2 * N - 1 : 2 * N - 3) * P;

    const checkLookups = (addr: number): void => {
      const k = Math.floor(addr / P);
      const containing = k % 2 === 0 && present(k / 2) ? items[k / 2] : undefined;
      assert.equal(tree.findContaining(addr), containing, `findContaining(${addr})`);
      let fe = Math.ceil(k / 2);
      if (fe === removed) fe++;
      assert.equal(tree.findFirstEndAfter(addr), fe < N ? items[fe] : undefined, `findFirstEndAfter(${addr})`);
      let ls = Math.min(Math.ceil(addr / (2 * P)) - 1, N - 1);
      if (ls === removed) ls--;
      assert.equal(tree.findLastStartBefore(addr), ls >= 0 ? items[ls] : undefined, `findLastStartBefore(${addr})`);
    };

    // One-page searches in a random window: the answer is the nearest free page, found by
    // a short local scan.
    const checkPageGap = (lowP: number, highP: number): void => {
      let want = -1;
      for (let k = highP - 1; k >= lowP; k--) {
        if (freePage(k)) {
          want = k * P;
          break;
        }
      }
      assert.equal(tree.findGapTopDown(lowP * P, highP * P, P), want, `top-down [${lowP}p, ${highP}p)`);
      want = -1;
      for (let k = lowP; k < highP; k++) {
        if (freePage(k)) {
          want = k * P;
          break;
        }
      }
      assert.equal(tree.findGapBottomUp(lowP * P, highP * P, P), want, `bottom-up [${lowP}p, ${highP}p)`);
    };

    // Multi-page searches below the last span's end: only the hole left by `removed` fits.
    const checkHoleGaps = (): void => {
      const top = (2 * N - 1) * P;
      const hs = removed < 0 ? 0 : Math.max(0, 2 * removed - 1) * P;
      const he = removed < 0 ? 0 : Math.min(2 * removed + 2, 2 * N - 1) * P;
      for (const len of [2 * P, 3 * P]) {
        for (const align of [P, 2 * P]) {
          let a = Math.floor((he - len) / align) * align;
          const wantTop = removed >= 0 && a >= hs ? a : -1;
          a = Math.ceil(hs / align) * align;
          const wantBottom = removed >= 0 && a + len <= he ? a : -1;
          assert.equal(tree.findGapTopDown(0, top, len, align), wantTop, `hole top-down len=${len} align=${align} removed=${removed}`);
          assert.equal(tree.findGapBottomUp(0, top, len, align), wantBottom, `hole bottom-up len=${len} align=${align} removed=${removed}`);
        }
      }
    };

    const removeOne = (i: number): void => {
      const it = items[i];
      const prev = it.prevSpan;
      const next = it.nextSpan;
      tree.remove(it);
      removed = i;
      assert.equal(tree.size, N - 1);
      assert.equal(tree.findContaining(it.start), undefined);
      if (prev !== undefined) assert.equal(prev.nextSpan, next);
      if (next !== undefined) assert.equal(next.prevSpan, prev);
      assert.equal(tree.first(), items[present(0) ? 0 : 1]);
      assert.equal(tree.last(), items[present(N - 1) ? N - 1 : N - 2]);
    };
    const reinsert = (): void => {
      const it = items[removed];
      // A wider span there would overlap the neighbours.
      if (removed > 0) assert.throws(() => tree.insert(new Item(it.start - P - 1, it.end, -1)), /overlaps/);
      tree.insert(it);
      removed = -1;
      assert.equal(tree.size, N);
    };

    for (let iter = 0; iter < 10_000; iter++) {
      const r = rand();
      if (r < 0.35) {
        checkLookups(rand() < 0.5 ? randInt(2 * N + 4) * P : randInt((2 * N + 4) * P));
      } else if (r < 0.7) {
        const lowP = randInt(2 * N + 4);
        const highP = rand() < 0.5 ? lowP + randInt(4) : lowP + randInt(2 * N + 8 - lowP);
        checkPageGap(lowP, highP);
      } else {
        // An insert/remove pair, split across iterations half the time.
        if (removed >= 0) reinsert();
        const i = rand() < 0.02 ? (rand() < 0.5 ? 0 : N - 1) : randInt(N);
        removeOne(i);
        checkHoleGaps();
        checkLookups(items[i].start);
        assert.deepEqual(
          [...tree.overlapping(items[i].start - P - 1, items[i].end + P + 1)],
          [items[i - 1], items[i + 1]].filter((x) => x !== undefined),
        );
        if (rand() < 0.5) reinsert();
        assert.equal(tree.last()!.end, lastEnd());
      }
      if (iter % 2500 === 0) tree.checkInvariants();
    }
    if (removed >= 0) reinsert();
    checkHoleGaps();
    tree.checkInvariants();
  });
});

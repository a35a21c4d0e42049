/**
 * Property test of FreeBSD's PKRU range set (src/pmap/pkruRangeSet.ts) against a naive
 * per-page model: random sequences of assign (with random AMD64_PKRU_EXCL /
 * AMD64_PKRU_PERSIST), remove, onMapDelete, onRemove (with and without the pre-fix
 * dropKeysOnRemove), copyTo and onDestroy over a small page range. After every step:
 * keyAt / rangeAt of every page agree with the model, the ranges are sorted, non-empty and
 * non-overlapping, 'busy' happens exactly where the model's EXCL rule says (with FreeBSD's
 * adjacent-at-end quirk), and isEmpty / uniformOver agree with their per-page meaning.
 *
 * PKRU_SET_SEED / PKRU_SET_RUNS override the seed and the number of runs.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Hardware } from '../../src/hw/hardware.js';
import { AMD64_PKRU_EXCL, AMD64_PKRU_PERSIST, PkruRangeSet } from '../../src/pmap/pkruRangeSet.js';
import { Pmap } from '../../src/pmap/pmap.js';

const PAGE = 4096;
const BASE = 0x7f0000000000;
const PAGES = 24;
const va = (page: number): number => BASE + page * PAGE;

/** What the model knows of one page: no range, or the key and PERSIST flag of the range over it. */
type PageKey = { readonly key: number; readonly persist: boolean } | null;

type Op =
  | { readonly t: 'assign'; readonly a: number; readonly len: number; readonly key: number; readonly excl: boolean; readonly persist: boolean }
  | { readonly t: 'remove' | 'mapDelete' | 'onRemove' | 'uniform'; readonly a: number; readonly len: number }
  | { readonly t: 'fork' }
  | { readonly t: 'destroy' };

const spanArb = { a: fc.nat(PAGES - 1), len: fc.oneof({ weight: 3, arbitrary: fc.integer({ min: 1, max: 4 }) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: PAGES }) }) };
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 10,
    arbitrary: fc.record({
      t: fc.constant('assign' as const),
      ...spanArb,
      key: fc.oneof({ weight: 3, arbitrary: fc.integer({ min: 0, max: 3 }) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 15 }) }),
      excl: fc.boolean(),
      persist: fc.boolean(),
    }),
  },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('remove' as const), ...spanArb }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('mapDelete' as const), ...spanArb }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('onRemove' as const), ...spanArb }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('uniform' as const), ...spanArb }) },
  { weight: 1, arbitrary: fc.constant({ t: 'fork' as const }) },
  { weight: 1, arbitrary: fc.constant({ t: 'destroy' as const }) },
);

function describeOp(op: Op): string {
  switch (op.t) {
    case 'assign':
      return `assign([${op.a}, ${op.a + op.len}), key ${op.key}${op.excl ? ', EXCL' : ''}${op.persist ? ', PERSIST' : ''})`;
    case 'fork':
    case 'destroy':
      return op.t;
    default:
      return `${op.t}([${op.a}, ${op.a + op.len}))`;
  }
}

/** The machine-independent meaning of the EXCL check, page by page: see the quirk below. */
function exclusiveBusy(model: readonly PageKey[], a: number, b: number): boolean {
  // FreeBSD rangeset_check_empty(): LOOKUP_LE(end), so page b (a range starting at the new
  // end) counts too. A range covering page b that starts below b covers b-1 as well.
  for (let i = a; i <= b && i < PAGES; i++) if (model[i] !== null) return true;
  return false;
}

function check(s: PkruRangeSet, model: readonly PageKey[], where: string): void {
  // Ranges: sorted, non-empty, non-overlapping, inside the area.
  let prevEnd = -Infinity;
  let n = 0;
  for (const r of s.entries()) {
    n++;
    assert.ok(r.start < r.end, `${where}: empty range [${r.start}, ${r.end})`);
    assert.ok(r.start >= prevEnd, `${where}: ranges overlap or are out of order at ${r.start}`);
    assert.ok(r.start >= va(0) && r.end <= va(PAGES), `${where}: range outside the area`);
    assert.equal((r.start - BASE) % PAGE, 0);
    assert.equal((r.end - BASE) % PAGE, 0);
    prevEnd = r.end;
  }
  assert.equal(s.size, n, `${where}: size`);
  for (let i = 0; i < PAGES; i++) {
    const m = model[i];
    const want = m === null ? 0 : m.key;
    assert.equal(s.keyAt(va(i)), want, `${where}: keyAt(page ${i})`);
    assert.equal(s.keyAt(va(i) + PAGE - 1), want, `${where}: keyAt(last byte of page ${i})`);
    const r = s.rangeAt(va(i) + 17);
    if (m === null) assert.equal(r, undefined, `${where}: page ${i} should have no range`);
    else {
      assert.ok(r !== undefined, `${where}: page ${i} should have a range`);
      assert.deepEqual({ key: r.key, persist: r.persist }, m, `${where}: range over page ${i}`);
    }
  }
  assert.equal(s.keyAt(va(PAGES)), 0);
  assert.equal(s.keyAt(va(0) - 1), 0);
}

class Run {
  set: PkruRangeSet;
  model: PageKey[] = new Array<PageKey>(PAGES).fill(null);
  /** Sets forked away from, with the model they must still match. */
  readonly parents: { readonly set: PkruRangeSet; readonly model: readonly PageKey[] }[] = [];
  readonly log: string[] = [];
  private readonly hw = new Hardware({ cpus: 1, memoryBytes: 1 << 20, swapBytes: 0 });

  constructor(readonly dropKeysOnRemove: boolean) {
    this.set = new PkruRangeSet({ dropKeysOnRemove });
  }

  private dropNonPersist(a: number, b: number): void {
    for (let i = a; i < b; i++) if (this.model[i] !== null && !this.model[i]!.persist) this.model[i] = null;
  }

  step(op: Op): void {
    this.log.push(describeOp(op));
    const where = `step ${this.log.length} ${describeOp(op)}`;
    if (op.t === 'fork') {
      const pmap = Pmap.create(this.hw)!;
      this.set.copyTo(pmap);
      assert.ok(pmap.extension instanceof PkruRangeSet);
      this.parents.push({ set: this.set, model: this.model.slice() });
      this.set = pmap.extension;
      return;
    }
    if (op.t === 'destroy') {
      this.set.onDestroy();
      this.model.fill(null);
      return;
    }
    const a = op.a;
    const b = Math.min(PAGES, op.a + op.len);
    switch (op.t) {
      case 'assign': {
        const flags = (op.excl ? AMD64_PKRU_EXCL : 0) | (op.persist ? AMD64_PKRU_PERSIST : 0);
        const busy = op.excl && exclusiveBusy(this.model, a, b);
        const got = this.set.assign(va(a), va(b), op.key, flags);
        assert.equal(got, busy ? 'busy' : 'ok', `${where}: result`);
        if (!busy) for (let i = a; i < b; i++) this.model[i] = { key: op.key, persist: op.persist };
        return;
      }
      case 'remove':
        this.set.remove(va(a), va(b), null);
        for (let i = a; i < b; i++) this.model[i] = null;
        return;
      case 'mapDelete':
        this.set.onMapDelete(va(a), va(b));
        this.dropNonPersist(a, b);
        return;
      case 'onRemove':
        this.set.onRemove(va(a), va(b));
        if (this.dropKeysOnRemove) this.dropNonPersist(a, b);
        return;
      case 'uniform': {
        const first = this.model[a];
        let uniform = true;
        for (let i = a; i < b; i++) {
          const m = this.model[i];
          if ((m === null) !== (first === null) || (m !== null && m.key !== first!.key)) uniform = false;
        }
        assert.equal(this.set.uniformOver(va(a), va(b)), uniform, `${where}: uniformOver`);
        let empty = true;
        for (let i = a; i < b; i++) if (this.model[i] !== null) empty = false;
        assert.equal(this.set.isEmpty(va(a), va(b)), empty, `${where}: isEmpty`);
        return;
      }
    }
  }

  check(): void {
    const where = `after step ${this.log.length} ${this.log[this.log.length - 1] ?? ''}`;
    check(this.set, this.model, where);
    for (const p of this.parents) check(p.set, p.model, `${where} (a set forked away from)`);
  }
}

const SEED = Number(process.env.PKRU_SET_SEED ?? 7);
const RUNS = Number(process.env.PKRU_SET_RUNS ?? (process.env.CI ? 150 : 400));

function runOps(ops: readonly Op[], drop: boolean): void {
  const run = new Run(drop);
  try {
    for (const op of ops) {
      run.step(op);
      run.check();
    }
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    throw new Error(`${msg}\n  after:\n    ${run.log.join('\n    ')}`, { cause: e });
  }
}

describe('PkruRangeSet against a page-by-page model', () => {
  for (const drop of [false, true]) {
    it(`random assign/remove/map-delete/remove/fork/destroy sequences agree with the model (dropKeysOnRemove ${drop})`, () => {
      fc.assert(
        fc.property(fc.array(opArb, { minLength: 1, maxLength: 60 }), (ops) => runOps(ops, drop)),
        { seed: SEED + (drop ? 1 : 0), numRuns: RUNS, includeErrorInReport: true },
      );
    });
  }

  it('EXCL: busy exactly when a range meets [start, end] (end included), for every placement', () => {
    // Exhaustive over small spans around one fixed range [8, 12).
    for (let a = 0; a < 20; a++) {
      for (let b = a + 1; b <= 20; b++) {
        const s = new PkruRangeSet({ dropKeysOnRemove: false });
        s.assign(va(8), va(12), 1, 0);
        const busy = b >= 8 && a < 12;
        assert.equal(s.assign(va(a), va(b), 2, AMD64_PKRU_EXCL), busy ? 'busy' : 'ok', `[${a}, ${b})`);
      }
    }
  });
});

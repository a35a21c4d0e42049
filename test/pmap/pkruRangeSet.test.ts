/**
 * Unit tests of FreeBSD's per-pmap PKRU range set (src/pmap/pkruRangeSet.ts): assignment
 * with AMD64_PKRU_EXCL / AMD64_PKRU_PERSIST, removal with and without a predicate,
 * pmap_pkru_same(), and the pmap events (pmap_remove, pmap_map_delete, fork, exec/exit).
 * See ../shared/SEMANTICS.md "FreeBSD — PKRU (amd64)".
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Hardware } from '../../src/hw/hardware.js';
import { AMD64_PKRU_EXCL, AMD64_PKRU_PERSIST, KeyRange, PkruRangeSet } from '../../src/pmap/pkruRangeSet.js';
import { Pmap } from '../../src/pmap/pmap.js';

const PAGE = 4096;
const BASE = 0x10000000;
/** Address of page `n` of the test area. */
const pg = (n: number): number => BASE + n * PAGE;

interface R {
  start: number;
  end: number;
  key: number;
  persist: boolean;
}

/** The ranges in address order, in page numbers of the test area. */
function ranges(s: PkruRangeSet): R[] {
  return [...s.entries()].map((r) => ({ start: (r.start - BASE) / PAGE, end: (r.end - BASE) / PAGE, key: r.key, persist: r.persist }));
}

/** A range in page numbers. */
const r = (start: number, end: number, key: number, persist = false): R => ({ start, end, key, persist });

function fresh(dropKeysOnRemove = false): PkruRangeSet {
  return new PkruRangeSet({ dropKeysOnRemove });
}

/** assign() in page numbers that must succeed. */
function give(s: PkruRangeSet, start: number, end: number, key: number, flags = 0): void {
  assert.equal(s.assign(pg(start), pg(end), key, flags), 'ok', `assign [${start}, ${end}) key ${key}`);
}

describe('PkruRangeSet: assign', () => {
  it('an empty set has no ranges and key 0 everywhere', () => {
    const s = fresh();
    assert.equal(s.size, 0);
    assert.equal(s.keyAt(pg(0)), 0);
    assert.equal(s.rangeAt(pg(0)), undefined);
    assert.ok(s.isEmpty(0, 2 ** 47));
  });

  it('gives [start, end) its key; keyAt is the key inside, 0 outside (half-open)', () => {
    const s = fresh();
    give(s, 2, 5, 7);
    assert.deepEqual(ranges(s), [r(2, 5, 7)]);
    assert.equal(s.keyAt(pg(2)), 7);
    assert.equal(s.keyAt(pg(4) + PAGE - 1), 7);
    assert.equal(s.keyAt(pg(5)), 0, 'end is exclusive');
    assert.equal(s.keyAt(pg(2) - 1), 0);
    assert.equal(s.rangeAt(pg(3))?.key, 7);
    assert.ok(s.rangeAt(pg(3)) instanceof KeyRange);
    assert.equal(s.rangeAt(pg(5)), undefined);
  });

  it('keeps only PERSIST of the flags: EXCL matters when the range is made, not after', () => {
    const s = fresh();
    give(s, 0, 1, 1, AMD64_PKRU_EXCL | AMD64_PKRU_PERSIST);
    give(s, 2, 3, 2, AMD64_PKRU_EXCL);
    const [a, b] = [...s.entries()];
    assert.equal(a.flags, AMD64_PKRU_PERSIST);
    assert.equal(a.persist, true);
    assert.equal(b.flags, 0);
    assert.equal(b.persist, false);
  });

  it('a new key replaces the old over the overlap: trims on the left, on the right, splits in the middle', () => {
    const s = fresh();
    give(s, 0, 10, 1);
    give(s, 8, 12, 2); // trims the right end of [0, 10)
    assert.deepEqual(ranges(s), [r(0, 8, 1), r(8, 12, 2)]);
    give(s, 0, 2, 3); // trims the left end of [0, 8)
    assert.deepEqual(ranges(s), [r(0, 2, 3), r(2, 8, 1), r(8, 12, 2)]);
    give(s, 4, 6, 4, AMD64_PKRU_PERSIST); // splits [2, 8)
    assert.deepEqual(ranges(s), [r(0, 2, 3), r(2, 4, 1), r(4, 6, 4, true), r(6, 8, 1), r(8, 12, 2)]);
    give(s, 1, 9, 5); // covers several, trimming both ends
    assert.deepEqual(ranges(s), [r(0, 1, 3), r(1, 9, 5), r(9, 12, 2)]);
    give(s, 0, 12, 0); // key 0 is a key: it replaces everything and stays a range
    assert.deepEqual(ranges(s), [r(0, 12, 0)]);
  });

  it('replacing a range exactly, or with the same key, leaves one range', () => {
    const s = fresh();
    give(s, 3, 6, 2, AMD64_PKRU_PERSIST);
    give(s, 3, 6, 2);
    assert.deepEqual(ranges(s), [r(3, 6, 2, false)], 'the flags are the new assignment\'s');
  });

  it('abutting assignments stay separate ranges (no merging)', () => {
    const s = fresh();
    give(s, 0, 2, 4);
    give(s, 2, 4, 4);
    assert.deepEqual(ranges(s), [r(0, 2, 4), r(2, 4, 4)]);
  });
});

describe('PkruRangeSet: AMD64_PKRU_EXCL', () => {
  it('succeeds where no range meets the span and fails with busy (changing nothing) where one overlaps', () => {
    const s = fresh();
    give(s, 4, 8, 3, AMD64_PKRU_EXCL);
    for (const [a, b] of [
      [4, 8],
      [0, 5],
      [7, 10],
      [5, 6],
      [0, 20],
    ]) {
      assert.equal(s.assign(pg(a), pg(b), 9, AMD64_PKRU_EXCL), 'busy', `[${a}, ${b})`);
    }
    assert.deepEqual(ranges(s), [r(4, 8, 3)]);
  });

  it('key 0 counts: an explicit key-0 range makes EXCL fail', () => {
    const s = fresh();
    give(s, 4, 8, 0);
    assert.equal(s.assign(pg(5), pg(6), 1, AMD64_PKRU_EXCL), 'busy');
    assert.deepEqual(ranges(s), [r(4, 8, 0)]);
  });

  it('no range does not count: pages never assigned (key 0 by default) are free', () => {
    const s = fresh();
    give(s, 10, 12, 1);
    assert.equal(s.assign(pg(0), pg(5), 2, AMD64_PKRU_EXCL), 'ok');
    assert.deepEqual(ranges(s), [r(0, 5, 2), r(10, 12, 1)]);
  });

  it('a range ending exactly at the new start does not count', () => {
    const s = fresh();
    give(s, 0, 4, 1);
    assert.equal(s.assign(pg(4), pg(8), 2, AMD64_PKRU_EXCL), 'ok');
    assert.deepEqual(ranges(s), [r(0, 4, 1), r(4, 8, 2)]);
  });

  it('the FreeBSD quirk: a range starting exactly at the new end counts (rangeset_check_empty looks up <= end)', () => {
    const s = fresh();
    give(s, 4, 8, 1);
    assert.equal(s.assign(pg(0), pg(4), 2, AMD64_PKRU_EXCL), 'busy');
    assert.deepEqual(ranges(s), [r(4, 8, 1)]);
    // One page short of it is free.
    assert.equal(s.assign(pg(0), pg(3), 2, AMD64_PKRU_EXCL), 'ok');
    // Between two ranges, abutting both: busy because of the one on the right.
    assert.equal(s.assign(pg(3), pg(4), 5, AMD64_PKRU_EXCL), 'busy');
    assert.deepEqual(ranges(s), [r(0, 3, 2), r(4, 8, 1)]);
    // Without EXCL it is just an assignment.
    give(s, 3, 4, 5);
    assert.deepEqual(ranges(s), [r(0, 3, 2), r(3, 4, 5), r(4, 8, 1)]);
  });

  it('isEmpty is the plain overlap test, without the quirk', () => {
    const s = fresh();
    give(s, 4, 8, 1);
    assert.ok(s.isEmpty(pg(0), pg(4)));
    assert.ok(s.isEmpty(pg(8), pg(9)));
    assert.ok(!s.isEmpty(pg(7), pg(9)));
    assert.ok(!s.isEmpty(pg(0), pg(5)));
  });
});

describe('PkruRangeSet: remove', () => {
  it('without a predicate: trims on the left and right, splits in the middle, removes whole ranges', () => {
    const s = fresh();
    give(s, 0, 10, 1);
    s.remove(pg(8), pg(12), null); // trims the right end
    assert.deepEqual(ranges(s), [r(0, 8, 1)]);
    s.remove(pg(0) - PAGE, pg(2), null); // trims the left end
    assert.deepEqual(ranges(s), [r(2, 8, 1)]);
    s.remove(pg(4), pg(5), null); // splits
    assert.deepEqual(ranges(s), [r(2, 4, 1), r(5, 8, 1)]);
    s.remove(pg(5), pg(8), null); // exactly one range
    assert.deepEqual(ranges(s), [r(2, 4, 1)]);
    s.remove(pg(0), pg(20), null); // covering it
    assert.deepEqual(ranges(s), []);
  });

  it('a split keeps the key and flags on both halves', () => {
    const s = fresh();
    give(s, 0, 6, 9, AMD64_PKRU_PERSIST);
    s.remove(pg(2), pg(3), null);
    assert.deepEqual(ranges(s), [r(0, 2, 9, true), r(3, 6, 9, true)]);
  });

  it('over several ranges and gaps: trims the outer ones, removes the inner ones, keeps the rest', () => {
    const s = fresh();
    give(s, 0, 3, 1);
    give(s, 4, 6, 2);
    give(s, 6, 8, 3);
    give(s, 10, 14, 4);
    give(s, 20, 22, 5);
    s.remove(pg(2), pg(12), null);
    assert.deepEqual(ranges(s), [r(0, 2, 1), r(12, 14, 4), r(20, 22, 5)]);
    assert.equal(s.keyAt(pg(5)), 0);
  });

  it('a span over a gap changes nothing; an empty span changes no key', () => {
    const s = fresh();
    give(s, 0, 2, 1);
    give(s, 5, 7, 2);
    s.remove(pg(2), pg(5), null);
    assert.deepEqual(ranges(s), [r(0, 2, 1), r(5, 7, 2)]);
    // Callers never pass an empty span (the syscalls return EFAULT first); it may split a
    // range into two abutting halves, but every address keeps its key.
    s.remove(pg(1), pg(1), null);
    for (let i = 0; i < 8; i++) assert.equal(s.keyAt(pg(i)), i < 2 ? 1 : i >= 5 && i < 7 ? 2 : 0);
  });

  it('with a predicate: only the ranges it accepts are trimmed, split or removed', () => {
    const s = fresh();
    give(s, 0, 4, 1);
    give(s, 4, 8, 2, AMD64_PKRU_PERSIST);
    give(s, 8, 12, 3);
    give(s, 12, 16, 4, AMD64_PKRU_PERSIST);
    const notPersist = (x: KeyRange): boolean => !x.persist;
    s.remove(pg(2), pg(14), notPersist);
    assert.deepEqual(ranges(s), [r(0, 2, 1), r(4, 8, 2, true), r(12, 16, 4, true)]);
    // A split of an accepted range that covers the span on both sides.
    s.remove(pg(0) + PAGE, pg(1) + PAGE, (x) => x.key === 2);
    assert.deepEqual(ranges(s), [r(0, 2, 1), r(4, 8, 2, true), r(12, 16, 4, true)], 'the span meets no key-2 range');
    s.remove(pg(5), pg(6), (x) => x.key === 2);
    assert.deepEqual(ranges(s), [r(0, 2, 1), r(4, 5, 2, true), r(6, 8, 2, true), r(12, 16, 4, true)]);
    s.remove(pg(0), pg(16), () => false);
    assert.equal(s.size, 4);
  });
});

describe('PkruRangeSet: pmap events', () => {
  it('onMapDelete (pmap_map_delete, munmap) drops non-PERSIST ranges in the span and keeps PERSIST ones', () => {
    for (const drop of [false, true]) {
      const s = fresh(drop);
      give(s, 0, 4, 1);
      give(s, 4, 8, 2, AMD64_PKRU_PERSIST);
      give(s, 8, 12, 3);
      s.onMapDelete(pg(2), pg(10));
      assert.deepEqual(ranges(s), [r(0, 2, 1), r(4, 8, 2, true), r(10, 12, 3)], `dropKeysOnRemove ${drop}`);
    }
  });

  it('onRemove (pmap_remove: swap-out, PROT_NONE, MS_INVALIDATE) keeps every key after the fix', () => {
    const s = fresh(false);
    give(s, 0, 4, 1);
    give(s, 4, 8, 2, AMD64_PKRU_PERSIST);
    s.onRemove(pg(0), pg(8));
    assert.deepEqual(ranges(s), [r(0, 4, 1), r(4, 8, 2, true)]);
  });

  it('onRemove before the fix (dropKeysOnRemove) drops the non-PERSIST keys of its span, trimming', () => {
    const s = fresh(true);
    give(s, 0, 4, 1);
    give(s, 4, 8, 2, AMD64_PKRU_PERSIST);
    give(s, 8, 12, 3);
    s.onRemove(pg(1), pg(9));
    assert.deepEqual(ranges(s), [r(0, 1, 1), r(4, 8, 2, true), r(9, 12, 3)]);
    s.onRemove(pg(10), pg(11));
    assert.deepEqual(ranges(s), [r(0, 1, 1), r(4, 8, 2, true), r(9, 10, 3), r(11, 12, 3)]);
  });

  it('copyTo (fork) gives the child pmap an equal, independent set with the same options', () => {
    const hw = new Hardware({ cpus: 1, memoryBytes: 1 << 20, swapBytes: 0 });
    const child = Pmap.create(hw)!;
    const s = fresh(true);
    give(s, 0, 4, 1, AMD64_PKRU_PERSIST);
    give(s, 6, 7, 0);
    give(s, 9, 12, 15);
    s.copyTo(child);
    const c = child.extension;
    assert.ok(c instanceof PkruRangeSet);
    assert.notEqual(c, s);
    assert.equal(c.options.dropKeysOnRemove, true);
    assert.deepEqual(ranges(c), ranges(s));
    // Changes on either side stay on that side.
    give(s, 2, 10, 5);
    s.onMapDelete(pg(0), pg(1));
    assert.deepEqual(ranges(c), [r(0, 4, 1, true), r(6, 7, 0), r(9, 12, 15)]);
    c.remove(pg(0), pg(12), null);
    give(c, 20, 21, 3);
    assert.deepEqual(ranges(s), [r(0, 2, 1, true), r(2, 10, 5), r(10, 12, 15)]);
    assert.deepEqual(ranges(c), [r(20, 21, 3)]);
    // The copy is a working set: EXCL and lookups.
    assert.equal(c.assign(pg(19), pg(20), 1, AMD64_PKRU_EXCL), 'busy');
    assert.equal(c.keyAt(pg(20)), 3);
  });

  it('copyTo of an empty set gives an empty set', () => {
    const hw = new Hardware({ cpus: 1, memoryBytes: 1 << 20, swapBytes: 0 });
    const child = Pmap.create(hw)!;
    fresh().copyTo(child);
    assert.ok(child.extension instanceof PkruRangeSet);
    assert.equal(child.extension.size, 0);
  });

  it('onDestroy (exec, exit) drops every range, PERSIST included', () => {
    const s = fresh();
    for (let i = 0; i < 40; i++) give(s, 2 * i, 2 * i + 1, i % 16, i % 2 ? AMD64_PKRU_PERSIST : 0);
    assert.equal(s.size, 40);
    s.onDestroy();
    assert.equal(s.size, 0);
    assert.deepEqual(ranges(s), []);
    assert.equal(s.keyAt(pg(1)), 0);
    give(s, 0, 1, 3, AMD64_PKRU_EXCL);
    assert.deepEqual(ranges(s), [r(0, 1, 3)]);
  });
});

describe('PkruRangeSet: uniformOver (pmap_pkru_same)', () => {
  it('no range in the span: uniform', () => {
    const s = fresh();
    assert.ok(s.uniformOver(pg(0), pg(512)));
    give(s, 600, 700, 3);
    give(s, 0, 10, 2);
    assert.ok(s.uniformOver(pg(10), pg(600)), 'between two ranges, touching both ends');
  });

  it('one range covering the span: uniform, whatever its key (0 too)', () => {
    const s = fresh();
    give(s, 0, 512, 5);
    assert.ok(s.uniformOver(pg(0), pg(512)));
    assert.ok(s.uniformOver(pg(10), pg(20)));
    const z = fresh();
    give(z, 0, 512, 0);
    assert.ok(z.uniformOver(pg(0), pg(512)));
  });

  it('a gap and a range: not uniform, on either side, even for a key-0 range', () => {
    const s = fresh();
    give(s, 10, 20, 0);
    assert.ok(!s.uniformOver(pg(0), pg(15)), 'gap then range');
    assert.ok(!s.uniformOver(pg(15), pg(30)), 'range then gap');
    assert.ok(!s.uniformOver(pg(0), pg(30)), 'range inside the span');
    assert.ok(s.uniformOver(pg(10), pg(20)));
  });

  it('abutting ranges: uniform when the keys agree (PERSIST or not), not when they differ', () => {
    const s = fresh();
    give(s, 0, 4, 6);
    give(s, 4, 8, 6, AMD64_PKRU_PERSIST);
    give(s, 8, 12, 6);
    assert.ok(s.uniformOver(pg(0), pg(12)));
    assert.ok(s.uniformOver(pg(2), pg(10)));
    give(s, 12, 16, 7);
    assert.ok(!s.uniformOver(pg(0), pg(16)));
    assert.ok(!s.uniformOver(pg(11), pg(13)));
    assert.ok(s.uniformOver(pg(12), pg(16)));
  });

  it('ranges of one key with a hole between them: not uniform', () => {
    const s = fresh();
    give(s, 0, 4, 6);
    give(s, 5, 8, 6);
    assert.ok(!s.uniformOver(pg(0), pg(8)));
    assert.ok(s.uniformOver(pg(5), pg(8)));
  });

  it('a range starting exactly at the span end is outside it', () => {
    const s = fresh();
    give(s, 8, 12, 1);
    assert.ok(s.uniformOver(pg(0), pg(8)));
    give(s, 0, 8, 2);
    assert.ok(s.uniformOver(pg(0), pg(8)));
  });
});

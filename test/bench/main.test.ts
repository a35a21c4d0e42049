/**
 * Smoke test of the benchmark: every case function of bench/main.ts runs in quick mode
 * and returns a positive, finite ns/op, and the metadata figure is computed. No timing
 * assertions: the figures themselves are for `npm run bench`.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  QUICK_SIZES,
  buildRows,
  caseDemandZero,
  caseForkCow,
  caseMmapMunmap,
  caseMprotectRegion,
  caseMprotectVmas,
  caseTlbHit,
  caseTlbMiss,
  formatReport,
  gId,
  type CaseResult,
} from '../../bench/main.js';

function assertNsPerOp(r: CaseResult, id: string): void {
  assert.equal(r.id, id);
  assert.ok(Number.isFinite(r.nsPerOp) && r.nsPerOp > 0, `${id}: ns/op = ${r.nsPerOp}`);
  assert.ok(r.ops > 0, `${id}: ops = ${r.ops}`);
  assert.ok(r.samples > 0, `${id}: samples = ${r.samples}`);
  for (const [k, v] of Object.entries(r.extra)) assert.ok(Number.isFinite(v), `${id}: extra ${k} = ${v}`);
}

describe('bench/main.ts in quick mode', () => {
  const sizes = QUICK_SIZES;
  const results: CaseResult[] = [];

  it('(a) TLB-hit loads: every access hits', () => {
    const r = caseTlbHit(sizes);
    assertNsPerOp(r, 'a');
    assert.equal(r.extra['tlbHitRate'], 1);
    results.push(r);
  });

  it('(b) loads over more pages than the TLB holds: every access walks', () => {
    const r = caseTlbMiss(sizes);
    assertNsPerOp(r, 'b');
    assert.equal(r.extra['tlbMissRate'], 1);
    assert.equal(r.extra['walksPerAccess'], 1);
    results.push(r);
  });

  it('(c) demand-zero faults, with the metadata bytes per resident page', () => {
    const { result, metadata } = caseDemandZero(sizes);
    assertNsPerOp(result, 'c');
    assert.equal(result.ops, sizes.faultPages);
    assert.equal(metadata.residentPages, sizes.faultPages);
    assert.ok(metadata.framesInUse >= sizes.faultPages);
    assert.ok(metadata.pageTables >= Math.ceil(sizes.faultPages / 512));
    assert.ok(Number.isFinite(metadata.totalBytes) && metadata.totalBytes > 0, `metadata = ${metadata.totalBytes}`);
    // The total holds at least the frame metadata and the 8-byte PTE.
    assert.ok(metadata.totalBytes >= metadata.frameBytes + metadata.pteBytes);
    assert.ok(metadata.pteBytes >= 8);
    results.push(result);
    const rows = buildRows(results, [], metadata);
    assert.ok(rows.some((row) => row.id === 'meta' && row.mmsim === metadata.totalBytes));
  });

  it('(d) fork + COW: per page, fork time separately', () => {
    const r = caseForkCow(sizes);
    assertNsPerOp(r, 'd');
    assert.ok(r.extra['forkNs'] > 0);
    assert.ok(r.extra['cowNsPerPage'] > 0);
    results.push(r);
  });

  it('(e) mmap + munmap pairs', () => {
    const r = caseMmapMunmap(sizes);
    assertNsPerOp(r, 'e');
    results.push(r);
  });

  it('(f) mprotect split/merge in a 1024-page region', () => {
    const r = caseMprotectRegion(sizes);
    assertNsPerOp(r, 'f');
    assert.equal(r.extra['vmas'], 3);
    results.push(r);
  });

  it('(g) mprotect with few and many VMAs, and the scaling ratio', () => {
    for (const n of [sizes.gSmall, sizes.gLarge]) {
      const r = caseMprotectVmas(sizes, n);
      assertNsPerOp(r, gId(n));
      assert.equal(r.extra['vmas'], n + 2);
      results.push(r);
    }
    const rows = buildRows(results, [{ case: 'e', ops: 1, nsPerOp: 1000, extra: {} }], undefined);
    const scaling = rows.find((row) => row.id === `${gId(sizes.gLarge)}/${gId(sizes.gSmall)}`);
    assert.ok(scaling && Number.isFinite(scaling.mmsim) && scaling.mmsim > 0);
    const e = rows.find((row) => row.id === 'e');
    assert.ok(e && e.ratio !== undefined && Number.isFinite(e.ratio));
    const report = formatReport(rows, results, undefined, null, sizes);
    assert.match(report, /mmsim\/native/);
  });
});

/**
 * Smoke test of benchmark case (h), bench/keys.ts, in quick mode over 1 and 512 pages:
 * the flush counts it reports are structural facts of the model (a PKRU toggle never
 * flushes; a key change flushes its one page, or the whole PCID above the 33-page
 * ceiling) and it is wired into runBench, the summary rows and the report. No timing
 * assertions: the figures themselves are for `npm run bench`.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { caseKeyChange, hId, hLabel, isKeyCaseId, KEY_PERSONALITIES } from '../../bench/keys.js';
import { QUICK_SIZES, buildRows, formatReport, runBench, type CaseResult } from '../../bench/main.js';

function assertShape(r: CaseResult, id: string, pages: number): void {
  assert.equal(r.id, id);
  assert.equal(r.extra['pages'], pages);
  assert.ok(Number.isFinite(r.nsPerOp) && r.nsPerOp > 0, `${id}: ns/op = ${r.nsPerOp}`);
  assert.equal(r.extra['keyChangeNs'], r.nsPerOp);
  assert.ok(Number.isFinite(r.extra['toggleNs']) && r.extra['toggleNs'] > 0, `${id}: toggle ns = ${r.extra['toggleNs']}`);
  assert.ok(r.ops > 0 && r.samples > 0, `${id}: ${r.samples} samples of ${r.ops} ops`);
  for (const [k, v] of Object.entries(r.extra)) assert.ok(Number.isFinite(v), `${id}: extra ${k} = ${v}`);
}

/** The toggle is a register write: one PKRU write, no flush, no IPI. */
function assertToggleNeverFlushes(r: CaseResult): void {
  assert.equal(r.extra['flushesPerToggle'], 0, `${r.id}: flushes per PKRU toggle`);
  assert.equal(r.extra['keyRegisterWritesPerToggle'], 1, `${r.id}: PKRU writes per toggle`);
}

describe('bench/keys.ts (case h) in quick mode', () => {
  const sizes = QUICK_SIZES;
  const results: CaseResult[] = [];

  it('names its cases h<pages>.<os>', () => {
    assert.equal(hLabel(1), 'h1');
    assert.equal(hLabel(512), 'h512');
    assert.equal(hLabel(262144), 'h256k');
    assert.equal(hId(262144, 'freebsd'), 'h256k.freebsd');
    assert.ok(isKeyCaseId('h512.linux') && isKeyCaseId('h256k.freebsd'));
    assert.ok(!isKeyCaseId('g100k') && !isKeyCaseId('h512') && !isKeyCaseId('d.fork'));
  });

  for (const os of KEY_PERSONALITIES) {
    it(`${os}, 1 page: the toggle never flushes; the key change invalidates exactly that page`, () => {
      const r = caseKeyChange(sizes, os, 1);
      assertShape(r, hId(1, os), 1);
      assertToggleNeverFlushes(r);
      assert.equal(r.extra['flushesPerKeyChange'], 1);
      assert.equal(r.extra['pageFlushesPerKeyChange'], 1);
      assert.equal(r.extra['fullFlushesPerKeyChange'], 0);
      assert.equal(r.extra['ipisPerKeyChange'], 0, 'one CPU: no shoot-down');
      results.push(r);
    });

    it(`${os}, 512 pages (above the 33-page ceiling): the key change is one whole-PCID flush`, () => {
      const r = caseKeyChange(sizes, os, 512);
      assertShape(r, hId(512, os), 512);
      assertToggleNeverFlushes(r);
      assert.equal(r.extra['fullFlushesPerKeyChange'], 1);
      assert.equal(r.extra['pageFlushesPerKeyChange'], 0, 'no INVLPG per page above the ceiling');
      assert.equal(r.extra['flushesPerKeyChange'], 1);
      assert.equal(r.extra['ipisPerKeyChange'], 0, 'one CPU: no shoot-down');
      results.push(r);
    });
  }

  it('gives each result a ratio row in the summary and a line in the report table', () => {
    assert.equal(results.length, 2 * KEY_PERSONALITIES.length);
    const rows = buildRows(results, [], undefined);
    assert.deepEqual(
      rows.map((row) => row.id),
      results.map((r) => r.id),
    );
    for (const row of rows) {
      const r = results.find((x) => x.id === row.id)!;
      assert.equal(row.unit, 'ratio');
      assert.equal(row.mmsim, r.extra['keyChangeNs'] / r.extra['toggleNs']);
      assert.equal(row.native, undefined);
    }
    const report = formatReport(rows, results, undefined, null, sizes);
    assert.match(report, /PKRU toggle ns\s+key change ns\s+change\/toggle/);
    for (const os of KEY_PERSONALITIES) assert.match(report, new RegExp(`^\\s+512\\s+${os}\\s`, 'm'));
  });

  it('runs under runBench with --only, into the JSON document, without mmbench', () => {
    const run = runBench(sizes, { only: ['h1.freebsd'], native: false });
    assert.deepEqual(
      run.results.map((r) => r.id),
      ['h1.freebsd'],
    );
    assert.equal(run.native, null);
    const json = JSON.parse(JSON.stringify(run)) as { results: CaseResult[]; rows: { id: string }[] };
    assert.equal(json.results[0].extra['flushesPerToggle'], 0);
    assert.deepEqual(
      json.rows.map((row) => row.id),
      ['h1.freebsd'],
    );
  });
});

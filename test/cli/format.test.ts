/**
 * The text renderers of the CLI on large but valid runs (reliability review D8): a report,
 * a comparison and a state table of a few hundred thousand rows print in full, where
 * `Math.max(...rows)` used to overflow the stack.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatComparison, type Design } from '../../src/cli/compare.js';
import { formatReport, styleFor } from '../../src/cli/format.js';
import { type FinalOutcome, type LineOutcome, type RunReport } from '../../src/scenario/runner.js';

const plain = styleFor(process.stdout, true);
const ROWS = 150_000;

/** A report of `n` passing lines with a final condition every 1000 lines, as a long run leaves it. */
function bigReport(n: number, result: (i: number) => string = () => 'ok'): RunReport {
  const lines: LineOutcome[] = [];
  const finals: FinalOutcome[] = [];
  for (let i = 0; i < n; i++) {
    lines.push({ line: i + 3, thread: 'p', source: i === 7 ? `store a ${'x'.repeat(70)}` : 'store a 0x11', result: result(i), expectation: null, error: null });
    if (i % 1000 === 999) finals.push({ line: i + 3, source: 'require alive p', passed: true, seen: 'alive' });
  }
  return { file: 'big.mms', diagnostics: [], lines, finals, notes: [], passed: true, machine: null, names: { processes: new Map(), threads: new Map() }, trace: [] };
}

describe('text output of large runs', () => {
  it('formatReport prints every one of 150k lines, each final condition before the line below it', () => {
    const text = formatReport(bigReport(ROWS), plain, false);
    const out = text.split('\n');
    assert.equal(out.length, 1 + ROWS + ROWS / 1000 + 1, 'title, lines, finals, verdict');
    assert.equal(out[out.length - 1], `PASS big.mms (${ROWS / 1000} expectations met)`);
    // The statement column is as wide as the longest source, up to 60 characters.
    assert.match(out[1], /^ {5}3 {2}p {6}store a 0x11 {50}ok$/);
    // The final condition of line 1002 comes after that line's operation and before line 1003's.
    const at = out.findIndex((l) => l.includes('require alive p'));
    assert.match(out[at - 1], /^\s+1002\s+p\s+store a 0x11/);
    assert.match(out[at + 1], /^\s+1003\s+p\s+store a 0x11/);
  });

  it('formatComparison lines up 150k rows under two designs', () => {
    const designs: Design[] = [
      { label: 'as written', report: bigReport(ROWS) },
      { label: 'variant=x', report: bigReport(ROWS, (i) => (i === 5 ? 'EINVAL' : 'ok')) },
    ];
    const out = formatComparison('big.mms', designs, plain).split('\n');
    assert.equal(out[out.length - 1], '1 line differs between the designs');
    assert.equal(out.filter((l) => l.endsWith('← differs')).length, 1);
    assert.ok(out.length > ROWS, 'every row printed');
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { capDiagnostics, formatDiagnostic, MAX_DIAGNOSTICS, type Diagnostic } from '../../src/scenario/diagnostics.js';

const at = (line: number, column = 1): Diagnostic => ({ file: 'f.mms', span: { line, column, length: 1 }, code: 'MMS1001', message: `at ${line}:${column}` });

describe('diagnostics', () => {
  it('a problem with the whole input (line 0) prints without a position', () => {
    assert.equal(formatDiagnostic({ file: 'x.mms', span: { line: 0, column: 0, length: 0 }, code: 'MMS0002', message: 'a FIFO' }), 'x.mms: error MMS0002: a FIFO');
    assert.equal(formatDiagnostic(at(3, 4)), 'f.mms:3:4: error MMS1001: at 3:4');
  });

  it('capDiagnostics sorts by position, keeps the first 100 and counts the rest in one MMS0004', () => {
    const many = Array.from({ length: 250 }, (_, i) => at(250 - i));
    const capped = capDiagnostics(many, 0, 'f.mms');
    assert.equal(capped.length, MAX_DIAGNOSTICS + 1);
    assert.deepEqual(capped.slice(0, 3).map((d) => d.span.line), [1, 2, 3]);
    const last = capped[capped.length - 1];
    assert.equal(last.code, 'MMS0004');
    assert.equal(last.span.line, 101, 'placed where the first unlisted problem is');
    assert.match(last.message, /^… and 150 more problems, not listed: only the first 100 are$/);
    // Diagnostics already dropped by the parser are counted too.
    assert.match(capDiagnostics(many.slice(0, 101), 7, 'f.mms')[100].message, /and 8 more problems/);
  });

  it('capDiagnostics leaves a short list as it is, sorted stably', () => {
    const a = at(2, 1);
    const b = { ...at(2, 1), message: 'second' };
    assert.deepEqual(capDiagnostics([at(5), a, b], 0), [a, b, at(5)]);
    assert.deepEqual(capDiagnostics([]), []);
  });
});

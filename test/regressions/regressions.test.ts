/**
 * The reliability review's defects (../shared/reference/reliability-review.md, D1–D24),
 * each as a scenario beside this file that shows the fixed behaviour: every expectation
 * and condition in it must hold. Where a defect broke an invariant, the scenario requires
 * that invariant, so it fails again if the defect returns.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runScenario } from '../../src/scenario/runner.js';
import { formatDiagnostic } from '../../src/scenario/diagnostics.js';

/** The scenarios live in the source tree; the tests run from dist/test/regressions/. */
const DIR = fileURLToPath(new URL('../../../test/regressions/', import.meta.url));

describe('reliability regressions', () => {
  const files = readdirSync(DIR).filter((f) => f.endsWith('.mms')).sort();
  it('has scenarios', () => assert.ok(files.length > 0));
  for (const name of files) {
    it(name, () => {
      const r = runScenario(readFileSync(join(DIR, name), 'utf8'), name);
      assert.deepEqual(r.diagnostics.map(formatDiagnostic), []);
      const bad = [
        ...r.lines.filter((l) => l.error !== null || (l.expectation !== null && !l.expectation.passed)).map((l) => `${l.line}: ${l.source} -> ${l.result}${l.error ? ` (${l.error.message})` : ''}`),
        ...r.finals.filter((f) => !f.passed).map((f) => `${f.line}: ${f.source} (${f.seen})`),
      ];
      assert.deepEqual(bad, []);
      assert.equal(r.passed, true);
    });
  }
});

describe('differences from the kernel are loud', () => {
  it('advice accepted without a modelled effect is noted at its line (D24)', () => {
    const r = runScenario(readFileSync(join(DIR, 'd24-advice-by-name.mms'), 'utf8'), 'd24.mms');
    assert.ok(r.notes.some((n) => /^line 7: .*MADV_MERGEABLE/.test(n)), r.notes.join('\n'));
  });

  it('a Linux advice name under freebsd is an error at the name, not a silent number', () => {
    const text = 'machine x86_64 os=freebsd\nprocess p\n  a = mmap 16K rw private anon\n  madvise a 16K wipeonfork\n';
    const r = runScenario(text, 'fb.mms');
    const l = r.lines.find((x) => x.line === 4);
    assert.ok(l?.error, 'line 4 reports an error');
    assert.equal(l.error.span.column, 17);
  });
});

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { compareRuns, formatComparison, runDesigns } from '../../src/cli/compare.js';
import { formatReport, styleFor } from '../../src/cli/format.js';
import { runScenario } from '../../src/scenario/runner.js';
import { exampleFiles } from '../scenario/_helpers.js';

/**
 * Golden files: each example's report is checked in beside it as NAME.out. Regenerate
 * with `UPDATE_GOLDEN=1 npm test` and review the diff.
 */
const root = fileURLToPath(new URL('../../../', import.meta.url));
const examples = join(root, 'examples');
const update = process.env.UPDATE_GOLDEN === '1';
const plain = styleFor(process.stdout, true);


/** `text` equals the checked-in golden file (written instead under UPDATE_GOLDEN=1). */
function matchesGolden(golden: string, text: string): void {
  if (update || !existsSync(golden)) {
    if (!update) assert.fail(`${relative(root, golden)} is missing: run UPDATE_GOLDEN=1 npm test and review it`);
    writeFileSync(golden, text);
  }
  assert.equal(text, readFileSync(golden, 'utf8'));
}

describe('examples: golden outputs', () => {
  const files = exampleFiles(examples);
  it('there are examples to check', () => {
    assert.ok(files.length >= 7);
  });
  for (const file of files) {
    const name = relative(root, file);
    it(`${name} passes and matches ${name.replace(/\.mms$/, '.out')}`, () => {
      const report = runScenario(readFileSync(file, 'utf8'), name);
      const text = `${formatReport(report, plain, false)}\n`;
      matchesGolden(file.replace(/\.mms$/, '.out'), text);
      assert.ok(report.passed, `${name} should pass:\n${text}`);
    });
  }
});

/**
 * Comparison goldens: for each example NAME.mms with a NAME.compare file (one line: the
 * variants to compare against, as `mmsim compare --variant` takes them), the comparison
 * is checked in as NAME.compare.out.
 */
describe('examples: golden comparisons', () => {
  const files = exampleFiles(examples).filter((f) => existsSync(f.replace(/\.mms$/, '.compare')));
  it('there are comparisons to check', () => {
    assert.ok(files.length >= 2);
  });
  for (const file of files) {
    const name = relative(root, file);
    it(`${name} compared as ${name.replace(/\.mms$/, '.compare.out')} says`, () => {
      const variants = readFileSync(file.replace(/\.mms$/, '.compare'), 'utf8').trim().split(/\s+/);
      const designs = runDesigns(readFileSync(file, 'utf8'), name, variants);
      matchesGolden(file.replace(/\.mms$/, '.compare.out'), `${formatComparison(name, designs, plain)}\n`);
      // A comparison exists to show a difference.
      assert.ok(compareRuns(designs).some((r) => r.differs), `${name}: the designs should differ somewhere`);
    });
  }
});

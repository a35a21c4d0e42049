/** Shared helpers of the scenario-language tests. */
import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runScenario, type RunOptions, type RunReport } from '../../src/scenario/runner.js';
import { formatDiagnostic, type Diagnostic } from '../../src/scenario/diagnostics.js';

/** A scenario from its lines. */
export const sc = (...lines: string[]): string => `${lines.join('\n')}\n`;

/** Runs a scenario as the file `t.mms`. */
export function run(text: string, options: RunOptions = {}): RunReport {
  return runScenario(text, 't.mms', options);
}

/** Runs a scenario that must be well-formed (no diagnostics). */
export function runOk(text: string, options: RunOptions = {}): RunReport {
  const r = run(text, options);
  assert.deepEqual(r.diagnostics.map(formatDiagnostic), [], 'the scenario should be well-formed');
  return r;
}

/** Diagnostics as `line:column CODE`. */
export function spanCodes(diagnostics: readonly Diagnostic[]): string[] {
  return diagnostics.map((d) => `${d.span.line}:${d.span.column} ${d.code}`);
}

/** The repository's examples/ directory: the tests run as dist/test/scenario/*.js. */
export const EXAMPLES_DIR = fileURLToPath(new URL('../../../examples/', import.meta.url));

/** Every .mms file under `dir` (default examples/), depth first, in name order. */
export function exampleFiles(dir = EXAMPLES_DIR): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...exampleFiles(path));
    else if (name.endsWith('.mms')) out.push(path);
  }
  return out;
}

/** The language guide's first example (copy-on-write after fork), a well-formed scenario several tests parse. */
export const COW_EXAMPLE = `# Copy-on-write after fork: each side keeps its own data.
machine x86_64 os=linux cpus=2 memory=64M swap=64M

process p cpu=0
  a = mmap 16K rw private anon
  store a 0x11
  q = fork cpu=1

process q
  load a            => 0x11
  store a 0x22
  load a            => 0x22

process p
  load a            => 0x11

require counter q cowCopies == 1
forbid pte p a writable
`;

/**
 * Every run replays exactly: each example and regression scenario gives the same lines,
 * trace, notes, maps, counters and events whatever ran before it in the process. Before
 * mm ids and inode numbers were numbered per machine, lock names in traces and the inode
 * column of /proc/pid/maps counted up across machines.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { runScenario } from '../../src/scenario/runner.js';
import { exampleFiles } from '../scenario/_helpers.js';

const REGRESSIONS = fileURLToPath(new URL('../../../test/regressions/', import.meta.url));

/** What a user sees of one run, as text. */
function observed(file: string): string {
  const r = runScenario(readFileSync(file, 'utf8'), file, { trace: true });
  const m = r.machine;
  return JSON.stringify({
    lines: r.lines,
    finals: r.finals,
    notes: r.notes,
    trace: r.trace,
    maps: m?.processes.map((p) => p.maps()),
    counters: m?.counters(),
    events: m?.events,
  });
}

describe('replay', () => {
  it('a scenario observes the same run whatever ran before it in the process', () => {
    const files = [...exampleFiles(), ...exampleFiles(REGRESSIONS)];
    assert.ok(files.length > 30);
    const first = files.map(observed);
    // Run them all again in the other order, then once more in order.
    for (const f of [...files].reverse()) observed(f);
    const again = files.map(observed);
    const differ = files.filter((_f, i) => first[i] !== again[i]);
    assert.deepEqual(differ, []);
  });
});

/**
 * The stress test's scenario printer: a printed run parses without diagnostics, and
 * replaying it gives every step the result the run saw (each statement expects it), so
 * the scenario is the run. Runs that the language cannot express say why.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { checkScenario, runScenario } from '../../src/scenario/runner.js';
import { Runner } from './_driver.js';
import { type Config, configArb, DEFAULT_BIAS, MEMORY, type Op, opsArb, SWAP } from './_ops.js';
import { expectation, ScenarioLog } from './_scenario.js';

const KiB = 1024;

/** A whole run on the fixed kernel; its scenario, or null with the reason. */
function printed(cfg: Config, ops: readonly Op[]): { text: string | null; missing: string | null } {
  const run = new Runner(cfg);
  for (const op of ops) {
    run.step(op);
    run.check();
  }
  run.finish();
  const s = run.mms.print('end of the run');
  return 'text' in s ? { text: s.text, missing: null } : { text: null, missing: s.missing };
}

function replay(text: string): void {
  assert.deepEqual(checkScenario(text, 'replay.mms'), [], text);
  const r = runScenario(text, 'replay.mms');
  const bad = r.lines.filter((l) => l.error !== null || (l.expectation !== null && !l.expectation.passed));
  assert.deepEqual(
    bad.map((l) => `${l.line}: ${l.source} — got ${l.result}${l.error ? ` (${l.error.message})` : ''}`),
    [],
    `the replay drifted from the run:\n${text}`,
  );
  assert.ok(r.passed);
}

describe('stress: the run as a scenario', () => {
  for (const os of ['linux', 'freebsd'] as const) {
    it(`replays ${os} runs step for step`, () => {
      // Interleaved steps but no interleaved swap-out (the language has no such path), under pressure.
      const bias = { ...DEFAULT_BIAS, conc: 6, sameCpu: 3, populate: 2 };
      const space = { os: [os], memory: [96 * KiB, ...MEMORY.slice(0, 3)], swap: SWAP, variants: false };
      let texts = 0;
      fc.assert(
        fc.property(configArb(space), opsArb(bias, 12, 20), (cfg, ops) => {
          const p = printed(cfg, ops);
          if (p.text === null) return;
          texts++;
          replay(p.text);
        }),
        { seed: os === 'linux' ? 11 : 12, numRuns: 60 },
      );
      assert.ok(texts >= 30, `only ${texts} of 60 runs could be printed`);
    });
  }

  it('says what the language cannot express', () => {
    const run = new Runner({ os: 'linux', variants: [], cpus: 2, memory: 256 * KiB, swap: 0, tlbEntries: 64, placement: [0, 1] });
    run.step({ t: 'oomadj', who: 0, value: -1000 });
    const s = run.mms.print('x');
    assert.ok('missing' in s && s.missing === 'setOomScoreAdj', JSON.stringify(s));
    assert.match(run.scenario('x'), /no scenario: the language cannot express setOomScoreAdj; the library script is the replay/);
  });

  it('ends with the failure and the invariants it names', () => {
    const run = new Runner({ os: 'freebsd', variants: [], cpus: 2, memory: 256 * KiB, swap: 0, tlbEntries: 64, placement: [0] });
    run.step({ t: 'mmap', who: 0, a: { mapped: false, n: 0 }, n: 1, prot: 3, kind: 'anon', file: 0, fileOff: 0, fixed: true, populate: true });
    const text = run.scenario('[invariant] invariant broken: [no-stale-tlb] CPU 0 TLB entry …');
    assert.match(text, /^machine x86_64 os=freebsd cpus=2 memory=256K swap=0 tlb=64$/m);
    assert.match(text, /^ {2}mmap 4096 rw- private anon fixed populate at=0x10000000 => 0x10000000$/m);
    assert.match(text, /\n# \[invariant\] invariant broken: \[no-stale-tlb\] CPU 0 TLB entry …\nrequire invariant no-stale-tlb\n$/);
    assert.deepEqual(checkScenario(text, 'x.mms'), []);
  });

  it('spells results as expectations', () => {
    assert.equal(expectation(null), 'ok');
    assert.equal(expectation(7), '7');
    assert.equal(expectation(0x10000000), '0x10000000');
    assert.equal(expectation(undefined), null);
    assert.equal(ScenarioLog.rights(3), 'access-disable write-disable');
    assert.equal(ScenarioLog.rights(0), 'none');
  });
});

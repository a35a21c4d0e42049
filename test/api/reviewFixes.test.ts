/**
 * Failures a review found: each pinned by the case that showed it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, symlinkSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { formatReport, styleFor, tally } from '../../src/cli/format.js';
import { Machine, MAP_ANONYMOUS, MAP_POPULATE, MAP_PRIVATE, OutOfMemoryError, PROT_READ, PROT_WRITE, ThreadEndedError } from '../../src/index.js';
import { runScenario } from '../../src/scenario/runner.js';

const PAGE = 4096;
const RW = PROT_READ | PROT_WRITE;
const ANON = MAP_PRIVATE | MAP_ANONYMOUS;
const root = fileURLToPath(new URL('../../../', import.meta.url));

describe('user accesses under memory pressure', () => {
  it('a load across a page boundary reads both pages even when bringing in the second evicts the first', () => {
    for (const size of [2, 4] as const) {
      const m = new Machine({ memory: 128 * PAGE, swap: 8 << 20, invariants: 'throw' });
      const p = m.spawn('p');
      const t = p.main;
      const filler = t.mmap(0, 4 << 20, RW, ANON) as number;
      const a = t.mmap(0, 2 * PAGE, RW, ANON) as number;
      t.store(a + PAGE - 2, 0x1111, 2);
      t.store(a + PAGE, 0x2222, 2);
      m.swapOut(p);
      t.load(a);
      for (let i = 0; m.counters().machine.freeFrames > 0; i++) t.store(filler + i * PAGE, 0x77);
      const va = a + PAGE - size / 2;
      assert.equal(t.load(va, size), size === 2 ? 0x2211 : 0x22221111, `size ${size}`);
    }
  });

  it('an OOM kill during MAP_POPULATE leaves the SIGKILL recorded', () => {
    const m = new Machine({ memory: 64 * PAGE, swap: 16 * PAGE });
    const p = m.spawn('p');
    const t = p.main;
    t.mmap(0, 1024 * PAGE, RW, ANON | MAP_POPULATE);
    assert.equal(p.alive, false);
    assert.deepEqual(t.signals.map((s) => s.signal), ['SIGKILL']);
  });
});

describe('user errors end in diagnostics, not stack traces', () => {
  it('a process that cannot start for lack of memory is MMS4003 on its block', () => {
    const text = ['machine x86_64 memory=64K swap=0', ...Array.from({ length: 15 }, (_, i) => `process p${i}\n  check`)].join('\n');
    const r = runScenario(text, 'oom.mms');
    const errors = r.lines.filter((l) => l.error);
    assert.ok(errors.length > 0);
    assert.ok(errors.every((l) => l.error!.code === 'MMS4003' && /cannot start process/.test(l.error!.message)));
    assert.throws(() => {
      const m = new Machine({ memory: 64 * 1024, swap: 0 });
      for (let i = 0; i < 64; i++) m.spawn(`p${i}`);
    }, OutOfMemoryError);
  });

  it('a chain of thousands of and/+ operands is a diagnostic, not a stack overflow', () => {
    const cond = runScenario(`process p\nrequire ${Array.from({ length: 8000 }, () => 'alive p').join(' and ')}\n`, 'and.mms');
    assert.deepEqual(cond.diagnostics.map((d) => d.code), ['MMS2005']);
    assert.match(cond.diagnostics[0].message, /more than 256/);
    const sum = runScenario(`process p\n  a = mmap 4K rw private anon\n  load a${' + 0'.repeat(12000)}\n`, 'sum.mms');
    assert.deepEqual(sum.diagnostics.map((d) => d.code), ['MMS2001']);
    assert.equal(runScenario(`process p\n  a = mmap 4K rw private anon\n  load a${' + 0'.repeat(200)}\n`, 'ok.mms').passed, true);
  });

  it('a report counts a line that could not run as a failed check', () => {
    const r = runScenario('process p\n  exit\nprocess p\n  check => 0\n', 'ended.mms');
    assert.deepEqual(tally(r), { checked: 1, failed: 1 });
    assert.match(formatReport(r, styleFor(process.stdout, true), false), /FAIL ended\.mms \(1 of 1 expectation failed\)/);
  });

  it('interleave refuses the same thread twice and an ended thread', () => {
    const m = new Machine();
    const p = m.spawn('p');
    const t = p.main;
    assert.throws(() => m.interleave([[t, t.paths.load(0x10000)], [t, t.paths.load(0x10000)]]), /given two paths/);
    p.exit(0);
    assert.throws(() => m.interleave([[t, t.paths.mmap(0, PAGE, RW, ANON)]]), ThreadEndedError);
    assert.equal(p.maps(), '', 'nothing was mapped into the dead process');
  });

  it('scenario directories with broken links and loops are bad input or searched once', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mmsim-walk-'));
    mkdirSync(join(dir, 'loop'));
    copyFileSync(join(root, 'examples/basics/fork-cow.mms'), join(dir, 'loop', 'a.mms'));
    symlinkSync('.', join(dir, 'loop', 'self'));
    const bin = join(root, 'dist', 'src', 'cli', 'main.js');
    const loop = spawnSync(process.execPath, [bin, 'check', join(dir, 'loop')], { encoding: 'utf8' });
    assert.equal(loop.status, 0, loop.stderr);
    assert.equal(loop.stdout.trim().split('\n').length, 1, 'the looped directory is read once');
    symlinkSync('/nonexistent-mmsim', join(dir, 'loop', 'broken.mms'));
    const broken = spawnSync(process.execPath, [bin, 'run', join(dir, 'loop')], { encoding: 'utf8' });
    assert.equal(broken.status, 2);
    assert.match(broken.stderr, /^mmsim: .*broken\.mms: no such file or directory\n$/);
  });
});

describe('conditions read the same figures the reports show', () => {
  it('counter PROC pageTables exists, negative values print with a sign, and a bad size= points at size=', () => {
    const r = runScenario('process p\n  a = mmap 4K rw private anon\n  store a 1\nrequire counter p pageTables == 3\nrequire pte p a pgoff == -1\n', 'c.mms');
    assert.equal(r.passed, true, JSON.stringify(r.finals));
    assert.equal(r.finals[1].seen, 'pte pgoff is -0x1');
    const s = runScenario('process p\n  a = mmap 4K rw private anon\n  n = mmap 3 rw private anon\n  store a 1 size=n\n', 's.mms');
    const err = s.lines.find((l) => l.error)!.error!;
    assert.deepEqual([err.span.line, err.span.column], [4, 18]);
  });
});

describe('machines are independent', () => {
  it('each machine numbers its address spaces from PCID 1, whatever ran before in the process', () => {
    const pcids = (): number[] => {
      const m = new Machine();
      const a = m.spawn('a');
      const b = m.spawn('b');
      return [a.process.mm.pmap.pcid, b.process.mm.pmap.pcid];
    };
    const first = pcids();
    for (let i = 0; i < 5; i++) new Machine().spawn('noise');
    assert.deepEqual(pcids(), first);
    assert.deepEqual(first, [1, 2]);
  });
});

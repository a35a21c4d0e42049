/**
 * D5: an OOM kill that lands while the victim's own kernel path is in flight. Linux only
 * kills: the victim's address space is pinned by the path (mmget), the OOM reaper frees
 * its private memory, and exit_mmap() runs at the last mmput(). Before the fix mmsim tore
 * the address space down at once, inside the other thread's allocation; the victim's
 * mmap(MAP_POPULATE) then resumed and installed entries into freed page tables, and
 * frames and page tables leaked.
 *
 * A populate of A is interleaved with a store of B on a machine too small for both, at
 * every split point of the schedule; after each run the invariants hold and, once every
 * process has exited, nothing is left but the zero page.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Machine, MAP_ANONYMOUS, MAP_POPULATE, MAP_PRIVATE, PROT_READ, PROT_WRITE, type Personality } from '../../src/index.js';

const RW = PROT_READ | PROT_WRITE;
const PA = MAP_PRIVATE | MAP_ANONYMOUS;

interface Outcome {
  readonly aKilled: boolean;
}

function race(os: Personality, aSteps: number): Outcome {
  const m = new Machine({ os, memory: 128 * 1024, swap: 0, cpus: 2, invariants: 'throw' });
  const base = m.counters().machine;
  const A = m.spawn('A', 0);
  const B = m.spawn('B', 1);
  const b = B.main.mmap(0, 8192, RW, PA) as number;
  assert.equal(B.main.store(b, 1), null);
  const steps = Array<number>(aSteps).fill(A.main.tid);
  m.interleave(
    [
      [A.main, A.main.paths.mmap(0, 96 * 1024, RW, PA | MAP_POPULATE)],
      [B.main, B.main.paths.store(b + 4096, 2)],
    ],
    steps,
  );
  assert.deepEqual(m.checkInvariants(), []);
  const aKilled = !A.alive;
  if (B.alive) assert.equal(B.main.load(b + 4096), 2);
  for (const p of m.processes) p.exit();
  const end = m.counters().machine;
  assert.deepEqual(m.checkInvariants(), []);
  assert.equal(end.pageTables, 0, 'no page table is left');
  assert.equal(end.freeFrames, base.freeFrames, 'no frame is left');
  assert.equal(end.swapUsed, 0);
  return { aKilled };
}

describe('D5: an OOM kill while the victim path is in flight', () => {
  for (const os of ['linux', 'freebsd'] as const) {
    it(`${os}: every split of populate against a store`, () => {
      let killedMidPath = 0;
      for (let k = 0; k <= 40; k++) if (race(os, k).aKilled) killedMidPath++;
      assert.ok(killedMidPath > 0, 'some schedule kills A while its populate runs');
    });
  }
});

describe('a path of a process that exited before the path started', () => {
  it('runs as a dead thread and leaves nothing behind', () => {
    const m = new Machine({ invariants: 'throw' });
    const A = m.spawn('A');
    const B = m.spawn('B');
    const a = A.main.mmap(0, 8192, RW, PA) as number;
    A.main.store(a, 1);
    const path = A.main.paths.load(a);
    A.exit();
    const r = m.interleave([
      [A.main, path],
      [B.main, B.main.paths.load(0x10000)],
    ]);
    assert.equal((r.results[0] as { signal: string }).signal, 'SIGKILL');
    B.exit();
    assert.deepEqual(m.checkInvariants(), []);
    assert.equal(m.counters().machine.pageTables, 0, "A's torn-down tables were not torn down twice, and B's went");
  });
});

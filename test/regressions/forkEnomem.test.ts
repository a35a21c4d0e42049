/**
 * D7: a fork that fails with ENOMEM half-way still flushes the parent's TLBs. dup_mmap()
 * ends with flush_tlb_mm(oldmm) on its error path too; before the fix the parent kept a
 * writable TLB entry over a PTE the copy had write-protected, and a store through it
 * skipped the copy-on-write. The parent is exempt from the OOM killer (oom_score_adj
 * -1000), so the fork fails instead of the parent being killed.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isErrno, Machine, MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, PROT_READ, PROT_WRITE, type Personality } from '../../src/index.js';

const RW = PROT_READ | PROT_WRITE;

function failingFork(os: Personality): void {
  const m = new Machine({ os, cpus: 1, memory: 64 * 1024, swap: 0, invariants: 'throw' });
  const p = m.spawn('p');
  assert.equal(p.setOomScoreAdj(-1000), 0);
  const t = p.main;
  const a = t.mmap(0x10000000, 4096, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED) as number;
  assert.equal(t.store(a, 1), null);
  const b = t.mmap(0, 4096, RW, MAP_PRIVATE | MAP_ANONYMOUS) as number;
  assert.equal(t.store(b, 2), null);
  // Fill memory so the child's page tables run out after the first VMA was copied.
  let filler = 0;
  for (;;) {
    const f = t.mmap(0x20000000 + filler * 0x200000, 4096, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED) as number;
    if (t.store(f, 3) !== null || m.counters().machine.freeFrames < 2) break;
    filler++;
  }
  const r = t.fork(0);
  assert.ok(isErrno(r) && r.name === 'ENOMEM', `fork fails: ${JSON.stringify(r)}`);
  assert.ok(p.alive, 'the parent is not the OOM victim');
  assert.deepEqual(m.checkInvariants(), [], 'no writable TLB entry over a write-protected PTE');
  assert.equal(t.store(a, 3), null);
  assert.equal(t.load(a), 3);
  assert.equal(t.load(b), 2);
}

describe('D7: fork failing half-way', () => {
  it('linux', () => failingFork('linux'));
  it('freebsd', () => failingFork('freebsd'));
});

describe('oom_score_adj', () => {
  it('is refused out of range', () => {
    const m = new Machine({ memory: 64 * 1024, swap: 0 });
    const p = m.spawn('p');
    assert.equal(String(p.setOomScoreAdj(1001)), 'EINVAL');
    assert.equal(String(p.setOomScoreAdj(-1001)), 'EINVAL');
    assert.throws(() => p.setOomScoreAdj(0.5), TypeError);
    assert.equal(p.setOomScoreAdj(1000), 0);
  });

  it('steers the OOM killer: a process at -1000 is passed over for a smaller one', () => {
    const m = new Machine({ memory: 256 * 1024, swap: 0 });
    const big = m.spawn('big');
    const small = m.spawn('small');
    assert.equal(big.setOomScoreAdj(-1000), 0);
    const a = big.main.mmap(0, 96 * 1024, RW, MAP_PRIVATE | MAP_ANONYMOUS) as number;
    for (let i = 0; i < 24; i++) big.main.store(a + i * 4096, 1);
    const b = small.main.mmap(0, 8192, RW, MAP_PRIVATE | MAP_ANONYMOUS) as number;
    small.main.store(b, 1);
    const c = m.spawn('c');
    const x = c.main.mmap(0, 1 << 20, RW, MAP_PRIVATE | MAP_ANONYMOUS) as number;
    for (let i = 0; i < 256 && c.alive; i++) c.main.store(x + i * 4096, 1);
    assert.ok(big.alive, 'the exempt process survives');
    assert.ok(!small.alive || !c.alive, 'the others are the victims');
  });
});

describe('oom_score_adj across fork', () => {
  it('the child inherits it on linux (copy_signal()), not on freebsd', () => {
    for (const [os, want] of [['linux', -1000], ['freebsd', 0]] as const) {
      const m = new Machine({ os });
      const p = m.spawn('p');
      p.setOomScoreAdj(-1000);
      const c = p.main.fork(0);
      assert.ok(!isErrno(c));
      assert.equal(c.process.oomScoreAdj, want, os);
    }
  });
});

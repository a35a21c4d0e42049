import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isSignal, Machine, MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE, ThreadEndedError } from '../../src/index.js';

describe('ThreadHandle on an ended thread', () => {
  it('refuses system calls with ThreadEndedError and changes nothing', () => {
    for (const os of ['linux', 'freebsd'] as const) {
      const m = new Machine({ os, invariants: 'throw' });
      const p = m.spawn('p');
      const t = p.main;
      const a = t.mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS) as number;
      p.exit(0);
      const frames = m.counters().machine.freeFrames;
      assert.throws(() => t.mmap(0, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS), ThreadEndedError);
      assert.throws(() => t.munmap(a, 4096), ThreadEndedError);
      assert.throws(() => t.open('/f', 0), ThreadEndedError);
      assert.throws(() => t.exec(), ThreadEndedError);
      if (os === 'freebsd') {
        assert.throws(() => t.pkruProtectRange(a, 4096, 3), ThreadEndedError);
        assert.equal(p.snapshot().pkruRanges.length, 0, 'no range added to the destroyed pmap');
      }
      assert.equal(m.counters().machine.freeFrames, frames);
      // An access is not a system call: it reports the end of the thread as a value.
      assert.ok(isSignal(t.load(a)));
    }
  });
});

/**
 * D3: a 2- or 4-byte access that straddles a page boundary, under memory pressure. Both
 * pages must be translated together: before the fix, resolving the second page's fault
 * could reclaim the first page's frame, and the access then used a stale frame — a load
 * returned page 0's bytes for page 1 and a store wrote page 1's byte into page 0. The
 * review's repro (reliability-review.md D3), in both personalities.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Machine, MAP_ANONYMOUS, MAP_FIXED, MAP_POPULATE, MAP_PRIVATE, MAP_SHARED, O_RDWR, ProcessHandle, PROT_READ, PROT_WRITE, type Personality } from '../../src/index.js';

const RW = PROT_READ | PROT_WRITE;

/** Runs the repro on a machine of `kib` KiB; returns whether the child lived to check its bytes. */
function splitUnderPressure(os: Personality, kib: number): boolean {
  const m = new Machine({ os, memory: kib * 1024, swap: 0, tlbEntries: 16, cpus: 2, invariants: 'throw' });
  const bytes = new Uint8Array(8192);
  bytes.fill(0x11, 0, 4096);
  bytes.fill(0x22, 4096);
  m.createFile('/f', bytes);
  const p = m.spawn('p', 1);
  const t = p.main;
  const fd = t.open('/f', O_RDWR);
  assert.equal(typeof fd, 'number');
  const a = t.mmap(0x10000000, 8192, RW, MAP_SHARED | MAP_FIXED | MAP_POPULATE, fd as number, 0) as number;
  t.mmap(0, 16384, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE);
  t.mmap(0, 12288, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE);
  const c = t.fork(0);
  assert.ok(c instanceof ProcessHandle, 'fork succeeds');
  const child = c.main;
  const first = child.load(a + 0xffd, 4);
  if (!child.alive) {
    // Too little memory to hold both pages at once: an OOM kill, never a wrong value.
    assert.equal(typeof first, 'object');
    assert.ok(m.events.some((e) => e.kind === 'oom-kill'), 'the kill is reported');
    assert.deepEqual(m.checkInvariants(), []);
    return false;
  }
  assert.equal(first, 0x22111111);
  assert.equal(child.store(a + 0xffd, 0x99887766, 4), null);
  assert.equal(child.load(a + 0xffc, 1), 0x11, 'the byte before the store is untouched');
  assert.equal(child.load(a + 0xffd, 1), 0x66);
  assert.equal(child.load(a + 0x1000, 1), 0x99, 'the store reached page 1');
  assert.equal(child.load(a + 0x1001, 1), 0x22);
  assert.equal(child.load(a, 1), 0x11, 'page 0 keeps its own bytes');
  assert.deepEqual(m.checkInvariants(), []);
  return true;
}

/** Around the size where the review saw the corruption (96K), down to where the child is OOM-killed. */
function sweep(os: Personality): void {
  const lived: number[] = [];
  for (let kib = 88; kib <= 128; kib += 4) if (splitUnderPressure(os, kib)) lived.push(kib);
  assert.ok(lived.length > 0, 'some machine size leaves the child alive to check its bytes');
}

describe('D3: split accesses under memory pressure', () => {
  it('linux', () => sweep('linux'));
  it('freebsd', () => sweep('freebsd'));
});

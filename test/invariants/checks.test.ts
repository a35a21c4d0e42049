/**
 * Each invariant checker reports the corruption it exists for: every other test runs with
 * `invariants: 'throw'` and a quiet machine, which proves nothing unless the checkers can
 * speak. Each case corrupts one thing behind the kernel's back and expects exactly that id.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PTE_HI_XD, PTE_RW, PTE_US, pteLo, pteHi, PTE_P } from '../../src/hw/pte.js';
import { checkOwnContext } from '../../src/mm/uaccess.js';
import { InvariantError, Machine, MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE, type InvariantId } from '../../src/index.js';

const PAGE = 4096;

/** A quiet machine with one process and one resident, read-only anonymous page at `a`. */
function quiet(invariants: 'off' | 'record' | 'throw' = 'off'): { m: Machine; a: number; slot: number } {
  const m = new Machine({ memory: 4 << 20, swap: 4 << 20, invariants });
  const p = m.spawn('p');
  const t = p.main;
  const a = t.mmap(0, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS) as number;
  t.store(a, 1);
  t.mprotect(a, 2 * PAGE, PROT_READ);
  assert.equal(t.load(a), 1);
  const slot = p.process.mm.pmap.pteSlot(a);
  assert.ok(slot >= 0);
  assert.deepEqual(m.checkInvariants(), [], 'the machine starts quiet');
  return { m, a, slot };
}

const ids = (m: Machine): InvariantId[] => [...new Set(m.checkInvariants().map((v) => v.id))];

describe('invariant checkers', () => {
  it('no-excess-rights: a writable PTE in a read-only VMA', () => {
    const { m, slot } = quiet();
    m.hw.tables.lo[slot] |= PTE_RW;
    assert.ok(ids(m).includes('no-excess-rights'));
  });

  it('no-stale-tlb: a CPU still caches a translation the page table no longer has', () => {
    const { m, slot } = quiet();
    m.hw.tables.lo[slot] = 0;
    m.hw.tables.hi[slot] = 0;
    assert.ok(ids(m).includes('no-stale-tlb'));
  });

  it('no-stale-tlb: an entry filled for one address space under a PCID that now names another', () => {
    const { m, a } = quiet();
    const pPmap = m.processes[0].process.mm.pmap;
    const q = m.spawn('q');
    const cpu = m.hw.cpus[0];
    const [e] = cpu.tlb.entries().filter((x) => x.va === a);
    assert.ok(e, "p's entry is cached");
    assert.equal(e.cr3Table, pPmap.root, 'the entry records the address space it was filled for');
    // The same translation, as if q's address space had filled it under p's PCID (no flush at the switch).
    cpu.tlb.fill(a / PAGE, e.pcid!, e.pfn, 0, q.process.mm.pmap.root);
    assert.deepEqual(ids(m), ['no-stale-tlb']);
  });

  it('own-context: an access made while another context is loaded on the CPU', () => {
    const { m, a } = quiet();
    const p = m.processes[0];
    const q = m.spawn('q');
    const b = q.main.mmap(0, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS) as number;
    assert.equal(q.main.load(b), 0);
    const cpu = m.hw.cpus[0];
    assert.equal(cpu.cr3Table, q.process.mm.pmap.root, 'q is loaded on CPU 0');
    checkOwnContext(m.kernel, p.main.thread, cpu, a);
    assert.deepEqual(ids(m), ['own-context']);
  });

  it('accounting: a frame reference nobody holds', () => {
    const { m, slot } = quiet();
    const pfn = (m.hw.tables.hi[slot] & 0xfffff) * 0x100000 + (m.hw.tables.lo[slot] >>> 12);
    m.hw.mem.refcount[pfn]++;
    assert.deepEqual(ids(m), ['accounting']);
  });

  it('no-wx: a supervisor page that is writable and executable', () => {
    const { m, a, slot } = quiet();
    const pfn = (m.hw.tables.hi[slot] & 0xfffff) * 0x100000 + (m.hw.tables.lo[slot] >>> 12);
    const next = m.processes[0].process.mm.pmap.pteSlot(a + PAGE);
    assert.ok(next >= 0);
    // The page beside it, made a kernel W+X alias of the same frame (and counted, so only no-wx speaks).
    m.hw.tables.lo[next] = pteLo(pfn, PTE_P | PTE_RW);
    m.hw.tables.hi[next] = pteHi(pfn, 0, false);
    m.hw.mem.mapcount[pfn]++;
    m.hw.mem.refcount[pfn]++;
    assert.ok(ids(m).includes('no-wx'));
    assert.equal(m.hw.tables.lo[next] & PTE_US, 0);
    assert.equal(m.hw.tables.hi[next] & PTE_HI_XD, 0);
  });

  it("'throw' raises InvariantError at the next operation, 'record' collects the violation", () => {
    const thrower = quiet('throw');
    thrower.m.hw.tables.lo[thrower.slot] |= PTE_RW;
    assert.throws(() => thrower.m.processes[0].main.load(thrower.a), (e: unknown) => e instanceof InvariantError && e.violations.some((v) => v.id === 'no-excess-rights'));
    const recorder = quiet('record');
    recorder.m.hw.tables.lo[recorder.slot] |= PTE_RW;
    recorder.m.processes[0].main.load(recorder.a);
    assert.ok(recorder.m.violations.some((v) => v.id === 'no-excess-rights'));
  });
});

describe('invariants in scenario conditions', () => {
  it('`require invariant ID` says the invariant holds; data-preserved, which no machine can check at a point, is refused', async () => {
    const { runScenario } = await import('../../src/scenario/runner.js');
    const ok = runScenario('process p\n  a = mmap 4K rw private anon\n  store a 1\nrequire invariant accounting\n', 'ok.mms');
    assert.equal(ok.passed, true);
    assert.equal(ok.finals[0].seen, 'accounting holds');
    const dp = runScenario('process p\n  a = mmap 4K rw private anon\nrequire invariant data-preserved\n', 'dp.mms');
    assert.deepEqual(dp.diagnostics.map((d) => `${d.span.line}:${d.span.column} ${d.code}`), ['3:19 MMS3004']);
    assert.match(dp.diagnostics[0].message, /value PROC ADDR == V/);
  });
});

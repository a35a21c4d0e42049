import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Hardware } from '../../src/hw/hardware.js';
import { ACCESS_READ, ACCESS_WRITE, isFault } from '../../src/hw/mmu.js';
import { FRAME_ANON } from '../../src/hw/physMem.js';
import { PTE_P, PTE_PROTNONE, PTE_RW, pteKey } from '../../src/hw/pte.js';
import { FLUSH_CEILING_PAGES, Pmap, type PmapExtension, VM_PROT_READ, VM_PROT_WRITE } from '../../src/pmap/pmap.js';

const PAGE = 4096;
const BASE = 0x7f0000000000;

function setup(cpus = 2): { hw: Hardware; pmap: Pmap } {
  const hw = new Hardware({ cpus, memoryBytes: 4 << 20, swapBytes: 0 });
  const pmap = Pmap.create(hw)!;
  for (const c of hw.cpus) pmap.activate(c);
  return { hw, pmap };
}

function enter(hw: Hardware, pmap: Pmap, va: number, prot: number, key = 0): number {
  const pfn = hw.mem.alloc(FRAME_ANON);
  const slot = pmap.ensurePteSlot(va);
  assert.ok(slot >= 0);
  pmap.enter(slot, va, pfn, prot, key, false);
  return pfn;
}

describe('Pmap', () => {
  it('enters translations the MMU follows, with the key in the PTE', () => {
    const { hw, pmap } = setup(1);
    const pfn = enter(hw, pmap, BASE, VM_PROT_READ | VM_PROT_WRITE, 5);
    assert.equal(hw.mmu.translate(hw.cpus[0], BASE, ACCESS_WRITE, true), pfn);
    assert.equal(pteKey(pmap.hi(pmap.pteSlot(BASE))), 5);
    assert.equal(pmap.resident, 1);
  });

  it('PROT_NONE keeps the frame under PROTNONE, not present', () => {
    const { hw, pmap } = setup(1);
    enter(hw, pmap, BASE, 0);
    const lo = pmap.lo(pmap.pteSlot(BASE));
    assert.equal(lo & PTE_P, 0);
    assert.equal(lo & PTE_PROTNONE, PTE_PROTNONE);
    assert.equal(pmap.resident, 1);
    assert.ok(isFault(hw.mmu.translate(hw.cpus[0], BASE, ACCESS_READ, true)));
  });

  it('protect() downgrades and shoots down the other CPU running this pmap', () => {
    const { hw, pmap } = setup(2);
    const [c0, c1] = hw.cpus;
    enter(hw, pmap, BASE, VM_PROT_READ | VM_PROT_WRITE);
    assert.ok(!isFault(hw.mmu.translate(c1, BASE, ACCESS_WRITE, true)));
    const changed = pmap.protect(c0, BASE, BASE + PAGE, () => VM_PROT_READ, 0);
    assert.equal(changed, 1);
    assert.equal(pmap.lo(pmap.pteSlot(BASE)) & PTE_RW, 0);
    assert.ok(isFault(hw.mmu.translate(c1, BASE, ACCESS_WRITE, true)), 'CPU 1 must not keep its writable entry');
    assert.equal(c0.counters.ipisSent, 1);
    assert.equal(c1.counters.ipisReceived, 1);
  });

  it('protect() that changes nothing flushes nothing', () => {
    const { hw, pmap } = setup(1);
    enter(hw, pmap, BASE, VM_PROT_READ);
    const before = hw.cpus[0].counters.flushes;
    assert.equal(pmap.protect(hw.cpus[0], BASE, BASE + PAGE, () => VM_PROT_READ, 0), 0);
    assert.equal(hw.cpus[0].counters.flushes, before);
  });

  it('flushes page by page up to the ceiling, then the whole PCID once', () => {
    const { hw, pmap } = setup(1);
    const c = hw.cpus[0];
    pmap.flushRange(c, BASE, BASE + FLUSH_CEILING_PAGES * PAGE);
    assert.equal(c.counters.flushes, FLUSH_CEILING_PAGES);
    assert.equal(c.counters.fullFlushes, 0);
    pmap.flushRange(c, BASE, BASE + (FLUSH_CEILING_PAGES + 1) * PAGE);
    assert.equal(c.counters.fullFlushes, 1);
  });

  it('remove() reports entries only after every TLB dropped them', () => {
    const { hw, pmap } = setup(2);
    const [c0, c1] = hw.cpus;
    const pfn = enter(hw, pmap, BASE, VM_PROT_READ);
    hw.mmu.translate(c1, BASE, ACCESS_READ, true);
    const seen: number[] = [];
    const n = pmap.remove(c0, BASE, BASE + PAGE, (va) => {
      // At release time no CPU may still translate the address.
      assert.ok(c1.tlb.entries().every((e) => e.va !== va));
      seen.push(va);
    });
    assert.equal(n, 1);
    assert.deepEqual(seen, [BASE]);
    assert.equal(pmap.resident, 0);
    assert.equal(hw.mem.refcount[pfn], 1, 'the pmap does not drop frame references itself');
  });

  it('freeEmptyTables() keeps a table a neighbour still needs, and frees empty upper levels', () => {
    const { hw, pmap } = setup(1);
    enter(hw, pmap, BASE, VM_PROT_READ);
    enter(hw, pmap, BASE + PAGE, VM_PROT_READ);
    pmap.remove(null, BASE, BASE + PAGE, () => {});
    const tables = pmap.tablesAllocated;
    assert.equal(pmap.freeEmptyTables(BASE, BASE + PAGE, 0, BASE + PAGE), 0, 'the table still maps the second page');
    pmap.remove(null, BASE + PAGE, BASE + 2 * PAGE, () => {});
    // With nothing else mapped, the PT, its PD and its PDPT all go (free_pmd/pud_range()).
    assert.equal(pmap.freeEmptyTables(BASE, BASE + 2 * PAGE, 0, Number.MAX_SAFE_INTEGER), 3);
    assert.equal(pmap.tablesAllocated, tables - 3);
    assert.equal(pmap.pteSlot(BASE), -1);
  });

  it('calls its extension at evict, map-delete and destroy (not at a plain remove), and takes keys from it', () => {
    const { hw, pmap } = setup(1);
    const calls: string[] = [];
    const ext: PmapExtension = {
      keyAt: (va) => (va === BASE ? 9 : -1),
      onRemove: (s, e) => calls.push(`remove ${(e - s) / PAGE}`),
      onMapDelete: (s, e) => calls.push(`mapDelete ${(e - s) / PAGE}`),
      copyTo: () => calls.push('copy'),
      onDestroy: () => calls.push('destroy'),
    };
    pmap.extension = ext;
    enter(hw, pmap, BASE, VM_PROT_READ, 2);
    enter(hw, pmap, BASE + PAGE, VM_PROT_READ, 2);
    assert.equal(pteKey(pmap.hi(pmap.pteSlot(BASE))), 9);
    assert.equal(pteKey(pmap.hi(pmap.pteSlot(BASE + PAGE))), 2);
    assert.equal(pmap.evict(null, BASE, BASE + PAGE), 1);
    pmap.remove(null, BASE, BASE + PAGE, () => {});
    pmap.mapDelete(null, BASE + PAGE, BASE + 2 * PAGE, () => {});
    pmap.destroy();
    assert.deepEqual(calls, ['remove 1', 'mapDelete 1', 'destroy']);
  });

  it('destroy() frees every table and unloads CR3 from the CPUs', () => {
    const { hw, pmap } = setup(2);
    enter(hw, pmap, BASE, VM_PROT_READ);
    pmap.remove(null, BASE, BASE + PAGE, () => {});
    const live = hw.tables.liveTables;
    assert.ok(live >= 4);
    pmap.destroy();
    assert.equal(hw.tables.liveTables, 0);
    assert.ok(hw.cpus.every((c) => c.cr3Table === -1));
  });
});

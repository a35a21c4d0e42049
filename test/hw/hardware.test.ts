import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Hardware } from '../../src/hw/hardware.js';
import { ACCESS_READ, ACCESS_WRITE } from '../../src/hw/mmu.js';
import { FRAME_ANON } from '../../src/hw/physMem.js';
import { PAGE_SIZE, PTE_P, PTE_RW, PTE_US, pteLo } from '../../src/hw/pte.js';

describe('Hardware', () => {
  it('builds memory, tables, an MMU, CPUs and a swap device of the requested sizes', () => {
    const hw = new Hardware({ cpus: 3, memoryBytes: 64 * PAGE_SIZE, swapBytes: 10 * PAGE_SIZE + 5, tlbEntries: 32 });
    assert.equal(hw.cpus.length, 3);
    assert.deepEqual(
      hw.cpus.map((c) => c.id),
      [0, 1, 2],
    );
    assert.equal(hw.cpus[0].tlb.mask, 31);
    assert.notEqual(hw.cpus[0].tlb, hw.cpus[1].tlb, 'one TLB per CPU');
    assert.equal(hw.mem.frameCount, 64);
    assert.equal(hw.swap.slots, 10);
    assert.equal(hw.mmu.mem, hw.mem);
    assert.equal(hw.mmu.tables, hw.tables);
    assert.equal(hw.pku, true, 'PKU by default');
  });

  it('defaults to 1024 TLB entries, and can leave PKU out', () => {
    const hw = new Hardware({ cpus: 1, memoryBytes: 16 * PAGE_SIZE, swapBytes: 0, pku: false });
    assert.equal(hw.cpus[0].tlb.mask, 1023);
    assert.equal(hw.swap.slots, 0);
    assert.equal(hw.pku, false);
  });

  it('rejects impossible CPU counts and memory sizes', () => {
    for (const cpus of [0, -1, 1.5, 257, Number.NaN]) {
      assert.throws(() => new Hardware({ cpus, memoryBytes: 64 * PAGE_SIZE, swapBytes: 0 }), RangeError, `cpus=${cpus}`);
    }
    assert.throws(() => new Hardware({ cpus: 1, memoryBytes: PAGE_SIZE, swapBytes: 0 }), RangeError);
    assert.throws(() => new Hardware({ cpus: 1, memoryBytes: 64 * PAGE_SIZE, swapBytes: 0, tlbEntries: 100 }), RangeError);
  });

  it('CPUs share page tables but cache translations separately', () => {
    const hw = new Hardware({ cpus: 2, memoryBytes: 64 * PAGE_SIZE, swapBytes: 0 });
    const [c0, c1] = hw.cpus;
    // Map va 0 by hand: PML4 -> PDPT -> PD -> PT -> frame.
    const levels = [hw.tables.alloc(4), hw.tables.alloc(3), hw.tables.alloc(2), hw.tables.alloc(1)];
    for (let i = 0; i < 3; i++) {
      hw.tables.link(levels[i] * 512, levels[i + 1], PTE_P | PTE_RW | PTE_US);
    }
    const a = hw.mem.alloc(FRAME_ANON);
    const b = hw.mem.alloc(FRAME_ANON);
    const pte = levels[3] * 512;
    hw.tables.lo[pte] = pteLo(a, PTE_P | PTE_RW | PTE_US);
    c0.cr3Table = levels[0];
    c1.cr3Table = levels[0];
    assert.equal(hw.mmu.translate(c0, 0, ACCESS_WRITE, true), a);
    hw.tables.lo[pte] = pteLo(b, PTE_P | PTE_RW | PTE_US); // remap, flush only CPU 1 (it has nothing cached)
    assert.equal(hw.mmu.translate(c1, 0, ACCESS_READ, true), b);
    assert.equal(hw.mmu.translate(c0, 0, ACCESS_READ, true), a, 'CPU 0 still holds the stale translation');
    c0.tlb.invalidatePage(0, c0.pcid);
    assert.equal(hw.mmu.translate(c0, 0, ACCESS_READ, true), b);
    assert.equal(c0.counters.walks, 2);
    assert.equal(c1.counters.walks, 1);
  });
});

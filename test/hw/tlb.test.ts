import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ACCESS_READ, ACCESS_WRITE, PF_P, PF_U, PF_W } from '../../src/hw/mmu.js';
import { PTE_A, PTE_D, PTE_G, PTE_P, PTE_RW, PTE_US } from '../../src/hw/pte.js';
import { GLOBAL_TAG, TAG_SCALE, TLB_D, TLB_G, TLB_HUGE, TLB_KEY_SHIFT, TLB_U, TLB_W, TLB_XD, Tlb } from '../../src/hw/tlb.js';
import { HUGE, assertFault, assertFrame, rig } from './_helpers.js';

const RWU = TLB_W | TLB_U | TLB_D;

describe('Tlb: construction', () => {
  it('requires power-of-two sizes', () => {
    assert.throws(() => new Tlb(100), RangeError);
    assert.throws(() => new Tlb(64, 3), RangeError);
    const t = new Tlb(64, 8);
    assert.equal(t.mask, 63);
    assert.equal(t.hugeMask, 7);
    assert.deepEqual(t.entries(), []);
  });

  it('leaves room for every 12-bit PCID and the global tag', () => {
    assert.equal(GLOBAL_TAG, 4096);
    assert.ok(TAG_SCALE > GLOBAL_TAG);
  });
});

describe('Tlb: fill and entries()', () => {
  it('decodes a 4 KiB entry', () => {
    const t = new Tlb(16, 4);
    t.fill(0x12345, 7, 99, TLB_W | TLB_U | TLB_XD | TLB_D | (11 << TLB_KEY_SHIFT), 42);
    assert.deepEqual(t.entries(), [
      { va: 0x12345 * 4096, pcid: 7, pfn: 99, writable: true, user: true, executeDisable: true, dirty: true, huge: false, key: 11, cr3Table: 42 },
    ]);
  });

  it('decodes a global entry without a PCID', () => {
    const t = new Tlb(16, 4);
    t.fill(3, 7, 5, TLB_G);
    const [e] = t.entries();
    assert.equal(e.pcid, undefined);
    assert.equal(e.va, 3 * 4096);
  });

  it('decodes a 2 MiB entry', () => {
    const t = new Tlb(16, 4);
    t.fillHuge(5, 2, 512 * 3, TLB_U);
    const [e] = t.entries();
    assert.equal(e.va, 5 * HUGE);
    assert.equal(e.huge, true);
    assert.equal(e.pfn, 512 * 3);
    assert.equal(e.pcid, 2);
    assert.equal(e.writable, false);
    assert.equal(t.hugeAttr[5 & t.hugeMask] & TLB_HUGE, TLB_HUGE, 'marked huge in the attribute word');
  });

  it('lists entries by address', () => {
    const t = new Tlb(16, 4);
    t.fill(9, 0, 1, 0);
    t.fill(2, 0, 2, 0);
    t.fillHuge(1, 0, 512, 0);
    assert.deepEqual(
      t.entries().map((e) => e.va),
      [2 * 4096, 9 * 4096, HUGE],
    );
  });

  it('is direct-mapped: a fill evicts the entry sharing its slot', () => {
    const t = new Tlb(16, 4);
    t.fill(1, 0, 10, RWU);
    t.fill(1 + 16, 0, 20, RWU);
    const es = t.entries();
    assert.equal(es.length, 1);
    assert.equal(es[0].va, 17 * 4096);
    assert.equal(es[0].pfn, 20);
    t.fillHuge(0, 0, 512, 0);
    t.fillHuge(4, 0, 1024, 0);
    assert.deepEqual(
      t.entries().map((e) => [e.va, e.pfn]),
      [
        [17 * 4096, 20],
        [4 * HUGE, 1024],
      ],
    );
  });

  it('the same page under another PCID shares the slot too', () => {
    const t = new Tlb(16, 4);
    t.fill(5, 1, 10, 0);
    t.fill(5, 2, 20, 0);
    assert.deepEqual(
      t.entries().map((e) => [e.pcid, e.pfn]),
      [[2, 20]],
    );
  });
});

describe('Tlb: invalidation', () => {
  it('invalidatePage drops the page of that PCID only', () => {
    const t = new Tlb(16, 4);
    t.fill(5, 1, 10, 0);
    t.invalidatePage(5, 2);
    assert.equal(t.entries().length, 1, 'another PCID’s INVLPG leaves it');
    t.invalidatePage(5 + 16, 1);
    assert.equal(t.entries().length, 1, 'another page in the same slot leaves it');
    t.invalidatePage(5, 1);
    assert.equal(t.entries().length, 0);
  });

  it('invalidatePage drops a global entry whatever the PCID', () => {
    const t = new Tlb(16, 4);
    t.fill(5, 1, 10, TLB_G);
    t.invalidatePage(5, 3);
    assert.equal(t.entries().length, 0);
  });

  it('invalidatePage drops the 2 MiB entry covering the page', () => {
    const t = new Tlb(16, 4);
    t.fillHuge(2, 0, 1024, 0);
    t.fillHuge(3, 0, 1536, TLB_G);
    t.invalidatePage(2 * 512 + 100, 0);
    t.invalidatePage(3 * 512 + 511, 9);
    assert.deepEqual(t.entries(), []);
  });

  it('invalidatePage leaves other pages and other huge pages', () => {
    const t = new Tlb(16, 4);
    t.fill(1, 0, 10, 0);
    t.fill(2, 0, 11, 0);
    t.fillHuge(1, 0, 512, 0);
    t.invalidatePage(2, 0);
    assert.deepEqual(
      t.entries().map((e) => e.pfn),
      [10, 512],
    );
  });

  it('invalidatePcid drops that PCID’s entries, keeping other PCIDs and globals', () => {
    const t = new Tlb(16, 4);
    t.fill(1, 1, 10, 0);
    t.fill(2, 2, 20, 0);
    t.fill(3, 1, 30, TLB_G);
    t.fill(4, 1, 40, 0);
    t.fillHuge(0, 1, 512, 0);
    t.fillHuge(1, 2, 1024, 0);
    t.fillHuge(2, 1, 1536, TLB_G);
    t.invalidatePcid(1);
    assert.deepEqual(
      t.entries().map((e) => e.pfn),
      [20, 30, 1024, 1536],
    );
  });

  it('invalidatePcid(0) is not confused by PCID 0 tags or page 0', () => {
    const t = new Tlb(16, 4);
    t.fill(0, 0, 10, 0);
    t.fill(1, 4095, 11, 0);
    t.fill(2, 0, 12, TLB_G);
    t.invalidatePcid(0);
    assert.deepEqual(
      t.entries().map((e) => e.pfn),
      [11, 12],
    );
  });

  it('invalidateAll(false) keeps globals; invalidateAll(true) drops everything', () => {
    const t = new Tlb(16, 4);
    t.fill(1, 1, 10, 0);
    t.fill(2, 2, 20, TLB_G);
    t.fillHuge(0, 3, 512, 0);
    t.fillHuge(1, 3, 1024, TLB_G);
    t.invalidateAll(false);
    assert.deepEqual(
      t.entries().map((e) => e.pfn),
      [20, 1024],
    );
    t.invalidateAll(true);
    assert.deepEqual(t.entries(), []);
  });
});

describe('Tlb through the MMU', () => {
  it('a walk fills the entry; the next access hits it', () => {
    const r = rig();
    const data = r.frame();
    r.map(0x1000, data, PTE_P | PTE_RW | PTE_US);
    assertFrame(r.access(0x1000, ACCESS_READ, true), data);
    const [e] = r.cpu.tlb.entries();
    assert.deepEqual(e, { va: 0x1000, pcid: 0, pfn: data, writable: true, user: true, executeDisable: false, dirty: false, huge: false, key: 0, cr3Table: r.cpu.cr3Table });
    const walks = r.cpu.counters.walks;
    assertFrame(r.access(0x1abc, ACCESS_READ, true), data);
    assert.equal(r.cpu.counters.walks, walks);
    assert.equal(r.cpu.counters.tlbHits, 1);
  });

  it('caches rights as the AND of every level, the key and G', () => {
    const r = rig();
    const data = r.frame();
    r.map(0x5000, data, PTE_P | PTE_RW | PTE_US | PTE_G, { key: 6, xd: true });
    const path = r.path(0x5000);
    r.clearBits(path.l3, PTE_RW);
    r.cpu.ac = true;
    assertFrame(r.access(0x5000, ACCESS_READ, false), data);
    const [e] = r.cpu.tlb.entries();
    assert.equal(e.writable, false);
    assert.equal(e.user, true);
    assert.equal(e.executeDisable, true);
    assert.equal(e.key, 6);
    assert.equal(e.pcid, undefined, 'global');
  });

  it('a stale entry keeps translating after the PTE changes, until invalidatePage', () => {
    const r = rig();
    const a = r.frame();
    const b = r.frame();
    const pte = r.map(0x3000, a, PTE_P | PTE_RW | PTE_US);
    assertFrame(r.access(0x3000, ACCESS_READ, true), a);
    r.tables.lo[pte] = 0;
    r.tables.hi[pte] = 0;
    assertFrame(r.access(0x3000, ACCESS_READ, true), a, 'stale after unmap: that is the modelled hardware');
    r.map(0x3000, b, PTE_P | PTE_RW | PTE_US);
    assertFrame(r.access(0x3000, ACCESS_READ, true), a, 'stale after remap');
    r.cpu.tlb.invalidatePage(3, r.cpu.pcid);
    assertFrame(r.access(0x3000, ACCESS_READ, true), b);
  });

  it('a global entry survives a PCID switch and invalidatePcid, not invalidateAll(true)', () => {
    const r = rig();
    const k = r.frame();
    const other = r.frame();
    r.map(0x7000, k, PTE_P | PTE_RW | PTE_G);
    assertFrame(r.access(0x7000, ACCESS_READ, false), k);
    // Another address space maps the same page elsewhere; the global entry wins until flushed.
    const root2 = r.newRoot();
    r.map(0x7000, other, PTE_P | PTE_RW, {}, root2);
    r.cpu.cr3Table = root2;
    r.cpu.pcid = 5;
    r.cpu.tlb.invalidatePcid(5);
    assertFrame(r.access(0x7000, ACCESS_READ, false), k);
    r.cpu.tlb.invalidateAll(false);
    assertFrame(r.access(0x7000, ACCESS_READ, false), k);
    r.cpu.tlb.invalidateAll(true);
    assertFrame(r.access(0x7000, ACCESS_READ, false), other);
  });

  it('a PCID-tagged entry is not used under another PCID', () => {
    const r = rig();
    const a = r.frame();
    const b = r.frame();
    r.map(0x9000, a, PTE_P | PTE_RW | PTE_US);
    const root2 = r.newRoot();
    r.map(0x9000, b, PTE_P | PTE_RW | PTE_US, {}, root2);
    r.cpu.pcid = 1;
    assertFrame(r.access(0x9000, ACCESS_READ, true), a);
    r.cpu.cr3Table = root2;
    r.cpu.pcid = 2;
    assertFrame(r.access(0x9000, ACCESS_READ, true), b);
    assertFrame(r.access(0x9000, ACCESS_WRITE, true), b);
    // Back to PCID 1 without a flush: no stale mixing, and the walk refills.
    r.cpu.cr3Table = r.root;
    r.cpu.pcid = 1;
    assertFrame(r.access(0x9000, ACCESS_READ, true), a);
  });

  it('invalidatePcid of another PCID keeps this one’s stale entry', () => {
    const r = rig();
    const a = r.frame();
    const pte = r.map(0x2000, a, PTE_P | PTE_RW | PTE_US);
    r.cpu.pcid = 3;
    assertFrame(r.access(0x2000, ACCESS_WRITE, true), a);
    r.tables.lo[pte] = 0;
    r.cpu.tlb.invalidatePcid(4);
    assertFrame(r.access(0x2000, ACCESS_WRITE, true), a);
    r.cpu.tlb.invalidatePcid(3);
    assertFault(r.access(0x2000, ACCESS_WRITE, true), PF_W | PF_U);
  });

  it('conflicting fills evict: the evicted page walks again and sees the new PTE', () => {
    const r = rig(128, 16);
    const a = r.frame();
    const b = r.frame();
    const c = r.frame();
    r.map(0x1000, a, PTE_P | PTE_US);
    r.map(0x11000, b, PTE_P | PTE_US); // vpn 0x11 shares slot 1 in a 16-entry TLB
    assertFrame(r.access(0x1000, ACCESS_READ, true), a);
    assertFrame(r.access(0x11000, ACCESS_READ, true), b);
    assert.equal(r.cpu.tlb.entries().length, 1);
    r.map(0x1000, c, PTE_P | PTE_US);
    const walks = r.cpu.counters.walks;
    assertFrame(r.access(0x1000, ACCESS_READ, true), c, 'evicted, so no stale translation');
    assert.equal(r.cpu.counters.walks, walks + 1);
  });

  it('a huge translation and its invalidation by any 4 KiB page inside it', () => {
    const r = rig(2048);
    const base = 1024; // 2 MiB aligned frame number
    r.mapHuge(HUGE * 3, base, PTE_P | PTE_RW | PTE_US);
    assertFrame(r.access(HUGE * 3 + 0x5000, ACCESS_READ, true), base + 5);
    const es = r.cpu.tlb.entries();
    assert.equal(es.length, 1);
    assert.equal(es[0].huge, true);
    assert.equal(es[0].va, HUGE * 3);
    r.cpu.tlb.invalidatePage((HUGE * 3) / 4096 + 300, 0);
    assert.deepEqual(r.cpu.tlb.entries(), []);
  });

  it('a write through a read-only stale entry faults once, then the walk sees the new rights', () => {
    const r = rig();
    const a = r.frame();
    const pte = r.map(0x4000, a, PTE_P | PTE_US);
    assertFrame(r.access(0x4000, ACCESS_READ, true), a);
    r.setBits(pte, PTE_RW);
    assertFault(r.access(0x4000, ACCESS_WRITE, true), PF_P | PF_W | PF_U);
    assert.deepEqual(r.cpu.tlb.entries(), [], 'the fault dropped the entry');
    assertFrame(r.access(0x4000, ACCESS_WRITE, true), a);
    assert.equal(r.tables.lo[pte] & (PTE_A | PTE_D), PTE_A | PTE_D);
  });
});

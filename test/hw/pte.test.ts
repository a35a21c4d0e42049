import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  filePteHi,
  filePteLo,
  filePteOffset,
  filePteProt,
  PTE_FILE_MAX_BITS,
  pteIsFile,
  ENTRIES_PER_TABLE,
  HUGE_PAGE_SIZE,
  PAGE_SHIFT,
  PAGE_SIZE,
  PTE_A,
  PTE_D,
  PTE_FILE,
  PTE_G,
  PTE_HI_KEY_MASK,
  PTE_HI_KEY_SHIFT,
  PTE_HI_PFN_MASK,
  PTE_HI_XD,
  PTE_LO_PFN_MASK,
  PTE_P,
  PTE_PCD,
  PTE_PROTNONE,
  PTE_PS,
  PTE_PWT,
  PTE_RW,
  PTE_SWAP,
  PTE_US,
  SWAP_OFFSET_BITS,
  describePte,
  pteHi,
  pteIsSwap,
  pteKey,
  pteLo,
  pteMapsFrame,
  pteNone,
  ptePfn,
  swapPteHi,
  swapPteLo,
  swapPteOffset,
  swapPteType,
} from '../../src/hw/pte.js';

/** Largest PFN the 40-bit field (entry bits 12..51) holds. */
const MAX_PFN = 2 ** 40 - 1;
const MAX_SWAP_OFFSET = 2 ** 45 - 1;

describe('pte: bit layout (SDM vol. 3A table 4-19)', () => {
  it('puts the flag bits where the SDM does', () => {
    assert.equal(PTE_P, 1);
    assert.equal(PTE_RW, 2);
    assert.equal(PTE_US, 4);
    assert.equal(PTE_PWT, 8);
    assert.equal(PTE_PCD, 0x10);
    assert.equal(PTE_A, 0x20);
    assert.equal(PTE_D, 0x40);
    assert.equal(PTE_PS, 0x80);
    assert.equal(PTE_G, 0x100);
  });

  it('puts PFN, key and XD in entry bits 12..51, 59..62 and 63', () => {
    assert.equal(PTE_LO_PFN_MASK >>> 0, 0xfffff000);
    assert.equal(PTE_HI_PFN_MASK, 0xfffff);
    // Entry bit 59 is bit 27 of the high word.
    assert.equal(PTE_HI_KEY_SHIFT, 59 - 32);
    assert.equal(PTE_HI_KEY_MASK >>> 0, 0x78000000);
    assert.equal(PTE_HI_XD, 0x80000000);
    // The fields do not overlap.
    assert.equal(PTE_HI_PFN_MASK & (PTE_HI_KEY_MASK >>> 0), 0);
    assert.equal((PTE_HI_KEY_MASK >>> 0) & PTE_HI_XD, 0);
  });

  it('has software bits that overlap hardware ones only where P is clear', () => {
    assert.equal(PTE_PROTNONE, PTE_G);
    assert.equal(PTE_SWAP, PTE_RW);
    assert.equal(PTE_FILE, PTE_US);
  });

  it('has the x86-64 page geometry', () => {
    assert.equal(PAGE_SIZE, 1 << PAGE_SHIFT);
    assert.equal(ENTRIES_PER_TABLE, 512);
    assert.equal(HUGE_PAGE_SIZE, PAGE_SIZE * ENTRIES_PER_TABLE);
    assert.equal(SWAP_OFFSET_BITS, 45);
  });
});

describe('pte: PFN, key and XD round trips', () => {
  const pfns = [0, 1, 2, 0xfff, 0x7ffff, 0xfffff, 0x100000, 0x100001, 0x123456, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 39 + 5, MAX_PFN];

  for (const pfn of pfns) {
    it(`keeps PFN 0x${pfn.toString(16)}`, () => {
      const lo = pteLo(pfn, PTE_P | PTE_RW);
      const hi = pteHi(pfn, 0, false);
      assert.equal(ptePfn(lo, hi), pfn);
      assert.ok(lo >= 0 && lo <= 0xffffffff && Number.isInteger(lo), 'lo is an unsigned 32-bit value');
      assert.ok(hi >= 0 && hi <= 0xffffffff && Number.isInteger(hi), 'hi is an unsigned 32-bit value');
      assert.equal(lo & 0xfff, PTE_P | PTE_RW, 'flags untouched by the PFN');
      assert.equal(hi & ~PTE_HI_PFN_MASK, 0, 'PFN does not leak into key or XD');
    });
  }

  it('splits PFNs above 2^20 between the halves', () => {
    const pfn = 0x12345678;
    assert.equal(pteLo(pfn, 0), 0x45678000);
    assert.equal(pteHi(pfn, 0, false), 0x123);
  });

  it('keeps all twelve flag bits and drops anything above them', () => {
    assert.equal(pteLo(5, 0xfff) & 0xfff, 0xfff);
    assert.equal(ptePfn(pteLo(5, 0xfff), 0), 5);
    assert.equal(pteLo(5, 0x1000 | PTE_P), pteLo(5, PTE_P), 'a flag word with PFN bits cannot change the PFN');
  });

  for (let key = 0; key < 16; key++) {
    it(`keeps protection key ${key} next to XD and the largest PFN`, () => {
      for (const xd of [false, true]) {
        const hi = pteHi(MAX_PFN, key, xd);
        assert.equal(pteKey(hi), key);
        assert.equal((hi & PTE_HI_XD) !== 0, xd);
        assert.equal(ptePfn(pteLo(MAX_PFN, 0), hi), MAX_PFN);
      }
    });
  }

  it('round-trips every PFN, flag word, key and XD (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: MAX_PFN }),
        fc.integer({ min: 0, max: 0xfff }),
        fc.integer({ min: 0, max: 15 }),
        fc.boolean(),
        (pfn, flags, key, xd) => {
          const lo = pteLo(pfn, flags);
          const hi = pteHi(pfn, key, xd);
          assert.equal(ptePfn(lo, hi), pfn);
          assert.equal(lo & 0xfff, flags);
          assert.equal(pteKey(hi), key);
          assert.equal((hi & PTE_HI_XD) !== 0, xd);
          assert.ok(lo >= 0 && hi >= 0);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('pte: entry classes', () => {
  it('pte_none is all zero, and only that', () => {
    assert.ok(pteNone(0, 0));
    assert.ok(!pteNone(0, 1), 'a bit in the high word alone is not none');
    assert.ok(!pteNone(PTE_A, 0));
    assert.ok(!pteNone(swapPteLo(0, 0), swapPteHi(0)), 'swap slot 0 of type 0 is not none');
  });

  it('a present entry and a PROT_NONE entry both map a frame; swap and none do not', () => {
    assert.ok(pteMapsFrame(pteLo(7, PTE_P)));
    assert.ok(pteMapsFrame(pteLo(7, PTE_PROTNONE | PTE_A)));
    assert.ok(!pteMapsFrame(0));
    assert.ok(!pteMapsFrame(swapPteLo(31, MAX_SWAP_OFFSET)));
    assert.ok(!pteMapsFrame(PTE_FILE));
  });

  it('recognizes swap entries and nothing else as swap', () => {
    assert.ok(pteIsSwap(swapPteLo(0, 0)));
    assert.ok(!pteIsSwap(0));
    assert.ok(!pteIsSwap(pteLo(1, PTE_P | PTE_RW)), 'a present writable entry (RW shares the SWAP bit)');
    assert.ok(!pteIsSwap(pteLo(1, PTE_PROTNONE | PTE_RW)), 'a PROT_NONE entry with RW');
    assert.ok(!pteIsSwap(PTE_FILE));
  });

  it('keeps the PFN and key of a PROT_NONE entry', () => {
    const lo = pteLo(0x1abcde, PTE_PROTNONE | PTE_RW | PTE_US);
    const hi = pteHi(0x1abcde, 9, true);
    assert.equal(lo & PTE_P, 0);
    assert.equal(ptePfn(lo, hi), 0x1abcde);
    assert.equal(pteKey(hi), 9);
  });
});

describe('pte: swap entries', () => {
  const offsets = [0, 1, 2 ** 14 - 1, 2 ** 18 - 1, 2 ** 18, 2 ** 18 + 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 40 + 12345, MAX_SWAP_OFFSET - 1, MAX_SWAP_OFFSET];

  for (const offset of offsets) {
    it(`round-trips offset 0x${offset.toString(16)} with every type`, () => {
      for (let type = 0; type < 32; type++) {
        const lo = swapPteLo(type, offset);
        const hi = swapPteHi(offset);
        assert.equal(swapPteType(lo), type);
        assert.equal(swapPteOffset(lo, hi), offset);
        assert.ok(pteIsSwap(lo));
        assert.ok(!pteNone(lo, hi));
        assert.equal(lo & PTE_P, 0, 'never present');
        assert.equal(lo & PTE_PROTNONE, 0, 'never PROT_NONE');
        assert.equal(hi & (PTE_HI_XD | (PTE_HI_KEY_MASK >>> 0)), 0, 'the offset stays out of the key and XD bits');
        assert.ok(lo >= 0 && lo <= 0xffffffff && hi >= 0 && hi <= 0xffffffff);
      }
    });
  }

  it('round-trips any type and 45-bit offset (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 31 }), fc.integer({ min: 0, max: MAX_SWAP_OFFSET }), (type, offset) => {
        const lo = swapPteLo(type, offset);
        const hi = swapPteHi(offset);
        assert.equal(swapPteType(lo), type);
        assert.equal(swapPteOffset(lo, hi), offset);
        assert.ok(pteIsSwap(lo) && !pteMapsFrame(lo));
      }),
      { numRuns: 500 },
    );
  });

  it('distinguishes neighbouring offsets and types', () => {
    const a = [swapPteLo(1, 2 ** 18 - 1), swapPteHi(2 ** 18 - 1)];
    const b = [swapPteLo(1, 2 ** 18), swapPteHi(2 ** 18)];
    assert.notDeepEqual(a, b);
    assert.notEqual(swapPteLo(1, 5), swapPteLo(2, 5));
  });
});

describe('pte: describePte', () => {
  it('names none, swap and software entries', () => {
    assert.equal(describePte(0, 0), 'none');
    assert.equal(describePte(swapPteLo(3, 2 ** 40), swapPteHi(2 ** 40)), `swap type=3 offset=${2 ** 40}`);
    assert.equal(describePte(filePteLo(0x123456, 5), filePteHi(0x123456)), 'file pgoff=0x123456 prot=r-x');
    assert.match(describePte(PTE_PWT, 0x12), /^software 0x12_00000008$/);
  });

  it('encodes file entries with PTE_FILE_MAX_BITS of offset and a protection', () => {
    for (const pgoff of [0, 1, 0xfffff, 0x100000, 2 ** PTE_FILE_MAX_BITS - 1]) {
      for (const prot of [0, 1, 3, 7]) {
        const lo = filePteLo(pgoff, prot);
        const hi = filePteHi(pgoff);
        assert.ok(pteIsFile(lo) && !pteIsSwap(lo) && !pteMapsFrame(lo) && !pteNone(lo, hi));
        assert.equal(filePteOffset(lo, hi), pgoff);
        assert.equal(filePteProt(lo), prot);
      }
    }
    assert.ok(!pteIsFile(swapPteLo(0, 7)) && !pteIsFile(0));
  });

  it('lists the flags, key and XD of a present entry', () => {
    const lo = pteLo(0x1234, PTE_P | PTE_RW | PTE_US | PTE_PWT | PTE_PCD | PTE_A | PTE_D | PTE_PS | PTE_G);
    const hi = pteHi(0x1234, 4, true);
    assert.equal(describePte(lo, hi), 'pfn=0x1234 P RW US PWT PCD A D PS G XD key=4');
    assert.equal(describePte(pteLo(0x2, PTE_P), pteHi(0x2, 0, false)), 'pfn=0x2 P');
  });

  it('shows bit 8 as PROTNONE, not G, when P is clear', () => {
    const lo = pteLo(0x10, PTE_PROTNONE | PTE_A);
    assert.equal(describePte(lo, 0), 'pfn=0x10 PROTNONE A');
  });
});

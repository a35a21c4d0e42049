import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  ACCESS_FETCH,
  ACCESS_READ,
  ACCESS_WRITE,
  PF_I,
  PF_P,
  PF_PK,
  PF_RSVD,
  PF_U,
  PF_W,
  describeErrorCode,
  faultErrorCode,
  isFault,
  type AccessKind,
  type WalkResult,
} from '../../src/hw/mmu.js';
import { FRAME_ANON } from '../../src/hw/physMem.js';
import { PTE_A, PTE_D, PTE_G, PTE_HI_XD, PTE_P, PTE_PROTNONE, PTE_RW, PTE_US, pteHi, pteLo, ptePfn, swapPteHi, swapPteLo } from '../../src/hw/pte.js';
import { HUGE, assertFault, assertFrame, indices, rig, type Rig } from './_helpers.js';

const URW = PTE_P | PTE_RW | PTE_US;
const UR = PTE_P | PTE_US;
const KRW = PTE_P | PTE_RW;
const KR = PTE_P;

const ACCESSES: ReadonlyArray<[AccessKind, string]> = [
  [ACCESS_READ, 'read'],
  [ACCESS_WRITE, 'write'],
  [ACCESS_FETCH, 'fetch'],
];

/** Error code bits that describe the access itself (W, U, I). */
function accessBits(access: AccessKind, user: boolean): number {
  return (access === ACCESS_WRITE ? PF_W : 0) | (user ? PF_U : 0) | (access === ACCESS_FETCH ? PF_I : 0);
}

/** PKRU/PKRS value with access-disable and/or write-disable for `key`. */
function keyBits(key: number, ad: boolean, wd: boolean): number {
  return (((ad ? 1 : 0) | (wd ? 2 : 0)) << (2 * key)) >>> 0;
}

function emptyWalk(): WalkResult {
  return { slot: -1, level: 0, present: false, writable: false, user: false, executeDisable: false };
}

const VA = 0x40_1000;

/** A rig with one page at VA mapped to a fresh frame with leaf `flags`. */
function one(flags: number, opts: { key?: number; xd?: boolean } = {}): { r: Rig; pfn: number; pte: number } {
  const r = rig();
  const pfn = r.frame();
  const pte = r.map(VA, pfn, flags, opts);
  return { r, pfn, pte };
}

describe('mmu: fault results', () => {
  it('encodes a fault as -1 - errorCode', () => {
    assert.ok(isFault(-1));
    assert.ok(!isFault(0));
    assert.ok(!isFault(7));
    for (const ec of [0, PF_P, PF_P | PF_W | PF_U | PF_RSVD | PF_I | PF_PK]) assert.equal(faultErrorCode(-1 - ec), ec);
  });

  it('uses the SDM error-code bit positions', () => {
    assert.deepEqual([PF_P, PF_W, PF_U, PF_RSVD, PF_I, PF_PK], [1, 2, 4, 8, 16, 32]);
  });

  it('describes error codes', () => {
    assert.equal(describeErrorCode(0), '0');
    assert.equal(describeErrorCode(PF_P | PF_W | PF_U | PF_PK), 'P|W|U|PK');
    assert.equal(describeErrorCode(PF_RSVD | PF_I), 'RSVD|I');
  });
});

describe('mmu: not-present faults', () => {
  for (const [access, name] of ACCESSES) {
    for (const user of [false, true]) {
      const ec = accessBits(access, user);
      it(`${user ? 'user' : 'supervisor'} ${name}: error code ${describeErrorCode(ec)} at every level`, () => {
        // No CR3 at all.
        const idle = rig();
        idle.cpu.cr3Table = -1;
        assertFault(idle.access(VA, access, user), ec, 'no CR3');
        // Empty PML4, then a missing entry at each lower level.
        for (const level of ['l4', 'l3', 'l2', 'l1'] as const) {
          const { r } = one(URW);
          r.clearBits(r.path(VA)[level], PTE_P);
          assertFault(r.access(VA + 0x123, access, user), ec, `P clear at ${level}`);
          assert.equal(r.cpu.cr2, VA + 0x123, 'CR2 holds the faulting address');
        }
      });
    }
  }

  it('a swap entry, a PROT_NONE entry and pte_none are all not present', () => {
    const { r, pte } = one(URW);
    for (const [lo, hi] of [
      [0, 0],
      [swapPteLo(3, 12345), swapPteHi(12345)],
      [pteLo(5, PTE_PROTNONE | PTE_RW | PTE_US | PTE_A), pteHi(5, 0, false)],
    ] as const) {
      r.tables.lo[pte] = lo;
      r.tables.hi[pte] = hi;
      assertFault(r.access(VA, ACCESS_WRITE, true), PF_W | PF_U);
    }
  });

  it('counts a page fault per fault and leaves the TLB empty', () => {
    const r = rig();
    assertFault(r.access(VA, ACCESS_READ, true), PF_U);
    assertFault(r.access(VA, ACCESS_READ, true), PF_U);
    assert.equal(r.cpu.counters.pageFaults, 2);
    assert.deepEqual(r.cpu.tlb.entries(), []);
  });
});

describe('mmu: user and supervisor pages', () => {
  it('user accesses to a supervisor page fault with P and U', () => {
    const { r } = one(KRW);
    assertFault(r.access(VA, ACCESS_READ, true), PF_P | PF_U);
    assertFault(r.access(VA, ACCESS_WRITE, true), PF_P | PF_W | PF_U);
    assertFault(r.access(VA, ACCESS_FETCH, true), PF_P | PF_U | PF_I);
  });

  it('supervisor accesses to a supervisor page succeed', () => {
    const { r, pfn } = one(KRW);
    assertFrame(r.access(VA, ACCESS_READ, false), pfn);
    assertFrame(r.access(VA, ACCESS_WRITE, false), pfn);
    assertFrame(r.access(VA, ACCESS_FETCH, false), pfn);
  });

  for (const level of ['l4', 'l3', 'l2'] as const) {
    it(`US clear at ${level} makes the page supervisor-only`, () => {
      const { r, pfn } = one(URW);
      r.clearBits(r.path(VA)[level], PTE_US);
      assertFault(r.access(VA, ACCESS_READ, true), PF_P | PF_U);
      assertFrame(r.access(VA, ACCESS_READ, false), pfn, 'not a user page, so SMAP does not apply');
    });

    it(`RW clear at ${level} makes the page read-only`, () => {
      const { r, pfn } = one(URW);
      r.clearBits(r.path(VA)[level], PTE_RW);
      assertFrame(r.access(VA, ACCESS_READ, true), pfn);
      assertFault(r.access(VA, ACCESS_WRITE, true), PF_P | PF_W | PF_U);
    });
  }

  it('a user write to a read-only page faults with P, W and U; reads and fetches succeed', () => {
    const { r, pfn } = one(UR);
    assertFault(r.access(VA, ACCESS_WRITE, true), PF_P | PF_W | PF_U);
    assertFrame(r.access(VA, ACCESS_READ, true), pfn);
    assertFrame(r.access(VA, ACCESS_FETCH, true), pfn);
  });
});

describe('mmu: CR0.WP', () => {
  it('WP=1: a supervisor write to a read-only supervisor page faults with P and W', () => {
    const { r, pte } = one(KR);
    assertFault(r.access(VA, ACCESS_WRITE, false), PF_P | PF_W);
    assert.equal(r.tables.lo[pte] & PTE_D, 0, 'a refused write does not dirty the page');
  });

  it('WP=0: a supervisor write to a read-only supervisor page succeeds and sets D', () => {
    const { r, pfn, pte } = one(KR);
    r.cpu.wp = false;
    assertFrame(r.access(VA, ACCESS_WRITE, false), pfn);
    assert.equal(r.tables.lo[pte] & (PTE_A | PTE_D), PTE_A | PTE_D);
  });

  it('WP applies to read-only user pages reached with EFLAGS.AC', () => {
    const { r, pfn } = one(UR);
    r.cpu.ac = true;
    assertFault(r.access(VA, ACCESS_WRITE, false), PF_P | PF_W);
    r.cpu.wp = false;
    assertFrame(r.access(VA, ACCESS_WRITE, false), pfn);
  });

  it('WP=0 does not let user writes through', () => {
    const { r } = one(UR);
    r.cpu.wp = false;
    assertFault(r.access(VA, ACCESS_WRITE, true), PF_P | PF_W | PF_U);
  });

  // Fixed: a write through a cached entry with D clear must walk
  // to set D (SDM §4.8), but the re-walk is only taken when the entry is writable; a
  // supervisor write with WP=0 through a clean read-only entry is allowed without setting D.
  it('WP=0: a supervisor write through a clean, read-only cached entry sets D', () => {
    const { r, pfn, pte } = one(KR);
    r.cpu.wp = false;
    assertFrame(r.access(VA, ACCESS_READ, false), pfn); // caches the translation clean
    assertFrame(r.access(VA, ACCESS_WRITE, false), pfn);
    assert.equal(r.tables.lo[pte] & PTE_D, PTE_D, 'the written page must be dirty in its PTE');
  });
});

describe('mmu: execute-disable', () => {
  it('a fetch from an XD page faults with I (user: P|U|I, supervisor: P|I)', () => {
    const { r, pfn } = one(URW, { xd: true });
    assertFault(r.access(VA, ACCESS_FETCH, true), PF_P | PF_U | PF_I);
    r.cpu.smep = false;
    assertFault(r.access(VA, ACCESS_FETCH, false), PF_P | PF_I);
    assertFrame(r.access(VA, ACCESS_READ, true), pfn, 'XD does not restrict data');
    assertFrame(r.access(VA, ACCESS_WRITE, true), pfn);
  });

  for (const level of ['l4', 'l3', 'l2'] as const) {
    it(`XD at ${level} forbids fetches from the whole range`, () => {
      const { r } = one(KRW);
      const s = r.path(VA)[level];
      r.tables.hi[s] = (r.tables.hi[s] | PTE_HI_XD) >>> 0;
      assertFault(r.access(VA, ACCESS_FETCH, false), PF_P | PF_I);
    });
  }
});

describe('mmu: SMEP', () => {
  it('a supervisor fetch from a user page faults with P|I when SMEP is on', () => {
    const { r, pfn } = one(URW);
    assertFault(r.access(VA, ACCESS_FETCH, false), PF_P | PF_I);
    r.cpu.smep = false;
    assertFrame(r.access(VA, ACCESS_FETCH, false), pfn);
  });

  it('does not depend on EFLAGS.AC and does not touch supervisor pages', () => {
    const user = one(UR);
    user.r.cpu.ac = true;
    assertFault(user.r.access(VA, ACCESS_FETCH, false), PF_P | PF_I);
    const sup = one(KR);
    assertFrame(sup.r.access(VA, ACCESS_FETCH, false), sup.pfn);
  });
});

describe('mmu: SMAP', () => {
  it('a supervisor write to a user page faults with P|W while EFLAGS.AC is clear', () => {
    const { r, pfn } = one(URW);
    assertFault(r.access(VA, ACCESS_WRITE, false), PF_P | PF_W);
    r.cpu.ac = true; // STAC
    assertFrame(r.access(VA, ACCESS_WRITE, false), pfn);
    r.cpu.ac = false; // CLAC, no flush needed: the check is made at access time
    assertFault(r.access(VA, ACCESS_WRITE, false), PF_P | PF_W, 'through the cached entry');
  });

  // Fixed: a denied access whose error code has
  // none of W, U, I, PK -- a supervisor data *read* -- makes check() return 0, which both
  // callers (translateSlow line 128, walk line 193) take for "allowed". So SMAP never
  // stops a supervisor read of a user page, neither on a walk nor through the TLB.
  it('a supervisor read of a user page faults with P while EFLAGS.AC is clear', () => {
    const { r, pfn } = one(URW);
    assertFault(r.access(VA, ACCESS_READ, false), PF_P, 'on a walk');
    r.cpu.ac = true;
    assertFrame(r.access(VA, ACCESS_READ, false), pfn);
    r.cpu.ac = false;
    assertFault(r.access(VA, ACCESS_READ, false), PF_P, 'through the cached entry');
  });

  it('is off when CR4.SMAP is clear', () => {
    const { r, pfn } = one(URW);
    r.cpu.smap = false;
    assertFrame(r.access(VA, ACCESS_READ, false), pfn);
    assertFrame(r.access(VA, ACCESS_WRITE, false), pfn);
  });

  it('does not govern fetches (SMEP does) or supervisor pages', () => {
    const user = one(URW);
    user.r.cpu.smep = false;
    assertFrame(user.r.access(VA, ACCESS_FETCH, false), user.pfn);
    const sup = one(KRW);
    assertFrame(sup.r.access(VA, ACCESS_READ, false), sup.pfn);
  });
});

describe('mmu: PKRU (user pages, CR4.PKE)', () => {
  it('is ignored while CR4.PKE is clear', () => {
    const { r, pfn } = one(URW, { key: 3 });
    r.cpu.writePkru(0xffffffff);
    assertFrame(r.access(VA, ACCESS_WRITE, true), pfn);
  });

  it('access-disable forbids reads and writes, with PK in the error code', () => {
    const { r } = one(URW, { key: 3 });
    r.cpu.pke = true;
    r.cpu.writePkru(keyBits(3, true, false));
    assertFault(r.access(VA, ACCESS_READ, true), PF_P | PF_U | PF_PK);
    assertFault(r.access(VA, ACCESS_WRITE, true), PF_P | PF_W | PF_U | PF_PK);
  });

  it('write-disable forbids writes only', () => {
    const { r, pfn } = one(URW, { key: 3 });
    r.cpu.pke = true;
    r.cpu.writePkru(keyBits(3, false, true));
    assertFrame(r.access(VA, ACCESS_READ, true), pfn);
    assertFault(r.access(VA, ACCESS_WRITE, true), PF_P | PF_W | PF_U | PF_PK);
  });

  it('only the page’s own key counts', () => {
    const { r, pfn } = one(URW, { key: 3 });
    r.cpu.pke = true;
    r.cpu.writePkru(~keyBits(3, true, true) >>> 0);
    assertFrame(r.access(VA, ACCESS_WRITE, true), pfn);
    const k0 = one(URW);
    k0.r.cpu.pke = true;
    k0.r.cpu.writePkru(keyBits(0, true, false));
    assertFault(k0.r.access(VA, ACCESS_READ, true), PF_P | PF_U | PF_PK, 'key 0 is a key like any other');
    const k15 = one(URW, { key: 15 });
    k15.r.cpu.pke = true;
    k15.r.cpu.writePkru(keyBits(15, false, true));
    assertFault(k15.r.access(VA, ACCESS_WRITE, true), PF_P | PF_W | PF_U | PF_PK, 'key 15 uses bits 30 and 31');
  });

  it('is not applied to instruction fetches', () => {
    const { r, pfn } = one(URW, { key: 3 });
    r.cpu.pke = true;
    r.cpu.writePkru(keyBits(3, true, true));
    assertFrame(r.access(VA, ACCESS_FETCH, true), pfn);
    r.cpu.smep = false;
    assertFrame(r.access(VA, ACCESS_FETCH, false), pfn);
  });

  it('applies to supervisor accesses to user pages; WD binds them only with WP=1', () => {
    const { r, pfn } = one(URW, { key: 3 });
    r.cpu.pke = true;
    r.cpu.ac = true;
    r.cpu.writePkru(keyBits(3, true, false));
    assertFault(r.access(VA, ACCESS_READ, false), PF_P | PF_PK);
    r.cpu.writePkru(keyBits(3, false, true));
    assertFrame(r.access(VA, ACCESS_READ, false), pfn);
    assertFault(r.access(VA, ACCESS_WRITE, false), PF_P | PF_W | PF_PK);
    r.cpu.wp = false;
    assertFrame(r.access(VA, ACCESS_WRITE, false), pfn);
  });

  it('does not apply to supervisor pages', () => {
    const { r, pfn } = one(KRW, { key: 3 });
    r.cpu.pke = true;
    r.cpu.writePkru(keyBits(3, true, true));
    assertFrame(r.access(VA, ACCESS_READ, false), pfn);
    assertFrame(r.access(VA, ACCESS_WRITE, false), pfn);
  });

  it('sets PK next to the other reasons when both deny', () => {
    const { r } = one(UR, { key: 2 });
    r.cpu.pke = true;
    r.cpu.writePkru(keyBits(2, false, true));
    assertFault(r.access(VA, ACCESS_WRITE, true), PF_P | PF_W | PF_U | PF_PK);
  });

  it('is read at access time: WRPKRU needs no flush, in either direction', () => {
    const { r, pfn } = one(URW, { key: 4 });
    r.cpu.pke = true;
    assertFrame(r.access(VA, ACCESS_WRITE, true), pfn); // cached, dirty
    const walks = r.cpu.counters.walks;
    r.cpu.writePkru(keyBits(4, false, true));
    assertFrame(r.access(VA, ACCESS_READ, true), pfn);
    assertFault(r.access(VA, ACCESS_WRITE, true), PF_P | PF_W | PF_U | PF_PK);
    r.cpu.writePkru(keyBits(4, true, false));
    assertFault(r.access(VA, ACCESS_READ, true), PF_P | PF_U | PF_PK);
    r.cpu.writePkru(0);
    assertFrame(r.access(VA, ACCESS_WRITE, true), pfn);
    assertFrame(r.access(VA, ACCESS_READ, true), pfn);
    assert.ok(r.cpu.counters.walks > walks, 'the faults dropped the entry, so the retry walked');
    assert.equal(r.cpu.counters.keyRegisterWrites, 3);
    assert.equal(r.cpu.counters.flushes, 0);
  });
});

describe('mmu: PKRS (supervisor pages, CR4.PKS)', () => {
  it('is ignored while CR4.PKS is clear', () => {
    const { r, pfn } = one(KRW, { key: 5 });
    r.cpu.writePkrs(0xffffffff);
    assertFrame(r.access(VA, ACCESS_WRITE, false), pfn);
  });

  it('access-disable forbids supervisor reads and writes, with PK', () => {
    const { r } = one(KRW, { key: 5 });
    r.cpu.pks = true;
    r.cpu.writePkrs(keyBits(5, true, false));
    assertFault(r.access(VA, ACCESS_READ, false), PF_P | PF_PK);
    assertFault(r.access(VA, ACCESS_WRITE, false), PF_P | PF_W | PF_PK);
  });

  it('write-disable binds supervisor writes only when WP=1', () => {
    const { r, pfn } = one(KRW, { key: 5 });
    r.cpu.pks = true;
    r.cpu.writePkrs(keyBits(5, false, true));
    assertFrame(r.access(VA, ACCESS_READ, false), pfn);
    assertFault(r.access(VA, ACCESS_WRITE, false), PF_P | PF_W | PF_PK);
    r.cpu.wp = false;
    assertFrame(r.access(VA, ACCESS_WRITE, false), pfn);
  });

  it('is not applied to fetches or to user pages, and PKRU is not applied to supervisor pages', () => {
    const sup = one(KRW, { key: 5 });
    sup.r.cpu.pks = true;
    sup.r.cpu.pke = true;
    sup.r.cpu.writePkrs(keyBits(5, true, true));
    assertFrame(sup.r.access(VA, ACCESS_FETCH, false), sup.pfn);
    sup.r.cpu.writePkrs(0);
    sup.r.cpu.writePkru(keyBits(5, true, true));
    assertFrame(sup.r.access(VA, ACCESS_WRITE, false), sup.pfn);

    const user = one(URW, { key: 5 });
    user.r.cpu.pks = true;
    user.r.cpu.ac = true;
    user.r.cpu.writePkrs(keyBits(5, true, true));
    assertFrame(user.r.access(VA, ACCESS_WRITE, false), user.pfn);
    assertFrame(user.r.access(VA, ACCESS_WRITE, true), user.pfn);
  });

  it('is per CPU and read at access time (a kmap window needs no flush)', () => {
    const { r, pfn } = one(KRW, { key: 5 });
    r.cpu.pks = true;
    assertFrame(r.access(VA, ACCESS_WRITE, false), pfn);
    r.cpu.writePkrs(keyBits(5, false, true));
    assertFault(r.access(VA, ACCESS_WRITE, false), PF_P | PF_W | PF_PK);
    r.cpu.writePkrs(0);
    assertFrame(r.access(VA, ACCESS_WRITE, false), pfn);
  });
});

describe('mmu: accessed and dirty bits', () => {
  function aAndD(r: Rig, va: number): Record<string, number> {
    const p = r.path(va);
    const out: Record<string, number> = {};
    for (const k of ['l4', 'l3', 'l2', 'l1'] as const) if (p[k] >= 0) out[k] = r.tables.lo[p[k]] & (PTE_A | PTE_D);
    return out;
  }

  it('a read sets A on every level and D nowhere', () => {
    const { r } = one(URW);
    r.access(VA, ACCESS_READ, true);
    assert.deepEqual(aAndD(r, VA), { l4: PTE_A, l3: PTE_A, l2: PTE_A, l1: PTE_A });
  });

  it('a fetch sets A on every level and D nowhere', () => {
    const { r } = one(URW);
    r.access(VA, ACCESS_FETCH, true);
    assert.deepEqual(aAndD(r, VA), { l4: PTE_A, l3: PTE_A, l2: PTE_A, l1: PTE_A });
  });

  it('a write sets A on every level and D on the leaf only', () => {
    const { r } = one(URW);
    r.access(VA, ACCESS_WRITE, true);
    assert.deepEqual(aAndD(r, VA), { l4: PTE_A, l3: PTE_A, l2: PTE_A, l1: PTE_A | PTE_D });
  });

  it('a refused access sets no D', () => {
    const { r, pte } = one(UR);
    r.access(VA, ACCESS_WRITE, true);
    assert.equal(r.tables.lo[pte] & PTE_D, 0);
  });

  it('leaves other bits and neighbouring entries alone', () => {
    const r = rig();
    const a = r.frame();
    const b = r.frame();
    const pa = r.map(VA, a, URW | PTE_G, { key: 7, xd: true });
    const pb = r.map(VA + 0x1000, b, URW);
    const hiBefore = r.tables.hi[pa];
    r.access(VA, ACCESS_WRITE, true);
    assert.equal(r.tables.lo[pa], pteLo(a, URW | PTE_G | PTE_A | PTE_D));
    assert.equal(r.tables.hi[pa], hiBefore);
    assert.equal(r.tables.lo[pb], pteLo(b, URW));
  });

  it('a TLB hit does not set A again (the kernel must flush after clearing A)', () => {
    const { r, pte } = one(URW);
    r.access(VA, ACCESS_READ, true);
    r.clearBits(pte, PTE_A);
    r.access(VA, ACCESS_READ, true);
    assert.equal(r.tables.lo[pte] & PTE_A, 0);
    r.cpu.tlb.invalidatePage(VA / 4096, 0);
    r.access(VA, ACCESS_READ, true);
    assert.equal(r.tables.lo[pte] & PTE_A, PTE_A);
  });

  it('a write through a clean cached entry walks again and sets D', () => {
    const { r, pfn, pte } = one(URW);
    assertFrame(r.access(VA, ACCESS_READ, true), pfn);
    assert.equal(r.tables.lo[pte] & PTE_D, 0);
    const c = r.cpu.counters;
    const [walks, misses, hits] = [c.walks, c.tlbMisses, c.tlbHits];
    assertFrame(r.access(VA, ACCESS_WRITE, true), pfn);
    assert.equal(r.tables.lo[pte] & PTE_D, PTE_D);
    assert.equal(c.walks, walks + 1);
    assert.equal(c.tlbMisses, misses + 1);
    assert.equal(c.tlbHits, hits);
    assert.equal(r.cpu.tlb.entries()[0].dirty, true);
    assertFrame(r.access(VA, ACCESS_WRITE, true), pfn);
    assert.equal(c.walks, walks + 1, 'now cached dirty: a hit');
    assert.equal(c.tlbHits, hits + 1);
  });

  it('a supervisor write through a clean cached entry walks again and sets D', () => {
    const { r, pfn, pte } = one(KRW);
    assertFrame(r.access(VA, ACCESS_READ, false), pfn);
    assertFrame(r.access(VA, ACCESS_WRITE, false), pfn);
    assert.equal(r.tables.lo[pte] & PTE_D, PTE_D);
  });

  it('a read of a dirty page caches it dirty', () => {
    const { r, pfn } = one(URW | PTE_D);
    assertFrame(r.access(VA, ACCESS_READ, true), pfn);
    assert.equal(r.cpu.tlb.entries()[0].dirty, true);
    const walks = r.cpu.counters.walks;
    assertFrame(r.access(VA, ACCESS_WRITE, true), pfn);
    assert.equal(r.cpu.counters.walks, walks);
  });
});

describe('mmu: stale TLB entries (the modelled hardware)', () => {
  it('a cached writable translation keeps granting writes after a downgrade, until INVLPG', () => {
    const { r, pfn, pte } = one(URW);
    assertFrame(r.access(VA, ACCESS_WRITE, true), pfn);
    r.clearBits(pte, PTE_RW);
    assertFrame(r.access(VA, ACCESS_WRITE, true), pfn, 'stale, as on real hardware');
    r.cpu.tlb.invalidatePage(VA / 4096, r.cpu.pcid);
    assertFault(r.access(VA, ACCESS_WRITE, true), PF_P | PF_W | PF_U);
  });

  it('a cached translation outlives the unmap of its page, until INVLPG', () => {
    const { r, pfn, pte } = one(URW);
    assertFrame(r.access(VA, ACCESS_READ, true), pfn);
    r.tables.lo[pte] = 0;
    r.tables.hi[pte] = 0;
    r.mem.free(pfn);
    assertFrame(r.access(VA, ACCESS_READ, true), pfn, 'the freed frame is still reachable: no-stale-tlb catches this, not the MMU');
    r.cpu.tlb.invalidatePage(VA / 4096, r.cpu.pcid);
    assertFault(r.access(VA, ACCESS_READ, true), PF_U);
  });

  it('a cached supervisor translation keeps serving the kernel after a downgrade', () => {
    const { r, pfn, pte } = one(KRW);
    assertFrame(r.access(VA, ACCESS_WRITE, false), pfn);
    r.clearBits(pte, PTE_RW);
    r.tables.hi[pte] = (r.tables.hi[pte] | PTE_HI_XD) >>> 0;
    assertFrame(r.access(VA, ACCESS_WRITE, false), pfn);
    assertFrame(r.access(VA, ACCESS_FETCH, false), pfn);
  });

  it('a stale key keeps the old key until flushed; checkKeys reports it', () => {
    const { r, pfn, pte } = one(URW, { key: 0 });
    r.cpu.pke = true;
    r.mmu.checkKeys = true;
    r.cpu.writePkru(keyBits(3, true, true));
    assertFrame(r.access(VA, ACCESS_WRITE, true), pfn);
    assert.equal(r.mmu.violations.length, 0);
    r.tables.hi[pte] = pteHi(pfn, 3, false); // pkey_mprotect without a flush
    assertFrame(r.access(VA, ACCESS_READ, true), pfn, 'the TLB still holds key 0');
    assert.equal(r.mmu.violations.length, 1);
    assert.equal(r.mmu.violations[0].id, 'keys-enforced');
    assert.match(r.mmu.violations[0].message, /key 3/);
    r.cpu.tlb.invalidatePage(VA / 4096, 0);
    assertFault(r.access(VA, ACCESS_READ, true), PF_P | PF_U | PF_PK);
    assert.equal(r.mmu.violations.length, 1);
  });

  it('checkKeys also catches a key bypass through the slow-path hit (a huge page)', () => {
    const r = rig(2048);
    r.cpu.pke = true;
    r.mmu.checkKeys = true;
    const slot = r.mapHuge(HUGE, 1024, URW);
    assertFrame(r.access(HUGE + 0x3000, ACCESS_READ, true), 1027);
    r.tables.hi[slot] = pteHi(1024, 9, false);
    r.cpu.writePkru(keyBits(9, true, false));
    assertFrame(r.access(HUGE + 0x4000, ACCESS_READ, true), 1028, 'the huge entry still holds key 0');
    assert.deepEqual(
      r.mmu.violations.map((v) => v.id),
      ['keys-enforced'],
    );
  });

  // A stale translation of an unmapped page is a TLB-flush question (no-stale-tlb, checked
  // between kernel operations), not a key question: inside an operation it is legitimate.
  it('checkKeys leaves an access through a TLB entry whose page is gone to no-stale-tlb', () => {
    const { r, pfn, pte } = one(URW);
    r.cpu.pke = true;
    r.mmu.checkKeys = true;
    assertFrame(r.access(VA, ACCESS_READ, true), pfn);
    r.tables.lo[pte] = 0;
    assertFrame(r.access(VA, ACCESS_READ, true), pfn);
    assert.equal(r.mmu.violations.length, 0);
  });

  it('checkKeys stays quiet when the cached key agrees with the PTE', () => {
    const { r, pfn } = one(URW, { key: 2 });
    r.cpu.pke = true;
    r.mmu.checkKeys = true;
    r.cpu.writePkru(keyBits(2, false, true));
    for (let i = 0; i < 3; i++) assertFrame(r.access(VA, ACCESS_READ, true), pfn);
    assert.equal(r.mmu.violations.length, 0);
  });

  it('a too-weak stale entry costs one fault, is dropped, and the retry walks', () => {
    const { r, pfn, pte } = one(UR);
    assertFrame(r.access(VA, ACCESS_READ, true), pfn);
    r.setBits(pte, PTE_RW); // upgrade without a flush, as the kernel may
    const c = r.cpu.counters;
    const before = { ...c.toJSON() };
    assertFault(r.access(VA, ACCESS_WRITE, true), PF_P | PF_W | PF_U);
    assert.equal(c.pageFaults, before.pageFaults + 1);
    assert.equal(c.tlbHits, before.tlbHits);
    assert.equal(c.tlbMisses, before.tlbMisses);
    assert.equal(c.walks, before.walks);
    assert.deepEqual(r.cpu.tlb.entries(), []);
    assertFrame(r.access(VA, ACCESS_WRITE, true), pfn);
    assert.equal(c.walks, before.walks + 1);
    assert.equal(r.tables.lo[pte] & PTE_D, PTE_D);
  });

  it('a stale supervisor-only entry faults a user access once, then the walk sees the user page', () => {
    const { r, pfn, pte } = one(KRW);
    assertFrame(r.access(VA, ACCESS_READ, false), pfn);
    r.setBits(pte, PTE_US);
    assertFault(r.access(VA, ACCESS_READ, true), PF_P | PF_U);
    assertFrame(r.access(VA, ACCESS_READ, true), pfn);
  });

  it('a stale XD entry faults a fetch once', () => {
    const { r, pfn, pte } = one(URW, { xd: true });
    assertFrame(r.access(VA, ACCESS_READ, true), pfn);
    r.tables.hi[pte] = pteHi(pfn, 0, false);
    assertFault(r.access(VA, ACCESS_FETCH, true), PF_P | PF_U | PF_I);
    assertFrame(r.access(VA, ACCESS_FETCH, true), pfn);
  });

  it('a stale read-only supervisor entry faults a kernel write once (WP=1)', () => {
    const { r, pfn, pte } = one(KR);
    assertFrame(r.access(VA, ACCESS_READ, false), pfn);
    r.setBits(pte, PTE_RW);
    assertFault(r.access(VA, ACCESS_WRITE, false), PF_P | PF_W);
    assertFrame(r.access(VA, ACCESS_WRITE, false), pfn);
  });

  it('a too-weak stale 2 MiB entry is dropped the same way', () => {
    const r = rig(2048);
    const slot = r.mapHuge(HUGE, 1024, UR);
    assertFrame(r.access(HUGE + 0x1000, ACCESS_READ, true), 1025);
    r.setBits(slot, PTE_RW);
    assertFault(r.access(HUGE + 0x2000, ACCESS_WRITE, true), PF_P | PF_W | PF_U);
    assert.deepEqual(r.cpu.tlb.entries(), []);
    assertFrame(r.access(HUGE + 0x2000, ACCESS_WRITE, true), 1026);
  });
});

describe('mmu: 2 MiB pages', () => {
  it('translate every 4 KiB subpage, with one walk', () => {
    const r = rig(2048);
    const base = 1024;
    r.mapHuge(HUGE * 5, base, URW);
    for (let i = 0; i < 512; i++) assertFrame(r.access(HUGE * 5 + i * 4096 + (i % 4096), ACCESS_READ, true), base + i, `subpage ${i}`);
    assert.equal(r.cpu.counters.walks, 1);
    assert.equal(r.cpu.counters.tlbMisses, 1);
    assert.equal(r.cpu.counters.tlbHits, 511);
    assert.equal(r.cpu.tlb.entries().length, 1);
  });

  it('set A and D on the PMD leaf and A above it, with no PT underneath', () => {
    const r = rig(2048);
    const slot = r.mapHuge(HUGE, 1024, URW);
    const p = r.path(HUGE);
    assert.equal(p.l1, -1, 'no PT level');
    assert.equal(p.l2, slot);
    assertFrame(r.access(HUGE + 0x10000, ACCESS_READ, true), 1024 + 16);
    assert.equal(r.tables.lo[slot] & (PTE_A | PTE_D), PTE_A);
    assertFrame(r.access(HUGE + 0x20000, ACCESS_WRITE, true), 1024 + 32, 'through the clean huge entry: a re-walk');
    assert.equal(r.tables.lo[slot] & (PTE_A | PTE_D), PTE_A | PTE_D);
    assert.equal(r.tables.lo[p.l3] & (PTE_A | PTE_D), PTE_A);
    assert.equal(r.tables.lo[p.l4] & (PTE_A | PTE_D), PTE_A);
  });

  it('check rights, XD and keys of the PMD leaf', () => {
    const r = rig(2048);
    r.mapHuge(HUGE, 1024, UR, { key: 6, xd: true });
    assertFault(r.access(HUGE, ACCESS_WRITE, true), PF_P | PF_W | PF_U);
    assertFault(r.access(HUGE + 0x1000, ACCESS_FETCH, true), PF_P | PF_U | PF_I);
    r.cpu.pke = true;
    r.cpu.writePkru(keyBits(6, true, false));
    assertFault(r.access(HUGE + 0x2000, ACCESS_READ, true), PF_P | PF_U | PF_PK);
    r.cpu.writePkru(0);
    assertFrame(r.access(HUGE + 0x2000, ACCESS_READ, true), 1026);
  });

  it('end at the 2 MiB boundary; 4 KiB pages share the same PD', () => {
    const r = rig(2048);
    r.mapHuge(HUGE * 2, 1024, URW);
    const small = r.frame();
    r.map(HUGE * 3 + 0x5000, small, URW);
    assertFrame(r.access(HUGE * 3 - 1, ACCESS_READ, true), 1024 + 511);
    assertFault(r.access(HUGE * 3, ACCESS_READ, true), PF_U);
    assertFrame(r.access(HUGE * 3 + 0x5000, ACCESS_READ, true), small);
    assertFault(r.access(HUGE * 2 - 1, ACCESS_READ, true), PF_U);
    assert.equal(r.path(HUGE * 2).l2 + 1, r.path(HUGE * 3).l2, 'neighbouring PMD slots');
  });

  it('a global 2 MiB leaf survives a PCID switch', () => {
    const r = rig(2048);
    r.mapHuge(HUGE, 1024, KRW | PTE_G);
    assertFrame(r.access(HUGE, ACCESS_READ, false), 1024);
    r.cpu.pcid = 9;
    r.cpu.cr3Table = r.newRoot();
    assertFrame(r.access(HUGE + 0x1000, ACCESS_READ, false), 1025);
    assert.equal(r.cpu.counters.walks, 1);
  });
});

describe('mmu: walking into freed page tables', () => {
  function freeLevel(level: 'l3' | 'l2'): { r: Rig; pfn: number; freedPfn: number } {
    const { r, pfn } = one(URW);
    const s = r.path(VA)[level];
    const freedPfn = ptePfn(r.tables.lo[s], r.tables.hi[s]);
    r.tables.free(r.tables.tableOfPfn(freedPfn)); // the upper entry still points at it
    return { r, pfn, freedPfn };
  }

  it('a walk into a freed PT records no-pt-use-after-free and faults', () => {
    const { r, freedPfn } = freeLevel('l2');
    const res = r.access(VA + 8, ACCESS_READ, true);
    assert.ok(isFault(res));
    assert.equal(faultErrorCode(res), PF_P | PF_U | PF_RSVD);
    assert.equal(r.cpu.cr2, VA + 8);
    assert.equal(r.cpu.counters.pageFaults, 1);
    assert.equal(r.mmu.violations.length, 1);
    assert.equal(r.mmu.violations[0].id, 'no-pt-use-after-free');
    assert.match(r.mmu.violations[0].message, new RegExp(`frame ${freedPfn}\\b`));
    assert.match(r.mmu.violations[0].message, /0x401008/);
    assert.deepEqual(r.cpu.tlb.entries(), []);
  });

  it('a walk into a freed PD is caught one level higher', () => {
    const { r } = freeLevel('l3');
    assert.ok(isFault(r.access(VA, ACCESS_WRITE, false)));
    assert.deepEqual(
      r.mmu.violations.map((v) => v.id),
      ['no-pt-use-after-free'],
    );
  });

  it('is caught when the frame was reused for data', () => {
    const { r, freedPfn } = freeLevel('l2');
    assert.equal(r.mem.alloc(FRAME_ANON), freedPfn, 'LIFO reuse');
    assert.ok(isFault(r.access(VA, ACCESS_READ, true)));
    assert.equal(r.mmu.violations.length, 1);
  });

  // Fixed: the walker decided "still a page
  // table" from mem.kind alone, and PhysMem hands back the most recently freed frame
  // first, so the stale upper entry now leads into the *new* table and the walk
  // translates through it silently. PageTables' doc promises a `freedAt` stamp that
  // catches exactly this; it does not exist.
  it('is caught when the freed table’s frame was reused for another page table', () => {
    const { r, freedPfn } = freeLevel('l2');
    const other = r.tables.alloc(1); // e.g. a fault elsewhere allocates a new PT
    assert.equal(r.tables.tablePfn[other], freedPfn, 'LIFO reuse of the same frame');
    const intruder = r.frame();
    r.setEntry(other, indices(VA)[3], intruder, URW); // the new owner's entry at the same index
    const res = r.access(VA, ACCESS_READ, true);
    assert.deepEqual(
      r.mmu.violations.map((v) => v.id),
      ['no-pt-use-after-free'],
      `the stale PMD entry led the walk into the new owner's table (result ${res}, frame ${intruder})`,
    );
  });

  // Fixed: the walk started at cpu.cr3Table without checking
  // that the PML4 is still live, so a CPU that still has a freed PML4 loaded (lazy TLB
  // after exit) walks its stale entries -- PageTables.free keeps them -- and translates.
  it('a walk from a CR3 whose PML4 was freed records no-pt-use-after-free', () => {
    const { r } = one(URW);
    r.tables.free(r.root); // the CPU still has it in CR3
    const res = r.access(VA, ACCESS_READ, true);
    assert.deepEqual(
      r.mmu.violations.map((v) => v.id),
      ['no-pt-use-after-free'],
      `the walk read the freed PML4 (result ${res})`,
    );
    assert.ok(isFault(res));
  });

  it('peek reports no slot for a freed table and records nothing', () => {
    const { r } = freeLevel('l2');
    const w = r.mmu.peek(r.root, VA, emptyWalk());
    assert.equal(w.slot, -1);
    assert.equal(w.present, false);
    assert.equal(r.mmu.violations.length, 0);
  });
});

describe('mmu: counters', () => {
  it('counts misses, walks, hits and faults', () => {
    const { r, pfn } = one(URW);
    const c = r.cpu.counters;
    assertFrame(r.access(VA, ACCESS_READ, true), pfn);
    assert.deepEqual([c.tlbHits, c.tlbMisses, c.walks, c.pageFaults], [0, 1, 1, 0]);
    assertFrame(r.access(VA, ACCESS_READ, true), pfn);
    assert.deepEqual([c.tlbHits, c.tlbMisses, c.walks, c.pageFaults], [1, 1, 1, 0]);
    assertFrame(r.access(VA, ACCESS_FETCH, true), pfn); // a user fetch hits through the slow path
    assert.deepEqual([c.tlbHits, c.tlbMisses, c.walks, c.pageFaults], [2, 1, 1, 0]);
    assertFault(r.access(VA + 0x1000, ACCESS_READ, true), PF_U);
    assert.deepEqual([c.tlbHits, c.tlbMisses, c.walks, c.pageFaults], [2, 2, 2, 1]);
    assertFault(r.access(VA, ACCESS_FETCH, false), PF_P | PF_I); // SMEP, through the TLB
    assert.deepEqual([c.tlbHits, c.tlbMisses, c.walks, c.pageFaults], [2, 2, 2, 2]);
    assertFrame(r.access(VA, ACCESS_READ, true), pfn); // the fault dropped the entry
    assert.deepEqual([c.tlbHits, c.tlbMisses, c.walks, c.pageFaults], [2, 3, 3, 2]);
    assert.equal(c.flushes, 0);
  });

  it('serializes counters for snapshots', () => {
    const { r } = one(URW);
    r.access(VA, ACCESS_READ, true);
    const j = r.cpu.counters.toJSON();
    assert.equal(j.walks, 1);
    assert.equal(j.tlbMisses, 1);
    assert.equal(typeof j.pageFaults, 'number');
  });
});

describe('mmu: addresses and indices', () => {
  it('uses all four indices: pages differing at one level only map apart', () => {
    const r = rig(256);
    const base = 0x1234_5678_9000;
    const vas = [base, base + 2 ** 39, base + 2 ** 30, base + 2 ** 21, base + 2 ** 12];
    const pfns = vas.map((va) => {
      const pfn = r.frame();
      r.map(va, pfn, URW);
      return pfn;
    });
    vas.forEach((va, i) => assertFrame(r.access(va + 0xabc, ACCESS_READ, true), pfns[i], `va 0x${va.toString(16)}`));
    assert.deepEqual(indices(base), [36, 209, 179, 393]);
  });

  it('translates the top of the user half and the 48-bit upper half', () => {
    const r = rig(256);
    const vas = [0x7fff_ffff_f000, 0x8000_0000_0000, 0xffff_ffff_f000, 0];
    const pfns = vas.map((va) => {
      const pfn = r.frame();
      r.map(va, pfn, KRW);
      assertFrame(r.access(va + 0xfff, ACCESS_WRITE, false), pfn, `va 0x${va.toString(16)}`);
      return pfn;
    });
    // Again, after the TLB's direct-mapped slots evicted some of them.
    vas.forEach((va, i) => assertFrame(r.access(va, ACCESS_READ, false), pfns[i], `va 0x${va.toString(16)}`));
    assert.deepEqual(indices(0x8000_0000_0000), [256, 0, 0, 0]);
    assert.deepEqual(indices(0xffff_ffff_f000), [511, 511, 511, 511]);
  });

  it('an unaligned faulting address lands in CR2 as is', () => {
    const r = rig();
    assertFault(r.access(0x7fff_1234_5678, ACCESS_WRITE, true), PF_W | PF_U);
    assert.equal(r.cpu.cr2, 0x7fff_1234_5678);
  });
});

describe('mmu: peek', () => {
  it('reports the leaf and accumulated rights without side effects', () => {
    const { r, pte } = one(URW, { xd: true });
    r.clearBits(r.path(VA).l3, PTE_RW);
    const w = r.mmu.peek(r.root, VA, emptyWalk());
    assert.deepEqual(w, { slot: pte, level: 1, present: true, writable: false, user: true, executeDisable: true });
    assert.equal(r.tables.lo[pte] & PTE_A, 0, 'no A');
    assert.deepEqual(r.cpu.tlb.entries(), [], 'no TLB fill');
    assert.equal(r.cpu.counters.walks, 0);
  });

  it('reports where a walk stops', () => {
    const r = rig();
    assert.deepEqual(r.mmu.peek(-1, VA, emptyWalk()), { slot: -1, level: 4, present: false, writable: false, user: false, executeDisable: false });
    const w4 = r.mmu.peek(r.root, VA, emptyWalk());
    assert.equal(w4.slot, r.root * 512 + indices(VA)[0]);
    assert.equal(w4.level, 4);
    assert.equal(w4.present, false);
    r.tableFor(VA, 1);
    const w1 = r.mmu.peek(r.root, VA, emptyWalk());
    assert.equal(w1.level, 1);
    assert.equal(w1.present, false);
    assert.equal(w1.slot, r.path(VA).l1);
  });

  it('reports a 2 MiB leaf at level 2 and reuses the record it is given', () => {
    const r = rig(2048);
    const slot = r.mapHuge(HUGE, 1024, KR);
    const out = emptyWalk();
    const w = r.mmu.peek(r.root, HUGE + 0x3000, out);
    assert.equal(w, out);
    assert.deepEqual(w, { slot, level: 2, present: true, writable: false, user: false, executeDisable: false });
  });
});

/**
 * Property tests of the MMU against a small reference of the Intel SDM's access rules
 * (vol. 3A §4.6 "Access rights", §4.6.2 "Protection keys", §4.7 "Page-fault exceptions").
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  ACCESS_FETCH,
  ACCESS_READ,
  ACCESS_WRITE,
  PF_I,
  PF_P,
  PF_PK,
  PF_U,
  PF_W,
  describeErrorCode,
  faultErrorCode,
  isFault,
  type AccessKind,
} from '../../src/hw/mmu.js';
import { PTE_A, PTE_D, PTE_HI_XD, PTE_P, PTE_RW, PTE_US } from '../../src/hw/pte.js';
import { indices, rig, type Rig } from './_helpers.js';

/** The rights bits of one paging-structure entry. */
interface Level {
  rw: boolean;
  us: boolean;
  xd: boolean;
}

/** Control and key registers the access check reads. */
interface Regs {
  wp: boolean;
  smep: boolean;
  smap: boolean;
  ac: boolean;
  pke: boolean;
  pks: boolean;
  pkru: number;
  pkrs: number;
}

/** A translation: the entries on the way (PML4 first, leaf last) and the leaf's key. */
interface Translation {
  levels: Level[];
  key: number;
}

/** Outcome of an access: ALLOWED or the page-fault error code. */
const ALLOWED = -1;

/**
 * The SDM's rules, written from the manual rather than from mmu.ts: first the rights the
 * paging structures give (§4.6.1), then the protection-key rights (§4.6.2), then the
 * error code (§4.7). Present translations only.
 */
function sdm(t: Translation, regs: Regs, access: AccessKind, user: boolean): number {
  const write = access === ACCESS_WRITE;
  const fetch = access === ACCESS_FETCH;
  // "A linear address is a user-mode address if the U/S flag is 1 in every paging-structure entry."
  const userAddress = t.levels.every((l) => l.us);
  // "Writes are allowed only if R/W is 1 in every paging-structure entry."
  const rwEverywhere = t.levels.every((l) => l.rw);
  // "Instruction fetches are not allowed if XD is 1 in any paging-structure entry" (NXE=1).
  const xdAnywhere = t.levels.some((l) => l.xd);

  let pagingAllows: boolean;
  if (user) {
    // User-mode accesses: supervisor-mode addresses are never accessible.
    if (!userAddress) pagingAllows = false;
    else if (write) pagingAllows = rwEverywhere;
    else if (fetch) pagingAllows = !xdAnywhere;
    else pagingAllows = true;
  } else if (fetch) {
    // Supervisor fetches: from user-mode addresses only without SMEP; never from XD pages.
    pagingAllows = !xdAnywhere && !(userAddress && regs.smep);
  } else {
    // Supervisor data accesses to user-mode addresses: with SMAP, only when EFLAGS.AC = 1
    // (explicit accesses). Writes: with CR0.WP = 1 only to writable addresses.
    const smapBlocks = userAddress && regs.smap && !regs.ac;
    pagingAllows = !smapBlocks && (!write || rwEverywhere || !regs.wp);
  }

  // Protection keys: data accesses only; PKRU for user-mode addresses when CR4.PKE,
  // PKRS for supervisor-mode addresses when CR4.PKS.
  let keyDenies = false;
  if (!fetch) {
    const enabled = userAddress ? regs.pke : regs.pks;
    const reg = userAddress ? regs.pkru : regs.pkrs;
    if (enabled) {
      const ad = Math.floor(reg / 4 ** t.key) % 2 === 1;
      const wd = Math.floor(reg / 4 ** t.key / 2) % 2 === 1;
      // WD: user-mode writes never; supervisor-mode writes only when CR0.WP = 1.
      keyDenies = ad || (wd && write && (user || regs.wp));
    }
  }

  if (pagingAllows && !keyDenies) return ALLOWED;
  let ec = PF_P; // the translation was present
  if (write) ec += PF_W;
  if (user) ec += PF_U;
  if (fetch) ec += PF_I;
  if (keyDenies) ec += PF_PK;
  return ec;
}

function applyRegs(r: Rig, regs: Regs): void {
  const c = r.cpu;
  c.wp = regs.wp;
  c.smep = regs.smep;
  c.smap = regs.smap;
  c.ac = regs.ac;
  c.pke = regs.pke;
  c.pks = regs.pks;
  c.pkru = regs.pkru;
  c.pkrs = regs.pkrs;
}

/** Registers under which a supervisor read of any present page succeeds. */
const PERMISSIVE: Regs = { wp: false, smep: false, smap: false, ac: true, pke: false, pks: false, pkru: 0, pkrs: 0 };

const levelArb: fc.Arbitrary<Level> = fc.record({ rw: fc.boolean(), us: fc.boolean(), xd: fc.boolean() });
/** Favour the permissive value so that deep checks (keys, SMAP) are reached often. */
const mostlyTrue = fc.oneof({ weight: 3, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) });
const mostlyFalse = mostlyTrue.map((b) => !b);
const upperArb: fc.Arbitrary<Level> = fc.record({ rw: mostlyTrue, us: mostlyTrue, xd: mostlyFalse });
const regsArb: fc.Arbitrary<Regs> = fc.record({
  wp: fc.boolean(),
  smep: fc.boolean(),
  smap: fc.boolean(),
  ac: fc.boolean(),
  pke: fc.boolean(),
  pks: fc.boolean(),
  pkru: fc.integer({ min: 0, max: 0xffffffff }),
  pkrs: fc.integer({ min: 0, max: 0xffffffff }),
});
const accessArb: fc.Arbitrary<AccessKind> = fc.constantFrom(ACCESS_READ, ACCESS_WRITE, ACCESS_FETCH);
const keyArb = fc.integer({ min: 0, max: 15 });
/** Any 48-bit virtual address. */
const vaArb = fc.integer({ min: 0, max: 2 ** 48 - 1 });

interface Case {
  huge: boolean;
  upper: Level[];
  leaf: Level;
  key: number;
  regs: Regs;
  access: AccessKind;
  user: boolean;
  va: number;
}

const caseArb: fc.Arbitrary<Case> = fc.record({
  huge: fc.boolean(),
  upper: fc.tuple(upperArb, upperArb, upperArb).map((t) => [...t]),
  leaf: levelArb,
  key: keyArb,
  regs: regsArb,
  access: accessArb,
  user: fc.boolean(),
  va: vaArb,
});

const HUGE_BASE = 1024;

/** Builds the case's page tables; returns the rig, the leaf slot and the expected frame. */
function build(c: Case): { r: Rig; leaf: number; pfn: number; translation: Translation } {
  const r = rig(c.huge ? 2048 : 64, 64);
  let leaf: number;
  let pfn: number;
  const flags = (l: Level): number => PTE_P | (l.rw ? PTE_RW : 0) | (l.us ? PTE_US : 0);
  if (c.huge) {
    leaf = r.mapHuge(c.va, HUGE_BASE, flags(c.leaf), { key: c.key, xd: c.leaf.xd });
    pfn = HUGE_BASE + indices(c.va)[3];
  } else {
    pfn = r.frame();
    leaf = r.map(c.va, pfn, flags(c.leaf), { key: c.key, xd: c.leaf.xd });
  }
  // Upper levels: PML4, PDPT and (for 4 KiB pages) PD entry.
  const path = r.path(c.va);
  const uppers = c.huge ? [path.l4, path.l3] : [path.l4, path.l3, path.l2];
  uppers.forEach((s, i) => {
    const l = c.upper[i];
    r.tables.lo[s] = ((r.tables.lo[s] & ~(PTE_RW | PTE_US)) | flags(l)) >>> 0;
    r.tables.hi[s] = ((r.tables.hi[s] & ~PTE_HI_XD) | (l.xd ? PTE_HI_XD : 0)) >>> 0;
  });
  const levels = [...c.upper.slice(0, uppers.length), c.leaf];
  return { r, leaf, pfn, translation: { levels, key: c.key } };
}

function describeCase(c: Case): string {
  const lv = (l: Level): string => `${l.rw ? 'RW' : 'ro'}/${l.us ? 'U' : 'S'}${l.xd ? '/XD' : ''}`;
  return `${c.user ? 'user' : 'supervisor'} ${['read', 'write', 'fetch'][c.access]} of ${c.huge ? '2M' : '4K'} page [${[...c.upper.slice(0, c.huge ? 2 : 3), c.leaf].map(lv).join(' ')}] key=${c.key}`;
}

function checkOutcome(result: number, expected: number, pfn: number, what: string): void {
  if (expected === ALLOWED) {
    assert.ok(!isFault(result), `${what}: expected success, got fault ${isFault(result) ? describeErrorCode(faultErrorCode(result)) : ''}`);
    assert.equal(result, pfn, `${what}: frame`);
  } else {
    assert.ok(isFault(result), `${what}: expected fault ${describeErrorCode(expected)}, got frame ${result}`);
    assert.equal(
      faultErrorCode(result),
      expected,
      `${what}: error code ${describeErrorCode(faultErrorCode(result))}, expected ${describeErrorCode(expected)}`,
    );
  }
}

describe('mmu (property): access check vs the SDM', () => {
  it('the reference itself agrees with hand-worked SDM examples', () => {
    const U: Level = { rw: true, us: true, xd: false };
    const S: Level = { rw: true, us: false, xd: false };
    const regs: Regs = { wp: true, smep: true, smap: true, ac: false, pke: true, pks: true, pkru: 0, pkrs: 0 };
    const t = (leaf: Level, key = 0): Translation => ({ levels: [U, U, U, leaf], key });
    assert.equal(sdm(t(U), regs, ACCESS_READ, true), ALLOWED);
    assert.equal(sdm(t(S), regs, ACCESS_READ, true), PF_P | PF_U);
    assert.equal(sdm(t(U), regs, ACCESS_READ, false), PF_P, 'SMAP');
    assert.equal(sdm(t(U), { ...regs, ac: true }, ACCESS_READ, false), ALLOWED);
    assert.equal(sdm(t(U), regs, ACCESS_FETCH, false), PF_P | PF_I, 'SMEP');
    assert.equal(sdm(t({ ...U, rw: false }), regs, ACCESS_WRITE, true), PF_P | PF_W | PF_U);
    assert.equal(sdm(t({ ...S, rw: false }), { ...regs, wp: false }, ACCESS_WRITE, false), ALLOWED);
    assert.equal(sdm(t(U, 3), { ...regs, pkru: 1 << 6 }, ACCESS_READ, true), PF_P | PF_U | PF_PK);
    assert.equal(sdm(t(U, 3), { ...regs, pkru: 1 << 6 }, ACCESS_FETCH, true), ALLOWED, 'keys do not apply to fetches');
    assert.equal(sdm(t(S, 15), { ...regs, pkrs: 2 ** 31 }, ACCESS_WRITE, false), PF_P | PF_W | PF_PK);
    assert.equal(sdm(t(S, 15), { ...regs, wp: false, pkrs: 2 ** 31 }, ACCESS_WRITE, false), ALLOWED);
    assert.equal(sdm(t(S, 15), { ...regs, pks: false, pkrs: 3 * 2 ** 30 }, ACCESS_WRITE, false), ALLOWED);
  });

  it('a fresh walk allows, denies and reports exactly as the SDM says, and sets A/D only when allowed', () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const { r, leaf, pfn, translation } = build(c);
        applyRegs(r, c.regs);
        const expected = sdm(translation, c.regs, c.access, c.user);
        const result = r.access(c.va, c.access, c.user);
        checkOutcome(result, expected, pfn, describeCase(c));
        const ad = r.tables.lo[leaf] & (PTE_A | PTE_D);
        if (expected === ALLOWED) {
          assert.equal(ad, c.access === ACCESS_WRITE ? PTE_A | PTE_D : PTE_A, 'A, and D on a write');
          assert.equal(r.cpu.counters.pageFaults, 0);
        } else {
          assert.equal(ad & PTE_D, 0, 'no D on a refused access');
          assert.equal(r.cpu.cr2, c.va);
          assert.equal(r.cpu.counters.pageFaults, 1);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('an access through a cached translation gets the same answer as a walk', () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const { r, pfn, translation } = build(c);
        // Warm the TLB with an access that always succeeds, then switch to the case's registers.
        applyRegs(r, PERMISSIVE);
        assert.equal(r.access(c.va, ACCESS_READ, false), pfn, 'warm-up');
        applyRegs(r, c.regs);
        const expected = sdm(translation, c.regs, c.access, c.user);
        checkOutcome(r.access(c.va, c.access, c.user), expected, pfn, `${describeCase(c)} (cached)`);
        // And again: after a fault the entry is gone and the walk answers; after a success the entry answers.
        checkOutcome(r.access(c.va, c.access, c.user), expected, pfn, `${describeCase(c)} (again)`);
      }),
      { numRuns: 3000 },
    );
  });
});

// ---------------------------------------------------------------------------------------
// TLB coherence: random PTE rewrites, flushes, key-register writes and accesses. The TLB
// may answer from any PTE value the page had since its last invalidation (that is the
// modelled hardware), never from anything else; right after an invalidation it must
// answer exactly from the current PTE.

interface PteState {
  present: boolean;
  rw: boolean;
  us: boolean;
  xd: boolean;
  key: number;
  frame: number; // index into the page's frames
}

type Op =
  | { kind: 'set'; page: number; pte: PteState }
  | { kind: 'invlpg'; page: number }
  | { kind: 'flush' }
  | { kind: 'pkru'; value: number }
  | { kind: 'access'; page: number; access: AccessKind; user: boolean };

const PAGES = 6;
const pteArb: fc.Arbitrary<PteState> = fc.record({
  present: mostlyTrue,
  rw: fc.boolean(),
  us: mostlyTrue,
  xd: fc.boolean(),
  key: fc.integer({ min: 0, max: 3 }),
  frame: fc.integer({ min: 0, max: 1 }),
});
const pageArb = fc.integer({ min: 0, max: PAGES - 1 });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('set' as const), page: pageArb, pte: pteArb }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('invlpg' as const), page: pageArb }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('flush' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('pkru' as const), value: fc.integer({ min: 0, max: 0xff }) }) },
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('access' as const), page: pageArb, access: accessArb, user: fc.boolean() }) },
);

describe('mmu (property): TLB coherence', () => {
  it('answers only from PTE values since the last invalidation, and exactly after one', () => {
    fc.assert(
      fc.property(
        fc.record({ wp: fc.boolean(), smep: fc.boolean(), smap: fc.boolean(), pks: fc.boolean(), pkrs: fc.integer({ min: 0, max: 0xff }) }),
        fc.array(opArb, { minLength: 1, maxLength: 60 }),
        (cpuBits, ops) => {
          // A 4-entry TLB for 6 pages in slots that collide, so evictions happen too.
          const r = rig(64, 4);
          const regs: Regs = { ...cpuBits, ac: true, pke: true, pkru: 0 };
          applyRegs(r, regs);
          const vaOf = (page: number): number => 0x10_0000 + page * 0x2000;
          const frames = Array.from({ length: PAGES }, () => [r.frame(), r.frame()]);
          const slots = Array.from({ length: PAGES }, (_, p) => r.map(vaOf(p), frames[p][0], 0));
          const current: PteState[] = Array.from({ length: PAGES }, () => ({ present: false, rw: false, us: false, xd: false, key: 0, frame: 0 }));
          // PTE values each page's TLB entry may still reflect.
          const maybeCached: PteState[][] = current.map((s) => [s]);
          const write = (p: number, s: PteState): void => {
            const f = frames[p][s.frame];
            r.setEntry(Math.floor(slots[p] / 512), slots[p] % 512, f, (s.present ? PTE_P : 0) | (s.rw ? PTE_RW : 0) | (s.us ? PTE_US : 0), s.key, s.xd);
          };
          /** ALLOWED, or the error code, for an access answered from PTE value `s`. */
          const outcome = (s: PteState, access: AccessKind, user: boolean): number => {
            if (!s.present) return (access === ACCESS_WRITE ? PF_W : 0) | (user ? PF_U : 0) | (access === ACCESS_FETCH ? PF_I : 0);
            const upper: Level = { rw: true, us: true, xd: false };
            return sdm({ levels: [upper, upper, upper, { rw: s.rw, us: s.us, xd: s.xd }], key: s.key }, regs, access, user);
          };
          for (const op of ops) {
            switch (op.kind) {
              case 'set':
                write(op.page, op.pte);
                current[op.page] = op.pte;
                maybeCached[op.page].push(op.pte);
                break;
              case 'invlpg':
                r.cpu.tlb.invalidatePage(vaOf(op.page) / 4096, r.cpu.pcid);
                maybeCached[op.page] = [current[op.page]];
                break;
              case 'flush':
                r.cpu.tlb.invalidateAll(true);
                for (let p = 0; p < PAGES; p++) maybeCached[p] = [current[p]];
                break;
              case 'pkru':
                r.cpu.writePkru(op.value);
                regs.pkru = op.value;
                break;
              case 'access': {
                const walks = r.cpu.counters.walks;
                const got = r.access(vaOf(op.page) + 0x10, op.access, op.user);
                const candidates = maybeCached[op.page];
                const ok = candidates.some((s) => {
                  const expected = outcome(s, op.access, op.user);
                  if (expected === ALLOWED) return !isFault(got) && got === frames[op.page][s.frame];
                  return isFault(got) && faultErrorCode(got) === expected;
                });
                assert.ok(
                  ok,
                  `page ${op.page}: ${op.user ? 'user' : 'supervisor'} ${['read', 'write', 'fetch'][op.access]} gave ${
                    isFault(got) ? `fault ${describeErrorCode(faultErrorCode(got))}` : `frame ${got}`
                  }, which no PTE value since the last flush explains: ${JSON.stringify(candidates)}`,
                );
                // A fault drops the entry and a walk caches the current PTE: either way only the
                // current value can answer next. After a hit, the candidates stay as they were.
                if (isFault(got) || r.cpu.counters.walks !== walks) maybeCached[op.page] = [current[op.page]];
                break;
              }
            }
          }
        },
      ),
      { numRuns: 400 },
    );
  });
});

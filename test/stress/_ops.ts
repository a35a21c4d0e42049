/**
 * What the stress test generates: a machine configuration and a sequence of operations,
 * with selectors (plain numbers) that the driver turns into concrete calls when the step
 * runs, against the processes, threads and mappings that exist then. Keeping choices as
 * numbers lets fast-check shrink a sequence without making it invalid.
 */
import fc from 'fast-check';
import { VARIANTS } from '../../src/index.js';
import { PAGE } from '../mm/_model.js';
import { type Os } from './_refModel.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/** The arena fixed mappings and most accesses fall in: small, so processes and operations overlap. */
export const ARENA = 0x10000000;
export const ARENA_PAGES = 16;
export const MAX_PROCS = 5;
export const MAX_THREADS = 3;

/** Byte offsets accesses start at: few, so loads meet earlier stores; the last three make split accesses. */
export const OFFSETS = [0, 1, 0x7ff, PAGE - 3, PAGE - 2, PAGE - 1] as const;

export interface Config {
  readonly os: Os;
  readonly variants: readonly string[];
  readonly cpus: number;
  readonly memory: number;
  readonly swap: number;
  readonly tlbEntries: number;
  /** CPU of each process spawned at the start. */
  readonly placement: readonly number[];
}

/** An address: a page the process has mapped (when `mapped` and it has one), else a page of the arena. */
export interface AddrSel {
  readonly mapped: boolean;
  readonly n: number;
}

/** Who runs a step: a live process (n % live) and one of its threads (n / 8). */
export type Who = number;

/** How the threads of an interleaved step are picked. */
export type Pairing = 'same-cpu-other-process' | 'same-cpu-same-process' | 'other-cpu' | 'any';

export type MapKind = 'anon' | 'shanon' | 'fpriv' | 'fshared';

/** What an interleaved (or sequential) kernel path does. */
export type PathOp =
  | { readonly t: 'load'; readonly who: Who; readonly a: AddrSel; readonly off: number }
  | { readonly t: 'store'; readonly who: Who; readonly a: AddrSel; readonly off: number; readonly value: number }
  | { readonly t: 'munmap'; readonly who: Who; readonly a: AddrSel; readonly n: number }
  | { readonly t: 'mprotect'; readonly who: Who; readonly a: AddrSel; readonly n: number; readonly prot: number }
  | { readonly t: 'dontneed'; readonly who: Who; readonly a: AddrSel; readonly n: number }
  | { readonly t: 'mmap'; readonly who: Who; readonly a: AddrSel; readonly n: number; readonly prot: number; readonly kind: MapKind; readonly file: number; readonly fileOff: number; readonly fixed: boolean; readonly populate: boolean }
  | { readonly t: 'keyprot'; readonly who: Who; readonly a: AddrSel; readonly n: number; readonly prot: number; readonly key: number; readonly flags: number }
  | { readonly t: 'swapout'; readonly who: Who; readonly a: AddrSel; readonly n: number; readonly startOff: number; readonly endOff: number; readonly whole: boolean };

export type Op =
  | PathOp
  | { readonly t: 'access'; readonly who: Who; readonly a: AddrSel; readonly off: number; readonly size: 1 | 2 | 4; readonly write: boolean; readonly value: number }
  | { readonly t: 'keyalloc'; readonly who: Who; readonly rights: number }
  | { readonly t: 'keyset'; readonly who: Who; readonly key: number; readonly rights: number }
  | { readonly t: 'unprotect'; readonly who: Who; readonly a: AddrSel; readonly n: number }
  | { readonly t: 'fork'; readonly who: Who; readonly cpu: number }
  | { readonly t: 'exit'; readonly who: Who }
  | { readonly t: 'thread'; readonly who: Who; readonly cpu: number }
  | { readonly t: 'reclaim'; readonly n: number }
  | { readonly t: 'oomadj'; readonly who: Who; readonly value: number }
  | { readonly t: 'conc'; readonly pairing: Pairing; readonly paths: readonly PathOp[]; readonly schedule: readonly number[] };

const R = 1;
const W = 2;

const whoArb = fc.nat(63);
const addrArb = (mappedPercent: number): fc.Arbitrary<AddrSel> => fc.record({ mapped: fc.integer({ min: 0, max: 99 }).map((x) => x < mappedPercent), n: fc.nat(255) });
const nArb = fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 1, max: 3 }) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 8 }) });
const protArb = fc.oneof({ weight: 4, arbitrary: fc.constant(R | W) }, { weight: 2, arbitrary: fc.constantFrom(0, R) });
const offArb = fc.constantFrom(...OFFSETS);
const keyArb = fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 1, max: 2 }) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 15 }) });

/** oom_score_adj values: exempt mostly, back to normal, others, and out of range (EINVAL). */
const oomAdjArb = fc.oneof(
  { weight: 4, arbitrary: fc.constant(-1000) },
  { weight: 2, arbitrary: fc.constant(0) },
  { weight: 1, arbitrary: fc.constantFrom(-999, -500, 300, 1000) },
  { weight: 1, arbitrary: fc.constantFrom(-1001, 1001) },
);

/** Knobs of the generator: each `it` block leans it towards a shape of bug. */
export interface Bias {
  /** Weight of interleaved steps. */
  readonly conc: number;
  /** Weight of the cross-process / cross-thread same-CPU pairings among them. */
  readonly sameCpu: number;
  /** Weight of populated mappings (memory pressure, OOM). */
  readonly populate: number;
  /** Weight of unaligned swap-out ranges. */
  readonly unalignedSwap: number;
  /** Weight of forks. */
  readonly fork: number;
  /** Weight of oom_score_adj writes (mostly -1000: a process the OOM killer passes over, so its own allocations fail). */
  readonly oomAdj: number;
  /** Every interleaved step uses this pairing (a hunting knob: STRESS_PAIRING). */
  readonly pairing?: Pairing;
  /** False: 2- and 4-byte accesses stay inside one page (a hunting knob: STRESS_SPLIT=0). */
  readonly split?: boolean;
}

export const DEFAULT_BIAS: Bias = { conc: 6, sameCpu: 3, populate: 1, unalignedSwap: 1, fork: 3, oomAdj: 0 };

function mmapArb(b: Bias): fc.Arbitrary<Extract<PathOp, { t: 'mmap' }>> {
  return fc
    .record({
      t: fc.constant('mmap' as const),
      who: whoArb,
      a: addrArb(10),
      n: fc.oneof({ weight: 4, arbitrary: nArb }, { weight: b.populate, arbitrary: fc.integer({ min: 4, max: 16 }) }),
      prot: protArb,
      kind: fc.constantFrom<MapKind>('anon', 'anon', 'anon', 'shanon', 'fpriv', 'fshared'),
      file: fc.nat(1),
      fileOff: fc.nat(1),
      fixed: fc.integer({ min: 0, max: 5 }).map((x) => x > 0),
      populate: fc.integer({ min: 0, max: 9 }).map((x) => x < 2 * b.populate),
    })
    // Populate write-faults a private file mapping (an early COW copy): only the others are populated.
    .map((o) => (o.kind === 'fpriv' ? { ...o, populate: false } : o));
}

function pathOpArb(b: Bias): fc.Arbitrary<PathOp> {
  return fc.oneof(
    { weight: 8, arbitrary: fc.record({ t: fc.constant('load' as const), who: whoArb, a: addrArb(85), off: offArb }) },
    { weight: 8, arbitrary: fc.record({ t: fc.constant('store' as const), who: whoArb, a: addrArb(85), off: offArb, value: fc.nat(255) }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('munmap' as const), who: whoArb, a: addrArb(60), n: nArb }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('mprotect' as const), who: whoArb, a: addrArb(80), n: nArb, prot: protArb }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('dontneed' as const), who: whoArb, a: addrArb(80), n: nArb }) },
    { weight: 2, arbitrary: mmapArb(b) },
    { weight: 3, arbitrary: fc.record({ t: fc.constant('keyprot' as const), who: whoArb, a: addrArb(80), n: nArb, prot: protArb, key: keyArb, flags: fc.nat(3) }) },
    { weight: 2, arbitrary: swapArb(b) },
  );
}

function swapArb(b: Bias): fc.Arbitrary<Extract<PathOp, { t: 'swapout' }>> {
  const off = b.unalignedSwap > 0 ? fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: b.unalignedSwap, arbitrary: fc.integer({ min: 1, max: PAGE - 1 }) }) : fc.constant(0);
  return fc.record({ t: fc.constant('swapout' as const), who: whoArb, a: addrArb(70), n: nArb, startOff: off, endOff: off, whole: fc.integer({ min: 0, max: 3 }).map((x) => x === 0) });
}

function accessArb(b: Bias): fc.Arbitrary<Extract<Op, { t: 'access' }>> {
  const a = fc.record({ t: fc.constant('access' as const), who: whoArb, a: addrArb(85), off: offArb, size: fc.constantFrom<1 | 2 | 4>(1, 2, 4), write: fc.boolean(), value: fc.nat(0xffffffff) });
  return b.split === false ? a.map((o) => ({ ...o, off: Math.min(o.off, PAGE - o.size) })) : a;
}

export function opArb(b: Bias): fc.Arbitrary<Op> {
  const concArb = fc.record({
    t: fc.constant('conc' as const),
    pairing:
      b.pairing !== undefined
        ? fc.constant(b.pairing)
        : fc.oneof(
            { weight: b.sameCpu, arbitrary: fc.constant<Pairing>('same-cpu-other-process') },
            { weight: Math.max(1, b.sameCpu >> 1), arbitrary: fc.constant<Pairing>('same-cpu-same-process') },
            { weight: 1, arbitrary: fc.constant<Pairing>('other-cpu') },
            { weight: 2, arbitrary: fc.constant<Pairing>('any') },
          ),
    paths: fc.array(pathOpArb(b), { minLength: 2, maxLength: 3 }),
    schedule: fc.array(fc.nat(2), { maxLength: 24 }),
  });
  return fc.oneof(
    { weight: 14, arbitrary: accessArb(b) },
    { weight: 6, arbitrary: mmapArb(b) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('munmap' as const), who: whoArb, a: addrArb(50), n: nArb }) },
    { weight: 3, arbitrary: fc.record({ t: fc.constant('mprotect' as const), who: whoArb, a: addrArb(80), n: nArb, prot: protArb }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('dontneed' as const), who: whoArb, a: addrArb(80), n: nArb }) },
    { weight: 3, arbitrary: fc.record({ t: fc.constant('keyprot' as const), who: whoArb, a: addrArb(80), n: nArb, prot: protArb, key: keyArb, flags: fc.nat(3) }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('keyalloc' as const), who: whoArb, rights: fc.nat(3) }) },
    { weight: 3, arbitrary: fc.record({ t: fc.constant('keyset' as const), who: whoArb, key: keyArb, rights: fc.nat(3) }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('unprotect' as const), who: whoArb, a: addrArb(60), n: nArb }) },
    { weight: 3, arbitrary: swapArb(b) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('reclaim' as const), n: fc.integer({ min: 1, max: 32 }) }) },
    ...(b.fork > 0 ? [{ weight: b.fork, arbitrary: fc.record({ t: fc.constant('fork' as const), who: whoArb, cpu: fc.nat(2) }) }] : []),
    { weight: 1, arbitrary: fc.record({ t: fc.constant('exit' as const), who: whoArb }) },
    { weight: 3, arbitrary: fc.record({ t: fc.constant('thread' as const), who: whoArb, cpu: fc.nat(2) }) },
    ...(b.conc > 0 ? [{ weight: b.conc, arbitrary: concArb }] : []),
    ...(b.oomAdj > 0 ? [{ weight: b.oomAdj, arbitrary: fc.record({ t: fc.constant('oomadj' as const), who: whoArb, value: oomAdjArb }) }] : []),
  );
}

/** Which machines a block runs on. */
export interface MachineSpace {
  readonly os: readonly Os[];
  readonly memory: readonly number[];
  readonly swap: readonly number[];
  /** Variants: none mostly; each one sometimes. */
  readonly variants: boolean;
}

export const MEMORY = [96 * KiB, 128 * KiB, 192 * KiB, 256 * KiB, 512 * KiB, 1 * MiB];
export const SWAP = [0, 256 * KiB, 4 * MiB];

export function configArb(space: MachineSpace): fc.Arbitrary<Config> {
  return fc
    .record({
      os: fc.constantFrom(...space.os),
      variantPick: fc.nat(15),
      cpus: fc.constantFrom(2, 3),
      memory: fc.constantFrom(...space.memory),
      swap: fc.constantFrom(...space.swap),
      tlbEntries: fc.constantFrom(16, 64, 1024),
      placement: fc.array(fc.nat(2), { minLength: 2, maxLength: 4 }),
    })
    .map((c) => {
      const own = VARIANTS.filter((v) => v.os === c.os).map((v) => v.name);
      const variants = space.variants && c.variantPick < own.length * 2 ? [own[c.variantPick % own.length]] : [];
      return { os: c.os, variants, cpus: c.cpus, memory: c.memory, swap: c.swap, tlbEntries: c.tlbEntries, placement: c.placement.map((x) => x % c.cpus) };
    });
}

/** A few mappings first, so that most accesses land on something; then anything. */
export function opsArb(b: Bias, minLength: number, maxLength: number): fc.Arbitrary<Op[]> {
  return fc
    .tuple(fc.array(mmapArb(b), { minLength: 1, maxLength: 4 }), fc.array(opArb(b), { minLength: minLength, maxLength, size: 'max' }))
    .map(([first, rest]) => [...first, ...rest]);
}

/**
 * Benchmark case (h): switching a range's rights through its protection key two ways,
 * per call, under each personality, over 1, 512 and 262144 resident pages:
 *
 *   toggle      PKRU write-disable on/off for the range's key by WRPKRU — pkey_set(3)
 *               under linux, x86_pkru_set_perm(3) under freebsd. A register write:
 *               no page-table entry changes and no TLB flush, whatever the range's size.
 *   key change  the range moved to the other of two keys — pkey_mprotect(2) under linux,
 *               x86_pkru_protect_range(3) under freebsd. Every PTE of the range is
 *               rewritten, then the range is flushed: one INVLPG per page up to the
 *               33-page ceiling (FLUSH_CEILING_PAGES), one whole-PCID flush above it.
 *
 * Each (pages, personality) pair is one {@link CaseResult} with id h<pages>.<os>
 * (h1.linux, h512.freebsd, h256k.linux, ...): nsPerOp is the key change per call and
 * `extra` holds the toggle's time, the ratio and the TLB flushes per call, counted from
 * the CPUs' counters over every call made (calibration and warm-up included). There is
 * no native counterpart: PKRU cannot be relied on in the native C bench on this machine.
 *
 * ./main.ts runs this case and reports it; the helpers shared with it come from ./common.ts.
 */
import { Machine, PKEY_DISABLE_WRITE, type Personality, type SysResult } from '../src/index.js';
import { PAGE_SIZE } from '../src/hw/pte.js';
import { ANON, fmt, MiB, ok, RW, sumCpuCounters, table, timeOps, touchPages, type CaseResult, type Row, type Sizes } from './common.js';

/** The personalities case (h) runs under, in report order. */
export const KEY_PERSONALITIES: readonly Personality[] = ['linux', 'freebsd'];

/** Label of a page count: 1 → h1, 512 → h512, 262144 → h256k (k = 1024 pages). */
export function hLabel(pages: number): string {
  return pages >= 1024 && pages % 1024 === 0 ? `h${pages / 1024}k` : `h${pages}`;
}

/** Case id of one (pages, personality) pair: h512.linux. */
export function hId(pages: number, os: Personality): string {
  return `${hLabel(pages)}.${os}`;
}

/** Whether `id` names a case-(h) result. */
export function isKeyCaseId(id: string): boolean {
  return /^h\d+k?\.(linux|freebsd)$/.test(id);
}

/** The CPU counters case (h) reads, summed over the machine's CPUs. */
const FLUSH_COUNTERS = ['flushes', 'fullFlushes', 'ipisSent', 'keyRegisterWrites'] as const;

/**
 * Key changes per tinybench sample: `mprotectBatch` for small ranges, fewer as the range
 * grows (a key change costs about a PTE write per page), down to one call per sample.
 */
export function keyChangeBatch(sizes: Sizes, pages: number): number {
  return Math.max(1, Math.min(sizes.mprotectBatch, Math.floor((64 * 1024) / pages)));
}

/**
 * (h) for one range size and personality: a fresh single-CPU machine maps `pages`
 * anonymous RW pages, stores into each (so every PTE is present and a key change
 * rewrites it), gives the range key k1, then times the PKRU toggle of k1 and the key
 * change k1 ↔ k2 (alternating, so every call changes every PTE). Checks afterwards that
 * the pages stayed resident and every PTE carries the last key set.
 */
export function caseKeyChange(sizes: Sizes, os: Personality, pages: number): CaseResult {
  const id = hId(pages, os);
  const len = pages * PAGE_SIZE;
  const m = new Machine({ os, memory: Math.max(64 * MiB, 2 * len), invariants: 'off' });
  const p = m.spawn(`keys-${id}`);
  const t = p.main;
  const a = ok(t.mmap(0, len, RW, ANON), 'mmap');
  touchPages(t, a, pages);
  if (p.resident !== pages) throw new Error(`bench (${id}): ${p.resident} pages resident, expected ${pages}`);

  const linux = os === 'linux';
  const k1 = linux ? ok(t.pkeyAlloc(0, 0), 'pkey_alloc') : 1;
  const k2 = linux ? ok(t.pkeyAlloc(0, 0), 'pkey_alloc') : 2;
  const setKey = linux ? (key: number): SysResult => t.pkeyMprotect(a, len, RW, key) : (key: number): SysResult => t.pkruProtectRange(a, len, key, 0);
  const writeDisable = linux
    ? (on: boolean): unknown => t.pkeySet(k1, on ? PKEY_DISABLE_WRITE : 0)
    : (on: boolean): unknown => t.pkruSetPerm(k1, true, !on);
  ok(setKey(k1), linux ? 'pkey_mprotect' : 'x86_pkru_protect_range');
  const vmas = p.mapCount;

  // (1) PKRU toggle: write-disable for k1 on, off, on, ... — a WRPKRU each.
  let wd = false;
  let toggles = 0;
  const t0 = sumCpuCounters(m, FLUSH_COUNTERS);
  const toggle = timeOps(`${id} toggle`, sizes.tlbHitBatch, sizes, (count) => {
    for (let i = 0; i < count; i++) {
      wd = !wd;
      if (writeDisable(wd) !== 0) throw new Error(`bench (${id}): PKRU toggle failed`);
    }
    toggles += count;
  });
  const t1 = sumCpuCounters(m, FLUSH_COUNTERS);
  const wdBit = 2 << (2 * k1);
  if ((t.pkru & wdBit) !== (wd ? wdBit : 0)) throw new Error(`bench (${id}): PKRU 0x${t.pkru.toString(16)} does not hold the last toggle`);
  if (wd) writeDisable(false);

  // (2) key change: the whole range to k2, back to k1, ... — every PTE rewritten, then a flush.
  let key = k1;
  let changes = 0;
  const c0 = sumCpuCounters(m, FLUSH_COUNTERS);
  const change = timeOps(`${id} key change`, keyChangeBatch(sizes, pages), sizes, (count) => {
    for (let i = 0; i < count; i++) {
      key = key === k1 ? k2 : k1;
      if (setKey(key) !== 0) throw new Error(`bench (${id}): key change failed`);
    }
    changes += count;
  });
  const c1 = sumCpuCounters(m, FLUSH_COUNTERS);

  if (p.resident !== pages) throw new Error(`bench (${id}): ${p.resident} pages resident after the run, expected ${pages}`);
  if (p.mapCount !== vmas) throw new Error(`bench (${id}): ${p.mapCount} VMAs after the run, ${vmas} before`);
  for (let i = 0; i < pages; i++) {
    const pte = p.pte(a + i * PAGE_SIZE);
    if (!pte.present || pte.key !== key) throw new Error(`bench (${id}): page ${i} has key ${pte.key} (present ${pte.present}), expected ${key}`);
  }

  const fullFlushes = (c1.fullFlushes - c0.fullFlushes) / changes;
  const flushes = (c1.flushes - c0.flushes) / changes;
  return {
    id,
    title: `${linux ? 'pkey_mprotect' : 'x86_pkru_protect_range'} key change of ${pages} pages (${os}), per call`,
    nsPerOp: change.nsPerOp,
    ops: change.batch,
    samples: change.samples,
    extra: {
      pages,
      toggleNs: toggle.nsPerOp,
      keyChangeNs: change.nsPerOp,
      ratio: change.nsPerOp / toggle.nsPerOp,
      // Local invalidations per key change: INVLPGs plus whole-PCID flushes.
      flushesPerKeyChange: flushes,
      pageFlushesPerKeyChange: flushes - fullFlushes,
      fullFlushesPerKeyChange: fullFlushes,
      ipisPerKeyChange: (c1.ipisSent - c0.ipisSent) / changes,
      flushesPerToggle: (t1.flushes - t0.flushes) / toggles,
      keyRegisterWritesPerToggle: (t1.keyRegisterWrites - t0.keyRegisterWrites) / toggles,
      toggleOps: toggle.batch,
      toggleSamples: toggle.samples,
      toggleRmePercent: toggle.rme,
      rmePercent: change.rme,
    },
  };
}

/** The summary row of one case-(h) result: key change ÷ PKRU toggle. */
export function keyChangeRow(r: CaseResult): Row {
  const os = r.id.slice(r.id.indexOf('.') + 1);
  const pages = r.extra['pages'];
  return {
    id: r.id,
    what: `key change / PKRU toggle, ${pages} page${pages === 1 ? '' : 's'} (${os})`,
    unit: 'ratio',
    mmsim: r.extra['ratio'],
    native: undefined,
    ratio: undefined,
    target: '-',
    status: '-',
  };
}

/** The case-(h) table of a report, or undefined when no case-(h) result is there. */
export function formatKeyChangeTable(results: readonly CaseResult[]): string | undefined {
  const hs = results.filter((r) => isKeyCaseId(r.id));
  if (hs.length === 0) return undefined;
  const lines = hs.map((r) => [
    String(r.extra['pages']),
    r.id.slice(r.id.indexOf('.') + 1),
    fmt(r.extra['toggleNs'], 2),
    fmt(r.extra['keyChangeNs'], 2),
    fmt(r.extra['ratio'], 2),
    fmt(r.extra['pageFlushesPerKeyChange'], 2),
    fmt(r.extra['fullFlushesPerKeyChange'], 2),
    fmt(r.extra['flushesPerToggle'], 2),
  ]);
  return [
    'protection keys (h): PKRU toggle (pkey_set / x86_pkru_set_perm: WRPKRU) vs key change (pkey_mprotect / x86_pkru_protect_range: PTE rewrite + flush), per call:',
    table(['pages', 'os', 'PKRU toggle ns', 'key change ns', 'change/toggle', 'INVLPG/change', 'full flush/change', 'flushes/toggle'], lines, new Set([0, 2, 3, 4, 5, 6, 7])),
  ].join('\n');
}

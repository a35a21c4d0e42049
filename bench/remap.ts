/**
 * Benchmark case (i), issue 5 item 5: remapping single pages of a shared file mapping to
 * other file pages, each with a protection of its own, in two designs:
 *
 *   MANYPROTS   the VM_MANYPROTS series (variant rfp-manyprots): one call per page,
 *               remap_file_pages(page, 4096, prot, pgoff, MAP_CHGPROT). The window stays
 *               one VMA; each page's file page and protection live in its PTE, which the
 *               call installs (the file pages are in the page cache).
 *   mainline    Linux ≥ 4.0, which emulates remap_file_pages() by mmap(MAP_FIXED) of the
 *               file at the new offset: remap_file_pages(page, 4096, 0, pgoff, 0) (prot
 *               must be 0; the page keeps the VMA's protection), then mprotect(page, 4096,
 *               prot) for its own protection — two calls per page, and every page becomes
 *               a VMA of its own, so max_map_count must allow one per page.
 *
 * Both run the same plan: a window of N pages (PROT_NONE, MAP_SHARED) over an N-page
 * file whose page k holds k + 1 in its first word (stamped through a linear mapping
 * before timing, so every file page is in the page cache); window page i goes to file
 * page perm[i] (a seeded permutation) with protection r--, rw- or --- chosen pseudo-
 * randomly but never equal to page i-1's, so no two neighbouring VMAs can merge. Then
 * every readable page is touched: a 4-byte load, checked against perm[i] + 1 (MANYPROTS:
 * a TLB miss and a walk; mainline: a minor fault, since mprotect() populates nothing).
 *
 * Each design is one {@link CaseResult}, i.manyprots and i.mainline: nsPerOp is the time
 * to remap one page (mainline: the remap_file_pages + mprotect pair), the median of
 * `reps` one-shot repetitions on the same machine (a fresh window each time, the page
 * cache kept, as mmbench does); `extra` has the totals, the touch, the VMA count and
 * the counts that tell the designs apart. The window is checked after every repetition:
 * its VMA count, and each page's file page and protection (from the PTE under
 * MANYPROTS, from the page's own VMA under mainline). mmbench's case i runs the mainline
 * sequence on this machine's kernel (a memfd window; vm.max_map_count is raised for the
 * run when it can be, else fewer pages are used and the report says so); MANYPROTS was
 * never merged, so it has no native counterpart.
 *
 * ./main.ts runs this case and reports it; the helpers shared with it come from ./common.ts.
 */
import { release } from 'node:os';
import { isErrno, Machine, MAP_CHGPROT, MAP_SHARED, O_RDWR, PROT_NONE, PROT_READ, type ProcessHandle, type SysResult, type ThreadHandle } from '../src/index.js';
import { PAGE_SIZE } from '../src/hw/pte.js';
import { VM_MANYPROTS } from '../src/mm/vma.js';
import { elapsedNs, fmt, median, MiB, nowNs, ok, prng, RW, store, table, type CaseResult, type Row, type Sizes } from './common.js';
import { type NativeResult } from './native.js';

/** The two designs case (i) compares, in report order. */
export type RemapDesignName = 'manyprots' | 'mainline';
export const REMAP_DESIGNS: readonly RemapDesignName[] = ['manyprots', 'mainline'];

/** Protections of the plan, by index: ---, r--, rw-. mmbench's case i uses the same order. */
export const REMAP_PROTS: readonly number[] = [PROT_NONE, PROT_READ, RW];
const PROT_NAMES = ['---', 'r--', 'rw-'];

/** Seed of the plan's PRNG (mulberry32, common.ts prng()); mmbench's case i uses the same seed and generator. */
export const REMAP_SEED = 0x5eed0005;

/** Case id of one design: i.manyprots, i.mainline. */
export function iId(design: RemapDesignName): string {
  return `i.${design}`;
}

/** Whether `id` names a case-(i) result. */
export function isRemapCaseId(id: string): boolean {
  return /^i\.(manyprots|mainline)$/.test(id);
}

/** What to do to each window page: its file page and the index of its protection in {@link REMAP_PROTS}. */
export interface RemapPlan {
  readonly pages: number;
  /** perm[i]: the file page window page i shows (a permutation of 0 .. pages-1). */
  readonly perm: Int32Array;
  /** prot[i]: index into REMAP_PROTS; prot[i] !== prot[i-1]. */
  readonly prot: Uint8Array;
}

/**
 * The plan for `pages` pages: a Fisher–Yates permutation (j = next() % (i + 1), i from
 * pages-1 down to 1), then prot[0] = next() % 3 and prot[i] = (prot[i-1] + 1 + (next() & 1)) % 3,
 * drawn in that order from prng(seed) — mmbench's case i draws the same sequence.
 */
export function remapPlan(pages: number, seed = REMAP_SEED): RemapPlan {
  const next = prng(seed);
  const perm = new Int32Array(pages);
  for (let i = 0; i < pages; i++) perm[i] = i;
  for (let i = pages - 1; i > 0; i--) {
    const j = next() % (i + 1);
    const x = perm[i];
    perm[i] = perm[j];
    perm[j] = x;
  }
  const prot = new Uint8Array(pages);
  if (pages > 0) prot[0] = next() % 3;
  for (let i = 1; i < pages; i++) prot[i] = (prot[i - 1] + 1 + (next() & 1)) % 3;
  return { pages, perm, prot };
}

/** A machine of one design with the plan's file, stamped and in the page cache. */
export interface RemapRig {
  readonly design: RemapDesignName;
  readonly m: Machine;
  readonly p: ProcessHandle;
  readonly t: ThreadHandle;
  readonly fd: number;
  readonly plan: RemapPlan;
}

/** The machine's max_map_count for `pages` pages: room for one VMA per page, twice over. */
export function remapMaxMapCount(pages: number): number {
  return 2 * pages + 1000;
}

/** The file's path in the model. */
export const REMAP_FILE = '/uml';

/**
 * A single-CPU linux machine of `design` with room for the plan's file pages and one VMA
 * per page (maxMapCount 2 × pages + 1000, as one would raise vm.max_map_count), the
 * N-page file /uml opened O_RDWR, and file page k stamped with k + 1 (a 4-byte store
 * through a linear MAP_SHARED mapping, unmapped again; the pages stay in the page cache).
 */
export function remapRig(design: RemapDesignName, plan: RemapPlan): RemapRig {
  const len = plan.pages * PAGE_SIZE;
  const m = new Machine({
    os: 'linux',
    variants: design === 'manyprots' ? ['rfp-manyprots'] : [],
    memory: Math.max(64 * MiB, 2 * len + 64 * MiB),
    maxMapCount: remapMaxMapCount(plan.pages),
    invariants: 'off',
  });
  m.createFile(REMAP_FILE, len);
  const p = m.spawn(`remap-${design}`);
  const t = p.main;
  const fd = ok(t.open(REMAP_FILE, O_RDWR), 'open');
  const lin = ok(t.mmap(0, len, RW, MAP_SHARED, fd, 0), 'mmap (linear)');
  for (let k = 0; k < plan.pages; k++) store(t, lin + k * PAGE_SIZE, k + 1, 4);
  ok(t.munmap(lin, len), 'munmap (linear)');
  return { design, m, p, t, fd, plan };
}

/** Maps the whole N-page window PROT_NONE, MAP_SHARED over the file; returns its address. */
export function mapWindow(rig: RemapRig): number {
  return ok(rig.t.mmap(0, rig.plan.pages * PAGE_SIZE, PROT_NONE, MAP_SHARED, rig.fd, 0), 'mmap (window)');
}

/**
 * Remaps window pages 0 .. count-1 as the plan says, in the rig's design; returns the
 * nanoseconds it took. MANYPROTS: one remap_file_pages(MAP_CHGPROT) per page; mainline:
 * remap_file_pages(prot 0) then mprotect per page.
 */
export function remapPages(rig: RemapRig, window: number, count = rig.plan.pages): number {
  const { t, plan } = rig;
  const { perm, prot } = plan;
  let r: SysResult = 0;
  if (rig.design === 'manyprots') {
    const t0 = nowNs();
    for (let i = 0; i < count; i++) {
      if ((r = t.remapFilePages(window + i * PAGE_SIZE, PAGE_SIZE, REMAP_PROTS[prot[i]], perm[i], MAP_CHGPROT)) !== 0) throw remapFailure(rig, window, i, 'remap_file_pages(MAP_CHGPROT)', r);
    }
    return elapsedNs(t0);
  }
  const t0 = nowNs();
  for (let i = 0; i < count; i++) {
    const va = window + i * PAGE_SIZE;
    if ((r = t.remapFilePages(va, PAGE_SIZE, 0, perm[i], 0)) !== 0) throw remapFailure(rig, window, i, 'remap_file_pages', r);
    if ((r = t.mprotect(va, PAGE_SIZE, REMAP_PROTS[prot[i]])) !== 0) throw remapFailure(rig, window, i, 'mprotect', r);
  }
  return elapsedNs(t0);
}

function remapFailure(rig: RemapRig, window: number, i: number, what: string, r: SysResult): Error {
  const va = window + i * PAGE_SIZE;
  const why = isErrno(r) ? r.name : `return value ${r}`;
  return new Error(`bench (${iId(rig.design)}): ${what} of window page ${i} (0x${va.toString(16)}) failed with ${why}; ${rig.p.mapCount} VMAs, maxMapCount ${remapMaxMapCount(rig.plan.pages)}`);
}

/**
 * Loads the first word of every readable window page among 0 .. count-1, checking that
 * it holds perm[i] + 1 (the file page the plan put there); returns the nanoseconds it
 * took and the pages touched.
 */
export function touchWindow(rig: RemapRig, window: number, count = rig.plan.pages): { ns: number; touched: number } {
  const { t, plan } = rig;
  const { perm, prot } = plan;
  let touched = 0;
  const t0 = nowNs();
  for (let i = 0; i < count; i++) {
    if (prot[i] === 0) continue;
    const v = t.load(window + i * PAGE_SIZE, 4);
    if (v !== perm[i] + 1) throw new Error(`bench (${iId(rig.design)}): window page ${i} read ${typeof v === 'number' ? v : `${v.signal} (${v.code})`}, expected file page ${perm[i]}'s stamp ${perm[i] + 1}`);
    touched++;
  }
  return { ns: elapsedNs(t0), touched };
}

/** What {@link checkWindow} found. */
export interface WindowState {
  /** VMAs covering the window. */
  readonly vmas: number;
  /** Window pages whose entry maps a frame (present or PROT_NONE). */
  readonly ptes: number;
}

/**
 * Checks that window pages 0 .. count-1 show their planned file page with their planned
 * protection, and counts the window's VMAs and mapped entries. MANYPROTS: one VMA, with
 * VM_MANYPROTS, over the whole window; each entry maps file page perm[i] — PROT_NONE-
 * encoded for ---, present read-only for r--, present writable for rw-. Mainline: page i
 * is a VMA of its own with protection prot[i] at file page perm[i]; when `touched`, each
 * readable page's entry maps file page perm[i], writable never for r--.
 */
export function checkWindow(rig: RemapRig, window: number, count: number, touched: boolean): WindowState {
  const { p, plan } = rig;
  const { perm, prot } = plan;
  const mm = p.process.mm;
  const id = iId(rig.design);
  const end = window + plan.pages * PAGE_SIZE;
  let vmas = 0;
  for (let v = mm.vmaAt(window); v !== undefined && v.start < end; v = v.nextSpan) vmas++;
  let ptes = 0;
  const fail = (i: number, what: string): Error => new Error(`bench (${id}): window page ${i} (${PROT_NAMES[prot[i]]} at file page ${perm[i]}): ${what}`);
  for (let i = 0; i < count; i++) {
    const va = window + i * PAGE_SIZE;
    const pte = p.pte(va);
    if (pte.pfn >= 0) ptes++;
    const vma = mm.vmaAt(va);
    if (vma === undefined) throw fail(i, 'no VMA');
    if (rig.design === 'manyprots') {
      if (vma.start !== window || vma.end !== end || !(vma.flags & VM_MANYPROTS)) throw fail(i, `in VMA 0x${vma.start.toString(16)}-0x${vma.end.toString(16)} flags 0x${vma.flags.toString(16)}, not the whole window with VM_MANYPROTS`);
      if (pte.pgoff !== perm[i]) throw fail(i, `entry maps file page ${pte.pgoff}`);
      const want = prot[i] === 0 ? pte.protnone && !pte.present : pte.present && pte.writable === (prot[i] === 2);
      if (!want) throw fail(i, `entry present=${pte.present} protnone=${pte.protnone} writable=${pte.writable}`);
    } else {
      if (vma.start !== va || vma.end !== va + PAGE_SIZE) throw fail(i, `in VMA 0x${vma.start.toString(16)}-0x${vma.end.toString(16)}, not one of its own`);
      if (vma.prot !== REMAP_PROTS[prot[i]]) throw fail(i, `VMA protection ${vma.prot}`);
      if (vma.pgoffAt(va) !== perm[i]) throw fail(i, `VMA maps file page ${vma.pgoffAt(va)}`);
      if (touched && prot[i] !== 0) {
        if (!pte.present || pte.pgoff !== perm[i]) throw fail(i, `after the touch: entry present=${pte.present} maps file page ${pte.pgoff}`);
        if (prot[i] === 1 && pte.writable) throw fail(i, 'after the touch: r-- page writable');
      }
    }
  }
  return { vmas, ptes };
}

/**
 * (i) for one design: a rig over `remapPages` pages, then `reps` repetitions of: map the
 * window, remap every page (timed), check, touch every readable page (timed), check,
 * unmap. Reports the median repetition of each timed part.
 */
export function caseRemap(sizes: Sizes, design: RemapDesignName): CaseResult {
  const id = iId(design);
  const plan = remapPlan(sizes.remapPages);
  const n = plan.pages;
  const rig = remapRig(design, plan);
  const remap: number[] = [];
  const touch: number[] = [];
  const both: number[] = [];
  let touched = 0;
  let after: WindowState = { vmas: 0, ptes: 0 };
  let faults = 0;
  for (let rep = 0; rep < sizes.reps; rep++) {
    const window = mapWindow(rig);
    const remapNs = remapPages(rig, window);
    after = checkWindow(rig, window, n, false);
    const expectVmas = design === 'manyprots' ? 1 : n;
    if (after.vmas !== expectVmas) throw new Error(`bench (${id}): ${after.vmas} VMAs over the window after remapping, expected ${expectVmas}`);
    const f0 = rig.p.counters['minorFaults'];
    const tw = touchWindow(rig, window);
    faults = rig.p.counters['minorFaults'] - f0;
    checkWindow(rig, window, n, true);
    ok(rig.t.munmap(window, n * PAGE_SIZE), 'munmap (window)');
    remap.push(remapNs);
    touch.push(tw.ns);
    both.push(remapNs + tw.ns);
    touched = tw.touched;
  }
  const remapNs = median(remap);
  const touchNs = median(touch);
  return {
    id,
    title: design === 'manyprots' ? `remap_file_pages(MAP_CHGPROT) of 1 page of ${n} (MANYPROTS)` : `remap_file_pages + mprotect of 1 page of ${n} (mainline)`,
    nsPerOp: remapNs / n,
    ops: n,
    samples: remap.length,
    extra: {
      pages: n,
      syscallsPerPage: design === 'manyprots' ? 1 : 2,
      totalNs: remapNs,
      minNsPerOp: Math.min(...remap) / n,
      maxNsPerOp: Math.max(...remap) / n,
      vmas: after.vmas,
      ptesAfterRemap: after.ptes,
      touchedPages: touched,
      touchTotalNs: touchNs,
      touchNsPerPage: touched > 0 ? touchNs / touched : 0,
      faultsPerTouchedPage: touched > 0 ? faults / touched : 0,
      remapTouchTotalNs: median(both),
    },
  };
}

/** The summary row of one case-(i) result; the mainline row carries mmbench's case i. */
export function remapRow(r: CaseResult, native: NativeResult | undefined): Row {
  const mainline = r.id === iId('mainline');
  const nat = mainline ? native?.nsPerOp : undefined;
  const samePages = native !== undefined && native.ops === r.extra['pages'];
  return {
    id: r.id,
    what: `${mainline ? 'remap_file_pages + mprotect' : 'remap_file_pages(MAP_CHGPROT)'}, per page of ${r.extra['pages']}; ${r.extra['vmas']} VMA${r.extra['vmas'] === 1 ? '' : 's'} after${mainline && native !== undefined && !samePages ? ` (native: ${native.ops} pages)` : ''}`,
    unit: 'ns/page',
    mmsim: r.nsPerOp,
    native: nat,
    ratio: nat !== undefined && nat > 0 ? r.nsPerOp / nat : undefined,
    target: '-',
    status: '-',
  };
}

/** The side-by-side case-(i) table of a report, or undefined when no case-(i) result is there. */
export function formatRemapTable(results: readonly CaseResult[], native: readonly NativeResult[]): string | undefined {
  const many = results.find((r) => r.id === iId('manyprots'));
  const main = results.find((r) => r.id === iId('mainline'));
  if (many === undefined && main === undefined) return undefined;
  const nat = native.find((x) => x.case === 'i');
  const n = (many ?? main)!.extra['pages'];
  const reps = (many ?? main)!.samples;
  const x = (r: CaseResult | undefined, k: string): number | undefined => (r === undefined ? undefined : k === 'nsPerOp' ? r.nsPerOp : r.extra[k]);
  const ms = (v: number | undefined): string => (v === undefined ? '-' : `${fmt(v / 1e6, 1)} ms`);
  const ns = (v: number | undefined): string => (v === undefined ? '-' : `${fmt(v, 1)} ns`);
  const count = (v: number | undefined): string => (v === undefined ? '-' : String(v));
  const ratio = (a: number | undefined, b: number | undefined): string => (a === undefined || b === undefined || !(b > 0) ? '-' : Number.isInteger(a / b) ? `${a / b}×` : `${fmt(a / b, 2)}×`);
  const natTotal = nat?.extra['total_ns'];
  const natTouch = nat?.extra['touch_ns_per_page'];
  const natTouchTotal = nat?.extra['touch_total_ns'];
  const natBoth = nat?.extra['remap_touch_total_ns'];
  const natPages = nat?.ops;
  // Totals are compared with the native figure only when both ran the same number of pages.
  const same = natPages !== undefined && natPages === main?.extra['pages'];
  const lines: string[][] = [
    ['syscalls per page', many ? '1: rfp(MAP_CHGPROT)' : '-', main ? '2: rfp + mprotect' : '-', many && main ? '2×' : '-', nat ? '2: rfp + mprotect' : '-', '-'],
    ['remap, all pages', ms(x(many, 'totalNs')), ms(x(main, 'totalNs')), ratio(x(main, 'totalNs'), x(many, 'totalNs')), ms(natTotal), same ? ratio(x(main, 'totalNs'), natTotal) : '-'],
    ['remap, per page', ns(x(many, 'nsPerOp')), ns(x(main, 'nsPerOp')), ratio(x(main, 'nsPerOp'), x(many, 'nsPerOp')), ns(nat?.nsPerOp), ratio(x(main, 'nsPerOp'), nat?.nsPerOp)],
    ['VMAs over the window after', count(x(many, 'vmas')), count(x(main, 'vmas')), ratio(x(main, 'vmas'), x(many, 'vmas')), count(nat?.extra['vmas']), '-'],
    ['entries the remap installed', count(x(many, 'ptesAfterRemap')), count(x(main, 'ptesAfterRemap')), '-', '-', '-'],
    ['touch: load per readable page', ns(x(many, 'touchNsPerPage')), ns(x(main, 'touchNsPerPage')), ratio(x(main, 'touchNsPerPage'), x(many, 'touchNsPerPage')), ns(natTouch), ratio(x(main, 'touchNsPerPage'), natTouch)],
    ['touch: faults per page touched', fmt(x(many, 'faultsPerTouchedPage'), 2), fmt(x(main, 'faultsPerTouchedPage'), 2), '-', '-', '-'],
    ['touch, all readable pages', ms(x(many, 'touchTotalNs')), ms(x(main, 'touchTotalNs')), ratio(x(main, 'touchTotalNs'), x(many, 'touchTotalNs')), ms(natTouchTotal), same ? ratio(x(main, 'touchTotalNs'), natTouchTotal) : '-'],
    ['remap + touch, all pages', ms(x(many, 'remapTouchTotalNs')), ms(x(main, 'remapTouchTotalNs')), ratio(x(main, 'remapTouchTotalNs'), x(many, 'remapTouchTotalNs')), ms(natBoth), same ? ratio(x(main, 'remapTouchTotalNs'), natBoth) : '-'],
  ];
  const natHeader = nat === undefined ? 'native mainline' : `native mainline (Linux ${release()}${same ? '' : `, ${natPages} pages`})`;
  const out = [
    `remap_file_pages with per-page protections (i): ${n} single pages of a ${n}-page shared file, each to a file page of a seeded permutation with its own`,
    `protection (r--, rw-, ---; neighbours always differ); median of ${reps} repetitions. MANYPROTS: remap_file_pages(page, 4096, prot, pgoff, MAP_CHGPROT);`,
    'mainline emulation: remap_file_pages(page, 4096, 0, pgoff, 0) + mprotect(page, 4096, prot). Touch: a 4-byte load from each readable page, value checked.',
    table(['', 'MANYPROTS (mmsim)', 'mainline (mmsim)', 'mainline/MANYPROTS', natHeader, 'mmsim/native (mainline)'], lines, new Set([1, 2, 3, 4, 5])),
  ];
  if (many && main) {
    out.push(
      `In short: ${n} pages with per-page protections — MANYPROTS ${fmt(many.extra['totalNs'] / 1e6, 1)} ms and ${many.extra['vmas']} VMA; ` +
        `mainline emulation ${fmt(main.extra['totalNs'] / 1e6, 1)} ms (${fmt(main.extra['totalNs'] / many.extra['totalNs'], 2)}×) and ${main.extra['vmas']} VMAs` +
        (nat !== undefined ? `; on this machine's Linux the mainline sequence took ${fmt(nat.nsPerOp, 1)} ns per page over ${nat.ops} pages (${nat.extra['vmas']} VMAs).` : '.'),
    );
  }
  if (nat !== undefined && !same) out.push(`(native ran ${natPages} pages, mmsim ${main?.extra['pages'] ?? '-'}: vm.max_map_count could not be raised, or the mmbench count differs; totals are not compared)`);
  return out.join('\n');
}

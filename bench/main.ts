/**
 * mmsim's benchmark (`npm run bench`): times the model's hot paths and the same
 * operations on this machine's real kernel (bench/native/mmbench.c, see
 * ./native.ts), in one run, and prints mmsim/native ratios.
 *
 *   (a) TLB-hit loads over 8 already-faulted pages            ns/access
 *   (b) loads that miss the 1024-entry TLB and walk            ns/access
 *   (c) demand-zero write faults over 256k pages (1 GiB)       ns/fault
 *   (d) fork of a populated 1 GiB process, child COW-writes    ns/page, fork ns
 *   (e) mmap + munmap of 4 KiB                                 ns/pair
 *   (f) mprotect of single pages in a 1024-page region         ns/call
 *   (g) mprotect in an address space of 1k vs 100k VMAs        ns/call, ratio
 *   (h) PKRU toggle vs key change (pkey_mprotect, x86_pkru_protect_range) over
 *       1, 512, 256k pages, linux and freebsd (./keys.ts)      ns/call, ratio, flushes
 *   (i) remap_file_pages of 100k single pages with per-page protections,
 *       MANYPROTS vs mainline's emulation (./remap.ts)         ns/page, VMAs, side by side
 *
 * plus the metadata bytes per resident page of the 256k-page case.
 *
 * Per-op cases (a, b, e, f, g, h) run under tinybench, each sample a batch of
 * operations; the figure is the median sample divided by the batch size.
 * One-shot cases (c, d, i) are timed with process.hrtime.bigint() and repeated;
 * the median repetition is reported, as mmbench does.
 *
 * Flags: --quick (small sizes: a smoke test), --json (one JSON document on
 * stdout), --no-native (skip mmbench), --only a,b,... (run these cases only;
 * for profiling one case, e.g. `node --cpu-prof dist/bench/main.js --only g100k`;
 * g and h select all their sizes, h512 both personalities, h512.linux one;
 * i both designs, i.mainline or i.manyprots one).
 */
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import v8 from 'node:v8';
import vm from 'node:vm';
import { Machine, PROT_NONE, PROT_READ, PROT_WRITE, ProcessHandle } from '../src/index.js';
import { LINE_SIZE } from '../src/hw/contentPool.js';
import { PhysMem } from '../src/hw/physMem.js';
import { ENTRIES_PER_TABLE, PAGE_SIZE } from '../src/hw/pte.js';
import { Vma } from '../src/mm/vma.js';
import { SpinLock } from '../src/step/locks.js';
import { ANON, elapsedNs, fmt, load, median, MiB, nowNs, ok, prng, RW, store, sumCpuCounters, table, timeOps, touchPages, type CaseResult, type Row, type Sizes } from './common.js';
import { caseKeyChange, formatKeyChangeTable, hId, hLabel, isKeyCaseId, KEY_PERSONALITIES, keyChangeRow } from './keys.js';
import { runNative, type NativeResult } from './native.js';
import { caseRemap, formatRemapTable, iId, isRemapCaseId, REMAP_DESIGNS, remapRow } from './remap.js';

// Re-exported: main.js still offers the types and helpers it exported before common.ts.
export { fmt, median, ok, prng, table, timeOps, touchPages, type CaseResult, type Row, type Sizes } from './common.js';

/** The CPU counters cases (a) and (b) read. */
const TLB_COUNTERS = ['tlbHits', 'tlbMisses', 'walks', 'pageFaults'] as const;

export const FULL_SIZES: Sizes = {
  name: 'full',
  tlbHitBatch: 8192,
  walkPages: 64 * 1024,
  faultPages: 256 * 1024,
  forkPages: 256 * 1024,
  pairBatch: 256,
  fPages: 1024,
  mprotectBatch: 256,
  gSmall: 1000,
  gLarge: 100_000,
  keyPages: [1, 512, 256 * 1024],
  remapPages: 100_000,
  reps: 5,
  benchTimeMs: 1000,
  benchIterations: 64,
  warmupTimeMs: 250,
  warmupIterations: 16,
  nativeArgs: ['all'],
};

export const QUICK_SIZES: Sizes = {
  name: 'quick',
  tlbHitBatch: 1024,
  walkPages: 4096,
  faultPages: 4096,
  forkPages: 2048,
  pairBatch: 32,
  fPages: 1024,
  mprotectBatch: 64,
  gSmall: 1000,
  gLarge: 4000,
  keyPages: [1, 512, 4096],
  remapPages: 2048,
  reps: 3,
  benchTimeMs: 10,
  benchIterations: 4,
  warmupTimeMs: 5,
  warmupIterations: 2,
  nativeArgs: ['c', '4096', 'd', '2048', 'e', '2000', 'f', '2048', 'g1k', '2000', 'i', '2048'],
};

// ---------------------------------------------------------------------------
// (a) TLB hits

/** (a) `t.load(a + (i & 7) * 4096)` over 8 faulted pages: every access hits the TLB. */
export function caseTlbHit(sizes: Sizes): CaseResult {
  const m = new Machine({ memory: 64 * MiB, invariants: 'off' });
  const t = m.spawn('tlb-hit').main;
  const a = ok(t.mmap(0, 8 * PAGE_SIZE, RW, ANON), 'mmap');
  touchPages(t, a, 8);
  for (let i = 0; i < 8; i++) load(t, a + i * PAGE_SIZE); // fill the TLB
  const batch = sizes.tlbHitBatch;
  let sink = 0;
  const before = sumCpuCounters(m, TLB_COUNTERS);
  const r = timeOps('a', batch, sizes, (count) => {
    let s = 0;
    for (let i = 0; i < count; i++) s += t.load(a + (i & 7) * 4096) as number;
    sink += s;
  });
  const after = sumCpuCounters(m, TLB_COUNTERS);
  const accesses = after.tlbHits + after.tlbMisses - before.tlbHits - before.tlbMisses;
  if (sink !== accesses) throw new Error(`bench (a): loads read ${sink}, expected one 1 per access (${accesses})`);
  return {
    id: 'a',
    title: 'TLB-hit load',
    nsPerOp: r.nsPerOp,
    ops: r.batch,
    samples: r.samples,
    extra: { rmePercent: r.rme, tlbHitRate: (after.tlbHits - before.tlbHits) / accesses },
  };
}

// ---------------------------------------------------------------------------
// (b) TLB misses

/** (b) One load per page over `walkPages` resident pages in sequence: each misses the TLB and walks. */
export function caseTlbMiss(sizes: Sizes): CaseResult {
  const pages = sizes.walkPages;
  const m = new Machine({ memory: Math.max(64 * MiB, 2 * pages * PAGE_SIZE), invariants: 'off' });
  const t = m.spawn('tlb-miss').main;
  const a = ok(t.mmap(0, pages * PAGE_SIZE, RW, ANON), 'mmap');
  touchPages(t, a, pages);
  let sink = 0;
  const before = sumCpuCounters(m, TLB_COUNTERS);
  // A cursor runs through the pages in sequence across samples, so even a short sample
  // never comes back to a page the TLB still holds.
  let next = 0;
  const r = timeOps('b', pages, sizes, (count) => {
    let s = 0;
    let i = next;
    for (let n = 0; n < count; n++) {
      s += t.load(a + i * 4096) as number;
      if (++i === pages) i = 0;
    }
    next = i;
    sink += s;
  });
  const after = sumCpuCounters(m, TLB_COUNTERS);
  const accesses = after.tlbHits + after.tlbMisses - before.tlbHits - before.tlbMisses;
  if (sink !== accesses) throw new Error(`bench (b): loads read ${sink}, expected one 1 per access (${accesses})`);
  if (after.pageFaults !== before.pageFaults) throw new Error('bench (b): loads of resident pages faulted');
  return {
    id: 'b',
    title: 'TLB-miss load (walk)',
    nsPerOp: r.nsPerOp,
    ops: r.batch,
    samples: r.samples,
    extra: { rmePercent: r.rme, pages, tlbMissRate: (after.tlbMisses - before.tlbMisses) / accesses, walksPerAccess: (after.walks - before.walks) / accesses },
  };
}

// ---------------------------------------------------------------------------
// (c) demand-zero faults, and the metadata figure

/** Bytes of metadata per resident page, from the machine's own counters; see {@link metadataPerPage}. */
export interface Metadata {
  readonly residentPages: number;
  readonly framesInUse: number;
  readonly pageTables: number;
  /** Page-table numbers the PageTables arrays have room for (they grow by doubling). */
  readonly pageTableCapacity: number;
  readonly vmas: number;
  /** PhysMem.METADATA_BYTES_PER_FRAME × frames in use (data, page-table and zero-page frames) ÷ resident pages. */
  readonly frameBytes: number;
  /** PTE words (lo + hi) of every live page table ÷ resident pages: the 8-byte PTE with page tables amortised. */
  readonly pteBytes: number;
  /** PageTables.linkGeneration (ghost state, one word per upper-level entry slot, whole array) ÷ resident pages. */
  readonly linkGenerationBytes: number;
  /** Per-table arrays (tablePfn, level, generation) ÷ resident pages. */
  readonly perTableBytes: number;
  /** Page-table spinlock objects (one per table that took a fault) ÷ resident pages. */
  readonly ptLockBytes: number;
  /** VMA objects ÷ resident pages. */
  readonly vmaBytes: number;
  /** Heap bytes of one SpinLock and one Vma, and whether they were measured (else fallbacks). */
  readonly spinLockObjectBytes: number;
  readonly vmaObjectBytes: number;
  readonly objectSizesMeasured: boolean;
  /** The sum of the above: the figure held to the ≤ 32-byte target. */
  readonly totalBytes: number;
  /** ContentPool line table of each page with contents (one 4-byte line id per line of the page) ÷ resident pages; not in the total. */
  readonly contentIndexBytes: number;
  /** ContentPool line bytes in use (lines holding non-zero data) ÷ resident pages; page data, not in the total. */
  readonly contentDataBytes: number;
  /** Measured growth of the JS heap + ArrayBuffers while the pages were faulted in, ÷ resident pages (includes garbage and array capacity slack). */
  readonly measuredHeapBytes: number;
}

/** V8 heap bytes of one SpinLock with its "ptl of table N" name, when no GC can be had to measure it (measured: ~96). */
const SPINLOCK_BYTES_FALLBACK = 96;
/** V8 heap bytes of one Vma with user-space addresses, when no GC can be had to measure it (measured: ~160). */
const VMA_BYTES_FALLBACK = 160;

let gcFn: (() => void) | null | undefined;

/** A full garbage collection, when one can be had: --expose-gc, or switched on at run time. */
function gc(): boolean {
  if (gcFn === undefined) {
    gcFn = null;
    const exposed = (globalThis as { gc?: () => void }).gc;
    if (typeof exposed === 'function') gcFn = exposed;
    else {
      try {
        v8.setFlagsFromString('--expose-gc');
        const f: unknown = vm.runInNewContext('gc');
        if (typeof f === 'function') gcFn = f as () => void;
      } catch {
        gcFn = null;
      }
    }
  }
  if (gcFn === null) return false;
  gcFn();
  return true;
}

/** Heap bytes of one object `make` returns, measured over `n` of them; undefined without a GC. */
export function measureObjectBytes(make: (i: number) => unknown, n = 20_000): number | undefined {
  const keep = new Array<unknown>(n).fill(null);
  if (!gc()) return undefined;
  gc();
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < n; i++) keep[i] = make(i);
  gc();
  gc();
  const bytes = (process.memoryUsage().heapUsed - before) / n;
  if (keep.length !== n) throw new Error('unreachable');
  return bytes > 0 ? bytes : undefined;
}

/** Heap bytes of a page-table lock and of a VMA: measured when a GC is available, else the fallbacks. */
function objectSizes(): { spinLock: number; vma: number; measured: boolean } {
  const spinLock = measureObjectBytes((i) => new SpinLock(`ptl of table ${i}`));
  const vma = measureObjectBytes((i) => new Vma(0x7f0000000000 + i * PAGE_SIZE, 0x7f0000001000 + i * PAGE_SIZE, PROT_READ | PROT_WRITE, 0x70, null, 0x7f0000000 + i));
  if (spinLock === undefined || vma === undefined) return { spinLock: SPINLOCK_BYTES_FALLBACK, vma: VMA_BYTES_FALLBACK, measured: false };
  return { spinLock, vma, measured: true };
}

/** Number of page-table locks the kernel has made (a private field of Kernel; 0 if it is renamed). */
function ptLockCount(m: Machine): number {
  const locks = (m.kernel as unknown as { ptLocks?: readonly unknown[] }).ptLocks;
  if (!Array.isArray(locks)) return 0;
  let n = 0;
  for (const l of locks as readonly unknown[]) if (l !== undefined) n++;
  return n;
}

/** Heap + ArrayBuffer bytes now (after a GC when node runs with --expose-gc). */
export function heapBytes(): number {
  gc();
  const u = process.memoryUsage();
  return u.heapUsed + u.arrayBuffers;
}

/**
 * Metadata bytes per resident page of process `p`, from real counters: frames in use,
 * live page tables (`m.counters().machine.pageTables`), the widths of the PageTables
 * arrays, page-table locks, VMAs and ContentPool contents.
 */
export function metadataPerPage(m: Machine, p: ProcessHandle, heapBefore = Number.NaN): Metadata {
  const heapAfter = heapBytes();
  const mem = m.hw.mem;
  const tables = m.hw.tables;
  const counters = m.counters().machine;
  const resident = p.resident;
  if (resident <= 0) throw new Error('bench: metadataPerPage() needs resident pages');
  const framesInUse = counters.frames - 1 - counters.freeFrames; // frame 0 is reserved, never free
  const liveTables = counters.pageTables;
  const slots = liveTables * ENTRIES_PER_TABLE;
  const frameBytes = (PhysMem.METADATA_BYTES_PER_FRAME * framesInUse) / resident;
  const pteBytes = (slots * (tables.lo.BYTES_PER_ELEMENT + tables.hi.BYTES_PER_ELEMENT)) / resident;
  // Only upper-level tables have a row of link generations; leaf-level tables link nothing.
  const linkGenerationBytes = (tables.linkGeneration.length * tables.linkGeneration.BYTES_PER_ELEMENT) / resident;
  const perTableBytes = (liveTables * (tables.tablePfn.BYTES_PER_ELEMENT + tables.level.BYTES_PER_ELEMENT + tables.generation.BYTES_PER_ELEMENT + tables.upperRow.BYTES_PER_ELEMENT)) / resident;
  const sizes = objectSizes();
  const ptLockBytes = (ptLockCount(m) * sizes.spinLock) / resident;
  const vmaBytes = (p.mapCount * sizes.vma) / resident;
  const contents = mem.content.contentsInUse;
  const linesPerPage = PAGE_SIZE / LINE_SIZE;
  return {
    residentPages: resident,
    framesInUse,
    pageTables: liveTables,
    pageTableCapacity: tables.lo.length / ENTRIES_PER_TABLE,
    vmas: p.mapCount,
    frameBytes,
    pteBytes,
    linkGenerationBytes,
    perTableBytes,
    ptLockBytes,
    vmaBytes,
    spinLockObjectBytes: sizes.spinLock,
    vmaObjectBytes: sizes.vma,
    objectSizesMeasured: sizes.measured,
    totalBytes: frameBytes + pteBytes + linkGenerationBytes + perTableBytes + ptLockBytes + vmaBytes,
    contentIndexBytes: (contents * linesPerPage * Int32Array.BYTES_PER_ELEMENT) / resident,
    contentDataBytes: counters.contentBytes / resident,
    measuredHeapBytes: (heapAfter - heapBefore) / resident,
  };
}

/**
 * (c) mmap 1 GiB anonymous private RW and store one byte per page: one demand-zero write
 * fault per page. Each repetition maps, faults and unmaps, like mmbench; the metadata
 * figure is taken in the first repetition, before its munmap.
 */
export function caseDemandZero(sizes: Sizes): { result: CaseResult; metadata: Metadata } {
  const pages = sizes.faultPages;
  const len = pages * PAGE_SIZE;
  const m = new Machine({ memory: Math.max(256 * MiB, 2 * len), invariants: 'off' });
  const p = m.spawn('demand-zero');
  const t = p.main;
  const times: number[] = [];
  let metadata: Metadata | undefined;
  for (let rep = 0; rep < sizes.reps; rep++) {
    const heapBefore = rep === 0 ? heapBytes() : Number.NaN;
    const a = ok(t.mmap(0, len, RW, ANON), 'mmap');
    const t0 = nowNs();
    for (let i = 0; i < pages; i++) store(t, a + i * 4096, 1);
    times.push(elapsedNs(t0));
    if (p.resident !== pages) throw new Error(`bench (c): ${p.resident} pages resident, expected ${pages}`);
    if (rep === 0) metadata = metadataPerPage(m, p, heapBefore);
    ok(t.munmap(a, len), 'munmap');
  }
  const total = median(times);
  return {
    result: {
      id: 'c',
      title: 'demand-zero write fault',
      nsPerOp: total / pages,
      ops: pages,
      samples: times.length,
      extra: { totalNs: total, minNsPerOp: Math.min(...times) / pages, maxNsPerOp: Math.max(...times) / pages },
    },
    metadata: metadata!,
  };
}

// ---------------------------------------------------------------------------
// (d) fork + COW

/**
 * (d) A parent with `forkPages` populated pages forks; the child stores one byte in each
 * page (a COW copy each) and exits. Like mmbench, the parent re-touches its pages before
 * every repetition (reuse faults, untimed), and the total covers fork, the child's writes
 * and its exit. Reports ns per page of the total, and fork, COW and exit separately.
 */
export function caseForkCow(sizes: Sizes): CaseResult {
  const pages = sizes.forkPages;
  const len = pages * PAGE_SIZE;
  // Parent and child copies: twice the pages, plus page tables.
  const m = new Machine({ memory: Math.max(256 * MiB, 2 * len + len / 2), invariants: 'off' });
  const parent = m.spawn('fork-parent');
  const t = parent.main;
  const a = ok(t.mmap(0, len, RW, ANON), 'mmap');
  const total: number[] = [];
  const fork: number[] = [];
  const cow: number[] = [];
  const exit: number[] = [];
  for (let rep = 0; rep < sizes.reps; rep++) {
    touchPages(t, a, pages);
    const t0 = nowNs();
    const child = t.fork();
    const t1 = nowNs();
    if (!(child instanceof ProcessHandle)) throw new Error(`bench (d): fork failed with ${String(child)}`);
    const ct = child.main;
    for (let i = 0; i < pages; i++) store(ct, a + i * 4096, 1);
    const t2 = nowNs();
    const copies = child.counters['cowCopies'];
    child.exit(0);
    const t3 = nowNs();
    if (copies !== pages) throw new Error(`bench (d): child made ${copies} COW copies, expected ${pages}`);
    fork.push(Number(t1 - t0));
    cow.push(Number(t2 - t1));
    exit.push(Number(t3 - t2));
    total.push(Number(t3 - t0));
  }
  const med = median(total);
  return {
    id: 'd',
    title: 'fork + child COW-writes every page (per page)',
    nsPerOp: med / pages,
    ops: pages,
    samples: total.length,
    extra: { totalNs: med, forkNs: median(fork), cowNsPerPage: median(cow) / pages, exitNs: median(exit), forkNsPerPage: median(fork) / pages },
  };
}

// ---------------------------------------------------------------------------
// (e) mmap + munmap

/** (e) mmap + munmap of one 4 KiB anonymous page, `pairBatch` pairs per sample. */
export function caseMmapMunmap(sizes: Sizes): CaseResult {
  const m = new Machine({ memory: 64 * MiB, invariants: 'off' });
  const t = m.spawn('mmap-munmap').main;
  const batch = sizes.pairBatch;
  const r = timeOps('e', batch, sizes, (count) => {
    for (let i = 0; i < count; i++) {
      const a = ok(t.mmap(0, 4096, RW, ANON), 'mmap');
      if (t.munmap(a, 4096) !== 0) throw new Error('bench (e): munmap failed');
    }
  });
  return { id: 'e', title: 'mmap + munmap 4 KiB (per pair)', nsPerOp: r.nsPerOp, ops: r.batch, samples: r.samples, extra: { rmePercent: r.rme } };
}

// ---------------------------------------------------------------------------
// (f) mprotect split/merge in a 1024-page region

/**
 * (f) mmbench's case f: a populated RW region of `fPages` pages between PROT_NONE guard
 * pages; for page k in turn, mprotect(PROT_READ) (a split) then mprotect(RW) (a merge).
 */
export function caseMprotectRegion(sizes: Sizes): CaseResult {
  const n = sizes.fPages;
  const m = new Machine({ memory: Math.max(64 * MiB, 4 * n * PAGE_SIZE), invariants: 'off' });
  const p = m.spawn('mprotect-f');
  const t = p.main;
  const guard = ok(t.mmap(0, (n + 2) * PAGE_SIZE, PROT_NONE, ANON), 'mmap');
  const base = guard + PAGE_SIZE;
  ok(t.mprotect(base, n * PAGE_SIZE, RW), 'mprotect');
  touchPages(t, base, n);
  const vmas = p.mapCount;
  let k = 0;
  // timeOps counts pairs of calls (split, then merge); the figure is per call.
  const r = timeOps('f', sizes.mprotectBatch >> 1, sizes, (pairs) => {
    for (let i = 0; i < pairs; i++) {
      const a = base + k * PAGE_SIZE;
      if (++k === n) k = 0;
      if (t.mprotect(a, 4096, PROT_READ) !== 0) throw new Error('bench (f): mprotect failed');
      if (t.mprotect(a, 4096, RW) !== 0) throw new Error('bench (f): mprotect failed');
    }
  });
  if (p.mapCount !== vmas) throw new Error(`bench (f): ${p.mapCount} VMAs after the run, ${vmas} before`);
  return { id: 'f', title: `mprotect 1 page of ${n}, split/merge (per call)`, nsPerOp: r.nsPerOp / 2, ops: r.batch * 2, samples: r.samples, extra: { rmePercent: r.rme, vmas } };
}

// ---------------------------------------------------------------------------
// (g) mprotect with many VMAs

/** Label of a VMA count: 1000 → g1k, 100000 → g100k. */
export function gId(vmas: number): string {
  return vmas % 1000 === 0 ? `g${vmas / 1000}k` : `g${vmas}`;
}

/**
 * (g) mmbench's case g: `vmas` populated pages alternating RW and R (so `vmas` VMAs)
 * between PROT_NONE guard pages; each pair of calls gives a random interior page its
 * neighbours' protection (the three VMAs merge) and then its own back (split into three).
 */
export function caseMprotectVmas(sizes: Sizes, vmas: number): CaseResult {
  const n = vmas;
  const m = new Machine({ maxMapCount: 1 << 20, memory: Math.max(64 * MiB, 4 * n * PAGE_SIZE), invariants: 'off' });
  const p = m.spawn(`mprotect-${gId(n)}`);
  const t = p.main;
  const guard = ok(t.mmap(0, (n + 2) * PAGE_SIZE, RW, ANON), 'mmap');
  const base = guard + PAGE_SIZE;
  touchPages(t, base, n);
  ok(t.mprotect(guard, PAGE_SIZE, PROT_NONE), 'mprotect (guard)');
  ok(t.mprotect(base + n * PAGE_SIZE, PAGE_SIZE, PROT_NONE), 'mprotect (guard)');
  for (let j = 1; j < n; j += 2) ok(t.mprotect(base + j * PAGE_SIZE, PAGE_SIZE, PROT_READ), 'mprotect (build)');
  const built = p.mapCount;
  if (built !== n + 2) throw new Error(`bench (${gId(n)}): ${built} VMAs built, expected ${n + 2}`);
  // Sanity check, as mmbench does: one merge removes exactly two VMAs.
  ok(t.mprotect(base + 2 * PAGE_SIZE, PAGE_SIZE, PROT_READ), 'mprotect');
  if (p.mapCount !== built - 2) throw new Error(`bench (${gId(n)}): a merge left ${p.mapCount} VMAs, expected ${built - 2}`);
  ok(t.mprotect(base + 2 * PAGE_SIZE, PAGE_SIZE, RW), 'mprotect');

  const next = prng(0x5eed0000);
  const picks = new Float64Array(1 << 16);
  for (let i = 0; i < picks.length; i++) picks[i] = 1 + (next() % (n - 2)); // interior pages 1 .. n-2
  let cursor = 0;
  // timeOps counts pairs of calls (merge, then split); the figure is per call.
  const r = timeOps(gId(n), sizes.mprotectBatch >> 1, sizes, (pairs) => {
    for (let i = 0; i < pairs; i++) {
      const j = picks[cursor];
      cursor = (cursor + 1) & (picks.length - 1);
      const a = base + j * PAGE_SIZE;
      const own = j & 1 ? PROT_READ : RW;
      if (t.mprotect(a, 4096, own === RW ? PROT_READ : RW) !== 0) throw new Error('bench (g): mprotect (merge) failed');
      if (t.mprotect(a, 4096, own) !== 0) throw new Error('bench (g): mprotect (split) failed');
    }
  });
  if (p.mapCount !== built) throw new Error(`bench (${gId(n)}): ${p.mapCount} VMAs after the run, ${built} before`);
  return { id: gId(n), title: `mprotect with ${n} VMAs, merge/split (per call)`, nsPerOp: r.nsPerOp / 2, ops: r.batch * 2, samples: r.samples, extra: { rmePercent: r.rme, vmas: built } };
}

// ---------------------------------------------------------------------------
// report

/** Target for mmsim/native ratios. */
export const RATIO_TARGET = 0.5;
/** Target for (a), ns per TLB-hit load. */
export const TLB_HIT_TARGET_NS = 20;
/** Target for g100k/g1k. */
export const G_SCALING_TARGET = 1.5;
/** Target for metadata bytes per resident page. */
export const METADATA_TARGET_BYTES = 32;

function ratioRow(id: string, what: string, unit: string, mmsim: number, native: number | undefined): Row {
  const ratio = native !== undefined && native > 0 ? mmsim / native : undefined;
  return { id, what, unit, mmsim, native, ratio, target: `≤ ${RATIO_TARGET}`, status: ratio === undefined ? '-' : ratio <= RATIO_TARGET ? 'pass' : 'miss' };
}

/** The report rows: mmsim figures beside mmbench's, with ratios and targets. */
export function buildRows(results: readonly CaseResult[], native: readonly NativeResult[], metadata: Metadata | undefined): Row[] {
  const rows: Row[] = [];
  const nat = (id: string): NativeResult | undefined => native.find((n) => n.case === id);
  for (const r of results) {
    if (r.id === 'a') {
      rows.push({ id: 'a', what: r.title, unit: 'ns/access', mmsim: r.nsPerOp, native: undefined, ratio: undefined, target: `≤ ${TLB_HIT_TARGET_NS} ns`, status: r.nsPerOp <= TLB_HIT_TARGET_NS ? 'pass' : 'miss' });
    } else if (r.id === 'b') {
      rows.push({ id: 'b', what: r.title, unit: 'ns/access', mmsim: r.nsPerOp, native: undefined, ratio: undefined, target: '-', status: '-' });
    } else if (r.id === 'd') {
      const n = nat('d');
      rows.push(ratioRow('d', 'fork + COW total (fork, child writes, exit)', 'ns/page', r.nsPerOp, n?.nsPerOp));
      rows.push(ratioRow('d.fork', 'fork() of the populated process', 'ns/fork', r.extra['forkNs'], n?.extra['fork_ns']));
      rows.push(ratioRow('d.cow', 'child COW write fault', 'ns/page', r.extra['cowNsPerPage'], n?.extra['cow_ns_per_page']));
    } else if (isKeyCaseId(r.id)) {
      rows.push(keyChangeRow(r));
    } else if (isRemapCaseId(r.id)) {
      rows.push(remapRow(r, nat('i')));
    } else {
      const unit = r.id === 'c' ? 'ns/fault' : r.id === 'e' ? 'ns/pair' : 'ns/call';
      rows.push(ratioRow(r.id, r.title, unit, r.nsPerOp, nat(r.id)?.nsPerOp));
    }
  }
  const gs = results.filter((r) => r.id.startsWith('g')).sort((x, y) => x.extra['vmas'] - y.extra['vmas']);
  if (gs.length >= 2) {
    const small = gs[0];
    const large = gs[gs.length - 1];
    const scaling = large.nsPerOp / small.nsPerOp;
    const ns = nat(small.id);
    const nl = nat(large.id);
    rows.push({
      id: `${large.id}/${small.id}`,
      what: 'mprotect cost growth with VMA count',
      unit: 'ratio',
      mmsim: scaling,
      native: ns !== undefined && nl !== undefined ? nl.nsPerOp / ns.nsPerOp : undefined,
      ratio: undefined,
      target: `≤ ${G_SCALING_TARGET}`,
      status: scaling <= G_SCALING_TARGET ? 'pass' : 'miss',
    });
  }
  if (metadata) {
    rows.push({
      id: 'meta',
      what: `metadata per resident page (${metadata.residentPages} pages)`,
      unit: 'bytes',
      mmsim: metadata.totalBytes,
      native: undefined,
      ratio: undefined,
      target: `≤ ${METADATA_TARGET_BYTES} B`,
      status: metadata.totalBytes <= METADATA_TARGET_BYTES ? 'pass' : 'miss',
    });
  }
  return rows;
}

/** The human-readable report. */
export function formatReport(rows: readonly Row[], results: readonly CaseResult[], metadata: Metadata | undefined, native: { results: readonly NativeResult[] } | { unavailable: string } | null, sizes: Sizes): string {
  const out: string[] = [];
  out.push(`mmsim bench (${sizes.name}) — node ${process.version}, ${process.platform}/${process.arch}`);
  out.push('');
  out.push(
    table(
      ['case', 'what', 'unit', 'mmsim', 'native', 'mmsim/native', 'target', 'status'],
      rows.map((r) => [r.id, r.what, r.unit, fmt(r.mmsim), fmt(r.native), fmt(r.ratio, 3), r.target, r.status]),
      new Set([3, 4, 5]),
    ),
  );
  const keys = formatKeyChangeTable(results);
  if (keys !== undefined) out.push('', keys);
  const remap = formatRemapTable(results, native !== null && 'results' in native ? native.results : []);
  if (remap !== undefined) out.push('', remap);
  out.push('');
  out.push('mmsim details:');
  for (const r of results) {
    const extra = Object.entries(r.extra)
      .map(([k, v]) => `${k}=${fmt(v, 2)}`)
      .join(' ');
    out.push(`  ${r.id.padEnd(6)} ${fmt(r.nsPerOp, 2)} ns/op over ${r.samples} samples of ${r.ops} ops; ${extra}`);
  }
  if (native === null) out.push('native: not run (--no-native, or no selected case has a native counterpart)');
  else if ('unavailable' in native) out.push(`native: unavailable: ${native.unavailable}`);
  else {
    out.push('native (mmbench, median of its repetitions):');
    for (const n of native.results) {
      const extra = Object.entries(n.extra)
        .map(([k, v]) => `${k}=${fmt(v, 2)}`)
        .join(' ');
      out.push(`  ${n.case.padEnd(6)} ${fmt(n.nsPerOp, 2)} ns/op over ${n.ops} ops; ${extra}`);
    }
  }
  if (metadata) {
    out.push('');
    out.push(`metadata per resident page, case c (${metadata.residentPages} resident pages, ${metadata.framesInUse} frames in use, ${metadata.pageTables} page tables live of ${metadata.pageTableCapacity} allocated, ${metadata.vmas} VMA):`);
    const lines: [string, number, string][] = [
      ['frame metadata', metadata.frameBytes, `PhysMem.METADATA_BYTES_PER_FRAME (${PhysMem.METADATA_BYTES_PER_FRAME}) × frames in use ÷ resident`],
      ['PTEs (lo + hi)', metadata.pteBytes, 'live page tables × 512 entries × 8 B ÷ resident'],
      ['PTE link generations', metadata.linkGenerationBytes, 'PageTables.linkGeneration: 4 B per upper-level entry slot (ghost state)'],
      ['per-table arrays', metadata.perTableBytes, 'tablePfn + level + generation per live table'],
      ['page-table locks', metadata.ptLockBytes, `${fmt(metadata.spinLockObjectBytes)} B per SpinLock (${metadata.objectSizesMeasured ? 'measured' : 'fallback estimate'}) × locks made`],
      ['VMAs', metadata.vmaBytes, `${fmt(metadata.vmaObjectBytes)} B per Vma (${metadata.objectSizesMeasured ? 'measured' : 'fallback estimate'}) × VMAs`],
      ['total', metadata.totalBytes, `target ≤ ${METADATA_TARGET_BYTES} B: ${metadata.totalBytes <= METADATA_TARGET_BYTES ? 'pass' : 'miss'}`],
      ['(content line table)', metadata.contentIndexBytes, `ContentPool: ${PAGE_SIZE / LINE_SIZE} line ids × 4 B per page with data; not in the total`],
      ['(content data)', metadata.contentDataBytes, `ContentPool ${LINE_SIZE}-byte lines holding the stored bytes; page data, not in the total`],
      ['(measured heap growth)', metadata.measuredHeapBytes, 'JS heap + ArrayBuffers growth (after GC) while faulting: everything above plus array capacity slack'],
    ];
    for (const [name, v, how] of lines) out.push(`  ${name.padEnd(24)} ${fmt(v, 2).padStart(9)} B   ${how}`);
  }
  return out.join('\n');
}

// ---------------------------------------------------------------------------
// driver

/** Case names --only accepts. */
export const CASE_IDS = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'] as const;

/** Everything one run measured. */
export interface BenchRun {
  readonly sizes: Sizes;
  readonly results: CaseResult[];
  readonly metadata: Metadata | undefined;
  readonly native: { results: NativeResult[] } | { unavailable: string } | null;
  readonly rows: Row[];
}

/** Runs the selected mmsim cases (all by default) and, unless `native` is false, mmbench. */
export function runBench(sizes: Sizes, options: { only?: readonly string[]; native?: boolean; log?: (line: string) => void } = {}): BenchRun {
  const only = options.only && options.only.length > 0 ? new Set(options.only) : null;
  const want = (id: string, ...aliases: string[]): boolean => only === null || only.has(id) || aliases.some((a) => only.has(a));
  const log = options.log ?? ((): void => {});
  const results: CaseResult[] = [];
  let metadata: Metadata | undefined;
  const run = (id: string, f: () => CaseResult): void => {
    log(`running ${id} ...`);
    const t0 = nowNs();
    const r = f();
    results.push(r);
    log(`  ${id}: ${fmt(r.nsPerOp, 2)} ns/op (${(elapsedNs(t0) / 1e9).toFixed(1)} s)`);
  };
  if (want('a')) run('a', () => caseTlbHit(sizes));
  if (want('b')) run('b', () => caseTlbMiss(sizes));
  if (want('c')) {
    run('c', () => {
      const c = caseDemandZero(sizes);
      metadata = c.metadata;
      return c.result;
    });
  }
  if (want('d')) run('d', () => caseForkCow(sizes));
  if (want('e')) run('e', () => caseMmapMunmap(sizes));
  if (want('f')) run('f', () => caseMprotectRegion(sizes));
  for (const n of [sizes.gSmall, sizes.gLarge]) {
    if (want(gId(n), 'g')) run(gId(n), () => caseMprotectVmas(sizes, n));
  }
  for (const pages of sizes.keyPages) {
    for (const os of KEY_PERSONALITIES) {
      if (want(hId(pages, os), 'h', hLabel(pages))) run(hId(pages, os), () => caseKeyChange(sizes, os, pages));
    }
  }
  for (const design of REMAP_DESIGNS) {
    if (want(iId(design), 'i')) run(iId(design), () => caseRemap(sizes, design));
  }
  let native: BenchRun['native'] = null;
  if (options.native !== false) {
    const nativeIds = new Set(['c', 'd', 'e', 'f', 'g1k', 'g100k', 'i']);
    // mmbench's i is the mainline design of case i; only g1k and g100k answer to 'g'.
    const keep = (id: string): boolean => nativeIds.has(id) && (id === 'i' ? want(iId('mainline'), 'i') : id.startsWith('g') ? want(id, 'g') : want(id));
    const args = only === null ? [...sizes.nativeArgs] : nativeSubset(sizes.nativeArgs, keep);
    if (args.length > 0) {
      log(`running native mmbench ${args.join(' ')} ...`);
      native = runNative(args);
    }
  }
  const rows = buildRows(results, native !== null && 'results' in native ? native.results : [], metadata);
  return { sizes, results, metadata, native, rows };
}

/** The tokens of an mmbench command line whose case passes `keep`; 'all' is expanded. */
export function nativeSubset(args: readonly string[], keep: (id: string) => boolean): string[] {
  const expanded = args.includes('all') ? ['c', 'd', 'e', 'f', 'g1k', 'g100k', 'i'] : args;
  const out: string[] = [];
  let keeping = false;
  for (const tok of expanded) {
    if (/^\d+$/.test(tok)) {
      if (keeping) out.push(tok);
    } else {
      keeping = keep(tok);
      if (keeping) out.push(tok);
    }
  }
  return out;
}

function main(): void {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      'no-native': { type: 'boolean', default: false },
      only: { type: 'string' },
    },
    strict: true,
    allowPositionals: false,
  });
  const sizes = values.quick ? QUICK_SIZES : FULL_SIZES;
  const only = values.only?.split(',').map((s) => s.trim()).filter((s) => s !== '');
  const run = runBench(sizes, {
    ...(only !== undefined ? { only } : {}),
    native: !values['no-native'],
    log: (line) => process.stderr.write(`${line}\n`),
  });
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ node: process.version, ...run }, null, 2)}\n`);
  } else {
    process.stdout.write(`${formatReport(run.rows, run.results, run.metadata, run.native, sizes)}\n`);
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) main();

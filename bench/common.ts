/**
 * What the benchmark's modules share: ./main.ts (cases a–g, the report and the driver),
 * ./keys.ts (case h) and ./remap.ts (case i). Constants, the result and row types,
 * checked memory accesses and syscall results, timing (one-shot and under tinybench),
 * CPU counter sums and table formatting.
 *
 * This module imports only src/ and tinybench, never another bench module, so the
 * bench's modules import one way: main.ts → keys.ts, remap.ts → common.ts.
 */
import { Bench, hrtimeNow } from 'tinybench';
import { isErrno, MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE, type AccessSize, type Machine, type SysResult, type ThreadHandle } from '../src/index.js';
import type { CpuCounters } from '../src/hw/cpu.js';
import { PAGE_SIZE } from '../src/hw/pte.js';

export const MiB = 1024 * 1024;
export const RW = PROT_READ | PROT_WRITE;
export const ANON = MAP_PRIVATE | MAP_ANONYMOUS;

/** Sizes of one run. */
export interface Sizes {
  readonly name: 'full' | 'quick';
  /** (a) loads per tinybench sample. */
  readonly tlbHitBatch: number;
  /** (b) resident pages loaded in sequence per sample (more than the TLB's 1024 entries). */
  readonly walkPages: number;
  /** (c) pages faulted in per repetition. */
  readonly faultPages: number;
  /** (d) pages of the forked process. */
  readonly forkPages: number;
  /** (e) mmap+munmap pairs per sample. */
  readonly pairBatch: number;
  /** (f) pages of the region whose pages are mprotected one by one. */
  readonly fPages: number;
  /** (f, g) mprotect calls per sample (even: split + merge pairs). */
  readonly mprotectBatch: number;
  /** (g) VMAs of the small and the large address space. */
  readonly gSmall: number;
  readonly gLarge: number;
  /** (h) range sizes, in pages, of the PKRU toggle vs key change case. */
  readonly keyPages: readonly number[];
  /** (i) pages of the window remapped one by one (and of the file). */
  readonly remapPages: number;
  /** Repetitions of the one-shot cases (odd: the median is one of them). */
  readonly reps: number;
  /** tinybench: minimum time and samples per case, then warm-up. */
  readonly benchTimeMs: number;
  readonly benchIterations: number;
  readonly warmupTimeMs: number;
  readonly warmupIterations: number;
  /** mmbench's command line. */
  readonly nativeArgs: readonly string[];
}

/** One mmsim measurement. */
export interface CaseResult {
  /** Case id: a, b, c, d, e, f, g1k, g100k, ... */
  readonly id: string;
  readonly title: string;
  /** Nanoseconds per operation (access, fault, page, pair, call). */
  readonly nsPerOp: number;
  /** Operations per sample (tinybench) or per repetition (one-shot cases). */
  readonly ops: number;
  /** Samples (tinybench) or repetitions the median was taken over. */
  readonly samples: number;
  /** Further figures: fork time, TLB miss rate, VMA count, ... */
  readonly extra: Record<string, number>;
}

/** One line of the report table. */
export interface Row {
  readonly id: string;
  readonly what: string;
  readonly unit: string;
  readonly mmsim: number;
  readonly native: number | undefined;
  /** mmsim ÷ native, when both ran. */
  readonly ratio: number | undefined;
  /** Human-readable target, e.g. "≤ 0.5" (ratio) or "≤ 20 ns" (absolute). */
  readonly target: string;
  readonly status: 'pass' | 'miss' | '-';
}

// ---------------------------------------------------------------------------
// checked syscalls and accesses

/** `r`, unless it is an errno: then throws, naming `what`. */
export function ok(r: SysResult, what: string): number {
  if (isErrno(r)) throw new Error(`bench: ${what} failed with ${r.name}`);
  return r;
}

/** Stores `value` (`size` bytes) at `va`; throws if the store raises a signal. */
export function store(t: ThreadHandle, va: number, value: number, size: AccessSize = 1): void {
  const r = t.store(va, value, size);
  if (r !== null) throw new Error(`bench: store to 0x${va.toString(16)} raised ${r.signal} (${r.code})`);
}

/** Loads a byte from `va`; throws if the load raises a signal. */
export function load(t: ThreadHandle, va: number): number {
  const r = t.load(va);
  if (typeof r !== 'number') throw new Error(`bench: load from 0x${va.toString(16)} raised ${r.signal} (${r.code})`);
  return r;
}

/** Stores 1 into the first byte of each page, as mmbench's touch_pages() does. */
export function touchPages(t: ThreadHandle, base: number, pages: number): void {
  for (let i = 0; i < pages; i++) store(t, base + i * PAGE_SIZE, 1);
}

// ---------------------------------------------------------------------------
// numbers and time

export function median(values: readonly number[]): number {
  const v = [...values].sort((x, y) => x - y);
  const mid = v.length >> 1;
  return v.length % 2 === 1 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

/** Deterministic 32-bit PRNG (mulberry32), so every run mprotects the same pages. */
export function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = s;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return (x ^ (x >>> 14)) >>> 0;
  };
}

/** A monotonic timestamp, in nanoseconds, for {@link elapsedNs}. */
export function nowNs(): bigint {
  return process.hrtime.bigint();
}

/** Nanoseconds since `from`, a {@link nowNs} timestamp. */
export function elapsedNs(from: bigint): number {
  return Number(process.hrtime.bigint() - from);
}

export interface Timed {
  readonly nsPerOp: number;
  readonly samples: number;
  /** Relative margin of error of the mean sample, in percent. */
  readonly rme: number;
}

/**
 * Times `fn(count)`, which performs `count` operations, under tinybench; returns ns per
 * operation of the median sample. `count` is `batch`, or fewer when one operation is so
 * slow that a sample would outlast a sixteenth of the time budget; the sample count is
 * capped so that a slow case still finishes in about `benchTimeMs` (at least 5 samples).
 */
export function timeOps(name: string, batch: number, sizes: Sizes, fn: (count: number) => void): Timed & { batch: number } {
  // Calibrate: grow the count until a call takes a millisecond (or the batch is reached).
  let count = 1;
  let perOpNs = 0;
  for (;;) {
    const t0 = nowNs();
    fn(count);
    const ns = elapsedNs(t0);
    perOpNs = ns / count;
    if (ns >= 1e6 || count >= batch) break;
    count = Math.min(batch, count * 4);
  }
  const sampleBudgetNs = (sizes.benchTimeMs * 1e6) / 16;
  const used = Math.max(1, Math.min(batch, Math.floor(sampleBudgetNs / Math.max(perOpNs, 1e-3))));
  const sampleMs = Math.max((perOpNs * used) / 1e6, 1e-3);
  const minSamples = Math.min(5, sizes.benchIterations);
  const bench = new Bench({
    name,
    now: hrtimeNow,
    time: sizes.benchTimeMs,
    iterations: Math.min(sizes.benchIterations, Math.max(minSamples, Math.floor(sizes.benchTimeMs / sampleMs))),
    warmupTime: sizes.warmupTimeMs,
    warmupIterations: Math.min(sizes.warmupIterations, Math.max(1, Math.floor(sizes.warmupTimeMs / sampleMs))),
    throws: true,
  });
  bench.add(name, () => fn(used));
  bench.runSync();
  const r = bench.tasks[0].result;
  if (r === undefined) throw new Error(`bench: tinybench produced no result for ${name}`);
  if (r.error !== undefined) throw r.error;
  const ms = r.latency.p50 ?? r.latency.mean;
  return { nsPerOp: (ms * 1e6) / used, samples: r.latency.samples.length, rme: r.latency.rme, batch: used };
}

// ---------------------------------------------------------------------------
// CPU counters

/** The names of {@link CpuCounters}' counts (its number fields). */
export type CpuCounterName = { [K in keyof CpuCounters]: CpuCounters[K] extends number ? K : never }[keyof CpuCounters];

/** The counters named by `keys`, each summed over the machine's CPUs. */
export function sumCpuCounters<K extends CpuCounterName>(m: Machine, keys: readonly K[]): Record<K, number> {
  const sums = {} as Record<K, number>;
  for (const k of keys) sums[k] = 0;
  for (const cpu of m.hw.cpus) {
    const c = cpu.counters;
    for (const k of keys) sums[k] += c[k];
  }
  return sums;
}

// ---------------------------------------------------------------------------
// formatting

export function fmt(x: number | undefined, digits = 1): string {
  if (x === undefined || !Number.isFinite(x)) return '-';
  if (Math.abs(x) >= 1e6) return x.toExponential(3);
  return x.toFixed(Math.abs(x) < 10 ? Math.max(digits, 2) : digits);
}

export function table(headers: readonly string[], lines: readonly (readonly string[])[], rightAlign: ReadonlySet<number>): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const row = (cells: readonly string[]): string => cells.map((c, i) => (rightAlign.has(i) ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [row(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...lines.map(row)].join('\n');
}

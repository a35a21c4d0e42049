/**
 * Model-based tests of remap_file_pages (../shared/SEMANTICS.md "Linux —
 * remap_file_pages", seed 001): random sequences of remaps, loads, stores, fetches,
 * swap-outs, memory-pressure reclaim and forks, on a small 2-CPU machine, against a
 * page-by-page reference model — for each page of each process's window: which file page
 * it shows and with which rights; for the file: its bytes.
 *
 * - rfp-manyprots: one shared window of /f; remaps with MAP_CHGPROT (random page, run,
 *   file page, protection) or without; every access's value or SIGSEGV SEGV_ACCERR is the
 *   model's; mprotect is EACCES once the window is VM_MANYPROTS; after every step each
 *   entry agrees with the model (a mapped frame is the file page the model names, with no
 *   more rights; a file entry names it and carries its protection; none stands for the
 *   linear page with the window's rights), the bytes the process would read (peek,
 *   without faulting) are the file's, and the window is one VMA.
 * - mainline: the same window under the VMA emulation (prot 0 only; file pages past the
 *   end allowed, which raise SIGBUS); /proc/pid/maps is one VMA per run of consecutive
 *   file pages, with the right offsets.
 * Machines run with invariants: 'throw'. RFP_SEED / RFP_RUNS / RFP_LEN override the seed,
 * the number of runs and the longest sequence.
 */
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  isErrno,
  isSignal,
  Machine,
  MAP_CHGPROT,
  MAP_NONBLOCK,
  MAP_SHARED,
  O_RDWR,
  PROT_EXEC,
  PROT_NONE,
  PROT_READ,
  PROT_WRITE,
  type ProcessHandle,
  type SysResult,
  type ThreadHandle,
} from '../../src/index.js';
import { hex, Mismatch, PAGE, parseMaps, protStr } from './_model.js';

const R = PROT_READ;
const W = PROT_WRITE;
const X = PROT_EXEC;

/** Pages of /f. */
const FILE_PAGES = 12;
/** Pages of each process's window. */
const WIN = 8;
/** The window maps file pages BASE … BASE + WIN - 1 linearly. */
const BASE = 2;
/** Live processes at most (fork does nothing beyond). */
const MAX_PROCS = 3;

const SEED = Number(process.env.RFP_SEED ?? 7);
const RUNS = Number(process.env.RFP_RUNS ?? 200);
const MAX_LEN = Number(process.env.RFP_LEN ?? 40);

function fileBytes(): Uint8Array {
  const b = new Uint8Array(FILE_PAGES * PAGE);
  for (let i = 0; i < b.length; i++) b[i] = ((i >>> 12) * 67 + (i & 0xfff) * 13 + 1) & 0xff;
  return b;
}

// ---------------------------------------------------------------------------------------
// Operations

type Op =
  | { readonly t: 'remap'; readonly p: number; readonly th: number; readonly page: number; readonly n: number; readonly pgoff: number; readonly prot: number; readonly chgprot: boolean; readonly nonblock: boolean; readonly startSlack: number; readonly sizeSlack: number }
  | { readonly t: 'load' | 'fetch'; readonly p: number; readonly th: number; readonly page: number; readonly off: number }
  | { readonly t: 'store'; readonly p: number; readonly th: number; readonly page: number; readonly off: number; readonly value: number }
  | { readonly t: 'swapout'; readonly p: number; readonly whole: boolean; readonly page: number; readonly n: number }
  | { readonly t: 'reclaim'; readonly n: number }
  | { readonly t: 'mprotect'; readonly p: number; readonly th: number }
  | { readonly t: 'fork'; readonly p: number; readonly th: number; readonly cpu: number };

/** Protections whose rights x86 can give exactly (a write or execute right implies read). */
const protArb = fc.constantFrom(PROT_NONE, R, R | W, R | W, R | X, R | W | X);
const procArb = fc.nat(7);
const threadArb = fc.nat(3);
const pageArb = fc.nat(WIN - 1);
const offArb = fc.oneof(fc.constantFrom(0, 1, PAGE - 1), fc.nat(PAGE - 1));
const slackArb = fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: PAGE - 1 }) });

const opArb = (manyprots: boolean): fc.Arbitrary<Op> =>
  fc.oneof(
    {
      weight: 10,
      arbitrary: fc.record({
        t: fc.constant('remap' as const),
        p: procArb,
        th: threadArb,
        page: pageArb,
        n: fc.oneof({ weight: 4, arbitrary: fc.constant(1) }, { weight: 2, arbitrary: fc.integer({ min: 2, max: 3 }) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: WIN }) }),
        // Mostly inside the file; now and then past its end.
        pgoff: fc.oneof({ weight: 6, arbitrary: fc.nat(FILE_PAGES - 1) }, { weight: 1, arbitrary: fc.integer({ min: FILE_PAGES - 2, max: FILE_PAGES + 3 }) }),
        // Without MAP_CHGPROT prot must be 0: mostly give it 0.
        prot: manyprots ? protArb : fc.oneof({ weight: 8, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: protArb }),
        chgprot: manyprots ? fc.integer({ min: 0, max: 3 }).map((x) => x > 0) : fc.constant(false),
        nonblock: fc.integer({ min: 0, max: 3 }).map((x) => x === 0),
        startSlack: slackArb,
        sizeSlack: slackArb,
      }),
    },
    { weight: 12, arbitrary: fc.record({ t: fc.constant('load' as const), p: procArb, th: threadArb, page: pageArb, off: offArb }) },
    { weight: 8, arbitrary: fc.record({ t: fc.constant('store' as const), p: procArb, th: threadArb, page: pageArb, off: offArb, value: fc.nat(255) }) },
    { weight: manyprots ? 2 : 0, arbitrary: fc.record({ t: fc.constant('fetch' as const), p: procArb, th: threadArb, page: pageArb, off: offArb }) },
    { weight: 3, arbitrary: fc.record({ t: fc.constant('swapout' as const), p: procArb, whole: fc.boolean(), page: pageArb, n: fc.integer({ min: 1, max: 4 }) }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('reclaim' as const), n: fc.integer({ min: 1, max: 64 }) }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('fork' as const), p: procArb, th: threadArb, cpu: fc.nat(1) }) },
    { weight: manyprots ? 1 : 0, arbitrary: fc.record({ t: fc.constant('mprotect' as const), p: procArb, th: threadArb }) },
  );

// ---------------------------------------------------------------------------------------
// The reference model and the run

/** What one page of a window shows: a file page, with rights. */
interface PageModel {
  index: number;
  prot: number;
}

interface Proc {
  readonly h: ProcessHandle;
  /** A thread on CPU 0 and one on CPU 1, the first being the main thread. */
  readonly threads: readonly ThreadHandle[];
  readonly pages: PageModel[];
  /** The window is VM_MANYPROTS: a MAP_CHGPROT remap succeeded (in this process or before its fork). */
  manyprots: boolean;
}

type Expected = { readonly value: number | null } | { readonly signal: 'SIGSEGV' | 'SIGBUS'; readonly code: string };

class Run {
  readonly m: Machine;
  readonly procs: Proc[] = [];
  /** The bytes of /f as every mapping must see them. */
  readonly file = fileBytes();
  /** The window's address: every process has it at the same place (fork copies it). */
  readonly a: number;
  readonly log: string[] = [];
  /** Offsets accessed so far, checked by peek after every step. */
  private readonly offs = new Set<number>([0, PAGE - 1]);

  constructor(
    readonly manyprots: boolean,
    /** The window's protection: the default rights of its pages. */
    readonly defaultProt: number,
  ) {
    this.m = new Machine({ cpus: 2, memory: 512 << 10, swap: 1 << 20, tlbEntries: 64, invariants: 'throw', variants: manyprots ? ['rfp-manyprots'] : [] });
    this.m.createFile('/f', this.file);
    const h = this.m.spawn('p', 0);
    const t = h.main;
    const fd = t.open('/f', O_RDWR);
    if (isErrno(fd)) throw new Mismatch(`open: ${fd.name}`);
    const a = t.mmap(0, WIN * PAGE, defaultProt, MAP_SHARED, fd, BASE * PAGE);
    if (isErrno(a)) throw new Mismatch(`mmap: ${a.name}`);
    this.a = a;
    const pages = Array.from({ length: WIN }, (_, i): PageModel => ({ index: BASE + i, prot: defaultProt }));
    this.procs.push({ h, threads: [t, h.spawnThread(1)], pages, manyprots: false });
    this.say(`mmap window ${hex(a)} ${protStr(defaultProt)}s of /f from page ${BASE}`);
  }

  say(s: string): void {
    this.log.push(s);
  }

  proc(n: number): Proc {
    return this.procs[n % this.procs.length];
  }

  private expectResult(r: SysResult, expected: number | string, what: string): void {
    const got = isErrno(r) ? r.name : r;
    this.say(`${what} = ${got}`);
    if (got !== expected) throw new Mismatch(`${what}: got ${got}, the model says ${expected}`);
  }

  step(op: Op): void {
    switch (op.t) {
      case 'remap':
        return this.remap(op);
      case 'load':
      case 'fetch':
      case 'store':
        return this.access(op);
      case 'swapout': {
        const p = this.proc(op.p);
        const start = op.whole ? 0 : this.a + op.page * PAGE;
        const end = op.whole ? Number.MAX_SAFE_INTEGER : start + op.n * PAGE;
        this.say(`pid ${p.h.pid}: swap-out ${op.whole ? 'all' : `pages ${op.page}..${op.page + op.n - 1}`}`);
        this.m.swapOut(p.h, start, end);
        return;
      }
      case 'reclaim':
        this.say(`reclaim ${op.n}`);
        this.m.reclaim(op.n);
        return;
      case 'mprotect': {
        // The window's own protection again: a no-op, unless the VMA is VM_MANYPROTS (EACCES).
        const p = this.proc(op.p);
        const t = p.threads[op.th % p.threads.length];
        this.expectResult(t.mprotect(this.a, WIN * PAGE, this.defaultProt), p.manyprots ? 'EACCES' : 0, `pid ${p.h.pid} tid ${t.tid}: mprotect(window, ${protStr(this.defaultProt)})`);
        return;
      }
      case 'fork': {
        if (this.procs.length >= MAX_PROCS) return;
        const p = this.proc(op.p);
        const t = p.threads[op.th % p.threads.length];
        const c = t.fork(op.cpu);
        if (isErrno(c)) throw new Mismatch(`fork: ${c.name}`);
        this.say(`pid ${p.h.pid} tid ${t.tid}: fork → pid ${c.pid} on CPU ${op.cpu}`);
        this.procs.push({ h: c, threads: [c.main, c.spawnThread(1 - op.cpu)], pages: p.pages.map((e) => ({ ...e })), manyprots: p.manyprots });
        return;
      }
    }
  }

  private remap(op: Extract<Op, { t: 'remap' }>): void {
    const p = this.proc(op.p);
    const t = p.threads[op.th % p.threads.length];
    const flags = (op.chgprot ? MAP_CHGPROT : 0) | (op.nonblock ? MAP_NONBLOCK : 0);
    const start = this.a + op.page * PAGE + op.startSlack;
    const size = op.n * PAGE + op.sizeSlack;
    const r = t.remapFilePages(start, size, op.prot, op.pgoff, flags);
    const what = `pid ${p.h.pid} tid ${t.tid}: remap_file_pages(page ${op.page}+${op.startSlack}, ${op.n} pages+${op.sizeSlack}, ${protStr(op.prot)}, ${op.pgoff}${op.chgprot ? ', MAP_CHGPROT' : ''}${op.nonblock ? ', MAP_NONBLOCK' : ''})`;
    let expected: number | string = 0;
    // Both designs: prot must be 0 unless MAP_CHGPROT says otherwise (the series only).
    if (op.prot !== 0 && !op.chgprot) expected = 'EINVAL';
    // The window is the only VMA: a range past its end meets no VMA (mainline) or leaves the VMA (2.6).
    else if (op.page + op.n > WIN) expected = 'EINVAL';
    // 2.6 and the series: the run must lie inside the file. Mainline maps past its end.
    else if (this.manyprots && op.pgoff + op.n > FILE_PAGES) expected = 'EINVAL';
    this.expectResult(r, expected, what);
    if (expected !== 0) return;
    if (op.chgprot) p.manyprots = true;
    for (let i = 0; i < op.n; i++) {
      const e = p.pages[op.page + i];
      e.index = op.pgoff + i;
      e.prot = op.chgprot ? op.prot : this.defaultProt;
    }
  }

  /** What an access does by the model: the value (or null for a store) or the signal. */
  private expect(p: Proc, op: Extract<Op, { t: 'load' | 'fetch' | 'store' }>): Expected {
    const e = p.pages[op.page];
    const need = op.t === 'store' ? (e.prot & W) !== 0 : op.t === 'fetch' ? (e.prot & X) !== 0 : e.prot !== 0;
    if (!need) return { signal: 'SIGSEGV', code: 'SEGV_ACCERR' };
    if (e.index >= FILE_PAGES) return { signal: 'SIGBUS', code: 'BUS_ADRERR' };
    if (op.t === 'store') return { value: null };
    return { value: this.file[e.index * PAGE + op.off] };
  }

  private access(op: Extract<Op, { t: 'load' | 'fetch' | 'store' }>): void {
    const p = this.proc(op.p);
    const t = p.threads[op.th % p.threads.length];
    const va = this.a + op.page * PAGE + op.off;
    const exp = this.expect(p, op);
    const r = op.t === 'store' ? t.store(va, op.value) : op.t === 'fetch' ? t.fetch(va) : t.load(va);
    const what = `pid ${p.h.pid} tid ${t.tid} CPU ${t.cpu}: ${op.t} page ${op.page}+${op.off}${op.t === 'store' ? ` ← ${op.value}` : ''}`;
    const got = isSignal(r) ? `${r.signal} ${r.code} at ${hex(r.addr)}` : String(r);
    this.say(`${what} = ${got}`);
    const want = 'value' in exp ? String(exp.value) : `${exp.signal} ${exp.code} at ${hex(va)}`;
    if (got !== want) throw new Mismatch(`${what}: got ${got}, the model says ${want}`);
    this.offs.add(op.off);
    if (op.t === 'store' && 'value' in exp) this.file[p.pages[op.page].index * PAGE + op.off] = op.value;
  }

  /** After every step: each process is alive with one VMA (manyprots) or one per run (mainline), each entry agrees with the model, and so do the bytes. */
  check(): void {
    for (const p of this.procs) {
      if (!p.h.alive) throw new Mismatch(`pid ${p.h.pid} died: ${JSON.stringify(p.h.exitReason)}`);
      if (this.manyprots) {
        if (p.h.mapCount !== 1) throw new Mismatch(`pid ${p.h.pid} has ${p.h.mapCount} VMAs under VM_MANYPROTS`);
      } else {
        this.checkMaps(p);
      }
      p.pages.forEach((e, i) => this.checkPage(p, i, e));
    }
  }

  private checkPage(p: Proc, i: number, e: PageModel): void {
    const va = this.a + i * PAGE;
    const pte = p.h.pte(va);
    const where = `pid ${p.h.pid} page ${i} (model: file page ${e.index} ${protStr(e.prot)}${p.manyprots ? ', VM_MANYPROTS' : ''})`;
    if (pte.present || pte.protnone) {
      if (pte.pgoff !== e.index) throw new Mismatch(`${where}: the entry maps file page ${pte.pgoff}`);
      if (pte.writable && !(e.prot & W)) throw new Mismatch(`${where}: a writable entry`);
      if (pte.present && pte.executable && !(e.prot & X)) throw new Mismatch(`${where}: an executable entry`);
      if (pte.present && e.prot === PROT_NONE) throw new Mismatch(`${where}: a present entry`);
    } else if (pte.file) {
      if (pte.pgoff !== e.index) throw new Mismatch(`${where}: a file entry for file page ${pte.pgoff}`);
      // Every file entry carries a protection (the series' encoding): the page's own, or the VMA's.
      if (this.manyprots && pte.fileProt !== e.prot) throw new Mismatch(`${where}: a file entry with rights ${protStr(pte.fileProt)}`);
    } else if (pte.none) {
      // In one nonlinear VMA no entry means the linear file page with the window's rights;
      // mainline's VMAs say what the page shows.
      if (this.manyprots && (e.index !== BASE + i || e.prot !== this.defaultProt)) throw new Mismatch(`${where}: no entry`);
    } else {
      throw new Mismatch(`${where}: unexpected entry ${JSON.stringify(pte)}`);
    }
    // The bytes a load would read there, without faulting anything in.
    if (e.index >= FILE_PAGES) return;
    for (const off of this.offs) {
      const b = p.h.peek(va + off);
      const want = this.file[e.index * PAGE + off];
      if (b !== want) throw new Mismatch(`${where}: byte ${off} is ${b}, the file has ${want}`);
    }
  }

  /** Mainline: one VMA per run of consecutive file pages, each at the right offset. */
  private checkMaps(p: Proc): void {
    const maps = parseMaps(p.h.maps());
    const runs: Array<[number, number, number]> = [];
    p.pages.forEach((e, i) => {
      const last = runs[runs.length - 1];
      if (last && p.pages[i - 1].index + 1 === e.index) last[1]++;
      else runs.push([i, 1, e.index]);
    });
    const got = maps.map((v) => `${(v.start - this.a) / PAGE}+${(v.end - v.start) / PAGE}@${v.offset / PAGE} ${v.perms}`).join(', ');
    const want = runs.map(([i, n, index]) => `${i}+${n}@${index} ${protStr(this.defaultProt)}s`).join(', ');
    if (got !== want) throw new Mismatch(`pid ${p.h.pid}: maps ${got}, the model says ${want}`);
    if (p.h.mapCount !== runs.length) throw new Mismatch(`pid ${p.h.pid}: mapCount ${p.h.mapCount}, ${runs.length} runs`);
  }
}

function runOps(manyprots: boolean, defaultProt: number, ops: readonly Op[]): void {
  let run: Run | null = null;
  try {
    run = new Run(manyprots, defaultProt);
    run.check();
    for (const op of ops) {
      run.step(op);
      run.check();
    }
  } catch (e) {
    const msg = e instanceof Error ? `${e.constructor.name}: ${e.message}` : String(e);
    throw new Error(`${msg}\n  after:\n    ${(run?.log ?? []).slice(-60).join('\n    ')}`, { cause: e });
  }
}

describe('remap_file_pages model-based tests (machine vs page-by-page model)', () => {
  it('rfp-manyprots: per-page file pages and rights survive remaps, swap-out, reclaim and fork; one VMA throughout', () => {
    fc.assert(
      fc.property(protArb, fc.array(opArb(true), { minLength: 1, maxLength: MAX_LEN, size: 'max' }), (prot, ops) => runOps(true, prot, ops)),
      { seed: SEED, numRuns: RUNS, includeErrorInReport: true },
    );
  });

  it('mainline: the VMA emulation shows the same pages, with one VMA per run of consecutive file pages', () => {
    fc.assert(
      fc.property(fc.constantFrom(R, R | W), fc.array(opArb(false), { minLength: 1, maxLength: MAX_LEN, size: 'max' }), (prot, ops) => runOps(false, prot, ops)),
      { seed: SEED + 1, numRuns: RUNS, includeErrorInReport: true },
    );
  });

});

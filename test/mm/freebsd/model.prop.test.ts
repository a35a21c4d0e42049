/**
 * Model-based test of the freebsd personality's user protection keys: random sequences of
 * mmap (anonymous, MAP_FIXED in a small arena), munmap, mprotect (PROT_NONE and back
 * included), msync(MS_INVALIDATE), x86_pkru_protect_range (key 0-15, random EXCL /
 * PERSIST), x86_pkru_unprotect_range, x86_pkru_set_perm on two threads, loads, stores,
 * swap-out (whole or a span) and fork, on a fixed machine and on one with the
 * 'pkru-swapout-bug' variant, compared after every step with a page-by-page model:
 * - the machine never breaks an invariant (`invariants: 'throw'`: keys-enforced,
 *   no-excess-rights and the rest);
 * - every syscall returns what the model says;
 * - every load and store succeeds with the model's value or raises the model's signal
 *   (SEGV_MAPERR, SEGV_ACCERR, or SEGV_PKUERR with the range's key);
 * - pkruRange(va) of every page of the arena is the model's key and PERSIST flag, and so
 *   is whether the page is present (or parked by pmap_remove under PROT_NONE);
 * - children forked along the way keep the range set, PKRU and bytes they had at fork
 *   while the parent goes on.
 *
 * The model encodes both designs (SEMANTICS.md "FreeBSD — PKRU (amd64)"): pmap_map_delete
 * (munmap, MAP_FIXED over a mapping) drops the non-PERSIST keys of each mapping it
 * removes; pmap_remove (swap-out over its whole span, mprotect that takes rights away and
 * leaves none once a private entry's write is masked, msync(MS_INVALIDATE) over its span)
 * keeps every key after the fix and drops the non-PERSIST ones before it.
 *
 * FREEBSD_MODEL_SEED / FREEBSD_MODEL_RUNS / FREEBSD_MODEL_LEN override the seed, the number
 * of runs (default fewer when CI is set) and the longest sequence; FREEBSD_MODEL_STATS=1
 * prints what the runs reached.
 */
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  AMD64_PKRU_EXCL,
  AMD64_PKRU_PERSIST,
  isErrno,
  isSignal,
  Machine,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_PRIVATE,
  MS_INVALIDATE,
  PROT_EXEC,
  PROT_READ,
  PROT_WRITE,
  type ProcessHandle,
  type SignalInfo,
  type SysResult,
  type ThreadHandle,
} from '../../../src/index.js';
import { PAGE } from '../_helpers.js';

const ARENA = 0x10000000;
const ARENA_PAGES = 32;
const MAX_CHILDREN = 2;
/** Byte offsets accesses use: few, so loads often meet earlier stores. */
const OFFSETS = [0, 1, 777, PAGE - 1] as const;
const R = PROT_READ;
const W = PROT_WRITE;
const X = PROT_EXEC;

const va = (page: number): number => ARENA + page * PAGE;
const hex = (n: number): string => `0x${n.toString(16)}`;
const protStr = (prot: number): string => (prot & R ? 'r' : '-') + (prot & W ? 'w' : '-') + (prot & X ? 'x' : '-');

class Mismatch extends Error {}

// ---------------------------------------------------------------------------------------
// The model

/** The range key over a page: none, or the key and PERSIST flag. */
type PageKey = { readonly key: number; readonly persist: boolean } | null;

/**
 * What the page table holds for a mapped page: nothing that translates ('absent': no
 * entry, a swap entry), a present translation, or a frame parked by FreeBSD's pmap_remove
 * under mprotect/msync (a not-present entry that keeps the frame, which a later
 * pmap_protect with PROT_READ makes present again).
 */
type PteState = 'absent' | 'present' | 'parked';

interface PageModel {
  mapped: boolean;
  prot: number;
  pte: PteState;
  /** Bytes written, by offset; unwritten bytes read 0. */
  data: Map<number, number>;
}

type Expected = { readonly ok: true; readonly value: number } | { readonly ok: false; readonly code: SignalInfo['code']; readonly pkey?: number };

class Model {
  readonly pages: PageModel[] = [];
  readonly keys: PageKey[] = new Array<PageKey>(ARENA_PAGES).fill(null);
  /** PKRU of the two threads. */
  readonly pkru = [0, 0];

  constructor(readonly bug: boolean) {
    for (let i = 0; i < ARENA_PAGES; i++) this.pages.push({ mapped: false, prot: 0, pte: 'absent', data: new Map() });
  }

  private dropNonPersist(i: number): void {
    const k = this.keys[i];
    if (k !== null && !k.persist) this.keys[i] = null;
  }

  /** pmap_map_delete() of one mapped page (munmap, MAP_FIXED). */
  private unmapPage(i: number): void {
    const pg = this.pages[i];
    if (!pg.mapped) return;
    this.dropNonPersist(i);
    pg.mapped = false;
    pg.prot = 0;
    pg.pte = 'absent';
    pg.data = new Map();
  }

  /** pmap_remove() of one page: keys go only before the fix. */
  private pmapRemoveKeys(i: number): void {
    if (this.bug) this.dropNonPersist(i);
  }

  mmap(a: number, b: number, prot: number): void {
    for (let i = a; i < b; i++) {
      this.unmapPage(i);
      this.pages[i] = { mapped: true, prot, pte: 'absent', data: new Map() };
    }
  }

  munmap(a: number, b: number): void {
    for (let i = a; i < b; i++) this.unmapPage(i);
  }

  /** FreeBSD vm_map_protect(): VMAs in order up to the first hole (ENOMEM). */
  mprotect(a: number, b: number, prot: number): string | 0 {
    for (let i = a; i < b; i++) {
      const pg = this.pages[i];
      if (!pg.mapped) return 'ENOMEM';
      const old = pg.prot;
      if (old === prot) continue;
      pg.prot = prot;
      // pmap_protect() runs only when rights are taken away, with the protection masked for
      // a copy-on-write (private) entry — no write — and VM_PROT_NONE is pmap_remove().
      // Pages already removed stay out of the pmap until a fault.
      if ((old & ~prot) === 0) continue;
      if ((prot & ~W) === 0) {
        if (pg.pte === 'present') pg.pte = 'parked';
        this.pmapRemoveKeys(i);
      }
    }
    return 0;
  }

  /** msync(MS_INVALIDATE): ENOMEM for a hole, before anything changes; else one pmap_remove() over the span. */
  msyncInvalidate(a: number, b: number): string | 0 {
    for (let i = a; i < b; i++) if (!this.pages[i].mapped) return 'ENOMEM';
    for (let i = a; i < b; i++) {
      const pg = this.pages[i];
      if (pg.pte === 'present') pg.pte = 'parked';
      this.pmapRemoveKeys(i);
    }
    return 0;
  }

  protect(a: number, b: number, key: number, excl: boolean, persist: boolean): string | 0 {
    if (excl) {
      // rangeset_check_empty(): any range meeting [a, b] — page b too (FreeBSD's LOOKUP_LE(end)).
      for (let i = a; i <= b && i < ARENA_PAGES; i++) if (this.keys[i] !== null) return 'EBUSY';
    }
    for (let i = a; i < b; i++) this.keys[i] = { key, persist };
    return 0;
  }

  unprotect(a: number, b: number): void {
    for (let i = a; i < b; i++) this.keys[i] = null;
  }

  setPerm(th: number, key: number, access: boolean, modify: boolean): void {
    const bits = 3 << (2 * key);
    this.pkru[th] = ((this.pkru[th] & ~bits) | ((access ? 0 : 1) << (2 * key)) | ((modify ? 0 : 2) << (2 * key))) >>> 0;
  }

  /** Process swap-out of [a, b): mapped pages leave the page table; pmap_remove over the whole span. */
  swapOut(a: number, b: number): void {
    for (let i = a; i < b; i++) {
      if (this.pages[i].mapped) this.pages[i].pte = 'absent';
      this.pmapRemoveKeys(i);
    }
  }

  keyOf(i: number): number {
    return this.keys[i]?.key ?? 0;
  }

  /**
   * A user access by thread `th`. A present translation is checked by the MMU, protection
   * keys included (a key violation sets PK, which trap_pfault() turns into SEGV_PKUERR
   * before anything else); a missing one goes to vm_fault(), which checks the mapping's
   * rights only, maps the page with the range's key, and the retried access meets the key.
   */
  access(th: number, i: number, off: number, write: boolean, value: number): Expected {
    const pg = this.pages[i];
    if (!pg.mapped) return { ok: false, code: 'SEGV_MAPERR' };
    const key = this.keyOf(i);
    const bits = (this.pkru[th] >>> (2 * key)) & 3;
    const denied = (bits & 1) !== 0 || (write && (bits & 2) !== 0);
    if (pg.pte !== 'present') {
      if (pg.prot === 0 || (write && (pg.prot & W) === 0)) return { ok: false, code: 'SEGV_ACCERR' };
      pg.pte = 'present';
    } else if (!denied && write && (pg.prot & W) === 0) {
      return { ok: false, code: 'SEGV_ACCERR' };
    }
    if (denied) return { ok: false, code: 'SEGV_PKUERR', pkey: key };
    if (write) {
      pg.data.set(off, value);
      return { ok: true, value: 0 };
    }
    return { ok: true, value: pg.data.get(off) ?? 0 };
  }

  /** What a child forked now keeps: keys, bytes of mapped pages, the forking thread's PKRU. */
  forkSnapshot(th: number): ChildModel {
    return {
      keys: this.keys.slice(),
      data: this.pages.map((p) => (p.mapped ? new Map(p.data) : null)),
      pkru: this.pkru[th],
    };
  }
}

interface ChildModel {
  readonly keys: readonly PageKey[];
  readonly data: readonly (ReadonlyMap<number, number> | null)[];
  readonly pkru: number;
}

// ---------------------------------------------------------------------------------------
// Operations

/** A page chosen when the step runs: one the process has mapped (when `mapped` and there is one), or any page of the arena. */
interface PageSel {
  readonly mapped: boolean;
  readonly n: number;
}

interface Span {
  readonly a: PageSel;
  readonly n: number;
}

type Op =
  | ({ readonly t: 'mmap'; readonly prot: number } & Span)
  | ({ readonly t: 'munmap' } & Span)
  | ({ readonly t: 'mprotect'; readonly prot: number } & Span)
  | ({ readonly t: 'msync' } & Span)
  | ({ readonly t: 'protect'; readonly th: number; readonly key: number; readonly excl: boolean; readonly persist: boolean } & Span)
  | { readonly t: 'protectEmpty'; readonly a: PageSel; readonly key: number }
  | ({ readonly t: 'unprotect' } & Span)
  | { readonly t: 'setPerm'; readonly th: number; readonly key: number; readonly access: boolean; readonly modify: boolean }
  | { readonly t: 'load'; readonly th: number; readonly page: PageSel; readonly off: number }
  | { readonly t: 'store'; readonly th: number; readonly page: PageSel; readonly off: number; readonly value: number }
  | ({ readonly t: 'swapOut'; readonly whole: boolean } & Span)
  | { readonly t: 'fork'; readonly th: number }
  | { readonly t: 'exitChild' };

const pageArb = (mappedPercent: number): fc.Arbitrary<PageSel> => fc.record({ mapped: fc.integer({ min: 0, max: 99 }).map((x) => x < mappedPercent), n: fc.nat(1023) });
const nArb = fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 1, max: 4 }) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 12 }) });
const spanArb = (mappedPercent: number): { a: fc.Arbitrary<PageSel>; n: fc.Arbitrary<number> } => ({ a: pageArb(mappedPercent), n: nArb });
const thArb = fc.nat(1);
const protArb = fc.oneof({ weight: 5, arbitrary: fc.constant(R | W) }, { weight: 3, arbitrary: fc.constantFrom(0, R, W, X, R | X) });
/** Keys: mostly two, so that ranges and PKRU rights meet; sometimes any, key 0 included. */
const keyArb = fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 1, max: 2 }) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 15 }) });
const offArb = fc.constantFrom(...OFFSETS);

const mmapArb = fc.record({ t: fc.constant('mmap' as const), ...spanArb(0), prot: protArb });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: mmapArb },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('munmap' as const), ...spanArb(40) }) },
  { weight: 5, arbitrary: fc.record({ t: fc.constant('mprotect' as const), ...spanArb(80), prot: protArb }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('msync' as const), ...spanArb(80) }) },
  { weight: 10, arbitrary: fc.record({ t: fc.constant('protect' as const), th: thArb, ...spanArb(70), key: keyArb, excl: fc.boolean(), persist: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('protectEmpty' as const), a: pageArb(50), key: keyArb }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('unprotect' as const), ...spanArb(60) }) },
  { weight: 8, arbitrary: fc.record({ t: fc.constant('setPerm' as const), th: thArb, key: fc.oneof({ weight: 8, arbitrary: fc.integer({ min: 1, max: 2 }) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 15 }) }), access: fc.boolean(), modify: fc.boolean() }) },
  { weight: 16, arbitrary: fc.record({ t: fc.constant('load' as const), th: thArb, page: pageArb(85), off: offArb }) },
  { weight: 16, arbitrary: fc.record({ t: fc.constant('store' as const), th: thArb, page: pageArb(85), off: offArb, value: fc.integer({ min: 1, max: 255 }) }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('swapOut' as const), whole: fc.boolean(), ...spanArb(50) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('fork' as const), th: thArb }) },
  { weight: 1, arbitrary: fc.constant({ t: 'exitChild' as const }) },
);

// ---------------------------------------------------------------------------------------
// The runner

const fmtResult = (r: SysResult): string => (isErrno(r) ? r.name : r >= 0x1000 ? hex(r) : String(r));
const fmtAccess = (r: number | SignalInfo | null): string => (r === null ? 'ok' : isSignal(r) ? `${r.signal} ${r.code} addr=${hex(r.addr)} pkey=${r.pkey}` : hex(r));

class Run {
  readonly m: Machine;
  readonly p: ProcessHandle;
  readonly threads: ThreadHandle[];
  readonly model: Model;
  readonly children: { readonly h: ProcessHandle; readonly cm: ChildModel }[] = [];
  readonly log: string[] = [];

  constructor(readonly bug: boolean) {
    this.m = new Machine({ os: 'freebsd', cpus: 2, memory: 8 << 20, swap: 8 << 20, tlbEntries: 64, variants: bug ? ['pkru-swapout-bug'] : [], invariants: 'throw' });
    this.p = this.m.spawn('p', 0);
    this.threads = [this.p.main, this.p.spawnThread(1)];
    this.model = new Model(bug);
  }

  private say(text: string): void {
    this.log.push(text);
  }

  private expectResult(actual: SysResult, expected: string | number): void {
    this.log[this.log.length - 1] += ` = ${fmtResult(actual)}`;
    const a = isErrno(actual) ? actual.name : actual;
    if (a !== expected) throw new Mismatch(`expected ${String(expected)}`);
  }

  private expectAccess(actual: number | SignalInfo | null, exp: Expected, addr: number, write: boolean): void {
    this.log[this.log.length - 1] += ` = ${fmtAccess(actual)}`;
    if (!exp.ok) {
      const want = `SIGSEGV ${exp.code}${exp.pkey !== undefined ? ` pkey=${exp.pkey}` : ''}`;
      if (!isSignal(actual) || actual.signal !== 'SIGSEGV' || actual.code !== exp.code || actual.addr !== addr || (exp.pkey !== undefined && actual.pkey !== exp.pkey)) {
        throw new Mismatch(`expected ${want}`);
      }
      return;
    }
    if (write) {
      if (actual !== null) throw new Mismatch('expected the store to succeed');
    } else if (actual !== exp.value) {
      throw new Mismatch(`expected ${hex(exp.value)}`);
    }
  }

  /** The page a selector names now. */
  private page(sel: PageSel): number {
    if (sel.mapped) {
      const mapped: number[] = [];
      for (let i = 0; i < ARENA_PAGES; i++) if (this.model.pages[i].mapped) mapped.push(i);
      if (mapped.length) return mapped[sel.n % mapped.length];
    }
    return sel.n % ARENA_PAGES;
  }

  /** [a, b) in arena pages, clipped to the arena. */
  private span(s: Span): [number, number] {
    const a = this.page(s.a);
    return [a, Math.min(ARENA_PAGES, a + s.n)];
  }

  step(op: Op): void {
    const md = this.model;
    switch (op.t) {
      case 'mmap': {
        const [a, b] = this.span(op);
        this.say(`mmap(${hex(va(a))}, ${(b - a) * PAGE}, ${protStr(op.prot)}, MAP_FIXED|MAP_PRIVATE|MAP_ANONYMOUS)`);
        const r = this.threads[0].mmap(va(a), (b - a) * PAGE, op.prot, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS);
        md.mmap(a, b, op.prot);
        return this.expectResult(r, va(a));
      }
      case 'munmap': {
        const [a, b] = this.span(op);
        this.say(`munmap(${hex(va(a))}, ${(b - a) * PAGE})`);
        const r = this.threads[0].munmap(va(a), (b - a) * PAGE);
        md.munmap(a, b);
        return this.expectResult(r, 0);
      }
      case 'mprotect': {
        const [a, b] = this.span(op);
        this.say(`mprotect(${hex(va(a))}, ${(b - a) * PAGE}, ${protStr(op.prot)})`);
        const r = this.threads[0].mprotect(va(a), (b - a) * PAGE, op.prot);
        return this.expectResult(r, md.mprotect(a, b, op.prot));
      }
      case 'msync': {
        const [a, b] = this.span(op);
        this.say(`msync(${hex(va(a))}, ${(b - a) * PAGE}, MS_INVALIDATE)`);
        const r = this.threads[0].msync(va(a), (b - a) * PAGE, MS_INVALIDATE);
        return this.expectResult(r, md.msyncInvalidate(a, b));
      }
      case 'protect': {
        const [a, b] = this.span(op);
        const flags = (op.excl ? AMD64_PKRU_EXCL : 0) | (op.persist ? AMD64_PKRU_PERSIST : 0);
        this.say(`t${op.th}: x86_pkru_protect_range(${hex(va(a))}, ${(b - a) * PAGE}, ${op.key}, ${op.excl ? 'EXCL' : ''}${op.excl && op.persist ? '|' : ''}${op.persist ? 'PERSIST' : op.excl ? '' : '0'})`);
        const r = this.threads[op.th].pkruProtectRange(va(a), (b - a) * PAGE, op.key, flags);
        return this.expectResult(r, md.protect(a, b, op.key, op.excl, op.persist));
      }
      case 'protectEmpty': {
        const a = this.page(op.a);
        this.say(`x86_pkru_protect_range(${hex(va(a))}, 0, ${op.key}, 0)`);
        return this.expectResult(this.threads[0].pkruProtectRange(va(a), 0, op.key), 'EFAULT');
      }
      case 'unprotect': {
        const [a, b] = this.span(op);
        this.say(`x86_pkru_unprotect_range(${hex(va(a))}, ${(b - a) * PAGE})`);
        const r = this.threads[0].pkruUnprotectRange(va(a), (b - a) * PAGE);
        md.unprotect(a, b);
        return this.expectResult(r, 0);
      }
      case 'setPerm': {
        this.say(`t${op.th}: x86_pkru_set_perm(${op.key}, ${Number(op.access)}, ${Number(op.modify)})`);
        const r = this.threads[op.th].pkruSetPerm(op.key, op.access, op.modify);
        md.setPerm(op.th, op.key, op.access, op.modify);
        return this.expectResult(r, 0);
      }
      case 'load': {
        const page = this.page(op.page);
        const addr = va(page) + op.off;
        this.say(`t${op.th}: load ${hex(addr)}`);
        const r = this.threads[op.th].load(addr);
        return this.expectAccess(r, md.access(op.th, page, op.off, false, 0), addr, false);
      }
      case 'store': {
        const page = this.page(op.page);
        const addr = va(page) + op.off;
        this.say(`t${op.th}: store ${hex(addr)} ${hex(op.value)}`);
        const r = this.threads[op.th].store(addr, op.value);
        return this.expectAccess(r, md.access(op.th, page, op.off, true, op.value), addr, true);
      }
      case 'swapOut': {
        if (op.whole) {
          this.say('swapOut(p)');
          this.m.swapOut(this.p);
          md.swapOut(0, ARENA_PAGES);
        } else {
          const [a, b] = this.span(op);
          this.say(`swapOut(p, ${hex(va(a))}, ${hex(va(b))})`);
          this.m.swapOut(this.p, va(a), va(b));
          md.swapOut(a, b);
        }
        return;
      }
      case 'fork': {
        if (this.children.length >= MAX_CHILDREN) return;
        this.say(`t${op.th}: fork()`);
        const c = this.threads[op.th].fork(0);
        if (isErrno(c)) throw new Mismatch(`fork failed with ${c.name}`);
        this.log[this.log.length - 1] += ` = pid ${c.pid}`;
        this.children.push({ h: c, cm: md.forkSnapshot(op.th) });
        return;
      }
      case 'exitChild': {
        const c = this.children.shift();
        if (!c) return;
        this.say(`exit(pid ${c.h.pid})`);
        c.h.exit();
        if (c.h.snapshot({ start: 0, end: 0 }).pkruRanges.length !== 0) throw new Mismatch('an exited process still has PKRU ranges');
        return;
      }
    }
  }

  /** After every step: ranges, page-table state and bytes of the parent; everything a child kept. */
  check(): void {
    const md = this.model;
    for (let i = 0; i < ARENA_PAGES; i++) {
      const v = va(i);
      const r = this.p.pkruRange(v + 5);
      const want = md.keys[i];
      const got = r === undefined ? null : { key: r.key, persist: r.persist };
      if (JSON.stringify(got) !== JSON.stringify(want)) throw new Mismatch(`page ${hex(v)}: range ${JSON.stringify(got)}, the model says ${JSON.stringify(want)}`);
      const pg = md.pages[i];
      const pte = this.p.pte(v);
      const state: PteState = pte.present ? 'present' : pte.protnone ? 'parked' : 'absent';
      if (pg.mapped ? state !== pg.pte : state !== 'absent') throw new Mismatch(`page ${hex(v)}: PTE is ${state}, the model says ${pg.mapped ? pg.pte : 'unmapped'}`);
      if (state === 'present' && pte.key !== md.keyOf(i)) throw new Mismatch(`page ${hex(v)}: PTE key ${pte.key}, the model says ${md.keyOf(i)}`);
      if (!pg.mapped) {
        if (this.p.peek(v) !== undefined) throw new Mismatch(`page ${hex(v)} reads although unmapped`);
        continue;
      }
      for (const off of OFFSETS) {
        const b = this.p.peek(v + off);
        if (b !== (pg.data.get(off) ?? 0)) throw new Mismatch(`byte ${hex(v + off)} is ${String(b)}, the model says ${pg.data.get(off) ?? 0}`);
      }
    }
    // No range outside the arena.
    for (const r of this.p.snapshot({ start: 0, end: 0 }).pkruRanges) {
      if (r.start < va(0) || r.end > va(ARENA_PAGES)) throw new Mismatch(`range ${hex(r.start)}-${hex(r.end)} outside the arena`);
    }
    for (let th = 0; th < 2; th++) {
      if (this.threads[th].pkru !== md.pkru[th]) throw new Mismatch(`thread ${th} PKRU ${hex(this.threads[th].pkru)}, the model says ${hex(md.pkru[th])}`);
    }
    for (const { h, cm } of this.children) {
      if (!h.alive) throw new Mismatch(`child ${h.pid} died`);
      if (h.main.pkru !== cm.pkru) throw new Mismatch(`child ${h.pid} PKRU ${hex(h.main.pkru)}, expected ${hex(cm.pkru)}`);
      for (let i = 0; i < ARENA_PAGES; i++) {
        const r = h.pkruRange(va(i));
        const got = r === undefined ? null : { key: r.key, persist: r.persist };
        if (JSON.stringify(got) !== JSON.stringify(cm.keys[i])) throw new Mismatch(`child ${h.pid} page ${hex(va(i))}: range ${JSON.stringify(got)}, kept from fork ${JSON.stringify(cm.keys[i])}`);
        const data = cm.data[i];
        if (data === null) continue;
        for (const off of OFFSETS) {
          const b = h.peek(va(i) + off);
          if (b !== (data.get(off) ?? 0)) throw new Mismatch(`child ${h.pid} byte ${hex(va(i) + off)} is ${String(b)}, kept from fork ${data.get(off) ?? 0}`);
        }
      }
    }
  }

  /** At the end: every process exits and gives its swap back; no memory pressure happened on the way. */
  finish(): void {
    for (const { h } of this.children) h.exit();
    this.p.exit();
    const c = this.m.counters().machine;
    if (c.swapUsed !== 0) throw new Mismatch(`${c.swapUsed} swap slots still used after every process exited`);
    if (this.m.events.some((e) => e.kind === 'reclaim' || e.kind === 'oom-kill')) throw new Mismatch('memory pressure: the model assumes none');
  }
}

/** Outcome counts over all runs, printed with FREEBSD_MODEL_STATS=1 to see what the generator reaches. */
const stats = new Map<string, number>();

function runOps(ops: readonly Op[], bug: boolean): void {
  const run = new Run(bug);
  try {
    for (const op of ops) {
      const logged = run.log.length;
      run.step(op);
      run.check();
      if (process.env.FREEBSD_MODEL_STATS) {
        const last = run.log.length > logged ? run.log[run.log.length - 1] : '(skipped)';
        const res = last.includes(' = ') ? last.slice(last.lastIndexOf(' = ') + 3).replace(/ addr=0x[0-9a-f]+/, '').replace(/0x[0-9a-f]+/g, 'X') : '';
        const key = `${op.t} ${res}`;
        stats.set(key, (stats.get(key) ?? 0) + 1);
      }
    }
    run.finish();
  } catch (e) {
    const msg = e instanceof Error ? `${e.constructor.name}: ${e.message}` : String(e);
    throw new Error(`${msg}\n  after:\n    ${run.log.slice(-60).join('\n    ')}`, { cause: e });
  }
}

const SEED = Number(process.env.FREEBSD_MODEL_SEED ?? 2019);
const RUNS = Number(process.env.FREEBSD_MODEL_RUNS ?? (process.env.CI ? 60 : 200));
const MAX_LEN = Number(process.env.FREEBSD_MODEL_LEN ?? 60);

/** A few mappings first, so that most accesses land on something; then anything. */
const opsArb: fc.Arbitrary<Op[]> = fc
  .tuple(fc.array(mmapArb, { minLength: 1, maxLength: 3 }), fc.array(opArb, { minLength: 1, maxLength: MAX_LEN, size: 'max' }))
  .map(([first, rest]) => [...first, ...rest]);

describe('freebsd PKRU model-based test (machine vs page-by-page model)', () => {
  for (const bug of [false, true]) {
    it(`random mappings, key ranges, PKRU changes, accesses, swap-out and fork agree with the model (${bug ? 'pkru-swapout-bug' : 'fixed'})`, () => {
      fc.assert(
        fc.property(opsArb, (ops) => runOps(ops, bug)),
        { seed: SEED + (bug ? 1 : 0), numRuns: RUNS, includeErrorInReport: true },
      );
      if (process.env.FREEBSD_MODEL_STATS) console.log([...stats].sort().map(([k, n]) => `${k}: ${n}`).join('\n'));
      stats.clear();
    });
  }
});

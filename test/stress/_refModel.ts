/**
 * The stress test's reference model: a whole machine's worth of user address spaces, for
 * both personalities, built on the page-by-page {@link ProcModel} of test/mm/_model.ts.
 *
 * A {@link World} is every live process (pages with protection and backing, key
 * allocations, PKRU per thread), the memory objects their pages live in (named files,
 * shmem objects) and, under freebsd, each process's PKRU range set page by page. Worlds
 * clone cheaply enough that the driver can keep several candidates while an interleaved
 * step has more than one serial explanation.
 *
 * Where the personalities differ:
 * - keys: Linux keeps them on the VMA (ProcModel's `pkey`); FreeBSD in a per-pmap range set
 *   that covers addresses, mapped or not. munmap and MAP_FIXED (pmap_map_delete()) drop the
 *   non-PERSIST keys of the mappings they remove; swap-out and mprotect to no rights
 *   (pmap_remove()) drop them only under the pkru-swapout-bug variant;
 * - PKRU at process start: Linux 0x55555554, FreeBSD 0;
 * - a denied access: Linux checks the key first (access_error()); FreeBSD's trap_pfault()
 *   sees the key only when the PTE is present, vm_fault() the protection only when it is
 *   not. The model does not track PTE presence, so where both deny, both signals are
 *   accepted. Past EOF: BUS_ADRERR (Linux) or BUS_OBJERR (FreeBSD);
 * - MADV_DONTNEED discards private pages under Linux; FreeBSD's is advice only.
 */
import { PROT_READ, PROT_WRITE } from '../../src/index.js';
import { type Backing, type Fault, INIT_PKRU, type MapsEntry, MemObj, Mismatch, PAGE, ProcModel, type Result } from '../mm/_model.js';

export type Os = 'linux' | 'freebsd';

/** One page's entry in a FreeBSD PKRU range set. */
export interface RangeKey {
  readonly key: number;
  readonly persist: boolean;
}

/** A signal the model accepts for an access, with alternatives where the kernel may choose. */
export type Expected = { readonly ok: true; readonly bytes: readonly number[] } | { readonly ok: false; readonly faults: readonly Fault[] };

/** oom_score_adj at which the OOM killer never picks a process (Linux OOM_SCORE_ADJ_MIN; FreeBSD P_PROTECTED). */
export const OOM_SCORE_ADJ_MIN = -1000;

/** One process of the model. */
export class RefProc {
  /** /proc/pid/oom_score_adj (FreeBSD: -1000 is procctl(PROC_SPROTECT) without PPROT_INHERIT). */
  oomScoreAdj = 0;

  constructor(
    readonly pm: ProcModel,
    /** FreeBSD: the range set, page number → key; empty under linux. */
    readonly ranges: Map<number, RangeKey>,
  ) {}

  get pid(): number {
    return this.pm.pid;
  }
}

const PKEY_AD = 1;
const PKEY_WD = 2;

/** The whole machine's user-visible state, as the kernels' semantics say it must be. */
export class World {
  readonly procs = new Map<number, RefProc>();
  /** Memory objects ↔ the inode numbers /proc/pid/maps shows (learnt as they appear). */
  readonly inodes = new Map<MemObj, number>();
  readonly objs = new Map<number, MemObj>();

  constructor(
    readonly os: Os,
    /** FreeBSD pkru-swapout-bug: pmap_remove() drops non-PERSIST keys. */
    readonly dropKeysOnRemove: boolean,
    /** The named files, by index. */
    readonly files: MemObj[],
  ) {}

  /** A deep copy: processes, pages, bytes, memory objects and what refers to them. */
  clone(): World {
    const map = new Map<MemObj, MemObj>();
    const obj = (o: MemObj): MemObj => {
      let c = map.get(o);
      if (!c) {
        c = new MemObj(o.name, o.size, o.shmem, null);
        c.data = o.data.slice();
        map.set(o, c);
      }
      return c;
    };
    const w = new World(this.os, this.dropKeysOnRemove, this.files.map(obj));
    for (const [pid, rp] of this.procs) {
      const src = rp.pm;
      const pm = new ProcModel(pid, -1);
      pm.pkru.clear();
      for (const [tid, v] of src.pkru) pm.pkru.set(tid, v);
      pm.keyMap = src.keyMap;
      pm.execOnlyKey = src.execOnlyKey;
      for (const [page, e] of src.pages) {
        const b = e.b;
        let nb: Backing;
        if (b.kind === 'anon') nb = { kind: 'anon', data: b.data ? b.data.slice() : null };
        else if (b.kind === 'priv') nb = { kind: 'priv', obj: obj(b.obj), index: b.index, data: b.data ? b.data.slice() : null };
        else nb = { kind: 'shared', obj: obj(b.obj), index: b.index, mayWrite: b.mayWrite };
        pm.pages.set(page, { prot: e.prot, pkey: e.pkey, b: nb });
      }
      const c = new RefProc(pm, new Map(rp.ranges));
      c.oomScoreAdj = rp.oomScoreAdj;
      w.procs.set(pid, c);
    }
    for (const [o, ino] of this.inodes) {
      const c = map.get(o);
      if (c) {
        w.inodes.set(c, ino);
        w.objs.set(ino, c);
      }
    }
    return w;
  }

  proc(pid: number): RefProc {
    const rp = this.procs.get(pid);
    if (!rp) throw new Mismatch(`model: no process ${pid}`);
    return rp;
  }

  // ---- processes and threads ---------------------------------------------------------

  spawn(pid: number, tid: number): void {
    const pm = new ProcModel(pid, tid);
    if (this.os === 'freebsd') pm.pkru.set(tid, 0);
    this.procs.set(pid, new RefProc(pm, new Map()));
  }

  /**
   * fork(2): the child has a copy of every page, the key allocations (Linux) or the range
   * set (FreeBSD), and the forking thread's PKRU. Linux copy_signal() copies oom_score_adj;
   * FreeBSD do_fork() passes P_PROTECTED on only under P2_INHERIT_PROTECTED (PPROT_INHERIT).
   */
  fork(pid: number, tid: number, childPid: number, childTid: number): void {
    const rp = this.proc(pid);
    const c = new RefProc(rp.pm.fork(childPid, tid, childTid), new Map(rp.ranges));
    if (this.os === 'linux') c.oomScoreAdj = rp.oomScoreAdj;
    this.procs.set(childPid, c);
  }

  /** A write to /proc/pid/oom_score_adj: EINVAL outside -1000 … 1000 (proc_oom_score_adj_write()). */
  setOomScoreAdj(pid: number, value: number): Result {
    if (value < -1000 || value > 1000) return 'EINVAL';
    this.proc(pid).oomScoreAdj = value;
    return 0;
  }

  thread(pid: number, creator: number, tid: number): void {
    this.proc(pid).pm.newThread(creator, tid);
  }

  exit(pid: number): void {
    this.procs.delete(pid);
  }

  // ---- keys -------------------------------------------------------------------------

  /** The key an access to `va` meets. */
  keyAt(rp: RefProc, va: number): number {
    if (this.os === 'linux') return rp.pm.entry(va)?.pkey ?? 0;
    return rp.ranges.get(Math.floor(va / PAGE))?.key ?? 0;
  }

  /** pmap_map_delete() of the mapped pages of [start, end): their non-PERSIST keys go. */
  private mapDelete(rp: RefProc, start: number, end: number): void {
    if (this.os !== 'freebsd') return;
    for (let a = start; a < end; a += PAGE) {
      const page = a / PAGE;
      const r = rp.ranges.get(page);
      if (r && !r.persist && rp.pm.entry(a)) rp.ranges.delete(page);
    }
  }

  /** pmap_remove() over pages [first, last): keys go only under the pkru-swapout-bug variant. */
  private pmapRemove(rp: RefProc, first: number, last: number): void {
    if (this.os !== 'freebsd' || !this.dropKeysOnRemove) return;
    for (let page = first; page < last; page++) {
      const r = rp.ranges.get(page);
      if (r && !r.persist) rp.ranges.delete(page);
    }
  }

  // ---- syscalls ---------------------------------------------------------------------

  /**
   * mmap(2) of `npages` pages. `fixed`: at `addr` (replacing what is there); else the
   * kernel chooses, and `actual` is checked to be a free, aligned address. `file` -1 is
   * anonymous memory. Populate changes no byte the model can see for the mappings the
   * driver populates (anonymous and shared ones). Returns the expected result.
   */
  mmap(pid: number, tid: number, addr: number, npages: number, prot: number, shared: boolean, file: number, fileOff: number, fixed: boolean, actual: Result): Result {
    const rp = this.proc(pid);
    const pm = rp.pm;
    const len = npages * PAGE;
    const where = fixed ? addr : pm.checkFreeChoice(actual, len);
    this.mapDelete(rp, where, where + len);
    pm.unmap(where, len);
    const obj = file >= 0 ? this.files[file] : shared ? new MemObj('/dev/zero (deleted)', len, true, null) : null;
    const key = this.os === 'linux' ? pm.mmapKey(prot, tid) : 0;
    pm.map(where, npages, prot, key, (i): Backing => {
      if (!obj) return { kind: 'anon', data: null };
      const index = (file >= 0 ? fileOff : 0) + i;
      return shared ? { kind: 'shared', obj, index, mayWrite: true } : { kind: 'priv', obj, index, data: null };
    });
    return where;
  }

  munmap(pid: number, addr: number, npages: number): Result {
    const rp = this.proc(pid);
    this.mapDelete(rp, addr, addr + npages * PAGE);
    rp.pm.unmap(addr, npages * PAGE);
    return 0;
  }

  /**
   * mprotect(2). Linux: ProcModel's walk. FreeBSD vm_map_protect(): page by page up to the
   * first hole (ENOMEM, earlier pages changed); rights taken away down to none (for a
   * private page, whose PTEs never carry write) is pmap_remove() for that page.
   */
  mprotect(pid: number, tid: number, addr: number, npages: number, prot: number): Result {
    const rp = this.proc(pid);
    if (this.os === 'linux') return rp.pm.mprotect(addr, npages * PAGE, prot, -1, tid);
    for (let i = 0; i < npages; i++) {
      const a = addr + i * PAGE;
      const e = rp.pm.entry(a);
      if (!e) return 'ENOMEM';
      const old = e.prot;
      e.prot = prot;
      if ((old & ~prot) === 0) continue;
      const masked = e.b.kind === 'shared' ? prot : prot & ~PROT_WRITE;
      if (masked === 0) this.pmapRemove(rp, a / PAGE, a / PAGE + 1);
    }
    return 0;
  }

  madviseDontneed(pid: number, addr: number, npages: number): Result {
    return this.proc(pid).pm.madvise(addr, npages * PAGE, this.os === 'linux');
  }

  pkeyMprotect(pid: number, tid: number, addr: number, npages: number, prot: number, key: number): Result {
    return this.proc(pid).pm.mprotect(addr, npages * PAGE, prot, key, tid);
  }

  pkeyAlloc(pid: number, tid: number, rights: number): Result {
    return this.proc(pid).pm.pkeyAlloc(tid, 0, rights);
  }

  pkeySet(pid: number, tid: number, key: number, rights: number): Result {
    return this.proc(pid).pm.pkeySet(tid, key, rights);
  }

  /** x86_pkru_protect_range() over whole pages [first, first + npages); EXCL meets page `first + npages` too (LOOKUP_LE(end)). */
  pkruProtect(pid: number, first: number, npages: number, key: number, excl: boolean, persist: boolean): Result {
    const rp = this.proc(pid);
    if (npages === 0) return 'EFAULT';
    if (excl) {
      for (let page = first; page <= first + npages; page++) if (rp.ranges.has(page)) return 'EBUSY';
    }
    for (let page = first; page < first + npages; page++) rp.ranges.set(page, { key, persist });
    return 0;
  }

  pkruUnprotect(pid: number, first: number, npages: number): Result {
    const rp = this.proc(pid);
    for (let page = first; page < first + npages; page++) rp.ranges.delete(page);
    return 0;
  }

  pkruSetPerm(pid: number, tid: number, key: number, access: boolean, modify: boolean): Result {
    this.proc(pid).pm.setRights(tid, key, (access ? 0 : PKEY_AD) | (modify ? 0 : PKEY_WD));
    return 0;
  }

  /** A process swap-out of [start, end): no byte changes; FreeBSD's pmap_remove() over the span, rounded out to pages. */
  swapOut(pid: number, start: number, end: number): void {
    const rp = this.proc(pid);
    if (this.os !== 'freebsd' || !this.dropKeysOnRemove) return;
    const first = Math.floor(start / PAGE);
    const last = Math.ceil(end / PAGE);
    for (const [page, r] of [...rp.ranges]) if (page >= first && page < last && !r.persist) rp.ranges.delete(page);
  }

  // ---- accesses ---------------------------------------------------------------------

  /** The signals an access to `va` may raise (empty: it succeeds). */
  private faults(rp: RefProc, va: number, write: boolean, pkru: number): Fault[] {
    if (this.os === 'linux') {
      const f = rp.pm.fault(va, write, pkru);
      return f ? [f] : [];
    }
    const e = rp.pm.entry(va);
    if (!e) return [{ signal: 'SIGSEGV', code: 'SEGV_MAPERR', addr: va }];
    const key = this.keyAt(rp, va);
    const rights = (pkru >>> (2 * key)) & 3;
    const keyDenies = (rights & PKEY_AD) !== 0 || (write && (rights & PKEY_WD) !== 0);
    const protDenies = write ? (e.prot & PROT_WRITE) === 0 : (e.prot & (PROT_READ | PROT_WRITE)) === 0;
    const pku: Fault = { signal: 'SIGSEGV', code: 'SEGV_PKUERR', addr: va, pkey: key };
    const b = e.b;
    const pastEof = b.kind !== 'anon' && !(b.kind === 'priv' && b.data) && b.index >= b.obj.pages;
    // A page past EOF is never present: vm_fault() decides, protection first.
    if (protDenies) return keyDenies && !pastEof ? [{ signal: 'SIGSEGV', code: 'SEGV_ACCERR', addr: va }, pku] : [{ signal: 'SIGSEGV', code: 'SEGV_ACCERR', addr: va }];
    if (pastEof) return [{ signal: 'SIGBUS', code: 'BUS_OBJERR', addr: va }];
    return keyDenies ? [pku] : [];
  }

  /**
   * A load or store of `size` bytes by thread `tid` at `va`: both pages of a split access
   * are checked, the first first, and a write fault on the first page is resolved (COW)
   * before the second is tried. A store returns the bytes it wrote.
   */
  access(pid: number, tid: number, va: number, size: number, write: boolean, value: number): Expected {
    const rp = this.proc(pid);
    const pm = rp.pm;
    const pkru = pm.pkruOf(tid);
    const second = Math.floor((va + size - 1) / PAGE) * PAGE;
    const touched = second !== Math.floor(va / PAGE) * PAGE ? [va, second] : [va];
    for (const a of touched) {
      const f = this.faults(rp, a, write, pkru);
      if (f.length) return { ok: false, faults: f };
      if (write) pm.prepareWrite(a);
    }
    const bytes: number[] = [];
    let v = value >>> 0;
    for (let i = 0; i < size; i++) {
      if (write) {
        pm.writeByte(va + i, v & 0xff);
        bytes.push(v & 0xff);
        v = Math.floor(v / 256);
      } else {
        bytes.push(pm.readByte(va + i));
      }
    }
    return { ok: true, bytes };
  }

  // ---- checks -----------------------------------------------------------------------

  /** FreeBSD: the range set page by page against mmsim's ranges. */
  checkRanges(pid: number, ranges: readonly { readonly start: number; readonly end: number; readonly key: number; readonly persist: boolean }[]): void {
    const want = this.proc(pid).ranges;
    let pages = 0;
    for (const r of ranges) {
      for (let a = r.start; a < r.end; a += PAGE) {
        pages++;
        const k = want.get(Math.floor(a / PAGE));
        if (!k || k.key !== r.key || k.persist !== r.persist) {
          throw new Mismatch(`pid ${pid}: page 0x${a.toString(16)} has PKRU range key ${r.key}${r.persist ? ' PERSIST' : ''}, the model says ${k ? `key ${k.key}${k.persist ? ' PERSIST' : ''}` : 'none'}`);
        }
      }
    }
    if (pages !== want.size) throw new Mismatch(`pid ${pid}: ${pages} pages in PKRU ranges, the model has ${want.size}`);
  }

  /** Linux: the VMAs' keys; both: /proc/pid/maps page by page. */
  checkMaps(pid: number, maps: readonly MapsEntry[], vmaKeys: readonly { readonly start: number; readonly end: number; readonly pkey: number }[]): void {
    this.proc(pid).pm.checkMaps(maps, this.os === 'linux' ? vmaKeys : [], this.inodes, this.objs);
  }
}

export { INIT_PKRU };

/**
 * A naive reference model of user address spaces for the model-based test
 * (model.prop.test.ts): each process is a map of page → protection and backing, and
 * each backing says where the page's bytes live. No VMAs, no page tables, no frames, no
 * swap: whatever mmsim does with those, the bytes a program reads back must be the ones
 * this model predicts.
 *
 * - private anonymous memory: bytes of its own (zeros until written); fork copies them;
 * - private file mapping: the file's current bytes until the first write, then a private
 *   copy (COW); MADV_DONTNEED drops the copy;
 * - shared mapping (file or shared anonymous memory): the object's bytes, seen by every
 *   mapping of the object in every process, and by pread/pwrite/ftruncate of the file.
 *
 * Each page also has its protection key, each process its key allocations and execute-only
 * key, each thread its PKRU: an access is checked as Linux's access_error() does — mapped?
 * key allowed by PKRU? protection? inside the file? — and kernel copies (pread, pwrite)
 * stop at the first page such an access would fault on.
 *
 * A byte is -1 when its value is not specified (a shared store past the end of file into
 * the last page's tail, which Linux zeroes at writeback).
 */
import { MREMAP_DONTUNMAP, MREMAP_FIXED, MREMAP_MAYMOVE, MS_ASYNC, MS_INVALIDATE, MS_SYNC, PROT_EXEC, PROT_READ, PROT_WRITE } from '../../src/index.js';

export const PAGE = 4096;
/** Linux vm.mmap_min_addr, as mmsim uses it. */
export const MMAP_MIN_ADDR = 0x10000;
const TASK_SIZE = 0x7ffffffff000;

/** A memory object: a named file or a shared anonymous (shmem) object. */
export class MemObj {
  /** Page-granular contents; -1 for a byte with unspecified value. */
  data: Int16Array;

  constructor(
    readonly name: string,
    /** Size in bytes: pages at or past ceil(size / PAGE) raise SIGBUS. */
    public size: number,
    readonly shmem: boolean,
    init: Uint8Array | null,
  ) {
    this.data = new Int16Array(Math.ceil(size / PAGE) * PAGE);
    if (init) this.data.set(init.subarray(0, size));
  }

  /** Pages a mapping can reach without SIGBUS. */
  get pages(): number {
    return Math.ceil(this.size / PAGE);
  }

  byte(index: number, off: number): number {
    return this.data[index * PAGE + off];
  }

  setByte(index: number, off: number, v: number): void {
    const pos = index * PAGE + off;
    // Past EOF in the last page: kept in the page cache, zeroed at writeback (Linux
    // block_write_full_page()), so a later read may see either.
    this.data[pos] = pos >= this.size ? -1 : v;
  }

  /**
   * ftruncate(2): pages past the new end are gone (a later grow brings zeros), and the
   * bytes past the new size in its last page read as zeros (Linux truncate_pagecache()
   * zeroes the partial page, wherever it is).
   */
  truncate(size: number, zeroTail = true): void {
    const bytes = Math.ceil(size / PAGE) * PAGE;
    const d = new Int16Array(bytes);
    d.set(this.data.subarray(0, Math.min(bytes, this.data.length)));
    if (size < this.size) d.fill(zeroTail ? 0 : -1, size, bytes);
    this.data = d;
    this.size = size;
  }

  /** pwrite(2) into the file: it grows to cover the bytes; a hole reads as zeros. */
  write(offset: number, bytes: readonly number[]): void {
    const end = offset + bytes.length;
    if (end > this.size) {
      const d = new Int16Array(Math.ceil(end / PAGE) * PAGE);
      d.set(this.data);
      this.data = d;
      this.size = end;
    }
    bytes.forEach((b, i) => (this.data[offset + i] = b));
  }

  /** pread(2) from the file: the bytes before EOF from `offset`, at most `len`. */
  read(offset: number, len: number): number[] {
    const n = Math.max(0, Math.min(len, this.size - offset));
    return Array.from(this.data.subarray(offset, offset + n));
  }

  pageCopy(index: number): Int16Array {
    return this.data.slice(index * PAGE, (index + 1) * PAGE);
  }
}

/** Where a page's bytes live. */
export type Backing =
  | { readonly kind: 'anon'; data: Int16Array | null }
  | { readonly kind: 'priv'; readonly obj: MemObj; readonly index: number; data: Int16Array | null }
  | { readonly kind: 'shared'; readonly obj: MemObj; readonly index: number; readonly mayWrite: boolean };

export interface PageEntry {
  prot: number;
  /** Protection key (Linux keeps it in the VMA's vm_flags). */
  pkey: number;
  readonly b: Backing;
}

/** PKRU at execve: access-disable on keys 1-15 (Linux init_pkru_value). */
export const INIT_PKRU = 0x55555554;
/** Keys, as x86 has them. */
const PKEYS = 16;
const PKEY_DISABLE_ACCESS = 1;
const PKEY_DISABLE_WRITE = 2;

export type SigName = 'SIGSEGV' | 'SIGBUS';
export type SigCode = 'SEGV_MAPERR' | 'SEGV_ACCERR' | 'SEGV_PKUERR' | 'BUS_ADRERR' | 'BUS_OBJERR';

export interface Fault {
  readonly signal: SigName;
  readonly code: SigCode;
  readonly addr: number;
  /** si_pkey of SEGV_PKUERR. */
  readonly pkey?: number;
}

/** What an access should do: its bytes (-1 where unspecified) or the signal it raises. */
export type AccessOutcome = { readonly ok: true; readonly bytes: readonly number[] } | { readonly ok: false; readonly fault: Fault };

/** A /proc/pid/maps line. */
export interface MapsEntry {
  readonly start: number;
  readonly end: number;
  readonly perms: string;
  readonly offset: number;
  readonly inode: number;
  readonly name: string;
}

const MAPS_LINE = /^([0-9a-f]+)-([0-9a-f]+) ([r-][w-][x-][sp]) ([0-9a-f]+) (\S+) (\d+) *(.*)$/;

/** Parses /proc/pid/maps text. */
export function parseMaps(text: string): MapsEntry[] {
  const out: MapsEntry[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const m = MAPS_LINE.exec(line);
    if (!m) throw new Error(`unparsable maps line: ${JSON.stringify(line)}`);
    out.push({ start: parseInt(m[1], 16), end: parseInt(m[2], 16), perms: m[3], offset: parseInt(m[4], 16), inode: Number(m[6]), name: m[7] });
  }
  return out;
}

export function protStr(prot: number): string {
  return (prot & PROT_READ ? 'r' : '-') + (prot & PROT_WRITE ? 'w' : '-') + (prot & PROT_EXEC ? 'x' : '-');
}

export const hex = (n: number): string => `0x${n.toString(16)}`;

/** A syscall outcome as the model states it: a value or an errno name. */
export type Result = number | string;

/** A mismatch between mmsim and the model: thrown, caught by the runner. */
export class Mismatch extends Error {}

function copyBacking(b: Backing): Backing {
  switch (b.kind) {
    case 'anon':
      return { kind: 'anon', data: b.data ? b.data.slice() : null };
    case 'priv':
      return { kind: 'priv', obj: b.obj, index: b.index, data: b.data ? b.data.slice() : null };
    case 'shared':
      return b;
  }
}

/** The backing a page of a VMA has `delta` pages after the page backed by `b` (mremap growth). */
function extend(b: Backing, delta: number): Backing {
  switch (b.kind) {
    case 'anon':
      return { kind: 'anon', data: null };
    case 'priv':
      return { kind: 'priv', obj: b.obj, index: b.index + delta, data: null };
    case 'shared':
      return { kind: 'shared', obj: b.obj, index: b.index + delta, mayWrite: b.mayWrite };
  }
}

/** The backing left behind at the old place by mremap(MREMAP_DONTUNMAP): an empty range of the same VMA. */
function emptied(b: Backing): Backing {
  switch (b.kind) {
    case 'anon':
      return { kind: 'anon', data: null };
    case 'priv':
      return { kind: 'priv', obj: b.obj, index: b.index, data: null };
    case 'shared':
      return b;
  }
}

/**
 * One process: its address space page by page, its protection-key allocations, and the
 * PKRU of each of its threads (keys are per address space, rights per thread).
 */
export class ProcModel {
  readonly pages = new Map<number, PageEntry>();
  /** Allocated keys; key 0 always is (Linux mm->context.pkey_allocation_map). */
  keyMap = 1;
  /** The execute-only key once allocated (Linux mm->context.execute_only_pkey), else -1. */
  execOnlyKey = -1;
  /** PKRU of each live thread, by tid. */
  readonly pkru = new Map<number, number>();

  constructor(
    public pid: number,
    tid: number,
  ) {
    this.pkru.set(tid, INIT_PKRU);
  }

  entry(va: number): PageEntry | undefined {
    return this.pages.get(Math.floor(va / PAGE));
  }

  /** True when no page of [start, start + len) is mapped. */
  isFree(start: number, len: number): boolean {
    for (let a = start; a < start + len; a += PAGE) if (this.entry(a)) return false;
    return true;
  }

  /** Addresses of the mapped pages, ascending. */
  mappedPages(): number[] {
    return [...this.pages.keys()].sort((a, b) => a - b).map((p) => p * PAGE);
  }

  /** fork(2) by thread `tid`: the child's only thread `childTid` inherits its PKRU; keys and their allocations are copied. */
  fork(pid: number, tid: number, childTid: number): ProcModel {
    const c = new ProcModel(pid, childTid);
    for (const [p, e] of this.pages) c.pages.set(p, { prot: e.prot, pkey: e.pkey, b: copyBacking(e.b) });
    c.keyMap = this.keyMap;
    c.execOnlyKey = this.execOnlyKey;
    c.pkru.set(childTid, this.pkruOf(tid));
    return c;
  }

  /** clone(CLONE_VM): a new thread with its creator's PKRU. */
  newThread(creator: number, tid: number): void {
    this.pkru.set(tid, this.pkruOf(creator));
  }

  /** execve(2) by `tid`: an empty address space, no keys allocated, the init PKRU; the other threads are gone. */
  exec(tid: number): void {
    this.pages.clear();
    this.keyMap = 1;
    this.execOnlyKey = -1;
    this.pkru.clear();
    this.pkru.set(tid, INIT_PKRU);
  }

  pkruOf(tid: number): number {
    const v = this.pkru.get(tid);
    if (v === undefined) throw new Error(`model: no thread ${tid} in pid ${this.pid}`);
    return v;
  }

  /** Writes `rights` for `key` into thread `tid`'s PKRU (arch_set_user_pkey_access()). */
  setRights(tid: number, key: number, rights: number): void {
    this.pkru.set(tid, ((this.pkruOf(tid) & ~(3 << (2 * key))) | (rights << (2 * key))) >>> 0);
  }

  /**
   * Linux __execute_only_pkey(): the address space's execute-only key, allocated on first
   * use (the lowest free key from 1), and PKRU of the calling thread set to access-disable
   * for it — skipped when the key was there already and PKRU denies reads of it anyway.
   * -1 when no key is free.
   */
  executeOnlyKey(tid: number): number {
    let k = this.execOnlyKey;
    if (k < 0) {
      k = 1;
      while (k < PKEYS && this.keyMap & (1 << k)) k++;
      if (k === PKEYS) return -1;
      this.keyMap |= 1 << k;
      this.execOnlyKey = k;
    } else if ((this.pkruOf(tid) >>> (2 * k)) & PKEY_DISABLE_ACCESS) {
      return k;
    }
    this.setRights(tid, k, PKEY_DISABLE_ACCESS);
    return k;
  }

  /** The key mmap(2) gives a new mapping: the execute-only key for exactly PROT_EXEC (when one is free), else 0. */
  mmapKey(prot: number, tid: number): number {
    return prot === PROT_EXEC ? Math.max(0, this.executeOnlyKey(tid)) : 0;
  }

  /** Keys pkey_mprotect() and pkey_free() accept: allocated, and not the execute-only key (mm_pkey_is_allocated()). */
  keyIsAllocated(key: number): boolean {
    return Number.isInteger(key) && key >= 0 && key < PKEYS && key !== this.execOnlyKey && (this.keyMap & (1 << key)) !== 0;
  }

  /** pkey_alloc(2): the lowest free key (key 0 again if it was freed), with `rights` in the caller's PKRU. */
  pkeyAlloc(tid: number, flags: number, rights: number): Result {
    if (flags !== 0 || rights & ~(PKEY_DISABLE_ACCESS | PKEY_DISABLE_WRITE)) return 'EINVAL';
    let k = 0;
    while (k < PKEYS && this.keyMap & (1 << k)) k++;
    if (k === PKEYS) return 'ENOSPC';
    this.keyMap |= 1 << k;
    this.setRights(tid, k, rights);
    return k;
  }

  /** glibc pkey_set(3): WRPKRU of `rights` for `key` in thread `tid`; EINVAL for a key outside 0-15 (allocated or not). */
  pkeySet(tid: number, key: number, rights: number): Result {
    if (!Number.isInteger(key) || key < 0 || key >= PKEYS || rights & ~3) return 'EINVAL';
    this.setRights(tid, key, rights);
    return 0;
  }

  /** pkey_free(2): the pages keep their key. */
  pkeyFree(key: number): Result {
    if (!this.keyIsAllocated(key)) return 'EINVAL';
    this.keyMap &= ~(1 << key);
    return 0;
  }

  /**
   * After `obj` shrank: private copies of its pages past the end are dropped too (Linux
   * truncate_pagecache() unmaps with even_cows), so they raise SIGBUS again.
   */
  truncated(obj: MemObj): void {
    for (const e of this.pages.values()) {
      if (e.b.kind === 'priv' && e.b.obj === obj && e.b.index >= obj.pages) e.b.data = null;
    }
  }

  map(start: number, npages: number, prot: number, pkey: number, backing: (i: number) => Backing): void {
    for (let i = 0; i < npages; i++) this.pages.set(start / PAGE + i, { prot, pkey, b: backing(i) });
  }

  unmap(start: number, len: number): void {
    for (let a = start; a < start + len; a += PAGE) this.pages.delete(a / PAGE);
  }

  // ---- accesses --------------------------------------------------------------------

  /**
   * The signal a data access to `va` under `pkru` raises, or null when it succeeds. The
   * key is checked before the VMA's rights (Linux access_error(): a PKRU-denied access is
   * SEGV_PKUERR whatever the protection), so execute-only memory, whose key every thread
   * denies once the key is made, faults for reads and writes alike.
   */
  fault(va: number, write: boolean, pkru: number): Fault | null {
    const e = this.entry(va);
    if (!e) return { signal: 'SIGSEGV', code: 'SEGV_MAPERR', addr: va };
    const rights = (pkru >>> (2 * e.pkey)) & 3;
    if (rights & PKEY_DISABLE_ACCESS || (write && rights & PKEY_DISABLE_WRITE)) return { signal: 'SIGSEGV', code: 'SEGV_PKUERR', addr: va, pkey: e.pkey };
    const allowed = write ? (e.prot & PROT_WRITE) !== 0 : (e.prot & (PROT_READ | PROT_WRITE | PROT_EXEC)) !== 0;
    if (!allowed) return { signal: 'SIGSEGV', code: 'SEGV_ACCERR', addr: va };
    const b = e.b;
    // A page the file does not reach: SIGBUS (Linux filemap_fault / shmem_fault), unless a private copy exists.
    if (b.kind !== 'anon' && !(b.kind === 'priv' && b.data) && b.index >= b.obj.pages) return { signal: 'SIGBUS', code: 'BUS_ADRERR', addr: va };
    return null;
  }

  readByte(va: number): number {
    const e = this.entry(va)!;
    const off = va % PAGE;
    const b = e.b;
    switch (b.kind) {
      case 'anon':
        return b.data ? b.data[off] : 0;
      case 'priv':
        return b.data ? b.data[off] : b.obj.byte(b.index, off);
      case 'shared':
        return b.obj.byte(b.index, off);
    }
  }

  /** What a write fault does before the store: a private file page gets its copy (COW). */
  prepareWrite(va: number): void {
    const e = this.entry(va)!;
    const b = e.b;
    if (b.kind === 'anon' && !b.data) b.data = new Int16Array(PAGE);
    if (b.kind === 'priv' && !b.data) b.data = b.obj.pageCopy(b.index);
  }

  writeByte(va: number, v: number): void {
    const e = this.entry(va)!;
    const off = va % PAGE;
    const b = e.b;
    if (b.kind === 'shared') {
      b.obj.setByte(b.index, off, v);
      return;
    }
    b.data ??= b.kind === 'anon' ? new Int16Array(PAGE) : b.obj.pageCopy(b.index);
    b.data[off] = v;
  }

  /** A load of `size` bytes; x86 checks both pages of a split access, the first first. */
  load(va: number, size: number, pkru: number): AccessOutcome {
    const second = Math.floor((va + size - 1) / PAGE) * PAGE;
    const pagesTouched = second !== Math.floor(va / PAGE) * PAGE ? [va, second] : [va];
    for (const a of pagesTouched) {
      const f = this.fault(a, false, pkru);
      if (f) return { ok: false, fault: f };
    }
    const bytes: number[] = [];
    for (let i = 0; i < size; i++) bytes.push(this.readByte(va + i));
    return { ok: true, bytes };
  }

  /** A store of the low `size` bytes of `value`, little-endian. */
  store(va: number, size: number, value: number, pkru: number): AccessOutcome {
    const second = Math.floor((va + size - 1) / PAGE) * PAGE;
    const pagesTouched = second !== Math.floor(va / PAGE) * PAGE ? [va, second] : [va];
    for (const a of pagesTouched) {
      const f = this.fault(a, true, pkru);
      if (f) return { ok: false, fault: f };
      // The fault on the first page is resolved (COW included) before the second is tried.
      this.prepareWrite(a);
    }
    let v = value >>> 0;
    const bytes: number[] = [];
    for (let i = 0; i < size; i++) {
      this.writeByte(va + i, v & 0xff);
      bytes.push(v & 0xff);
      v = Math.floor(v / 256);
    }
    return { ok: true, bytes };
  }

  /**
   * copy_from_user() of `len` bytes: what it reads before the first page it cannot (a
   * fault the kernel cannot resolve ends the copy; Linux returns a short count).
   */
  copyFromUser(va: number, len: number, pkru: number): number[] {
    const out: number[] = [];
    for (let i = 0; i < len; i++) {
      if ((i === 0 || (va + i) % PAGE === 0) && this.fault(va + i, false, pkru)) break;
      out.push(this.readByte(va + i));
    }
    return out;
  }

  /** copy_to_user(): writes what it can, faulting pages in for writing (COW); returns the count. */
  copyToUser(va: number, bytes: readonly number[], pkru: number): number {
    for (let i = 0; i < bytes.length; i++) {
      if (i === 0 || (va + i) % PAGE === 0) {
        if (this.fault(va + i, true, pkru)) return i;
        this.prepareWrite(va + i);
      }
      this.writeByte(va + i, bytes[i]);
    }
    return bytes.length;
  }

  // ---- syscalls --------------------------------------------------------------------

  /**
   * mprotect(2) (`pkey` -1) and pkey_mprotect(2) by thread `tid`: Linux walks the VMAs in
   * order and stops at the first hole (ENOMEM) or the first VMA whose VM_MAY* bits lack a
   * requested right (EACCES), the VMAs before it already changed. Page by page is the same
   * walk: a VMA's pages share their MAY bits and their key. The key each VMA gets is
   * arch_override_mprotect_pkey()'s: an explicit key; else the execute-only key for exactly
   * PROT_EXEC; else key 0 when leaving execute-only; else the VMA's own.
   */
  mprotect(start: number, len: number, prot: number, pkey: number, tid: number): Result {
    if (len === 0) return 0;
    if (pkey !== -1 && !this.keyIsAllocated(pkey)) return 'EINVAL';
    for (let a = start; a < start + len; a += PAGE) {
      const e = this.entry(a);
      if (!e) return 'ENOMEM';
      let key = pkey;
      if (key === -1) {
        const execOnly = prot === PROT_EXEC ? this.executeOnlyKey(tid) : -1;
        if (execOnly > 0) key = execOnly;
        else if (this.execOnlyKey >= 0 && e.pkey === this.execOnlyKey) key = 0;
        else key = e.pkey;
      }
      if (prot & PROT_WRITE && e.b.kind === 'shared' && !e.b.mayWrite) return 'EACCES';
      e.prot = prot;
      e.pkey = key;
    }
    return 0;
  }

  /** madvise(2) with MADV_DONTNEED (`discard`) or an advice without effect on data. ENOMEM when the range has holes. */
  madvise(start: number, len: number, discard: boolean): Result {
    let result: Result = 0;
    for (let a = start; a < start + len; a += PAGE) {
      const e = this.entry(a);
      if (!e) {
        result = 'ENOMEM';
        continue;
      }
      if (!discard) continue;
      if (e.b.kind === 'anon' || e.b.kind === 'priv') e.b.data = null;
    }
    return result;
  }

  /** msync(2): no effect on the bytes; ENOMEM for any hole in the range (Linux mm/msync.c). */
  msync(start: number, len: number, flags: number): Result {
    if (flags & ~(MS_ASYNC | MS_INVALIDATE | MS_SYNC)) return 'EINVAL';
    if (flags & MS_ASYNC && flags & MS_SYNC) return 'EINVAL';
    for (let a = start; a < start + len; a += PAGE) if (!this.entry(a)) return 'ENOMEM';
    return 0;
  }

  /**
   * mremap(2) as Linux 6.x mm/mremap.c does it. `vmas` are the VMAs before the call (from
   * /proc/pid/maps, checked against this model before every step): the model decides
   * at page level except where the VMA boundary is the rule (vma_to_resize(), in-place
   * growth). `actual` is mmsim's result, used only where Linux may choose (the address a
   * moved mapping lands at). Returns the expected result.
   */
  mremap(vmas: readonly MapsEntry[], addr: number, oldLen: number, newLen: number, flags: number, newAddr: number, actual: Result): Result {
    if (flags & ~(MREMAP_FIXED | MREMAP_MAYMOVE | MREMAP_DONTUNMAP)) return 'EINVAL';
    if (flags & MREMAP_FIXED && !(flags & MREMAP_MAYMOVE)) return 'EINVAL';
    if (flags & MREMAP_DONTUNMAP && (!(flags & MREMAP_MAYMOVE) || oldLen !== newLen)) return 'EINVAL';
    if (addr % PAGE !== 0 || newLen === 0) return 'EINVAL';
    const vma = vmas.find((v) => v.start <= addr && addr < v.end);
    if (!vma) return 'EFAULT';
    if (flags & (MREMAP_FIXED | MREMAP_DONTUNMAP)) {
      // mremap_to()
      if (newAddr % PAGE !== 0) return 'EINVAL';
      if (addr + oldLen > newAddr && newAddr + newLen > addr) return 'EINVAL';
      let vmaEnd = vma.end;
      if (flags & MREMAP_FIXED) {
        this.unmap(newAddr, newLen);
        if (newAddr >= addr && newAddr < vmaEnd) vmaEnd = newAddr;
      }
      if (oldLen > newLen) {
        this.unmap(addr + newLen, oldLen - newLen);
        oldLen = newLen;
      }
      // vma_to_resize() looks the VMA up again: with a zero old length, MREMAP_FIXED may have unmapped it.
      if (!this.entry(addr)) return 'EFAULT';
      if (oldLen === 0 && vma.perms[3] !== 's') return 'EINVAL';
      if (oldLen > vmaEnd - addr) return 'EFAULT';
      let to: number;
      if (flags & MREMAP_FIXED) to = newAddr;
      else if (newAddr >= MMAP_MIN_ADDR && this.isFree(newAddr, newLen)) to = newAddr;
      else to = this.checkFreeChoice(actual, newLen);
      this.move(addr, oldLen, to, newLen, (flags & MREMAP_DONTUNMAP) !== 0);
      return to;
    }
    if (oldLen >= newLen) {
      // "Always allow a shrinking remap": the tail is simply unmapped.
      this.unmap(addr + newLen, oldLen - newLen);
      return addr;
    }
    // vma_to_resize(): a zero old length duplicates a shared mapping, and only that.
    if (oldLen === 0 && vma.perms[3] !== 's') return 'EINVAL';
    if (oldLen > vma.end - addr) return 'EFAULT';
    if (addr + oldLen === vma.end && addr + newLen <= TASK_SIZE && this.isFree(vma.end, addr + newLen - vma.end)) {
      // vma_expandable(): grow in place.
      const first = this.entry(addr)!;
      for (let a = addr + oldLen; a < addr + newLen; a += PAGE) this.pages.set(a / PAGE, { prot: first.prot, pkey: first.pkey, b: extend(first.b, (a - addr) / PAGE) });
      return addr;
    }
    if (!(flags & MREMAP_MAYMOVE)) return 'ENOMEM';
    const to = this.checkFreeChoice(actual, newLen);
    this.move(addr, oldLen, to, newLen, false);
    return to;
  }

  /** An address the kernel chose freely for `len` bytes must be page aligned, in range and free. */
  checkFreeChoice(actual: Result, len: number): number {
    if (typeof actual !== 'number') throw new Mismatch(`expected a free address for ${len / PAGE} pages, got ${actual}`);
    if (actual % PAGE !== 0 || actual < MMAP_MIN_ADDR || actual + len > TASK_SIZE) throw new Mismatch(`the kernel chose a bad address ${hex(actual)}`);
    if (!this.isFree(actual, len)) throw new Mismatch(`the kernel chose ${hex(actual)} for ${len / PAGE} pages, but that range is in use`);
    return actual;
  }

  /** move_vma(): the pages of [from, from + oldLen) go to `to`; growth extends the VMA. */
  private move(from: number, oldLen: number, to: number, newLen: number, dontUnmap: boolean): void {
    const first = this.entry(from)!;
    const moved: PageEntry[] = [];
    for (let a = from; a < from + oldLen; a += PAGE) moved.push(this.entry(a)!);
    if (dontUnmap) {
      for (let a = from; a < from + oldLen; a += PAGE) {
        const e = this.entry(a)!;
        this.pages.set(a / PAGE, { prot: e.prot, pkey: e.pkey, b: emptied(e.b) });
      }
    } else {
      this.unmap(from, oldLen);
    }
    for (let i = 0; i < newLen / PAGE; i++) {
      const e: PageEntry = i < moved.length ? moved[i] : { prot: first.prot, pkey: first.pkey, b: extend(first.b, i) };
      this.pages.set(to / PAGE + i, e);
    }
  }

  // ---- /proc/pid/maps ---------------------------------------------------------------

  /**
   * Checks /proc/pid/maps against the model: every mapped page lies in exactly one VMA
   * with its protection, its sharing, its file and its file offset; no other page is
   * mapped. `inodes` pairs memory objects with the inode numbers maps shows, across calls.
   */
  checkMaps(maps: readonly MapsEntry[], keys: readonly { readonly start: number; readonly end: number; readonly pkey: number }[], inodes: Map<MemObj, number>, objs: Map<number, MemObj>): void {
    for (const v of keys) {
      for (let a = v.start; a < v.end; a += PAGE) {
        const e = this.entry(a);
        if (e && e.pkey !== v.pkey) throw new Mismatch(`VMA ${hex(v.start)}-${hex(v.end)} has key ${v.pkey}, but page ${hex(a)} should have key ${e.pkey}`);
      }
    }
    let covered = 0;
    let prevEnd = 0;
    for (const v of maps) {
      const where = `maps line ${hex(v.start)}-${hex(v.end)} ${v.perms} ${hex(v.offset)} ${v.inode} ${v.name}`;
      if (v.start % PAGE || v.end % PAGE || v.end <= v.start || v.start < prevEnd) throw new Mismatch(`${where}: bad or overlapping VMA`);
      prevEnd = v.end;
      for (let a = v.start; a < v.end; a += PAGE) {
        const e = this.entry(a);
        if (!e) throw new Mismatch(`${where}: page ${hex(a)} is mapped but the model has nothing there`);
        const b = e.b;
        const perms = protStr(e.prot) + (b.kind === 'shared' ? 's' : 'p');
        if (perms !== v.perms) throw new Mismatch(`${where}: page ${hex(a)} should be ${perms}`);
        if (b.kind === 'anon') {
          if (v.name !== '' || v.inode !== 0) throw new Mismatch(`${where}: page ${hex(a)} should be anonymous`);
          continue;
        }
        if (v.name !== b.obj.name) throw new Mismatch(`${where}: page ${hex(a)} should map ${b.obj.name}`);
        const index = v.offset / PAGE + (a - v.start) / PAGE;
        if (index !== b.index) throw new Mismatch(`${where}: page ${hex(a)} should map page ${b.index} of ${b.obj.name}, maps says ${index}`);
        const known = inodes.get(b.obj);
        if (known === undefined) {
          const other = objs.get(v.inode);
          if (other && other !== b.obj) throw new Mismatch(`${where}: inode ${v.inode} names two objects`);
          inodes.set(b.obj, v.inode);
          objs.set(v.inode, b.obj);
        } else if (known !== v.inode) {
          throw new Mismatch(`${where}: page ${hex(a)} should be in inode ${known}`);
        }
      }
      covered += (v.end - v.start) / PAGE;
    }
    if (covered !== this.pages.size) {
      const missing = this.mappedPages().filter((a) => !maps.some((v) => v.start <= a && a < v.end));
      throw new Mismatch(`maps misses pages the model has mapped: ${missing.slice(0, 8).map(hex).join(', ')}`);
    }
  }
}

import { type Cpu } from '../hw/cpu.js';
import { type Hardware } from '../hw/hardware.js';
import { NO_FRAME } from '../hw/physMem.js';
import { type TableLevel } from '../hw/pageTables.js';
import {
  ENTRIES_PER_TABLE,
  PAGE_SIZE,
  PTE_A,
  PTE_D,
  PTE_HI_KEY_MASK,
  PTE_HI_KEY_SHIFT,
  PTE_HI_PFN_MASK,
  PTE_HI_XD,
  PTE_LO_PFN_MASK,
  PTE_P,
  PTE_PROTNONE,
  PTE_PS,
  PTE_RW,
  PTE_US,
  pteHi,
  pteLo,
  pteMapsFrame,
  pteNone,
  ptePfn,
} from '../hw/pte.js';

/** Protection bits as the pmap takes them (the same values as PROT_READ/WRITE/EXEC). */
export const VM_PROT_READ = 1;
export const VM_PROT_WRITE = 2;
export const VM_PROT_EXEC = 4;

/** Linux's tlb_single_page_flush_ceiling: beyond this many pages a range flush flushes the whole PCID. */
export const FLUSH_CEILING_PAGES = 33;

const PAGES_PER_PT = ENTRIES_PER_TABLE;
const PT_SPAN = PAGES_PER_PT * PAGE_SIZE;
/** Flags of a non-leaf entry (Linux _PAGE_TABLE): user rights are decided at the leaf. */
const TABLE_ENTRY_FLAGS = PTE_P | PTE_RW | PTE_US | PTE_A | PTE_D;

/**
 * The protection a PTE gets when it must not be writable yet (COW, the zero page). x86
 * has no write-only pages: PROT_WRITE alone maps readable (Linux's protection_map gives
 * PAGE_COPY for a private VM_WRITE mapping), so its read-only form is PROT_READ.
 */
export function readOnlyProt(prot: number): number {
  return prot & VM_PROT_WRITE ? (prot & ~VM_PROT_WRITE) | VM_PROT_READ : prot;
}

/** Low-word flags and XD of a leaf entry for a protection. PROT_NONE keeps the frame under PROTNONE. */
export function leafLoFlags(prot: number, user: boolean): number {
  if ((prot & (VM_PROT_READ | VM_PROT_WRITE | VM_PROT_EXEC)) === 0) return PTE_PROTNONE;
  return PTE_P | (prot & VM_PROT_WRITE ? PTE_RW : 0) | (user ? PTE_US : 0);
}

/**
 * Per-range metadata a pmap keeps beside its PTEs (FreeBSD's PKRU range set, arm64 BTI).
 * The pmap calls these hooks at the events FreeBSD's pmap sees from vm_map.
 */
export interface PmapExtension {
  /** Key for a PTE entered at `va`, or -1 to keep the caller's. */
  keyAt(va: number): number;
  /**
   * FreeBSD pmap_remove() over [start, end) (swap-out, PROT_NONE, MS_INVALIDATE): the
   * translations go, the logical mapping stays. Called by {@link Pmap.evict} and
   * {@link Pmap.removedByVm}.
   */
  onRemove(start: number, end: number): void;
  /** pmap_map_delete() over [start, end): a logical unmap. */
  onMapDelete(start: number, end: number): void;
  /** pmap copy at fork: give `child` a copy. */
  copyTo(child: Pmap): void;
  /** The address space is destroyed (exec, exit). */
  onDestroy(): void;
}

/** Called for every leaf entry a removal cleared, after the TLBs were flushed. */
export type RemovedEntry = (va: number, lo: number, hi: number) => void;

/** Per machine: the next pmap id, and per CPU which pmap id last loaded each PCID (Linux cpu_tlbstate). */
interface AsidState {
  nextId: number;
  readonly pcidOwners: Int32Array[];
}
const asidStates = new WeakMap<Hardware, AsidState>();

function asidState(hw: Hardware): AsidState {
  let st = asidStates.get(hw);
  if (!st) asidStates.set(hw, (st = { nextId: 1, pcidOwners: hw.cpus.map(() => new Int32Array(4096)) }));
  return st;
}

/**
 * The machine-dependent half of an address space: its page tables and the TLB
 * discipline. The only code that writes PTEs and issues invalidations. Every operation
 * that removes or downgrades a translation has flushed every TLB that may hold it by the
 * time it returns.
 */
export class Pmap {
  readonly id: number;
  /** PML4 table number (what CR3 holds). */
  readonly root: number;
  /** PCID this address space's translations are tagged with. */
  readonly pcid: number;
  /** CPUs that have loaded this pmap and may cache its translations (Linux mm_cpumask). */
  readonly onCpu: Uint8Array;
  /** Leaf entries that map a frame: the resident set size in pages. */
  resident = 0;
  /** Per-range metadata, when the personality keeps some. */
  extension: PmapExtension | null = null;
  /** Asked to free memory when a page table cannot be allocated; returns true if it freed some. */
  onOutOfFrames: (() => boolean) | null = null;
  /** Page tables allocated below the root. */
  tablesAllocated = 0;
  /** Entries cleared by a removal, released after the flush: (va, lo, hi) triples. */
  private removed = new Float64Array(3 * 512);
  private removedCount = 0;

  private constructor(
    readonly hw: Hardware,
    root: number,
  ) {
    this.id = asidState(hw).nextId++;
    this.root = root;
    this.pcid = ((this.id - 1) % 4095) + 1;
    this.onCpu = new Uint8Array(hw.cpus.length);
  }

  /** A new, empty address space, or null when no frame is left for its PML4. */
  static create(hw: Hardware): Pmap | null {
    const root = hw.tables.alloc(4);
    return root === NO_FRAME ? null : new Pmap(hw, root);
  }

  /** Loads this pmap on `cpu` (a context switch: CR3 write with PCID, no flush). */
  activate(cpu: Cpu): void {
    if (cpu.cr3Table === this.root) return;
    const owners = asidState(this.hw).pcidOwners[cpu.id];
    // Two address spaces sharing a PCID on one CPU: the CR3 write must flush it.
    if (owners[this.pcid] !== this.id) {
      if (owners[this.pcid] !== 0) {
        cpu.tlb.invalidatePcid(this.pcid);
        cpu.counters.flushes++;
        cpu.counters.fullFlushes++;
      }
      owners[this.pcid] = this.id;
    }
    cpu.cr3Table = this.root;
    cpu.pcid = this.pcid;
    cpu.owner = null;
    this.onCpu[cpu.id] = 1;
  }

  /** Slot of the leaf PTE for `va`, or -1 when its page table does not exist. */
  pteSlot(va: number): number {
    return this.entrySlot(va, 1);
  }

  /** Slot of the level-`level` entry for `va`, or -1 when a table above it does not exist. */
  private entrySlot(va: number, level: number): number {
    const t = this.hw.tables;
    let table = this.root;
    for (let l = 4; l > level; l--) {
      const s = table * ENTRIES_PER_TABLE + indexAt(va, l);
      const lo = t.lo[s];
      if ((lo & PTE_P) === 0) return -1;
      if (lo & PTE_PS) throw new Error('mmsim bug: a page-table walk reached a 2 MiB leaf');
      table = t.tableOfPfn(ptePfn(lo, t.hi[s]));
    }
    return table * ENTRIES_PER_TABLE + indexAt(va, level);
  }

  /** Slot of the leaf PTE for `va`, allocating missing tables; -1 when memory ran out. */
  ensurePteSlot(va: number): number {
    const t = this.hw.tables;
    let table = this.root;
    for (let level = 4; level >= 2; level--) {
      const s = table * ENTRIES_PER_TABLE + indexAt(va, level);
      const lo = t.lo[s];
      if ((lo & PTE_P) === 0) {
        let child = t.alloc((level - 1) as TableLevel);
        if (child === NO_FRAME && this.onOutOfFrames?.()) child = t.alloc((level - 1) as TableLevel);
        if (child === NO_FRAME) return -1;
        this.tablesAllocated++;
        t.link(s, child, TABLE_ENTRY_FLAGS);
        table = child;
      } else {
        if (lo & PTE_PS) throw new Error('mmsim bug: ensurePteSlot() reached a 2 MiB leaf');
        table = t.tableOfPfn(ptePfn(lo, t.hi[s]));
      }
    }
    return table * ENTRIES_PER_TABLE + indexAt(va, 1);
  }

  /** Low word of the entry at `slot`. */
  lo(slot: number): number {
    return this.hw.tables.lo[slot];
  }

  /** High word of the entry at `slot`. */
  hi(slot: number): number {
    return this.hw.tables.hi[slot];
  }

  /**
   * Writes the entry at `slot`, keeping the resident count. The caller flushes when it
   * removes or downgrades a translation ({@link flushPage}, {@link flushRange}).
   */
  setPte(slot: number, lo: number, hi: number): void {
    const t = this.hw.tables;
    const was = pteMapsFrame(t.lo[slot]);
    const now = pteMapsFrame(lo);
    if (was !== now) this.resident += now ? 1 : -1;
    t.lo[slot] = lo;
    t.hi[slot] = hi;
  }

  /**
   * pmap_enter(): makes `va` map `pfn` with protection `prot` and key `key` (an extension
   * may override the key). The slot must exist (see {@link ensurePteSlot}).
   * Returns the slot written.
   */
  enter(slot: number, va: number, pfn: number, prot: number, key: number, dirty: boolean): number {
    if (this.extension) {
      const k = this.extension.keyAt(va);
      if (k >= 0) key = k;
    }
    this.setPte(slot, pteLo(pfn, leafLoFlags(prot, true) | (dirty ? PTE_D | PTE_A : 0)), pteHi(pfn, key, (prot & VM_PROT_EXEC) === 0));
    return slot;
  }

  /** Low word of an entry for a frame already mapped, re-derived for a new protection, keeping PFN, A and D. */
  static reprotectLo(lo: number, prot: number): number {
    return ((lo & (PTE_LO_PFN_MASK | PTE_A | PTE_D)) | leafLoFlags(prot, true)) >>> 0;
  }

  /** High word of such an entry: the PFN kept, the key and XD new. */
  static reprotectHi(hi: number, prot: number, key: number): number {
    return ((hi & PTE_HI_PFN_MASK) | (key << PTE_HI_KEY_SHIFT) | (prot & VM_PROT_EXEC ? 0 : PTE_HI_XD)) >>> 0;
  }

  /**
   * Calls `fn(table, first, count, va)` for each existing page table covering part of
   * [start, end): entries `first .. first+count-1` of `table`, the first of which maps `va`.
   */
  forEachPt(start: number, end: number, fn: (table: number, first: number, count: number, va: number) => void): void {
    if (start % PAGE_SIZE !== 0 || end % PAGE_SIZE !== 0) throw new Error(`mmsim bug: forEachPt over an unaligned range 0x${start.toString(16)}-0x${end.toString(16)}`);
    for (let va = start; va < end; ) {
      const ptEnd = Math.min(end, (Math.floor(va / PT_SPAN) + 1) * PT_SPAN);
      const base = this.pteSlot(va);
      if (base >= 0) fn((base / ENTRIES_PER_TABLE) | 0, indexAt(va, 1), (ptEnd - va) / PAGE_SIZE, va);
      va = ptEnd;
    }
  }

  /**
   * Clears every leaf entry in [start, end), flushes the TLBs that may hold them, then
   * reports each cleared entry to `onRemoved` (frames are released only after no TLB can
   * reach them). Returns the number of entries cleared. Linux's zap_page_range(); per-range
   * metadata is untouched, as by the per-page removals of FreeBSD (pmap_remove_all() at
   * truncation) — FreeBSD's pmap_remove() of a map range is {@link evict}.
   */
  remove(initiator: Cpu | null, start: number, end: number, onRemoved: RemovedEntry): number {
    this.removedCount = 0;
    const t = this.hw.tables;
    let flushNeeded = false;
    this.forEachPt(start, end, (table, first, count, va) => {
      const base = table * ENTRIES_PER_TABLE + first;
      for (let i = 0; i < count; i++) {
        const s = base + i;
        const lo = t.lo[s];
        const hi = t.hi[s];
        if (pteNone(lo, hi)) continue;
        if (lo & PTE_P) flushNeeded = true;
        if (pteMapsFrame(lo)) this.resident--;
        t.lo[s] = 0;
        t.hi[s] = 0;
        this.pushRemoved(va + i * PAGE_SIZE, lo, hi);
      }
    });
    if (flushNeeded) this.flushRange(initiator, start, end);
    // Releasing an entry never removes entries, so the buffer cannot be reused underneath.
    const removed = this.removed;
    const n = this.removedCount;
    for (let i = 0; i < n * 3; i += 3) onRemoved(removed[i], removed[i + 1], removed[i + 2]);
    this.removedCount = 0;
    return n;
  }

  private pushRemoved(va: number, lo: number, hi: number): void {
    let r = this.removed;
    const at = this.removedCount * 3;
    if (at + 3 > r.length) {
      const bigger = new Float64Array(r.length * 2);
      bigger.set(r);
      this.removed = r = bigger;
    }
    r[at] = va;
    r[at + 1] = lo;
    r[at + 2] = hi;
    this.removedCount++;
  }

  /** pmap_map_delete(): {@link remove} for a logical unmap, which also drops per-range metadata. */
  mapDelete(initiator: Cpu | null, start: number, end: number, onRemoved: RemovedEntry): number {
    const n = this.remove(initiator, start, end, onRemoved);
    this.extension?.onMapDelete(start, end);
    return n;
  }

  /**
   * pmap_protect(): re-derives every frame-mapping entry in [start, end) for `prot`
   * (`protFor` may lower it per entry, e.g. to keep COW pages read-only) and key `key`,
   * flushing where anything changed. Returns the number of entries changed. With
   * `presentOnly`, entries not present are left alone: an evicted page (see {@link evict})
   * is not in the pmap at all for FreeBSD, and comes back only by fault.
   */
  protect(initiator: Cpu | null, start: number, end: number, protFor: (va: number, lo: number, hi: number) => number, key: number, presentOnly = false): number {
    const t = this.hw.tables;
    const ext = this.extension;
    let changed = 0;
    // One page table at a time, without a closure: mprotect is hot with many VMAs.
    for (let va = start; va < end; ) {
      const ptEnd = Math.min(end, (Math.floor(va / PT_SPAN) + 1) * PT_SPAN);
      const base = this.pteSlot(va);
      const count = (ptEnd - va) / PAGE_SIZE;
      for (let i = 0; base >= 0 && i < count; i++) {
        const s = base + i;
        const lo = t.lo[s];
        if (!pteMapsFrame(lo) || (presentOnly && (lo & PTE_P) === 0)) continue;
        const hi = t.hi[s];
        const pageVa = va + i * PAGE_SIZE;
        let k = key;
        if (ext) {
          const ek = ext.keyAt(pageVa);
          if (ek >= 0) k = ek;
        }
        const prot = protFor(pageVa, lo, hi);
        const nlo = Pmap.reprotectLo(lo, prot);
        const nhi = Pmap.reprotectHi(hi, prot, k);
        if (nlo !== lo || nhi !== hi) {
          // Both map a frame (PROT_NONE keeps it under PROTNONE): the resident count stays.
          t.lo[s] = nlo;
          t.hi[s] = nhi;
          changed++;
        }
      }
      va = ptEnd;
    }
    if (changed > 0) this.flushRange(initiator, start, end);
    return changed;
  }

  /**
   * FreeBSD pmap_pkru_update_range(): gives every valid entry of [start, end) key `key`
   * and, if any entry changed, invalidates the range (one pmap_invalidate_range(), as
   * FreeBSD does). Non-present entries carry no key: they get one from the range set when
   * they are entered again. Returns the number of entries changed.
   */
  rekey(initiator: Cpu | null, start: number, end: number, key: number): number {
    const t = this.hw.tables;
    let changed = 0;
    this.forEachPt(start, end, (table, first, count) => {
      const base = table * ENTRIES_PER_TABLE + first;
      for (let i = 0; i < count; i++) {
        const s = base + i;
        if ((t.lo[s] & PTE_P) === 0) continue;
        const hi = t.hi[s];
        const nhi = ((hi & ~PTE_HI_KEY_MASK) | (key << PTE_HI_KEY_SHIFT)) >>> 0;
        if (nhi === hi) continue;
        t.hi[s] = nhi;
        changed++;
      }
    });
    if (changed > 0) this.flushRange(initiator, start, end);
    return changed;
  }

  /**
   * pmap_remove() for a personality whose VM objects keep the pages (FreeBSD): every
   * present entry of [start, end) stops translating, the TLBs are flushed, and per-range
   * metadata sees a removal. mmsim has no vm_object for anonymous memory, so the frame
   * stays named in the not-present entry (as a PROTNONE entry, which the hardware ignores
   * and the fault handler maps again with the VMA's rights) — what FreeBSD's object would
   * hold. Returns the number of entries that stopped translating.
   */
  evict(initiator: Cpu | null, start: number, end: number): number {
    const t = this.hw.tables;
    let evicted = 0;
    this.forEachPt(start, end, (table, first, count) => {
      const base = table * ENTRIES_PER_TABLE + first;
      for (let i = 0; i < count; i++) {
        const s = base + i;
        const lo = t.lo[s];
        if ((lo & PTE_P) === 0) continue;
        t.lo[s] = ((lo & (PTE_LO_PFN_MASK | PTE_D)) | PTE_PROTNONE) >>> 0;
        t.hi[s] = (t.hi[s] & PTE_HI_PFN_MASK) >>> 0;
        evicted++;
      }
    });
    this.extension?.onRemove(start, end);
    if (evicted > 0) this.flushRange(initiator, start, end);
    return evicted;
  }

  /**
   * What pmap_remove() does to per-range metadata, for removals whose entries the
   * machine-independent layer has already rewritten itself (swap-out turns anonymous
   * entries into swap entries, standing for FreeBSD's swap pager blocks).
   */
  removedByVm(start: number, end: number): void {
    this.extension?.onRemove(start, end);
  }

  /**
   * The page-table half of fork (Linux copy_pte_range(), FreeBSD pmap_copy()): copies
   * every entry of [start, end) into `child`. With `writeProtect`, writable entries lose
   * RW in both (copy-on-write). The child's entries start old (A clear), and clean when
   * `shared`. Each copied entry that maps a frame takes a reference and a mapcount on it
   * (like a pv entry), except `uncountedPfn` (the shared zero page); swap entries are
   * reported to `onSwapEntry`, whose slots the kernel counts. Returns the number of parent
   * entries write-protected, or -1 when the child ran out of page tables. The caller
   * flushes the parent's TLBs when entries were write-protected.
   */
  copyRange(child: Pmap, start: number, end: number, writeProtect: boolean, shared: boolean, uncountedPfn: number, onSwapEntry: (lo: number, hi: number) => void): number {
    let wrprotected = 0;
    let failed = false;
    const t = this.hw.tables;
    const mem = this.hw.mem;
    this.forEachPt(start, end, (table, first, count, va) => {
      if (failed) return;
      const base = table * ENTRIES_PER_TABLE + first;
      let destBase = -1;
      let copied = 0;
      for (let i = 0; i < count; i++) {
        let lo = t.lo[base + i];
        let hi = t.hi[base + i];
        if (lo === 0 && hi === 0) continue;
        if (destBase < 0) {
          // One walk per page table: the child's entries of this table are contiguous too.
          const d = child.ensurePteSlot(va + i * PAGE_SIZE);
          if (d < 0) {
            failed = true;
            return;
          }
          destBase = d - i;
          // Allocating the child's tables may have run reclaim, which can rewrite this very
          // entry (swap it out): copy what is there now.
          lo = t.lo[base + i];
          hi = t.hi[base + i];
          if (lo === 0 && hi === 0) continue;
        }
        let childLo = lo;
        if (pteMapsFrame(lo)) {
          const pfn = ptePfn(lo, hi);
          if (pfn !== uncountedPfn) {
            mem.mapcount[pfn]++;
            mem.refcount[pfn]++;
          }
          if (writeProtect && lo & PTE_RW) {
            lo = (lo & ~PTE_RW) >>> 0;
            t.lo[base + i] = lo;
            wrprotected++;
          }
          childLo = (lo & ~(shared ? PTE_A | PTE_D : PTE_A)) >>> 0;
          copied++;
        } else {
          onSwapEntry(lo, hi);
        }
        t.lo[destBase + i] = childLo;
        t.hi[destBase + i] = hi;
      }
      child.resident += copied;
    });
    return failed ? -1 : wrprotected;
  }

  /**
   * Linux free_pgtables(): frees the empty page tables covering [start, end) whose whole
   * span lies in [floor, ceiling) — the space between the neighbouring VMAs — so a table
   * a neighbour still uses is kept: PTs first, then PDs and PDPTs left empty
   * (free_pmd_range(), free_pud_range()). Returns the number of tables freed.
   */
  freeEmptyTables(start: number, end: number, floor: number, ceiling: number): number {
    let freed = 0;
    // Level 2 entries hold PTs (2 MiB spans), level 3 PDs (1 GiB), level 4 PDPTs (512 GiB).
    for (let level = 2; level <= 4; level++) {
      const span = PAGE_SIZE * ENTRIES_PER_TABLE ** (level - 1);
      for (let va = Math.floor(start / span) * span; va < end; va += span) {
        if (va < floor || va + span > ceiling) continue;
        if (this.freeChildIfEmpty(va, level)) freed++;
      }
    }
    return freed;
  }

  /** Frees the table below the level-`level` entry for `va` if it is empty; true if freed. */
  private freeChildIfEmpty(va: number, level: number): boolean {
    const t = this.hw.tables;
    const s = this.entrySlot(va, level);
    if (s < 0) return false;
    const lo = t.lo[s];
    if ((lo & PTE_P) === 0 || lo & PTE_PS) return false;
    const child = t.tableOfPfn(ptePfn(lo, t.hi[s]));
    if (!t.isEmpty(child)) return false;
    t.lo[s] = 0;
    t.hi[s] = 0;
    t.free(child);
    this.tablesAllocated--;
    return true;
  }

  /** Frees every page table, root included. The caller has removed all leaf entries. */
  destroy(): void {
    const t = this.hw.tables;
    const freeBelow = (table: number, level: number): void => {
      if (level > 1) {
        const base = table * ENTRIES_PER_TABLE;
        for (let i = 0; i < ENTRIES_PER_TABLE; i++) {
          const l = t.lo[base + i];
          if (l & PTE_P && !(level === 2 && l & PTE_PS)) freeBelow(t.tableOfPfn(ptePfn(l, t.hi[base + i])), level - 1);
        }
      }
      t.free(table);
    };
    this.extension?.onDestroy();
    this.flushAll(null);
    for (const cpu of this.hw.cpus) {
      if (cpu.cr3Table === this.root) {
        cpu.cr3Table = -1;
        cpu.owner = null;
      }
    }
    freeBelow(this.root, 4);
    this.tablesAllocated = 0;
  }

  /** Id of the pmap whose translations `pcid` tags on `cpu` now, or 0. */
  static pcidOwner(hw: Hardware, cpu: Cpu, pcid: number): number {
    return asidState(hw).pcidOwners[cpu.id][pcid];
  }

  /** Invalidates one page on every CPU that may cache it. */
  flushPage(initiator: Cpu | null, va: number): void {
    this.flushRange(initiator, va, va + PAGE_SIZE);
  }

  /**
   * flush_tlb_mm_range(): the initiating CPU flushes locally; CPUs running this address
   * space get a shoot-down IPI; CPUs that ran it earlier flush their entries for its PCID
   * before they could use them again (Linux checks tlb_gen at switch-in; mmsim does it now).
   */
  flushRange(initiator: Cpu | null, start: number, end: number): void {
    const pages = Math.ceil((end - start) / PAGE_SIZE);
    const tracer = this.hw.mmu.tracer;
    for (const cpu of this.hw.cpus) {
      if (!this.onCpu[cpu.id]) continue;
      if (cpu !== initiator && cpu.cr3Table === this.root) {
        if (initiator) initiator.counters.ipisSent++;
        cpu.counters.ipisReceived++;
        if (tracer) tracer({ type: 'ipi', from: initiator ? initiator.id : null, to: cpu.id });
      }
      flushLocal(cpu, this.pcid, start, pages);
      if (tracer) tracer({ type: 'tlb.flush', cpu: cpu.id, pcid: this.pcid, va: start, pages: pages > FLUSH_CEILING_PAGES ? 'all' : pages });
    }
  }

  /** Flushes every translation of this address space everywhere. */
  flushAll(initiator: Cpu | null): void {
    this.flushRange(initiator, 0, Number.MAX_SAFE_INTEGER - (Number.MAX_SAFE_INTEGER % PAGE_SIZE));
  }
}


function flushLocal(cpu: Cpu, pcid: number, start: number, pages: number): void {
  if (pages > FLUSH_CEILING_PAGES) {
    cpu.tlb.invalidatePcid(pcid);
    cpu.counters.flushes++;
    cpu.counters.fullFlushes++;
    return;
  }
  const vpn = start / PAGE_SIZE;
  for (let i = 0; i < pages; i++) cpu.tlb.invalidatePage(vpn + i, pcid);
  cpu.counters.flushes += pages;
}

/** Index of `va` in a table of `level` (4 = PML4 … 1 = PT). */
export function indexAt(va: number, level: number): number {
  const vpn = Math.floor(va / PAGE_SIZE);
  switch (level) {
    case 4:
      return Math.floor(vpn / 2 ** 27) & 511;
    case 3:
      return Math.floor(vpn / 2 ** 18) & 511;
    case 2:
      return Math.floor(vpn / 512) & 511;
    default:
      return (vpn >>> 0) & 511;
  }
}

/** Keys and XD bits are not in the low word; re-exported masks for the mm layer. */
export { PTE_HI_KEY_MASK, PTE_HI_XD };

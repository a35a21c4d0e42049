import { describePte, pteKey, pteMapsFrame, ptePfn } from '../hw/pte.js';
import { type TlbEntryView } from '../hw/tlb.js';
import { FRAME_KIND_NAMES } from '../hw/physMem.js';
import { type Kernel } from '../mm/kernel.js';
import { type Mm } from '../mm/mm.js';
import { type Process } from '../mm/process.js';
import { type Vma } from '../mm/vma.js';
import { forEachLeaf } from '../invariants/walkAll.js';
import { PkruRangeSet } from '../pmap/pkruRangeSet.js';
import { type Pmap } from '../pmap/pmap.js';

/** One VMA in a snapshot. */
export interface VmaSnapshot {
  readonly start: number;
  readonly end: number;
  /** `rw-p` as /proc/pid/maps shows it. */
  readonly perms: string;
  readonly pkey: number;
  readonly file: string | null;
  /** File offset in bytes for file mappings; 0 for anonymous memory. */
  readonly offset: number;
  /** VmFlags as /proc/pid/smaps shows them (`rd wr sh mr mw me ms nl …`; `mp` for VM_MANYPROTS). */
  readonly flags: readonly string[];
}

/** One leaf page-table entry in a snapshot. */
export interface PteSnapshot {
  readonly va: number;
  /** Decoded: `pfn=0x12 P RW US A D XD key=3`, `swap type=0 offset=7`, … */
  readonly entry: string;
  /** Raw 64-bit value as a hex string. */
  readonly raw: string;
  readonly pfn: number | null;
  readonly key: number | null;
  /** Frame kind, mapcount and refcount of the mapped frame. */
  readonly frame: { readonly kind: string; readonly mapcount: number; readonly refcount: number } | null;
}

/** A JSON-ready picture of one process and the machine around it. */
export interface ProcessSnapshot {
  readonly pid: number;
  readonly alive: boolean;
  readonly vmas: readonly VmaSnapshot[];
  /** FreeBSD: the pmap's PKRU range set (empty under linux, whose keys are on the VMAs). */
  readonly pkruRanges: readonly PkruRangeSnapshot[];
  readonly pageTable: readonly PteSnapshot[];
  readonly tlbs: readonly { readonly cpu: number; readonly pcid: number; readonly entries: readonly TlbEntryView[] }[];
  readonly counters: {
    readonly cpus: readonly Record<string, number>[];
    readonly mm: Record<string, number>;
    readonly machine: Record<string, number>;
  };
}

/** One range of FreeBSD's per-pmap PKRU range set. */
export interface PkruRangeSnapshot {
  readonly start: number;
  readonly end: number;
  readonly key: number;
  /** AMD64_PKRU_PERSIST: survives munmap. */
  readonly persist: boolean;
}

/** The PKRU ranges of a pmap, in address order; empty when it keeps none. */
export function pkruRangesOf(pmap: Pmap): PkruRangeSnapshot[] {
  const set = PkruRangeSet.of(pmap);
  return set ? [...set.entries()].map((r) => ({ start: r.start, end: r.end, key: r.key, persist: r.persist })) : [];
}

/** One VMA as a snapshot shows it. */
export function vmaSnapshot(v: Vma): VmaSnapshot {
  return { start: v.start, end: v.end, perms: v.permString(), pkey: v.pkey, file: v.file ? v.file.name : null, offset: v.file ? v.pgoff * 4096 : 0, flags: v.smapsFlags() };
}

/** Options of {@link snapshotProcess}. */
export interface SnapshotRange {
  readonly start?: number;
  readonly end?: number;
}

/** A snapshot of `p`: VMAs, the leaf entries of its page table in a range, every CPU's TLB, counters. */
export function snapshotProcess(k: Kernel, p: Process, range: SnapshotRange = {}): ProcessSnapshot {
  const mm = p.mm;
  const start = range.start ?? 0;
  const end = range.end ?? Number.MAX_SAFE_INTEGER;
  const vmas: VmaSnapshot[] = [];
  for (let v = mm.vmas.first(); v; v = v.nextSpan) {
    vmas.push(vmaSnapshot(v));
  }
  const mem = k.hw.mem;
  const pageTable: PteSnapshot[] = [];
  if (p.alive) {
    forEachLeaf(mm.pmap, (va, slot) => {
      if (va < start || va >= end) return;
      const lo = mm.pmap.lo(slot);
      const hi = mm.pmap.hi(slot);
      const maps = pteMapsFrame(lo);
      const pfn = maps ? ptePfn(lo, hi) : null;
      pageTable.push({
        va,
        entry: describePte(lo, hi),
        raw: `0x${hi.toString(16).padStart(8, '0')}${lo.toString(16).padStart(8, '0')}`,
        pfn,
        key: maps ? pteKey(hi) : null,
        frame: pfn === null ? null : { kind: pfn === k.zeroPfn ? 'zero' : FRAME_KIND_NAMES[mem.kind[pfn]], mapcount: mem.mapcount[pfn], refcount: mem.refcount[pfn] },
      });
    });
  }
  return {
    pid: p.pid,
    alive: p.alive,
    vmas,
    pkruRanges: pkruRangesOf(mm.pmap),
    pageTable,
    tlbs: k.hw.cpus.map((c) => ({ cpu: c.id, pcid: c.pcid, entries: c.tlb.entries() })),
    counters: {
      cpus: k.hw.cpus.map((c) => c.counters.toJSON()),
      mm: mmCounters(mm),
      machine: machineCounters(k),
    },
  };
}

/** An address space's counters: faults, COW and swap, plus resident pages, page tables and VMAs. */
export function mmCounters(mm: Mm): Record<string, number> {
  return { ...mm.counters, resident: mm.pmap.resident, pageTables: mm.pmap.tablesAllocated, vmas: mm.mapCount };
}

/** Machine-wide figures: memory, swap, page cache. */
export function machineCounters(k: Kernel): Record<string, number> {
  let pageCache = 0;
  for (const f of k.allFiles()) pageCache += f.cache.size;
  return {
    frames: k.hw.mem.frameCount,
    freeFrames: k.hw.mem.freeFrames,
    pageTables: k.hw.tables.liveTables,
    pageCachePages: pageCache,
    swapSlots: k.hw.swap.slots,
    swapUsed: k.swap.usedSlots,
    swapWrites: k.hw.swap.writes,
    swapReads: k.hw.swap.reads,
    contentBytes: k.hw.mem.content.bytesInUse,
  };
}

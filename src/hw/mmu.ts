import { type Cpu } from './cpu.js';
import { FRAME_PAGETABLE, type PhysMem } from './physMem.js';
import { type PageTables } from './pageTables.js';
import { PTE_A, PTE_D, PTE_HI_XD, PTE_P, PTE_PS, PTE_RW, PTE_US, pteKey, ptePfn, PAGE_SIZE } from './pte.js';
import { TLB_D, TLB_G, TLB_KEY_SHIFT, TLB_U, TLB_W, TLB_XD, TAG_BIAS, TAG_SCALE, GLOBAL_TAG } from './tlb.js';
import { type Tracer } from './trace.js';
import { type Violation } from './violation.js';

/** A data read. */
export const ACCESS_READ = 0;
/** A data write. */
export const ACCESS_WRITE = 1;
/** An instruction fetch. */
export const ACCESS_FETCH = 2;
/** ACCESS_READ, ACCESS_WRITE or ACCESS_FETCH. */
export type AccessKind = 0 | 1 | 2;

/** Page-fault error code bits (SDM vol. 3A §4.7). */
export const PF_P = 1 << 0;
export const PF_W = 1 << 1;
export const PF_U = 1 << 2;
export const PF_RSVD = 1 << 3;
export const PF_I = 1 << 4;
export const PF_PK = 1 << 5;

/**
 * {@link Mmu.translate} returns a frame number (>= 0) or, for a page fault, `-1 - errorCode`:
 * a negative number, so a fault is a value and never an allocation.
 */
export function isFault(result: number): boolean {
  return result < 0;
}

/** Error code of a fault result. */
export function faultErrorCode(result: number): number {
  return -1 - result;
}

/** Names of the set error-code bits, e.g. `P|W|U|PK`. */
export function describeErrorCode(ec: number): string {
  const names: string[] = [];
  if (ec & PF_P) names.push('P');
  if (ec & PF_W) names.push('W');
  if (ec & PF_U) names.push('U');
  if (ec & PF_RSVD) names.push('RSVD');
  if (ec & PF_I) names.push('I');
  if (ec & PF_PK) names.push('PK');
  return names.length ? names.join('|') : '0';
}

const FOUR_LEVEL_SHIFT_39 = 2 ** 27; // pages per PML4 entry
const INV_PAGE_SIZE = 1 / PAGE_SIZE;

/** The leaf a walk found: its slot, level (1 or 2) and the rights accumulated on the way. */
export interface WalkResult {
  /** Slot index in {@link PageTables} of the leaf entry, or -1 when the walk stopped early. */
  slot: number;
  /** Level of the entry at `slot`: 1 for a PTE, 2 for a 2 MiB PMD leaf or a missing PT. */
  level: number;
  /** The walk reached a present leaf. */
  present: boolean;
  writable: boolean;
  user: boolean;
  executeDisable: boolean;
}

/**
 * The memory-management unit: TLB lookup, the four-level walk that sets A and D, and the
 * access check in hardware order — paging rights, SMEP/SMAP/WP, then protection keys
 * (PKRU for user pages, PKRS for supervisor pages; data accesses only).
 */
export class Mmu {
  /** Broken invariants noticed by the hardware itself (a walk into a freed table, a key bypassed). */
  readonly violations: Violation[] = [];
  /** Re-check every successful user access against PKRU using the page table, catching stale keys in a TLB. */
  checkKeys = false;
  /** Receives trace events when set; null on the fast path. */
  tracer: Tracer | null = null;

  constructor(
    readonly mem: PhysMem,
    readonly tables: PageTables,
  ) {}

  /**
   * Translates `va` for an access, through the TLB or a walk. Returns the 4 KiB frame
   * number, or `-1 - errorCode` for a page fault (and sets CR2).
   */
  translate(cpu: Cpu, va: number, access: AccessKind, user: boolean): number {
    // Multiplying by the exact reciprocal of a power of two is exact, and cheaper than a division.
    const vpn = Math.floor(va * INV_PAGE_SIZE);
    const tlb = cpu.tlb;
    const slot = (vpn >>> 0) & tlb.mask;
    const t = tlb.tag[slot];
    const tagBase = vpn * TAG_SCALE + TAG_BIAS;
    if ((t === tagBase + cpu.pcid || t === tagBase + GLOBAL_TAG) && user && access !== ACCESS_FETCH) {
      // The hot path: a user data access through a cached translation.
      const a = tlb.attr[slot];
      const need = access === ACCESS_WRITE ? TLB_U | TLB_W | TLB_D : TLB_U;
      if ((a & need) === need) {
        if (!cpu.pke || ((cpu.pkru >>> (((a >>> TLB_KEY_SHIFT) & 0xf) << 1)) & (access === ACCESS_WRITE ? 3 : 1)) === 0) {
          cpu.counters.tlbHits++;
          if (this.checkKeys) this.recheckKey(cpu, va, access);
          return tlb.pfn[slot];
        }
      }
    }
    return this.translateSlow(cpu, va, vpn, access, user);
  }

  private translateSlow(cpu: Cpu, va: number, vpn: number, access: AccessKind, user: boolean): number {
    const tlb = cpu.tlb;
    const c = cpu.counters;
    let attr = -1;
    let pfn = -1;
    const slot = (vpn >>> 0) & tlb.mask;
    const tagBase = vpn * TAG_SCALE + TAG_BIAS;
    const t = tlb.tag[slot];
    const hpn = Math.floor(vpn / 512);
    const hslot = (hpn >>> 0) & tlb.hugeMask;
    const ht = tlb.hugeTag[hslot];
    if (t === tagBase + cpu.pcid || t === tagBase + GLOBAL_TAG) {
      attr = tlb.attr[slot]!;
      pfn = tlb.pfn[slot]!;
    } else if (ht === hpn * TAG_SCALE + TAG_BIAS + cpu.pcid || ht === hpn * TAG_SCALE + TAG_BIAS + GLOBAL_TAG) {
      attr = tlb.hugeAttr[hslot]!;
      pfn = tlb.hugePfn[hslot] + ((vpn >>> 0) & 511);
    }
    if (attr >= 0) {
      const ec = this.check(cpu, attr, access, user);
      if (ec !== 0) {
        // A fault invalidates the TLB entries for the faulting address (SDM §4.10.4.1), so a
        // stale, too-weak entry costs one spurious fault and the retry walks.
        tlb.invalidatePage(vpn, cpu.pcid);
        return this.fault(cpu, va, ec);
      }
      // An allowed write through an entry cached clean walks to set D (SDM §4.8).
      if (!(access === ACCESS_WRITE && (attr & TLB_D) === 0)) {
        c.tlbHits++;
        if (this.checkKeys && user) this.recheckKey(cpu, va, access);
        return pfn;
      }
    }
    c.tlbMisses++;
    return this.walk(cpu, va, vpn, access, user);
  }

  /** Walks the tables, checks rights, sets A/D and fills the TLB on success. */
  private walk(cpu: Cpu, va: number, vpn: number, access: AccessKind, user: boolean): number {
    cpu.counters.walks++;
    if (this.tracer) this.tracer({ type: 'tlb.miss', cpu: cpu.id, va });
    const lo = this.tables.lo;
    const hi = this.tables.hi;
    let table = cpu.cr3Table;
    if (table < 0) return this.fault(cpu, va, notPresentCode(access, user));
    if (!this.tables.isLive(table)) {
      this.violations.push({ id: 'no-pt-use-after-free', message: `CPU ${cpu.id} walked va 0x${va.toString(16)} from a CR3 whose PML4 (table ${table}) was freed` });
      return this.fault(cpu, va, notPresentCode(access, user) | PF_RSVD | PF_P);
    }
    const top = Math.floor(vpn / FOUR_LEVEL_SHIFT_39);
    const low27 = vpn - top * FOUR_LEVEL_SHIFT_39;
    let rw = PTE_RW;
    let us = PTE_US;
    let xd = 0;
    let s4 = -1;
    let s3 = -1;
    let s2 = -1;
    let leaf = -1;
    let huge = false;
    for (let level = 4; level >= 1; level--) {
      const idx = level === 4 ? top & 511 : level === 3 ? low27 >>> 18 : level === 2 ? (low27 >>> 9) & 511 : low27 & 511;
      const s = table * 512 + idx;
      const l = lo[s];
      if ((l & PTE_P) === 0) return this.fault(cpu, va, notPresentCode(access, user));
      rw &= l;
      us &= l;
      xd |= hi[s] & PTE_HI_XD ? 1 : 0;
      if (level === 4) s4 = s;
      else if (level === 3) s3 = s;
      else if (level === 2) s2 = s;
      if (level === 1 || (level === 2 && l & PTE_PS)) {
        leaf = s;
        huge = level === 2;
        break;
      }
      const next = ptePfn(l, hi[s]);
      const nextTable = this.mem.kind[next] === FRAME_PAGETABLE ? this.mem.data[next] : -1;
      if (nextTable < 0 || this.tables.generation[nextTable] !== this.tables.linkedGeneration(s)) {
        this.violations.push({
          id: 'no-pt-use-after-free',
          message: `CPU ${cpu.id} walked va 0x${va.toString(16)} into frame ${next}, which ${nextTable < 0 ? 'is no longer a page table' : 'was freed and reused as another page table'}`,
        });
        return this.fault(cpu, va, notPresentCode(access, user) | PF_RSVD | PF_P);
      }
      table = nextTable;
    }
    const leafLo = lo[leaf];
    const leafHi = hi[leaf];
    const key = pteKey(leafHi);
    let attr = (rw ? TLB_W : 0) | (us ? TLB_U : 0) | (xd ? TLB_XD : 0) | (key << TLB_KEY_SHIFT);
    if (leafLo & PTE_D) attr |= TLB_D;
    if (leafLo & 0x100 /* G */) attr |= TLB_G;
    const ec = this.check(cpu, attr, access, user);
    if (ec !== 0) return this.fault(cpu, va, ec);
    // Success: A on every level, D on the leaf for a write.
    lo[s4] = lo[s4] | PTE_A;
    lo[s3] = lo[s3] | PTE_A;
    if (s2 !== leaf) lo[s2] = lo[s2] | PTE_A;
    if (access === ACCESS_WRITE) {
      lo[leaf] = leafLo | PTE_A | PTE_D;
      attr |= TLB_D;
    } else {
      lo[leaf] = leafLo | PTE_A;
    }
    const basePfn = ptePfn(leafLo, leafHi);
    if (huge) {
      cpu.tlb.fillHuge(Math.floor(vpn / 512), cpu.pcid, basePfn, attr, cpu.cr3Table);
      return basePfn + ((vpn >>> 0) & 511);
    }
    cpu.tlb.fill(vpn, cpu.pcid, basePfn, attr, cpu.cr3Table);
    return basePfn;
  }

  /** Error code (without P) for an access against a present translation's attributes; 0 if allowed. */
  private check(cpu: Cpu, attr: number, access: AccessKind, user: boolean): number {
    const write = access === ACCESS_WRITE;
    const fetch = access === ACCESS_FETCH;
    const base = (write ? PF_W : 0) | (user ? PF_U : 0) | (fetch ? PF_I : 0);
    const userPage = (attr & TLB_U) !== 0;
    let denied = false;
    if (user) {
      if (!userPage) denied = true;
      else if (write && (attr & TLB_W) === 0) denied = true;
      else if (fetch && attr & TLB_XD) denied = true;
    } else if (fetch) {
      if ((userPage && cpu.smep) || attr & TLB_XD) denied = true;
    } else {
      if (userPage && cpu.smap && !cpu.ac) denied = true;
      else if (write && (attr & TLB_W) === 0 && cpu.wp) denied = true;
    }
    let pk = false;
    if (!fetch) {
      const key = (attr >>> TLB_KEY_SHIFT) & 0xf;
      const keyReg = userPage ? (cpu.pke ? cpu.pkru : 0) : cpu.pks ? cpu.pkrs : 0;
      const bits = (keyReg >>> (key << 1)) & 3;
      // Write-disable binds supervisor writes only when CR0.WP is set (SDM §4.6.2).
      if (bits & 1 || (bits & 2 && write && (user || cpu.wp))) pk = true;
    }
    if (!denied && !pk) return 0;
    // P is part of every protection fault; it also keeps a denied plain kernel read non-zero.
    return base | PF_P | (pk ? PF_PK : 0);
  }

  private fault(cpu: Cpu, va: number, ec: number): number {
    cpu.cr2 = va;
    cpu.counters.pageFaults++;
    if (this.tracer) this.tracer({ type: 'page-fault', cpu: cpu.id, va, errorCode: ec });
    return -1 - ec;
  }

  /**
   * Walks without side effects (no A/D, no TLB fill): the leaf slot for `va` under the
   * PML4 `rootTable`, for the kernel's page-table code, snapshots and invariants.
   */
  peek(rootTable: number, va: number, out: WalkResult): WalkResult {
    out.slot = -1;
    out.level = 4;
    out.present = false;
    out.writable = false;
    out.user = false;
    out.executeDisable = false;
    if (rootTable < 0) return out;
    const lo = this.tables.lo;
    const hi = this.tables.hi;
    const vpn = Math.floor(va / PAGE_SIZE);
    const top = Math.floor(vpn / FOUR_LEVEL_SHIFT_39);
    const low27 = vpn - top * FOUR_LEVEL_SHIFT_39;
    if (!this.tables.isLive(rootTable)) return out;
    let table = rootTable;
    let rw = PTE_RW;
    let us = PTE_US;
    let xd = 0;
    for (let level = 4; level >= 1; level--) {
      const idx = level === 4 ? top & 511 : level === 3 ? low27 >>> 18 : level === 2 ? (low27 >>> 9) & 511 : low27 & 511;
      const s = table * 512 + idx;
      const l = lo[s];
      out.slot = s;
      out.level = level;
      if ((l & PTE_P) === 0) return out;
      rw &= l;
      us &= l;
      xd |= hi[s] & PTE_HI_XD ? 1 : 0;
      if (level === 1 || (level === 2 && l & PTE_PS)) {
        out.present = true;
        out.writable = rw !== 0;
        out.user = us !== 0;
        out.executeDisable = xd !== 0;
        return out;
      }
      const next = ptePfn(l, hi[s]);
      if (this.mem.kind[next] !== FRAME_PAGETABLE) {
        out.slot = -1;
        return out;
      }
      table = this.mem.data[next]!;
    }
    return out;
  }

  private readonly scratch: WalkResult = { slot: -1, level: 0, present: false, writable: false, user: false, executeDisable: false };

  private recheckKey(cpu: Cpu, va: number, access: AccessKind): void {
    if (!cpu.pke) return;
    const w = this.peek(cpu.cr3Table, va, this.scratch);
    // A stale entry for a page being unmapped is a TLB question (no-stale-tlb, checked
    // between operations), not a key question.
    if (!w.present) return;
    const key = pteKey(this.tables.hi[w.slot]);
    const bits = (cpu.pkru >>> (key << 1)) & 3;
    if (bits & 1 || (bits & 2 && access === ACCESS_WRITE)) {
      this.violations.push({
        id: 'keys-enforced',
        message: `CPU ${cpu.id} ${access === ACCESS_WRITE ? 'wrote' : 'read'} va 0x${va.toString(16)} although PKRU 0x${cpu.pkru.toString(16)} denies key ${key} of its PTE (the TLB held a stale key)`,
      });
    }
  }
}

function notPresentCode(access: AccessKind, user: boolean): number {
  return (access === ACCESS_WRITE ? PF_W : 0) | (user ? PF_U : 0) | (access === ACCESS_FETCH ? PF_I : 0);
}

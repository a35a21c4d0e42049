import { Tlb } from './tlb.js';

/**
 * Event counts of one CPU. Plain numbers on a fixed-shape object: bumping one is a
 * field increment on the hot path.
 */
export class CpuCounters {
  tlbHits = 0;
  tlbMisses = 0;
  walks = 0;
  /** Local invalidations: one per INVLPG, per PCID flush and per full flush. */
  flushes = 0;
  /** Full (whole-PCID or whole-TLB) invalidations among {@link flushes}. */
  fullFlushes = 0;
  /** Shoot-down IPIs this CPU sent. */
  ipisSent = 0;
  /** Shoot-down IPIs this CPU received and served. */
  ipisReceived = 0;
  pageFaults = 0;
  /** Writes to PKRU or PKRS: each is a register write, never a flush. */
  keyRegisterWrites = 0;

  /** A plain copy for snapshots. */
  toJSON(): Record<string, number> {
    return Object.fromEntries(Object.entries(this));
  }
}

/** PKRU or PKRS value at reset: every key readable and writable. */
export const KEYS_ALL_ALLOWED = 0;

/**
 * One logical CPU: the control registers and key registers that the access check
 * reads, and its TLB. Registers are plain fields set in the constructor (fixed shape).
 */
export class Cpu {
  /** PML4 page-table number loaded in CR3, or -1 when none (an idle CPU). */
  cr3Table = -1;
  /** PCID from CR3 (12 bits); 0 is the kernel's own. */
  pcid = 0;
  /** CR0.WP: supervisor writes honour read-only pages. */
  wp = true;
  /** CR4.SMEP: supervisor fetches from user pages fault. */
  smep = true;
  /** CR4.SMAP: supervisor data accesses to user pages fault unless EFLAGS.AC. */
  smap = true;
  /** CR4.PKE: user protection keys (PKRU) are enforced. */
  pke = false;
  /** CR4.PKS: supervisor protection keys (PKRS) are enforced. */
  pks = false;
  /** EFLAGS.AC, set by STAC around deliberate user accesses (copy_to_user). */
  ac = false;
  /** PKRU: for key k, access-disable at bit 2k, write-disable at bit 2k+1. */
  pkru = KEYS_ALL_ALLOWED;
  /** IA32_PKRS (MSR 0x6E1), same layout as PKRU, for supervisor pages. */
  pkrs = KEYS_ALL_ALLOWED;
  /** CR2: the linear address of the last page fault. */
  cr2 = 0;
  /**
   * The kernel's context loaded here (its thread), opaque to the hardware; reset to null
   * whenever CR3 is rewritten, so a match proves both the address space and PKRU are loaded.
   */
  owner: object | null = null;
  readonly tlb: Tlb;
  readonly counters = new CpuCounters();

  constructor(readonly id: number, tlbEntries = 1024) {
    this.tlb = new Tlb(tlbEntries);
  }

  /** WRPKRU: takes effect on the next access; TLB entries stay valid because keys are checked at access time. */
  writePkru(value: number): void {
    this.pkru = value >>> 0;
    this.counters.keyRegisterWrites++;
  }

  /** WRMSR IA32_PKRS. */
  writePkrs(value: number): void {
    this.pkrs = value >>> 0;
    this.counters.keyRegisterWrites++;
  }
}

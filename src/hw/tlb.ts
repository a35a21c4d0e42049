/** The translation allows writes (RW set at every level). */
export const TLB_W = 1 << 0;
/** The translation is user-accessible (US set at every level). */
export const TLB_U = 1 << 1;
/** Execute-disable (XD set at some level). */
export const TLB_XD = 1 << 2;
/** The leaf entry was dirty when cached; a write through a clean entry re-walks to set D. */
export const TLB_D = 1 << 3;
/** Global: not tagged by PCID, survives CR3 switches. */
export const TLB_G = 1 << 4;
/** A 2 MiB translation. */
export const TLB_HUGE = 1 << 5;
/** Shift of the protection key within the attribute word. */
export const TLB_KEY_SHIFT = 8;

/** PCID value used in tags of global entries: one past the 12-bit PCID space. */
export const GLOBAL_TAG = 4096;
/** Multiplier that makes room for the PCID below a VPN in a tag. */
export const TAG_SCALE = 8192;

/**
 * Tags are `vpn * TAG_SCALE + TAG_BIAS + pcid`, so that 0 can mean empty: a TLB's arrays
 * start as the zero pages the OS hands out and cost memory only where entries were filled.
 */
export const TAG_BIAS = 1;
const INVALID = 0;

/** One cached translation, decoded for snapshots. */
export interface TlbEntryView {
  /** First virtual address covered. */
  readonly va: number;
  /** PCID it is tagged with; undefined for a global entry. */
  readonly pcid: number | undefined;
  /** First physical frame. */
  readonly pfn: number;
  readonly writable: boolean;
  readonly user: boolean;
  readonly executeDisable: boolean;
  readonly dirty: boolean;
  readonly huge: boolean;
  readonly key: number;
  /**
   * The PML4 table loaded in CR3 when the entry was filled: a record of the model, not of
   * the hardware, so the invariants can tell an entry of another address space that
   * reached this PCID without a flush; -1 when the filler did not say.
   */
  readonly cr3Table: number;
}

/**
 * One CPU's TLB: a direct-mapped array of 4 KiB translations and a small one of 2 MiB
 * translations, each entry tagged `vpn * 8192 + 1 + pcid` (or `+ GLOBAL_TAG`) so a hit is one
 * compare. An entry stays until it is invalidated or evicted by a conflicting fill —
 * stale on purpose: whether the kernel flushed is what users check.
 */
export class Tlb {
  /** Tags of 4 KiB entries; -1 is empty. */
  readonly tag: Float64Array;
  /** Frame of each 4 KiB entry. */
  readonly pfn: Int32Array;
  /** TLB_* attributes and key of each 4 KiB entry. */
  readonly attr: Int32Array;
  /** Slot mask of the 4 KiB array. */
  readonly mask: number;
  /** Tags of 2 MiB entries (tagged by 2 MiB page number). */
  readonly hugeTag: Float64Array;
  readonly hugePfn: Int32Array;
  readonly hugeAttr: Int32Array;
  readonly hugeMask: number;
  /** CR3's PML4 table at the fill of each 4 KiB / 2 MiB entry (see {@link TlbEntryView.cr3Table}). */
  readonly filledUnder: Int32Array;
  readonly hugeFilledUnder: Int32Array;
  /**
   * Slots of the 4 KiB array that may be valid, so flushes and snapshots cost the entries
   * filled, not the TLB's size; compacted as they are walked.
   */
  private readonly used: Int32Array;
  private readonly inUsed: Uint8Array;
  private usedCount = 0;

  constructor(entries = 1024, hugeEntries = 32) {
    if ((entries & (entries - 1)) !== 0 || (hugeEntries & (hugeEntries - 1)) !== 0) {
      throw new RangeError('TLB sizes must be powers of two');
    }
    this.tag = new Float64Array(entries);
    this.pfn = new Int32Array(entries);
    this.attr = new Int32Array(entries);
    this.mask = entries - 1;
    this.hugeTag = new Float64Array(hugeEntries);
    this.hugePfn = new Int32Array(hugeEntries);
    this.hugeAttr = new Int32Array(hugeEntries);
    this.hugeMask = hugeEntries - 1;
    this.filledUnder = new Int32Array(entries);
    this.hugeFilledUnder = new Int32Array(hugeEntries);
    this.used = new Int32Array(entries);
    this.inUsed = new Uint8Array(entries);
  }

  /** Caches a 4 KiB translation, evicting whatever shared its slot. */
  fill(vpn: number, pcid: number, pfn: number, attr: number, cr3Table = -1): void {
    const slot = (vpn >>> 0) & this.mask;
    this.tag[slot] = vpn * TAG_SCALE + TAG_BIAS + (attr & TLB_G ? GLOBAL_TAG : pcid);
    this.pfn[slot] = pfn;
    this.attr[slot] = attr;
    this.filledUnder[slot] = cr3Table;
    if (this.inUsed[slot] === 0) {
      this.inUsed[slot] = 1;
      this.used[this.usedCount++] = slot;
    }
  }

  /** Caches a 2 MiB translation; `hpn` is the 2 MiB page number. */
  fillHuge(hpn: number, pcid: number, pfn: number, attr: number, cr3Table = -1): void {
    const slot = (hpn >>> 0) & this.hugeMask;
    this.hugeTag[slot] = hpn * TAG_SCALE + TAG_BIAS + (attr & TLB_G ? GLOBAL_TAG : pcid);
    this.hugePfn[slot] = pfn;
    this.hugeAttr[slot] = attr | TLB_HUGE;
    this.hugeFilledUnder[slot] = cr3Table;
  }

  /**
   * Calls `fn` for each slot of the 4 KiB array that holds a valid entry, dropping from
   * the used list the slots found invalid. `fn` may invalidate the slot it is given.
   */
  private forEachUsed(fn: (slot: number) => void): void {
    const used = this.used;
    let kept = 0;
    for (let i = 0; i < this.usedCount; i++) {
      const slot = used[i];
      if (this.tag[slot] !== INVALID) fn(slot);
      if (this.tag[slot] !== INVALID) used[kept++] = slot;
      else this.inUsed[slot] = 0;
    }
    this.usedCount = kept;
  }

  /** INVLPG / INVPCID type 0: drops the translation of `vpn` for `pcid` and any global one. */
  invalidatePage(vpn: number, pcid: number): void {
    const slot = (vpn >>> 0) & this.mask;
    const t = this.tag[slot];
    const base = vpn * TAG_SCALE + TAG_BIAS;
    if (t === base + pcid || t === base + GLOBAL_TAG) this.tag[slot] = INVALID;
    const hpn = Math.floor(vpn / 512);
    const hslot = (hpn >>> 0) & this.hugeMask;
    const ht = this.hugeTag[hslot];
    const hbase = hpn * TAG_SCALE + TAG_BIAS;
    if (ht === hbase + pcid || ht === hbase + GLOBAL_TAG) this.hugeTag[hslot] = INVALID;
  }

  /** CR3 write without NOFLUSH / INVPCID type 1: drops every non-global entry of `pcid`. */
  invalidatePcid(pcid: number): void {
    const tag = this.tag;
    this.forEachUsed((slot) => {
      if (tagPcid(tag[slot]) === pcid) tag[slot] = INVALID;
    });
    dropMatching(this.hugeTag, pcid);
  }

  /** INVPCID type 2 (with globals) or 3 (without). */
  invalidateAll(includeGlobal: boolean): void {
    const tag = this.tag;
    this.forEachUsed((slot) => {
      if (includeGlobal || tagPcid(tag[slot]) !== GLOBAL_TAG) tag[slot] = INVALID;
    });
    if (includeGlobal) this.hugeTag.fill(INVALID);
    else dropNonGlobal(this.hugeTag);
  }

  /** Every valid entry, decoded. */
  entries(): TlbEntryView[] {
    const out: TlbEntryView[] = [];
    this.forEachUsed((slot) => out.push(decode(this.tag[slot], this.pfn[slot], this.attr[slot], this.filledUnder[slot], 4096)));
    const huge = this.hugeTag;
    for (let i = 0; i < huge.length; i++) {
      if (huge[i] !== INVALID) out.push(decode(huge[i], this.hugePfn[i], this.hugeAttr[i], this.hugeFilledUnder[i], 2 * 1024 * 1024));
    }
    return out.sort((a, b) => a.va - b.va);
  }
}

/** The PCID part of a tag (`%` on doubles is slow in V8; this is not). */
function tagPcid(t: number): number {
  const u = t - TAG_BIAS;
  return u - Math.floor(u / TAG_SCALE) * TAG_SCALE;
}

function dropMatching(tags: Float64Array, pcid: number): void {
  for (let i = 0; i < tags.length; i++) {
    const t = tags[i];
    if (t !== INVALID && tagPcid(t) === pcid) tags[i] = INVALID;
  }
}

function dropNonGlobal(tags: Float64Array): void {
  for (let i = 0; i < tags.length; i++) {
    const t = tags[i];
    if (t !== INVALID && tagPcid(t) !== GLOBAL_TAG) tags[i] = INVALID;
  }
}

function decode(t: number, pfn: number, a: number, cr3Table: number, pageBytes: number): TlbEntryView {
  const pcidOfTag = tagPcid(t);
  return {
    va: ((t - TAG_BIAS - pcidOfTag) / TAG_SCALE) * pageBytes,
    pcid: pcidOfTag === GLOBAL_TAG ? undefined : pcidOfTag,
    pfn,
    writable: (a & TLB_W) !== 0,
    user: (a & TLB_U) !== 0,
    executeDisable: (a & TLB_XD) !== 0,
    dirty: (a & TLB_D) !== 0,
    huge: (a & TLB_HUGE) !== 0,
    key: (a >>> TLB_KEY_SHIFT) & 0xf,
    cr3Table,
  };
}

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

const INVALID = -1;

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
}

/**
 * One CPU's TLB: a direct-mapped array of 4 KiB translations and a small one of 2 MiB
 * translations, each entry tagged `vpn * 8192 + pcid` (or `+ GLOBAL_TAG`) so a hit is one
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

  constructor(entries = 1024, hugeEntries = 32) {
    if ((entries & (entries - 1)) !== 0 || (hugeEntries & (hugeEntries - 1)) !== 0) {
      throw new RangeError('TLB sizes must be powers of two');
    }
    this.tag = new Float64Array(entries).fill(INVALID);
    this.pfn = new Int32Array(entries);
    this.attr = new Int32Array(entries);
    this.mask = entries - 1;
    this.hugeTag = new Float64Array(hugeEntries).fill(INVALID);
    this.hugePfn = new Int32Array(hugeEntries);
    this.hugeAttr = new Int32Array(hugeEntries);
    this.hugeMask = hugeEntries - 1;
  }

  /** Caches a 4 KiB translation, evicting whatever shared its slot. */
  fill(vpn: number, pcid: number, pfn: number, attr: number): void {
    const slot = (vpn >>> 0) & this.mask;
    this.tag[slot] = vpn * TAG_SCALE + (attr & TLB_G ? GLOBAL_TAG : pcid);
    this.pfn[slot] = pfn;
    this.attr[slot] = attr;
  }

  /** Caches a 2 MiB translation; `hpn` is the 2 MiB page number. */
  fillHuge(hpn: number, pcid: number, pfn: number, attr: number): void {
    const slot = (hpn >>> 0) & this.hugeMask;
    this.hugeTag[slot] = hpn * TAG_SCALE + (attr & TLB_G ? GLOBAL_TAG : pcid);
    this.hugePfn[slot] = pfn;
    this.hugeAttr[slot] = attr | TLB_HUGE;
  }

  /** INVLPG / INVPCID type 0: drops the translation of `vpn` for `pcid` and any global one. */
  invalidatePage(vpn: number, pcid: number): void {
    const slot = (vpn >>> 0) & this.mask;
    const t = this.tag[slot];
    if (t === vpn * TAG_SCALE + pcid || t === vpn * TAG_SCALE + GLOBAL_TAG) this.tag[slot] = INVALID;
    const hpn = Math.floor(vpn / 512);
    const hslot = (hpn >>> 0) & this.hugeMask;
    const ht = this.hugeTag[hslot];
    if (ht === hpn * TAG_SCALE + pcid || ht === hpn * TAG_SCALE + GLOBAL_TAG) this.hugeTag[hslot] = INVALID;
  }

  /** CR3 write without NOFLUSH / INVPCID type 1: drops every non-global entry of `pcid`. */
  invalidatePcid(pcid: number): void {
    dropMatching(this.tag, pcid);
    dropMatching(this.hugeTag, pcid);
  }

  /** INVPCID type 2 (with globals) or 3 (without). */
  invalidateAll(includeGlobal: boolean): void {
    if (includeGlobal) {
      this.tag.fill(INVALID);
      this.hugeTag.fill(INVALID);
      return;
    }
    dropNonGlobal(this.tag);
    dropNonGlobal(this.hugeTag);
  }

  /** Every valid entry, decoded. */
  entries(): TlbEntryView[] {
    const out: TlbEntryView[] = [];
    collect(out, this.tag, this.pfn, this.attr, 4096);
    collect(out, this.hugeTag, this.hugePfn, this.hugeAttr, 2 * 1024 * 1024);
    return out.sort((a, b) => a.va - b.va);
  }
}

/** The PCID part of a tag (`%` on doubles is slow in V8; this is not). */
function tagPcid(t: number): number {
  return t - Math.floor(t / TAG_SCALE) * TAG_SCALE;
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

function collect(out: TlbEntryView[], tags: Float64Array, pfns: Int32Array, attrs: Int32Array, pageBytes: number): void {
  for (let i = 0; i < tags.length; i++) {
    const t = tags[i];
    if (t === INVALID) continue;
    const pcidOfTag = tagPcid(t);
    const a = attrs[i];
    out.push({
      va: ((t - pcidOfTag) / TAG_SCALE) * pageBytes,
      pcid: pcidOfTag === GLOBAL_TAG ? undefined : pcidOfTag,
      pfn: pfns[i],
      writable: (a & TLB_W) !== 0,
      user: (a & TLB_U) !== 0,
      executeDisable: (a & TLB_XD) !== 0,
      dirty: (a & TLB_D) !== 0,
      huge: (a & TLB_HUGE) !== 0,
      key: (a >>> TLB_KEY_SHIFT) & 0xf,
    });
  }
}

/**
 * x86-64 page-table entries as two 32-bit halves (DESIGN.md §2: no BigInt on the hot path).
 *
 * Present entries follow the Intel SDM, vol. 3A, §4.5, table 4-19:
 *
 * ```
 *  lo: 31..12 PFN[19:0] | 11..9 software | 8 G | 7 PS | 6 D | 5 A | 4 PCD | 3 PWT | 2 US | 1 RW | 0 P
 *  hi: 31 XD | 30..27 protection key | 26..20 ignored | 19..0 PFN[39:20]
 * ```
 *
 * Non-present entries (P = 0) carry mmsim's software encodings, modelled on Linux's
 * (arch/x86/include/asm/pgtable_64.h):
 *
 * ```
 *  all zero                    pte_none: nothing was ever here
 *  bit 8 (PROTNONE), P = 0     a page kept mapped but made inaccessible (PROT_NONE, Linux's
 *                              _PAGE_PROTNONE): every other field is as for a present entry
 *  bit 1 (SWAP), P = 0         a swap entry: type in lo 13..9, offset in lo 31..14 and
 *                              hi 26..0 (45 bits, SWAP_OFFSET_BITS)
 *  bit 2 (FILE), P = 0         a nonlinear file entry: protection in lo 5..3, file page
 *                              offset in lo 31..12 and hi 19..0 (40 bits, PTE_FILE_MAX_BITS)
 * ```
 * @packageDocumentation
 */

/** Present. */
export const PTE_P = 1 << 0;
/** Writable. */
export const PTE_RW = 1 << 1;
/** User-accessible. */
export const PTE_US = 1 << 2;
/** Page-level write-through. */
export const PTE_PWT = 1 << 3;
/** Page-level cache disable. */
export const PTE_PCD = 1 << 4;
/** Accessed: set by the walker on every use. */
export const PTE_A = 1 << 5;
/** Dirty: set by the walker on a write. */
export const PTE_D = 1 << 6;
/** Page size: a 2 MiB leaf when set in a PMD entry. */
export const PTE_PS = 1 << 7;
/** Global: survives a CR3 switch. */
export const PTE_G = 1 << 8;
/** Linux's _PAGE_PROTNONE: shares bit 8 with G, meaningful only when P is clear. */
export const PTE_PROTNONE = 1 << 8;
/** Software: a swap entry (only when P is clear). */
export const PTE_SWAP = 1 << 1;
/** Software: a nonlinear file entry (only when P is clear). */
export const PTE_FILE = 1 << 2;

/** Low-word mask of PFN bits 19..0. */
export const PTE_LO_PFN_MASK = 0xfffff000;
/** High-word mask of PFN bits 39..20. */
export const PTE_HI_PFN_MASK = 0x000fffff;
/** Shift of the 4-bit protection key in the high word (bits 59..62 of the entry). */
export const PTE_HI_KEY_SHIFT = 27;
/** Mask of the protection key in the high word. */
export const PTE_HI_KEY_MASK = 0xf << PTE_HI_KEY_SHIFT;
/** Execute-disable, bit 63 of the entry. */
export const PTE_HI_XD = 0x80000000;

/** Number of bits a swap entry's offset has (lo 31..14 plus hi 26..0). */
export const SWAP_OFFSET_BITS = 45;
const SWAP_TYPE_SHIFT = 9;
const SWAP_TYPE_MASK = 0x1f;
const SWAP_OFFSET_LO_SHIFT = 14;
const SWAP_OFFSET_LO_BITS = 18;
const SWAP_OFFSET_HI_MASK = 0x07ffffff;

/** Entries per table at every level. */
export const ENTRIES_PER_TABLE = 512;

/** Page size in bytes. */
export const PAGE_SIZE = 4096;
/** log2(PAGE_SIZE). */
export const PAGE_SHIFT = 12;
/** Size of a PMD-level leaf (a 2 MiB page). */
export const HUGE_PAGE_SIZE = 2 * 1024 * 1024;

/**
 * Offset of `va` within its page. `va % 4096` on a double compiles to a slow library call
 * in V8; the low 32 bits (ToUint32 is exact modulo 2^32) give the same answer cheaply.
 */
export function pageOffset(va: number): number {
  return (va >>> 0) & (PAGE_SIZE - 1);
}

/** PFN of a present (or PROTNONE) entry. */
export function ptePfn(lo: number, hi: number): number {
  return (hi & PTE_HI_PFN_MASK) * 0x100000 + (lo >>> PAGE_SHIFT);
}

/** Low word holding `pfn` and the flag bits `flags`. */
export function pteLo(pfn: number, flags: number): number {
  return ((pfn % 0x100000) * PAGE_SIZE + (flags & 0xfff)) >>> 0;
}

/** High word holding `pfn`, `key` and XD. */
export function pteHi(pfn: number, key: number, xd: boolean): number {
  return ((Math.floor(pfn / 0x100000) & PTE_HI_PFN_MASK) | ((key & 0xf) << PTE_HI_KEY_SHIFT) | (xd ? PTE_HI_XD : 0)) >>> 0;
}

/** Protection key of an entry. */
export function pteKey(hi: number): number {
  return (hi & PTE_HI_KEY_MASK) >>> PTE_HI_KEY_SHIFT;
}

/** True for pte_none(): no translation and no software entry. */
export function pteNone(lo: number, hi: number): boolean {
  return lo === 0 && hi === 0;
}

/** True when the entry maps a frame, whether accessible (P) or kept under PROT_NONE. */
export function pteMapsFrame(lo: number): boolean {
  return (lo & (PTE_P | PTE_PROTNONE)) !== 0;
}

/** True for a swap entry. */
export function pteIsSwap(lo: number): boolean {
  return (lo & (PTE_P | PTE_PROTNONE | PTE_SWAP)) === PTE_SWAP;
}

/** Low word of a swap entry. */
export function swapPteLo(type: number, offset: number): number {
  const low = offset % (1 << SWAP_OFFSET_LO_BITS);
  return ((low << SWAP_OFFSET_LO_SHIFT) | ((type & SWAP_TYPE_MASK) << SWAP_TYPE_SHIFT) | PTE_SWAP) >>> 0;
}

/** High word of a swap entry. */
export function swapPteHi(offset: number): number {
  return Math.floor(offset / (1 << SWAP_OFFSET_LO_BITS)) & SWAP_OFFSET_HI_MASK;
}

/** Swap type of a swap entry. */
export function swapPteType(lo: number): number {
  return (lo >>> SWAP_TYPE_SHIFT) & SWAP_TYPE_MASK;
}

/** Swap offset (slot) of a swap entry. */
export function swapPteOffset(lo: number, hi: number): number {
  return (hi & SWAP_OFFSET_HI_MASK) * (1 << SWAP_OFFSET_LO_BITS) + (lo >>> SWAP_OFFSET_LO_SHIFT);
}

/**
 * File entries (nonlinear mappings, seed 001). A not-present entry that says which file
 * page belongs at its address, and — for VM_MANYPROTS mappings — with which protection:
 *
 *   lo: bit 0 P = 0, bit 1 SWAP = 0, bit 2 FILE = 1, bits 3..5 PROT_READ/WRITE/EXEC,
 *       bit 8 PROTNONE = 0, bits 12..31 offset bits 0..19
 *   hi: bits 0..19 offset bits 20..39 (where a frame number's high bits go)
 *
 * So a file page offset has {@link PTE_FILE_MAX_BITS} bits, and remap_file_pages()
 * refuses offsets that do not fit (EOVERFLOW). x86-64 Linux 2.6 kept the offset in bits
 * 12..51 the same way (pte_to_pgoff()); i386 squeezed 28 bits beside its flags, which is
 * why the series' review (seed 001) counted the bits it cost.
 */
export const PTE_FILE_MAX_BITS = 40;
const FILE_PROT_SHIFT = 3;

/** True for a file entry. */
export function pteIsFile(lo: number): boolean {
  return (lo & (PTE_P | PTE_PROTNONE | PTE_SWAP | PTE_FILE)) === PTE_FILE;
}

/** Low word of a file entry for file page `pgoff` with protection `prot` (PROT_* bits). */
export function filePteLo(pgoff: number, prot: number): number {
  return ((pgoff % 0x100000) * PAGE_SIZE + ((prot & 7) << FILE_PROT_SHIFT) + PTE_FILE) >>> 0;
}

/** High word of a file entry for file page `pgoff`. */
export function filePteHi(pgoff: number): number {
  return Math.floor(pgoff / 0x100000) & PTE_HI_PFN_MASK;
}

/** File page offset of a file entry. */
export function filePteOffset(lo: number, hi: number): number {
  return (hi & PTE_HI_PFN_MASK) * 0x100000 + (lo >>> PAGE_SHIFT);
}

/** Protection (PROT_* bits) kept in a file entry. */
export function filePteProt(lo: number): number {
  return (lo >>> FILE_PROT_SHIFT) & 7;
}

/** The rights a present entry grants as PROT_READ/WRITE/EXEC bits (1/2/4); 0 when not present. */
export function pteProt(lo: number, hi: number): number {
  if ((lo & PTE_P) === 0) return 0;
  return 1 | (lo & PTE_RW ? 2 : 0) | (hi & PTE_HI_XD ? 0 : 4);
}

/** A human-readable decoding of an entry, for snapshots and traces. */
export function describePte(lo: number, hi: number): string {
  if (pteNone(lo, hi)) return 'none';
  if (pteIsSwap(lo)) return `swap type=${swapPteType(lo)} offset=${swapPteOffset(lo, hi)}`;
  if (pteIsFile(lo)) {
    const prot = filePteProt(lo);
    return `file pgoff=0x${filePteOffset(lo, hi).toString(16)} prot=${prot & 1 ? 'r' : '-'}${prot & 2 ? 'w' : '-'}${prot & 4 ? 'x' : '-'}`;
  }
  if ((lo & (PTE_P | PTE_PROTNONE)) === 0) return `software 0x${hi.toString(16)}_${lo.toString(16).padStart(8, '0')}`;
  const bits: string[] = [];
  if (lo & PTE_P) bits.push('P');
  else bits.push('PROTNONE');
  if (lo & PTE_RW) bits.push('RW');
  if (lo & PTE_US) bits.push('US');
  if (lo & PTE_PWT) bits.push('PWT');
  if (lo & PTE_PCD) bits.push('PCD');
  if (lo & PTE_A) bits.push('A');
  if (lo & PTE_D) bits.push('D');
  if (lo & PTE_PS) bits.push('PS');
  if (lo & PTE_G && lo & PTE_P) bits.push('G');
  if (hi & PTE_HI_XD) bits.push('XD');
  const key = pteKey(hi);
  return `pfn=0x${ptePfn(lo, hi).toString(16)} ${bits.join(' ')}${key ? ` key=${key}` : ''}`;
}

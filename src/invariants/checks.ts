import { FRAME_ANON, FRAME_FILE, FRAME_FREE, FRAME_KERNEL, FRAME_PAGETABLE, FRAME_SWAPCACHE } from '../hw/physMem.js';
import { filePteProt, PTE_HI_XD, PTE_P, PTE_RW, PTE_US, pteIsFile, pteIsSwap, pteKey, pteMapsFrame, ptePfn, swapPteOffset } from '../hw/pte.js';
import { type Violation } from '../hw/violation.js';
import { PROT_EXEC, PROT_WRITE } from '../mm/abi.js';
import { VM_MANYPROTS, VM_NONLINEAR } from '../mm/vma.js';
import { type Kernel } from '../mm/kernel.js';
import { Pmap } from '../pmap/pmap.js';
import { forEachLeaf } from './walkAll.js';

const hex = (n: number): string => `0x${n.toString(16)}`;

/**
 * Address spaces not yet torn down, each once: a dead process's still counts while a
 * path in flight pins it, since its page tables still map what they map.
 */
function livePmaps(k: Kernel): Pmap[] {
  return [...k.mms].map((mm) => mm.pmap);
}

/**
 * no-excess-rights: every entry lies in a VMA and grants no more than it allows — user
 * bit set, writable only in a writable VMA and, when private, only on a page this address
 * space owns alone; executable only in an executable VMA; the VMA's key (FreeBSD: the
 * range set's key).
 */
export function checkNoExcessRights(k: Kernel): Violation[] {
  const out: Violation[] = [];
  const mem = k.hw.mem;
  for (const p of k.processes.values()) {
    if (!p.alive) continue;
    const mm = p.mm;
    forEachLeaf(mm.pmap, (va, slot) => {
      const lo = mm.pmap.lo(slot);
      const hi = mm.pmap.hi(slot);
      const vma = mm.vmaAt(va);
      if (!vma) {
        out.push({ id: 'no-excess-rights', message: `process ${p.pid} va ${hex(va)}: an entry outside every VMA` });
        return;
      }
      // Under VM_MANYPROTS each page has its own protection, within what the VMA may get (VM_MAY*).
      const allowed = vma.flags & VM_MANYPROTS ? vma.mayProt : vma.prot;
      if (pteIsFile(lo)) {
        if (!(vma.flags & VM_NONLINEAR)) out.push({ id: 'no-excess-rights', message: `process ${p.pid} va ${hex(va)}: a file entry in a linear VMA` });
        // The protection a file entry keeps counts only under VM_MANYPROTS.
        else if (vma.flags & VM_MANYPROTS && filePteProt(lo) & ~allowed) out.push({ id: 'no-excess-rights', message: `process ${p.pid} va ${hex(va)}: a file entry keeps rights the VMA may not have` });
        return;
      }
      if (!pteMapsFrame(lo)) return;
      if ((lo & PTE_P) !== 0) {
        if ((lo & PTE_US) === 0) out.push({ id: 'no-excess-rights', message: `process ${p.pid} va ${hex(va)}: a user page without the US bit` });
        if (lo & PTE_RW) {
          if (!(allowed & PROT_WRITE)) out.push({ id: 'no-excess-rights', message: `process ${p.pid} va ${hex(va)}: writable PTE in a ${vma.permString()} VMA` });
          else if (!vma.shared) {
            const pfn = ptePfn(lo, hi);
            if (pfn === k.zeroPfn || mem.mapcount[pfn] > 1) {
              out.push({ id: 'no-excess-rights', message: `process ${p.pid} va ${hex(va)}: writable PTE to frame ${pfn} mapped ${mem.mapcount[pfn]} times (COW broken)` });
            }
          }
        }
        if ((hi & PTE_HI_XD) === 0 && !(allowed & PROT_EXEC)) out.push({ id: 'no-excess-rights', message: `process ${p.pid} va ${hex(va)}: executable PTE in a ${vma.permString()} VMA` });
        // Linux keys live on the VMA; FreeBSD's in the pmap's range set (key 0 outside it).
        const ranges = mm.pmap.extension;
        const key = ranges ? ranges.keyAt(va) : vma.pkey;
        if (pteKey(hi) !== key) {
          out.push({ id: 'no-excess-rights', message: `process ${p.pid} va ${hex(va)}: PTE key ${pteKey(hi)} but the ${ranges ? "range set's" : "VMA's"} key is ${key}` });
        }
      }
    });
  }
  return out;
}

/**
 * no-stale-tlb: between kernel operations, every TLB entry of a live address space
 * names a live frame, matches its PTE's frame and key, and grants no right the PTE
 * (with the walk above it) does not.
 */
export function checkNoStaleTlb(k: Kernel): Violation[] {
  const out: Violation[] = [];
  const byId = new Map<number, Pmap>();
  for (const pm of livePmaps(k)) byId.set(pm.id, pm);
  const mem = k.hw.mem;
  const scratch = { slot: -1, level: 0, present: false, writable: false, user: false, executeDisable: false };
  for (const cpu of k.hw.cpus) {
    for (const e of cpu.tlb.entries()) {
      const where = `CPU ${cpu.id} TLB entry ${hex(e.va)} (pcid ${e.pcid ?? 'global'})`;
      if (mem.kind[e.pfn] === FRAME_FREE || mem.kind[e.pfn] === FRAME_PAGETABLE) {
        out.push({ id: 'no-stale-tlb', message: `${where} maps frame ${e.pfn}, which is ${mem.kind[e.pfn] === FRAME_FREE ? 'free' : 'a page table'}` });
        continue;
      }
      if (e.pcid === undefined) continue;
      const pm = byId.get(Pmap.pcidOwner(k.hw, cpu, e.pcid));
      // An entry of a dead address space is harmless once its PCID was flushed; its frame was checked above.
      if (!pm) continue;
      // The PCID now names another address space than the one the entry was filled for:
      // a CR3 switch reused the PCID without flushing it, and this CPU translates the new
      // owner's addresses with the old one's frames.
      if (e.cr3Table >= 0 && e.cr3Table !== pm.root) {
        out.push({ id: 'no-stale-tlb', message: `${where} was filled for the address space of table ${e.cr3Table}, but pcid ${e.pcid} now belongs to the one of table ${pm.root}` });
        continue;
      }
      const w = k.hw.mmu.peek(pm.root, e.va, scratch);
      if (!w.present) {
        out.push({ id: 'no-stale-tlb', message: `${where} maps frame ${e.pfn} but the page table has no present entry` });
        continue;
      }
      const lo = k.hw.tables.lo[w.slot];
      const hi = k.hw.tables.hi[w.slot];
      let pfn = ptePfn(lo, hi);
      if (w.level === 2 && !e.huge) pfn += ((e.va / 4096) >>> 0) & 511;
      const problems: string[] = [];
      if (pfn !== e.pfn) problems.push(`frame ${e.pfn} but the PTE says ${pfn}`);
      if (e.writable && !w.writable) problems.push('writable but the PTE is read-only');
      if (e.user && !w.user) problems.push('user-accessible but the PTE is supervisor-only');
      if (!e.executeDisable && w.executeDisable) problems.push('executable but the PTE has XD');
      if (e.key !== pteKey(hi)) problems.push(`key ${e.key} but the PTE has key ${pteKey(hi)}`);
      if (problems.length) out.push({ id: 'no-stale-tlb', message: `${where}: ${problems.join('; ')}` });
    }
  }
  return out;
}

/** no-wx: no supervisor leaf entry is writable and executable at once. */
export function checkNoWx(k: Kernel): Violation[] {
  const out: Violation[] = [];
  for (const pm of livePmaps(k)) {
    forEachLeaf(pm, (va, slot) => {
      const lo = pm.lo(slot);
      const hi = pm.hi(slot);
      if (lo & PTE_P && !(lo & PTE_US) && lo & PTE_RW && !(hi & PTE_HI_XD)) {
        out.push({ id: 'no-wx', message: `kernel va ${hex(va)} is writable and executable` });
      }
    });
  }
  return out;
}

/**
 * accounting: each frame's mapcount equals the entries that map it, its refcount equals
 * mapcount plus its page-cache and swap-cache references, each swap slot's count equals
 * the swap entries that name it, and nothing is held that nothing references.
 */
export function checkAccounting(k: Kernel): Violation[] {
  const out: Violation[] = [];
  const mem = k.hw.mem;
  // Frames above the high-water mark were never used: the check costs what the run used.
  const frames = mem.highWater;
  const maps = new Int32Array(frames);
  const swapRefs = new Int32Array(k.swap.highWater);
  for (const pm of livePmaps(k)) {
    forEachLeaf(pm, (_va, slot) => {
      const lo = pm.lo(slot);
      const hi = pm.hi(slot);
      if (pteIsSwap(lo)) {
        const slot = swapPteOffset(lo, hi);
        if (slot < swapRefs.length) swapRefs[slot]++;
        else out.push({ id: 'accounting', message: `a swap entry names slot ${slot}, which was never allocated` });
      }
      else if (pteMapsFrame(lo)) maps[ptePfn(lo, hi)]++;
    });
  }
  const inPageCache = new Uint8Array(frames);
  for (const f of k.allFiles()) for (const pfn of f.cache.values()) inPageCache[pfn] = 1;
  for (let pfn = 1; pfn < frames; pfn++) {
    const kind = mem.kind[pfn];
    if (kind === FRAME_FREE || kind === FRAME_PAGETABLE || kind === FRAME_KERNEL) {
      if (maps[pfn] > 0 && pfn !== k.zeroPfn) out.push({ id: 'accounting', message: `frame ${pfn} (${kind === FRAME_FREE ? 'free' : 'page table'}) is mapped by ${maps[pfn]} entries` });
      continue;
    }
    if (mem.mapcount[pfn] !== maps[pfn]) out.push({ id: 'accounting', message: `frame ${pfn}: mapcount ${mem.mapcount[pfn]} but ${maps[pfn]} entries map it` });
    const swapCached = kind === FRAME_ANON && (mem.flags[pfn] & FRAME_SWAPCACHE) !== 0;
    const expected = maps[pfn] + inPageCache[pfn] + (swapCached ? 1 : 0);
    if (mem.refcount[pfn] !== expected) out.push({ id: 'accounting', message: `frame ${pfn}: refcount ${mem.refcount[pfn]} but ${expected} references exist` });
    if (expected === 0) out.push({ id: 'accounting', message: `frame ${pfn} is allocated but nothing references it (leaked)` });
    if (kind === FRAME_FILE && !inPageCache[pfn]) out.push({ id: 'accounting', message: `file frame ${pfn} is not in any page cache` });
  }
  const sw = k.swap;
  for (let s = 1; s < sw.highWater; s++) {
    if (sw.refs[s] !== swapRefs[s]) out.push({ id: 'accounting', message: `swap slot ${s}: count ${sw.refs[s]} but ${swapRefs[s]} swap entries name it` });
    if (sw.isUsed(s) && swapRefs[s] === 0 && sw.cache[s] === -1) out.push({ id: 'accounting', message: `swap slot ${s} is in use but nothing names it (leaked)` });
    if (!sw.isUsed(s) && swapRefs[s] > 0) out.push({ id: 'accounting', message: `swap slot ${s} is free but ${swapRefs[s]} entries name it` });
  }
  return out;
}

/** Violations the hardware itself noticed (walks into freed tables, accesses PKRU should have stopped), drained. */
export function takeHardwareViolations(k: Kernel): Violation[] {
  const v = k.hw.mmu.violations.splice(0);
  return v;
}


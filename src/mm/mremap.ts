import { PAGE_SIZE } from '../hw/pte.js';
import { type KernelPath } from '../step/step.js';
import { MAP_FIXED, MAP_PRIVATE, MAP_SHARED, MREMAP_DONTUNMAP, MREMAP_FIXED, MREMAP_MAYMOVE, u64 } from './abi.js';
import { EFAULT, EINVAL, ENOMEM, ENOSYS, type Errno, isErrno, type SysResult } from './errno.js';
import { type Kernel } from './kernel.js';
import { type Mm, TASK_SIZE } from './mm.js';
import { getUnmappedArea, unmapWouldExceedLimit } from './mmap.js';
import { type Thread } from './process.js';
import { VM_MAYSHARE, VM_SHARED, type Vma } from './vma.js';
import { insertVma, mergeAround, splitVma, unmapRange } from './vmaOps.js';
import { pageAlignLen } from './sysArgs.js';

/** mremap(2) (Linux mm/mremap.c), with its checks in its order. */
export function* sysMremap(k: Kernel, t: Thread, addr: number, oldLen: number, newLen: number, flags: number, newAddr = 0): KernelPath<SysResult> {
  addr = u64(addr);
  // PAGE_ALIGN() of the caller's values: a new_len of -1 wraps to 0, which is EINVAL.
  const rawOld = oldLen;
  const rawNew = newLen;
  oldLen = u64(oldLen);
  newLen = u64(newLen);
  newAddr = u64(newAddr);
  // mremap(2) is Linux's own; FreeBSD has no such system call.
  if (k.freebsd) return ENOSYS;
  if (flags & ~(MREMAP_FIXED | MREMAP_MAYMOVE | MREMAP_DONTUNMAP)) return EINVAL;
  if (flags & MREMAP_FIXED && !(flags & MREMAP_MAYMOVE)) return EINVAL;
  if (flags & MREMAP_DONTUNMAP && (!(flags & MREMAP_MAYMOVE) || oldLen !== newLen)) return EINVAL;
  if (addr % PAGE_SIZE !== 0) return EINVAL;
  oldLen = pageAlignLen(rawOld);
  newLen = pageAlignLen(rawNew);
  if (newLen === 0) return EINVAL;
  const mm = t.process.mm;
  const ctx = t.ctx;
  yield* mm.mmapLock.write(ctx);
  try {
    const vma = mm.vmaAt(addr);
    if (!vma) return EFAULT;
    if (flags & (MREMAP_FIXED | MREMAP_DONTUNMAP)) {
      return yield* mremapTo(k, t, addr, oldLen, newAddr, newLen, flags);
    }
    if (oldLen >= newLen) {
      // Always allow a shrinking remap (but do_vmi_munmap() still guards max_map_count).
      if (oldLen > newLen) {
        if (unmapWouldExceedLimit(k, mm, addr + newLen, addr + oldLen)) return ENOMEM;
        yield* unmapRange(k, ctx, t.cpu, mm, addr + newLen, addr + oldLen);
      }
      return addr;
    }
    const checked = vmaToResize(mm, addr, oldLen);
    if (isErrno(checked)) return checked;
    if (oldLen === checked.end - addr) {
      // vma_expandable(): grow in place when the space above is free.
      const next = checked.nextSpan;
      const newEnd = addr + newLen;
      if (newEnd <= TASK_SIZE && (!next || next.start >= newEnd)) {
        checked.end = newEnd;
        mm.vmas.adjusted(checked);
        mergeAround(mm, checked);
        return addr;
      }
    }
    if (!(flags & MREMAP_MAYMOVE)) return ENOMEM;
    const where = getUnmappedArea(mm, 0, newLen, checked.shared ? MAP_SHARED : MAP_PRIVATE);
    if (isErrno(where)) return where;
    return yield* moveVma(k, t, checked, addr, oldLen, where, newLen, false);
  } finally {
    mm.mmapLock.writeUnlock(ctx.tid);
  }
}

/** vma_to_resize(): the VMA must hold the whole old range; a zero old length only duplicates shared mappings. */
function vmaToResize(mm: Mm, addr: number, oldLen: number): Vma | Errno {
  const vma = mm.vmaAt(addr);
  if (!vma) return EFAULT;
  if (oldLen === 0 && !(vma.flags & (VM_SHARED | VM_MAYSHARE))) return EINVAL;
  if (oldLen > vma.end - addr) return EFAULT;
  return vma;
}

function* mremapTo(k: Kernel, t: Thread, addr: number, oldLen: number, newAddr: number, newLen: number, flags: number): KernelPath<SysResult> {
  const mm = t.process.mm;
  if (newAddr % PAGE_SIZE !== 0) return EINVAL;
  if (newLen > TASK_SIZE || newAddr > TASK_SIZE - newLen) return EINVAL;
  if (addr + oldLen > newAddr && newAddr + newLen > addr) return EINVAL;
  if (mm.mapCount + 2 >= k.config.maxMapCount - 3) return ENOMEM;
  if (flags & MREMAP_FIXED) yield* unmapRange(k, t.ctx, t.cpu, mm, newAddr, newAddr + newLen);
  if (oldLen > newLen) {
    yield* unmapRange(k, t.ctx, t.cpu, mm, addr + newLen, addr + oldLen);
    oldLen = newLen;
  }
  const vma = vmaToResize(mm, addr, oldLen);
  if (isErrno(vma)) return vma;
  const where = getUnmappedArea(mm, newAddr, newLen, flags & MREMAP_FIXED ? MAP_FIXED : 0);
  if (isErrno(where)) return where;
  return yield* moveVma(k, t, vma, addr, oldLen, where, newLen, (flags & MREMAP_DONTUNMAP) !== 0);
}

/**
 * move_vma(): a new VMA at `to` with the old one's pgoff (so anonymous pages keep their
 * index), the page-table entries moved rather than copied, the old range flushed and
 * then unmapped (or kept empty with MREMAP_DONTUNMAP).
 */
function* moveVma(k: Kernel, t: Thread, vma: Vma, from: number, oldLen: number, to: number, newLen: number, dontUnmap: boolean): KernelPath<SysResult> {
  const mm = t.process.mm;
  if (mm.mapCount >= k.config.maxMapCount - 3) return ENOMEM;
  let src = vma;
  // old_len 0 duplicates a shared mapping: nothing is split, moved or unmapped.
  if (oldLen > 0) {
    if (src.start < from) src = splitVma(mm, src, from);
    if (src.end > from + oldLen) splitVma(mm, src, from + oldLen);
  }
  const moved = src.cloneRange(from, from + oldLen);
  moved.start = to;
  moved.end = to + newLen;
  const pmap = mm.pmap;
  let anyPresent = false;
  for (let off = 0; off < oldLen; off += PAGE_SIZE) {
    const s = pmap.pteSlot(from + off);
    if (s < 0) continue;
    const lo = pmap.lo(s);
    const hi = pmap.hi(s);
    if (lo === 0 && hi === 0) continue;
    const d = pmap.ensurePteSlot(to + off);
    if (d < 0) return ENOMEM;
    // Allocating a table may have run reclaim, which can have swapped this entry out
    // meanwhile: move what is there now.
    const nowLo = pmap.lo(s);
    const nowHi = pmap.hi(s);
    pmap.setPte(s, 0, 0);
    pmap.setPte(d, nowLo, nowHi);
    if (nowLo & 1) anyPresent = true;
    if (t.ctx.preemptible) yield t.ctx.at('pte-write', `move pte 0x${(from + off).toString(16)} -> 0x${(to + off).toString(16)}`, from + off);
  }
  if (anyPresent) pmap.flushRange(t.cpu, from, from + oldLen);
  insertVma(mm, moved);
  mergeAround(mm, moved);
  if (!dontUnmap && oldLen > 0) {
    // The entries are gone already; this drops the VMA and any page tables left empty.
    yield* unmapRange(k, t.ctx, t.cpu, mm, from, from + oldLen);
  }
  return to;
}

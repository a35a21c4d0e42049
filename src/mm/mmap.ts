import { type KernelPath } from '../step/step.js';
import {
  LEGACY_MAP_MASK,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_FIXED_NOREPLACE,
  MAP_GROWSDOWN,
  MAP_HUGETLB,
  MAP_LOCKED,
  MAP_NONBLOCK,
  MAP_POPULATE,
  MAP_PRIVATE,
  MAP_SHARED,
  MAP_SHARED_VALIDATE,
  MAP_TYPE,
  PROT_EXEC,
  PROT_READ,
  PROT_WRITE,
  u64,
} from './abi.js';
import { EACCES, EBADF, EEXIST, EINVAL, ENOMEM, EOVERFLOW, EPERM, errno, isErrno, type SysResult } from './errno.js';
import { handleMmFault, pkruPermits, retractFaultSignal } from './fault.js';
import { File, type OpenFile } from './file.js';
import { type Kernel } from './kernel.js';
import { MMAP_BASE, MMAP_MIN_ADDR, type Mm, TASK_SIZE, TASK_UNMAPPED_BASE } from './mm.js';
import { executeOnlyPkey } from './pkeys.js';
import { type Thread } from './process.js';
import { VM_GROWSDOWN, VM_LOCKED, VM_MAYEXEC, VM_MAYREAD, VM_MAYSHARE, VM_MAYWRITE, VM_SHARED, Vma } from './vma.js';
import { insertVma, mergeAround, unmapRange } from './vmaOps.js';
import { fileMmapOk, pageAlignLen, pageAligned } from './sysArgs.js';

const PAGE = 4096;

/**
 * Linux __get_unmapped_area() with the x86-64 top-down allocator
 * (arch_get_unmapped_area_topdown()): a length above TASK_SIZE is ENOMEM; MAP_FIXED takes
 * the address as given; a free, in-range hint is honoured; otherwise the highest gap below
 * mmap_base, falling back to a bottom-up search from TASK_UNMAPPED_BASE. Then, for every
 * result, the range must end by TASK_SIZE (ENOMEM), be page aligned (EINVAL) and pass
 * security_mmap_addr() (EPERM below vm.mmap_min_addr). So MAP_FIXED at 0x1000 with a length
 * of TASK_SIZE - 0x1000 is EPERM: x86-64 has no `len > TASK_SIZE - mmap_min_addr` check
 * (that one is in the generic allocator, which x86 does not use).
 */
export function getUnmappedArea(mm: Mm, addr: number, len: number, flags: number): SysResult {
  if (len > TASK_SIZE) return ENOMEM;
  if (flags & MAP_FIXED) {
    if (addr > TASK_SIZE - len) return ENOMEM;
    if (addr % PAGE !== 0) return EINVAL;
    // security_mmap_addr(): below vm.mmap_min_addr needs CAP_SYS_RAWIO, which a modelled process lacks.
    if (addr < MMAP_MIN_ADDR) return EPERM;
    return addr;
  }
  // The search below can place nothing longer than the space above mmap_min_addr.
  if (len > TASK_SIZE - MMAP_MIN_ADDR) return ENOMEM;
  if (addr) {
    // x86-64 arch_get_unmapped_area_topdown() rounds the hint down (addr &= PAGE_MASK).
    const hint = addr - (addr % PAGE);
    if (TASK_SIZE - len >= hint && hint >= MMAP_MIN_ADDR) {
      const next = mm.findVma(hint);
      if (!next || hint + len <= next.start) return hint;
    }
  }
  let a = mm.vmas.findGapTopDown(MMAP_MIN_ADDR, MMAP_BASE, len);
  if (a < 0) a = mm.vmas.findGapBottomUp(TASK_UNMAPPED_BASE, TASK_SIZE, len);
  return a < 0 ? ENOMEM : a;
}

/** Linux round_hint_to_min(): a hint is rounded down; one below mmap_min_addr is raised to it; page 0 means no hint. */
function roundHintToMin(hint: number): number {
  hint -= hint % PAGE;
  return hint !== 0 && hint < MMAP_MIN_ADDR ? MMAP_MIN_ADDR : hint;
}

/**
 * mmap(2) (Linux do_mmap() and mmap_region()), with Linux's checks in Linux's order.
 * `fd` is ignored for MAP_ANONYMOUS. Runs under mmap_lock for writing.
 */
export function* sysMmap(k: Kernel, t: Thread, addr: number, len: number, prot: number, flags: number, fd: number, offset: number): KernelPath<SysResult> {
  addr = u64(addr);
  const rawLen = len;
  len = u64(len);
  // arch/x86/kernel/sys_x86_64.c: the offset must be page aligned (checked on the caller's
  // value: -1 is 0xfff…f, unaligned, though u64(-1) rounds to 2^64 in a double).
  if (!pageAligned(offset)) return EINVAL;
  offset = u64(offset);
  const anon = (flags & MAP_ANONYMOUS) !== 0;
  const open = anon ? undefined : t.process.fds.get(fd);
  if (!anon && !open) return EBADF;
  // ksys_mmap_pgoff(): MAP_HUGETLB needs a hugetlbfs file, or, for anonymous memory, reserved
  // huge pages — mmsim's machines have none (vm.nr_hugepages = 0), which Linux reports as ENOMEM.
  if (flags & MAP_HUGETLB) return anon ? ENOMEM : EINVAL;
  if (len === 0) return EINVAL;
  // do_mmap(): NOREPLACE forces MAP_FIXED handling before the hint is rounded.
  if (flags & MAP_FIXED_NOREPLACE) flags |= MAP_FIXED;
  if (!(flags & MAP_FIXED)) addr = roundHintToMin(addr);
  // PAGE_ALIGN(len) wraps to 0 for the last page below 2^64: ENOMEM.
  len = pageAlignLen(rawLen);
  if (len === 0 || len > Number.MAX_SAFE_INTEGER - PAGE) return ENOMEM;
  // do_mmap()'s "offset overflow?" check, (pgoff + pages) < pgoff in 64 bits, cannot fire on
  // x86-64: pgoff is below 2^52 and pages below 2^36. So an anonymous mapping at offset
  // -4096 succeeds (its pgoff is replaced below); a file's is limited by file_mmap_ok().
  const pgoff = offset / PAGE;
  const mm = t.process.mm;
  yield* mm.mmapLock.write(t.ctx);
  try {
    return yield* doMmapLocked(k, t, open ?? null, addr, len, prot, flags, pgoff);
  } finally {
    mm.mmapLock.writeUnlock(t.ctx.tid);
  }
}

/**
 * do_mmap() and mmap_region() with mmap_lock held for writing: the checks that need the
 * address space, placement, the MAP_FIXED unmap, the new VMA and MAP_POPULATE. `open` is
 * the file description mapped (null for anonymous memory); `len` is page aligned.
 */
export function* doMmapLocked(k: Kernel, t: Thread, open: OpenFile | null, addr: number, len: number, prot: number, flags: number, pgoff: number): KernelPath<SysResult> {
  const mm = t.process.mm;
  const ctx = t.ctx;
  if (mm.mapCount > k.config.maxMapCount) return ENOMEM;
  const where = getUnmappedArea(mm, addr, len, flags);
  if (isErrno(where)) return where;
  if (flags & MAP_FIXED_NOREPLACE) {
    const v = mm.findVma(where);
    if (v && v.start < where + len) return EEXIST;
  }
  let vmFlags = VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC;
  if (flags & MAP_GROWSDOWN) vmFlags |= VM_GROWSDOWN;
  if (flags & MAP_LOCKED) vmFlags |= VM_LOCKED;
  let file: File | null = null;
  const type = flags & MAP_TYPE;
  if (open) {
    file = open.file;
    // do_mmap(): file_mmap_ok() against MAX_LFS_FILESIZE, before the type is looked at.
    if (!fileMmapOk(pgoff, len)) return EOVERFLOW;
    if (type === MAP_SHARED || type === MAP_SHARED_VALIDATE) {
      // MAP_SHARED_VALIDATE rejects unknown flags, and MAP_SYNC on a file without DAX (all of mmsim's).
      if (type === MAP_SHARED_VALIDATE && flags & ~(LEGACY_MAP_MASK | MAP_FIXED_NOREPLACE)) return errno('EOPNOTSUPP');
      if (prot & PROT_WRITE && !open.canWrite) return EACCES;
      vmFlags |= VM_SHARED | VM_MAYSHARE;
      if (!open.canWrite) vmFlags &= ~(VM_MAYWRITE | VM_SHARED);
    } else if (type !== MAP_PRIVATE) {
      return EINVAL;
    }
    if (!open.canRead) return EACCES;
    // do_mmap(): a file on a noexec mount cannot be mapped executable, nor made so later.
    if (file.noexec) {
      if (prot & PROT_EXEC) return EPERM;
      vmFlags &= ~VM_MAYEXEC;
    }
    // do_mmap(): a file mapping cannot grow down.
    if (vmFlags & VM_GROWSDOWN) return EINVAL;
  } else {
    // Anonymous memory knows MAP_SHARED and MAP_PRIVATE only: MAP_SHARED_VALIDATE is EINVAL here.
    if (type === MAP_SHARED) {
      if (vmFlags & VM_GROWSDOWN) return EINVAL;
      vmFlags |= VM_SHARED | VM_MAYSHARE;
      // Shared anonymous memory is a shmem object of its own (Linux shmem_zero_setup()).
      file = new File('/dev/zero (deleted)', len, k.newInode(), true);
      k.addShmem(file);
      pgoff = 0;
    } else if (type === MAP_PRIVATE) {
      pgoff = where / PAGE;
    } else {
      return EINVAL;
    }
  }
  // mmap_region(): MAP_FIXED replaces whatever was there.
  if (flags & MAP_FIXED) {
    const over = mm.findVma(where);
    if (over && over.start < where + len) {
        if (unmapWouldExceedLimit(k, mm, where, where + len)) return ENOMEM;
      yield* unmapRange(k, ctx, t.cpu, mm, where, where + len);
    }
  }
  const vma = Vma.make(mm, where, where + len, prot & (PROT_READ | PROT_WRITE | PROT_EXEC), vmFlags, file, pgoff);
  // do_mmap(): exactly PROT_EXEC gets the execute-only key when the CPU has PKU.
  if (prot === PROT_EXEC) vma.pkey = Math.max(0, executeOnlyPkey(k, t));
  insertVma(mm, vma);
  const merged = mergeAround(mm, vma);
  if (ctx.preemptible) yield ctx.at('vma', `mmap 0x${where.toString(16)}-0x${(where + len).toString(16)}`, where);
  // do_mmap(): MAP_NONBLOCK turns MAP_POPULATE off; mlock populates regardless.
  if ((flags & (MAP_POPULATE | MAP_NONBLOCK)) === MAP_POPULATE || vmFlags & VM_LOCKED) {
    yield* populate(k, t, merged, where, where + len);
  }
  return where;
}

/** mm_populate(): faults every page in, for writing when the mapping is writable. */
function* populate(k: Kernel, t: Thread, vma: Vma, start: number, end: number): KernelPath<void> {
  if ((vma.prot & (PROT_READ | PROT_WRITE | PROT_EXEC)) === 0) return;
  // Linux populate_vma_page_range(): write faults only to break COW in private writable mappings.
  const write = (vma.prot & PROT_WRITE) !== 0 && !vma.shared;
  // Linux populates through GUP: __get_user_pages() → check_vma_flags() →
  // arch_vma_access_permitted() refuses a VMA whose key the caller's PKRU denies (a data
  // access, so an execute-only key is denied too); populate_vma_page_range() returns
  // -EFAULT, which __mm_populate() ignores: the mmap succeeds with nothing populated.
  // FreeBSD's prefault (vm_map_pmap_enter()) knows no PKRU: pmap_enter() gives each page
  // its range's key, and only the later access meets PKRU (inference).
  if (k.keysOnVma && t.cpu.pke && !pkruPermits(t.cpu.pkru, vma.pkey, write)) return;
  for (let a = start; a < end; a += PAGE) {
    // __get_user_pages() stops at a fatal signal: a killed process populates no further.
    if (!t.alive) return;
    const out = yield* handleMmFault(k, t, vma, a, write, write ? 2 : 0);
    // A SIGBUS past the end of a file stops population silently, as in Linux.
    if (out !== null) {
      retractFaultSignal(t, out);
      return;
    }
  }
}

/** do_vmi_align_munmap(): punching a hole inside one VMA adds one; Linux refuses that at max_map_count. */
export function unmapWouldExceedLimit(k: Kernel, mm: Mm, start: number, end: number): boolean {
  const first = mm.findVma(start);
  return first !== undefined && first.start < start && first.end > end && mm.mapCount >= k.config.maxMapCount;
}

/** munmap(2) (Linux __vm_munmap() / do_vmi_munmap()). */
export function* sysMunmap(k: Kernel, t: Thread, start: number, len: number): KernelPath<SysResult> {
  start = u64(start);
  const rawLen = len;
  len = u64(len);
  if (start % PAGE !== 0 || start > TASK_SIZE || len > TASK_SIZE - start) return EINVAL;
  const end = start + pageAlignLen(rawLen);
  if (end === start) return EINVAL;
  const mm = t.process.mm;
  const ctx = t.ctx;
  yield* mm.mmapLock.write(ctx);
  try {
    if (unmapWouldExceedLimit(k, mm, start, end)) return ENOMEM;
    yield* unmapRange(k, ctx, t.cpu, mm, start, end);
    return 0;
  } finally {
    mm.mmapLock.writeUnlock(ctx.tid);
  }
}

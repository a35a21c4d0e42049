/**
 * mmap(2) behaviour against Linux (mm/mmap.c do_mmap(), arch/x86/kernel/sys_x86_64.c):
 * placement, MAP_FIXED and MAP_FIXED_NOREPLACE, every errno in Linux's order of checks,
 * the max_map_count limit, MAP_POPULATE, and VMA merging as /proc/pid/maps shows it.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_FIXED_NOREPLACE,
  MAP_GROWSDOWN,
  MAP_HUGETLB,
  MAP_NONBLOCK,
  MAP_POPULATE,
  MAP_PRIVATE,
  MAP_SHARED,
  MAP_SHARED_VALIDATE,
  MAP_SYNC,
  O_RDONLY,
  O_RDWR,
  O_WRONLY,
  PROT_NONE,
  PROT_READ,
  PROT_WRITE,
  errno,
  isErrno,
  isSignal,
  type ProcessHandle,
} from '../../src/index.js';
import { PAGE, RW, ANON, map, setup as setupWith, vmas, type Setup } from './_helpers.js';

/** mmap_base without randomisation: TASK_SIZE minus the 128 MiB stack gap. */
const MMAP_BASE = 0x7ffff7fff000;
/** TASK_SIZE of x86-64 with 4-level paging. */
const TASK_SIZE = 0x7ffffffff000;

/** A 2-CPU machine with one process. */
const setup = (extra: { maxMapCount?: number } = {}): Setup => setupWith({ cpus: 2, ...extra });

function mapsLines(p: ProcessHandle): string[] {
  return p.maps().split('\n').filter((l) => l.length > 0);
}

describe('mmap: placement', () => {
  it('puts the first anonymous mapping right below mmap_base', () => {
    const { t } = setup();
    const a = map(t, 0, 24 * PAGE, PROT_READ, ANON);
    assert.equal(a, MMAP_BASE - 24 * PAGE);
  });

  it('allocates top-down: each new mapping goes directly below the previous one', () => {
    const { t, p } = setup();
    const a = map(t, 0, 4 * PAGE, PROT_READ, ANON);
    const b = map(t, 0, 2 * PAGE, RW, ANON);
    const c = map(t, 0, 3 * PAGE, PROT_READ, ANON);
    assert.equal(b, a - 2 * PAGE);
    assert.equal(c, b - 3 * PAGE);
    assert.deepEqual(vmas(p), [
      [c, b, 'r--p'],
      [b, a, 'rw-p'],
      [a, a + 4 * PAGE, 'r--p'],
    ]);
  });

  it('reuses the highest hole that fits after an unmap', () => {
    const { t } = setup();
    const a = map(t, 0, 8 * PAGE, PROT_READ, ANON);
    assert.equal(t.munmap(a + 2 * PAGE, 3 * PAGE), 0);
    // A 2-page request fits in the 3-page hole, at its top.
    const b = map(t, 0, 2 * PAGE, RW, ANON);
    assert.equal(b, a + 3 * PAGE);
    // A 4-page request does not: it goes below everything.
    const c = map(t, 0, 4 * PAGE, RW, ANON);
    assert.equal(c, a - 4 * PAGE);
  });

  it('honours a hint when the range is free', () => {
    const { t, p } = setup();
    const a = map(t, 0x10000000, 3 * PAGE, RW, ANON);
    assert.equal(a, 0x10000000);
    assert.deepEqual(vmas(p), [[0x10000000, 0x10003000, 'rw-p']]);
  });

  it('ignores a hint that overlaps a mapping and allocates top-down instead', () => {
    const { t } = setup();
    const a = map(t, 0x10000000, 3 * PAGE, RW, ANON);
    const b = map(t, 0x10001000, 2 * PAGE, PROT_READ, ANON);
    assert.equal(b, MMAP_BASE - 2 * PAGE);
    assert.equal(a, 0x10000000);
  });

  it('rounds an unaligned hint down to its page, as x86-64 does', () => {
    // Fixed: Linux round_hint_to_min() and arch_get_unmapped_area_topdown() both mask the hint with PAGE_MASK.
    const { t } = setup();
    const a = map(t, 0x20000800, PAGE, RW, ANON);
    assert.equal(a, 0x20000000);
  });

  it('raises a non-null hint below mmap_min_addr to mmap_min_addr', () => {
    const { t } = setup();
    assert.equal(map(t, 0x8000, PAGE, RW, ANON), 0x10000);
  });

  it('treats a hint inside page 0 as no hint at all', () => {
    // Fixed: Linux round_hint_to_min() masks the hint first, so 0x800 becomes NULL and the top-down search runs.
    const { t } = setup();
    assert.equal(map(t, 0x800, PAGE, RW, ANON), MMAP_BASE - PAGE);
  });
});

describe('mmap: MAP_FIXED and MAP_FIXED_NOREPLACE', () => {
  it('MAP_FIXED replaces an existing mapping and its contents', () => {
    const { t, p } = setup();
    const a = map(t, 0, 4 * PAGE, RW, ANON);
    for (let i = 0; i < 4; i++) assert.equal(t.store(a + i * PAGE, 0x10 + i), null);
    const b = map(t, a + PAGE, 2 * PAGE, PROT_READ, ANON | MAP_FIXED);
    assert.equal(b, a + PAGE);
    assert.equal(t.load(a), 0x10);
    assert.equal(t.load(a + PAGE), 0);
    assert.equal(t.load(a + 2 * PAGE), 0);
    assert.equal(t.load(a + 3 * PAGE), 0x13);
    assert.deepEqual(vmas(p), [
      [a, a + PAGE, 'rw-p'],
      [a + PAGE, a + 3 * PAGE, 'r--p'],
      [a + 3 * PAGE, a + 4 * PAGE, 'rw-p'],
    ]);
    // The replaced frames were freed, not leaked (the invariants checked the accounting).
    assert.equal(p.resident, 4);
  });

  it('MAP_FIXED with the same protection merges back into one VMA with zeroed pages', () => {
    const { t, p } = setup();
    const a = map(t, 0, 4 * PAGE, RW, ANON);
    for (let i = 0; i < 4; i++) t.store(a + i * PAGE + 5, 0x40 + i);
    map(t, a + PAGE, PAGE, RW, ANON | MAP_FIXED);
    assert.equal(mapsLines(p).length, 1);
    assert.equal(t.load(a + 5), 0x40);
    assert.equal(t.load(a + PAGE + 5), 0);
    assert.equal(t.load(a + 2 * PAGE + 5), 0x42);
  });

  it('MAP_FIXED over swapped-out pages releases their swap slots', () => {
    const { m, t, p } = setup();
    const a = map(t, 0, 4 * PAGE, RW, ANON);
    for (let i = 0; i < 4; i++) t.store(a + i * PAGE, 0x50 + i);
    p.swapOut(a, a + 3 * PAGE);
    assert.equal(m.counters().machine.swapUsed, 3);
    map(t, a, 4 * PAGE, RW, ANON | MAP_FIXED);
    assert.equal(m.counters().machine.swapUsed, 0);
    for (let i = 0; i < 4; i++) assert.equal(t.load(a + i * PAGE), 0);
  });

  it('MAP_FIXED_NOREPLACE fails with EEXIST on any overlap and leaves the mapping alone', () => {
    const { t, p } = setup();
    const a = map(t, 0, 4 * PAGE, RW, ANON);
    t.store(a + 3 * PAGE, 0x77);
    const before = p.maps();
    assert.equal(t.mmap(a + 3 * PAGE, 2 * PAGE, RW, ANON | MAP_FIXED_NOREPLACE), errno('EEXIST'));
    assert.equal(t.mmap(a - PAGE, 2 * PAGE, RW, ANON | MAP_FIXED_NOREPLACE), errno('EEXIST'));
    assert.equal(t.mmap(a - PAGE, 6 * PAGE, RW, ANON | MAP_FIXED_NOREPLACE), errno('EEXIST'));
    assert.equal(p.maps(), before);
    assert.equal(t.load(a + 3 * PAGE), 0x77);
  });

  it('MAP_FIXED_NOREPLACE maps exactly there when the range is free', () => {
    const { t } = setup();
    const a = map(t, 0, 4 * PAGE, RW, ANON);
    assert.equal(t.mmap(a + 4 * PAGE, PAGE, RW, ANON | MAP_FIXED_NOREPLACE), a + 4 * PAGE);
    assert.equal(t.mmap(0x30000000, PAGE, RW, ANON | MAP_FIXED_NOREPLACE), 0x30000000);
  });

  it('MAP_FIXED_NOREPLACE below mmap_min_addr is EPERM like MAP_FIXED', () => {
    // Fixed: Linux do_mmap() makes MAP_FIXED_NOREPLACE MAP_FIXED before any rounding, so 0x1000 stays and is EPERM.
    const { t, p } = setup();
    assert.equal(t.mmap(0x1000, PAGE, RW, ANON | MAP_FIXED_NOREPLACE), errno('EPERM'));
    assert.equal(p.mapCount, 0);
  });
});

describe('mmap: errors', () => {
  it('len 0 is EINVAL', () => {
    const { t } = setup();
    assert.equal(t.mmap(0, 0, RW, ANON), errno('EINVAL'));
  });

  it('an unaligned offset is EINVAL', () => {
    const { m, t } = setup();
    m.createFile('/f', 3 * PAGE);
    const fd = t.open('/f', O_RDWR) as number;
    assert.equal(t.mmap(0, PAGE, PROT_READ, MAP_SHARED, fd, 100), errno('EINVAL'));
    assert.equal(t.mmap(0, PAGE, PROT_READ, ANON, -1, 2048), errno('EINVAL'));
  });

  it('neither MAP_SHARED nor MAP_PRIVATE is EINVAL, for anonymous and file mappings', () => {
    const { m, t } = setup();
    m.createFile('/f', 3 * PAGE);
    const fd = t.open('/f', O_RDWR) as number;
    assert.equal(t.mmap(0, PAGE, RW, MAP_ANONYMOUS), errno('EINVAL'));
    assert.equal(t.mmap(0, PAGE, RW, 0, fd), errno('EINVAL'));
  });

  it('a bad file descriptor is EBADF', () => {
    const { t } = setup();
    assert.equal(t.mmap(0, PAGE, PROT_READ, MAP_SHARED, 42), errno('EBADF'));
    assert.equal(t.mmap(0, PAGE, PROT_READ, MAP_PRIVATE, -1), errno('EBADF'));
  });

  it('MAP_FIXED at an unaligned address is EINVAL', () => {
    const { t } = setup();
    assert.equal(t.mmap(0x10000800, PAGE, RW, ANON | MAP_FIXED), errno('EINVAL'));
  });

  it('MAP_FIXED below mmap_min_addr is EPERM', () => {
    const { t, p } = setup();
    assert.equal(t.mmap(0x1000, PAGE, RW, ANON | MAP_FIXED), errno('EPERM'));
    assert.equal(t.mmap(0, PAGE, RW, ANON | MAP_FIXED), errno('EPERM'));
    assert.equal(t.mmap(0xf000, 2 * PAGE, RW, ANON | MAP_FIXED), errno('EPERM'));
    assert.equal(p.mapCount, 0);
    assert.equal(t.mmap(0x10000, PAGE, RW, ANON | MAP_FIXED), 0x10000);
  });

  it('MAP_FIXED past TASK_SIZE and oversized lengths are ENOMEM', () => {
    const { t } = setup();
    assert.equal(t.mmap(TASK_SIZE, PAGE, RW, ANON | MAP_FIXED), errno('ENOMEM'));
    assert.equal(t.mmap(TASK_SIZE - PAGE, 2 * PAGE, RW, ANON | MAP_FIXED), errno('ENOMEM'));
    assert.equal(t.mmap(0, TASK_SIZE + PAGE, RW, ANON), errno('ENOMEM'));
    assert.equal(t.mmap(TASK_SIZE - PAGE, PAGE, RW, ANON | MAP_FIXED), TASK_SIZE - PAGE);
  });

  it('MAP_SHARED + PROT_WRITE on an O_RDONLY descriptor is EACCES; read-only and private mappings are fine', () => {
    const { m, t, p } = setup();
    m.createFile('/ro', 2 * PAGE);
    const fd = t.open('/ro', O_RDONLY) as number;
    assert.equal(t.mmap(0, PAGE, RW, MAP_SHARED, fd), errno('EACCES'));
    assert.equal(t.mmap(0, PAGE, PROT_WRITE, MAP_SHARED, fd), errno('EACCES'));
    assert.equal(p.mapCount, 0);
    const ro = map(t, 0, PAGE, PROT_READ, MAP_SHARED, fd);
    const priv = map(t, 0, PAGE, RW, MAP_PRIVATE, fd);
    // A private writable mapping of a read-only file is COW: the write stays private.
    assert.equal(t.store(priv, 0x5a), null);
    assert.equal(t.load(ro), 0);
    // A shared mapping of an O_RDONLY file loses VM_SHARED and VM_MAYWRITE but keeps
    // VM_MAYSHARE, so /proc/pid/maps still shows 's'.
    assert.match(mapsLines(p).find((l) => l.startsWith(ro.toString(16))) ?? '', / r--s /);
  });

  it('any mapping of an O_WRONLY descriptor is EACCES', () => {
    const { m, t } = setup();
    m.createFile('/wo', 2 * PAGE);
    const fd = t.open('/wo', O_WRONLY) as number;
    assert.equal(t.mmap(0, PAGE, PROT_READ, MAP_PRIVATE, fd), errno('EACCES'));
    assert.equal(t.mmap(0, PAGE, PROT_WRITE, MAP_SHARED, fd), errno('EACCES'));
  });

  it('MAP_GROWSDOWN is EINVAL for file mappings and shared anonymous memory', () => {
    // Linux do_mmap(): `if (vm_flags & (VM_GROWSDOWN|VM_GROWSUP)) return -EINVAL;` in the
    // file case and in the anonymous MAP_SHARED case; private anonymous memory may grow down.
    const { m, t } = setup();
    m.createFile('/f', 2 * PAGE);
    const fd = t.open('/f', O_RDWR) as number;
    assert.equal(t.mmap(0, PAGE, RW, MAP_PRIVATE | MAP_GROWSDOWN, fd), errno('EINVAL'));
    assert.equal(t.mmap(0, PAGE, RW, MAP_SHARED | MAP_GROWSDOWN, fd), errno('EINVAL'));
    assert.equal(t.mmap(0, PAGE, RW, MAP_SHARED | MAP_ANONYMOUS | MAP_GROWSDOWN), errno('EINVAL'));
    assert.equal(typeof t.mmap(0, PAGE, RW, ANON | MAP_GROWSDOWN), 'number');
  });

  it('MAP_HUGETLB on a file that is not on hugetlbfs is EINVAL, before the length check', () => {
    // Linux ksys_mmap_pgoff(): `else if (unlikely(flags & MAP_HUGETLB)) { retval = -EINVAL; ...}`
    // right after fget(), for any file that is_file_hugepages() rejects.
    const { m, t } = setup();
    m.createFile('/f', 2 * PAGE);
    const fd = t.open('/f', O_RDWR) as number;
    assert.equal(t.mmap(0, PAGE, RW, MAP_PRIVATE | MAP_HUGETLB, fd), errno('EINVAL'));
    assert.equal(t.mmap(0, 0, RW, MAP_SHARED | MAP_HUGETLB, fd), errno('EINVAL'));
  });

  it('MAP_SHARED_VALIDATE rejects unknown flags on a file with EOPNOTSUPP', () => {
    const { m, t } = setup();
    m.createFile('/f', 2 * PAGE);
    const fd = t.open('/f', O_RDWR) as number;
    assert.equal(t.mmap(0, PAGE, RW, MAP_SHARED_VALIDATE | 0x400, fd), errno('EOPNOTSUPP'));
    // Plain MAP_SHARED silently ignores the same flag.
    assert.equal(typeof t.mmap(0, PAGE, RW, MAP_SHARED | 0x400, fd), 'number');
    assert.equal(typeof t.mmap(0, PAGE, RW, MAP_SHARED_VALIDATE, fd), 'number');
  });

  it('MAP_SHARED_VALIDATE | MAP_SYNC on a file without DAX is EOPNOTSUPP', () => {
    // Fixed: Linux do_mmap() accepts MAP_SYNC only for files with FOP_MMAP_SYNC (DAX); an in-memory file refuses it.
    const { m, t } = setup();
    m.createFile('/f', 2 * PAGE);
    const fd = t.open('/f', O_RDWR) as number;
    assert.equal(t.mmap(0, PAGE, RW, MAP_SHARED_VALIDATE | MAP_SYNC, fd), errno('EOPNOTSUPP'));
  });

  it('anonymous MAP_SHARED_VALIDATE is EINVAL (do_mmap only knows MAP_SHARED, MAP_PRIVATE and MAP_DROPPABLE there)', () => {
    const { t } = setup();
    assert.equal(t.mmap(0, PAGE, RW, MAP_SHARED_VALIDATE | MAP_ANONYMOUS), errno('EINVAL'));
  });
});

describe('mmap: order of checks', () => {
  it('the offset check comes first, before the descriptor lookup', () => {
    const { t } = setup();
    assert.equal(t.mmap(0, PAGE, PROT_READ, MAP_SHARED, 42, 1), errno('EINVAL'));
  });

  it('EBADF comes before len 0 and before the sharing-type check', () => {
    const { t } = setup();
    assert.equal(t.mmap(0, 0, PROT_READ, MAP_SHARED, 42), errno('EBADF'));
    assert.equal(t.mmap(0, PAGE, PROT_READ, 0, 42), errno('EBADF'));
  });

  it('len 0 comes before MAP_FIXED address checks', () => {
    const { t } = setup();
    assert.equal(t.mmap(0x1000, 0, RW, ANON | MAP_FIXED), errno('EINVAL'));
  });

  it('address checks (get_unmapped_area) come before the sharing-type check', () => {
    const { t } = setup();
    assert.equal(t.mmap(0x1000, PAGE, RW, MAP_ANONYMOUS | MAP_FIXED), errno('EPERM'));
  });

  it('EEXIST of MAP_FIXED_NOREPLACE comes before the file-permission checks', () => {
    const { m, t } = setup();
    m.createFile('/ro', 2 * PAGE);
    const fd = t.open('/ro', O_RDONLY) as number;
    const a = map(t, 0, PAGE, PROT_READ, ANON);
    assert.equal(t.mmap(a, PAGE, RW, MAP_SHARED | MAP_FIXED_NOREPLACE, fd), errno('EEXIST'));
  });

  it('the max_map_count check comes before the address and type checks', () => {
    const { t, p } = setup({ maxMapCount: 2 });
    map(t, 0, PAGE, PROT_READ, ANON);
    map(t, 0, PAGE, RW, ANON);
    map(t, 0, PAGE, PROT_READ, ANON);
    assert.equal(p.mapCount, 3);
    assert.equal(t.mmap(0x1000, PAGE, RW, MAP_ANONYMOUS | MAP_FIXED), errno('ENOMEM'));
  });
});

describe('mmap: max_map_count', () => {
  it('allows max_map_count + 1 VMAs, as do_mmap checks `map_count > max` before inserting', () => {
    const { t, p } = setup({ maxMapCount: 10 });
    let n = 0;
    for (;;) {
      // Alternate protections so that neighbours never merge.
      const r = t.mmap(0, PAGE, n % 2 ? PROT_READ : RW, ANON);
      if (isErrno(r)) {
        assert.equal(r, errno('ENOMEM'));
        break;
      }
      n++;
      assert.ok(n < 100, 'mmap never hit the limit');
    }
    assert.equal(n, 11);
    assert.equal(p.mapCount, 11);
    // Even a mapping that would merge is refused: the check precedes the merge.
    assert.equal(t.mmap(0, PAGE, RW, ANON), errno('ENOMEM'));
  });

  it('munmap that would split a VMA at the limit is ENOMEM; one that removes VMAs is fine', () => {
    const { t, p } = setup({ maxMapCount: 10 });
    const big = map(t, 0, 3 * PAGE, RW, ANON);
    t.store(big + PAGE, 0x31);
    for (let i = 0; i < 9; i++) map(t, 0, PAGE, i % 2 ? RW : PROT_READ, ANON);
    assert.equal(p.mapCount, 10);
    assert.equal(t.munmap(big + PAGE, PAGE), errno('ENOMEM'));
    assert.equal(p.mapCount, 10);
    assert.equal(t.load(big + PAGE), 0x31);
    // Trimming an end does not add a VMA.
    assert.equal(t.munmap(big + 2 * PAGE, PAGE), 0);
    assert.equal(p.mapCount, 10);
    // Removing a whole VMA brings the count below the limit; then the split is allowed.
    const lowest = p.snapshot().vmas[0];
    assert.equal(t.munmap(lowest.start, lowest.end - lowest.start), 0);
    assert.equal(p.mapCount, 9);
    const c = map(t, 0x40000000, 3 * PAGE, RW, ANON);
    assert.equal(p.mapCount, 10);
    assert.equal(t.munmap(c + PAGE, PAGE), errno('ENOMEM'));
    assert.equal(t.munmap(c, 3 * PAGE), 0);
    const low2 = p.snapshot().vmas[0];
    assert.equal(t.munmap(low2.start, low2.end - low2.start), 0);
    assert.equal(p.mapCount, 8);
    const d = map(t, 0x40000000, 3 * PAGE, RW, ANON);
    assert.equal(p.mapCount, 9);
    assert.equal(t.munmap(d + PAGE, PAGE), 0);
    assert.equal(p.mapCount, 10);
  });

  it('MAP_FIXED that would split a VMA in three at the limit is ENOMEM and leaves it intact', () => {
    const { t, p } = setup({ maxMapCount: 4 });
    const a = map(t, 0, 3 * PAGE, RW, ANON);
    t.store(a + PAGE, 0x99);
    map(t, 0, PAGE, PROT_READ, ANON);
    map(t, 0, PAGE, RW, ANON);
    map(t, 0, PAGE, PROT_READ, ANON);
    assert.equal(p.mapCount, 4);
    assert.equal(t.mmap(a + PAGE, PAGE, PROT_READ, ANON | MAP_FIXED), errno('ENOMEM'));
    assert.equal(t.load(a + PAGE), 0x99);
    assert.equal(p.mapCount, 4);
  });
});

describe('mmap: MAP_POPULATE', () => {
  it('faults every page of a private writable mapping in, writable, with no later faults', () => {
    const { t, p } = setup();
    const a = map(t, 0, 8 * PAGE, RW, ANON | MAP_POPULATE);
    assert.equal(p.resident, 8);
    const faults = p.counters.minorFaults;
    assert.equal(faults, 8);
    for (let i = 0; i < 8; i++) assert.equal(t.store(a + i * PAGE, i + 1), null);
    assert.equal(p.counters.minorFaults, faults);
    assert.equal(p.counters.cowCopies, 0);
    const frames = new Set(p.snapshot().pageTable.map((e) => e.pfn));
    assert.equal(frames.size, 8);
  });

  it('does nothing with MAP_NONBLOCK beside it (Linux do_mmap() populates only MAP_POPULATE alone)', () => {
    const { t, p } = setup();
    const a = map(t, 0, 4 * PAGE, RW, ANON | MAP_POPULATE | MAP_NONBLOCK);
    assert.equal(p.resident, 0);
    assert.equal(p.counters.minorFaults, 0);
    assert.equal(t.store(a, 1), null);
    assert.equal(p.counters.minorFaults, 1);
  });

  it('breaks COW up front for a private writable file mapping', () => {
    const { m, t, p } = setup();
    m.createFile('/f', new Uint8Array([7, 8, 9]));
    const fd = t.open('/f', O_RDWR) as number;
    const a = map(t, 0, 2 * PAGE, RW, MAP_PRIVATE | MAP_POPULATE, fd);
    assert.equal(p.counters.cowCopies, 1);
    assert.deepEqual(p.snapshot().pageTable.map((e) => e.frame?.kind), ['anon']);
    assert.equal(t.store(a, 1), null);
    assert.equal(t.load(a + 1), 8);
    assert.equal(p.counters.cowCopies, 1);
  });

  it('maps the zero page into a read-only private mapping', () => {
    const { t, p } = setup();
    const a = map(t, 0, 4 * PAGE, PROT_READ, ANON | MAP_POPULATE);
    const kinds = p.snapshot().pageTable.map((e) => e.frame?.kind);
    assert.deepEqual(kinds, ['zero', 'zero', 'zero', 'zero']);
    assert.equal(t.load(a + 3 * PAGE), 0);
  });

  it('populates nothing for PROT_NONE', () => {
    const { t, p } = setup();
    map(t, 0, 4 * PAGE, PROT_NONE, ANON | MAP_POPULATE);
    assert.equal(p.resident, 0);
  });

  it('stops silently at the end of a file: no SIGBUS, no error', () => {
    const { m, t, p } = setup();
    m.createFile('/f', 5000);
    const fd = t.open('/f', O_RDWR) as number;
    const a = map(t, 0, 4 * PAGE, RW, MAP_SHARED | MAP_POPULATE, fd);
    assert.equal(p.resident, 2);
    assert.equal(t.signals.length, 0);
    const sig = t.load(a + 2 * PAGE);
    assert.ok(isSignal(sig));
    assert.equal(sig.signal, 'SIGBUS');
  });
});

describe('mmap: merging in /proc/pid/maps', () => {
  it('prints adjacent anonymous mappings with the same protection as one line', () => {
    const { t, p } = setup();
    const a = map(t, 0, 4 * PAGE, RW, ANON);
    const b = map(t, 0, 2 * PAGE, RW, ANON);
    assert.equal(b, a - 2 * PAGE);
    assert.equal(p.maps(), `${b.toString(16)}-${(a + 4 * PAGE).toString(16)} rw-p 00000000 00:00 0 \n`);
    assert.equal(p.mapCount, 1);
  });

  it('merges a mapping that fills the hole between two others into one VMA', () => {
    const { t, p } = setup();
    const low = map(t, 0x10000000, 2 * PAGE, RW, ANON);
    const high = map(t, 0x10003000, 2 * PAGE, RW, ANON);
    assert.equal(p.mapCount, 2);
    map(t, 0x10002000, PAGE, RW, ANON);
    assert.deepEqual(vmas(p), [[low, high + 2 * PAGE, 'rw-p']]);
  });

  it('merges with neighbours that already have pages, keeping their data', () => {
    const { t, p } = setup();
    const a = map(t, 0, 2 * PAGE, RW, ANON);
    t.store(a, 0x21);
    const b = map(t, 0, 2 * PAGE, RW, ANON);
    t.store(b, 0x22);
    assert.equal(p.mapCount, 1);
    assert.equal(t.load(a), 0x21);
    assert.equal(t.load(b), 0x22);
  });

  it('does not merge different protections, shared with private, or anonymous with file memory', () => {
    const { m, t, p } = setup();
    m.createFile('/f', 4 * PAGE);
    const fd = t.open('/f', O_RDWR) as number;
    map(t, 0, PAGE, RW, ANON);
    map(t, 0, PAGE, PROT_READ, ANON);
    map(t, 0, PAGE, PROT_READ, MAP_SHARED | MAP_ANONYMOUS);
    map(t, 0, PAGE, PROT_READ, MAP_PRIVATE, fd);
    assert.equal(p.mapCount, 4);
    const lines = mapsLines(p);
    assert.equal(lines.length, 4);
    assert.match(lines[0], / r--p 00000000 00:01 \d+ +\/f$/);
    assert.match(lines[1], / r--s 00000000 00:01 \d+ +\/dev\/zero \(deleted\)$/);
    assert.match(lines[2], / r--p 00000000 00:00 0 $/);
    assert.match(lines[3], / rw-p 00000000 00:00 0 $/);
    // The path starts at column 74, as Linux pads with seq_pad().
    assert.equal(lines[0].indexOf('/f'), 73);
  });

  it('merges file mappings only when their offsets are contiguous', () => {
    const { m, t, p } = setup();
    m.createFile('/f', 8 * PAGE);
    const fd = t.open('/f', O_RDWR) as number;
    const hi = map(t, 0x10002000, 2 * PAGE, PROT_READ, MAP_SHARED, fd, 2 * PAGE);
    map(t, 0x10000000, 2 * PAGE, PROT_READ, MAP_SHARED, fd, 0);
    assert.equal(p.mapCount, 1);
    assert.match(mapsLines(p)[0], /^10000000-10004000 r--s 00000000 /);
    // Offsets that do not follow on: two VMAs.
    map(t, hi + 2 * PAGE, PAGE, PROT_READ, MAP_SHARED, fd, 0);
    assert.equal(p.mapCount, 2);
  });
});

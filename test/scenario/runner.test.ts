/**
 * The scenario runner end to end (docs/scenario-language.md): small inline scenarios run
 * through `runScenario`, checking what each operation did, how expectations and bindings
 * behave, which diagnostics a malformed scenario gets (with their exact line:column), the
 * machine line, concurrent blocks and schedules, `stopAfterLine` and tracing.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { checkScenario, type LineOutcome, type RunOptions, type RunReport } from '../../src/scenario/runner.js';
import { formatDiagnostic } from '../../src/scenario/diagnostics.js';
import { run, runOk, sc, spanCodes } from './_helpers.js';

// ---- Helpers ----------------------------------------------------------------------------

/** The outcome of the operation on line `n`. */
function line(r: RunReport, n: number): LineOutcome {
  const l = r.lines.find((x) => x.line === n);
  assert.ok(l, `no outcome for line ${n}; lines: ${r.lines.map((x) => x.line).join(', ')}`);
  return l;
}

const result = (r: RunReport, n: number): string => line(r, n).result;

/** Lines whose expectation did not hold, or that stopped with an error, for messages. */
function failures(r: RunReport): string[] {
  return [
    ...r.lines.filter((l) => l.error !== null || (l.expectation !== null && !l.expectation.passed)).map((l) => `${l.line}: ${l.source} -> ${l.result}${l.error ? ` (${l.error.message})` : ''}`),
    ...r.finals.filter((f) => !f.passed).map((f) => `${f.line}: ${f.source} (${f.seen})`),
  ];
}

/** Runs a scenario whose every expectation and condition must hold. */
function runPass(text: string, options: RunOptions = {}): RunReport {
  const r = runOk(text, options);
  assert.deepEqual(failures(r), [], 'every expectation should hold');
  assert.equal(r.passed, true);
  return r;
}

/** The diagnostics of a scenario as `line:column CODE`. */
function diags(text: string): string[] {
  return spanCodes(run(text).diagnostics);
}

/** A one-line block after a 4K mapping `a`: its diagnostics as `line:column CODE` (the line is line 3). */
function diagsOf(opLine: string): string[] {
  return diags(sc('process p', '  a = mmap 4K rw private anon', opLine));
}

/** Whether the expectation on line `n` held. */
function held(r: RunReport, n: number): boolean {
  const l = line(r, n);
  assert.ok(l.expectation, `line ${n} has no expectation`);
  return l.expectation.passed;
}

// ---- Operations -------------------------------------------------------------------------

describe('runner: mmap', () => {
  it('maps anonymous memory with each flag word', () => {
    const r = runPass(
      sc(
        'process p',
        '  a = mmap 16K rw private anon', // 2
        '  b = mmap 4K rw shared anon',
        '  c = mmap 4K rw shared-validate anon     => EINVAL', // anonymous MAP_SHARED_VALIDATE is EINVAL, as in do_mmap()
        '  d = mmap 4K rw private anon fixed at=a + 4K => a + 4K',
        '  e = mmap 4K rw private anon noreplace at=a  => EEXIST',
        '  f = mmap 8K rw private anon populate',
        '  g = mmap 4K rw private anon locked',
        '  h = mmap 8K rw private anon growsdown',
        '  i = mmap 2M rw private anon hugetlb     => ENOMEM', // no huge pages are reserved
        '  j = mmap 4K rw MAP_PRIVATE MAP_ANONYMOUS MAP_NORESERVE',
        '  k = mmap 4K rw', // private anonymous by default
        'require vma p b exists',
        'require pte p f present and pte p f + 4K present', // populate faults it in
        'require pte p g present', // locked too
        'require not pte p a present', // plain mappings are lazy
        'require vma p h exists and vma p k exists and vma p j exists',
      ),
    );
    assert.match(result(r, 2), /^0x[0-9a-f]+$/);
    assert.match(r.finals[0].seen, /rw-s/);
  });

  it('maps files with file=, fd= and offset=, and places mappings with at=', () => {
    runPass(
      sc(
        'file /d "abcdefgh"',
        'file /big size=8K',
        'process p',
        '  f = mmap 4K r shared file=/d', // 4
        '  load f + 1                        => 0x62',
        '  fd = open /big',
        '  w = mmap 8K rw shared fd=fd',
        '  store w + 4K 0x77',
        '  o = mmap 4K r shared fd=fd offset=4K',
        '  load o                            => 0x77',
        '  x = mmap 4K rw private fd=fd at=0x10000000 fixed => 0x10000000',
        '  n = mmap 4K rw file=/d            => EINVAL', // neither shared nor private
        '  m = mmap 4K rw shared file=/d offset=1 => EINVAL',
        'require value p f == 0x61',
      ),
    );
  });

  it('file= falls back to a read-only open for a read-only file', () => {
    runPass(sc('file /ro "hi" mode=ro', 'process p', '  f = mmap 4K r shared file=/ro', '  load f => 0x68', '  g = mmap 4K rw shared file=/ro => EACCES'));
  });

  it('a missing file= file is a runtime error on that line', () => {
    const r = runOk(sc('process p', '  f = mmap 4K r shared file=/nope', '  load f'));
    const l = line(r, 2);
    assert.equal(l.result, 'not run');
    assert.equal(l.error?.code, 'MMS4001');
    assert.match(l.error?.message ?? '', /\/nope.*ENOENT/);
    assert.equal(r.passed, false);
    // Fixed: the error points at the file= option (2:24), not at 0:0.
    assert.deepEqual([l.error?.span.line, l.error?.span.column], [2, 24]);
  });
});

describe('runner: munmap, mprotect, mremap, madvise, msync', () => {
  it('munmap and mprotect', () => {
    runPass(
      sc(
        'process p',
        '  a = mmap 12K rw private anon',
        '  store a 1',
        '  munmap a + 4K 4K       => 0',
        '  load a + 4K            => SIGSEGV SEGV_MAPERR addr=a + 4K',
        '  mprotect a 4K r--      => ok',
        '  store a 2              => SIGSEGV SEGV_ACCERR',
        '  load a                 => 1',
        '  mprotect a 12K r--     => ENOMEM',
        '  mprotect a 4K none     => 0',
        '  load a                 => SIGSEGV SEGV_ACCERR',
        '  munmap a 0             => EINVAL',
        '  munmap a + 1 4K        => EINVAL',
        'require vma p a prot == ---',
      ),
    );
  });

  it('mremap with maymove, fixed, to= and dontunmap', () => {
    runPass(
      sc(
        'process p',
        '  a = mmap 8K rw',
        '  store a 0x11',
        '  t = mmap 8K rw',
        '  b = mremap a 8K 8K maymove fixed to=t  => t',
        '  load t                                 => 0x11',
        '  load a                                 => SIGSEGV SEGV_MAPERR',
        '  c = mremap t 8K 4K                     => t',
        '  mremap t 4K 8K fixed                   => EINVAL', // fixed needs maymove
        '  e = mremap t 4K 4K maymove dontunmap',
        '  load e                                 => 0x11',
        '  load t                                 => 0', // the old range stays mapped, empty
        '  mremap t 4K 8K dontunmap               => EINVAL',
        '  mremap 0x1000 4K 8K maymove            => EFAULT',
        'require vma p e exists',
      ),
    );
  });

  it('madvise with each advice word', () => {
    runPass(
      sc(
        'process p',
        '  a = mmap 4K rw',
        '  store a 5',
        '  madvise a 4K normal     => 0',
        '  madvise a 4K random     => 0',
        '  madvise a 4K sequential => 0',
        '  madvise a 4K willneed   => 0',
        '  load a                  => 5',
        '  madvise a 4K dontneed   => 0',
        '  load a                  => 0',
        '  madvise a + 1 4K normal => EINVAL',
      ),
    );
  });

  it('madvise advice may be a number, as the document says', () => {
    // Fixed: `madvise a 4K 4` is MADV_DONTNEED.
    const r = run(sc('process p', '  a = mmap 4K rw', '  madvise a 4K 4 => 0'));
    assert.deepEqual(r.diagnostics.map(formatDiagnostic), []);
    assert.equal(r.passed, true);
  });

  it('madvise without advice is reported where the advice should be', () => {
    // Fixed: just after the last argument (3:15), as other missing arguments are, not at 0:0.
    assert.deepEqual(diagsOf('  madvise a 4K'), ['3:15 MMS3002']);
  });

  it('msync with each flag word', () => {
    runPass(
      sc(
        'file /d size=4K',
        'process p',
        '  m = mmap 4K rw shared file=/d',
        '  store m 0x33',
        '  msync m 4K sync         => 0',
        '  msync m 4K async        => 0',
        '  msync m 4K invalidate   => 0',
        '  msync m 4K MS_SYNC      => 0',
        '  msync m 4K sync async   => EINVAL',
        '  msync m + 1 4K sync     => EINVAL',
      ),
    );
  });
});

describe('runner: files and descriptors', () => {
  it('open modes: rdwr by default, rdonly, wronly, creat, trunc', () => {
    runPass(
      sc(
        'file /ro "hello" mode=ro',
        'file /d "abcdefgh"',
        'process p',
        '  a = mmap 4K rw',
        '  fw = open /ro            => EACCES', // the rdwr default needs write access
        '  fr = open /ro rdonly     => 3',
        '  pread fr a 5 0           => 5',
        '  load a + 4               => 0x6f',
        '  pwrite fr a 1 0          => EBADF',
        '  w = open /d wronly',
        '  pread w a 1 0            => EBADF',
        '  pwrite w a 2 0           => 2',
        '  d = open /d',
        '  pread d a + 8 8 0        => 8',
        '  load a + 8               => 0x68', // "he" from /ro written over "ab"
        '  load a + 10              => 0x63',
        '  n = open /nope           => ENOENT',
        '  c = open /nope creat',
        '  pwrite c a 3 0           => 3',
        '  t = open /d trunc',
        '  pread t a 4 0            => 0',
        '  x = open /d O_RDONLY',
        '  pwrite x a 1 0           => EBADF',
      ),
    );
  });

  it('close, pread, pwrite and ftruncate', () => {
    runPass(
      sc(
        'file /d size=8K',
        'process p',
        '  a = mmap 4K rw',
        '  fd = open /d',
        '  f = mmap 8K rw shared fd=fd',
        '  store a 0x41',
        '  pwrite fd a 1 4K          => 1',
        '  load f + 4K               => 0x41',
        '  pread fd a + 100 1 4K     => 1',
        '  load a + 100              => 0x41',
        '  ftruncate fd 4K           => 0',
        '  load f + 4K               => SIGBUS BUS_ADRERR addr=f + 4K',
        '  pread fd a 1 8K           => 0',
        '  close fd                  => 0',
        '  close fd                  => EBADF',
        '  pread fd a 1 0            => EBADF',
        '  ftruncate fd 0            => EBADF',
        '  load f                    => 0', // the mapping outlives the descriptor
      ),
    );
  });

  it('file with size=, contents and mode=ro', () => {
    const r = runPass(
      sc(
        'file /z size=8K',
        'file /s "a\\x42\\n"',
        'file /ro "x" mode=ro',
        'file /rw "y" mode=rw',
        'process p',
        '  z = mmap 8K r shared file=/z',
        '  load z + 8K - 1    => 0',
        '  s = mmap 4K r shared file=/s',
        '  load s + 1         => 0x42',
        '  load s + 2         => 10',
        '  open /ro           => EACCES',
        '  open /rw           => ok',
      ),
    );
    assert.equal(result(r, 1), 'done');
    assert.equal(line(r, 1).thread, null);
  });
});

describe('runner: accesses', () => {
  it('load and store with size=1, 2 and 4, little-endian', () => {
    runPass(
      sc(
        'process p',
        '  a = mmap 8K rw',
        '  store a 0x12345678 size=4',
        '  load a size=4            => 0x12345678',
        '  load a size=2            => 0x5678',
        '  load a                   => 0x78',
        '  load a size=1            => 0x78',
        '  load a + 1 size=2        => 0x3456',
        '  store a + 2 0xabcd size=2',
        '  load a size=4            => 0xabcd5678',
        '  store a -1',
        '  load a                   => 0xff',
        '  store a + 4K - 1 0x7f',
        '  load a + 4K - 2 size=4   => 0x7f00', // an access across a page boundary
      ),
    );
  });

  it('a bad size= is reported before anything runs', () => {
    // Fixed: a literal bad size is a bad option value, MMS3004 at the value (3:15), found before the run.
    assert.deepEqual(diagsOf('  load a size=3'), ['3:15 MMS3004']);
  });

  it('fetch is an instruction fetch: protections and the execute-only key', () => {
    runPass(
      sc(
        'process p',
        '  a = mmap 4K rwx',
        '  store a 0x90',
        '  fetch a                => 0x90',
        '  b = mmap 4K rw',
        '  fetch b                => SIGSEGV SEGV_ACCERR',
        '  x = mmap 4K x', // PROT_EXEC alone gets the execute-only key
        '  fetch x                => 0',
        '  load x                 => SIGSEGV SEGV_PKUERR key=1',
        '  fetch 0x1000           => SIGSEGV SEGV_MAPERR addr=0x1000',
      ),
    );
  });

  it('loads, stores and fetches at a negative or unsafe address do not throw', () => {
    for (const op of ['  load -1', '  store -4K 1', '  fetch -1', '  load 0x1fffffffffffff + 4K']) {
      assert.doesNotThrow(() => run(sc('process p', op)), op);
    }
  });
});

describe('runner: syscalls with negative lengths', () => {
  it('mmap with a negative length fails instead of throwing', () => {
    // Fixed: as an unsigned length, a negative one is huge: an errno (ENOMEM), not an exception.
    for (const op of ['  b = mmap -4K rw', '  b = mmap -4K rw fixed at=0x10000000']) {
      let r: RunReport | null = null;
      assert.doesNotThrow(() => {
        r = run(sc('process p', op));
      }, op);
      assert.match(r === null ? '' : result(r, 2), /^E[A-Z]+$/, op);
    }
  });

  it('munmap and mremap with a negative length fail', () => {
    // Fixed: Linux sees huge unsigned lengths: an errno (EINVAL), and the mapping stays.
    assert.doesNotThrow(() => run(sc('process p', '  a = mmap 16K rw', '  munmap a + 8K -4K')));
    const r = run(sc('process p', '  a = mmap 8K rw', '  munmap a -4K', '  munmap -4K 4K', '  mremap a 8K -4K maymove', 'require vma p a exists'));
    assert.match(result(r, 3), /^E/, `munmap a -4K gave ${result(r, 3)}`);
    assert.match(result(r, 4), /^E/, `munmap -4K 4K gave ${result(r, 4)}`);
    assert.match(result(r, 5), /^E/, `mremap a 8K -4K maymove gave ${result(r, 5)}`);
    assert.equal(r.finals[0].passed, true, 'the mapping is still there');
  });
});

describe('runner: processes', () => {
  it('fork with cpu= makes a child that is named by the binding', () => {
    const r = runPass(
      sc(
        'machine x86_64 cpus=2',
        'process p',
        '  a = mmap 4K rw',
        '  store a 7',
        '  q = fork cpu=1',
        '  r = fork',
        'process q',
        '  load a       => 7',
        '  store a 8',
        'process r',
        '  load a       => 7',
        'process p',
        '  load a       => 7',
        'require tlb cpu1 q a present',
        'require not tlb cpu1 p a present',
        'require counter q cowCopies == 1',
      ),
    );
    assert.match(result(r, 5), /^pid \d+$/);
    assert.equal(r.names.processes.get('q')?.main.cpu, 1);
    assert.equal(r.names.processes.get('r')?.main.cpu, 0);
    assert.ok(r.names.threads.has('q.main'));
  });

  it('fork cpu=N beyond the machine is reported, not thrown', () => {
    // Fixed: MMS3004, like `process p cpu=5`.
    let r: RunReport | null = null;
    assert.doesNotThrow(() => {
      r = run(sc('machine x86_64 cpus=2', 'process p', '  q = fork cpu=5'));
    });
    assert.equal(r === null ? '' : (r as RunReport).diagnostics.map((d) => d.code).join(), 'MMS3004');
  });

  it('exec gives a fresh, empty address space', () => {
    runPass(
      sc(
        'process p',
        '  a = mmap 4K rw',
        '  store a 1',
        '  exec              => 0',
        '  load a            => SIGSEGV SEGV_MAPERR',
        '  b = mmap 4K rw',
        'require counter p vmas == 1',
        'require alive p',
      ),
    );
  });

  it('exit ends the process', () => {
    const r = runPass(sc('process p', '  a = mmap 4K rw', '  exit 3', 'process q', '  exit', 'require not alive p', 'require not alive q'));
    assert.equal(result(r, 3), 'done');
  });

  it('a thread made after exit does not run on freed page tables', () => {
    const r = run(sc('process p', '  a = mmap 4K rw', '  exit', 'thread p.t1', '  b = mmap 4K rw', '  store b 1'));
    assert.deepEqual(r.notes.filter((n) => n.includes('invariants broken')), []);
  });
});

describe('runner: swapout, reclaim and check', () => {
  it('swapout in its forms: the block\'s process, a named process, a range', () => {
    const r = runPass(
      sc(
        'machine x86_64 memory=16M swap=16M',
        'process p',
        '  a = mmap 16K rw',
        '  store a 1',
        '  store a + 4K 2',
        '  store a + 8K 3',
        '  store a + 12K 4',
        '  swapout a 4K           => 1', // 8: a range of the block's process
        '  swapout p a + 4K 4K    => 1', // 9: a range of a named process
        '  swapout p              => 2', // 10: a named process
        '  swapout                => 0', // 11: the block's process
        'require pte p a swapped and pte p a + 12K swapped',
        'process q',
        '  b = mmap 8K rw',
        '  store b 9',
        '  store b + 4K 8',
        'swapout q b 4K',
        'require pte q b swapped',
        'require not pte q b + 4K swapped',
        'swapout q',
        'require pte q b + 4K swapped',
        'process p',
        '  load a + 12K           => 4',
        'require counter p swapIns == 1',
      ),
    );
    assert.equal(result(r, 17), '1');
    assert.equal(line(r, 17).thread, null);
    assert.equal(result(r, 20), '1');
  });

  it('swapout takes an address expression', () => {
    // Fixed: an ADDR, as the document's `swapout [PROC] [ADDR LEN]` allows.
    assert.deepEqual(diagsOf('  swapout a + 4K 4K'), []);
  });

  it('swapout at the top level without a process is an error', () => {
    const r = runOk(sc('swapout'));
    assert.equal(line(r, 1).error?.code, 'MMS4001');
    assert.equal(r.passed, false);
  });

  it('reclaim and check, in a block and at the top level', () => {
    const r = runPass(
      sc(
        'machine x86_64 memory=16M swap=16M',
        'process p',
        '  a = mmap 16K rw',
        '  store a 1',
        '  store a + 4K 2',
        '  reclaim 1', // 6: frees at least one page (a page table's worth at a time)
        '  check           => 0',
        'reclaim 8',
        'check',
        'require counter p swapOuts == 2',
        'process p',
        '  load a + 4K     => 2',
        '  load a          => 1',
      ),
    );
    assert.ok(Number(result(r, 6)) >= 1);
    assert.equal(Number(result(r, 6)) + Number(result(r, 8)), 2);
    assert.equal(result(r, 9), '0');
  });
});

// ---- Expectations -----------------------------------------------------------------------

describe('runner: expectations', () => {
  it('value expectations with arithmetic, passing and failing', () => {
    const r = runOk(
      sc(
        'process p',
        '  a = mmap 8K rw',
        '  b = mmap 4K rw      => a - 4K', // 3
        '  c = mmap 4K rw      => a', // 4: fails
        '  store a + 4K - 1 9',
        '  load a + 8K - 4K - 1 => 9', // 6
        '  load a + 4K - 1     => 8', // 7: fails
        '  load a              => 0',
        '  store a 1           => 0', // 9: a store returns no value
      ),
    );
    assert.equal(held(r, 3), true);
    assert.equal(held(r, 4), false);
    assert.equal(held(r, 6), true);
    assert.equal(held(r, 7), false);
    assert.equal(held(r, 8), true);
    assert.equal(held(r, 9), false);
    assert.equal(line(r, 3).expectation?.text, 'a - 4K');
    assert.equal(r.passed, false);
  });

  it('errno expectations, passing and failing', () => {
    const r = runOk(sc('process p', '  a = mmap 0 rw      => EINVAL', '  b = mmap 0 rw      => ENOMEM', '  c = mmap 4K rw     => EINVAL', '  store 0 1          => EFAULT'));
    assert.deepEqual([held(r, 2), held(r, 3), held(r, 4), held(r, 5)], [true, false, false, false]);
    assert.equal(result(r, 2), 'EINVAL');
    assert.equal(r.passed, false);
  });

  it('signal expectations with code, key= and addr=, passing and failing', () => {
    const r = runOk(
      sc(
        'process p',
        '  a = mmap 4K r',
        '  x = mmap 4K x',
        '  store a 1      => SIGSEGV', // 4
        '  store a 1      => SIGSEGV SEGV_ACCERR', // 5
        '  store a 1      => SIGSEGV SEGV_MAPERR', // 6: wrong code
        '  store a 1      => SIGBUS', // 7: wrong signal
        '  store a 1      => SIGSEGV SEGV_ACCERR addr=a', // 8
        '  store a 1      => SIGSEGV addr=a + 1', // 9: wrong address
        '  load x         => SIGSEGV SEGV_PKUERR key=1', // 10
        '  load x         => SIGSEGV SEGV_PKUERR key=2', // 11: wrong key
        '  load x         => SIGSEGV SEGV_PKUERR key=1 addr=x', // 12
        '  load a         => SIGSEGV', // 13: no signal
        '  load a + 4K    => SIGSEGV SEGV_MAPERR addr=a + 4K', // 14
      ),
    );
    assert.deepEqual(
      [4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14].map((n) => held(r, n)),
      [true, true, false, false, true, false, true, false, true, false, true],
    );
    assert.match(result(r, 10), /^SIGSEGV SEGV_PKUERR addr=0x[0-9a-f]+ key=1$/);
    assert.equal(line(r, 12).expectation?.text, 'SIGSEGV SEGV_PKUERR key=1 addr=x');
  });

  it('ok expectations: a syscall succeeded, an access raised no signal', () => {
    const r = runOk(
      sc(
        'process p',
        '  a = mmap 4K rw     => ok',
        '  store a 1          => ok',
        '  load a             => ok',
        '  mprotect a 4K r    => ok',
        '  store a 1          => ok', // 6: SIGSEGV
        '  b = mmap 0 rw      => ok', // 7: EINVAL
        '  check              => ok',
      ),
    );
    assert.deepEqual([2, 3, 4, 5, 6, 7, 8].map((n) => held(r, n)), [true, true, true, true, false, false, true]);
  });

  it('a line without an expectation that fails is not an error', () => {
    const r = runPass(sc('process p', '  a = mmap 0 rw', '  load 0', '  munmap 1 1'));
    assert.equal(result(r, 2), 'EINVAL');
    assert.match(result(r, 3), /^SIGSEGV SEGV_MAPERR addr=0$/);
    assert.equal(line(r, 3).expectation, null);
  });

  it('reports each line with its thread and its source, without the comment', () => {
    const r = runOk(sc('process p', '  a = mmap 4K rw   # map it', '  load a => 0'));
    assert.equal(line(r, 2).source, 'a = mmap 4K rw');
    assert.equal(line(r, 2).thread, 'p');
    assert.equal(line(r, 3).source, 'load a => 0');
  });

  it('the source of a line with a string loses its comment too', () => {
    // Fixed: LineOutcome.source is the line as written without its comment, even after a string.
    const r = runOk(sc('file /x "a#b"  # note'));
    assert.equal(line(r, 1).source, 'file /x "a#b"');
  });
});

// ---- Bindings ---------------------------------------------------------------------------

describe('runner: bindings', () => {
  it('a failed mmap binds nothing: a later use is MMS4001 on that line, and the report fails', () => {
    const r = runOk(sc('process p', '  a = mmap 0 rw private anon => EINVAL', '  b = mmap 4K rw', '  load a + 4K', '  store b 1 => ok'));
    assert.equal(held(r, 2), true);
    const use = line(r, 4);
    assert.equal(use.result, 'not run');
    assert.equal(use.error?.code, 'MMS4001');
    assert.deepEqual([use.error?.span.line, use.error?.span.column], [4, 8]);
    assert.match(use.error?.message ?? '', /'a' has no value/);
    assert.equal(held(r, 5), true, 'the run goes on');
    assert.equal(r.passed, false);
  });

  it('a use in an expectation of a name that did not bind is MMS4001', () => {
    const r = runOk(sc('process p', '  a = mmap 0 rw', '  b = mmap 4K rw', '  load b => a'));
    assert.equal(line(r, 4).error?.code, 'MMS4001');
    assert.deepEqual([line(r, 4).error?.span.line, line(r, 4).error?.span.column], [4, 13]);
    assert.equal(r.passed, false);
  });

  it('loads, checks and swapouts bind their values; stores and signals bind nothing', () => {
    const r = runOk(
      sc(
        'process p',
        '  a = mmap 4K rw',
        '  store a 0x30',
        '  v = load a',
        '  n = check',
        '  s = store a 1',
        '  g = load 0',
        '  load a + v       => 0',
        '  load a + n       => 1',
        '  load s',
        '  load g',
      ),
    );
    assert.equal(held(r, 8), true);
    assert.equal(held(r, 9), true);
    assert.equal(line(r, 10).error?.code, 'MMS4001');
    assert.equal(line(r, 11).error?.code, 'MMS4001');
  });

  it('a binding without spaces around = is a binding', () => {
    runPass(sc('process p', '  a=mmap 4K rw', '  store a 1 => ok'));
  });

  it('a thread block for a process whose fork did not run is an error, not an exception', () => {
    for (const tail of [['thread q.t1', '  load 0'], ['concurrent', '  thread q', '    load 0', '  thread p', '    load 0']]) {
      let r: RunReport | null = null;
      assert.doesNotThrow(() => {
        r = run(sc('process p', '  z = mmap 0 rw', '  q = fork cpu=z', ...tail));
      }, tail[0]);
      assert.equal(r === null ? true : (r as RunReport).passed, false);
    }
  });
});

// ---- Validation -------------------------------------------------------------------------

describe('runner: validation diagnostics', () => {
  it('an unknown operation', () => {
    assert.deepEqual(diagsOf('  frob a'), ['3:3 MMS2002']);
    assert.match(run(sc('process p', '  frob a')).diagnostics[0].message, /unknown operation 'frob'; expected one of mmap, munmap/);
  });

  it('operations in the wrong place', () => {
    // A thread operation at the top level.
    assert.deepEqual(diags(sc('load 0')), ['1:1 MMS2002']);
    assert.match(run(sc('load 0')).diagnostics[0].message, /operations go in a block/);
    assert.deepEqual(diags(sc('process p', '  a = mmap 4K rw', 'store a 1')), ['3:1 MMS2002']);
    // `file` in a block.
    assert.deepEqual(diagsOf('  file /x size=4K'), ['3:3 MMS2003']);
    assert.deepEqual(diagsOf('  f = file /x size=4K'), ['3:7 MMS2003']);
  });

  it('missing, extra and wrong arguments', () => {
    const cases: [string, string[]][] = [
      ['  munmap a', ['3:11 MMS3002']],
      ['  munmap', ['3:9 MMS3002', '3:9 MMS3002']],
      ['  munmap a 4K 4K', ['3:15 MMS3002']],
      ['  mprotect a 4K', ['3:16 MMS3002']],
      ['  mprotect a 4K bogus', ['3:17 MMS3004']],
      ['  mmap 4K', ['3:10 MMS3002']],
      ['  mmap 4K rw bogus', ['3:14 MMS3004']],
      ['  store a', ['3:10 MMS3002']],
      ['  open', ['3:7 MMS3002']],
      ['  open "x"', ['3:8 MMS3002']],
      ['  open /x bogus', ['3:11 MMS3004']],
      ['  close', ['3:8 MMS3002']],
      ['  pread 3 a 4', ['3:14 MMS3002']],
      ['  ftruncate 3', ['3:14 MMS3002']],
      ['  fork 1', ['3:8 MMS3002']],
      ['  exec 1', ['3:8 MMS3002']],
      ['  exit 1 2', ['3:10 MMS3002']],
      ['  check 1', ['3:9 MMS3002']],
      ['  reclaim', ['3:10 MMS3002']],
      ['  swapout a b c d', ['3:17 MMS3002']],
      ['  madvise a 4K bogus', ['3:16 MMS3004']],
      ['  msync a 4K bogus', ['3:14 MMS3004']],
      ['  mremap a 4K 8K bogus', ['3:18 MMS3004']],
      ['file /x 4K', ['3:9 MMS3002']],
      ['file', ['3:5 MMS3002']],
      ['reclaim 1 2', ['3:11 MMS3002']],
    ];
    for (const [op, want] of cases) assert.deepEqual(diagsOf(op), want, op);
  });

  it('unknown options and bad option values', () => {
    const cases: [string, string[]][] = [
      ['  mmap 4K rw private bogus=1', ['3:22 MMS3003']],
      ['  load a foo=1', ['3:10 MMS3003']],
      ['  load a size=1 size=2', ['3:17 MMS3003']],
      ['  munmap a 4K at=a', ['3:15 MMS3003']],
      ['file /x size=4K mode=rx', ['3:22 MMS3004']],
      ['file /x size=4K bogus=1', ['3:17 MMS3003']],
    ];
    for (const [op, want] of cases) assert.deepEqual(diagsOf(op), want, op);
    // Block headers take only cpu=N.
    assert.deepEqual(diags(sc('process p foo=1', '  load 0')), ['1:11 MMS3003']);
    assert.deepEqual(diags(sc('process p cpu=x', '  load 0')), ['1:15 MMS3004']);
  });

  it('unknown names', () => {
    const cases: [string, string[]][] = [
      ['  load zz', ['3:8 MMS3001']],
      ['  load a + zz', ['3:12 MMS3001']],
      ['  store a zz', ['3:11 MMS3001']],
      ['  mmap 4K rw at=zz', ['3:17 MMS3001']],
      ['  mmap 4K rw fd=zz', ['3:17 MMS3001']],
      ['  fork cpu=zz', ['3:12 MMS3001']],
      ['  load a => zz', ['3:13 MMS3001']],
      ['  load a => a + zz', ['3:17 MMS3001']],
      ['  load a => SIGSEGV key=zz', ['3:25 MMS3001']],
      ['  load a => SIGSEGV addr=zz', ['3:26 MMS3001']],
    ];
    for (const [op, want] of cases) assert.deepEqual(diagsOf(op), want, op);
    // A name is visible only after the line that binds it.
    assert.deepEqual(diags(sc('process p', '  load a', '  a = mmap 4K rw')), ['2:8 MMS3001']);
    // A thread of an undeclared process.
    assert.deepEqual(diags(sc('thread q.t1', '  load 0')), ['1:1 MMS3001']);
    assert.deepEqual(diags(sc('process p', '  q = fork', 'thread q.t1', '  load 0')), []);
  });

  it('unknown errno, signal and signal code', () => {
    assert.deepEqual(diagsOf('  load a => EBOGUS'), ['3:13 MMS3006']);
    assert.deepEqual(diagsOf('  load a => SIGBOGUS'), ['3:13 MMS3006']);
    assert.deepEqual(diagsOf('  load a => SIGSEGV SEGV_BOGUS'), ['3:13 MMS3006']);
    const r = run(sc('process p', '  load 0 => EBOGUS'));
    assert.match(r.diagnostics[0].message, /unknown errno 'EBOGUS'; expected one of .*EINVAL/);
  });

  it('every problem is reported, and nothing runs', () => {
    const r = run(sc('process p', '  a = mmap 4K rw', '  frob', '  load zz', '  load a => EBOGUS', 'require alive p'));
    assert.deepEqual(
      spanCodes(r.diagnostics),
      ['3:3 MMS2002', '4:8 MMS3001', '5:13 MMS3006'],
    );
    assert.deepEqual(r.lines, []);
    assert.deepEqual(r.finals, []);
    assert.equal(r.machine, null);
    assert.equal(r.passed, false);
    assert.equal(formatDiagnostic(r.diagnostics[0]).startsWith('t.mms:3:3: error MMS2002: '), true);
  });

  it('a syntax error on one line does not hide the semantic errors of the others', () => {
    const text = sc('process p', '  a = mmap 4K rw private anon', '  store b 1', '  load a =>', '  load zz');
    assert.deepEqual(diags(text), ['3:9 MMS3001', '4:12 MMS2004', '5:8 MMS3001']);
    assert.deepEqual(spanCodes(checkScenario(text, 't.mms')), ['3:9 MMS3001', '4:12 MMS2004', '5:8 MMS3001']);
    // Scanner errors too.
    assert.deepEqual(diags(sc('process p', '  load @', '  load zz')), ['2:8 MMS1001', '3:8 MMS3001']);
  });

  it('what a broken line meant to define is not reported again at every use', () => {
    // The binding on line 2, the process header on line 4 and the machine line have errors.
    assert.deepEqual(diags(sc('process p', '  a = mmap 4K rw private anon @', '  load a', 'process q cpu', '  load 0', 'thread q.t1', '  load a')), [
      '2:31 MMS1001',
      '4:11 MMS2001',
    ]);
    // A misindented binding is reported once; its name is not undefined later.
    assert.deepEqual(diags(sc('process p', '  load 0', '   b = mmap 4K rw', '  load b')), ['3:4 MMS1004']);
    // With a broken machine line, cpu= and the personality are unknown, so not checked.
    assert.deepEqual(diags(sc('machine x86_64 cpus=4 @', 'process p cpu=3', '  load 0')), ['1:23 MMS1001']);
  });

  it('a scenario wrong on every line reports 100 problems and counts the rest', () => {
    const r = run(sc('process p', ...Array.from({ length: 3000 }, (_, i) => `  load zz${i}`)));
    assert.equal(r.diagnostics.length, 101);
    assert.equal(r.diagnostics[99].span.line, 101);
    assert.equal(r.diagnostics[100].code, 'MMS0004');
    assert.match(r.diagnostics[100].message, /… and 2900 more problems, not listed/);
  });

  it('a byte order mark is skipped, and line sources are right for CRLF and CR-only files', () => {
    for (const eol of ['\n', '\r\n', '\r']) {
      const r = runOk(`\ufeffprocess p${eol}  a = mmap 4K rw private anon${eol}  store a 7${eol}  load a => 7 # seven${eol}`);
      assert.equal(r.passed, true, JSON.stringify(eol));
      assert.deepEqual(r.lines.map((l) => l.source), ['a = mmap 4K rw private anon', 'store a 7', 'load a => 7'], JSON.stringify(eol));
      assert.deepEqual(r.lines[2].expectation, { text: '7', passed: true });
    }
  });

  it('checkScenario reports the diagnostics without running', () => {
    assert.deepEqual(checkScenario(sc('process p', '  a = mmap 4K rw', '  load a => 0'), 't.mms'), []);
    assert.deepEqual(
      spanCodes(checkScenario(sc('process p', '  load zz'), 't.mms')),
      ['2:8 MMS3001'],
    );
  });
});

describe('runner: the machine line', () => {
  it('reports bad options at their value, with exact columns', () => {
    const cases: [string, string[]][] = [
      ['machine arm64', ['1:1 MMS3007']],
      ['machine x86_64 cpus=0', ['1:21 MMS3004']],
      ['machine x86_64 cpus=257', ['1:21 MMS3004']],
      ['machine x86_64 cpus=two', ['1:21 MMS3004']],
      ['machine x86_64 memory=32K', ['1:23 MMS3004']],
      ['machine x86_64 memory=65G', ['1:23 MMS3004']],
      ['machine x86_64 swap=65G', ['1:21 MMS3004']],
      ['machine x86_64 tlb=3', ['1:20 MMS3004']],
      ['machine x86_64 tlb=0x200000', ['1:20 MMS3004']],
      ['machine x86_64 pku=maybe', ['1:20 MMS3004']],
      ['machine x86_64 os=freebsd', []],
      ['machine x86_64 variant=pkru-swapout-bug', ['1:24 MMS3007']],
      ['machine x86_64 os=freebsd variant=pkru-swapout-bug', []],
      ['machine x86_64 variant=pkru-swapout-bug os=freebsd', []],
      ['machine x86_64 os=windows', ['1:19 MMS3004']],
      ['machine x86_64 variant=foo variant=bar', ['1:24 MMS3007', '1:36 MMS3007']],
      ['machine x86_64 max_map_count=0', ['1:30 MMS3004']],
      ['machine x86_64 frob=1', ['1:16 MMS3003']],
      ['machine x86_64 cpus', ['1:16 MMS2001']],
      ['machine x86_64 os=linux cpus=4 memory=1M swap=0 tlb=64 pku=off max_map_count=100', []],
    ];
    for (const [m, want] of cases) assert.deepEqual(diags(sc(m, 'process p', '  load 0')), want, m);
    assert.deepEqual(diags(sc('machine x86_64', 'machine x86_64')), ['2:1 MMS2006']);
    // An option given twice would silently override the first; variant= adds up instead.
    assert.deepEqual(diags(sc('machine x86_64 cpus=1 cpus=2', 'process p', '  load 0')), ['1:23 MMS3003']);
    assert.match(run(sc('machine x86_64 cpus=1 cpus=2')).diagnostics[0].message, /option 'cpus=' is given twice \(first at column 16\)/);
    assert.deepEqual(diags(sc('machine x86_64 os=linux memory=1M os=linux', 'process p', '  load 0')), ['1:35 MMS3003']);
    assert.deepEqual(diags(sc('machine x86_64 os=freebsd variant=pkru-swapout-bug variant=pkru-swapout-bug', 'process p', '  load 0')), []);
    assert.deepEqual(diags(sc('machine x86_64 cpus=2', 'process p cpu=0 cpu=1', '  load 0')), ['2:17 MMS3003']);
    assert.deepEqual(diags(sc('process p', '  load 0', 'machine x86_64')), ['3:1 MMS2003']);
  });

  it('cpus= sets the CPUs and memory= the frames', () => {
    runPass(sc('machine x86_64 cpus=4 memory=1M', 'process p cpu=3', '  a = mmap 4K rw', '  load a', 'require tlb cpu3 p a present', 'require counter machine freeFrames < 256'));
  });

  it('swap=0 leaves nothing to swap to', () => {
    runPass(sc('machine x86_64 swap=0', 'process p', '  a = mmap 4K rw', '  store a 1', '  swapout => 0', 'require counter machine swapUsed == 0', 'require pte p a present'));
  });

  it('tlb= sizes the TLB', () => {
    runPass(sc('machine x86_64 tlb=1', 'process p', '  a = mmap 8K rw', '  load a', '  load a + 4K', 'require not tlb cpu0 p a present', 'require tlb cpu0 p a + 4K present'));
    runPass(sc('machine x86_64 tlb=16', 'process p', '  a = mmap 8K rw', '  load a', '  load a + 4K', 'require tlb cpu0 p a present', 'require tlb cpu0 p a + 4K present'));
  });

  it('pku=off gives no execute-only key', () => {
    runPass(sc('machine x86_64 pku=off', 'process p', '  x = mmap 4K x', '  load x => 0', 'require vma p x pkey == 0'));
    runPass(sc('machine x86_64 pku=on', 'process p', '  x = mmap 4K x', '  load x => SIGSEGV SEGV_PKUERR', 'require vma p x pkey == 1'));
  });

  it('max_map_count= limits the mappings', () => {
    runPass(sc('machine x86_64 max_map_count=1', 'process p', '  a = mmap 4K rw', '  b = mmap 4K r', '  c = mmap 4K rw => ENOMEM', 'require counter p vmas == 2'));
  });

  it('cpu=N beyond the machine\'s CPUs is a diagnostic', () => {
    const r = run(sc('process p cpu=1', '  load 0'));
    // Reported at the cpu= value itself.
    assert.deepEqual(spanCodes(r.diagnostics), ['1:15 MMS3004']);
    assert.match(r.diagnostics[0].message, /cpu=1, but the machine has CPU 0 only/);
    assert.deepEqual(r.lines, []);
    assert.deepEqual(
      diags(sc('machine x86_64 cpus=2', 'process p', '  a = mmap 4K rw', 'concurrent', '  thread p', '    load a', '  thread p.t1 cpu=2', '    load a')),
      ['7:19 MMS3004'],
    );
  });

  it('checkScenario reports cpu=N beyond the machine\'s CPUs too', () => {
    // Fixed: checkScenario promises every diagnostic, so it checks CPUs as runScenario does.
    assert.deepEqual(
      checkScenario(sc('process p cpu=1', '  load 0'), 't.mms').map((d) => d.code),
      ['MMS3004'],
    );
  });

  it('a negative cpu= is a diagnostic, not an exception', () => {
    let r: RunReport | null = null;
    assert.doesNotThrow(() => {
      r = run(sc('process p cpu=-1', '  load 0'));
    });
    assert.deepEqual(r === null ? [] : (r as RunReport).diagnostics.map((d) => d.code), ['MMS3004']);
  });
});

// ---- Concurrency ------------------------------------------------------------------------

const RACE = [
  'machine x86_64 cpus=2', // 1
  'process p cpu=0',
  '  a = mmap 4K rw',
  'thread p.t1 cpu=1',
  'concurrent', // 5
  '  thread p',
  '    store a 0x5a',
  '  thread p.t1',
  '    munmap a 4K => 0',
];

describe('runner: concurrent blocks', () => {
  it('without a schedule, the default order runs, and the note says so', () => {
    const r = runPass(sc(...RACE, 'forbid vma p a exists'));
    assert.deepEqual(r.notes, [
      'concurrent block at line 5: no schedule given, so the default order ran: round-robin over its threads in the order they are written, one step each',
    ]);
    // In the default order munmap finishes first, and the store faults.
    assert.deepEqual(r.lines.map((l) => [l.line, l.thread]), [[3, 'p'], [9, 'p.t1'], [7, 'p']]);
    assert.match(result(r, 7), /^SIGSEGV SEGV_MAPERR/);
  });

  it('a schedule forces an interleaving, and the note says how many steps it forced', () => {
    const r = runPass(sc(...RACE, 'schedule p p p p.t1', 'forbid vma p a exists', 'require invariant no-stale-tlb'));
    assert.deepEqual(r.notes, [
      'concurrent block at line 5: the schedule forced the first 4 steps; the rest ran round-robin in the order the threads are written',
    ]);
    assert.deepEqual(r.lines.map((l) => [l.line, l.result]), [[3, result(r, 3)], [7, 'ok'], [9, '0']]);
    // p.main names the main thread too.
    const r2 = runPass(sc(...RACE, 'schedule p.main p p.main p.t1'));
    assert.equal(result(r2, 7), 'ok');
  });

  it('the other order: munmap first', () => {
    const r = runPass(sc(...RACE, 'schedule p.t1 p.t1 p.t1 p.t1 p', 'require not vma p a exists'));
    assert.match(result(r, 7), /^SIGSEGV SEGV_MAPERR/);
  });

  it('a schedule naming a thread not in the block is MMS3001 at the name', () => {
    const r = run(sc(...RACE, 'schedule p q'));
    assert.deepEqual(spanCodes(r.diagnostics), ['10:12 MMS3001']);
    assert.match(r.diagnostics[0].message, /'q' is not one of this concurrent block's threads \(p, p\.t1\)/);
    assert.deepEqual(diags(sc(...RACE, 'schedule p p.t2')), ['10:12 MMS3001']);
  });

  it('a schedule longer than the paths is MMS4002 on the schedule line', () => {
    const r = runOk(sc(...RACE, 'schedule p p p p p p p p p p p', 'require alive p'));
    const bad = r.lines.find((l) => l.error !== null);
    assert.ok(bad);
    assert.equal(bad.error?.code, 'MMS4002');
    assert.equal(bad.line, 10);
    assert.equal(bad.thread, null);
    assert.equal(bad.result, 'schedule stopped');
    // At the step that could not be taken: the 8th name, column 24.
    assert.deepEqual([bad.error?.span.line, bad.error?.span.column], [10, 24]);
    assert.match(bad.error?.message ?? '', /schedule position 8: thread p has no step left to run/);
    assert.equal(r.passed, false);
    assert.equal(r.finals.length, 1, 'the run goes on to the conditions');
    // The note counts the steps the schedule really forced: 7 of its 11.
    assert.deepEqual(r.notes, [
      'concurrent block at line 5: the schedule forced the first 7 of its 11 steps (step 8 could not be taken); the rest ran round-robin in the order the threads are written',
    ]);
  });

  it('swapout, like exec, by a thread whose process a sibling exited while it waited is MMS4003', () => {
    // p.t2's mmap holds mmap_lock; p waits for it, p.t1's exit runs first, then p resumes.
    const block = (op: string): string =>
      sc('machine x86_64 cpus=3', 'process p', '  a = mmap 4K rw private anon', '  store a 1', 'concurrent', '  thread p', `    ${op}`, '  thread p.t1', '    exit', '  thread p.t2', '    b = mmap 4K rw private anon', 'schedule p.t2 p p.t1 p.t2 p.t2 p.t1 p');
    for (const op of ['swapout', 'reclaim 1', 'check']) {
      const r = runOk(block(op));
      const l = line(r, 7);
      assert.equal(l.result, 'not run', op);
      assert.equal(l.error?.code, 'MMS4003', op);
      assert.match(l.error?.message ?? '', /thread 'p' has ended/, op);
    }
    // exec is a kernel path: it waited in exec_mmap()'s mmap_read_lock_killable(), and a
    // thread killed there gets EINTR — its address space is untouched.
    const r = runOk(block('exec'));
    assert.equal(line(r, 7).result, 'EINTR');
    assert.equal(line(r, 7).error, null);
    assert.equal(r.names.processes.get('p')?.alive, false);
  });

  it('fork, msync and sized loads in a concurrent block wait for locks as kernel paths instead of throwing', () => {
    for (const op of ['mmap 4K rw', 'load a size=1', 'fork', 'msync a 4K sync']) {
      assert.doesNotThrow(
        () => run(sc('machine x86_64 cpus=2', 'process p', '  a = mmap 4K rw', '  b = mmap 4K rw', 'thread p.t1 cpu=1', 'concurrent', '  thread p', '    munmap b 4K', '  thread p.t1', `    ${op}`, 'schedule p p.t1')),
        op,
      );
    }
  });

  it('exec while another thread is inside munmap does not corrupt the address space', () => {
    assert.doesNotThrow(() =>
      run(sc('machine x86_64 cpus=2', 'process p', '  a = mmap 4K rw', '  b = mmap 4K rw', 'thread p.t1 cpu=1', 'concurrent', '  thread p', '    munmap b 4K', '  thread p.t1', '    exec', 'schedule p p p.t1')),
    );
  });

  it('the same thread twice in one block is a diagnostic, not an exception', () => {
    // Fixed: one diagnostic, at the second header.
    let r: RunReport | null = null;
    assert.doesNotThrow(() => {
      r = run(sc('machine x86_64 cpus=2', 'process p', '  a = mmap 4K rw', 'concurrent', '  thread p', '    store a 1', '  thread p.main', '    store a 2'));
    });
    assert.equal(r === null ? 0 : (r as RunReport).diagnostics.length, 1);
  });
});

// ---- Options ----------------------------------------------------------------------------

describe('runner: stopAfterLine', () => {
  const text = sc(
    'process p', // 1
    '  a = mmap 4K rw',
    '  store a 1',
    'require value p a == 1',
    'process p', // 5
    '  store a 2',
    '  store a 3',
    'require value p a == 3',
  );

  it('runs the statements and conditions on or before the line, and nothing after', () => {
    const r = runOk(text, { stopAfterLine: 6 });
    assert.deepEqual(r.lines.map((l) => l.line), [2, 3, 6]);
    assert.deepEqual(r.finals.map((f) => f.line), [4]);
    assert.equal(r.names.processes.get('p')?.peek(Number.parseInt(result(r, 2), 16)), 2);
    assert.deepEqual(runOk(text, { stopAfterLine: 3 }).lines.map((l) => l.line), [2, 3]);
    assert.deepEqual(runOk(text, { stopAfterLine: 100 }).lines.map((l) => l.line), [2, 3, 6, 7]);
  });

  it('stops top-level operations too', () => {
    // Fixed: `reclaim`, `check`, `swapout p` and `file` after stopAfterLine do not run.
    const r = runOk(sc('process p', '  a = mmap 4K rw', '  store a 1', 'swapout p', 'check', 'file /x size=4K'), { stopAfterLine: 3 });
    assert.deepEqual(r.lines.map((l) => l.line), [2, 3]);
  });
});

describe('runner: trace', () => {
  it('collects op, tlb.miss, page-fault and step events', () => {
    const r = runOk(sc(...RACE, 'schedule p p p p.t1'), { trace: true });
    const types = new Set(r.trace.map((e) => e.type));
    for (const t of ['op', 'tlb.miss', 'page-fault', 'step'] as const) assert.ok(types.has(t), `no ${t} event in ${[...types].join(', ')}`);
    const ops = r.trace.filter((e) => e.type === 'op');
    assert.deepEqual(ops.map((e) => (e.type === 'op' ? [e.line, e.thread] : [])), [[3, 'p'], [7, 'p'], [9, 'p.t1']]);
    const steps = r.trace.filter((e) => e.type === 'step');
    assert.ok(steps.every((e) => e.type === 'step' && (e.thread === 'p' || e.thread === 'p.t1')));
    // The first step belongs to the first scheduled thread.
    assert.equal(steps[0].type === 'step' ? steps[0].thread : '', 'p');
  });

  it('a sequential run has op events and the faults between them', () => {
    const r = runOk(sc('process p', '  a = mmap 4K rw', '  store a 1'), { trace: true });
    const types = r.trace.map((e) => e.type);
    assert.equal(types[0], 'op');
    assert.ok(types.indexOf('page-fault') > types.indexOf('tlb.miss'));
    assert.equal(types[types.length - 1], 'op');
    assert.equal(r.trace.some((e) => e.type === 'step'), false);
  });

  it('collects nothing unless asked', () => {
    assert.deepEqual(runOk(sc(...RACE)).trace, []);
  });
});

describe('runner: flags as words or as a number, not both', () => {
  it('rejects both at the option, for every operation that takes either', () => {
    const at = (line: string, n: number, word: string): string => `${n}:${line.indexOf(word) + 1} MMS3004`;
    const remap = '  remap_file_pages a 4K none 0 nonblock flags=0x10000';
    assert.deepEqual(diagsOf(remap), [at(remap, 3, 'flags=')]);
    assert.deepEqual(diagsOf('  remap_file_pages a 4K none 0 flags=0x10000'), []);
    const alloc = '  k = pkey_alloc write-disable rights=1';
    assert.deepEqual(diagsOf(alloc), [at(alloc, 3, 'rights=')]);
    const protect = '  pkru_protect 0x10000 4K key=1 persist flags=2';
    assert.deepEqual(diags(sc('machine x86_64 os=freebsd', 'process p', protect)), [at(protect, 3, 'flags=')]);
  });
});

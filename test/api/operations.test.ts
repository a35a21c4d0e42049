/**
 * Scenario operations and kernel paths that the other suites reach only through the
 * fuzzer: each run here with an expectation, or under a forced schedule.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isErrno, isSignal, Machine, MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED, O_RDWR, PROT_EXEC, PROT_READ, PROT_WRITE } from '../../src/index.js';
import { runScenario } from '../../src/scenario/runner.js';

const PAGE = 4096;
const RW = PROT_READ | PROT_WRITE;

function passes(text: string): void {
  const r = runScenario(text, 'ops.mms');
  assert.deepEqual(r.diagnostics.map((d) => d.message), []);
  const failed = r.lines.filter((l) => l.error || (l.expectation && !l.expectation.passed)).map((l) => `${l.line}: ${l.source} → ${l.result}`);
  assert.deepEqual(failed, []);
  assert.ok(r.passed);
  assert.ok(r.lines.filter((l) => l.expectation).length >= 3, 'the scenario checked something');
}

describe('scenario operations with no other test', () => {
  it('pkru_set, pkey_get, wrpkru and ptrace_peek (linux)', () => {
    passes(
      [
        'machine x86_64 cpus=2',
        'process p',
        '  a = mmap 4K rw private anon',
        '  store a 0x11',
        '  k = pkey_alloc                 => 1',
        '  pkru_set key=k write-disable   => ok',
        '  pkey_get k                     => 2',
        '  wrpkru 0                       => ok',
        '  pkey_get k                     => 0',
        '  q = fork cpu=1',
        'process q',
        '  ptrace_peek p a                => 0x11',
        '  ptrace_peek p 0x1000           => EIO',
        '',
      ].join('\n'),
    );
  });

  it('the long x86_pkru_protect_range / x86_pkru_unprotect_range spellings (freebsd)', () => {
    passes(
      [
        'machine x86_64 os=freebsd',
        'process p',
        '  a = mmap 8K rw private anon',
        '  x86_pkru_protect_range a 8K 3  => ok',
        '  x86_pkru_set_perm 3 1 0        => ok',
        '  store a 1                      => SIGSEGV SEGV_PKUERR key=3',
        '  x86_pkru_unprotect_range a 8K  => ok',
        '  store a 1                      => ok',
        '',
      ].join('\n'),
    );
  });
});

describe('kernel paths under a schedule', () => {
  it('mmap, fetch and pkey_mprotect run as paths and interleave with another thread', () => {
    const m = new Machine({ cpus: 2, memory: 4 << 20, invariants: 'throw' });
    const p = m.spawn('p');
    const t = p.main;
    const t2 = p.spawnThread(1);
    const a = t.mmap(0, PAGE, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS) as number;
    const key = t.pkeyAlloc(0, 0) as number;
    const r = m.interleave([
      [t, t.paths.pkeyMprotect(a, PAGE, PROT_READ | PROT_EXEC, key)],
      [t2, t2.paths.fetch(a)],
    ]);
    assert.equal(r.results[0], 0);
    assert.equal(r.results[1], 0, 'keys never apply to a fetch, whichever ran first');
    const steps = r.steps.map((s) => s.tid);
    assert.ok(steps.includes(t.tid) && steps.includes(t2.tid));
    const mm = m.interleave([[t, t.paths.mmap(0, PAGE, RW, MAP_PRIVATE | MAP_ANONYMOUS)], [t2, t2.paths.store(a, 1)]]);
    assert.ok(!isErrno(mm.results[0]));
    assert.ok(isSignal(mm.results[1]), 'a store to a read-execute page faults');
  });

  it('remap_file_pages and the FreeBSD range calls run as paths', () => {
    const m = new Machine({ cpus: 2, memory: 4 << 20, variants: ['rfp-nonlinear'], invariants: 'throw' });
    m.createFile('/f', 4 * PAGE);
    const p = m.spawn('p');
    const t = p.main;
    const t2 = p.spawnThread(1);
    const fd = t.open('/f', O_RDWR) as number;
    const w = t.mmap(0, 4 * PAGE, RW, MAP_SHARED, fd, 0) as number;
    t.store(w + 3 * PAGE, 0x33);
    const r = m.interleave([[t, t.paths.remapFilePages(w, PAGE, 0, 3)], [t2, t2.paths.load(w)]], [t.tid, t2.tid]);
    assert.equal(r.results[0], 0);
    assert.ok(r.results[1] === 0 || r.results[1] === 0x33, 'the load sees file page 0 or 3, nothing else');
    assert.equal(t.load(w), 0x33);

    const f = new Machine({ os: 'freebsd', cpus: 2, memory: 4 << 20, invariants: 'throw' });
    const fp = f.spawn('p');
    const ft = fp.main;
    const ft2 = fp.spawnThread(1);
    const a = ft.mmap(0, PAGE, RW, MAP_PRIVATE | MAP_ANONYMOUS) as number;
    ft.store(a, 1);
    assert.equal(ft2.pkruSetPerm(3, true, false), 0);
    const fr = f.interleave([[ft, ft.paths.pkruProtectRange(a, PAGE, 3)], [ft2, ft2.paths.store(a, 2)]]);
    assert.equal(fr.results[0], 0);
    assert.ok(fr.results[1] === null || (isSignal(fr.results[1]) && fr.results[1].code === 'SEGV_PKUERR'));
    assert.ok(isSignal(ft2.store(a, 3)), 'once the key is in place the write-disabled thread faults');
    const un = f.interleave([[ft, ft.paths.pkruUnprotectRange(a, PAGE)]]);
    assert.equal(un.results[0], 0);
    assert.equal(ft2.store(a, 4), null);
  });
});

/**
 * Conditions of the scenario language (docs/scenario-language.md, "Conditions"): every
 * atom over a machine state the scenario builds, `and`/`or`/`not`/parentheses and their
 * precedence, the verdicts of `require`, `forbid` and `exists`, conditions evaluated where
 * they stand, and malformed atoms (diagnostics, or a failed condition with a message).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { type FinalOutcome } from '../../src/scenario/runner.js';
import { formatDiagnostic } from '../../src/scenario/diagnostics.js';
import { run, sc, spanCodes } from './_helpers.js';

/** The state most atoms are checked over; conditions follow it from line 22 on. */
const STATE = [
  'machine x86_64 cpus=2 memory=16M swap=16M', // 1
  'file /d "hello"',
  'process p cpu=0',
  '  a = mmap 4K rwx', // 4: stored to: present, writable, dirty, executable
  '  store a 0x11',
  '  b = mmap 4K rw', // 6: stored to, then PROT_NONE
  '  store b 0x22',
  '  mprotect b 4K none',
  '  c = mmap 4K rw', // 9: only read: the zero page, read-only, accessed
  '  load c',
  '  d = mmap 4K r', // 11: never touched
  '  e = mmap 8K rw', // 12: stored to, then swapped out
  '  store e 0x41',
  '  swapout e 4K',
  '  x = mmap 4K x', // 15: execute-only: key 1
  '  fetch x',
  '  f = mmap 4K r shared file=/d', // 17: never touched
  '  load 0', // 18: SIGSEGV SEGV_MAPERR
  'thread p.t1 cpu=1', // 19
  '  store a 0x12',
  '  load 0x1000', // 21: SIGSEGV SEGV_MAPERR
];

/** Runs STATE followed by `conditions`; their verdicts, in order. */
function verdicts(...conditions: string[]): FinalOutcome[] {
  const r = run(sc(...STATE, ...conditions));
  assert.deepEqual(r.diagnostics.map(formatDiagnostic), []);
  assert.equal(r.finals.length, conditions.length);
  return [...r.finals];
}

/** Every condition must hold (each is also checked under `forbid`, which must then fail). */
function allHold(...conditions: string[]): void {
  const rs = verdicts(...conditions.map((c) => `require ${c}`), ...conditions.map((c) => `forbid ${c}`));
  const n = conditions.length;
  for (let i = 0; i < n; i++) {
    assert.equal(rs[i].passed, true, `require ${conditions[i]}: ${rs[i].seen}`);
    assert.equal(rs[n + i].passed, false, `forbid ${conditions[i]}: ${rs[n + i].seen}`);
  }
}

/** Every condition must be false (so `require` fails and `forbid` passes). */
function noneHold(...conditions: string[]): void {
  const rs = verdicts(...conditions.map((c) => `require ${c}`), ...conditions.map((c) => `forbid ${c}`));
  const n = conditions.length;
  for (let i = 0; i < n; i++) {
    assert.equal(rs[i].passed, false, `require ${conditions[i]}: ${rs[i].seen}`);
    assert.equal(rs[n + i].passed, true, `forbid ${conditions[i]}: ${rs[n + i].seen}`);
  }
}

/** The diagnostics of STATE plus one condition line (line 22), as `line:column CODE`. */
function diagsOf(condition: string): string[] {
  return spanCodes(run(sc(...STATE, condition)).diagnostics);
}

describe('conditions: pte', () => {
  it('flags of present, protnone, read-only, empty and swapped entries', () => {
    allHold(
      'pte p a present',
      'pte p a writable',
      'pte p a user',
      'pte p a executable',
      'pte p a dirty',
      'pte p a accessed',
      'pte p b protnone',
      'pte p b dirty',
      'pte p c present',
      'pte p c accessed',
      'pte p d none',
      'pte p e swapped',
      'pte p e + 4K none',
      'pte p f none',
    );
    noneHold(
      'pte p a swapped',
      'pte p a none',
      'pte p a protnone',
      'pte p b present',
      'pte p b writable',
      'pte p c writable',
      'pte p c dirty',
      'pte p c executable',
      'pte p d present',
      'pte p d user',
      'pte p e present',
      'pte p 0 present',
    );
  });

  it('says what the entry is', () => {
    const [a, b, d, e] = verdicts('require pte p a present', 'require pte p b protnone', 'require pte p d none', 'require pte p e swapped');
    assert.equal(a.seen, 'pte is present, writable, dirty');
    assert.equal(b.seen, 'pte is protnone, read-only, dirty');
    assert.equal(d.seen, 'pte is none');
    assert.match(e.seen, /^pte is swapped \(slot \d+\)$/);
  });

  it('key and pfn fields', () => {
    allHold('pte p x key == 1', 'pte p x key != 0', 'pte p a key == 0', 'pte p a pfn > 0', 'pte p a pfn != 0');
    noneHold('pte p x key == 0', 'pte p a key > 0');
    // The pfn as the machine has it.
    const r = run(sc(...STATE));
    const p = r.names.processes.get('p');
    assert.ok(p);
    const aAddr = Number.parseInt(r.lines.find((l) => l.line === 4)?.result ?? '', 16);
    const pfn = p.pte(aAddr).pfn;
    assert.ok(pfn > 0);
    allHold(`pte p a pfn == ${pfn}`, `pte p a pfn == ${pfn - 1} + 1`, `pte p a pfn <= ${pfn}`, `pte p a pfn >= ${pfn}`);
    noneHold(`pte p a pfn == ${pfn + 1}`, `pte p a pfn < ${pfn}`);
    const [seen] = verdicts('require pte p a pfn == 0');
    assert.equal(seen.seen, `pte pfn is ${pfn < 16 ? String(pfn) : `0x${pfn.toString(16)}`}`);
  });

  it('after fork, parent and child map the same frame until one writes', () => {
    const r = run(
      sc('process p', '  a = mmap 4K rw', '  store a 1', '  q = fork', 'require pte p a pfn == 0 or pte p a pfn != 0', 'process q', '  store a 2'),
    );
    const p = r.names.processes.get('p');
    const q = r.names.processes.get('q');
    assert.ok(p && q);
    const addr = Number.parseInt(r.lines[0].result, 16);
    assert.notEqual(p.pte(addr).pfn, q.pte(addr).pfn);
    const pfnP = p.pte(addr).pfn;
    const r2 = run(sc('process p', '  a = mmap 4K rw', '  store a 1', '  q = fork', `require pte q a pfn == ${pfnP}`, `require pte p a pfn == ${pfnP}`, 'require not pte q a writable'));
    assert.equal(r2.passed, true, r2.finals.map((f) => f.seen).join('; '));
  });
});

describe('conditions: vma', () => {
  it('exists, prot and pkey', () => {
    allHold(
      'vma p a exists',
      'vma p d exists',
      'vma p a prot == rwx',
      'vma p b prot == ---',
      'vma p b prot == none',
      'vma p d prot == r--',
      'vma p d prot == r',
      'vma p c prot == rw',
      'vma p c prot != r--',
      'vma p x prot == --x',
      'vma p x pkey == 1',
      'vma p x pkey > 0',
      'vma p a pkey == 0',
      'vma p a pkey < 1',
    );
    noneHold('vma p 0 exists', 'vma p 0x1000 exists', 'vma p a prot == rw-', 'vma p a prot != rwx', 'vma p x pkey == 0', 'vma p 0 prot == ---', 'vma p 0 pkey == 0', 'vma p a nonlinear', 'vma p a manyprots');
    const [v, none] = verdicts('require vma p b exists', 'require vma p 0 exists');
    assert.match(v.seen, /^vma 0x[0-9a-f]+-0x[0-9a-f]+ ---p \[mr mw me\]$/);
    assert.equal(none.seen, 'no vma there');
  });
});

describe('conditions: tlb', () => {
  it('flags and the key of a CPU\'s entry', () => {
    allHold(
      'tlb cpu0 p a present',
      'tlb cpu0 p a writable',
      'tlb cpu0 p a user',
      'tlb cpu0 p a executable',
      'tlb cpu0 p a dirty',
      'tlb cpu0 p c present',
      'tlb cpu0 p x present',
      'tlb cpu0 p x key == 1',
      'tlb cpu0 p c key == 0',
      'tlb cpu0 p a pfn > 0',
      'tlb cpu1 p a present', // p.t1 stored there from CPU 1
      'tlb cpu1 p a writable',
    );
    noneHold(
      'tlb cpu0 p c writable',
      'tlb cpu0 p c executable',
      'tlb cpu0 p c dirty',
      'tlb cpu0 p b present', // PROT_NONE flushed it
      'tlb cpu0 p d present', // never touched
      'tlb cpu1 p c present', // only CPU 0 read it
      'tlb cpu0 p x key == 0',
      'tlb cpu1 p c key == 0', // no entry: a field comparison is false
    );
    const [seen, none] = verdicts('require tlb cpu0 p x present', 'require tlb cpu1 p c present');
    assert.match(seen.seen, /^cpu0 TLB entry pfn=\S+ U key=1$/);
    assert.equal(none.seen, 'cpu1 holds no translation');
  });

  it('a CPU the machine does not have is an error, as for counters', () => {
    // Fixed: like `counter cpu9 …`, `tlb cpu9 …` fails saying the machine has no CPU 9 (it passed vacuously).
    const [t, c] = verdicts('forbid tlb cpu9 p a present', 'forbid counter cpu9 tlbHits == 0');
    assert.equal(c.passed, false);
    assert.match(c.seen, /no CPU 9/);
    assert.equal(t.passed, false, t.seen);
    assert.match(t.seen, /no CPU 9/);
  });
});

describe('conditions: counter', () => {
  it('every comparison operator, true and false', () => {
    // p has 7 VMAs: a, b, c, d, e, x, f (none adjacent with equal flags merge).
    const [seen] = verdicts('require counter p vmas == 7');
    assert.equal(seen.passed, true, seen.seen);
    assert.equal(seen.seen, 'p vmas is 7');
    allHold('counter p vmas == 7', 'counter p vmas != 8', 'counter p vmas < 8', 'counter p vmas <= 7', 'counter p vmas > 6', 'counter p vmas >= 7');
    noneHold('counter p vmas == 8', 'counter p vmas != 7', 'counter p vmas < 7', 'counter p vmas <= 6', 'counter p vmas > 7', 'counter p vmas >= 8');
  });

  it('counters of a process', () => {
    allHold(
      'counter p minorFaults > 0',
      'counter p majorFaults == 0',
      'counter p cowCopies == 0',
      'counter p cowReuses == 0',
      'counter p spuriousFaults >= 0',
      'counter p swapOuts == 1',
      'counter p swapIns == 0',
      'counter p resident >= 3',
    );
  });

  it('counters of a CPU', () => {
    allHold(
      'counter cpu0 tlbHits >= 0',
      'counter cpu0 tlbMisses > 0',
      'counter cpu0 walks > 0',
      'counter cpu0 flushes > 0',
      'counter cpu0 fullFlushes >= 0',
      'counter cpu0 ipisSent >= 0',
      'counter cpu1 ipisReceived >= 0',
      'counter cpu0 pageFaults > 0',
      'counter cpu1 pageFaults > 0',
    );
  });

  it('counters of the machine', () => {
    allHold('counter machine freeFrames > 0', 'counter machine freeFrames < 4096', 'counter machine swapUsed == 1', 'counter machine pageTables > 0', 'counter machine pageCachePages >= 1');
  });

  it('copy-on-write and swap counters move', () => {
    const r = run(
      sc(
        'process p',
        '  a = mmap 8K rw',
        '  store a 1',
        '  store a + 4K 2',
        '  q = fork',
        'process q',
        '  store a 3',
        'process p',
        '  store a 4', // q copied it away: p reuses the frame
        '  store a + 4K 5', // still shared with q: p copies
        '  swapout',
        '  load a',
        'require counter q cowCopies == 1',
        'require counter p cowReuses == 1',
        'require counter p cowCopies == 1',
        'require counter p swapOuts == 2',
        'require counter p swapIns == 1',
        'require counter p majorFaults == 1',
      ),
    );
    assert.deepEqual(
      r.finals.filter((f) => !f.passed).map((f) => `${f.source}: ${f.seen}`),
      [],
    );
  });
});

describe('conditions: value', () => {
  it('reads resident, swapped-out and file-backed pages without faulting them in', () => {
    allHold(
      'value p a == 0x12',
      'value p e == 0x41', // swapped out
      'value p e + 1 == 0',
      'value p e + 4K == 0', // never touched
      'value p f == 0x68', // file-backed, never touched: the file's byte
      'value p f + 4 == 0x6f',
      'value p f + 5 == 0', // past EOF in the last page
      'value p c == 0',
      'value p d == 0',
      'value p a != 0x11',
      'value p a > 0x11',
    );
    // Reading did not fault anything in.
    allHold('pte p e swapped', 'pte p f none', 'pte p d none');
  });

  it('an unmapped address makes the atom false, whatever the comparison', () => {
    noneHold('value p 0 == 0', 'value p 0 != 0', 'value p 0x1000 >= 0');
    allHold('not value p 0 == 0');
    const [v] = verdicts('require value p 0 == 0');
    assert.equal(v.seen, 'nothing is mapped there');
  });

  it('a PROT_NONE page reads as its content', () => {
    allHold('value p b == 0x22');
  });

  it('compares with names and arithmetic', () => {
    const r = run(sc('process p', '  a = mmap 8K rw', '  store a + 4K 0x20', '  n = load a + 4K', 'require value p a + 8K - 4K == n', 'require value p a + 4K == n - 0x10 + 0x10'));
    assert.equal(r.passed, true, r.finals.map((f) => f.seen).join('; '));
  });
});

describe('conditions: signal, alive, invariant', () => {
  it('signal with and without a code, by thread', () => {
    allHold('signal p SIGSEGV', 'signal p SIGSEGV SEGV_MAPERR', 'signal p.main SIGSEGV', 'signal p.t1 SIGSEGV SEGV_MAPERR');
    noneHold('signal p SIGBUS', 'signal p SIGSEGV SEGV_ACCERR', 'signal p SIGSEGV SEGV_PKUERR');
    const [s] = verdicts('require signal p SIGSEGV');
    assert.equal(s.seen, 'signals: SIGSEGV SEGV_MAPERR');
    const r = run(sc('process p', '  a = mmap 4K rw', 'require not signal p SIGSEGV'));
    assert.equal(r.finals[0].passed, true);
    assert.equal(r.finals[0].seen, 'no signals');
  });

  it('an unknown signal name in a condition is a diagnostic', () => {
    // Fixed: conditions check signal names and codes (MMS3006) as expectations do.
    assert.deepEqual(diagsOf('forbid signal p SIGSEV'), ['22:17 MMS3006']);
    assert.deepEqual(diagsOf('forbid signal p SIGSEGV SEGV_BOGUS'), ['22:25 MMS3006']);
  });

  it('alive', () => {
    allHold('alive p');
    const r = run(sc('process p', '  exit', 'process q', '  load 0', 'require not alive p', 'require alive q', 'forbid alive p'));
    assert.deepEqual(r.finals.map((f) => [f.passed, f.seen]), [[true, 'not alive'], [true, 'alive'], [true, 'not alive']]);
  });

  it('invariant: each holds here', () => {
    const ids = ['no-excess-rights', 'no-stale-tlb', 'no-pt-use-after-free', 'no-wx', 'keys-enforced', 'accounting'];
    allHold(...ids.map((id) => `invariant ${id}`));
    const [v] = verdicts('require invariant accounting');
    assert.equal(v.seen, 'accounting holds');
  });
});

describe('conditions: and, or, not, parentheses', () => {
  it('and and or', () => {
    allHold('alive p and vma p a exists', 'alive p or vma p 0 exists', 'vma p 0 exists or alive p');
    noneHold('alive p and vma p 0 exists', 'vma p 0 exists and alive p', 'vma p 0 exists or pte p 0 present');
    const [v] = verdicts('require alive p and counter p vmas == 7');
    assert.equal(v.seen, 'alive; p vmas is 7');
  });

  it('not binds tightest, then and, then or', () => {
    // `not X or Y` is `(not X) or Y`: true with X and Y true (not `not (X or Y)`).
    allHold('not alive p or alive p');
    // `X or Y and Z` is `X or (Y and Z)`.
    allHold('alive p or alive p and not alive p');
    // `not X and Y` is `(not X) and Y`.
    noneHold('not alive p and alive p');
    allHold('not vma p 0 exists and alive p');
    // Double negation.
    allHold('not not alive p');
  });

  it('parentheses group', () => {
    noneHold('(alive p or alive p) and not alive p', 'not (alive p or vma p 0 exists)');
    allHold('not (alive p and vma p 0 exists)', '((alive p))', '(vma p 0 exists or (alive p and pte p a present))');
  });
});

describe('conditions: verdicts and placement', () => {
  it('require and exists ask that the condition holds, forbid that it does not', () => {
    const [r1, r2, e1, e2, f1, f2] = verdicts('require alive p', 'require not alive p', 'exists alive p', 'exists not alive p', 'forbid alive p', 'forbid not alive p');
    assert.deepEqual([r1, r2, e1, e2, f1, f2].map((f) => f.passed), [true, false, true, false, false, true]);
    const r = run(sc(...STATE, 'require alive p', 'forbid alive p'));
    assert.equal(r.passed, false, 'a failed condition fails the report');
    assert.equal(run(sc(...STATE.slice(0, 5), 'require alive p', 'forbid vma p 0 exists')).passed, true);
  });

  it('a condition is checked where it stands, over the state above it', () => {
    const r = run(
      sc(
        'process p', // 1
        '  a = mmap 4K rw',
        '  store a 1',
        'require value p a == 1', // 4
        'forbid pte p a swapped',
        'swapout p',
        'require pte p a swapped', // 7
        'require value p a == 1',
        'process p',
        '  store a 2',
        'require value p a == 2', // 11
        'require pte p a present',
        'process p',
        '  munmap a 4K',
        'forbid vma p a exists', // 15
      ),
    );
    assert.deepEqual(
      r.finals.map((f) => [f.line, f.passed]),
      [[4, true], [5, true], [7, true], [8, true], [11, true], [12, true], [15, true]],
    );
    assert.equal(r.finals[0].source, 'require value p a == 1');
    assert.equal(r.passed, true);
  });
});

describe('conditions: malformed atoms', () => {
  it('an unknown subject is a diagnostic at it', () => {
    assert.deepEqual(diagsOf('require bogus p a'), ['22:9 MMS2005']);
    assert.deepEqual(diagsOf('require alive p and bogus'), ['22:21 MMS2005']);
    assert.deepEqual(diagsOf('require maps p'), ['22:9 MMS2005']);
  });

  it('a missing comparison is a diagnostic', () => {
    assert.deepEqual(diagsOf('require counter p vmas'), ['22:23 MMS2005']);
    assert.deepEqual(diagsOf('require value p a'), ['22:18 MMS2005']);
    assert.deepEqual(diagsOf('require vma p a prot'), ['22:21 MMS2005']);
    assert.deepEqual(diagsOf('require pte p a key'), ['22:9 MMS2005']);
    assert.deepEqual(diagsOf('require vma p a pkey'), ['22:9 MMS2005']);
    assert.deepEqual(diagsOf('require tlb cpu0 p a key'), ['22:9 MMS2005']);
    assert.deepEqual(diagsOf('require counter p vmas =='), ['22:26 MMS2005']);
  });

  it('a comparison on a yes/no property is a diagnostic', () => {
    assert.deepEqual(diagsOf('require pte p a present == 1'), ['22:9 MMS2005']);
    assert.deepEqual(diagsOf('require vma p a exists == 1'), ['22:9 MMS2005']);
    assert.deepEqual(diagsOf('require tlb cpu0 p a writable != 0'), ['22:9 MMS2005']);
    assert.deepEqual(diagsOf('require alive p == 1'), ['22:17 MMS2005']);
    assert.deepEqual(diagsOf('require signal p SIGSEGV == 1'), ['22:26 MMS2005']);
    assert.deepEqual(diagsOf('require invariant no-wx == 1'), ['22:25 MMS2005']);
  });

  it('wrong properties, protections and shapes are diagnostics', () => {
    assert.deepEqual(diagsOf('require pte p a bogus'), ['22:17 MMS3004']);
    assert.deepEqual(diagsOf('require tlb cpu0 p a bogus'), ['22:22 MMS3004']);
    assert.deepEqual(diagsOf('require invariant bogus'), ['22:19 MMS3004']);
    assert.deepEqual(diagsOf('require vma p a prot == 3'), ['22:25 MMS2005']);
    assert.deepEqual(diagsOf('require vma p a prot < r--'), ['22:9 MMS2005']);
    assert.deepEqual(diagsOf('require tlb cpuX p a present'), ['22:13 MMS2005']);
    assert.deepEqual(diagsOf('require pte p a'), ['22:16 MMS2005']);
    assert.deepEqual(diagsOf('require (alive p'), ['22:17 MMS2005']);
    assert.deepEqual(diagsOf('require alive p and'), ['22:20 MMS2005']);
    // Nothing ran.
    assert.deepEqual(run(sc(...STATE, 'require bogus')).lines, []);
  });

  it('an unknown counter name fails the condition with a message', () => {
    const [c1, c2, c3, c4] = verdicts('require counter p bogus == 1', 'forbid counter machine bogus == 1', 'require counter cpu9 tlbHits == 0', 'require not counter cpu0 bogus == 0');
    assert.equal(c1.passed, false);
    assert.match(c1.seen, /^no counter 'bogus' for p; there are: minorFaults, .*vmas$/);
    assert.equal(c2.passed, false, 'forbid does not pass on an error either');
    assert.match(c2.seen, /no counter 'bogus' for machine; there are: .*freeFrames/);
    assert.equal(c3.passed, false);
    assert.equal(c3.seen, 'the machine has no CPU 9');
    assert.equal(c4.passed, false, 'not does not turn an error into a pass');
  });

  it('an unknown process or thread, or an unbound name, fails the condition with a message', () => {
    const [p, t, n] = verdicts('forbid pte zz a present', 'forbid signal p.t9 SIGSEGV', 'forbid value p zz == 0');
    assert.deepEqual([p.passed, t.passed, n.passed], [false, false, false]);
    assert.equal(p.seen, "no process 'zz' exists here");
    assert.equal(t.seen, "no thread 'p.t9' exists here");
    assert.match(n.seen, /'zz' has no value here/);
  });
});

/**
 * Property tests of the scenario runner: every example scenario, with one to five random
 * mutations (lines deleted, duplicated or swapped; a number changed; a word replaced by
 * another word of the language; an `=>` expectation dropped or added; indentation
 * changed), and random scenarios of operation lines generated from the grammar, run to
 * the end: `runScenario` never throws (it reports diagnostics or outcomes), every run is
 * quick, a report with diagnostics ran nothing, and every diagnostic points inside the text.
 *
 * The properties check timing and "diagnostics ⇒ nothing ran" as they go (fast-check
 * shrinks a failure to a small scenario); exceptions and misplaced diagnostics are
 * collected, and once all runs are done the same test lists each distinct one with the
 * shortest scenario that produced it, so that one known defect does not hide the others.
 *
 * RUNNER_SEED=n RUNNER_SCALE=k run them with another seed and k times as many runs.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { runScenario, type RunReport } from '../../src/scenario/runner.js';
import { formatDiagnostic } from '../../src/scenario/diagnostics.js';
import { EXAMPLES_DIR, exampleFiles } from './_helpers.js';

const SEED = Number(process.env['RUNNER_SEED'] ?? 0x2f7e1);
const SCALE = Number(process.env['RUNNER_SCALE'] ?? 1);
/** The longest one run may take. Runs take a few milliseconds; this is for slow CI machines. */
const LIMIT_MS = 2000;

// ---- The examples -----------------------------------------------------------------------

const EXAMPLES: readonly { readonly path: string; readonly text: string }[] = exampleFiles().map((path) => ({ path, text: readFileSync(path, 'utf8') }));

// ---- Checking one run -------------------------------------------------------------------

/** Problems that do not stop a property (so one defect does not hide the others): description → shortest scenario. */
type Problems = Map<string, string>;

function note(problems: Problems, what: string, text: string): void {
  const key = what.replace(/0x[0-9a-f]+/g, 'N').replace(/\d+/g, 'N');
  const seen = problems.get(key);
  if (seen === undefined || text.length < seen.length) problems.set(key, text);
}

/**
 * Runs one scenario. Asserts (so fast-check shrinks a failure) that the run was quick and
 * that a report with diagnostics ran nothing; records an exception or a diagnostic
 * outside the text in `problems`.
 */
function check(text: string, problems: Problems): void {
  const t0 = performance.now();
  let r: RunReport;
  try {
    r = runScenario(text, 'm.mms');
  } catch (e) {
    note(problems, `runScenario threw ${e instanceof Error ? `${e.constructor.name}: ${e.message}` : String(e)}`, text);
    return;
  } finally {
    const ms = performance.now() - t0;
    assert.ok(ms < LIMIT_MS, `the run took ${ms.toFixed(0)} ms:\n${text}`);
  }
  if (r.diagnostics.length > 0) {
    assert.deepEqual(r.lines, [], `a report with diagnostics ran lines:\n${text}\n${r.diagnostics.map(formatDiagnostic).join('\n')}`);
    assert.deepEqual(r.finals, [], `a report with diagnostics evaluated conditions:\n${text}`);
    assert.equal(r.passed, false);
    assert.equal(r.machine, null);
  }
  const lines = text.split(/\r\n|\r|\n/);
  const inside = (line: number, column: number): boolean => line >= 1 && line <= lines.length && column >= 1 && column <= lines[line - 1].length + 1;
  for (const d of r.diagnostics) {
    if (!inside(d.span.line, d.span.column)) note(problems, `diagnostic outside the text: ${formatDiagnostic(d)}`, text);
  }
  for (const l of r.lines) {
    if (l.error !== null && !inside(l.error.span.line, l.error.span.column)) note(problems, `runtime error outside the text: ${formatDiagnostic(l.error)}`, text);
  }
}

function report(problems: Problems): string {
  return [...problems].map(([what, text]) => `${what}\n--- shortest scenario:\n${text}\n---`).join('\n\n');
}

// ---- Mutations --------------------------------------------------------------------------

/** Words of the language: operations, statements, flags, properties, names. */
const WORDS = [
  ...['mmap', 'munmap', 'mprotect', 'mremap', 'madvise', 'msync', 'open', 'close', 'pread', 'pwrite', 'ftruncate'],
  ...['load', 'store', 'fetch', 'fork', 'exec', 'exit', 'swapout', 'reclaim', 'check', 'file', 'pkey_mprotect'],
  ...['machine', 'process', 'thread', 'concurrent', 'schedule', 'require', 'forbid', 'exists'],
  ...['private', 'shared', 'shared-validate', 'anon', 'fixed', 'noreplace', 'populate', 'locked', 'growsdown', 'hugetlb', 'MAP_SHARED'],
  ...['maymove', 'dontunmap', 'dontneed', 'normal', 'willneed', 'sync', 'async', 'invalidate', 'rdonly', 'wronly', 'rdwr', 'creat', 'trunc'],
  ...['rw', 'r--', 'rwx', '---', 'none', 'x', 'rw-'],
  ...['pte', 'vma', 'tlb', 'counter', 'value', 'signal', 'alive', 'invariant', 'and', 'or', 'not', 'ok'],
  ...['present', 'writable', 'swapped', 'dirty', 'protnone', 'key', 'pfn', 'exists', 'prot', 'pkey', 'cpu0', 'cpu1', 'cpu7'],
  ...['cowCopies', 'vmas', 'majorFaults', 'swapUsed', 'freeFrames', 'no-stale-tlb', 'accounting'],
  ...['p', 'q', 'a', 'f', 'p.t1', 'p.main', 'q.t2', '/data', 'x86_64', 'SIGSEGV', 'SIGBUS', 'SEGV_MAPERR', 'EINVAL', 'EEXIST'],
  ...['remap_file_pages', 'chgprot', 'nonblock', 'pkru_protect', 'pkru_unprotect', 'x86_pkru_set_perm', 'x86_pkru_get_perm', 'sigenter', 'sigreturn'],
  ...['pkey_alloc', 'pkey_set', 'rdpkru', 'excl', 'persist', 'pkru_range', 'nonlinear', 'manyprots', 'file', 'pgoff', 'freebsd', 'linux'],
];

/**
 * Numbers a mutation may write. They stay small (at most 1M, so `mmap … populate` and
 * `reclaim` stay quick), with the edge cases the language allows: negative numbers and
 * the largest exact integer.
 */
const NUMBERS = ['0', '1', '2', '3', '7', '16', '255', '0x11', '4095', '4K', '8K', '12K', '64K', '1M', '0x1000', '-1', '-4K', '0x1fffffffffffff'];

const EXPECTATIONS = ['ok', '0', '1', '0x11', 'a', 'a + 4K', 'EINVAL', 'ENOMEM', 'EEXIST', 'SIGSEGV', 'SIGSEGV SEGV_MAPERR', 'SIGSEGV SEGV_ACCERR addr=a', 'SIGBUS BUS_ADRERR', 'SIGSEGV SEGV_PKUERR key=1'];

type Mutation =
  | { readonly kind: 'delete-line' | 'dup-line' | 'drop-expect'; readonly at: number }
  | { readonly kind: 'swap-lines'; readonly at: number; readonly other: number }
  | { readonly kind: 'number'; readonly at: number; readonly nth: number; readonly value: string }
  | { readonly kind: 'word'; readonly at: number; readonly nth: number; readonly word: string }
  | { readonly kind: 'add-expect'; readonly at: number; readonly expect: string }
  | { readonly kind: 'indent'; readonly at: number; readonly width: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constantFrom('delete-line' as const, 'dup-line' as const, 'drop-expect' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('swap-lines' as const), at: fc.nat(), other: fc.nat() }),
  fc.record({ kind: fc.constant('number' as const), at: fc.nat(), nth: fc.nat(), value: fc.constantFrom(...NUMBERS) }),
  fc.record({ kind: fc.constant('word' as const), at: fc.nat(), nth: fc.nat(), word: fc.constantFrom(...WORDS) }),
  fc.record({ kind: fc.constant('add-expect' as const), at: fc.nat(), expect: fc.constantFrom(...EXPECTATIONS) }),
  fc.record({ kind: fc.constant('indent' as const), at: fc.nat(), width: fc.integer({ min: 0, max: 6 }) }),
);

/** A number written in the language, alone or as an option's value (`cpus=2`, `at=0x1000`). */
const NUMBER_RE = /(^|=)-?(?:0x[0-9a-fA-F]+|[0-9]+)[KMG]?$/;
/** A bare word (not a number, string, option or operator). */
const WORD_RE = /^[A-Za-z_/][A-Za-z0-9_./-]*$/;

/** Applies `f` to the `nth` (wrapping) whitespace-separated token of `line` that `test` accepts. */
function replaceToken(line: string, nth: number, test: (t: string) => boolean, f: (t: string) => string): string {
  const parts = line.split(/(\s+)/);
  const hits = parts.map((t, i) => (t.length > 0 && !/^\s/.test(t) && test(t) ? i : -1)).filter((i) => i >= 0);
  if (hits.length === 0) return line;
  const i = hits[nth % hits.length];
  parts[i] = f(parts[i]);
  return parts.join('');
}

function mutate(lines: string[], m: Mutation): string[] {
  if (lines.length === 0) return lines;
  const i = m.at % lines.length;
  const out = lines.slice();
  const l = out[i];
  switch (m.kind) {
    case 'delete-line':
      out.splice(i, 1);
      return out;
    case 'dup-line':
      out.splice(i, 0, l);
      return out;
    case 'swap-lines': {
      const j = m.other % lines.length;
      [out[i], out[j]] = [out[j], out[i]];
      return out;
    }
    case 'number':
      out[i] = replaceToken(l, m.nth, (t) => NUMBER_RE.test(t), (t) => t.replace(/-?(?:0x[0-9a-fA-F]+|[0-9]+)[KMG]?$/, m.value));
      return out;
    case 'word':
      out[i] = replaceToken(l, m.nth, (t) => WORD_RE.test(t), () => m.word);
      return out;
    case 'drop-expect': {
      const k = l.indexOf('=>');
      if (k >= 0) out[i] = l.slice(0, k).trimEnd();
      return out;
    }
    case 'add-expect': {
      const hash = l.indexOf('#');
      const code = (hash >= 0 ? l.slice(0, hash) : l).trimEnd();
      if (code.trim() !== '') out[i] = `${code.includes('=>') ? code.slice(0, code.indexOf('=>')).trimEnd() : code} => ${m.expect}`;
      return out;
    }
    case 'indent':
      out[i] = ' '.repeat(m.width) + l.trimStart();
      return out;
  }
}

// ---- Scenarios generated from the grammar -------------------------------------------------

const pick = <T>(...xs: T[]): fc.Arbitrary<T> => fc.constantFrom(...xs);

const len = pick('0', '1', '4K', '4K', '8K', '8K', '12K', '16K', '64K', '4097', '-4K');
const name = pick('a', 'b', 'c');
const addr = fc.oneof(
  { weight: 4, arbitrary: name },
  { weight: 3, arbitrary: fc.tuple(name, pick('4K', '8K', '1', '4095', '12K')).map(([n, o]) => `${n} + ${o}`) },
  { weight: 1, arbitrary: pick('0', '0x1000', '0x10000000', '0x7ffff7ffe000', '-1') },
);
const prot = pick('rw', 'rw-', 'r--', 'r', 'rwx', 'x', 'none', '---', 'w');
const mapFlags = fc.oneof(
  pick('private anon', 'shared anon', 'private', 'shared anon populate', 'private anon locked', 'private anon growsdown', 'shared file=/f', 'private file=/f', 'shared fd=fd', 'shared-validate fd=fd offset=4K'),
  addr.map((a) => `private anon fixed at=${a}`),
  addr.map((a) => `private anon noreplace at=${a}`),
);
const value = pick('0', '1', '0x41', '255', '0x1234', '-1');
const size = pick('', '', ' size=1', ' size=2', ' size=4');

const pgoff = pick('0', '1', '3', '7', '0x10000000000', '-1');
const remapFlags = pick('', '', ' chgprot', ' nonblock', ' chgprot nonblock', ' flags=0x20000');
const key = pick('0', '1', '3', '15', '16', '-1');

/** Operations only one personality has. */
const linuxOnly: fc.Arbitrary<string> = fc.oneof(
  fc.tuple(addr, len, pick('none', 'rw', 'r--', 'rwx'), pgoff, remapFlags).map(([a, l, p, o, f]) => `remap_file_pages ${a} ${l} ${p} ${o}${f}`),
  pick('k = pkey_alloc', 'k = pkey_alloc write-disable', 'pkey_free 1', 'pkey_set 1 none', 'pkey_set 1 access-disable', 'rdpkru', 'wrpkru 0'),
  fc.tuple(addr, len, prot, key).map(([a, l, p, k]) => `pkey_mprotect ${a} ${l} ${p} ${k}`),
);
const freebsdOnly: fc.Arbitrary<string> = fc.oneof(
  fc.tuple(addr, len, key, pick('', ' excl', ' persist', ' excl persist', ' flags=2')).map(([a, l, k, f]) => `pkru_protect ${a} ${l} key=${k}${f}`),
  fc.tuple(addr, len).map(([a, l]) => `pkru_unprotect ${a} ${l}`),
  fc.tuple(key, pick('0', '1'), pick('0', '1')).map(([k, x, w]) => `x86_pkru_set_perm ${k} ${x} ${w}`),
  key.map((k) => `x86_pkru_get_perm ${k}`),
);

/** One operation line (without indentation), for a personality. */
const opLineFor = (os: 'linux' | 'freebsd'): fc.Arbitrary<string> => fc.oneof(
  { weight: 3, arbitrary: os === 'linux' ? linuxOnly : freebsdOnly },
  { weight: 1, arbitrary: pick('sigenter', 'sigreturn') },
  { weight: 20, arbitrary: opLine },
);

/** One operation line (without indentation) that both personalities have. */
const opLine: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.tuple(name, len, prot, mapFlags).map(([n, l, p, f]) => `${n} = mmap ${l} ${p} ${f}`) },
  { weight: 2, arbitrary: fc.tuple(addr, len).map(([a, l]) => `munmap ${a} ${l}`) },
  { weight: 2, arbitrary: fc.tuple(addr, len, prot).map(([a, l, p]) => `mprotect ${a} ${l} ${p}`) },
  { weight: 2, arbitrary: fc.tuple(name, addr, len, len, pick('', 'maymove', 'maymove dontunmap', 'maymove fixed to=0x10000000', 'fixed')).map(([n, a, o, l, f]) => `${n} = mremap ${a} ${o} ${l} ${f}`) },
  { weight: 1, arbitrary: fc.tuple(addr, len, pick('dontneed', 'normal', 'random', 'sequential', 'willneed')).map(([a, l, w]) => `madvise ${a} ${l} ${w}`) },
  { weight: 1, arbitrary: fc.tuple(addr, len, pick('sync', 'async', 'invalidate', 'sync invalidate')).map(([a, l, w]) => `msync ${a} ${l} ${w}`) },
  { weight: 1, arbitrary: pick('fd = open /f', 'fd = open /f rdonly', 'fd = open /f wronly', 'g = open /g creat', 'fd = open /f trunc', 'close fd', 'close 3') },
  { weight: 1, arbitrary: fc.tuple(pick('pread', 'pwrite'), addr, pick('1', '16', '4K', '8K'), pick('0', '4K', '100')).map(([o, a, l, off]) => `${o} fd ${a} ${l} ${off}`) },
  { weight: 1, arbitrary: pick('ftruncate fd 0', 'ftruncate fd 4K', 'ftruncate fd 16K') },
  { weight: 6, arbitrary: fc.tuple(addr, size).map(([a, s]) => `load ${a}${s}`) },
  { weight: 6, arbitrary: fc.tuple(addr, value, size).map(([a, v, s]) => `store ${a} ${v}${s}`) },
  { weight: 1, arbitrary: addr.map((a) => `fetch ${a}`) },
  { weight: 1, arbitrary: pick('q = fork', 'q = fork cpu=1', 'r = fork cpu=0', 'exec', 'exit', 'exit 3', 'check', 'swapout', 'swapout a 4K', 'swapout p', 'swapout p a 8K', 'reclaim 1', 'reclaim 16') },
);

/** An operation line, sometimes with an expectation. */
const statementFor = (os: 'linux' | 'freebsd'): fc.Arbitrary<string> =>
  fc.tuple(opLineFor(os), fc.option(fc.constantFrom(...EXPECTATIONS), { freq: 3 })).map(([op, e]) => (e === null ? op : `${op} => ${e}`));

const atom = fc.oneof(
  fc.tuple(pick('p', 'q'), addr, pick('present', 'writable', 'dirty', 'swapped', 'none', 'protnone', 'key == 0', 'pfn != 0')).map(([p, a, w]) => `pte ${p} ${a} ${w}`),
  fc.tuple(pick('p', 'q'), addr, pick('exists', 'prot == rw-', 'pkey == 1')).map(([p, a, w]) => `vma ${p} ${a} ${w}`),
  fc.tuple(pick('cpu0', 'cpu1'), addr, pick('present', 'writable', 'key == 1')).map(([c, a, w]) => `tlb ${c} p ${a} ${w}`),
  pick('counter p vmas >= 1', 'counter q cowCopies == 1', 'counter cpu1 flushes > 0', 'counter machine swapUsed < 3', 'alive q', 'signal p SIGSEGV', 'invariant no-stale-tlb', 'invariant accounting'),
  fc.tuple(pick('p', 'q'), addr, value).map(([p, a, v]) => `value ${p} ${a} == ${v}`),
);
const condition = fc.tuple(pick('require', 'forbid', 'exists'), atom, fc.option(fc.tuple(pick('and', 'or', 'and not'), atom), { freq: 3 })).map(
  ([q, a, more]) => `${q} ${a}${more === null ? '' : ` ${more[0]} ${more[1]}`}`,
);

/** A block: a process or thread header and its lines, or a concurrent block with an optional schedule. */
const blockFor = (os: 'linux' | 'freebsd'): fc.Arbitrary<string[]> => {
  const statement = statementFor(os);
  return fc.oneof(
  { weight: 4, arbitrary: fc.tuple(pick('process p', 'process q', 'thread p.t1', 'process p cpu=1'), fc.array(statement, { minLength: 1, maxLength: 6 })).map(([h, ss]) => [h, ...ss.map((s) => `  ${s}`)]) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.array(statement, { minLength: 1, maxLength: 3 }), fc.array(statement, { minLength: 1, maxLength: 3 }), fc.option(fc.array(pick('p', 'p.t1', 'p.main'), { minLength: 1, maxLength: 12 })))
      .map(([s1, s2, sched]) => [
        'concurrent',
        '  thread p',
        ...s1.map((s) => `    ${s}`),
        '  thread p.t1',
        ...s2.map((s) => `    ${s}`),
        ...(sched === null ? [] : [`schedule ${sched.join(' ')}`]),
      ]),
  },
  { weight: 1, arbitrary: fc.array(condition, { minLength: 1, maxLength: 3 }) },
  { weight: 1, arbitrary: pick(['swapout p'], ['reclaim 4'], ['check'], ['swapout q a 4K']) },
  );
};

/** The machines scenarios run on: both personalities and every variant. */
const MACHINES: Readonly<Record<'linux' | 'freebsd', readonly string[]>> = {
  linux: ['', ' variant=rfp-nonlinear', ' variant=rfp-manyprots', ' variant=manyprots-mprotect-resets', ' variant=manyprots-fault-race-bug'].map((v) => `machine x86_64 cpus=2 memory=16M swap=16M${v}`),
  freebsd: ['', ' variant=pkru-swapout-bug'].map((v) => `machine x86_64 os=freebsd cpus=2 memory=16M swap=16M${v}`),
};

/** The start of every generated scenario after its machine line: a file, and the names the operations use. */
const PROLOGUE = [
  'file /f size=8K',
  'process p',
  '  a = mmap 16K rw private anon',
  '  b = mmap 8K rw shared anon',
  '  fd = open /f',
  '  c = mmap 8K rw shared fd=fd',
  '  store a 1',
  '  q = fork cpu=1',
  'thread p.t1 cpu=1',
];

/** A whole scenario: a machine, the prologue, then random blocks in the machine's personality. */
const generatedFor = (os: 'linux' | 'freebsd'): fc.Arbitrary<string> =>
  fc.tuple(fc.constantFrom(...MACHINES[os]), fc.array(blockFor(os), { minLength: 1, maxLength: 5 })).map(([machine, blocks]) => [machine, ...PROLOGUE, ...blocks.flat()].join('\n'));
const generated: fc.Arbitrary<string> = fc.oneof({ weight: 3, arbitrary: generatedFor('linux') }, { weight: 2, arbitrary: generatedFor('freebsd') });

// ---- The properties ---------------------------------------------------------------------

describe('runner properties: mutated examples', () => {
  before(() => {
    assert.ok(EXAMPLES.length >= 7, `found only ${EXAMPLES.length} examples in ${EXAMPLES_DIR}`);
  });

  it('the examples themselves run without diagnostics and pass', () => {
    for (const e of EXAMPLES) {
      const r = runScenario(e.text, e.path);
      assert.deepEqual(r.diagnostics.map(formatDiagnostic), [], e.path);
      assert.equal(r.passed, true, e.path);
    }
  });

  it('mutated examples run quickly, a report with diagnostics ran nothing, runScenario never throws, and every diagnostic points inside the text', () => {
    const problems: Problems = new Map();
    fc.assert(
      fc.property(fc.constantFrom(...EXAMPLES), fc.array(mutation, { minLength: 1, maxLength: 5 }), (e, ms) => {
        const text = ms.reduce(mutate, e.text.split('\n')).join('\n');
        check(text, problems);
      }),
      { seed: SEED, numRuns: 450 * SCALE },
    );
    assert.equal(problems.size, 0, report(problems));
  });
});

describe('runner properties: scenarios generated from the grammar', () => {
  it('generated scenarios run quickly, a report with diagnostics ran nothing, runScenario never throws, and every diagnostic points inside the text', () => {
    const problems: Problems = new Map();
    fc.assert(
      fc.property(generated, (text) => {
        check(text, problems);
      }),
      { seed: SEED, numRuns: 300 * SCALE },
    );
    assert.equal(problems.size, 0, report(problems));
  });

  it('the prologue alone runs and passes on every machine', () => {
    for (const machine of [...MACHINES.linux, ...MACHINES.freebsd]) {
      const r = runScenario([machine, ...PROLOGUE].join('\n'), 'g.mms');
      assert.deepEqual(r.diagnostics.map(formatDiagnostic), [], machine);
      assert.equal(r.passed, true, machine);
      assert.equal(r.lines.length, 7, machine);
      assert.ok(r.lines.every((l) => !/^E[A-Z]+$/.test(l.result)), `${machine}: the prologue binds every name`);
    }
  });
});

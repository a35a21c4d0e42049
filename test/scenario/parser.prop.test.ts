/**
 * Property tests of the scenario parser: whatever the input — random text, random bytes,
 * valid scenarios with characters, tokens and lines deleted, duplicated, swapped or
 * inserted — parsing never throws, takes a few milliseconds, and every diagnostic and
 * every node points inside the text. Valid scenarios generated from the grammar parse
 * without diagnostics, each statement's span covering exactly what was written.
 *
 * PARSER_SEED=n PARSER_SCALE=k run them with another seed and k times as many runs.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { COW_EXAMPLE } from './_helpers.js';
import { DIAGNOSTIC_CODES, type Diagnostic } from '../../src/scenario/diagnostics.js';
import { parseScenario } from '../../src/scenario/parser.js';
import { splitLines } from '../../src/scenario/scanner.js';
import type { Span } from '../../src/scenario/ast.js';

/** PARSER_SEED and PARSER_SCALE (a multiplier of the number of runs) hunt with other seeds locally. */
const SEED = Number(process.env['PARSER_SEED'] ?? 0x5ce4a);
const SCALE = Number(process.env['PARSER_SCALE'] ?? 1);
/** Per-input time limit, generous for slow CI machines; inputs parse in well under 1 ms. */
const LIMIT_MS = 25;

const VALID = [
  COW_EXAMPLE,
  `machine x86_64 cpus=2 pku=on
file /data size=8K
file /etc/motd "hi\\n\\x00" mode=ro
process p
  a = mmap 8K rw shared file=/data
  k = pkey_alloc write-disable
  pkey_mprotect a 4K rw k
  store a 1 => SIGSEGV SEGV_PKUERR key=k
  load a + 4K => SIGBUS BUS_ADRERR addr=a + 8K
  munmap a 0 => EINVAL
  mprotect a 4K r-- => ok
thread p.t1 cpu=1
  load a
concurrent
  thread p
    store a 1
  thread p.t1
    munmap a 4K
schedule p p.t1 p.t1 p
swapout p a 4K
reclaim 64
check
require vma p a prot == r-- and not (tlb cpu1 p a writable or value p a != -1)
exists signal p.t1 SIGSEGV SEGV_MAPERR or alive p
forbid invariant no-stale-tlb
`,
];

/**
 * How long parsing `text` takes: the best of a few tries when the first is slow, so that a
 * garbage collection or a busy machine is not taken for a slow parser.
 */
function timeParse(text: string): number {
  let best = Infinity;
  for (let i = 0; i < 4 && best >= LIMIT_MS; i++) {
    const t0 = performance.now();
    parseScenario(text, 'p.mms');
    best = Math.min(best, performance.now() - t0);
  }
  return best;
}

/** Checks one parse: no exception, time, and every span inside the text. */
function check(text: string): void {
  const r = parseScenario(text, 'p.mms');
  const ms = timeParse(text);
  assert.ok(ms < LIMIT_MS, `parsing took ${ms.toFixed(1)} ms: ${JSON.stringify(text.slice(0, 200))}`);
  const lines = splitLines(text);
  const inside = (s: Span, what: string): void => {
    const ok =
      Number.isInteger(s.line) &&
      Number.isInteger(s.column) &&
      Number.isInteger(s.length) &&
      s.line >= 1 &&
      s.line <= lines.length &&
      s.column >= 1 &&
      s.length >= 0 &&
      s.column - 1 + s.length <= lines[s.line - 1].length;
    assert.ok(ok, `${what} span ${JSON.stringify(s)} outside ${JSON.stringify(text.slice(0, 300))}`);
  };
  let prev: Diagnostic | null = null;
  for (const d of r.diagnostics) {
    inside(d.span, `${d.code} "${d.message}"`);
    assert.equal(d.file, 'p.mms');
    assert.ok(d.code in DIAGNOSTIC_CODES, d.code);
    assert.ok(d.message.length > 0);
    if (prev !== null) {
      assert.ok(prev.span.line < d.span.line || (prev.span.line === d.span.line && prev.span.column <= d.span.column), 'sorted');
    }
    prev = d;
  }
  // Every node of the tree, too.
  const walk = (x: unknown): void => {
    if (Array.isArray(x)) {
      for (const y of x) walk(y);
    } else if (typeof x === 'object' && x !== null) {
      for (const [k, v] of Object.entries(x)) {
        if (k === 'span' || k === 'opSpan') inside(v as Span, 'node');
        else walk(v);
      }
    }
  };
  walk(r.scenario.body);
}

/** Characters the language gives meaning to, and some it does not. */
const ALPHABET = [
  ...'abcdefghijklmnopqrstuvwxyzAEGKMSX0123456789',
  ...'    ',
  '\n',
  '\n',
  '\t',
  '\r',
  ...'"\\#=<>!()+-._/\'',
  '=>',
  'process ',
  'thread ',
  'concurrent\n',
  'schedule ',
  'machine ',
  'forbid ',
  ' and ',
  ' not ',
  '0x',
  '\u00a0',
  'é',
  '😀',
  '\ud800',
  '\u2028',
  '\u0000',
];

/**
 * Any UTF-16 text: code points of the whole range, lone surrogates included, ASCII more
 * often (fast-check's own 'binary' strings are slow to generate).
 */
const unicode = fc
  .array(fc.oneof(fc.integer({ min: 0, max: 0x7f }), fc.integer({ min: 0, max: 0x10ffff })), { maxLength: 200 })
  .map((cps) => cps.map((c) => (c <= 0xffff ? String.fromCharCode(c) : String.fromCodePoint(c))).join(''));

type Mutation =
  | { kind: 'delete-char' | 'dup-char' | 'swap-chars'; at: number }
  | { kind: 'insert'; at: number; what: string }
  | { kind: 'delete-token' | 'dup-token' | 'swap-tokens'; at: number }
  | { kind: 'delete-line' | 'dup-line' | 'swap-lines' | 'indent-line' | 'dedent-line'; at: number };

const INSERTS = ['\t', '"', '=>', '😀', 'é', '\u00a0', '(', ')', '#', '\n', ' ', '  ', '-', '=', '\\', 'not ', '0x', '\r', 'process p\n'];

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constantFrom('delete-char' as const, 'dup-char' as const, 'swap-chars' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), what: fc.constantFrom(...INSERTS) }),
  fc.record({ kind: fc.constantFrom('delete-token' as const, 'dup-token' as const, 'swap-tokens' as const), at: fc.nat() }),
  fc.record({
    kind: fc.constantFrom('delete-line' as const, 'dup-line' as const, 'swap-lines' as const, 'indent-line' as const, 'dedent-line' as const),
    at: fc.nat(),
  }),
);

/** Swaps items i and i+1 of a list (wrapping i). */
function swap<T>(xs: T[], at: number): T[] {
  if (xs.length < 2) return xs;
  const i = at % (xs.length - 1);
  const out = xs.slice();
  [out[i], out[i + 1]] = [out[i + 1], out[i]];
  return out;
}

function mutate(text: string, m: Mutation): string {
  switch (m.kind) {
    case 'delete-char':
    case 'dup-char':
    case 'swap-chars': {
      if (text.length === 0) return text;
      const i = m.at % text.length;
      if (m.kind === 'delete-char') return text.slice(0, i) + text.slice(i + 1);
      if (m.kind === 'dup-char') return text.slice(0, i + 1) + text.slice(i);
      return swap([...text], i).join('');
    }
    case 'insert': {
      const i = m.at % (text.length + 1);
      return text.slice(0, i) + m.what + text.slice(i);
    }
    case 'delete-token':
    case 'dup-token':
    case 'swap-tokens': {
      // Tokens and the whitespace between them, alternately.
      const parts = text.split(/(\s+)/);
      const words = parts.map((p, i) => i).filter((i) => i % 2 === 0 && parts[i] !== '');
      if (words.length === 0) return text;
      const w = words[m.at % words.length];
      if (m.kind === 'delete-token') parts[w] = '';
      else if (m.kind === 'dup-token') parts[w] = `${parts[w]} ${parts[w]}`;
      else {
        const k = words.indexOf(w);
        const v = words[(k + 1) % words.length];
        [parts[w], parts[v]] = [parts[v], parts[w]];
      }
      return parts.join('');
    }
    default: {
      const lines = text.split('\n');
      const i = m.at % lines.length;
      if (m.kind === 'delete-line') lines.splice(i, 1);
      else if (m.kind === 'dup-line') lines.splice(i, 0, lines[i]);
      else if (m.kind === 'swap-lines') return swap(lines, i).join('\n');
      else if (m.kind === 'indent-line') lines[i] = `  ${lines[i]}`;
      else lines[i] = lines[i].replace(/^ {1,2}/, '');
      return lines.join('\n');
    }
  }
}

describe('parser properties: any input', () => {
  it('warms up', () => {
    for (let i = 0; i < 20; i++) for (const v of VALID) parseScenario(v, 'p.mms');
    for (const v of VALID) assert.deepEqual(parseScenario(v, 'p.mms').diagnostics, []);
  });

  it('never throws on random text over the language alphabet', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...ALPHABET), { maxLength: 200 }), (parts) => check(parts.join(''))),
      { seed: SEED, numRuns: 1500 * SCALE, includeErrorInReport: true },
    );
  });

  it('never throws on random unicode strings', () => {
    fc.assert(
      fc.property(unicode, (s) => check(s)),
      { seed: SEED, numRuns: 500 * SCALE, includeErrorInReport: true },
    );
  });

  it('never throws on random bytes, read as latin-1 or as UTF-8', () => {
    const utf8 = new TextDecoder('utf-8');
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        check(Buffer.from(bytes).toString('latin1'));
        check(utf8.decode(bytes));
      }),
      { seed: SEED, numRuns: 500 * SCALE, includeErrorInReport: true },
    );
  });

  it('never throws on mutations of valid scenarios', () => {
    fc.assert(
      fc.property(fc.constantFrom(...VALID), fc.array(mutation, { minLength: 1, maxLength: 6 }), (base, ms) => {
        let text = base;
        for (const m of ms) {
          text = mutate(text, m);
          check(text);
        }
      }),
      { seed: SEED, numRuns: 600 * SCALE, includeErrorInReport: true },
    );
  });

  it('is deterministic', () => {
    fc.assert(
      fc.property(fc.constantFrom(...VALID), fc.array(mutation, { maxLength: 4 }), (base, ms) => {
        const text = ms.reduce(mutate, base);
        assert.deepEqual(parseScenario(text, 'p.mms'), parseScenario(text, 'p.mms'));
      }),
      { seed: SEED, numRuns: 200 * SCALE, includeErrorInReport: true },
    );
  });
});

// ---- Valid scenarios from the grammar ---------------------------------------------------

const name = fc.constantFrom('a', 'b', 'buf', 'x1', '_t', 'fd');
const number = fc
  .tuple(fc.integer({ min: 0, max: 2 ** 40 }), fc.constantFrom('dec', 'hex', 'K', 'M', 'neg'))
  .map(([n, f]) =>
    f === 'dec' ? String(n) : f === 'hex' ? `0x${n.toString(16)}` : f === 'K' ? `${n % 4096}K` : f === 'M' ? `${n % 512}M` : `-${n}`,
  );
const operand = fc.oneof(number, name);
const expr = fc
  .tuple(operand, fc.array(fc.tuple(fc.constantFrom('+', '-'), operand), { maxLength: 3 }))
  .map(([first, rest]) => [first, ...rest.flat()].join(' '));
const bareWord = fc.constantFrom('rw', 'r--', '---', 'rwx', 'none', 'private', 'anon', 'write-disable', '/data', 'MAP_SHARED', 'dontneed', 'p.t1');
const str = fc
  .array(fc.constantFrom('a', ' ', '#', '\\n', '\\t', '\\\\', '\\"', '\\x41', 'é', '=>'), { maxLength: 8 })
  .map((cs) => `"${cs.join('')}"`);
const option = fc
  .tuple(fc.constantFrom('at', 'fd', 'file', 'size', 'offset', 'cpu', 'to'), fc.oneof(expr, bareWord, str))
  .map(([k, v]) => `${k}=${v}`);
const arg = fc.oneof(expr, bareWord, str, option);
const expectation = fc.oneof(
  expr,
  fc.constantFrom('EINVAL', 'ENOMEM', 'EFAULT', 'ok', 'SIGSEGV', 'SIGSEGV SEGV_ACCERR', 'SIGBUS BUS_ADRERR'),
  fc.tuple(fc.constantFrom('SIGSEGV SEGV_PKUERR', 'SIGSEGV'), expr, expr).map(([s, k, a]) => `${s} key=${k} addr=${a}`),
);
const opLine = fc
  .tuple(
    fc.option(name),
    fc.constantFrom('mmap', 'munmap', 'load', 'store', 'pkey_mprotect', 'fork', 'exec', 'frob-nicate'),
    fc.array(arg, { maxLength: 5 }),
    fc.option(expectation),
  )
  .map(([b, op, args, e]) => [...(b === null ? [] : [`${b} =`]), op, ...args, ...(e === null ? [] : ['=>', e])].join(' '));

const atom = fc.oneof(
  fc.tuple(name, expr, fc.constantFrom('present', 'writable', 'swapped')).map(([p, a, w]) => `pte ${p} ${a} ${w}`),
  fc.tuple(name, expr, expr).map(([p, a, k]) => `pte ${p} ${a} key == ${k}`),
  fc.tuple(name, expr, fc.constantFrom('rw-', 'r--', '---', 'rwx', 'none')).map(([p, a, r]) => `vma ${p} ${a} prot == ${r}`),
  fc.tuple(fc.constantFrom('cpu0', 'cpu1'), name, expr).map(([c, p, a]) => `tlb ${c} ${p} ${a} writable`),
  fc.tuple(fc.constantFrom('p', 'cpu1', 'machine'), fc.constantFrom('==', '!=', '<', '<=', '>', '>='), number).map(([s, o, n]) => `counter ${s} walks ${o} ${n}`),
  fc.tuple(name, expr, expr).map(([p, a, v]) => `value ${p} ${a} == ${v}`),
  fc.constantFrom('signal p.t1 SIGSEGV', 'signal p SIGSEGV SEGV_ACCERR', 'alive q', 'invariant no-stale-tlb'),
);
const condition: fc.Arbitrary<string> = fc.letrec<{ c: string }>((tie) => ({
  c: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    atom,
    fc.tuple(tie('c'), fc.constantFrom('and', 'or'), tie('c')).map(([l, o, r]) => `${l} ${o} ${r}`),
    tie('c').map((c) => `not ${c}`),
    tie('c').map((c) => `(${c})`),
  ),
})).c;

describe('parser properties: valid scenarios', () => {
  it('parse without diagnostics, each statement spanning what was written', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }),
        fc.array(opLine, { minLength: 1, maxLength: 6 }),
        fc.array(fc.tuple(fc.constantFrom('require', 'forbid', 'exists'), condition), { maxLength: 3 }),
        fc.constantFrom('', ' # comment'),
        (indent, ops, finals, comment) => {
          const pad = ' '.repeat(indent);
          const lines = ['process p cpu=0', ...ops.map((o) => `${pad}${o}${comment}`), ...finals.map(([q, c]) => `${q} ${c}`)];
          const text = lines.join('\n');
          check(text);
          const r = parseScenario(text, 'p.mms');
          assert.deepEqual(r.diagnostics, []);
          const [block, ...rest] = r.scenario.body;
          assert.ok(block.kind === 'thread-block');
          assert.equal(block.body.length, ops.length);
          block.body.forEach((s, i) => {
            assert.equal(lines[s.span.line - 1].slice(s.span.column - 1, s.span.column - 1 + s.span.length), ops[i]);
          });
          assert.equal(rest.length, finals.length);
          rest.forEach((f, i) => {
            assert.ok(f.kind === 'final');
            assert.equal(f.quantifier, finals[i][0]);
            assert.equal(lines[f.span.line - 1].slice(f.span.column - 1, f.span.column - 1 + f.span.length), `${finals[i][0]} ${finals[i][1]}`);
          });
        },
      ),
      { seed: SEED, numRuns: 400 * SCALE, includeErrorInReport: true },
    );
  });
});

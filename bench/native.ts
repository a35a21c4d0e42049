/**
 * The native side of the benchmark: builds bench/native/mmbench.c with the
 * system C compiler, runs it on this machine's kernel and parses the JSON
 * lines it prints, so the bench can report mmsim/native ratios.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface NativeResult {
  case: string;
  ops: number;
  nsPerOp: number;
  extra: Record<string, number>;
}

/** C compilers tried, in order. */
const COMPILERS = ['cc', 'gcc', 'clang'] as const;
const CFLAGS = ['-O2', '-Wall', '-Wextra', '-std=gnu11'];
const C_SOURCE = join('bench', 'native', 'mmbench.c');
/** Generous: `mmbench all` takes ~20 s on a small VM. */
const RUN_TIMEOUT_MS = 15 * 60 * 1000;

/**
 * Finds bench/native/mmbench.c by walking up from this module (which runs
 * from dist/bench/ once compiled) to the directory holding package.json.
 */
export function nativeSourcePath(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) {
      const src = join(dir, C_SOURCE);
      if (existsSync(src)) return src;
    }
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/** The first of cc, gcc, clang that runs, or undefined. */
export function findCCompiler(): string | undefined {
  for (const cc of COMPILERS) {
    const r = spawnSync(cc, ['--version'], { stdio: 'ignore' });
    if (r.error === undefined && r.status === 0) return cc;
  }
  return undefined;
}

/**
 * Parses mmbench's output: one JSON object per non-empty line with a string
 * "case", a number "ops" and a number "ns_per_op"; every other numeric field
 * (total_ns, fork_ns, cow_ns_per_page, vmas, ...) goes to `extra`.
 * Throws on anything else: that is a bug in mmbench, not a missing tool.
 */
export function parseNativeOutput(stdout: string): NativeResult[] {
  const results: NativeResult[] = [];
  for (const line of stdout.split('\n')) {
    const text = line.trim();
    if (text === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (e) {
      throw new Error(`mmbench printed a line that is not JSON: ${text}`, { cause: e });
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new Error(`mmbench printed a line that is not a JSON object: ${text}`);
    }
    const { case: name, ops, ns_per_op: nsPerOp, ...rest } = value as Record<string, unknown>;
    if (typeof name !== 'string' || typeof ops !== 'number' || typeof nsPerOp !== 'number') {
      throw new Error(`mmbench line lacks case/ops/ns_per_op: ${text}`);
    }
    const extra: Record<string, number> = {};
    for (const [key, v] of Object.entries(rest)) {
      if (typeof v === 'number') extra[key] = v;
    }
    results.push({ case: name, ops, nsPerOp, extra });
  }
  return results;
}

function tail(text: string, max = 2000): string {
  const t = text.trim();
  return t.length > max ? `...${t.slice(-max)}` : t;
}

/**
 * Builds bench/native/mmbench.c with the system C compiler (cc, then gcc,
 * then clang) into a temp dir under os.tmpdir(), runs it and parses its JSON
 * lines.
 *
 * `cases` are mmbench's command-line tokens: case names (c, d, e, f, g1k,
 * g100k, i, or all), each optionally followed by an op count, e.g.
 * `['e', '1000', 'f']`. Default: `['all']`.
 *
 * Returns `{ unavailable: reason }` when no C compiler is found (or the
 * program cannot be built or run here), so the bench can still print
 * mmsim's own figures. Throws only if mmbench's output is malformed.
 */
export function runNative(cases?: string[]): { results: NativeResult[] } | { unavailable: string } {
  const src = nativeSourcePath();
  if (src === undefined) {
    return { unavailable: `cannot find ${C_SOURCE} above ${fileURLToPath(import.meta.url)}` };
  }
  const cc = findCCompiler();
  if (cc === undefined) {
    return { unavailable: `no C compiler found (tried ${COMPILERS.join(', ')})` };
  }
  const args = cases === undefined || cases.length === 0 ? ['all'] : cases;

  const dir = mkdtempSync(join(tmpdir(), 'mmbench-'));
  try {
    const exe = join(dir, 'mmbench');
    const build = spawnSync(cc, [...CFLAGS, src, '-o', exe], { encoding: 'utf8' });
    if (build.error !== undefined || build.status !== 0) {
      const why = build.error?.message ?? tail(build.stderr);
      return { unavailable: `${cc} could not build ${src}: ${why}` };
    }
    const run = spawnSync(exe, args, {
      encoding: 'utf8',
      timeout: RUN_TIMEOUT_MS,
      maxBuffer: 16 * 1024 * 1024,
    });
    if (run.error !== undefined || run.status !== 0) {
      const why =
        run.error?.message ??
        (run.signal !== null ? `killed by ${run.signal}` : `exit status ${String(run.status)}`);
      return { unavailable: `mmbench ${args.join(' ')} failed (${why}): ${tail(run.stderr)}` };
    }
    return { results: parseNativeOutput(run.stdout) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

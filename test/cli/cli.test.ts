import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { styleFor } from '../../src/cli/format.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const bin = join(root, 'dist', 'src', 'cli', 'main.js');

function mmsim(args: string[], env: Record<string, string> = {}, input?: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: root, encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024, ...(input === undefined ? {} : { input }) });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function scenario(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'mmsim-cli-'));
  const file = join(dir, 'case.mms');
  writeFileSync(file, text);
  return file;
}

describe('mmsim command', () => {
  it('run: exit 0 and a summary when every expectation holds', () => {
    const r = mmsim(['run', 'examples/basics/fork-cow.mms']);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /PASS examples\/basics\/fork-cow\.mms/);
    assert.match(r.stdout, /1 scenario: 1 passed, 0 failed, 0 malformed/);
    assert.ok(!r.stdout.includes('\u001b['), 'no colour when not on a terminal');
  });

  it('compare: runs the file as written and with the variant, marking the lines that differ', () => {
    const r = mmsim(['compare', 'examples/seeds/000-freebsd-swapout-keeps-key.mms', '--variant', 'pkru-swapout-bug']);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /as written\s+variant=pkru-swapout-bug/);
    assert.match(r.stdout, /store a 0x22\s+SIGSEGV SEGV_PKUERR addr=0x[0-9a-f]+ key=3\s+ok\s+← differs/);
    assert.match(r.stdout, /3 lines differ between the designs/);
    const json = mmsim(['compare', 'examples/seeds/000-freebsd-swapout-keeps-key.mms', '--variant', 'pkru-swapout-bug', '--json']);
    const parsed = JSON.parse(json.stdout) as { designs: string[]; rows: { line: number; differs: boolean }[] };
    assert.deepEqual(parsed.designs, ['as written', 'variant=pkru-swapout-bug']);
    assert.deepEqual(parsed.rows.filter((row) => row.differs).map((row) => row.line), [20, 24, 29]);
  });

  it('compare: a variant of the other personality or an unknown one is bad input (exit 2)', () => {
    const linux = mmsim(['compare', 'examples/seeds/000-linux-keys-survive-swapout.mms', '--variant', 'pkru-swapout-bug']);
    assert.equal(linux.status, 2);
    assert.match(linux.stderr, /MMS3007: variant 'pkru-swapout-bug' changes the freebsd design; this machine runs os=linux \(asked for with --variant\)/);
    const unknown = mmsim(['compare', 'examples/seeds/001-reverse-pairs.mms', '--variant', 'no-such-thing']);
    assert.equal(unknown.status, 2);
    assert.match(unknown.stderr, /unknown variant 'no-such-thing'/);
    assert.equal(mmsim(['compare', 'examples/seeds/001-reverse-pairs.mms']).status, 2, '--variant is required');
  });

  it('compare: --variant may come before the file and repeat; a variant the file already has is pointed out', () => {
    const r = mmsim(['compare', '--variant', 'rfp-nonlinear', '--variant', 'rfp-manyprots', 'examples/seeds/001-reverse-pairs.mms', '--no-color']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /as written\s+variant=rfp-nonlinear\s+variant=rfp-manyprots/);
    const same = mmsim(['compare', 'examples/seeds/000-freebsd-swapout-bug-loses-key.mms', '--variant', 'pkru-swapout-bug']);
    assert.equal(same.status, 0);
    assert.match(same.stderr, /variant pkru-swapout-bug is already on the machine line/);
    assert.match(same.stdout, /the designs agree on every line/);
  });

  it('run: exit 1 when an expectation fails, naming the line', () => {
    const file = scenario('process p\n  a = mmap 4K rw private anon\n  load a => 7\n');
    const r = mmsim(['run', file]);
    assert.equal(r.status, 1);
    assert.match(r.stdout, /✗\s+3\s+p\s+load a => 7\s+0\s+expected 7/);
    assert.match(r.stdout, /FAIL/);
  });

  it('run: exit 2 with file:line:column diagnostics for a malformed scenario, and no stack trace', () => {
    const file = scenario('machine x86_64 cpus=two\nprocess p\n  a = mmap 4K rw private anon\n  frobnicate a\n');
    const r = mmsim(['run', file]);
    assert.equal(r.status, 2);
    assert.match(r.stdout, /case\.mms:1:\d+: error MMS3004: cpus= takes a number/);
    assert.match(r.stdout, /case\.mms:4:3: error MMS2002: unknown operation 'frobnicate'/);
    assert.doesNotMatch(r.stdout + r.stderr, /\n\s+at /, 'no stack trace');
  });

  it('run: a missing file is bad input (exit 2), reported in one line', () => {
    const r = mmsim(['run', 'no/such/file.mms']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /^mmsim: no\/such\/file\.mms: no such file or directory\n$/);
  });

  it('run --json: a machine-readable report per scenario', () => {
    const r = mmsim(['run', '--json', 'examples/basics/swap-roundtrip.mms']);
    assert.equal(r.status, 0);
    const reports = JSON.parse(r.stdout) as { file: string; passed: boolean; lines: { line: number; result: string }[] }[];
    assert.equal(reports.length, 1);
    assert.equal(reports[0].passed, true);
    assert.ok(reports[0].lines.some((l) => l.result === '0x41'));
  });

  it('run --trace: the step-by-step event stream', () => {
    const r = mmsim(['run', '--trace', 'examples/basics/fork-cow.mms']);
    assert.equal(r.status, 0);
    assert.match(r.stdout, /page fault at 0x/);
    assert.match(r.stdout, /tlb miss, walk 0x/);
  });

  it('show: a FreeBSD process lists its PKRU ranges, and a nonlinear page its file entry', () => {
    const fb = mmsim(['show', 'examples/seeds/000-freebsd-heap-arena.mms', '--no-color']);
    assert.equal(fb.status, 0, fb.stderr);
    assert.match(fb.stdout, /pkru ranges:\n\s+0x[0-9a-f]+-0x[0-9a-f]+ key=7 persist/);
    const rfp = mmsim(['show', 'examples/seeds/001-uml-window-manyprots.mms', '--at', '38', '--no-color']);
    assert.equal(rfp.status, 0, rfp.stderr);
    assert.match(rfp.stdout, /file pgoff=0x7 prot=rw-/);
    assert.match(rfp.stdout, /file pgoff=0x7 prot=r--/);
    const json = JSON.parse(mmsim(['show', 'examples/seeds/000-freebsd-heap-arena.mms', '--json']).stdout) as { state: { processes: { pkruRanges: { key: number; persist: boolean }[]; vmas: { flags: string[] }[] }[] } };
    assert.deepEqual(json.state.processes[0].pkruRanges.map((r) => [r.key, r.persist]), [[7, true]]);
    assert.ok(json.state.processes[0].vmas[0].flags.includes('mr'));
  });

  it('show: the state as tables, and --at stops early', () => {
    const r = mmsim(['show', 'examples/basics/fork-cow.mms', '--at', '8']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /process p \(pid 1\)/);
    assert.match(r.stdout, /rw-p 00000000 00:00 0/);
    assert.match(r.stdout, /cpu0\s+PKRU=0x55555554/);
    assert.doesNotMatch(r.stdout, /process q/, 'the fork at line 9 has not run');
  });

  it('show: a page table of 131072 entries prints in full (no stack overflow)', () => {
    const r = mmsim(['show', scenario('machine x86_64 memory=1G\nprocess p\n  a = mmap 512M rw private anon populate\n'), '--no-color']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.split('\n').filter((l) => /^\s+0x[0-9a-f]+\s+pfn=0x[0-9a-f]+ P /.test(l)).length, 131072);
  });

  it('check: parses and validates only', () => {
    const ok = mmsim(['check', 'examples/']);
    assert.equal(ok.status, 0);
    assert.match(ok.stdout, /fork-cow\.mms: ok/);
    const bad = mmsim(['check', scenario('process p\n  load b\n')]);
    assert.equal(bad.status, 2);
    assert.match(bad.stdout, /:2:8: error MMS3001: 'b' is not defined/);
  });

  it('check --json: one entry per file, ok or its diagnostics', () => {
    const bad = scenario('process p\n  frob 1\n');
    const r = mmsim(['check', '--json', 'examples/basics/fork-cow.mms', bad]);
    assert.equal(r.status, 2);
    const parsed = JSON.parse(r.stdout) as { file: string; ok: boolean; diagnostics: { code: string; text: string }[] }[];
    assert.deepEqual(parsed.map((e) => e.ok), [true, false]);
    assert.ok(parsed[1].diagnostics.length > 0 && parsed[1].diagnostics.every((d) => /^MMS\d{4}$/.test(d.code) && d.text.includes(bad)));
  });

  it('show: exit 1 when an expectation fails, 2 for a malformed scenario or a bad --at, without stack traces', () => {
    assert.equal(mmsim(['show', scenario('process p\n  a = mmap 4K rw private anon\n  load a => 7\n')]).status, 1);
    const malformed = mmsim(['show', scenario('process p\n  frob 1\n')]);
    assert.equal(malformed.status, 2);
    assert.match(malformed.stderr, /MMS2002/);
    for (const at of ['0', 'x', '-3', '1.5']) {
      const r = mmsim(['show', 'examples/basics/fork-cow.mms', '--at', at]);
      assert.equal(r.status, 2, `--at ${at}`);
      assert.match(r.stderr, /^mmsim: --at takes a line number/);
      assert.ok(!r.stderr.includes('    at '), 'no stack trace');
    }
  });

  it('run: a directory is searched for .mms files; one without any is bad input', () => {
    const r = mmsim(['run', 'examples/concurrency']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /2 scenarios: 2 passed/);
    const empty = mkdtempSync(join(tmpdir(), 'mmsim-empty-'));
    const none = mmsim(['run', empty]);
    assert.equal(none.status, 2);
    assert.match(none.stderr, /no \.mms scenarios found/);
  });

  it('colours only on a terminal, and never with NO_COLOR set', () => {
    const tty = { isTTY: true } as NodeJS.WriteStream;
    const saved = process.env.NO_COLOR;
    try {
      delete process.env.NO_COLOR;
      assert.equal(styleFor(tty).bad('x'), '\x1b[31mx\x1b[0m');
      assert.equal(styleFor(tty, true).bad('x'), 'x');
      assert.equal(styleFor({ isTTY: false } as NodeJS.WriteStream).bad('x'), 'x');
      process.env.NO_COLOR = '1';
      assert.equal(styleFor(tty).bad('x'), 'x');
    } finally {
      if (saved === undefined) delete process.env.NO_COLOR;
      else process.env.NO_COLOR = saved;
    }
  });

  it("'-' reads the scenario from standard input for run, check and show", () => {
    const text = readFileSync(join(root, 'examples/basics/fork-cow.mms'), 'utf8');
    const r = mmsim(['run', '-'], {}, text);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /PASS <stdin> \(9 expectations met\)/);
    const show = mmsim(['show', '-', '--at', '8'], {}, text);
    assert.equal(show.status, 0, show.stderr);
    assert.match(show.stdout, /process p \(pid 1\)/);
    const bad = mmsim(['check', '-'], {}, 'process p\n  load zz\n');
    assert.equal(bad.status, 2);
    assert.match(bad.stdout, /^<stdin>:2:8: error MMS3001/);
  });

  it('--version prints the package version', () => {
    const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const r = mmsim([flag]);
      assert.equal(r.status, 0);
      assert.equal(r.stdout, `${version}\n`);
    }
  });

  it('show --at refuses what is not a plain decimal line number within the file', () => {
    const r = mmsim(['show', 'examples/basics/fork-cow.mms', '--at', '1e3']);
    assert.equal(r.status, 2);
    assert.equal(r.stderr, "mmsim: --at takes a line number (decimal digits, from 1), not '1e3'\n");
    const past = mmsim(['show', 'examples/basics/fork-cow.mms', '--at', '99999999999999999999']);
    assert.equal(past.status, 2);
    assert.equal(past.stderr, 'mmsim: --at 99999999999999999999: examples/basics/fork-cow.mms has 23 lines\n');
  });

  it('special files are refused at once: /dev/zero, a FIFO without a writer', () => {
    const fifo = join(mkdtempSync(join(tmpdir(), 'mmsim-fifo-')), 'x.mms');
    execFileSync('mkfifo', [fifo]);
    for (const args of [['run', '/dev/zero'], ['show', fifo]]) {
      const r = mmsim(args);
      assert.equal(r.status, 2, args.join(' '));
      assert.match(r.stderr, /^mmsim: \S+: a (character device|FIFO), not a regular file: only regular files are read as scenarios\n$/, args.join(' '));
    }
  });

  it('run: a bad entry in a directory is reported, the others still run, and the exit status is 2', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mmsim-dir-'));
    writeFileSync(join(dir, 'a.mms'), readFileSync(join(root, 'examples/basics/fork-cow.mms')));
    symlinkSync('nowhere', join(dir, 'b.mms'));
    symlinkSync('nowhere', join(dir, 'zz.txt'));
    const r = mmsim(['run', dir]);
    assert.equal(r.status, 2);
    assert.equal(r.stderr, `mmsim: ${join(dir, 'b.mms')}: no such file or directory\n`);
    assert.match(r.stdout, /PASS \S+a\.mms/);
    assert.match(r.stdout, /2 scenarios: 1 passed, 0 failed, 0 malformed, 1 unreadable; 9 of 9 expectations met/);
    const json = JSON.parse(mmsim(['run', '--json', dir]).stdout) as { file: string; passed: boolean; diagnostics: { code: string }[] }[];
    assert.deepEqual(json.map((e) => [e.passed, e.diagnostics.map((d) => d.code)]), [[true, []], [false, ['MMS0001']]]);
  });

  it('check prints the first 100 problems of a file and counts the rest', () => {
    const r = mmsim(['check', scenario(`process p\n${'  load zz\n'.repeat(500)}`)]);
    assert.equal(r.status, 2);
    const out = r.stdout.trimEnd().split('\n');
    assert.equal(out.length, 101);
    assert.match(out[100], /case\.mms:102:8: error MMS0004: … and 400 more problems, not listed: only the first 100 are$/);
    const run = mmsim(['run', scenario(`process p\n${'  load zz\n'.repeat(500)}`)]);
    assert.match(run.stdout, /ERROR \S+: more than 100 problems in the scenario; nothing ran/);
  });

  it('output into a pipe that closes early ends quietly, exit 0', () => {
    const file = scenario('machine x86_64 memory=1G\nprocess p\n  a = mmap 512M rw private anon populate\n');
    const r = spawnSync('bash', ['-c', `"${process.execPath}" "${bin}" show "${file}" | head -n 1; echo "status=\${PIPESTATUS[0]}" >&2`], { cwd: root, encoding: 'utf8' });
    assert.equal(r.stdout, `${file}\n`);
    assert.equal(r.stderr, 'status=0\n', 'no EPIPE trace, exit 0');
  });

  it('--help on every command, exit 0', () => {
    for (const args of [['--help'], ['run', '--help'], ['show', '--help'], ['check', '--help']]) {
      const r = mmsim(args);
      assert.equal(r.status, 0, args.join(' '));
      assert.match(r.stdout, /Usage: mmsim/);
    }
  });

  it('an unknown command or option is a usage error, exit 2', () => {
    assert.equal(mmsim(['frob']).status, 2);
    assert.equal(mmsim(['run', '--frob', 'x']).status, 2);
  });
});

describe('npm run demo', () => {
  it('tours fork, COW and swap with every invariant holding', () => {
    const r = spawnSync(process.execPath, [join(root, 'dist', 'src', 'demo', 'main.js')], { cwd: root, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /all 24 values read back intact/);
    assert.match(r.stdout, /invariants: all hold/);
  });
});

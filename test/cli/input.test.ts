/**
 * Where scenarios come from (reliability review D14, D17): only regular files are read,
 * each within the size limit, and a bad entry of a directory is that entry's problem.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { atLine, collect, load } from '../../src/cli/input.js';
import { MAX_SCENARIO_BYTES } from '../../src/scenario/parser.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const example = join(root, 'examples/basics/fork-cow.mms');

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'mmsim-input-'));
}

/** Each entry loaded, as `path: ok` or `path: CODE message`. */
function loadAll(paths: string[], directories = true): string[] {
  return collect(paths, directories).map((e) => {
    const r = load(e);
    return r.problem === null ? `${r.file}: ok` : `${r.file}: ${r.problem.code} ${r.problem.message}`;
  });
}

describe('scenario input', () => {
  it('special files are refused before any read: character devices and a FIFO without a writer', () => {
    const dir = tmp();
    const fifo = join(dir, 'x.mms');
    execFileSync('mkfifo', [fifo]);
    // Would block for ever (FIFO) or grow without bound (/dev/zero) if read.
    assert.deepEqual(loadAll(['/dev/zero', '/dev/urandom', fifo, '/dev/null']), [
      '/dev/zero: MMS0002 a character device, not a regular file: only regular files are read as scenarios',
      '/dev/urandom: MMS0002 a character device, not a regular file: only regular files are read as scenarios',
      `${fifo}: MMS0002 a FIFO, not a regular file: only regular files are read as scenarios`,
      '/dev/null: MMS0002 a character device, not a regular file: only regular files are read as scenarios',
    ]);
  });

  it('a file over the limit is refused by its size; one at the limit is read', () => {
    const dir = tmp();
    writeFileSync(join(dir, 'big.mms'), Buffer.alloc(MAX_SCENARIO_BYTES + 1, 0x0a));
    writeFileSync(join(dir, 'edge.mms'), Buffer.alloc(MAX_SCENARIO_BYTES, 0x0a));
    assert.deepEqual(loadAll([join(dir, 'big.mms'), join(dir, 'edge.mms')]), [
      `${join(dir, 'big.mms')}: MMS0003 scenarios are limited to 16 MiB (16777216 bytes), and this one is 16777217 bytes: split it into several files`,
      `${join(dir, 'edge.mms')}: ok`,
    ]);
  });

  it('a directory for a command that takes one file is a problem, not a search', () => {
    assert.deepEqual(loadAll([join(root, 'examples/basics')], false), [`${join(root, 'examples/basics')}: MMS0001 is a directory: name a scenario file`]);
  });

  it('a directory run reports each bad entry and keeps the good ones, in name order', () => {
    const dir = tmp();
    copyFileSync(example, join(dir, 'ok.mms'));
    symlinkSync('nowhere', join(dir, 'zz.txt')); // not a scenario: passed over
    symlinkSync('nowhere', join(dir, 'dangling.mms'));
    symlinkSync('b.mms', join(dir, 'a.mms')); // a.mms → b.mms → a.mms
    symlinkSync('a.mms', join(dir, 'b.mms'));
    symlinkSync('ok.mms/x', join(dir, 'c.mms')); // through a file: ENOTDIR
    execFileSync('mkfifo', [join(dir, 'fifo.mms')]);
    mkdirSync(join(dir, 'sub'));
    copyFileSync(example, join(dir, 'sub', 'z.mms'));
    symlinkSync('..', join(dir, 'sub', 'up')); // a directory loop: searched once
    writeFileSync(join(dir, 'notes.txt'), 'not a scenario');
    assert.deepEqual(loadAll([dir]), [
      `${join(dir, 'a.mms')}: MMS0001 too many levels of symbolic links (ELOOP)`,
      `${join(dir, 'b.mms')}: MMS0001 too many levels of symbolic links (ELOOP)`,
      `${join(dir, 'c.mms')}: MMS0001 a component of the path is not a directory (ENOTDIR)`,
      `${join(dir, 'dangling.mms')}: MMS0001 no such file or directory`,
      `${join(dir, 'fifo.mms')}: MMS0002 a FIFO, not a regular file: only regular files are read as scenarios`,
      `${join(dir, 'ok.mms')}: ok`,
      `${join(dir, 'sub', 'z.mms')}: ok`,
    ]);
  });

  it('a missing path is its own problem; the other paths are still read', () => {
    assert.deepEqual(loadAll(['no/such.mms', example]), ['no/such.mms: MMS0001 no such file or directory', `${example}: ok`]);
  });

  it("standard input ('-') is read once, and named <stdin>", () => {
    const entries = collect(['-', '-'], true);
    assert.deepEqual(entries.map((e) => [e.path, e.problem?.message ?? null]), [
      ['-', null],
      ['-', "standard input ('-') can be read only once"],
    ]);
  });

  it('a file is read as UTF-8 without its byte order mark', () => {
    const dir = tmp();
    writeFileSync(join(dir, 'bom.mms'), '\ufeffprocess p\r\n  load 0\r\n');
    const r = load(collect([join(dir, 'bom.mms')], true)[0]);
    assert.equal(r.text, 'process p\r\n  load 0\r\n');
  });

  it('show --at takes only a plain decimal line number within the file', () => {
    const text = 'process p\n  load 0\n  load 0\n';
    for (const at of ['1e3', '0x5', ' 3 ', '+3', '03', '3.0', '-1', '0', '']) {
      assert.equal(atLine(at, text, 'f.mms'), `--at takes a line number (decimal digits, from 1), not '${at}'`);
    }
    assert.equal(atLine('4', text, 'f.mms'), '--at 4: f.mms has 3 lines');
    assert.equal(atLine('99999999999999999999', text, 'f.mms'), '--at 99999999999999999999: f.mms has 3 lines');
    assert.equal(atLine('3', text, 'f.mms'), 3);
    assert.equal(atLine('1', 'process p', 'f.mms'), 1, 'a last line without a line break counts');
    assert.equal(atLine('2', 'a\r\nb\r\n', 'f.mms'), 2);
  });
});

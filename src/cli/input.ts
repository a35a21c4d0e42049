/**
 * Where the command's scenarios come from: paths named on the command line, directories
 * searched for `.mms` files, and `-` for standard input. Every read is bounded (at most
 * {@link MAX_SCENARIO_BYTES}) and only regular files are read, so `/dev/zero`, a FIFO
 * with no writer or a socket gets a diagnostic instead of an endless read or a hang. A
 * problem with one entry is that entry's problem: the others are still read.
 * @packageDocumentation
 */
import {
  closeSync,
  constants,
  fstatSync,
  openSync,
  readdirSync,
  readSync,
  realpathSync,
  statSync,
  type Dirent,
  type Stats,
} from 'node:fs';
import { join } from 'node:path';
import { type Diagnostic, type DiagnosticCode } from '../scenario/diagnostics.js';
import { MAX_SCENARIO_BYTES } from '../scenario/parser.js';
import { SourceLines } from '../scenario/scanner.js';

/** The name `-` stands for in reports. */
export const STDIN_NAME = '<stdin>';

/** One scenario to read, or a problem found while looking for it. */
export interface Entry {
  /** The path as found (`dir/a.mms`), or `-` for standard input. */
  readonly path: string;
  /** Why the entry cannot be read, when that is already known. */
  readonly problem: Diagnostic | null;
}

/** A scenario's text, or why it could not be read. */
export type Loaded = { readonly file: string; readonly text: string; readonly problem: null } | { readonly file: string; readonly text: null; readonly problem: Diagnostic };

/** A problem with a whole input: line 0 says it is about no line in particular. */
export function inputProblem(file: string, code: DiagnosticCode, message: string): Diagnostic {
  return { file, span: { line: 0, column: 0, length: 0 }, code, message };
}

const ERRNO_TEXT: Readonly<Record<string, string>> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied (EACCES)',
  EPERM: 'permission denied (EPERM)',
  ELOOP: 'too many levels of symbolic links (ELOOP)',
  ENOTDIR: 'a component of the path is not a directory (ENOTDIR)',
  ENAMETOOLONG: 'the path is too long (ENAMETOOLONG)',
  EISDIR: 'is a directory',
};

/** An I/O error as a problem with `file`. */
function ioProblem(file: string, e: unknown): Diagnostic {
  const code = (e as NodeJS.ErrnoException).code ?? 'error';
  return inputProblem(file, 'MMS0001', ERRNO_TEXT[code] ?? `cannot read (${code})`);
}

/**
 * Every scenario named, directories searched recursively, in a stable order. A path named
 * on the command line is taken whatever its name; in a directory only `.mms` entries are,
 * and other entries are looked at only to find subdirectories (so a dangling `notes.txt`
 * link is no problem). A directory reached twice (a symlink loop) is searched once.
 * `-` is standard input, at most once.
 */
export function collect(paths: readonly string[], directories: boolean): Entry[] {
  const entries: Entry[] = [];
  const seen = new Set<string>();
  let stdin = false;

  const walkDir = (dir: string): void => {
    let real: string;
    let list: Dirent[];
    try {
      real = realpathSync(dir);
      if (seen.has(real)) return;
      seen.add(real);
      list = readdirSync(dir, { withFileTypes: true });
    } catch (e) {
      entries.push({ path: dir, problem: ioProblem(dir, e) });
      return;
    }
    list.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const d of list) {
      const p = join(dir, d.name);
      const mms = d.name.endsWith('.mms');
      if (d.isDirectory()) {
        walkDir(p);
        continue;
      }
      if (!d.isSymbolicLink() && !isUnknownType(d)) {
        // A regular file, or a special file whose read will say it is not one.
        if (mms) entries.push({ path: p, problem: null });
        continue;
      }
      // A symbolic link: what it points to decides whether it is a directory to search.
      let st: Stats;
      try {
        st = statSync(p);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        // A scenario that cannot be reached is a problem; a dangling or looping link with
        // another name is not a directory, so nothing is lost by passing over it.
        if (mms || (code !== 'ENOENT' && code !== 'ELOOP' && code !== 'ENOTDIR')) entries.push({ path: p, problem: ioProblem(p, e) });
        continue;
      }
      if (st.isDirectory()) walkDir(p);
      else if (mms) entries.push({ path: p, problem: null });
    }
  };

  for (const p of paths) {
    if (p === '-') {
      if (stdin) entries.push({ path: p, problem: inputProblem(STDIN_NAME, 'MMS0001', "standard input ('-') can be read only once") });
      else entries.push({ path: p, problem: null });
      stdin = true;
      continue;
    }
    let st: Stats;
    try {
      st = statSync(p);
    } catch (e) {
      entries.push({ path: p, problem: ioProblem(p, e) });
      continue;
    }
    if (st.isDirectory() && directories) walkDir(p);
    else entries.push({ path: p, problem: null });
  }
  return entries;
}

/** A directory entry whose type the file system did not say (DT_UNKNOWN). */
function isUnknownType(d: Dirent): boolean {
  return !d.isFile() && !d.isDirectory() && !d.isSymbolicLink() && !d.isFIFO() && !d.isSocket() && !d.isCharacterDevice() && !d.isBlockDevice();
}

/** What kind of file `st` is, for a message. */
function kindOf(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

const MiB = 1024 * 1024;
const LIMIT_TEXT = `scenarios are limited to ${MAX_SCENARIO_BYTES / MiB} MiB (${MAX_SCENARIO_BYTES} bytes)`;


/** The text of one entry: a regular file read with a size limit, or standard input. */
export function load(entry: Entry): Loaded {
  const file = entry.path === '-' ? STDIN_NAME : entry.path;
  if (entry.problem) return { file, text: null, problem: entry.problem };
  if (entry.path === '-') return readFd(0, file, true);
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO must not wait for a writer (fstat below refuses it);
    // on a regular file the flag changes nothing.
    fd = openSync(entry.path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (e) {
    return { file, text: null, problem: ioProblem(file, e) };
  }
  try {
    return readFd(fd, file, false);
  } finally {
    closeSync(fd);
  }
}

/** Reads `fd` to its end, refusing what is not a regular file (unless `stream`) or is too large. */
function readFd(fd: number, file: string, stream: boolean): Loaded {
  let st: Stats;
  try {
    st = fstatSync(fd);
  } catch (e) {
    return { file, text: null, problem: ioProblem(file, e) };
  }
  if (!stream && st.isDirectory()) {
    return { file, text: null, problem: inputProblem(file, 'MMS0001', 'is a directory: name a scenario file') };
  }
  if (!stream && !st.isFile()) {
    const hint = st.isFIFO() && file.startsWith('/dev/') ? "; to read a scenario from standard input, name it '-'" : '';
    return { file, text: null, problem: inputProblem(file, 'MMS0002', `${kindOf(st)}, not a regular file: only regular files are read as scenarios${hint}`) };
  }
  if (st.isFile() && st.size > MAX_SCENARIO_BYTES) return { file, text: null, problem: tooLarge(file, `${st.size} bytes`) };
  // Read at most one byte past the limit: a file that grows, or a stream, is still bounded.
  const chunks: Buffer[] = [];
  let total = 0;
  const chunk = Buffer.allocUnsafe(MiB);
  for (;;) {
    let n: number;
    try {
      n = readSync(fd, chunk, 0, Math.min(chunk.length, MAX_SCENARIO_BYTES + 1 - total), null);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EAGAIN') {
        waitForInput();
        continue;
      }
      return { file, text: null, problem: ioProblem(file, e) };
    }
    if (n === 0) break;
    chunks.push(Buffer.from(chunk.subarray(0, n)));
    total += n;
    if (total > MAX_SCENARIO_BYTES) return { file, text: null, problem: tooLarge(file, null) };
  }
  return { file, text: new TextDecoder('utf-8').decode(Buffer.concat(chunks, total)), problem: null };
}

/** The problem of an input over the limit, whose size is known (a file) or not (a stream). */
function tooLarge(file: string, size: string | null): Diagnostic {
  return inputProblem(file, 'MMS0003', `${LIMIT_TEXT}, and this one is ${size ?? 'larger'}: split it into several files`);
}

const pause = new Int32Array(new SharedArrayBuffer(4));

/** Standard input was left non-blocking by whoever shares it: wait a little for data. */
function waitForInput(): void {
  Atomics.wait(pause, 0, 0, 10);
}

/**
 * `show --at`: a line number written as plain decimal digits, within the file (so `1e3`,
 * `0x5`, ` 3 ` and 20-digit values are refused rather than read as something else). The
 * number, or what is wrong with it.
 */
export function atLine(at: string, text: string, file: string): number | string {
  if (!/^[1-9][0-9]*$/.test(at)) return `--at takes a line number (decimal digits, from 1), not '${at}'`;
  const source = new SourceLines(text);
  // A final line break ends the last line; it does not start one.
  const lines = source.count > 1 && source.line(source.count) === '' ? source.count - 1 : source.count;
  const n = at.length > 15 ? Infinity : Number(at);
  if (n > lines) return `--at ${at}: ${file} has ${lines} line${lines === 1 ? '' : 's'}`;
  return n;
}

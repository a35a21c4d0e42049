/**
 * Standard output written synchronously, so that a reader that goes away (`mmsim run … |
 * head`) is noticed at the write that failed: the command then stops quietly with exit
 * status 0, as `cat` and `grep` do, instead of running the rest for nobody and dying of
 * an unhandled EPIPE.
 * @packageDocumentation
 */
import { writeSync } from 'node:fs';
import { isatty } from 'node:tty';

/** Thrown when standard output was closed by its reader; `main` ends the command quietly. */
export class OutputClosed extends Error {}

const pause = new Int32Array(new SharedArrayBuffer(4));

/** Writes `text` to standard output, all of it. */
export function writeOut(text: string): void {
  const buf = Buffer.from(text, 'utf8');
  let off = 0;
  while (off < buf.length) {
    try {
      off += writeSync(1, buf, off, buf.length - off);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EPIPE') throw new OutputClosed('standard output was closed');
      // A non-blocking pipe that is full: wait for the reader to catch up.
      if (code === 'EAGAIN') Atomics.wait(pause, 0, 0, 5);
      else throw e;
    }
  }
}

/** Standard output as `styleFor` looks at it, without creating Node's stream for it. */
export const stdoutInfo = { isTTY: isatty(1) } as NodeJS.WriteStream;

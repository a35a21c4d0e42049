/**
 * The syscall table is the one list of the syscall surface: every entry is a ThreadHandle
 * method, a ThreadPaths method and a scenario operation, and every scenario operation a
 * thread can run is either an entry or one of the few that are not system calls — so no
 * second or third list can drift from it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Machine } from '../../src/index.js';
import { checkArgs } from '../../src/api/args.js';
import { SYSCALL_NAMES, SYSCALLS } from '../../src/api/syscalls.js';
import { OPS } from '../../src/scenario/ops.js';
import { runScenario } from '../../src/scenario/runner.js';

/** The thread operations of the language that are not system calls, and why. */
const NOT_SYSCALLS = new Set([
  'exit', // ProcessHandle.exit: the process's, not a thread method
  'swapout', // machine operations, run between kernel paths
  'reclaim',
  'check',
  'sigenter', // the signal frame's push and pop, and RDPKRU: the thread's own registers
  'sigreturn',
  'rdpkru',
]);

describe('the syscall table', () => {
  const m = new Machine({ cpus: 2 });
  const t = m.spawn('p').main;

  it('every entry is a ThreadHandle method and a ThreadPaths method', () => {
    for (const name of SYSCALL_NAMES) {
      assert.equal(typeof (t as unknown as Record<string, unknown>)[name], 'function', `ThreadHandle.${name}`);
      assert.equal(typeof (t.paths as unknown as Record<string, unknown>)[name], 'function', `ThreadPaths.${name}`);
    }
  });

  it('every entry is spelled by at least one scenario operation of its own personality', () => {
    for (const name of SYSCALL_NAMES) {
      const ops = Object.entries(OPS).filter(([, d]) => d.syscall === name);
      assert.ok(ops.length > 0, `no scenario operation runs ${name}`);
      const personality = SYSCALLS[name].personality;
      for (const [op, d] of ops) {
        assert.equal(d.place, 'thread', op);
        assert.equal(d.os ?? 'both', personality, `${op} is a ${personality} interface`);
      }
    }
  });

  it('every thread operation of the language is a table entry or a known non-syscall', () => {
    for (const [op, d] of Object.entries(OPS)) {
      if (d.place === 'top') continue;
      assert.ok(d.syscall !== undefined || NOT_SYSCALLS.has(op), `'${op}' runs in a thread but is not in the syscall table`);
      if (d.syscall !== undefined) assert.ok(SYSCALL_NAMES.includes(d.syscall), op);
    }
  });

  it('every thread operation has a kernel path, so none runs outside the scheduler', () => {
    // One concurrent block per operation, each line of a shape the operation accepts: the
    // runner throws an mmsim bug for an operation with no path.
    const lines: Record<string, string> = {
      mmap: 'mmap 4K rw',
      munmap: 'munmap a 4K',
      mprotect: 'mprotect a 4K r',
      madvise: 'madvise a 4K dontneed',
      msync: 'msync a 4K sync',
      open: 'open /f',
      close: 'close 3',
      pread: 'pread 3 a 1 0',
      pwrite: 'pwrite 3 a 1 0',
      ftruncate: 'ftruncate 3 0',
      load: 'load a size=2',
      store: 'store a 1 size=4',
      fetch: 'fetch a',
      fork: 'c = fork',
      exec: 'exec',
      exit: 'exit',
      swapout: 'swapout',
      reclaim: 'reclaim 1',
      check: 'check',
      pkey_set: 'pkey_set 1 none',
      pkru_set: 'pkru_set key=1 none',
      pkey_get: 'pkey_get 1',
      wrpkru: 'wrpkru 0',
      ptrace_peek: 'ptrace_peek p a',
      sigenter: 'sigenter',
      sigreturn: 'sigenter\n    sigreturn',
      rdpkru: 'rdpkru',
    };
    for (const [op, d] of Object.entries(OPS)) {
      if (d.place === 'top' || d.os !== undefined) continue;
      const line = lines[op];
      assert.ok(line !== undefined, `give '${op}' a line here`);
      const text = ['machine x86_64 cpus=2', 'file /f size=4K', 'process p', '  a = mmap 4K rw', '  store a 1', 'thread p.t1 cpu=1', 'concurrent', '  thread p', '    munmap a + 8K 4K', '  thread p.t1', `    ${line}`].join('\n');
      const r = runScenario(text, `${op}.mms`);
      assert.deepEqual(r.diagnostics, [], op);
      const ran = r.lines.filter((l) => l.line >= 11);
      assert.equal(ran.length, line.split('\n').length, op);
      for (const l of ran) assert.equal(l.error, null, `${op}: ${JSON.stringify(l)}`);
    }
  });

  it('argument specs match the paths: an entry takes as many arguments as it checks', () => {
    for (const name of SYSCALL_NAMES) {
      const d = SYSCALLS[name];
      // A path factory's declared parameters (before the first default) are its context and
      // the required arguments, so the optional specs are the tail of the list.
      const required = d.args.filter((a) => !a.optional).length;
      assert.ok(d.path.length - 1 <= d.args.length, name);
      assert.equal(d.args.slice(required).every((a) => a.optional), true, `${name}: optional arguments come last`);
    }
  });

  it('a misuse names the method and the argument, as the checks of today did', () => {
    assert.throws(() => checkArgs('ThreadHandle.mmap', SYSCALLS.mmap.args, [0, NaN, 0, 0], m), /ThreadHandle\.mmap: length must be an integer/);
    assert.throws(() => t.pkruSetPerm(1, 1 as unknown as boolean, true), /ThreadHandle\.pkruSetPerm: access must be true or false, not 1/);
    assert.throws(() => t.paths.fork(9), /no CPU 9: the machine has 2/);
    assert.throws(() => t.paths.open(3 as unknown as string, 0), /ThreadPaths\.open: path must be a string/);
  });
});

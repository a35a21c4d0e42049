/** Shared setup of the mm behaviour tests. */
import assert from 'node:assert/strict';
import { isErrno, Machine, MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE, type ProcessHandle, type ThreadHandle } from '../../src/index.js';

export const PAGE = 4096;
export const RW = PROT_READ | PROT_WRITE;
export const ANON = MAP_PRIVATE | MAP_ANONYMOUS;

/** A small machine checking every invariant after each operation, with one process. */
export function setup(cpus = 1): { m: Machine; p: ProcessHandle; t: ThreadHandle } {
  const m = new Machine({ cpus, memory: 4 << 20, swap: 4 << 20, invariants: 'throw' });
  const p = m.spawn('p');
  return { m, p, t: p.main };
}

/** mmap that must succeed. */
export function map(t: ThreadHandle, addr: number, len: number, prot: number, flags: number, fd = -1, off = 0): number {
  const a = t.mmap(addr, len, prot, flags, fd, off);
  if (isErrno(a)) assert.fail(`mmap failed with ${a.name}`);
  return a;
}

/** open that must succeed. */
export function open(t: ThreadHandle, path: string, flags: number): number {
  const fd = t.open(path, flags);
  if (isErrno(fd)) assert.fail(`open failed with ${fd.name}`);
  return fd;
}

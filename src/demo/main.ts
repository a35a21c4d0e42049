/**
 * `npm start`: a short tour of the model — fork, copy-on-write, swap-out and swap-in —
 * printing the maps, page-table entries and counters a kernel developer would look at.
 */
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_NONE, PROT_READ, PROT_WRITE, isErrno, isSignal, Machine, type ProcessHandle } from '../index.js';

const PAGE = 4096;
const MiB = 1024 * 1024;

function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

function section(title: string): void {
  console.log(`\n== ${title}`);
}

function pte(p: ProcessHandle, va: number): string {
  const e = p.snapshot({ start: va, end: va + PAGE }).pageTable[0];
  return e ? `${e.entry}${e.frame ? ` (frame ${e.frame.kind}, mapcount ${e.frame.mapcount})` : ''}` : 'none';
}

function main(): number {
  const m = new Machine({ cpus: 2, memory: 64 * MiB, swap: 64 * MiB, invariants: 'throw' });
  console.log('mmsim: x86-64, linux personality, 2 CPUs, 64 MiB memory, 64 MiB swap; every invariant checked after each step');

  section('mmap 24 pages, then make the first and last PROT_NONE (Linux splits into three VMAs)');
  const parent = m.spawn('parent', 0);
  const t = parent.main;
  const a = t.mmap(0, 24 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
  if (isErrno(a)) throw new Error(`mmap failed: ${a.name}`);
  t.mprotect(a, PAGE, PROT_NONE);
  t.mprotect(a + 23 * PAGE, PAGE, PROT_NONE);
  process.stdout.write(parent.maps());
  t.mprotect(a, 24 * PAGE, PROT_READ | PROT_WRITE);
  console.log('after mprotect(rw) over all 24 pages, they merge back:');
  process.stdout.write(parent.maps());

  section('write a value into every page, then fork a child on CPU 1');
  for (let i = 0; i < 24; i++) t.store(a + i * PAGE, 0x40 + i);
  console.log(`parent PTE of page 5 before fork: ${pte(parent, a + 5 * PAGE)}`);
  const child = t.fork(1);
  if (isErrno(child)) throw new Error(`fork failed: ${child.name}`);
  console.log(`parent PTE of page 5 after fork:  ${pte(parent, a + 5 * PAGE)}  (write-protected for COW)`);
  console.log(`child  PTE of page 5 after fork:  ${pte(child, a + 5 * PAGE)}`);

  section('the child writes page 5: copy-on-write gives it a frame of its own');
  child.main.store(a + 5 * PAGE, 0x99);
  console.log(`child reads ${hex(child.main.load(a + 5 * PAGE) as number)}, parent reads ${hex(t.load(a + 5 * PAGE) as number)}`);
  console.log(`child  PTE: ${pte(child, a + 5 * PAGE)}`);
  console.log(`parent PTE: ${pte(parent, a + 5 * PAGE)}`);
  console.log(`child counters: ${JSON.stringify(child.counters)}`);

  section('swap the parent out: its pages become swap entries (shared ones stay in the swap cache)');
  const unmapped = parent.swapOut();
  console.log(`${unmapped} entries unmapped; page 6 is now: ${pte(parent, a + 6 * PAGE)}`);
  console.log(`parent resident pages: ${parent.resident}`);

  section('the parent reads its pages back: swap-in, and the bytes are all there');
  let ok = true;
  for (let i = 0; i < 24; i++) {
    const v = t.load(a + i * PAGE);
    if (v !== 0x40 + i) ok = false;
  }
  console.log(`all 24 values read back ${ok ? 'intact' : 'CORRUPTED'}; page 6 is ${pte(parent, a + 6 * PAGE)}`);
  console.log(`parent counters: ${JSON.stringify(parent.counters)}`);

  section('a store to an unmapped address is a signal value, not an exception');
  const sig = t.store(0x1000, 1);
  if (isSignal(sig)) console.log(`${sig.signal} ${sig.code} at ${hex(sig.addr)} (error code ${sig.errorCode})`);

  section('both exit: every frame and swap slot is free again');
  child.exit(0);
  parent.exit(0);
  const c = m.counters();
  console.log(`free frames ${c.machine.freeFrames} of ${c.machine.frames}, swap slots in use ${c.machine.swapUsed}`);
  for (const cpu of c.cpus) {
    console.log(`CPU: TLB hits ${cpu.tlbHits}, misses ${cpu.tlbMisses}, flushes ${cpu.flushes}, IPIs sent ${cpu.ipisSent}, received ${cpu.ipisReceived}, page faults ${cpu.pageFaults}`);
  }
  const violations = m.checkInvariants();
  console.log(`invariants: ${violations.length === 0 ? 'all hold' : violations.map((v) => v.id).join(', ')}`);
  return ok && violations.length === 0 ? 0 : 1;
}

process.exitCode = main();

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { errno, isErrno, isSignal, O_RDWR, PROT_EXEC, PROT_READ, PROT_WRITE, type Machine } from '../../src/index.js';
import { PAGE, RW, ANON, setup as setupWith, type Setup } from './_helpers.js';

/** A 2-CPU machine with 8 MiB of memory and of swap, with or without PKU, and one process. */
const setup = (pku = true): Setup => setupWith({ cpus: 2, memory: 8 << 20, swap: 8 << 20, pku });

describe('Linux protection keys: pkey_alloc / pkey_free', () => {
  it('hands out the lowest free key from 1 and writes the rights into the caller\'s PKRU only', () => {
    const { p, t } = setup();
    const other = p.spawnThread(1);
    const before = other.pkru;
    assert.equal(t.pkeyAlloc(0, 0), 1);
    assert.equal(t.pkeyAlloc(0, 2), 2);
    assert.equal((t.pkru >>> 4) & 3, 2, 'write-disable for key 2 in the caller');
    assert.equal(other.pkru, before, 'another thread keeps its PKRU');
    assert.equal(t.pkeyFree(1), 0);
    assert.equal(t.pkeyAlloc(0, 0), 1, 'a freed key is handed out again');
  });

  it('EINVAL for flags or unknown rights, ENOSPC when all 15 are taken, ENOSPC without PKU', () => {
    const { t } = setup();
    assert.equal(t.pkeyAlloc(1, 0), errno('EINVAL'));
    assert.equal(t.pkeyAlloc(0, 4), errno('EINVAL'));
    for (let i = 1; i < 16; i++) assert.equal(t.pkeyAlloc(0, 0), i);
    assert.equal(t.pkeyAlloc(0, 0), errno('ENOSPC'));
    assert.equal(setup(false).t.pkeyAlloc(0, 0), errno('ENOSPC'));
  });

  it('pkey_free: EINVAL for keys out of range, not allocated, or the execute-only key', () => {
    const { t } = setup();
    for (const k of [-1, 16, 3]) assert.equal(t.pkeyFree(k), errno('EINVAL'), `key ${k}`);
    t.mmap(0, PAGE, PROT_EXEC, ANON);
    assert.equal(t.pkeyFree(1), errno('EINVAL'), 'key 1 became the execute-only key');
  });
});

describe('Linux protection keys: pkey_mprotect and enforcement', () => {
  it('checks in Linux order: unaligned EINVAL, len 0 → 0, wrap ENOMEM, bad prot EINVAL, unallocated key EINVAL, no VMA ENOMEM', () => {
    const { t } = setup();
    const a = t.mmap(0, 4 * PAGE, RW, ANON) as number;
    assert.equal(t.pkeyMprotect(a + 1, PAGE, RW, 1), errno('EINVAL'));
    assert.equal(t.pkeyMprotect(a, 0, RW, 7), 0);
    assert.equal(t.pkeyMprotect(a, 2 ** 64, RW, -1), errno('ENOMEM'));
    assert.equal(t.pkeyMprotect(a, PAGE, 0x100, -1), errno('EINVAL'));
    assert.equal(t.pkeyMprotect(a, PAGE, RW, 1), errno('EINVAL'), 'key 1 not allocated');
    const k = t.pkeyAlloc(0, 0) as number;
    assert.equal(t.pkeyMprotect(0x10000, PAGE, RW, k), errno('ENOMEM'));
    assert.equal(t.pkeyMprotect(a, PAGE, RW, k), 0);
  });

  it('a write-disabled key stops writes (SEGV_PKUERR with si_pkey) but not reads; access-disable stops both; fetches never', () => {
    const { p, t } = setup();
    const a = t.mmap(0, PAGE, PROT_READ | PROT_WRITE | PROT_EXEC, ANON) as number;
    t.store(a, 0x5a);
    const k = t.pkeyAlloc(0, 0) as number;
    t.pkeyMprotect(a, PAGE, PROT_READ | PROT_WRITE | PROT_EXEC, k);
    assert.equal(t.pkeySet(k, 2), 0);
    const w = t.store(a, 1);
    assert.ok(isSignal(w) && w.code === 'SEGV_PKUERR' && w.pkey === k && (w.errorCode & 0x20) !== 0);
    assert.equal(t.load(a), 0x5a);
    t.pkeySet(k, 1);
    const r = t.load(a);
    assert.ok(isSignal(r) && r.code === 'SEGV_PKUERR');
    assert.equal(t.fetch(a), 0x5a, 'keys never apply to instruction fetch');
    assert.equal(p.pte(a).key, k);
  });

  it('changing PKRU needs no TLB flush', () => {
    const { m, t } = setup();
    const a = t.mmap(0, PAGE, RW, ANON) as number;
    const k = t.pkeyAlloc(0, 0) as number;
    t.pkeyMprotect(a, PAGE, RW, k);
    t.store(a, 1);
    const flushes = m.counters().cpus[0].flushes;
    for (let i = 0; i < 10; i++) t.pkeySet(k, i & 1 ? 0 : 1);
    assert.equal(m.counters().cpus[0].flushes, flushes);
  });

  it('the key survives swap-out, COW after fork and mremap: every new PTE takes the VMA\'s key', () => {
    const { p, t } = setup();
    const a = t.mmap(0, 2 * PAGE, RW, ANON) as number;
    t.store(a, 1);
    const k = t.pkeyAlloc(0, 0) as number;
    t.pkeyMprotect(a, 2 * PAGE, RW, k);
    p.swapOut();
    assert.equal(t.load(a), 1);
    assert.equal(p.pte(a).key, k);
    const c = t.fork(1);
    assert.ok(!isErrno(c));
    const child = c;
    assert.equal(child.main.store(a, 2), null);
    assert.equal(child.pte(a).key, k, 'the COW copy keeps the key');
    const b = t.mremap(a, 2 * PAGE, 2 * PAGE, 1 /* MREMAP_MAYMOVE */, 0);
    assert.equal(typeof b, 'number');
    const moved = t.mremap(a, 2 * PAGE, 4 * PAGE, 1);
    assert.equal(typeof moved, 'number');
    assert.equal(p.pte(moved as number).key, k);
  });

  it('fork copies the allocation map; exec resets it and PKRU to 0x55555554; a new thread inherits its creator\'s PKRU', () => {
    const { p, t } = setup();
    const k = t.pkeyAlloc(0, 1) as number;
    const th = p.spawnThread(1);
    assert.equal(th.pkru, t.pkru);
    const child = t.fork(1) as ReturnType<Machine['spawn']>;
    assert.equal(child.main.pkeyFree(k), 0, 'the child inherited the allocation');
    assert.equal(child.main.pkru, t.pkru);
    t.exec();
    assert.equal(t.pkru, 0x55555554);
    assert.equal(t.pkeyFree(k), errno('EINVAL'));
  });

  it('execute-only memory: PROT_EXEC alone gets the execute-only key; reads fault, fetches work; leaving exec-only returns to key 0', () => {
    const { p, t } = setup();
    const x = t.mmap(0, PAGE, PROT_EXEC, ANON) as number;
    assert.equal(t.fetch(x), 0);
    const r = t.load(x);
    assert.ok(isSignal(r) && r.code === 'SEGV_PKUERR' && r.pkey === 1);
    assert.equal(p.vma(x)?.pkey, 1);
    assert.equal(t.mprotect(x, PAGE, PROT_READ), 0);
    assert.equal(p.vma(x)?.pkey, 0);
    assert.equal(t.load(x), 0);
  });

  it('a kernel copy to a key-denied user buffer is EFAULT, not a signal', () => {
    const { m, t } = setup();
    m.createFile('/f', new Uint8Array([1, 2, 3, 4]));
    const fd = t.open('/f', O_RDWR) as number;
    const a = t.mmap(0, PAGE, RW, ANON) as number;
    const k = t.pkeyAlloc(0, 0) as number;
    t.pkeyMprotect(a, PAGE, RW, k);
    t.pkeySet(k, 1);
    const before = t.signals.length;
    assert.equal(t.pread(fd, a, 4, 0), errno('EFAULT'));
    assert.equal(t.signals.length, before);
    t.pkeySet(k, 0);
    assert.equal(t.pread(fd, a, 4, 0), 4);
    assert.equal(t.load(a + 3), 4);
  });

  it('without PKU, WRPKRU and pkey_set raise SIGILL', () => {
    const { t } = setup(false);
    const s = t.writePkru(0);
    assert.ok(isSignal(s) && s.signal === 'SIGILL');
    const r = t.pkeySet(1, 1);
    assert.ok(isSignal(r) && r.signal === 'SIGILL');
  });

  it('a foreign (ptrace-style) read ignores PKRU and reads PROT_NONE memory; EIO where nothing is mapped', () => {
    const { m, p, t } = setup();
    const a = t.mmap(0, 2 * PAGE, RW, ANON) as number;
    t.store(a, 0x42);
    t.store(a + PAGE, 0x43);
    const k = t.pkeyAlloc(0, 0) as number;
    t.pkeyMprotect(a, PAGE, RW, k);
    t.pkeySet(k, 1);
    t.mprotect(a + PAGE, PAGE, 0);
    const tracer = m.spawn('tracer', 1).main;
    assert.equal(tracer.ptracePeek(p, a), 0x42);
    assert.equal(tracer.ptracePeek(p, a + PAGE), 0x43);
    assert.equal(tracer.ptracePeek(p, 0x10000), errno('EIO'));
    const r = t.load(a);
    assert.ok(isSignal(r) && r.code === 'SEGV_PKUERR', 'the owner itself is still denied');
  });

  it('a signal handler runs with the init PKRU and the interrupted PKRU comes back on return', () => {
    const { t } = setup();
    const a = t.mmap(0, PAGE, RW, ANON) as number;
    const k = t.pkeyAlloc(0, 0) as number;
    t.pkeyMprotect(a, PAGE, RW, k);
    t.store(a, 7);
    t.pkeySet(k, 0);
    const interrupted = t.pkru;
    const inHandler = t.runSignalHandler((h) => {
      const seen = h.pkru;
      const r = h.load(a);
      h.pkeySet(k, 0); // lost at sigreturn
      return { seen, r };
    });
    assert.equal(inHandler.seen, 0x55555554);
    assert.ok(isSignal(inHandler.r) && inHandler.r.code === 'SEGV_PKUERR', 'key 1 is access-disabled in the handler');
    assert.equal(t.pkru, interrupted);
    assert.equal(t.load(a), 7);
  });
});


describe('signal frames: sigenter / sigreturn across fork and exec', () => {
  it('a child forked inside a handler returns through the same frame; exec drops the frames', () => {
    const { m, t } = setup();
    assert.equal(t.pkeySet(1, 0), 0);
    const interrupted = t.pkru;
    t.enterSignalHandler();
    assert.equal(t.pkru, 0x55555554);
    const child = t.fork();
    assert.ok(!isErrno(child));
    assert.equal(child.main.pkru, 0x55555554, 'the child inherits the handler PKRU');
    assert.equal(child.main.returnFromSignalHandler(), true);
    assert.equal(child.main.pkru, interrupted, "the child returns to the parent's interrupted PKRU");
    assert.equal(t.exec(), 0);
    assert.equal(t.returnFromSignalHandler(), false, 'no frame survives exec');
    assert.equal(t.pkru, 0x55555554);
    assert.equal(m.checkInvariants().length, 0);
  });
});

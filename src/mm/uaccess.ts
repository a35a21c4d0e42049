import { type Cpu } from '../hw/cpu.js';
import { ACCESS_FETCH, ACCESS_READ, ACCESS_WRITE, type AccessKind, faultErrorCode } from '../hw/mmu.js';
import { PAGE_SIZE, pageOffset } from '../hw/pte.js';
import { drain, type KernelPath } from '../step/step.js';
import { EFAULT, type SysResult } from './errno.js';
import { handleUserFault, retractFaultSignal } from './fault.js';
import { type Kernel } from './kernel.js';
import { type Thread } from './process.js';
import { type SignalInfo } from './signal.js';

/** Retries after a resolved fault before mmsim calls its own fault handling broken. */
const MAX_FAULT_RETRIES = 8;

/**
 * Addresses from 2^47 up are the kernel half or non-canonical. mmsim treats every one as
 * non-canonical: a #GP, which Linux reports as SIGSEGV with si_code SI_KERNEL and
 * si_addr 0 (arch/x86/kernel/traps.c). (A canonical kernel address would be a page fault
 * with SEGV_MAPERR instead; such values are beyond 2^53 and not exact in a JS number.)
 */
export const USER_ADDRESS_LIMIT = 2 ** 47;

function generalProtection(t: Thread): SignalInfo {
  const info: SignalInfo = { signal: 'SIGSEGV', code: 'SI_KERNEL', addr: 0, pkey: -1, errorCode: 0, tid: t.tid };
  t.signals.push(info);
  return info;
}

/**
 * own-context: an access translates through the address space and PKRU of the thread
 * that makes it. The CPU's owner is reset by every CR3 write, so owner === t proves both.
 * A violation here means a scheduler resumed `t` without switching to it.
 * @internal
 */
export function checkOwnContext(k: Kernel, t: Thread, cpu: Cpu, va: number): void {
  if (cpu.owner === t && cpu.cr3Table === t.process.mm.pmap.root) return;
  k.hw.mmu.violations.push({ id: 'own-context', message: `thread ${t.tid} accessed 0x${va.toString(16)} on CPU ${cpu.id} while another context was loaded there` });
}

/** The signal an access on a dead thread reports. */
function deadThread(t: Thread, va: number): SignalInfo {
  return t.signals[t.signals.length - 1] ?? { signal: 'SIGKILL', code: 'SI_KERNEL', addr: va, pkey: -1, errorCode: 0, tid: t.tid };
}

/**
 * Translates `va` for a user access by `t`, resolving faults through the kernel. Returns
 * the frame, or a signal when the kernel could not resolve the fault. Sequential: the
 * fault path is drained. The common case — a TLB hit — allocates nothing.
 */
export function userTranslate(k: Kernel, t: Thread, va: number, kind: AccessKind): number | SignalInfo {
  // The common case, kept small enough for V8 to inline into every access: the thread is
  // live and loaded on its CPU, and the MMU translates without a fault.
  const cpu = t.cpu;
  if (cpu.owner === t && t.alive && va < USER_ADDRESS_LIMIT) {
    const r = k.hw.mmu.translate(cpu, va, kind, true);
    if (r >= 0) return r;
  }
  return userTranslateSlow(k, t, va, kind);
}

/** {@link userTranslate} from the start: thread checks, the switch to it, and faults. */
function userTranslateSlow(k: Kernel, t: Thread, va: number, kind: AccessKind): number | SignalInfo {
  // A thread that exited, was killed or was ended by exec runs no more instructions.
  if (!t.alive) return deadThread(t, va);
  if (va >= USER_ADDRESS_LIMIT) return generalProtection(t);
  const cpu = k.switchTo(t);
  for (let attempt = 0; attempt < MAX_FAULT_RETRIES; attempt++) {
    const r = k.hw.mmu.translate(cpu, va, kind, true);
    checkOwnContext(k, t, cpu, va);
    if (r >= 0) return r;
    if (!t.alive) return deadThread(t, va);
    const out = drain(handleUserFault(k, t, va, faultErrorCode(r)));
    if (out !== null) return out;
    if (!t.alive) return deadThread(t, va);
  }
  return thrashed(k, t, va, 'the page it needs cannot stay resident');
}

/** The same as {@link userTranslate}, as a kernel path that yields at the access and inside the fault. */
export function* userTranslatePath(k: Kernel, t: Thread, va: number, kind: AccessKind): KernelPath<number | SignalInfo> {
  if (!t.alive) return deadThread(t, va);
  if (va >= USER_ADDRESS_LIMIT) return generalProtection(t);
  for (let attempt = 0; attempt < MAX_FAULT_RETRIES; attempt++) {
    yield t.ctx.at('access', `${kind === ACCESS_WRITE ? 'store' : kind === ACCESS_FETCH ? 'fetch' : 'load'} 0x${va.toString(16)}`, va);
    // The switch comes after the yield and nothing yields before the translation: another
    // thread on this CPU may have run in between and left its CR3 and PKRU loaded.
    if (!t.alive) return deadThread(t, va);
    const cpu = k.switchTo(t);
    const r = k.hw.mmu.translate(cpu, va, kind, true);
    checkOwnContext(k, t, cpu, va);
    if (r >= 0) return r;
    if (!t.alive) return deadThread(t, va);
    const out = yield* handleUserFault(k, t, va, faultErrorCode(r));
    if (out !== null) return out;
    if (!t.alive) return deadThread(t, va);
  }
  return thrashed(k, t, va, 'the page it needs cannot stay resident');
}

/** Reads `size` little-endian bytes at `va` (1, 2 or 4), or the signal the access raised. */
export function userLoad(k: Kernel, t: Thread, va: number, size: 1 | 2 | 4): number | SignalInfo {
  const pfn = userTranslate(k, t, va, ACCESS_READ);
  if (typeof pfn !== 'number') return pfn;
  if (size === 1) return k.hw.mem.read8(pfn, pageOffset(va));
  return loadWide(k, t, va, pfn, size);
}

/** The rest of a 2- or 4-byte load whose first page translated to `pfn`. */
function loadWide(k: Kernel, t: Thread, va: number, pfn: number, size: 2 | 4): number | SignalInfo {
  const off = pageOffset(va);
  if (off + size <= PAGE_SIZE) return readWide(k, pfn, pfn, off, size);
  const pair = translateSplit(k, t, va, ACCESS_READ);
  if (!Array.isArray(pair)) return pair;
  return readWide(k, pair[0], pair[1], off, size);
}

/** `size` little-endian bytes from offset `off` of frame `pfn`, running on into `pfn2` past the page end. */
function readWide(k: Kernel, pfn: number, pfn2: number, off: number, size: number): number {
  const mem = k.hw.mem;
  let v = 0;
  for (let i = size - 1; i >= 0; i--) {
    const o = off + i;
    v = v * 256 + (o < PAGE_SIZE ? mem.read8(pfn, o) : mem.read8(pfn2, o - PAGE_SIZE));
  }
  return v;
}

/**
 * Both frames of an access that straddles a page boundary, translated together, as x86
 * checks both pages before it moves a byte. Resolving one page's fault may take the other
 * page away (reclaim, a COW break elsewhere), so the pair counts only once two
 * back-to-back MMU lookups succeed with no fault handling between them; until then each
 * fault is resolved and the pair is looked up again — the instruction restarts.
 */
function translateSplit(k: Kernel, t: Thread, va: number, kind: AccessKind): [number, number] | SignalInfo {
  const first = va - pageOffset(va);
  const second = first + PAGE_SIZE;
  for (let attempt = 0; attempt < MAX_FAULT_RETRIES; attempt++) {
    const a = userTranslate(k, t, first, kind);
    if (typeof a !== 'number') return a;
    const b = userTranslate(k, t, second, kind);
    if (typeof b !== 'number') return b;
    const cpu = t.cpu;
    const a2 = k.hw.mmu.translate(cpu, first, kind, true);
    const b2 = a2 >= 0 ? k.hw.mmu.translate(cpu, second, kind, true) : -1;
    if (a2 >= 0 && b2 >= 0) return [a2, b2];
  }
  return thrashed(k, t, va, 'the two pages of its split access cannot be resident together');
}

/**
 * An access whose faults keep being resolved and undone: memory is so short that what one
 * fault brings in, reclaim for the next (or for another thread between the retries) takes
 * away, and the instruction never completes. Linux's reclaim would see no progress for
 * this task and end in the OOM killer; mmsim kills the faulting process, reported as an
 * OOM kill, rather than retry for ever.
 */
function thrashed(k: Kernel, t: Thread, va: number, why: string): SignalInfo {
  const p = t.process;
  if (p.alive) {
    k.events.push({ kind: 'oom-kill', message: `Out of memory: killed process ${p.pid} (${p.name}): at 0x${va.toString(16)}, ${why}` });
    k.killProcess(p, 'out of memory: an access that cannot complete');
  }
  return deadThread(t, va);
}

/** Writes `size` little-endian bytes of `value` at `va`; returns null or the signal the access raised. */
export function userStore(k: Kernel, t: Thread, va: number, value: number, size: 1 | 2 | 4): SignalInfo | null {
  const off = pageOffset(va);
  const pfn = userTranslate(k, t, va, ACCESS_WRITE);
  if (typeof pfn !== 'number') return pfn;
  const mem = k.hw.mem;
  if (size === 1) {
    mem.write8(pfn, off, value);
    return null;
  }
  if (off + size <= PAGE_SIZE) return writeSplit(k, pfn, pfn, off, value, size);
  const pair = translateSplit(k, t, va, ACCESS_WRITE);
  if (!Array.isArray(pair)) return pair;
  return writeSplit(k, pair[0], pair[1], off, value, size);
}

function writeSplit(k: Kernel, pfn: number, pfn2: number, off: number, value: number, size: number): null {
  const mem = k.hw.mem;
  let v = value >>> 0;
  for (let i = 0; i < size; i++) {
    const o = off + i;
    if (o < PAGE_SIZE) mem.write8(pfn, o, v & 0xff);
    else mem.write8(pfn2, o - PAGE_SIZE, v & 0xff);
    v = Math.floor(v / 256);
  }
  return null;
}

/** An instruction fetch at `va`: the byte there, or the signal it raised. */
export function userFetch(k: Kernel, t: Thread, va: number): number | SignalInfo {
  const pfn = userTranslate(k, t, va, ACCESS_FETCH);
  if (typeof pfn !== 'number') return pfn;
  return k.hw.mem.read8(pfn, pageOffset(va));
}

/**
 * copy_to_user() / copy_from_user(): the kernel touching user memory for `t` — a
 * supervisor access with EFLAGS.AC set (STAC), so SMAP allows it and PKRU still applies.
 * A fault the kernel cannot resolve is EFAULT, not a signal (the exception-table fixup).
 * It yields before each page it touches and inside the faults it takes, as the user
 * accesses of {@link userTranslatePath} do.
 */
export function* copyUser(k: Kernel, t: Thread, va: number, bytes: Uint8Array, toUser: boolean): KernelPath<SysResult> {
  const kind = toUser ? ACCESS_WRITE : ACCESS_READ;
  const mem = k.hw.mem;
  const ctx = t.ctx;
  let i = 0;
  let retries = 0;
  while (i < bytes.length) {
    const a = va + i;
    if (ctx.preemptible) yield ctx.at('access', `${toUser ? 'copy_to_user' : 'copy_from_user'} 0x${a.toString(16)}`, a);
    // After the yield: another thread on this CPU may have left its CR3 and PKRU loaded.
    if (!t.alive) return i > 0 ? i : EFAULT;
    const cpu = k.switchTo(t);
    cpu.ac = true;
    const r = k.hw.mmu.translate(cpu, a, kind, false);
    cpu.ac = false;
    checkOwnContext(k, t, cpu, a);
    if (r < 0) {
      const out = yield* handleUserFault(k, t, a, faultErrorCode(r));
      // A kernel access never raises a signal: take back the one the fault path recorded.
      retractFaultSignal(t, out);
      // Like copy_to_user(), a short copy reports what was copied; nothing copied is EFAULT.
      if (out !== null || !t.alive) return i > 0 ? i : EFAULT;
      if (++retries > MAX_FAULT_RETRIES) throw new Error(`mmsim bug: kernel access to 0x${a.toString(16)} keeps faulting`);
      continue;
    }
    const off = pageOffset(a);
    const n = Math.min(bytes.length - i, PAGE_SIZE - off);
    for (let j = 0; j < n; j++) {
      if (toUser) mem.write8(r, off + j, bytes[i + j]);
      else bytes[i + j] = mem.read8(r, off + j);
    }
    i += n;
    retries = 0;
  }
  return bytes.length;
}

// The user accesses as kernel paths, for a scheduler: the same checks and results as
// userLoad, userStore and userFetch, with a preemption point at each translation and
// inside each fault.

/** {@link userLoad} as a kernel path. */
export function* userLoadPath(k: Kernel, t: Thread, va: number, size: 1 | 2 | 4): KernelPath<number | SignalInfo> {
  const pfn = yield* userTranslatePath(k, t, va, ACCESS_READ);
  if (typeof pfn !== 'number') return pfn;
  const off = pageOffset(va);
  if (off + size <= PAGE_SIZE) return readWide(k, pfn, pfn, off, size);
  const pair = yield* translateSplitPath(k, t, va, ACCESS_READ);
  if (!Array.isArray(pair)) return pair;
  return readWide(k, pair[0], pair[1], off, size);
}

/** {@link userStore} as a kernel path. */
export function* userStorePath(k: Kernel, t: Thread, va: number, value: number, size: 1 | 2 | 4): KernelPath<SignalInfo | null> {
  const pfn = yield* userTranslatePath(k, t, va, ACCESS_WRITE);
  if (typeof pfn !== 'number') return pfn;
  const off = pageOffset(va);
  if (off + size <= PAGE_SIZE) return writeSplit(k, pfn, pfn, off, value, size);
  const pair = yield* translateSplitPath(k, t, va, ACCESS_WRITE);
  if (!Array.isArray(pair)) return pair;
  return writeSplit(k, pair[0], pair[1], off, value, size);
}

/** {@link userFetch} as a kernel path. */
export function* userFetchPath(k: Kernel, t: Thread, va: number): KernelPath<number | SignalInfo> {
  const pfn = yield* userTranslatePath(k, t, va, ACCESS_FETCH);
  return typeof pfn === 'number' ? k.hw.mem.read8(pfn, pageOffset(va)) : pfn;
}

/**
 * {@link translateSplit} as a kernel path: each page's translation may yield and fault,
 * but the final pair of MMU lookups runs with no yield between them — the instruction
 * checks both pages at once.
 */
function* translateSplitPath(k: Kernel, t: Thread, va: number, kind: AccessKind): KernelPath<[number, number] | SignalInfo> {
  const first = va - pageOffset(va);
  const second = first + PAGE_SIZE;
  for (let attempt = 0; attempt < MAX_FAULT_RETRIES; attempt++) {
    const a = yield* userTranslatePath(k, t, first, kind);
    if (typeof a !== 'number') return a;
    const b = yield* userTranslatePath(k, t, second, kind);
    if (typeof b !== 'number') return b;
    const cpu = k.switchTo(t);
    const a2 = k.hw.mmu.translate(cpu, first, kind, true);
    const b2 = a2 >= 0 ? k.hw.mmu.translate(cpu, second, kind, true) : -1;
    if (a2 >= 0 && b2 >= 0) return [a2, b2];
  }
  return thrashed(k, t, va, 'the two pages of its split access cannot be resident together');
}

import { type KernelPath } from '../step/step.js';
import { type Kernel } from './kernel.js';
import { type Thread } from './process.js';

/**
 * A thread's kernel path as its CPU runs it under a scheduler. Another thread pinned to
 * the same CPU may run between two steps of this path; when this one is resumed, the CPU
 * switches back to it first (switch_mm_irqs_off() for CR3/PCID, switch_fpu_return() for
 * PKRU), so every step runs with the thread's own address space and PKRU loaded — never
 * with whatever the last thread on that CPU left behind.
 */
export function* onItsCpu<R>(k: Kernel, t: Thread, path: KernelPath<R>): KernelPath<R> {
  if (t.alive) k.switchTo(t);
  let r = path.next();
  while (!r.done) {
    yield r.value;
    // A thread killed while it was switched out runs only its own exit work; its
    // address space may already be gone, so nothing is loaded for it.
    if (t.alive) k.switchTo(t);
    r = path.next();
  }
  return r.value;
}

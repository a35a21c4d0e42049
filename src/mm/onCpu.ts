import { drain, type KernelPath } from '../step/step.js';
import { type Kernel } from './kernel.js';
import { type Mm } from './mm.js';
import { type Thread } from './process.js';

/**
 * A thread's kernel path as its CPU runs it under a scheduler. Another thread pinned to
 * the same CPU may run between two steps of this path; when this one is resumed, the CPU
 * switches back to it first (switch_mm_irqs_off() for CR3/PCID, switch_fpu_return() for
 * PKRU), so every step runs with the thread's own address space and PKRU loaded — never
 * with whatever the last thread on that CPU left behind.
 *
 * From its creation until it ends, the path pins the address space it works on (see
 * {@link Kernel.mmget}): a sibling's exit or an OOM kill before or during it leaves the
 * page tables in place until then. A driver that abandons a path calls {@link release}.
 */
export class PathOnCpu<R> {
  private readonly mm: Mm;
  private held: boolean;
  readonly steps: KernelPath<R>;

  constructor(
    private readonly k: Kernel,
    private readonly t: Thread,
    path: KernelPath<R>,
  ) {
    this.mm = t.process.mm;
    // An address space already torn down (the thread's process is gone) has nothing to pin.
    this.held = k.mms.has(this.mm);
    if (this.held) k.mmget(this.mm);
    this.steps = this.run(path);
  }

  private *run(path: KernelPath<R>): KernelPath<R> {
    const { k, t } = this;
    try {
      if (t.alive) k.switchTo(t);
      let r = path.next();
      while (!r.done) {
        yield r.value;
        // A thread killed while it was switched out runs only the rest of its path; its
        // page tables stay pinned until the end, and nothing is loaded for it.
        if (t.alive) k.switchTo(t);
        r = path.next();
      }
      return r.value;
    } finally {
      this.release();
    }
  }

  /** Drops the pin, once (the path ended, or its driver gave up on it). */
  release(): void {
    if (!this.held) return;
    this.held = false;
    this.k.mmput(this.mm);
  }
}

/** A thread's kernel path run to completion with nothing interleaved, its address space pinned as {@link onItsCpu} does. */
export function runToCompletion<R>(k: Kernel, t: Thread, path: KernelPath<R>): R {
  const mm = t.process.mm;
  if (!k.mms.has(mm)) return drain(path);
  k.mmget(mm);
  try {
    return drain(path);
  } finally {
    k.mmput(mm);
  }
}

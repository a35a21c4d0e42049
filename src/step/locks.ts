import { type KernelCtx, type KernelPath, type Waitable } from './step.js';

/**
 * A reader/writer semaphore (Linux `mmap_lock`). Owners are thread ids; a thread that
 * cannot take it yields 'blocked' steps until it can.
 */
export class RwSemaphore implements Waitable {
  /** Number of readers holding it. */
  readers = 0;
  /** Thread id of the writer, or -1. */
  writer = -1;
  /** Times a taker found it held. */
  contended = 0;

  constructor(readonly name: string) {}

  /** down_read_trylock(). */
  tryRead(): boolean {
    if (this.writer !== -1) return false;
    this.readers++;
    return true;
  }

  /** down_write_trylock(). */
  tryWrite(tid: number): boolean {
    if (this.writer !== -1 || this.readers !== 0) return false;
    this.writer = tid;
    return true;
  }

  /** True when a reader could take it now. */
  get readable(): boolean {
    return this.writer === -1;
  }

  /** True when a writer could take it now. */
  get writable(): boolean {
    return this.writer === -1 && this.readers === 0;
  }

  /** down_read(): yields while a writer holds it. */
  *read(ctx: KernelCtx): KernelPath<void> {
    if (!this.tryRead()) {
      this.contended++;
      do yield ctx.blocked(this);
      while (!this.tryRead());
    }
    if (ctx.preemptible) yield ctx.at('lock', `${this.name} (read)`);
  }

  /** down_write(): yields while anyone holds it. */
  *write(ctx: KernelCtx): KernelPath<void> {
    if (!this.tryWrite(ctx.tid)) {
      this.contended++;
      do yield ctx.blocked(this);
      while (!this.tryWrite(ctx.tid));
    }
    if (ctx.preemptible) yield ctx.at('lock', `${this.name} (write)`);
  }

  /** up_read(). */
  readUnlock(): void {
    if (this.readers <= 0) throw new Error(`mmsim bug: ${this.name} read-unlocked while not read-held`);
    this.readers--;
  }

  /** up_write(). */
  writeUnlock(tid: number): void {
    if (this.writer !== tid) throw new Error(`mmsim bug: ${this.name} write-unlocked by ${tid}, held by ${this.writer}`);
    this.writer = -1;
  }
}

/** A spinlock (a page-table lock): one owner at a time. */
export class SpinLock implements Waitable {
  /** Owner thread id or -1. */
  owner = -1;

  constructor(readonly name: string) {}

  /** True when free. */
  get free(): boolean {
    return this.owner === -1;
  }

  /** spin_lock(). */
  *lock(ctx: KernelCtx): KernelPath<void> {
    while (this.owner !== -1) yield ctx.blocked(this);
    this.owner = ctx.tid;
    if (ctx.preemptible) yield ctx.at('lock', this.name);
  }

  /** spin_unlock(). */
  unlock(ctx: KernelCtx): void {
    if (this.owner !== ctx.tid) throw new Error(`mmsim bug: ${this.name} unlocked by ${ctx.tid}, held by ${this.owner}`);
    this.owner = -1;
  }
}

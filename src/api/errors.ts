/**
 * The errors the library API throws when a caller misuses it — as opposed to what the
 * modelled kernel answers (an errno, a signal), which are values. Each kind has a class,
 * a stable `code` and structured `data`, and serialises to JSON (isomorphic-git style).
 * @packageDocumentation
 */

/** Stable codes of {@link ApiError}s. */
export type ApiErrorCode = 'THREAD_ENDED' | 'PROCESS_EXITED' | 'FOREIGN_HANDLE' | 'REENTRANT_CALL';

/** Base of the API's typed errors: a caller's mistake, never an mmsim bug. */
export class ApiError extends Error {
  constructor(
    /** Stable code, for programs that handle the error. */
    readonly code: ApiErrorCode,
    message: string,
    /** What the error is about (ids, names), for programs and reports. */
    readonly data: Readonly<Record<string, number | string>>,
  ) {
    super(message);
    this.name = new.target.name;
  }

  toJSON(): { name: string; code: ApiErrorCode; message: string; data: Readonly<Record<string, number | string>> } {
    return { name: this.name, code: this.code, message: this.message, data: this.data };
  }
}

/** Thrown when a process that has exited or was killed is asked to do something only a live process can (spawn a thread). */
export class ProcessExitedError extends ApiError {
  constructor(
    readonly pid: number,
    what: string,
  ) {
    super('PROCESS_EXITED', `${what}: process ${pid} has exited`, { pid });
  }
}

/** Thrown when a handle of one machine (or of the wrong process) is passed where another's is needed. */
export class ForeignHandleError extends ApiError {
  constructor(what: string, why: string) {
    super('FOREIGN_HANDLE', `${what}: ${why}`, { what });
  }
}

/**
 * Thrown when a synchronous operation is called from inside {@link Machine.interleave} on
 * a process whose mmap_lock an in-flight kernel path holds: run to completion, the call
 * would wait for a lock that no one can release until it returns. Make the call a path of
 * the interleave instead, or make it where no path of that process holds the lock.
 */
export class ReentrantCallError extends ApiError {
  constructor(what: string, pid: number, lock: string) {
    super(
      'REENTRANT_CALL',
      `${what}: process ${pid} is inside a kernel path that holds ${lock}; a synchronous call would wait for it forever (make it a path of the interleave instead)`,
      { pid, lock },
    );
  }
}

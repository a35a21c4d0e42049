/**
 * mmsim: an executable model of an operating-system kernel's memory management.
 *
 * Make a {@link Machine}, spawn processes, and drive their threads: syscalls return a
 * value or an {@link Errno}; memory accesses return a value or a {@link SignalInfo}.
 * @packageDocumentation
 */
export { Machine, InvariantError, OutOfMemoryError, type MachineOptions, type InvariantMode, type InterleaveResult } from './api/machine.js';
export { ProcessHandle } from './api/process.js';
export { ThreadHandle, ThreadPaths, ThreadEndedError, type AccessSize } from './api/thread.js';
export { ApiError, ForeignHandleError, ProcessExitedError, ReentrantCallError, type ApiErrorCode } from './api/errors.js';
export { type ProcessSnapshot, type VmaSnapshot, type PteSnapshot, type PkruRangeSnapshot, type SnapshotRange } from './api/snapshot.js';
export { formatMaps } from './api/maps.js';
export { type PteView } from './api/inspect.js';
export { Errno, errno, isErrno, type ErrnoName, type Personality, type SysResult } from './mm/errno.js';
export { isSignal, type SignalInfo, type SignalName, type SignalCode } from './mm/signal.js';
export { type ExitReason } from './mm/process.js';
export { type Violation, type InvariantId } from './hw/violation.js';
export { type TlbEntryView } from './hw/tlb.js';
export { type KernelPath, type Step } from './step/step.js';
export { ScheduleError } from './step/scheduler.js';
export * from './mm/abi.js';
export { AMD64_PKRU_EXCL, AMD64_PKRU_PERSIST } from './pmap/pkruRangeSet.js';
export { AMD64_SET_PKRU, AMD64_CLEAR_PKRU, type PkruPerm } from './mm/freebsd/pkru.js';
export { PKEY_DISABLE_ACCESS, PKEY_DISABLE_WRITE } from './mm/pkeys.js';
export { VARIANTS, type VariantInfo } from './mm/variants.js';
export { MAP_CHGPROT } from './mm/remapFilePages.js';
export { PTE_FILE_MAX_BITS } from './hw/pte.js';
export { MAX_FILE_SIZE } from './mm/fileOps.js';

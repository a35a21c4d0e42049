/** Signals a memory access can raise. */
export type SignalName = 'SIGSEGV' | 'SIGBUS' | 'SIGKILL' | 'SIGILL';

/** si_code values (Linux include/uapi/asm-generic/siginfo.h). */
export type SignalCode = 'SEGV_MAPERR' | 'SEGV_ACCERR' | 'SEGV_PKUERR' | 'BUS_ADRERR' | 'BUS_OBJERR' | 'ILL_ILLOPN' | 'SI_KERNEL';

/**
 * A signal delivered to a thread, as the `siginfo_t` a handler would see, plus the
 * hardware error code of the fault that raised it.
 */
export interface SignalInfo {
  readonly signal: SignalName;
  readonly code: SignalCode;
  /** si_addr: the faulting address. */
  readonly addr: number;
  /** si_pkey for SEGV_PKUERR; -1 otherwise. */
  readonly pkey: number;
  /** Page-fault error code (P, W, U, RSVD, I, PK bits); 0 when not from a fault. */
  readonly errorCode: number;
  /** Thread the signal was delivered to. */
  readonly tid: number;
}

/** Signal numbers: [linux, freebsd]. */
export const SIGNAL_NUMBERS: Readonly<Record<SignalName, readonly [number, number]>> = {
  SIGSEGV: [11, 11],
  SIGBUS: [7, 10],
  SIGKILL: [9, 9],
  SIGILL: [4, 4],
};

/** si_code numbers: [linux, freebsd]. */
export const SIGNAL_CODE_NUMBERS: Readonly<Record<SignalCode, readonly [number, number]>> = {
  SEGV_MAPERR: [1, 1],
  SEGV_ACCERR: [2, 2],
  SEGV_PKUERR: [4, 100],
  BUS_ADRERR: [2, 2],
  BUS_OBJERR: [3, 3],
  ILL_ILLOPN: [2, 2],
  SI_KERNEL: [0x80, 0x10006],
};

/** True when an access result is a signal. */
export function isSignal(result: unknown): result is SignalInfo {
  return typeof result === 'object' && result !== null && 'signal' in result;
}

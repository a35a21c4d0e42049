/** The operating-system personalities mmsim models. */
export type Personality = 'linux' | 'freebsd';

/** Error names mmsim's syscalls return. */
export type ErrnoName =
  | 'EPERM'
  | 'ENOENT'
  | 'ESRCH'
  | 'EINTR'
  | 'EIO'
  | 'EBADF'
  | 'EAGAIN'
  | 'ENOMEM'
  | 'EACCES'
  | 'EFAULT'
  | 'EBUSY'
  | 'EEXIST'
  | 'ENODEV'
  | 'EINVAL'
  | 'EFBIG'
  | 'ENOSPC'
  | 'EOVERFLOW'
  | 'EOPNOTSUPP'
  | 'ENOTSUP'
  | 'ENOSYS';

// Linux: include/uapi/asm-generic/errno-base.h, errno.h. FreeBSD: sys/sys/errno.h.
const NUMBERS: Record<ErrnoName, readonly [linux: number, freebsd: number]> = {
  EPERM: [1, 1],
  ENOENT: [2, 2],
  ESRCH: [3, 3],
  EINTR: [4, 4],
  EIO: [5, 5],
  EBADF: [9, 9],
  EAGAIN: [11, 35],
  ENOMEM: [12, 12],
  EACCES: [13, 13],
  EFAULT: [14, 14],
  EBUSY: [16, 16],
  EEXIST: [17, 17],
  ENODEV: [19, 19],
  EINVAL: [22, 22],
  EFBIG: [27, 27],
  ENOSPC: [28, 28],
  EOVERFLOW: [75, 84],
  EOPNOTSUPP: [95, 45],
  ENOTSUP: [95, 45],
  ENOSYS: [38, 78],
};

/**
 * A syscall's failure. One frozen instance per name ({@link errno}), so returning an
 * error allocates nothing and `result === errno('EINVAL')` works.
 */
export class Errno {
  private constructor(readonly name: ErrnoName) {
    Object.freeze(this);
  }

  /** The number this error has under a personality (they differ: EOVERFLOW is 75 on Linux, 84 on FreeBSD). */
  number(personality: Personality): number {
    return NUMBERS[this.name][personality === 'linux' ? 0 : 1];
  }

  toString(): string {
    return this.name;
  }

  toJSON(): { errno: ErrnoName } {
    return { errno: this.name };
  }

  /** @internal */
  static readonly all: ReadonlyMap<ErrnoName, Errno> = new Map(
    (Object.keys(NUMBERS) as ErrnoName[]).map((n) => [n, new Errno(n)]),
  );
}

/** The Errno named `name`. */
export function errno(name: ErrnoName): Errno {
  return Errno.all.get(name)!;
}

/** True when a syscall result is an error. */
export function isErrno(result: unknown): result is Errno {
  return result instanceof Errno;
}

/** A syscall's outcome: its value, or an errno. */
export type SysResult = number | Errno;

export const EPERM = errno('EPERM');
export const EBADF = errno('EBADF');
export const ENOENT = errno('ENOENT');
export const ENOMEM = errno('ENOMEM');
export const EACCES = errno('EACCES');
export const EFAULT = errno('EFAULT');
export const EBUSY = errno('EBUSY');
export const EEXIST = errno('EEXIST');
export const EINVAL = errno('EINVAL');
export const ENOSPC = errno('ENOSPC');
export const EOVERFLOW = errno('EOVERFLOW');
export const EFBIG = errno('EFBIG');
export const ENOSYS = errno('ENOSYS');

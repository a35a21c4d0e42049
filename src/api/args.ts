/**
 * @internal Argument checks of the public API. A syscall's arguments are C integers: a
 * caller cannot pass NaN, Infinity, 1.5 or a string to mmap(2), so mmsim does not invent
 * an errno for them. Such an argument is a bug in the caller, reported as a TypeError (not
 * a number) or RangeError (not an integer of the C type) that names the method and the
 * argument. Integers the C type can hold go to the modelled kernel unchanged, which
 * answers with the errno the real one gives (a negative length wraps to a huge size_t).
 * @packageDocumentation
 */

/** Largest `unsigned long`: 2^64 - 1 is not exact in a double and reads as 2^64, which stands for it. */
const ULONG_MAX = 2 ** 64;
const LONG_MIN = -(2 ** 63);

function shown(v: unknown): string {
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  if (typeof v === 'bigint') return `the bigint ${v}n`;
  if (v === null) return 'null';
  if (typeof v === 'object') return `an object (${Array.isArray(v) ? 'array' : (Object.getPrototypeOf(v) as { constructor?: { name?: string } } | null)?.constructor?.name ?? 'object'})`;
  if (typeof v === 'function') return 'a function';
  if (typeof v === 'symbol') return v.toString();
  return `${v as number | boolean | undefined}`;
}

/** An integer argument from `min` to `max`; TypeError when not a number, RangeError otherwise. */
export function intIn(caller: string, name: string, v: unknown, min: number, max: number, what = 'an integer'): number {
  if (typeof v !== 'number') throw new TypeError(`${caller}: ${name} must be a number, not ${shown(v)}`);
  if (!Number.isInteger(v) || v < min || v > max) throw new RangeError(`${caller}: ${name} must be ${what} from ${min} to ${max}, not ${v}`);
  return v;
}

/**
 * A `long` / `unsigned long` / `size_t` / `off_t` argument (address, length, offset): an
 * integer from -2^63 to 2^64. Negative values are how C writes the top of the unsigned range.
 */
export function longArg(caller: string, name: string, v: unknown): number {
  if (typeof v !== 'number') throw new TypeError(`${caller}: ${name} must be a number, not ${shown(v)}`);
  if (!Number.isInteger(v) || v < LONG_MIN || v > ULONG_MAX) throw new RangeError(`${caller}: ${name} must be an integer a C long can hold (-2^63 to 2^64 - 1), not ${v}`);
  return v;
}

/**
 * An `int` / `unsigned int` argument (flags, protection, descriptor, key, advice): any
 * integer a C long can hold. A value wider than the C type is not truncated to 32 bits as
 * a C compiler would; the model sees it whole, so a key of 2^32 + 3 is out of range (EINVAL),
 * not key 3.
 */
export function intArg(caller: string, name: string, v: unknown): number {
  return longArg(caller, name, v);
}

/** A user virtual address for an access or an inspection: a non-negative safe integer. */
export function addressArg(caller: string, name: string, v: unknown): number {
  return intIn(caller, name, v, 0, Number.MAX_SAFE_INTEGER, 'a non-negative safe integer');
}

/**
 * An address to inspect (pte, vma, peek, tlbEntry): any integer — one outside the user
 * address space (a negative one included) simply has nothing there.
 */
export function inspectAddressArg(caller: string, name: string, v: unknown): number {
  return intIn(caller, name, v, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, 'a safe integer');
}

/** A string argument. */
export function stringArg(caller: string, name: string, v: unknown): string {
  if (typeof v !== 'string') throw new TypeError(`${caller}: ${name} must be a string, not ${shown(v)}`);
  return v;
}

/** A boolean option, when given. */
export function optionalBoolean(caller: string, name: string, v: unknown): boolean | undefined {
  if (v !== undefined && typeof v !== 'boolean') throw new TypeError(`${caller}: ${name} must be true or false, not ${shown(v)}`);
  return v;
}

/**
 * How a syscall argument is checked (see {@link checkArgs}): `long` and `int` as C
 * integers, `address` an access address (the hardware's own message), `user-address` a
 * virtual address a call takes ({@link addressArg}), `access-size` 1, 2 or 4, `store-value` a safe
 * integer, `cpu` a CPU of the machine, `boolean` true or false, `process` a
 * ProcessHandle of the same machine, `string` a string.
 */
export type ArgKind = 'long' | 'int' | 'string' | 'address' | 'user-address' | 'access-size' | 'store-value' | 'cpu' | 'boolean' | 'process';

/** One argument of a syscall: its name as the method's parameter, its kind, and whether it may be left out. */
export interface ArgSpec {
  readonly name: string;
  readonly kind: ArgKind;
  readonly optional?: boolean;
}

/** What {@link checkArgs} needs of the machine for `cpu` and `process` arguments. */
export interface ArgOwner {
  cpuAt(n: number): unknown;
  own(what: string, p: never): void;
}

/**
 * Checks `values` against `specs` for `caller` (`ThreadHandle.mmap`): the TypeError or
 * RangeError of a misuse, naming the method and the argument; nothing for an argument
 * left out that may be. An access's address and size are checked as one, as the
 * hardware takes them.
 */
export function checkArgs(caller: string, specs: readonly ArgSpec[], values: readonly unknown[], owner: ArgOwner): void {
  for (let i = 0; i < specs.length; i++) {
    const s = specs[i];
    const v = values[i];
    if (v === undefined && s.optional) continue;
    switch (s.kind) {
      case 'long':
      case 'int':
        longArg(caller, s.name, v);
        break;
      case 'string':
        stringArg(caller, s.name, v);
        break;
      case 'address':
        if (!(typeof v === 'number' && v >= 0 && v <= Number.MAX_SAFE_INTEGER && Math.floor(v) === v)) throw new RangeError(`address must be a non-negative safe integer, not ${shown(v)}`);
        break;
      case 'user-address':
        addressArg(caller, s.name, v);
        break;
      case 'access-size':
        if (v !== 1 && v !== 2 && v !== 4) throw new RangeError(`access size must be 1, 2 or 4, not ${shown(v)}`);
        break;
      case 'store-value':
        if (typeof v !== 'number' || ((v | 0) !== v && !Number.isSafeInteger(v))) intIn(caller, s.name, v, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, 'a safe integer');
        break;
      case 'cpu':
        owner.cpuAt(v as number);
        break;
      case 'boolean':
        if (typeof v !== 'boolean') throw new TypeError(`${caller}: ${s.name} must be true or false, not ${shown(v)}`);
        break;
      case 'process':
        owner.own(caller, v as never);
        break;
    }
  }
}

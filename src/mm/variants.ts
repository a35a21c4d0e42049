import { type Personality } from './errno.js';

/** A named design variant: a historical design or bug a user can switch on to compare. */
export interface VariantInfo {
  readonly name: string;
  /** The personality whose design it changes. */
  readonly os: Personality;
  /** What it changes, in a sentence. */
  readonly description: string;
}

/** Every variant mmsim models. */
export const VARIANTS: readonly VariantInfo[] = [
  {
    name: 'pkru-swapout-bug',
    os: 'freebsd',
    description: 'FreeBSD before commit 1e0e335b0f0d: pmap_remove() drops PKRU keys, so swap-out, mprotect(PROT_NONE) and msync(MS_INVALIDATE) lose them',
  },
];

/** Why `name` cannot be switched on under `os`, or null when it can. */
export function variantProblem(name: string, os: Personality): string | null {
  const v = VARIANTS.find((x) => x.name === name);
  if (!v) return `unknown variant '${name}' (known: ${VARIANTS.map((x) => x.name).join(', ')})`;
  if (v.os !== os) return `variant '${name}' changes the ${v.os} design; this machine runs os=${os}`;
  return null;
}

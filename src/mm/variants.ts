import { type Personality } from './errno.js';

/** A named design variant: a historical design or bug a user can switch on to compare. */
export interface VariantInfo {
  readonly name: string;
  /** The personality whose design it changes. */
  readonly os: Personality;
  /** What it changes, in a sentence. */
  readonly description: string;
  /** Variants it builds on, switched on with it. */
  readonly implies?: readonly string[];
}

/** Every variant mmsim models. */
export const VARIANTS: readonly VariantInfo[] = [
  {
    name: 'pkru-swapout-bug',
    os: 'freebsd',
    description: 'FreeBSD before commit 1e0e335b0f0d: pmap_remove() drops PKRU keys, so swap-out, mprotect(PROT_NONE) and msync(MS_INVALIDATE) lose them',
  },
  {
    name: 'rfp-nonlinear',
    os: 'linux',
    description: 'Linux 2.6 remap_file_pages(): one VM_NONLINEAR mapping holds any file page at any page, and a reclaimed page leaves a file PTE with its offset',
  },
  {
    name: 'rfp-manyprots',
    os: 'linux',
    description: 'the VM_MANYPROTS series (seed 001, never merged): remap_file_pages(MAP_CHGPROT) gives each page its own protection, kept in present and file PTEs; mprotect on such a mapping is EACCES',
    implies: ['rfp-nonlinear'],
  },
  {
    name: 'manyprots-mprotect-resets',
    os: 'linux',
    description: "Hugh Dickins' alternative in seed 001: mprotect on a VM_MANYPROTS mapping clears VM_MANYPROTS and gives every entry, present or not, the new protection",
    implies: ['rfp-manyprots'],
  },
  {
    name: 'manyprots-fault-race-bug',
    os: 'linux',
    description: 'the posted VM_MANYPROTS fault handler: any fault on an installed entry of a VM_MANYPROTS mapping is SIGSEGV, so a thread that lost a fault race to another dies (the flaw Hugh Dickins found)',
    implies: ['rfp-manyprots'],
  },
];

/** `names` with every variant they imply, each once. */
export function withImpliedVariants(names: readonly string[]): string[] {
  const out: string[] = [];
  const add = (n: string): void => {
    if (out.includes(n)) return;
    out.push(n);
    for (const i of VARIANTS.find((v) => v.name === n)?.implies ?? []) add(i);
  };
  for (const n of names) add(n);
  return out;
}

/** Why `name` cannot be switched on under `os`, or null when it can. */
export function variantProblem(name: string, os: Personality): string | null {
  const v = VARIANTS.find((x) => x.name === name);
  if (!v) return `unknown variant '${name}' (known: ${VARIANTS.map((x) => x.name).join(', ')})`;
  if (v.os !== os) return `variant '${name}' changes the ${v.os} design; this machine runs os=${os}`;
  return null;
}

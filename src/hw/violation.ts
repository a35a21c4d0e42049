/** Stable ids of the invariants of DESIGN.md §3. */
export type InvariantId =
  | 'no-excess-rights'
  | 'no-stale-tlb'
  | 'no-pt-use-after-free'
  | 'no-wx'
  | 'keys-enforced'
  | 'own-context'
  | 'data-preserved'
  | 'accounting';

/** One broken invariant: which, and a sentence that says where and how. */
export interface Violation {
  readonly id: InvariantId;
  readonly message: string;
}

import { type Violation } from '../hw/violation.js';
import { type Kernel } from '../mm/kernel.js';
import { checkAccounting, checkNoExcessRights, checkNoStaleTlb, checkNoWx, takeHardwareViolations } from './checks.js';

export { type InvariantId, type Violation } from '../hw/violation.js';

/**
 * Every state invariant of DESIGN.md §3 that can be read off a quiescent machine, plus
 * what the hardware recorded since the last call (no-pt-use-after-free, keys-enforced).
 * data-preserved needs a reference of what was written: the property tests keep one.
 */
export function checkInvariants(k: Kernel): Violation[] {
  return [...takeHardwareViolations(k), ...checkNoExcessRights(k), ...checkNoStaleTlb(k), ...checkNoWx(k), ...checkAccounting(k)];
}

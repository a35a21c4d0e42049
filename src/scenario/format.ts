/** A number as scenario reports show it: small values in decimal, others in hex, negatives with a sign. */
export function formatNumber(n: number): string {
  return n >= 0 && n < 16 ? String(n) : n < 0 ? `-0x${(-n).toString(16)}` : `0x${n.toString(16)}`;
}

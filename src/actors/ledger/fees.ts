import { LedgerConfigError, LedgerInvariantError } from './types.ts';

const BPS_PER_UNIT = 10_000n;

/**
 * The fee charged on a fill: amount × bps / 10 000, rounded down to a whole minor unit.
 *
 * No rounded-up twin is needed to size a lock: floor is superadditive the right way round,
 * Σ floor(aᵢ·r) ≤ floor(Σ aᵢ·r), so feeOf(total) already bounds the fees of any split into fills
 * (and of fills at better prices, since the fee grows with the amount).
 */
export function feeOf(amount: bigint, bps: number): bigint {
  if (!Number.isInteger(bps) || bps < 0 || bps > 10_000) {
    throw new LedgerConfigError(`fee bps must be an integer in 0..10000, got ${bps}`);
  }
  if (amount < 0n) throw new LedgerInvariantError(`fee base amount must be >= 0, got ${amount}`);
  return (amount * BigInt(bps)) / BPS_PER_UNIT;
}

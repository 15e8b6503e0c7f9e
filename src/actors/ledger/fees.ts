import { LedgerConfigError, LedgerInvariantError } from './types.ts';

const BPS_PER_UNIT = 10_000n;

/**
 * The fee charged on a fill: amount × bps / 10 000, rounded UP to a whole minor unit of the asset
 * received (PROTOCOL v1.1, "Fees round up"): a fill at a rate above 0 never pays 0, however small
 * (600 trades of 0.0001 BTC paid nothing under the old floor). The fee comes out of what is
 * received, so nothing is reserved for it in advance; with bps <= 10 000 it never exceeds `amount`.
 */
export function feeOf(amount: bigint, bps: number): bigint {
  if (!Number.isInteger(bps) || bps < 0 || bps > 10_000) {
    throw new LedgerConfigError(`fee bps must be an integer in 0..10000, got ${bps}`);
  }
  if (amount < 0n) throw new LedgerInvariantError(`fee base amount must be >= 0, got ${amount}`);
  return (amount * BigInt(bps) + BPS_PER_UNIT - 1n) / BPS_PER_UNIT;
}

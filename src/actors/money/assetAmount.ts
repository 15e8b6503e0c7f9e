import { explainNotDecimal, formatUnits, scanDecimal, unitsBig } from './decimal.ts';
import { fail, ok, type MoneyResult } from './result.ts';

/** Largest amount one credit may carry, in minor units (a sanity bound, far above any real one). */
const MAX_AMOUNT_DIGITS = 60;

/**
 * A positive amount of an asset (a credit, a balance) as a decimal string with at most the asset's
 * decimals → minor units as a bigint. Same grammar and reasons as prices and quantities.
 */
export function parseAssetAmount(input: unknown, decimals: number, field = 'amount'): MoneyResult<bigint> {
  if (typeof input !== 'string') return fail('not_decimal', `${field} must be a decimal string`);
  if (input.length === 0) return fail('empty', `${field} is empty`);
  const shape = scanDecimal(input);
  if (shape === undefined) return fail('not_decimal', `${field}: ${explainNotDecimal(input)}`);
  if (shape.fracLen > decimals) {
    return fail('too_many_decimals', `${field} has more than ${decimals} decimals`);
  }
  if (shape.isZero) return fail('zero', `${field} must be positive`);
  if (shape.intLen + decimals > MAX_AMOUNT_DIGITS) return fail('out_of_range', `${field} is too large`);
  return ok(unitsBig(input, shape, decimals));
}

/** Minor units → a decimal string with exactly the asset's decimals. */
export function formatAssetAmount(units: bigint, decimals: number): string {
  return formatUnits(units, decimals);
}

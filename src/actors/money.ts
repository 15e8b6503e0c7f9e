/**
 * Money at the edges: a market's decimal strings <-> the integers the core runs on.
 *
 * Units.
 * - A price is an integer number of ticks: price = ticks × tickSize.
 * - A quantity is an integer number of lots: qty = lots × lotSize.
 * - A quote budget is an integer number of tick×lot units: amount = units × tickSize × lotSize, so
 *   the book spends price × qty of it by plain integer multiplication.
 * - A quote minor unit is 10^-(priceDecimals + qtyDecimals) of the quote asset: price × qty is
 *   always a whole number of them (notionalToQuoteMinor, exact, as a bigint).
 * Ticks, lots and tick×lot units are JS numbers and always safe integers; anything that would pass
 * Number.MAX_SAFE_INTEGER is refused (`out_of_range`, or `above_max` for a quantity).
 *
 * Rounding. Prices and quantities are never rounded: a string off the tick or lot, or with more
 * decimals than the market allows (even trailing zeros: "1.500" when priceDecimals is 2), is refused.
 * A quote budget is the one exception: it is rounded DOWN to whole tick×lot units (it may carry up
 * to the quote asset's decimals), because a budget can only spend what it has; one that rounds down
 * to nothing is `below_min`. Formatting is exact and always writes exactly the market's decimals.
 *
 * Accepted strings: `0|[1-9][0-9]*` then optionally `.` and one or more digits. Refused as
 * `not_decimal`: signs ("+1", "-1"), exponents ("1e5"), spaces, ".5", "1.", leading zeros ("007",
 * "00.5"; "0.5" is fine), hex, "NaN", "Infinity", and any non-string input (MessagePack numbers
 * included: floats cannot carry exact money). Reasons are checked in this order: empty, not_decimal,
 * too_many_decimals, zero, then for a price out_of_range, off_tick; for a quantity below_min,
 * above_max, off_lot (size before step); for a budget out_of_range, below_min.
 *
 * No floating point anywhere: strings are read digit by digit into integers below 2^53 (or into a
 * bigint when they might not fit) and written back by placing the decimal point in a digit string.
 */
export { createMarketMoney } from './money/marketMoney.ts';
export type { MarketMoney } from './money/marketMoney.ts';
export { MarketSpecError } from './money/spec.ts';
export type { MarketMoneySpec } from './money/spec.ts';
export type { MoneyFailure, MoneyOk, MoneyReason, MoneyResult } from './money/result.ts';
export { formatAssetAmount, parseAssetAmount } from './money/assetAmount.ts';

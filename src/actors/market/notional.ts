import type { MarketMoney } from '../money.ts';

/**
 * The minNotional rule (PROTOCOL v1.1), in one place for order entry (which answers it before
 * unknown_market and market_not_active can) and the market actor (which also sees amends): a
 * priced order (limit, stop_limit, or an amended one) is measured by price × qty, a market buy by
 * its quote budget. A market order without a budget has no notional before it matches, so it is
 * not measured. Undefined when the order is large enough or the market sets no minimum.
 */
export function minNotionalProblem(
  money: MarketMoney,
  price: number | undefined,
  qty: number | undefined,
  quoteBudget: number | undefined,
): string | undefined {
  if (money.minNotional === undefined) return undefined;
  if (price !== undefined && qty !== undefined) {
    return money.notionalProblem(BigInt(price) * BigInt(qty), 'price × qty');
  }
  if (quoteBudget !== undefined) return money.notionalProblem(BigInt(quoteBudget), 'the quote budget');
  return undefined;
}

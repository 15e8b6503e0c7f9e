/**
 * The wire's ids of orders and trades, one template each (PROTOCOL.md): an order is
 * `${marketId}:${orderId}`, a trade `${marketId}:${seq}:${n}` (the n-th fill, from 0, of the
 * market's command `seq`). The projector's primary keys are the same strings.
 */

export function wireOrderId(marketId: string, orderId: number): string {
  return `${marketId}:${orderId}`;
}

export function tradeId(marketId: string, seq: number, n: number): string {
  return `${marketId}:${seq}:${n}`;
}

/** The market's order number of a wire id, when the id names an order of that market. */
export function marketOrderNumber(marketId: string, wireId: string): number | undefined {
  if (!wireId.startsWith(`${marketId}:`)) return undefined;
  const rest = wireId.slice(marketId.length + 1);
  if (!/^[1-9][0-9]{0,15}$/.test(rest)) return undefined;
  const n = Number(rest);
  return Number.isSafeInteger(n) ? n : undefined;
}

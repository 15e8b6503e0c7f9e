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

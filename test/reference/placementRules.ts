import type { BookConfig, OrderType, PlaceCommand, PlaceOcoCommand } from '../../src/actors/book/types.ts';

/**
 * The stateless `bad_request` rules of the spec (types.ts, "Placement" rule 1), written as one
 * readable list so it can be checked line by line against the spec text.
 */

export function isPositiveSafeInteger(value: number | undefined): value is number {
  return value !== undefined && Number.isSafeInteger(value) && value > 0;
}

export function hasLimitPrice(type: OrderType): boolean {
  return type === 'limit' || type === 'stop_limit';
}

export function isStopType(type: OrderType): boolean {
  return type === 'stop_limit' || type === 'stop_market';
}

export function isBadPlacement(command: PlaceCommand, config: BookConfig): boolean {
  const { type, side, qty, price, stopPrice, quoteBudget, tif, postOnly, expireAt, displayQty } = command;
  const { trailingOffset, trailingBps, limitOffset } = command;
  const rests = tif === 'GTC' || tif === 'GTD';
  const trailing = type === 'trailing_stop';
  // A trailing stop with a limitOffset executes as a limit, one without it as a market order.
  const limitLike = hasLimitPrice(type) || (trailing && limitOffset !== undefined);
  const takesBudget =
    (type === 'market' || type === 'stop_market' || (trailing && limitOffset === undefined)) &&
    side === 'buy';
  const problems = [
    !isPositiveSafeInteger(qty) || qty > config.maxQty,
    hasLimitPrice(type) !== (price !== undefined),
    isStopType(type) !== (stopPrice !== undefined),
    price !== undefined && !isPositiveSafeInteger(price),
    stopPrice !== undefined && !isPositiveSafeInteger(stopPrice),
    quoteBudget !== undefined && !isPositiveSafeInteger(quoteBudget),
    postOnly && (!limitLike || !rests),
    (tif === 'GTD') !== (expireAt !== undefined),
    expireAt !== undefined && !isPositiveSafeInteger(expireAt),
    quoteBudget !== undefined && !takesBudget,
    displayQty !== undefined && (!hasLimitPrice(type) || !rests),
    displayQty !== undefined && (!isPositiveSafeInteger(displayQty) || displayQty > qty),
    // At most 1,000 slices (ceil(qty / displayQty)).
    displayQty !== undefined && displayQty * 1000 < qty,
    !trailing && (trailingOffset !== undefined || trailingBps !== undefined || limitOffset !== undefined),
    trailing && (trailingOffset === undefined) === (trailingBps === undefined),
    trailingOffset !== undefined && !isPositiveSafeInteger(trailingOffset),
    trailingBps !== undefined && (!isPositiveSafeInteger(trailingBps) || trailingBps > 10_000),
    limitOffset !== undefined && !(Number.isSafeInteger(limitOffset) && limitOffset >= 0),
  ];
  return problems.includes(true);
}

/** The OCO `bad_request` rules (types.ts, OCO), one per line. */
export function isBadOco(command: PlaceOcoCommand, config: BookConfig): boolean {
  const { qty, price, stopPrice, stopLimitPrice } = command;
  if (!isPositiveSafeInteger(qty) || qty > config.maxQty) return true;
  if (!isPositiveSafeInteger(price) || !isPositiveSafeInteger(stopPrice)) return true;
  if (stopLimitPrice !== undefined && !isPositiveSafeInteger(stopLimitPrice)) return true;
  if (!Number.isSafeInteger(command.stopOrderId) || command.stopOrderId === command.orderId) return true;
  return command.side === 'buy' ? stopPrice <= price : stopPrice >= price;
}

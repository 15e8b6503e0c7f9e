import type { ListedMarket } from '../actors/catalog.ts';
import type { MarketCommand } from '../actors/market/types.ts';
import { minNotionalProblem } from '../actors/market/notional.ts';
import type { MoneyResult } from '../actors/money.ts';
import { explainNotDecimal, scanDecimal } from '../actors/money/decimal.ts';
import { marketOrderNumber } from '../events/ids.ts';
import { failure, success, type Failure, type Outcome } from '../protocol/errors.ts';
import type { PlaceOcoRequest, PlaceRequest } from '../protocol/schemas.ts';

/*
 * Order entry's translations of wire requests (decimal strings, wire ids) into the market's
 * integer commands, and the checks that need no market state.
 */

function badMoney<T>(result: MoneyResult<T>): Failure | undefined {
  return result.ok ? undefined : failure('bad_request', result.message);
}

/** What makes a placement bad whatever its market: the fields its type needs, decimals' grammar. */
export function placeProblem(r: PlaceRequest): string | undefined {
  const limitType = r.type === 'limit' || r.type === 'stop_limit';
  const stopType = r.type === 'stop_limit' || r.type === 'stop_market';
  if (limitType !== (r.price !== undefined)) {
    return limitType ? `price is required for ${r.type}` : `price is not allowed for ${r.type}`;
  }
  if (stopType !== (r.stopPrice !== undefined)) {
    return stopType ? `stopPrice is required for ${r.type}` : `stopPrice is not allowed for ${r.type}`;
  }
  const trailing = r.type === 'trailing_stop';
  const spends = r.type === 'market' || r.type === 'stop_market' || (trailing && r.limitOffset === undefined);
  if (r.quoteQty !== undefined && !(spends && r.side === 'buy')) {
    return 'quoteQty is only for market, stop_market and trailing_stop (without limitOffset) buys';
  }
  if (trailing && (r.trailingOffset === undefined) === (r.trailingBps === undefined)) {
    return 'a trailing_stop needs one of trailingOffset and trailingBps';
  }
  if (!trailing && (r.trailingOffset ?? r.trailingBps ?? r.limitOffset) !== undefined) {
    return 'trailingOffset, trailingBps and limitOffset are only for trailing_stop orders';
  }
  if (r.qty === undefined && r.quoteQty === undefined) return 'qty is required';
  if ((r.tif === 'GTD') !== (r.expireAt !== undefined)) {
    return r.tif === 'GTD' ? 'expireAt is required for GTD' : 'expireAt is only for GTD orders';
  }
  if (r.postOnly === true && (!limitType || (r.tif ?? 'GTC') !== 'GTC')) {
    return 'postOnly is only for GTC limit and stop_limit orders';
  }
  if (
    r.displayQty !== undefined &&
    (!limitType || (r.tif !== undefined && r.tif !== 'GTC' && r.tif !== 'GTD'))
  ) {
    return 'displayQty is only for GTC and GTD limit and stop_limit orders';
  }
  return (
    decimalProblem('qty', r.qty) ??
    decimalProblem('price', r.price) ??
    decimalProblem('stopPrice', r.stopPrice) ??
    decimalProblem('quoteQty', r.quoteQty) ??
    decimalProblem('displayQty', r.displayQty) ??
    decimalProblem('trailingOffset', r.trailingOffset) ??
    decimalProblem('limitOffset', r.limitOffset)
  );
}

/** A decimal string that no market could take: not a plain decimal, or not positive. */
export function decimalProblem(field: string, text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  if (scanDecimal(text) === undefined) return `${field} must be a plain decimal: ${explainNotDecimal(text)}`;
  if (/^[0.]+$/.test(text)) return `${field} must be positive`;
  return undefined;
}

export function placeCommand(
  userId: string,
  market: ListedMarket,
  r: PlaceRequest,
): Outcome<Omit<Extract<MarketCommand, { kind: 'place' }>, never>> {
  const { money } = market;
  const qty = r.qty === undefined ? undefined : money.parseQty(r.qty);
  const price = r.price === undefined ? undefined : money.parsePrice(r.price);
  const stopPrice = r.stopPrice === undefined ? undefined : money.parsePrice(r.stopPrice, 'stopPrice');
  const budget = r.quoteQty === undefined ? undefined : money.parseQuoteBudget(r.quoteQty);
  const displayQty = r.displayQty === undefined ? undefined : money.parseQty(r.displayQty, 'displayQty');
  const trailingOffset =
    r.trailingOffset === undefined ? undefined : money.parsePrice(r.trailingOffset, 'trailingOffset');
  const limitOffset =
    r.limitOffset === undefined ? undefined : money.parsePrice(r.limitOffset, 'limitOffset');
  for (const parsed of [qty, price, stopPrice, budget, displayQty, trailingOffset, limitOffset]) {
    const bad = parsed === undefined ? undefined : badMoney(parsed);
    if (bad !== undefined) return bad;
  }
  const tif = r.tif ?? 'GTC';
  const small = minNotionalProblem(
    money,
    price?.ok ? price.value : undefined,
    qty?.ok ? qty.value : undefined,
    budget?.ok ? budget.value : undefined,
  );
  if (small !== undefined) return failure('bad_request', small);
  return success({
    kind: 'place',
    userId,
    side: r.side,
    type: r.type,
    // A budget-only (stop_)market buy: the book caps it by maxQty; the budget decides (a FOK one
    // fills when the whole budget can be spent, src/actors/book/types.ts).
    qty: qty?.ok ? qty.value : money.maxLots,
    price: price?.ok ? price.value : undefined,
    stopPrice: stopPrice?.ok ? stopPrice.value : undefined,
    tif,
    postOnly: r.postOnly ?? false,
    stp: r.stp ?? 'cancel_taker',
    clientOrderId: r.clientOrderId,
    quoteBudget: budget?.ok ? budget.value : undefined,
    expireAt: r.expireAt,
    displayQty: displayQty?.ok ? displayQty.value : undefined,
    trailingOffset: trailingOffset?.ok ? trailingOffset.value : undefined,
    trailingBps: r.trailingBps,
    limitOffset: limitOffset?.ok ? limitOffset.value : undefined,
  });
}

/** What makes an OCO bad whatever its market: decimals' grammar (answered before unknown_market). */
export function ocoDecimalProblem(r: PlaceOcoRequest): string | undefined {
  return (
    decimalProblem('qty', r.qty) ??
    decimalProblem('price', r.price) ??
    decimalProblem('stopPrice', r.stopPrice) ??
    decimalProblem('stopLimitPrice', r.stopLimitPrice)
  );
}

/** An OCO in the market's units (ocoDecimalProblem checked first); a value off the market's grid: bad_request. */
export function ocoCommand(
  userId: string,
  market: ListedMarket,
  r: PlaceOcoRequest,
): Outcome<Extract<MarketCommand, { kind: 'place_oco' }>> {
  const { money } = market;
  const qty = money.parseQty(r.qty);
  const price = money.parsePrice(r.price);
  const stopPrice = money.parsePrice(r.stopPrice, 'stopPrice');
  const stopLimitPrice =
    r.stopLimitPrice === undefined ? undefined : money.parsePrice(r.stopLimitPrice, 'stopLimitPrice');
  for (const parsed of [qty, price, stopPrice, stopLimitPrice]) {
    const bad = parsed === undefined ? undefined : badMoney(parsed);
    if (bad !== undefined) return bad;
  }
  if (!qty.ok || !price.ok || !stopPrice.ok || stopLimitPrice?.ok === false) {
    return failure('bad_request', 'qty, price and stopPrice must be valid for this market');
  }
  return success({
    kind: 'place_oco',
    userId,
    clientOrderId: r.clientOrderId,
    side: r.side,
    qty: qty.value,
    price: price.value,
    stopPrice: stopPrice.value,
    stopLimitPrice: stopLimitPrice?.ok ? stopLimitPrice.value : undefined,
    stp: r.stp ?? 'cancel_taker',
  });
}

export function orderRef(
  userId: string,
  market: ListedMarket,
  r: { orderId?: string | undefined; clientOrderId?: string | undefined },
): Outcome<{ userId: string; orderId?: number; clientOrderId?: string }> {
  if (r.orderId !== undefined) {
    const n = marketOrderNumber(market.definition.id, r.orderId);
    if (n === undefined) return failure('not_found', `no order ${r.orderId} in ${market.definition.symbol}`);
    return success({ userId, orderId: n });
  }
  return success({ userId, ...(r.clientOrderId === undefined ? {} : { clientOrderId: r.clientOrderId }) });
}

import type { PlaceOcoOrder, PlaceOrder } from '../protocol/requests.ts';
import type { Decimal, SelfTradePrevention, Side } from '../protocol/messages.ts';

/*
 * Builders for the order types of PROTOCOL v1.1 "More order types": each returns the `place`
 * body (`client.place(iceberg(...))` over WebSocket, or POST /orders over HTTP). Decimal strings
 * in, as everywhere on the wire.
 */

interface Common {
  readonly clientOrderId?: string;
  readonly stp?: SelfTradePrevention;
}

/** A GTC (or, with expireAt, GTD) limit showing at most `displayQty` at a time (≥ qty / 1000). */
export function iceberg(
  market: string,
  side: Side,
  qty: Decimal,
  price: Decimal,
  displayQty: Decimal,
  options: Common & { readonly expireAt?: number; readonly postOnly?: boolean } = {},
): PlaceOrder {
  const { expireAt, ...rest } = options;
  return {
    market,
    side,
    type: 'limit',
    qty,
    price,
    displayQty,
    ...(expireAt === undefined ? {} : { tif: 'GTD' as const, expireAt }),
    ...rest,
  };
}

/** A limit good till `expireAt` (ms since epoch), canceled by the market then. */
export function goodTillDate(
  market: string,
  side: Side,
  qty: Decimal,
  price: Decimal,
  expireAt: number,
  options: Common & { readonly postOnly?: boolean } = {},
): PlaceOrder {
  return { market, side, type: 'limit', qty, price, tif: 'GTD', expireAt, ...options };
}

/** A stop_market buy spending at most `quoteQty` once the last price reaches `stopPrice`. */
export function stopMarketBuy(
  market: string,
  stopPrice: Decimal,
  quoteQty: Decimal,
  options: Common & { readonly qty?: Decimal } = {},
): PlaceOrder {
  return { market, side: 'buy', type: 'stop_market', stopPrice, quoteQty, ...options };
}

/** A FOK market buy: fills completely within `quoteQty` (and `qty`, when given), or not at all. */
export function fokMarketBuy(
  market: string,
  quoteQty: Decimal,
  options: Common & { readonly qty?: Decimal } = {},
): PlaceOrder {
  return { market, side: 'buy', type: 'market', tif: 'FOK', quoteQty, ...options };
}

/** How far a trailing stop trails: a price distance, or basis points of the price. */
export type Trailing = { readonly offset: Decimal } | { readonly bps: number };

/**
 * A trailing stop: the stop follows the best trade price in the order's favour at `trailing`'s
 * distance and triggers on a move against it by that much; with `limitOffset` it then executes as
 * a limit that far beyond the stop, else as a market order (a buy then spends at most `quoteQty`).
 */
export function trailingStop(
  market: string,
  side: Side,
  qty: Decimal,
  trailing: Trailing,
  options: Common & {
    readonly limitOffset?: Decimal;
    readonly quoteQty?: Decimal;
    readonly expireAt?: number;
  } = {},
): PlaceOrder {
  const { expireAt, ...rest } = options;
  return {
    market,
    side,
    type: 'trailing_stop',
    qty,
    ...('offset' in trailing ? { trailingOffset: trailing.offset } : { trailingBps: trailing.bps }),
    ...(expireAt === undefined ? {} : { tif: 'GTD' as const, expireAt }),
    ...rest,
  };
}

/**
 * An OCO (`client.placeOco(oco(...))`, WebSocket only in the contract): a limit leg at `price` and
 * a stop leg at `stopPrice` sharing one lock; either filling (any part) or triggering cancels the
 * other. The stop lies beyond the limit (above for a buy, below for a sell); with `stopLimitPrice`
 * the stop leg executes as a limit there, else as a market order (a buy needs `stopLimitPrice`).
 */
export function oco(
  market: string,
  side: Side,
  qty: Decimal,
  price: Decimal,
  stopPrice: Decimal,
  options: Common & { readonly stopLimitPrice?: Decimal } = {},
): PlaceOcoOrder {
  return { market, side, qty, price, stopPrice, ...options };
}

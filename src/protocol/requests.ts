import type {
  BookDepth,
  CandleInterval,
  Decimal,
  OrderType,
  PrivateChannel,
  PublicChannel,
  SelfTradePrevention,
  Side,
  TimeInForce,
} from './vocabulary.ts';

/** Requests (client → server), wire protocol v1. `rid` is a non-negative integer the reply echoes. */

interface RequestBase {
  readonly rid?: number;
}

export interface AuthRequest extends RequestBase {
  readonly op: 'auth';
  readonly token: string;
  /** Cancel this user's open orders placed on this connection when it closes. */
  readonly cancelOnDisconnect?: boolean;
}

export interface PingRequest extends RequestBase {
  readonly op: 'ping';
}

export interface PublicSubRequest extends RequestBase {
  readonly op: 'sub';
  readonly ch: PublicChannel;
  readonly market: string;
  /** `book` only; default 50. */
  readonly depth?: BookDepth;
  /** `candles` only. */
  readonly interval?: CandleInterval;
}

export interface PrivateSubRequest extends RequestBase {
  readonly op: 'sub';
  readonly ch: PrivateChannel;
}

export type SubRequest = PublicSubRequest | PrivateSubRequest;

export interface PublicUnsubRequest extends RequestBase {
  readonly op: 'unsub';
  readonly ch: PublicChannel;
  readonly market: string;
}

export interface PrivateUnsubRequest extends RequestBase {
  readonly op: 'unsub';
  readonly ch: PrivateChannel;
}

export type UnsubRequest = PublicUnsubRequest | PrivateUnsubRequest;

interface PlaceFields {
  readonly market: string;
  readonly side: Side;
  readonly type: OrderType;
  /** Limit types. */
  readonly price?: Decimal;
  /** Stop types. */
  readonly stopPrice?: Decimal;
  /** Default `GTC`. */
  readonly tif?: TimeInForce;
  /** Required with `tif:"GTD"` (and only then): ms since epoch; the market cancels the order then. */
  readonly expireAt?: number;
  readonly postOnly?: boolean;
  /** Default `cancel_taker`. */
  readonly stp?: SelfTradePrevention;
  /** 1–36 chars of `[A-Za-z0-9_-]`, unique among the user's open orders. */
  readonly clientOrderId?: string;
  /**
   * Iceberg (GTC/GTD limit and stop_limit): show at most this much at its price, the rest hidden;
   * each new slice joins the back of its level. At most 1,000 slices (displayQty ≥ qty / 1000).
   */
  readonly displayQty?: Decimal;
  /**
   * `type:"trailing_stop"`: the stop follows the best trade price in the order's favour at this
   * distance (a price), or at `trailingBps` of it; with `limitOffset` it executes as a limit that
   * far beyond the stop once triggered, else as a market order (a buy then needs `quoteQty`).
   */
  readonly trailingOffset?: Decimal;
  readonly trailingBps?: number;
  readonly limitOffset?: Decimal;
}

/**
 * An order as placed: `qty`, or for a market or stop_market buy `quoteQty` (spend at most this much
 * quote, locked at placement) instead or as well. A stop_market buy and a FOK market buy need
 * `quoteQty` (PROTOCOL v1.1, "More order types"; without it: `bad_request`).
 */
export type PlaceOrder = PlaceFields &
  (
    | { readonly qty: Decimal; readonly quoteQty?: Decimal }
    | {
        readonly qty?: Decimal;
        readonly quoteQty: Decimal;
        readonly side: 'buy';
        readonly type: 'market' | 'stop_market' | 'trailing_stop';
      }
  );

export type PlaceRequest = RequestBase & { readonly op: 'place' } & PlaceOrder;

/**
 * PROTOCOL v1.1 OCO: a GTC limit leg at `price` and a GTC stop leg at `stopPrice` (a stop_limit at
 * `stopLimitPrice`, else a stop_market; a buy needs stopLimitPrice), one lock for both; when either
 * fills (any part) or triggers, the other is canceled in the same batch. The stop lies beyond the
 * limit: above it for a buy, below it for a sell. `clientOrderId` names the limit leg.
 */
export interface PlaceOcoOrder {
  readonly market: string;
  readonly side: Side;
  readonly qty: Decimal;
  readonly price: Decimal;
  readonly stopPrice: Decimal;
  readonly stopLimitPrice?: Decimal;
  readonly stp?: SelfTradePrevention;
  readonly clientOrderId?: string;
}

export type PlaceOcoRequest = RequestBase & { readonly op: 'place_oco' } & PlaceOcoOrder;

/** Names an order by the exchange's id or by the user's `clientOrderId` (at least one of them). */
export type OrderRef =
  | { readonly orderId: string; readonly clientOrderId?: string }
  | { readonly orderId?: string; readonly clientOrderId: string };

/** `qty` is the new total quantity; lowering it keeps time priority, a new price or more qty loses it. */
export type AmendOrder = {
  readonly market: string;
  readonly qty?: Decimal;
  readonly price?: Decimal;
} & OrderRef;

export type AmendRequest = RequestBase & { readonly op: 'amend' } & AmendOrder;

export type CancelOrder = { readonly market: string } & OrderRef;

export type CancelRequest = RequestBase & { readonly op: 'cancel' } & CancelOrder;

export interface CancelAllRequest extends RequestBase {
  readonly op: 'cancel_all';
  /** Every market when omitted. */
  readonly market?: string;
}

export type ClientRequest =
  | AuthRequest
  | PingRequest
  | SubRequest
  | UnsubRequest
  | PlaceRequest
  | PlaceOcoRequest
  | AmendRequest
  | CancelRequest
  | CancelAllRequest;

export type RequestOp = ClientRequest['op'];

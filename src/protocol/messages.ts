/*
 * The messages of wire protocol v1 (PROTOCOL.md), as TypeScript types. Shared by the client SDK and
 * the server: field names are the wire names, optional fields are optional (the server omits them
 * when absent, never sends nil), integers are `number`, prices and quantities are decimal strings.
 * Types only plus a few constant lists; it imports only its siblings in src/protocol, so it bundles
 * for browsers as it is.
 */

/** A decimal string as on the wire, e.g. `"1000.50"`; a removed book level's qty is `"0"`. */
export type Decimal = string;

/** Milliseconds since the Unix epoch. */
export type Timestamp = number;

export const PUBLIC_CHANNELS = ['book', 'trades', 'lifecycle', 'candles', 'ticker'] as const;
export type PublicChannel = (typeof PUBLIC_CHANNELS)[number];

/** Need an authenticated connection; `market` is omitted in their `sub`, `subbed` and `unsubbed`. */
export const PRIVATE_CHANNELS = ['orders', 'fills', 'balances'] as const;
export type PrivateChannel = (typeof PRIVATE_CHANNELS)[number];

export type Channel = PublicChannel | PrivateChannel;

/** Book subscription depths: the best 10 or 50 levels per side, or 0 for every level. */
export const BOOK_DEPTHS = [10, 50, 0] as const;
export type BookDepth = (typeof BOOK_DEPTHS)[number];
export const DEFAULT_BOOK_DEPTH: BookDepth = 50;

export const CANDLE_INTERVALS = ['1m', '5m', '1h'] as const;
export type CandleInterval = (typeof CANDLE_INTERVALS)[number];

export const SIDES = ['buy', 'sell'] as const;
export type Side = (typeof SIDES)[number];

export const ORDER_TYPES = ['limit', 'market', 'stop_limit', 'stop_market'] as const;
export type OrderType = (typeof ORDER_TYPES)[number];

export const TIME_IN_FORCE = ['GTC', 'IOC', 'FOK', 'GTD'] as const;
export type TimeInForce = (typeof TIME_IN_FORCE)[number];

/** Self-trade prevention; `cancel_taker` is the default. */
export const STP_MODES = ['cancel_taker', 'cancel_maker', 'cancel_both', 'decrement'] as const;
export type SelfTradePrevention = (typeof STP_MODES)[number];

export const ORDER_STATUSES = [
  'open',
  'partially_filled',
  'filled',
  'canceled',
  'rejected',
  'pending_trigger',
] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

/** What `accepted.status` can be: an IOC remainder or an STP-removed taker is `canceled`, not an error. */
export const ACCEPTED_STATUSES = ['open', 'partially_filled', 'filled', 'canceled'] as const;
export type AcceptedStatus = (typeof ACCEPTED_STATUSES)[number];

export const ROLES = ['trader', 'issuer', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** A market's lifecycle state (the same list as machines/marketLifecycle.ts `LIFECYCLE_STATES`). */
export const MARKET_STATUSES = [
  'draft',
  'pending_approval',
  'approved',
  'rejected',
  'activating',
  'active',
  'paused',
  'archived',
] as const;
export type MarketStatus = (typeof MARKET_STATUSES)[number];

/** Error codes of the `error` message and of HTTP errors (src/protocol/errors.ts, with each one's HTTP status). */
import type { ErrorCode } from './errors.ts';
export { ERROR_CODES, type ErrorCode } from './errors.ts';

/** A book level on the wire: `[price, qty]`. */
export type BookLevel = readonly [price: Decimal, qty: Decimal];

// ---------------------------------------------------------------------------------------------
// Requests (client → server). `rid` is a non-negative integer the reply echoes.

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
        readonly type: 'market' | 'stop_market';
      }
  );

export type PlaceRequest = RequestBase & { readonly op: 'place' } & PlaceOrder;

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
  | AmendRequest
  | CancelRequest
  | CancelAllRequest;

export type RequestOp = ClientRequest['op'];

// ---------------------------------------------------------------------------------------------
// Replies (server → client). Each echoes the request's `rid` when it carried one.

interface ReplyBase {
  readonly rid?: number;
}

export interface AuthedReply extends ReplyBase {
  readonly op: 'authed';
  readonly userId: string;
  readonly roles: readonly Role[];
}

export interface PongReply extends ReplyBase {
  readonly op: 'pong';
  readonly ts: Timestamp;
}

export interface SubbedReply extends ReplyBase {
  readonly op: 'subbed';
  readonly ch: Channel;
  /** Omitted for private channels. */
  readonly market?: string;
}

export interface UnsubbedReply extends ReplyBase {
  readonly op: 'unsubbed';
  readonly ch: Channel;
  /** Omitted for private channels. */
  readonly market?: string;
}

/** Sent only once the order and its immediate fills are durably committed, before that batch's pushes. */
export interface AcceptedReply extends ReplyBase {
  readonly op: 'accepted';
  readonly orderId: string;
  readonly clientOrderId?: string;
  readonly status: AcceptedStatus;
  readonly filledQty: Decimal;
  readonly remainingQty: Decimal;
}

export interface AmendedReply extends ReplyBase {
  readonly op: 'amended';
  readonly orderId: string;
  readonly price: Decimal;
  readonly qty: Decimal;
  readonly remainingQty: Decimal;
}

export interface CanceledReply extends ReplyBase {
  readonly op: 'canceled';
  readonly orderId: string;
  readonly clientOrderId?: string;
  /** Always `canceled` (PROTOCOL v1.1: replies name the outcome). */
  readonly status: 'canceled';
  /** What the order had filled before it was canceled. */
  readonly filledQty: Decimal;
  readonly remainingQty: Decimal;
}

export interface CanceledAllReply extends ReplyBase {
  readonly op: 'canceled_all';
  readonly count: number;
}

/** The failure reply to a request (with its `rid`), or unsolicited (without). */
export interface ErrorMessage {
  readonly op: 'error';
  readonly rid?: number;
  readonly code: ErrorCode;
  readonly message: string;
}

export type ServerReply =
  | AuthedReply
  | PongReply
  | SubbedReply
  | UnsubbedReply
  | AcceptedReply
  | AmendedReply
  | CanceledReply
  | CanceledAllReply;

// ---------------------------------------------------------------------------------------------
// Pushes (server → client), one kind per channel.

/**
 * Bids best (highest) first, asks best (lowest) first. In a delta a level's qty is its new total and
 * `"0"` removes it. Each delta's `seq` is the previous message's + 1 on the subscription; `checksum`
 * is the CRC-32 of the book after applying the message (see checksum.ts).
 */
export interface BookMessage {
  readonly op: 'book';
  readonly market: string;
  readonly kind: 'snapshot' | 'delta';
  readonly seq: number;
  readonly bids: readonly BookLevel[];
  readonly asks: readonly BookLevel[];
  readonly checksum: number;
}

/** `side` is the taker's; `seq` counts the market's trades. */
export interface TradeMessage {
  readonly op: 'trade';
  readonly market: string;
  readonly seq: number;
  readonly tradeId: string;
  readonly price: Decimal;
  readonly qty: Decimal;
  readonly side: Side;
  readonly ts: Timestamp;
}

/** The snapshot after `sub` has `from: null`, `event: "snapshot"` and the `seq` of the last transition. */
export interface LifecycleMessage {
  readonly op: 'lifecycle';
  readonly market: string;
  readonly seq: number;
  readonly from: MarketStatus | null;
  readonly to: MarketStatus;
  readonly event: string;
  readonly ts: Timestamp;
  readonly actor?: string;
  readonly reason?: string;
}

/** `t` is the candle's open time. */
export interface CandleMessage {
  readonly op: 'candle';
  readonly market: string;
  readonly interval: CandleInterval;
  readonly t: Timestamp;
  readonly o: Decimal;
  readonly h: Decimal;
  readonly l: Decimal;
  readonly c: Decimal;
  readonly v: Decimal;
  readonly closed: boolean;
}

/**
 * A market's ticker. Figures that are unknown are omitted (never nil): `last` and the 24h change
 * before the first trade, `bid`/`ask` while that side is empty, `high24h`/`low24h` when nothing
 * traded in the last 24 hours. `indexPrice` is the external reference price, when configured.
 */
export interface TickerMessage {
  readonly op: 'ticker';
  readonly market: string;
  readonly last?: Decimal;
  readonly bid?: Decimal;
  readonly ask?: Decimal;
  readonly high24h?: Decimal;
  readonly low24h?: Decimal;
  readonly volume24h: Decimal;
  readonly change24h?: Decimal;
  readonly changePct24h?: Decimal;
  readonly indexPrice?: Decimal;
}

export interface OrderMessage {
  readonly op: 'order';
  readonly orderId: string;
  readonly clientOrderId?: string;
  readonly market: string;
  readonly side: Side;
  readonly type: OrderType;
  readonly status: OrderStatus;
  readonly price?: Decimal;
  readonly stopPrice?: Decimal;
  readonly qty: Decimal;
  readonly filledQty: Decimal;
  readonly remainingQty: Decimal;
  readonly avgPrice?: Decimal;
  readonly ts: Timestamp;
}

export interface FillMessage {
  readonly op: 'fill';
  readonly orderId: string;
  readonly tradeId: string;
  readonly market: string;
  readonly side: Side;
  readonly price: Decimal;
  readonly qty: Decimal;
  readonly fee: Decimal;
  readonly feeAsset: string;
  readonly liquidity: 'maker' | 'taker';
  readonly ts: Timestamp;
}

export interface BalanceMessage {
  readonly op: 'balance';
  readonly asset: string;
  readonly available: Decimal;
  readonly locked: Decimal;
}

/** The push each channel carries. */
export interface ChannelPushes {
  readonly book: BookMessage;
  readonly trades: TradeMessage;
  readonly lifecycle: LifecycleMessage;
  readonly candles: CandleMessage;
  readonly ticker: TickerMessage;
  readonly orders: OrderMessage;
  readonly fills: FillMessage;
  readonly balances: BalanceMessage;
}

export type PushMessage = ChannelPushes[Channel];

export type PushOp = PushMessage['op'];

/** Which channel a push's `op` belongs to. */
export const CHANNEL_OF_PUSH = {
  book: 'book',
  trade: 'trades',
  lifecycle: 'lifecycle',
  candle: 'candles',
  ticker: 'ticker',
  order: 'orders',
  fill: 'fills',
  balance: 'balances',
} as const satisfies { readonly [Op in PushOp]: Channel };

export type ServerMessage = ServerReply | ErrorMessage | PushMessage;

/** The success reply each request op gets. */
export interface ReplyOf {
  readonly auth: AuthedReply;
  readonly ping: PongReply;
  readonly sub: SubbedReply;
  readonly unsub: UnsubbedReply;
  readonly place: AcceptedReply;
  readonly amend: AmendedReply;
  readonly cancel: CanceledReply;
  readonly cancel_all: CanceledAllReply;
}

export function isPublicChannel(ch: string): ch is PublicChannel {
  return (PUBLIC_CHANNELS as readonly string[]).includes(ch);
}

export function isPrivateChannel(ch: string): ch is PrivateChannel {
  return (PRIVATE_CHANNELS as readonly string[]).includes(ch);
}

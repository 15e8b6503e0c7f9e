/** The wire's scalar types, channel names and enumerations (PROTOCOL.md), for every message kind. */

/** A decimal string as on the wire, e.g. `"1000.50"`; a removed book level's qty is `"0"`. */
export type Decimal = string;

/** Milliseconds since the Unix epoch. */
export type Timestamp = number;

export const PUBLIC_CHANNELS = ['book', 'trades', 'lifecycle', 'candles', 'ticker'] as const;
export type PublicChannel = (typeof PUBLIC_CHANNELS)[number];

/** Need an authenticated connection; `market` is omitted in their `sub`, `subbed` and `unsubbed`. */
export const PRIVATE_CHANNELS = [
  'orders',
  'fills',
  'balances',
  'funding',
  'notifications',
  'positions',
] as const;
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

export const ORDER_TYPES = ['limit', 'market', 'stop_limit', 'stop_market', 'trailing_stop'] as const;
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

/** `ingest` (issue 19): a service token that may post trend metrics (POST /trends) and nothing else. */
export const ROLES = ['trader', 'issuer', 'admin', 'ingest'] as const;
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
export { ERROR_CODES, type ErrorCode } from './errors.ts';

/** A book level on the wire: `[price, qty]`. */
export type BookLevel = readonly [price: Decimal, qty: Decimal];

export function isPublicChannel(ch: string): ch is PublicChannel {
  return (PUBLIC_CHANNELS as readonly string[]).includes(ch);
}

export function isPrivateChannel(ch: string): ch is PrivateChannel {
  return (PRIVATE_CHANNELS as readonly string[]).includes(ch);
}

import type {
  BookLevel,
  CandleInterval,
  Channel,
  Decimal,
  MarketStatus,
  OrderStatus,
  OrderType,
  Side,
  Timestamp,
} from './vocabulary.ts';

/** Pushes (server → client), wire protocol v1: one kind per channel. */

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

/**
 * Whether a market's actor is taking commands (issue 20; an op the server adds on the `lifecycle`
 * channel, beside `lifecycle`): `halted` while the supervisor rebuilds it after a fault or a failed
 * commit (its commands answer `unavailable`), `running` once it is back. Not a lifecycle state:
 * the market's `status` does not change. Pushed on each change, and after the `lifecycle` snapshot
 * of a `sub` while the market is halted. Not one of ChannelPushes (a `lifecycle` subscription's
 * callback gets `lifecycle` pushes only): the SDK hands it to ExchangeClient.onMarketStatus.
 */
export interface MarketStatusMessage {
  readonly op: 'market_status';
  readonly market: string;
  readonly status: 'running' | 'halted';
  readonly ts: Timestamp;
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

/** A deposit's or a withdrawal's new status (PROTOCOL v1.1, Funding; channel `funding`). */
export interface FundingMessage {
  readonly op: 'deposit' | 'withdrawal';
  readonly id: string;
  readonly status: string;
  readonly asset: string;
  readonly amount: Decimal;
  readonly ts: Timestamp;
  readonly txHash?: string;
  readonly reason?: string;
}

/** An in-app notification (PROTOCOL v1.1, Notifications): `data` holds the type's figures. */
export interface NotificationMessage {
  readonly op: 'notification';
  readonly id: string;
  readonly type: string;
  readonly title: string;
  readonly body: string;
  readonly data: Readonly<Record<string, unknown>>;
  readonly ts: Timestamp;
  readonly read: boolean;
}

/**
 * A position's new state after a round of the durable consumer `portfolio` committed it (PROTOCOL
 * v1.1, Portfolio; channel `positions`): per (asset bought, quote asset paid), amounts in the
 * quote asset with its decimals; `avgPrice` is null when nothing is held.
 */
export interface PositionMessage {
  readonly op: 'position';
  readonly asset: string;
  readonly quoteAsset: string;
  readonly qty: Decimal;
  readonly avgPrice: Decimal | null;
  readonly realizedPnl: Decimal;
  readonly fills: number;
  /** The journal position (global_seq) the position is as of. */
  readonly seq: number;
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
  readonly funding: FundingMessage;
  readonly notifications: NotificationMessage;
  readonly positions: PositionMessage;
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
  deposit: 'funding',
  withdrawal: 'funding',
  notification: 'notifications',
  position: 'positions',
} as const satisfies { readonly [Op in PushOp]: Channel };

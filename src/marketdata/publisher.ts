import type { LifecycleContext, LifecycleNotice, LifecycleState } from '../../machines/marketLifecycle.ts';
import type { BookView, FillEvent, LevelEvent, OpenOrder, Side } from '../actors/book/types.ts';
import type { LedgerSnapshot, Posting } from '../actors/ledger/index.ts';
import { MarketFunds } from '../actors/market/funds.ts';
import type { JournalBatch, MarketDefinition } from '../actors/market/types.ts';
import type { MarketMoney } from '../actors/money.ts';
import { formatUnits } from '../actors/money/decimal.ts';
import type { DomainEvent, Fill } from '../events/domain.ts';
import { foldBatch } from '../events/fold.ts';
import { tradeId, wireOrderId } from '../events/ids.ts';
import { applyOrderChange, isClosed, statusOf } from '../events/orders.ts';
import type {
  BalanceMessage,
  BookMessage,
  FillMessage,
  LifecycleMessage,
  OrderMessage,
  OrderType,
  TradeMessage,
} from '../protocol/messages.ts';
import { topics } from '../protocol/topics.ts';
import { BookFeed } from './bookFeed.ts';

/** One wire message (without `rid`) and the topic its subscribers listen on. */
export interface Publication {
  /** `book/SYMBOL/DEPTH`, `trades/SYMBOL`, `lifecycle/SYMBOL`, `orders/USER`, `fills/USER`, `balances/USER`. */
  readonly topic: string;
  readonly message:
    BookMessage | TradeMessage | LifecycleMessage | OrderMessage | FillMessage | BalanceMessage;
}

/** A listed market: what money and fees it trades with (src/actors/catalog.ts `ListedMarket`). */
export interface PublishedListing {
  readonly definition: MarketDefinition;
  readonly money: MarketMoney;
  readonly baseDecimals: number;
  readonly quoteDecimals: number;
}

/** The market's committed state when it joins (a MarketActor after recovery, or a new one). */
export interface MarketSource {
  /** Levels and open orders. */
  readonly orderBook: BookView;
  /** The lifecycle state and context (seq = transitions taken, lastTransition's ts). */
  currentState(): {
    readonly lifecycle: { readonly state: LifecycleState; readonly context: LifecycleContext };
  };
  /**
   * The book seq and each open order's last-change ts and filled notional, folded from the
   * journal (MarketActor.orderActivity): a restart continues them (PROTOCOL v1.1).
   */
  readonly orderActivity?: OrderActivityView | undefined;
}

/** What the publisher reads of a market's OrderActivity (src/actors/market/orderActivity.ts). */
export interface OrderActivityView {
  readonly bookSeq: number;
  order(
    orderId: number,
  ): { readonly ts: number | undefined; readonly filledNotional: bigint | undefined } | undefined;
}

/** Counters for what the market's state does not say; all default to 0. */
export interface PublishedCounters {
  /** The book seq last published, when the source has no orderActivity. */
  readonly bookSeq?: number | undefined;
  /** The trade seq last published. */
  readonly tradeSeq?: number | undefined;
  /** `ts` of the order pushes of recovered open orders whose last change is not known. */
  readonly ts?: number | undefined;
}

/** What the publisher reads of the ledger once, at start: its balances and asset decimals. */
export interface LedgerSource {
  snapshot(): LedgerSnapshot;
}

export interface PublisherOptions {
  /**
   * An order left the open set (filled or canceled), also one that never rested (IOC, market), so
   * order entry can release its clientOrderId and open-order slot.
   */
  readonly onOrderClosed?:
    | ((userId: string, marketId: string, orderId: number, clientOrderId: string | undefined) => void)
    | undefined;
}

/** An open order as the publisher follows it from its `accepted` (or the recovered book) to its end. */
interface TrackedOrder {
  readonly marketId: string;
  readonly orderId: number;
  /** The wire id, `${marketId}:${orderId}`. */
  readonly id: string;
  readonly userId: string;
  readonly clientOrderId: string | undefined;
  readonly side: Side;
  readonly type: OrderType;
  price: number | undefined;
  readonly stopPrice: number | undefined;
  qty: number;
  remaining: number;
  pending: boolean;
  canceled: boolean;
  /** Σ price × qty of its fills (tick×lot units); undefined when it filled before it was tracked. */
  filledNotional: bigint | undefined;
  ts: number;
}

interface MarketFeed {
  readonly definition: MarketDefinition;
  /** `trades/SYMBOL`, built once. */
  readonly tradesTopic: string;
  readonly money: MarketMoney;
  readonly funds: MarketFunds;
  readonly book: BookFeed;
  readonly orders: Map<number, TrackedOrder>;
  readonly baseDecimals: number;
  readonly quoteDecimals: number;
  tradeSeq: number;
  lifecycle: { state: LifecycleState; seq: number; ts: number };
}

interface Balance {
  available: bigint;
  locked: bigint;
  /** The net change of the batch being published (valid while `batch` is the current one). */
  netAvailable: bigint;
  netLocked: bigint;
  /** The publish() call that last touched this row (0: none). */
  batch: number;
}

/** A balance row a batch touched, in first-touch order. */
interface TouchedBalance {
  readonly userId: string;
  readonly asset: string;
  readonly row: Balance;
}

/** Whether anyone listens on a topic now (the gateway's uWS `numSubscribers`). */
export type Audience = (topic: string) => boolean;

const everyone: Audience = () => true;

/**
 * Turns committed batches into the wire's pushes (PROTOCOL.md): `book` deltas per depth window,
 * `trade`s, `lifecycle` transitions, and each user's `order`, `fill` and `balance` pushes. Fed by
 * the supervisor's `publish` with every committed batch, in commit order per market, so all it
 * says is durable. It also answers the reads that must reflect what was acknowledged: book and
 * lifecycle snapshots, a user's open orders and balances, all as of the last published batch.
 *
 * Order of one batch's publications: per entry, its lifecycle transition, then per fill the trade
 * and the maker's and taker's fills, then one `order` push per order the entry touched (first
 * touch first); after the last entry the book deltas (10, 50, all) and the balance pushes.
 */
export class MarketDataPublisher {
  readonly #byId = new Map<string, MarketFeed>();
  readonly #bySymbol = new Map<string, MarketFeed>();
  /** Open orders per user, by wire id. */
  readonly #userOrders = new Map<string, Map<string, TrackedOrder>>();
  /** Committed balances per user (accounts starting with `@` are left out). */
  readonly #balances = new Map<string, Map<string, Balance>>();
  readonly #decimals = new Map<string, number>();
  readonly #options: PublisherOptions;
  #assetDecimals: (asset: string) => number | undefined = () => undefined;
  #audience: Audience = everyone;
  /** The orders the entry being published touched, first touch first (empty between entries). */
  readonly #touchedOrders = new Map<number, TrackedOrder>();
  /** Numbers publish() calls, to tell the balance rows a batch touched. */
  #batch = 0;
  /** The `book` message of each cached BookFeed snapshot (gone with it). */
  readonly #bookMessages = new WeakMap<object, BookMessage>();

  constructor(options: PublisherOptions = {}) {
    this.#options = options;
  }

  /**
   * From now on, publish() leaves out the messages of topics `audience` says nobody listens on
   * (the published state advances all the same). The gateway sets it: in bench:ws's closed loop
   * nobody subscribes to the traders' private channels, and building those pushes was most of
   * the publisher's CPU. Default: every message is built.
   */
  setAudience(audience: Audience): void {
    this.#audience = audience;
  }

  /**
   * Takes the balances to publish from: call it when the ledger equals the committed journal (after
   * recovery, before trading). From then on balance pushes and reads follow the postings of
   * published batches only, never those of a batch still being committed (the live ledger has
   * them). `assetDecimals` formats assets defined later that no added market names.
   */
  addLedger(ledger: LedgerSource, assetDecimals?: (asset: string) => number | undefined): void {
    const snapshot = ledger.snapshot();
    if (assetDecimals !== undefined) this.#assetDecimals = assetDecimals;
    for (const { symbol, decimals } of snapshot.assets) this.#decimals.set(symbol, decimals);
    this.#balances.clear();
    for (const { account, balances } of snapshot.accounts) {
      if (account.startsWith('@')) continue;
      const rows = new Map<string, Balance>();
      for (const { asset, available, locked } of balances) {
        rows.set(asset, balanceRow(BigInt(available), BigInt(locked)));
      }
      this.#balances.set(account, rows);
    }
  }

  /**
   * Publishes a market from its committed state: call it before the market's first batch is
   * published (at start after recovery, or when it is listed). `counters` continue the book and
   * trade sequences across a restart.
   */
  addMarket(listed: PublishedListing, source: MarketSource, counters: PublishedCounters = {}): void {
    const { definition, money, baseDecimals, quoteDecimals } = listed;
    if (this.#byId.has(definition.id) || this.#bySymbol.has(definition.symbol)) {
      throw new Error(`market ${definition.symbol} is already published`);
    }
    const book = source.orderBook;
    const { state, context } = source.currentState().lifecycle;
    const feed: MarketFeed = {
      definition,
      tradesTopic: topics.trades(definition.symbol),
      money,
      funds: new MarketFunds(
        money,
        baseDecimals,
        quoteDecimals,
        definition.makerFeeBps,
        definition.takerFeeBps,
      ),
      book: new BookFeed(
        money,
        { bids: book.depth('buy', 0), asks: book.depth('sell', 0) },
        { seq: source.orderActivity?.bookSeq ?? counters.bookSeq },
      ),
      orders: new Map(),
      baseDecimals,
      quoteDecimals,
      tradeSeq: counters.tradeSeq ?? 0,
      lifecycle: { state, seq: context.seq, ts: context.lastTransition?.ts ?? 0 },
    };
    this.#decimals.set(definition.baseAsset, baseDecimals);
    this.#decimals.set(definition.quoteAsset, quoteDecimals);
    const known = (open: OpenOrder) => source.orderActivity?.order(open.orderId);
    const ts = counters.ts ?? 0;
    const { resting, stops } = book.openOrders();
    for (const open of resting) this.#track(feed, recovered(definition.id, open, false, known(open), ts));
    for (const open of stops) this.#track(feed, recovered(definition.id, open, true, known(open), ts));
    this.#byId.set(definition.id, feed);
    this.#bySymbol.set(definition.symbol, feed);
  }

  /**
   * The pushes one committed batch causes, in order (those of topics without an audience left out,
   * see setAudience); it also advances the published state. `events` are the batch's domain events
   * (src/events/fold.ts), when the caller has folded them already. Consumers that need every trade
   * read the events, not these publications.
   */
  publish(batch: JournalBatch, events: readonly DomainEvent[] = foldBatch(batch)): Publication[] {
    const out: Publication[] = [];
    const market = this.#byId.get(batch.marketId);
    const levels: LevelEvent[] = [];
    const touched: TouchedBalance[] = [];
    const orders = this.#touchedOrders;
    const batchNumber = ++this.#batch;
    let entry = -1;
    for (let i = 0; i < events.length; i++) {
      const event = events[i]!;
      if (event.type === 'balance.changed') {
        this.#post(event.postings, touched, batchNumber);
        continue;
      }
      if (market === undefined) continue;
      if (event.entry !== entry) {
        if (orders.size > 0) this.#orderPushes(market, out);
        entry = event.entry;
      }
      switch (event.type) {
        case 'lifecycle.transition':
          out.push({
            topic: topics.lifecycle(market.definition.symbol),
            message: lifecycleMessage(market, event.notice),
          });
          break;
        case 'order.accepted': {
          const accepted = event.order;
          const order: TrackedOrder = {
            marketId: market.definition.id,
            orderId: accepted.orderId,
            id: wireOrderId(market.definition.id, accepted.orderId),
            userId: accepted.userId,
            clientOrderId: accepted.clientOrderId,
            side: accepted.side,
            type: accepted.orderType,
            price: accepted.price,
            stopPrice: accepted.stopPrice,
            qty: accepted.qty,
            remaining: accepted.qty,
            pending: false,
            canceled: false,
            filledNotional: 0n,
            ts: event.ts,
          };
          this.#track(market, order);
          touchOrder(market, orders, accepted.orderId, event.ts);
          break;
        }
        case 'fill': {
          const { fill } = event;
          this.#fill(market, event, out);
          filled(touchOrder(market, orders, fill.takerOrderId, event.ts), fill.takerOrderId, fill);
          filled(touchOrder(market, orders, fill.makerOrderId, event.ts), fill.makerOrderId, fill);
          break;
        }
        case 'order.changed': {
          const order = touchOrder(market, orders, event.orderId, event.ts);
          if (order !== undefined) applyOrderChange(order, event.orderId, event.change);
          break;
        }
        case 'book.level':
          levels.push(event.level);
          break;
        case 'order.closed':
        case 'lifecycle.refused':
        case 'credit':
          break;
      }
    }
    if (market !== undefined) {
      if (orders.size > 0) this.#orderPushes(market, out);
      market.lifecycle.state = batch.state;
      this.#bookDeltas(market, levels, out);
    }
    for (const { userId, asset, row } of touched) {
      if (row.netAvailable === 0n && row.netLocked === 0n) continue; // net nothing: the last push still holds
      const topic = topics.private('balances', userId);
      if (!this.#audience(topic)) continue;
      const message = this.#balanceMessage(userId, asset);
      if (message !== undefined) out.push({ topic, message });
    }
    return out;
  }

  /**
   * The `book` snapshot of a subscription of `depth` (0: all), or undefined for an unknown market.
   * The same object for the same market, depth and seq (BookFeed.snapshot): readers may cache what
   * they make of it by identity (the gateway's frame, the HTTP body) and must not change it.
   */
  bookSnapshot(symbol: string, depth: number): BookMessage | undefined {
    const market = this.#bySymbol.get(symbol);
    if (market === undefined) return undefined;
    const snapshot = market.book.snapshot(depth);
    let message = this.#bookMessages.get(snapshot);
    if (message === undefined) {
      const { seq, bids, asks, checksum } = snapshot;
      message = Object.freeze({ op: 'book', market: symbol, kind: 'snapshot', seq, bids, asks, checksum });
      this.#bookMessages.set(snapshot, message);
    }
    return message;
  }

  /** The `lifecycle` snapshot: the current state, with the seq and time of the last transition. */
  lifecycleSnapshot(symbol: string): LifecycleMessage | undefined {
    const market = this.#bySymbol.get(symbol);
    if (market === undefined) return undefined;
    const { state, seq, ts } = market.lifecycle;
    return { op: 'lifecycle', market: symbol, seq, from: null, to: state, event: 'snapshot', ts };
  }

  /** The user's open orders as `order` pushes; `market` (symbol or id) narrows to one market. */
  openOrders(userId: string, market?: string): OrderMessage[] {
    const orders = this.#userOrders.get(userId);
    if (orders === undefined) return [];
    const only = market === undefined ? undefined : (this.#bySymbol.get(market) ?? this.#byId.get(market));
    if (market !== undefined && only === undefined) return [];
    const out: OrderMessage[] = [];
    for (const order of orders.values()) {
      if (only !== undefined && only.definition.id !== order.marketId) continue;
      out.push(orderMessage(only ?? this.#byId.get(order.marketId)!, order));
    }
    return out;
  }

  /** The user's committed balances as `balance` pushes, one per asset they have a row for. */
  balances(userId: string): BalanceMessage[] {
    const rows = this.#balances.get(userId);
    if (rows === undefined) return [];
    const out: BalanceMessage[] = [];
    for (const asset of rows.keys()) {
      const message = this.#balanceMessage(userId, asset);
      if (message !== undefined) out.push(message);
    }
    return out;
  }

  /** One `order` push per order the entry touched (first touch first); closed orders leave the open set. */
  #orderPushes(market: MarketFeed, out: Publication[]): void {
    const orders = this.#touchedOrders;
    for (const order of orders.values()) {
      const topic = topics.private('orders', order.userId);
      if (this.#audience(topic)) out.push({ topic, message: orderMessage(market, order) });
      if (isClosed(order)) this.#close(market, order);
    }
    orders.clear();
  }

  /** The trade and both parties' fills. */
  #fill(market: MarketFeed, trade: Fill, out: Publication[]): void {
    const event = trade.fill;
    market.tradeSeq++;
    const audience = this.#audience;
    const { tradesTopic } = market;
    const makerTopic = topics.private('fills', event.makerUserId);
    const takerTopic = topics.private('fills', event.takerUserId);
    const toTrades = audience(tradesTopic);
    const toMaker = audience(makerTopic);
    const toTaker = audience(takerTopic);
    if (!toTrades && !toMaker && !toTaker) return;
    const { definition, money } = market;
    const symbol = definition.symbol;
    const fill: FillFigures = {
      tradeId: tradeId(definition.id, trade.seq, trade.n),
      price: money.formatPrice(event.price),
      qty: money.formatQty(event.qty),
      ts: trade.ts,
    };
    if (toTrades) {
      out.push({
        topic: tradesTopic,
        message: {
          op: 'trade',
          market: symbol,
          seq: market.tradeSeq,
          tradeId: fill.tradeId,
          price: fill.price,
          qty: fill.qty,
          side: event.takerSide,
          ts: fill.ts,
        },
      });
    }
    const makerSide: Side = event.takerSide === 'buy' ? 'sell' : 'buy';
    if (toMaker) {
      out.push({
        topic: makerTopic,
        message: fillMessage(market, event, fill, event.makerOrderId, makerSide, 'maker'),
      });
    }
    if (toTaker) {
      out.push({
        topic: takerTopic,
        message: fillMessage(market, event, fill, event.takerOrderId, event.takerSide, 'taker'),
      });
    }
  }

  #bookDeltas(market: MarketFeed, levels: readonly LevelEvent[], out: Publication[]): void {
    if (levels.length === 0) return;
    const symbol = market.definition.symbol;
    const audience = this.#audience;
    const update = market.book.applyBatch(levels, (depth) => audience(topics.book(symbol, depth)));
    if (update === undefined) return;
    for (const { depth, bids, asks } of update.deltas) {
      out.push({
        topic: topics.book(symbol, depth),
        message: {
          op: 'book',
          market: symbol,
          kind: 'delta',
          seq: update.seq,
          bids,
          asks,
          checksum: update.checksum,
        },
      });
    }
  }

  /** Applies committed postings to the balances and notes the batch's net change on each row touched. */
  #post(postings: readonly Posting[], touched: TouchedBalance[], batch: number): void {
    for (let i = 0; i < postings.length; i++) {
      const { account, asset, bucket, amount } = postings[i]!;
      if (account.startsWith('@')) continue;
      let rows = this.#balances.get(account);
      if (rows === undefined) this.#balances.set(account, (rows = new Map<string, Balance>()));
      let row = rows.get(asset);
      if (row === undefined) rows.set(asset, (row = balanceRow(0n, 0n)));
      if (row.batch !== batch) {
        row.batch = batch;
        row.netAvailable = 0n;
        row.netLocked = 0n;
        touched.push({ userId: account, asset, row });
      }
      if (bucket === 'available') {
        row.available += amount;
        row.netAvailable += amount;
      } else {
        row.locked += amount;
        row.netLocked += amount;
      }
    }
  }

  #balanceMessage(userId: string, asset: string): BalanceMessage | undefined {
    const row = this.#balances.get(userId)?.get(asset);
    const decimals = this.#decimals.get(asset) ?? this.#assetDecimals(asset);
    if (row === undefined || decimals === undefined) return undefined;
    return {
      op: 'balance',
      asset,
      available: formatUnits(row.available, decimals),
      locked: formatUnits(row.locked, decimals),
    };
  }

  #track(market: MarketFeed, order: TrackedOrder): void {
    market.orders.set(order.orderId, order);
    let orders = this.#userOrders.get(order.userId);
    if (orders === undefined) this.#userOrders.set(order.userId, (orders = new Map<string, TrackedOrder>()));
    orders.set(order.id, order);
  }

  #close(market: MarketFeed, order: TrackedOrder): void {
    market.orders.delete(order.orderId);
    const orders = this.#userOrders.get(order.userId);
    orders?.delete(order.id);
    if (orders?.size === 0) this.#userOrders.delete(order.userId);
    this.#options.onOrderClosed?.(order.userId, market.definition.id, order.orderId, order.clientOrderId);
  }
}

function balanceRow(available: bigint, locked: bigint): Balance {
  return { available, locked, netAvailable: 0n, netLocked: 0n, batch: 0 };
}

/** Marks an order as touched by the entry (its push follows the entry); undefined when not tracked. */
function touchOrder(
  market: MarketFeed,
  touched: Map<number, TrackedOrder>,
  orderId: number,
  ts: number,
): TrackedOrder | undefined {
  const order = market.orders.get(orderId);
  if (order !== undefined) {
    order.ts = ts;
    touched.set(orderId, order);
  }
  return order;
}

/** A fill's effect on one of its orders. */
function filled(order: TrackedOrder | undefined, orderId: number, event: FillEvent): void {
  if (order === undefined) return;
  applyOrderChange(order, orderId, event);
  if (order.filledNotional !== undefined) order.filledNotional += BigInt(event.price) * BigInt(event.qty);
}

/** What a trade and both of its fill pushes share. */
interface FillFigures {
  readonly tradeId: string;
  readonly price: string;
  readonly qty: string;
  readonly ts: number;
}

function fillMessage(
  market: MarketFeed,
  event: FillEvent,
  fill: FillFigures,
  orderId: number,
  side: Side,
  liquidity: 'maker' | 'taker',
): FillMessage {
  const { definition, funds } = market;
  // As settlement charges it: in the asset received, bps of the role, rounded up (feeOf).
  const bps = liquidity === 'maker' ? funds.makerFeeBps : funds.takerFeeBps;
  const buys = side === 'buy';
  const received = buys ? funds.base(event.qty) : funds.notional(event.price, event.qty);
  return {
    op: 'fill',
    orderId: `${definition.id}:${orderId}`,
    tradeId: fill.tradeId,
    market: definition.symbol,
    side,
    price: fill.price,
    qty: fill.qty,
    fee: formatUnits(funds.fee(received, bps), buys ? market.baseDecimals : market.quoteDecimals),
    feeAsset: buys ? definition.baseAsset : definition.quoteAsset,
    liquidity,
    ts: fill.ts,
  };
}

/** A recovered open order; `facts` (from the market's activity) give its ts and fills' notional. */
function recovered(
  marketId: string,
  open: OpenOrder,
  pending: boolean,
  facts: ReturnType<OrderActivityView['order']>,
  ts: number,
): TrackedOrder {
  return {
    marketId,
    orderId: open.orderId,
    id: wireOrderId(marketId, open.orderId),
    userId: open.userId,
    clientOrderId: open.clientOrderId,
    side: open.side,
    type: open.type,
    price: open.price,
    stopPrice: open.stopPrice,
    qty: open.qty,
    remaining: open.remaining,
    pending,
    canceled: false,
    // Without facts (a legacy snapshot) fills before recovery are unknown, so is their average.
    filledNotional: facts?.filledNotional ?? (open.remaining === open.qty ? 0n : undefined),
    ts: facts?.ts ?? ts,
  };
}

function orderMessage(market: MarketFeed, order: TrackedOrder): OrderMessage {
  const { money } = market;
  const filled = order.qty - order.remaining;
  return {
    op: 'order',
    orderId: order.id,
    ...(order.clientOrderId === undefined ? {} : { clientOrderId: order.clientOrderId }),
    market: market.definition.symbol,
    side: order.side,
    type: order.type,
    status: statusOf(order),
    ...(order.price === undefined ? {} : { price: money.formatPrice(order.price) }),
    ...(order.stopPrice === undefined ? {} : { stopPrice: money.formatPrice(order.stopPrice) }),
    qty: money.formatQty(order.qty),
    filledQty: money.formatQty(filled),
    remainingQty: money.formatQty(order.remaining),
    ...(filled === 0 || order.filledNotional === undefined
      ? {}
      : { avgPrice: averagePrice(money, order.filledNotional, filled) }),
    ts: order.ts,
  };
}

/** Σ price × qty / Σ qty as a price with priceDecimals, rounded half-up (PROTOCOL.md). */
function averagePrice(money: MarketMoney, notional: bigint, filled: number): string {
  const units = notional * money.tickUnits; // in 10^-priceDecimals × lots
  const lots = BigInt(filled);
  return formatUnits((2n * units + lots) / (2n * lots), money.priceDecimals);
}

/**
 * A transition's push. Its `ts` is the transition's own (the lifecycle event's, as the audit trail
 * and a recovered lifecycle snapshot have it), not the command's entry ts: the two agree when the
 * caller stamps both from one clock, and this way the snapshot after a restart says the same.
 */
function lifecycleMessage(market: MarketFeed, notice: LifecycleNotice): LifecycleMessage {
  const { ts } = notice;
  market.lifecycle = { state: notice.to, seq: notice.seq, ts };
  const reason =
    notice.reason ?? (notice.event === 'lifecycle.deploy_failed' ? notice.deployError : undefined);
  return {
    op: 'lifecycle',
    market: market.definition.symbol,
    seq: notice.seq,
    from: notice.from,
    to: notice.to,
    event: notice.event,
    ts,
    actor: notice.actor.id,
    ...(reason === undefined ? {} : { reason }),
  };
}

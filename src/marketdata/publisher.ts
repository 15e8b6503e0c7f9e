import type { LevelEvent, OpenOrder, Side } from '../actors/book/types.ts';
import type { JournalBatch } from '../actors/market/types.ts';
import type { DomainEvent, Fill } from '../events/domain.ts';
import { foldBatch } from '../events/fold.ts';
import { tradeId, wireOrderId } from '../events/ids.ts';
import { applyOrderChange, isClosed } from '../events/orders.ts';
import type {
  BalanceMessage,
  BookMessage,
  FillMessage,
  LifecycleMessage,
  OrderMessage,
  TradeMessage,
} from '../protocol/messages.ts';
import { type Publication as TopicPublication, topics } from '../protocol/topics.ts';
import { type LedgerSource, PublishedBalances, type TouchedBalance } from './publisherBalances.ts';
import {
  type MarketFeed,
  type MarketSource,
  type PublishedCounters,
  type PublishedListing,
  type TrackedOrder,
  filled,
  marketFeed,
  recovered,
  touchOrder,
} from './publisherFeed.ts';
import { type FillFigures, fillMessage, lifecycleMessage, orderMessage } from './publisherMessages.ts';

export type { LedgerSource } from './publisherBalances.ts';
export type {
  MarketSource,
  OrderActivityView,
  PublishedCounters,
  PublishedListing,
} from './publisherFeed.ts';

/**
 * One wire message (without `rid`) and the topic its subscribers listen on: `book/SYMBOL/DEPTH`,
 * `trades/SYMBOL`, `lifecycle/SYMBOL`, `orders/USER`, `fills/USER`, `balances/USER`.
 */
export type Publication = TopicPublication<
  BookMessage | TradeMessage | LifecycleMessage | OrderMessage | FillMessage | BalanceMessage
>;

export interface PublisherOptions {
  /**
   * An order left the open set (filled or canceled), also one that never rested (IOC, market), so
   * order entry can release its clientOrderId and open-order slot.
   */
  readonly onOrderClosed?:
    | ((userId: string, marketId: string, orderId: number, clientOrderId: string | undefined) => void)
    | undefined;
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
  /** Committed balances per user, as of the last published batch. */
  readonly #balances = new PublishedBalances();
  readonly #options: PublisherOptions;
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
    this.#balances.load(ledger, assetDecimals);
  }

  /**
   * Publishes a market from its committed state: call it before the market's first batch is
   * published (at start after recovery, or when it is listed). `counters` continue the book and
   * trade sequences across a restart.
   */
  addMarket(listed: PublishedListing, source: MarketSource, counters: PublishedCounters = {}): void {
    const { definition, baseDecimals, quoteDecimals } = listed;
    if (this.#byId.has(definition.id) || this.#bySymbol.has(definition.symbol)) {
      throw new Error(`market ${definition.symbol} is already published`);
    }
    const feed = marketFeed(listed, source, counters);
    this.#balances.setDecimals(definition.baseAsset, baseDecimals);
    this.#balances.setDecimals(definition.quoteAsset, quoteDecimals);
    const known = (open: OpenOrder) => source.orderActivity?.order(open.orderId);
    const ts = counters.ts ?? 0;
    const { resting, stops } = source.orderBook.openOrders();
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
        this.#balances.post(event.postings, touched, batchNumber);
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
      const message = this.#balances.message(userId, asset);
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
    return this.#balances.messages(userId);
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

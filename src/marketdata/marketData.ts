import type { ListedMarket } from '../actors/catalog.ts';
import type { JournalBatch } from '../actors/market/types.ts';
import type { MarketMoney } from '../actors/money.ts';
import type { CandleInterval, CandleMessage } from '../protocol/messages.ts';
import { topics } from '../protocol/topics.ts';
import type {
  CandleRow,
  MarketDataChanges,
  MarketStatsRow,
  StoredMarketData,
  TradeTick,
} from '../persistence/marketDataStore.ts';
import { CandleSeries } from './candles.ts';
import {
  candleMessage,
  candleView,
  formatLots,
  percent,
  type CandleView,
  type TickerPush,
} from './marketDataViews.ts';
import { persistChanges, type MarketDataPersistence } from './marketDataPersistence.ts';
import { RollingStats } from './stats.ts';

export type { CandleView, TickerPush } from './marketDataViews.ts';
export type { MarketDataPersistence } from './marketDataPersistence.ts';

/*
 * Candles and tickers from committed batches (PROTOCOL.md `candles`, `ticker`, and the HTTP candles
 * route). Fed with every committed batch, in commit order per market, after the publisher (so the
 * quotes it reads are those of the same batch); all it says is derived from committed fills.
 *
 * Ticker fields that are unknown are omitted (PROTOCOL: optional fields are omitted, never nil):
 * - `last`: omitted before the market's first trade.
 * - `bid` / `ask`: omitted while that side of the book is empty.
 * - `high24h`, `low24h`: omitted when the 24h window holds no trade; `volume24h` is then "0…".
 * - `change24h` (last − the price 24h ago, with the price's sign) and `changePct24h` (percent, two
 *   decimals, rounded half away from zero): omitted before the first trade; "0.00…" when nothing
 *   traded in the window.
 * - `indexPrice`: the latest external reference price, omitted until one was fetched.
 * A market without trades has no candles: candleSnapshot is undefined and reads are empty.
 */

/** One push and the topic its subscribers listen on (`candles/SYMBOL/INTERVAL`, `ticker/SYMBOL`). */
export interface MarketDataPublication {
  readonly topic: string;
  readonly message: CandleMessage | TickerPush;
}

/** Best bid and ask of the committed book, as wire decimals; a side is undefined when empty. */
export interface Quotes {
  readonly bid?: string | undefined;
  readonly ask?: string | undefined;
}

export const CANDLE_INTERVALS: readonly CandleInterval[] = ['1m', '5m', '1h'];

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/** How far back candles stay readable in memory, per interval (the newest always does). */
export const DEFAULT_RETENTION_MS: Readonly<Record<CandleInterval, number>> = {
  '1m': 2 * DAY_MS,
  '5m': 14 * DAY_MS,
  '1h': 180 * DAY_MS,
};

export const CANDLE_READ_LIMIT = { default: 500, max: 1_000 } as const;

export interface MarketDataOptions {
  /**
   * The committed book's best bid and ask of a market (by symbol), read after a batch that traded
   * or changed levels, and by tickerSnapshot. Without it tickers carry no bid/ask.
   */
  readonly quotes?: ((symbol: string) => Quotes | undefined) | undefined;
  /** Per interval; 1m is raised to at least 24h (the stats are rebuilt from 1m candles). */
  readonly retentionMs?: Partial<Record<CandleInterval, number>> | undefined;
  /**
   * tick(now) closes intervals that ended at least this long before `now`, so a batch stamped
   * before the boundary but committed after it usually lands before its candle is announced closed.
   */
  readonly closeGraceMs?: number | undefined;
}

/** A market's starting point: loadMarketData's result, the stored index price, the time now. */
export interface MarketDataInitial {
  readonly stored?: StoredMarketData | undefined;
  readonly indexPrice?: string | undefined;
  /** Start time: the 24h window is moved to it. */
  readonly now?: number | undefined;
}

interface Tracked {
  readonly id: string;
  readonly symbol: string;
  readonly money: MarketMoney;
  /** In CANDLE_INTERVALS order. */
  readonly series: readonly CandleSeries[];
  readonly byInterval: ReadonlyMap<string, CandleSeries>;
  readonly stats: RollingStats;
  readonly candleTopics: readonly string[];
  readonly tickerTopic: string;
  indexPrice: string | undefined;
  statsDirty: boolean;
  /** Quotes of the last ticker pushed (to push again only when they moved). */
  bid: string | undefined;
  ask: string | undefined;
}

export class MarketDataService {
  readonly #byId = new Map<string, Tracked>();
  readonly #bySymbol = new Map<string, Tracked>();
  readonly #quotes: ((symbol: string) => Quotes | undefined) | undefined;
  readonly #retention: Readonly<Record<CandleInterval, number>>;
  readonly #closeGraceMs: number;

  constructor(options: MarketDataOptions = {}) {
    this.#quotes = options.quotes;
    const retention = { ...DEFAULT_RETENTION_MS, ...options.retentionMs };
    retention['1m'] = Math.max(retention['1m'], DAY_MS + 60_000);
    this.#retention = retention;
    this.#closeGraceMs = options.closeGraceMs ?? 2_000;
  }

  /**
   * How far back before `now` loadMarketData must read per interval: the retention, and an hour
   * more for the timer's grace and the interval rounding (the series trims the surplus).
   */
  get horizonMs(): Readonly<Record<CandleInterval, number>> {
    const r = this.#retention;
    return { '1m': r['1m'] + HOUR_MS, '5m': r['5m'] + HOUR_MS, '1h': r['1h'] + HOUR_MS };
  }

  /** Follows a market from its stored candles and the trades after them (nothing is pushed). */
  addMarket(listed: ListedMarket, initial: MarketDataInitial = {}): void {
    const { id, symbol } = listed.definition;
    if (this.#byId.has(id) || this.#bySymbol.has(symbol)) {
      throw new Error(`market data: market ${symbol} is already followed`);
    }
    const series = CANDLE_INTERVALS.map((interval) => new CandleSeries(interval, this.#retention[interval]));
    const stats = new RollingStats();
    const market: Tracked = {
      id,
      symbol,
      money: listed.money,
      series,
      byInterval: new Map(series.map((s) => [s.interval, s])),
      stats,
      candleTopics: CANDLE_INTERVALS.map((interval) => topics.candles(symbol, interval)),
      tickerTopic: topics.ticker(symbol),
      indexPrice: initial.indexPrice,
      statsDirty: false,
      bid: undefined,
      ask: undefined,
    };
    const stored = initial.stored;
    if (stored !== undefined) {
      for (const s of series) s.load(stored.candles[s.interval]);
      for (const minute of stored.candles['1m']) stats.addMinute(minute);
      for (const { price, qty, ts } of stored.trades) this.#trade(market, price, qty, ts);
      // The replay is not news: its closes and changes are not pushed (its candles are saved again).
      for (const s of series) {
        s.takeClosed();
        s.takeChanged();
      }
      market.statsDirty = stored.trades.length > 0;
    }
    if (initial.now !== undefined) {
      for (const s of series) s.tick(initial.now - this.#closeGraceMs);
      for (const s of series) {
        s.takeClosed();
        s.takeChanged();
      }
      if (stats.advance(initial.now)) market.statsDirty = true;
    }
    this.#byId.set(id, market);
    this.#bySymbol.set(symbol, market);
  }

  /**
   * The pushes a committed batch causes: per interval the candles it closed (`closed: true`), then
   * the open candle; then the ticker, when the batch traded or moved the quotes.
   */
  onBatch(batch: JournalBatch): MarketDataPublication[] {
    const market = this.#byId.get(batch.marketId);
    if (market === undefined) return [];
    let fills = 0;
    let levels = false;
    for (const entry of batch.entries) {
      const result = entry.result;
      if (!result.ok) continue;
      for (const event of result.events) {
        if (event.type === 'fill') {
          this.#trade(market, event.price, event.qty, entry.ts);
          fills++;
        } else if (event.type === 'level') {
          levels = true;
        }
      }
    }
    if (fills === 0 && !levels) return [];
    const out: MarketDataPublication[] = [];
    if (fills > 0) this.#candlePushes(market, out);
    this.#tickerPush(market, fills > 0, out);
    return out;
  }

  /**
   * The timer (call it about once a second): closes candles whose interval ended `closeGraceMs`
   * before `now` and opens the next one flat, and moves the 24h window, pushing what changed.
   */
  tick(now: number): MarketDataPublication[] {
    const out: MarketDataPublication[] = [];
    for (const market of this.#byId.values()) {
      for (const s of market.series) s.tick(now - this.#closeGraceMs);
      this.#candlePushes(market, out);
      if (market.stats.advance(now)) {
        market.statsDirty = true;
        this.#tickerPush(market, true, out);
      }
    }
    return out;
  }

  /** Sets a market's external reference price (id or symbol); pushes the ticker when it changed. */
  setIndexPrice(market: string, price: string): MarketDataPublication[] {
    const tracked = this.#market(market);
    if (tracked === undefined || tracked.indexPrice === price) return [];
    tracked.indexPrice = price;
    const out: MarketDataPublication[] = [];
    this.#tickerPush(tracked, true, out);
    return out;
  }

  /** The `ticker` snapshot (id or symbol), undefined for an unknown market. */
  tickerSnapshot(market: string): TickerPush | undefined {
    const tracked = this.#market(market);
    if (tracked === undefined) return undefined;
    const quotes = this.#quotes?.(tracked.symbol);
    return this.#ticker(tracked, quotes?.bid, quotes?.ask);
  }

  /** The open candle as a push; undefined for an unknown market or interval, or before any trade. */
  candleSnapshot(market: string, interval: string): CandleMessage | undefined {
    const tracked = this.#market(market);
    const series = tracked?.byInterval.get(interval);
    const candle = series?.current();
    if (tracked === undefined || series === undefined || candle === undefined) return undefined;
    return candleMessage(tracked, series.interval, candle, false);
  }

  /**
   * Candles for `GET /markets/:id/candles`, oldest first, without gaps, each `closed` unless it is
   * the open one; undefined for an unknown market or interval. `from`/`to` are open times (ms,
   * rounded down to the interval): with `from`, the first `limit` candles from it; otherwise the
   * last `limit` up to `to` (default: the interval of `now`, else the open one). `limit` is capped
   * at CANDLE_READ_LIMIT.max.
   */
  candles(
    market: string,
    interval: string,
    from?: number,
    to?: number,
    limit: number = CANDLE_READ_LIMIT.default,
    now?: number,
  ): CandleView[] | undefined {
    const tracked = this.#market(market);
    const series = tracked?.byInterval.get(interval);
    if (tracked === undefined || series === undefined) return undefined;
    const capped = Math.min(Math.max(0, Math.floor(limit)), CANDLE_READ_LIMIT.max);
    const candles = series.range({ from, to, limit: capped }, now);
    const open = series.current()?.t ?? Number.NEGATIVE_INFINITY;
    const openT = now === undefined ? open : Math.max(open, now - (now % series.intervalMs));
    return candles.map((candle) => candleView(tracked, series.interval, candle, candle.t < openT));
  }

  /** Candles and stats changed since the last call, for the store. */
  takeChanges(): MarketDataChanges {
    const candles: CandleRow[] = [];
    const stats: MarketStatsRow[] = [];
    for (const market of this.#byId.values()) {
      for (const s of market.series) {
        for (const candle of s.takeDirty())
          candles.push({ marketId: market.id, interval: s.interval, ...candle });
      }
      if (!market.statsDirty) continue;
      market.statsDirty = false;
      const view = market.stats.view();
      stats.push({
        marketId: market.id,
        last: view.last,
        high: view.high,
        low: view.low,
        volume: view.volume,
        reference: view.reference,
        change:
          view.last === undefined || view.reference === undefined ? undefined : view.last - view.reference,
        lastTradeTs: view.lastTradeTs,
      });
    }
    return { candles, stats };
  }

  /**
   * Saves changes every `intervalMs` with `save` (off the hot path). A failed save is reported and
   * its rows are written again with the next one (newer values of the same rows win).
   */
  persist(
    save: (changes: MarketDataChanges) => Promise<void>,
    options: { readonly intervalMs: number; readonly onError?: (error: unknown) => void },
  ): MarketDataPersistence {
    return persistChanges(() => this.takeChanges(), save, options);
  }

  #market(idOrSymbol: string): Tracked | undefined {
    return this.#bySymbol.get(idOrSymbol) ?? this.#byId.get(idOrSymbol);
  }

  #trade(market: Tracked, price: number, qty: number, ts: number): void {
    const series = market.series;
    for (let i = 0; i < series.length; i++) series[i]!.trade(price, qty, ts);
    market.stats.trade(price, qty, ts);
    market.statsDirty = true;
  }

  #candlePushes(market: Tracked, out: MarketDataPublication[]): void {
    const series = market.series;
    for (let i = 0; i < series.length; i++) {
      const s = series[i]!;
      const topic = market.candleTopics[i]!;
      for (const candle of s.takeClosed()) {
        out.push({ topic, message: candleMessage(market, s.interval, candle, true) });
      }
      if (!s.takeChanged()) continue;
      const current = s.current();
      if (current !== undefined)
        out.push({ topic, message: candleMessage(market, s.interval, current, false) });
    }
  }

  /** Pushes the ticker when `changed`, or when the quotes moved since the last one pushed. */
  #tickerPush(market: Tracked, changed: boolean, out: MarketDataPublication[]): void {
    const quotes = this.#quotes?.(market.symbol);
    const bid = quotes?.bid;
    const ask = quotes?.ask;
    if (!changed && bid === market.bid && ask === market.ask) return;
    market.bid = bid;
    market.ask = ask;
    out.push({ topic: market.tickerTopic, message: this.#ticker(market, bid, ask) });
  }

  #ticker(market: Tracked, bid: string | undefined, ask: string | undefined): TickerPush {
    const { money } = market;
    const { last, high, low, volume, reference } = market.stats.view();
    const change = last === undefined || reference === undefined ? undefined : last - reference;
    return {
      op: 'ticker',
      market: market.symbol,
      ...(last === undefined ? {} : { last: money.formatPrice(last) }),
      ...(bid === undefined ? {} : { bid }),
      ...(ask === undefined ? {} : { ask }),
      ...(high === undefined ? {} : { high24h: money.formatPrice(high) }),
      ...(low === undefined ? {} : { low24h: money.formatPrice(low) }),
      volume24h: formatLots(money, volume),
      ...(change === undefined ? {} : { change24h: money.formatPrice(change) }),
      ...(change === undefined || reference === undefined
        ? {}
        : { changePct24h: percent(change, reference) }),
      ...(market.indexPrice === undefined ? {} : { indexPrice: market.indexPrice }),
    };
  }
}

export type { TradeTick };

import type { Logger } from 'pino';
import type { LifecycleActor } from '../../machines/marketLifecycle.ts';
import type { Asset, Catalog, ListedMarket } from '../actors/catalog.ts';
import { createMarketMoney, MarketSpecError, type MarketMoney } from '../actors/money.ts';
import { errorText, failure, success, type Outcome } from '../protocol/errors.ts';
import type { MarketBody } from '../protocol/schemas.ts';
import type { Principal } from '../services/principal.ts';
import {
  checkTerms,
  defaultTerms,
  SCORE_SCALE,
  SENTIMENT_SCALE,
  trendPrice,
  VELOCITY_SCALE,
  type PricingTerms,
  type ScaledMetrics,
} from './pricing.ts';
import type {
  SimulationQuery,
  TrendAccepted,
  TrendBody,
  TrendMarketBody,
  TrendMarketView,
} from './schemas.ts';
import { countTrendUpdate } from './metrics.ts';
import type { SignalDetector, SignalJournal } from './signals.ts';
import { simulatePriceMovement, type Simulation } from './simulation.ts';
import { fnv1a, SymbolRegistry, type RegisteredTopic } from './symbols.ts';
import type { MetricsRow, TrendMarketRow } from './trendStore.ts';
import type { z } from 'zod/v4';

/*
 * The trend markets service (PROTOCOL v1.1, Trend markets; docs/trends.md): ingestion of metrics
 * (POST /trends and the pulling job), the listing of a trend symbol as a market, the index price
 * the pricing engine gives on every update (streamed as the ticker's `indexPrice`), the signals,
 * and the reads (GET /market/:symbol, the simulation). State in memory is what the tables hold
 * (loaded at start); every metrics row is stored before its price goes out.
 */

/** What the service stores (TrendStore, src/trends/trendStore.ts). */
export interface TrendStorePort {
  loadTopics(): Promise<RegisteredTopic[]>;
  insertTopic(topic: RegisteredTopic, category: string | undefined): Promise<void>;
  loadMarkets(): Promise<TrendMarketRow[]>;
  insertMarket(row: TrendMarketRow): Promise<void>;
  latestMetrics(): Promise<MetricsRow[]>;
  metricsBetween(symbol: string, from: number, to: number, limit: number): Promise<MetricsRow[]>;
  priceAt(symbol: string, at: number): Promise<number | undefined>;
  insertMetrics(row: MetricsRow): Promise<void>;
}

export interface TrendServiceOptions {
  readonly store: TrendStorePort;
  readonly catalog: Catalog;
  /** Admin.createAsset and Admin.listMarket: a trend market is listed like any other. */
  readonly createAsset: (asset: Asset) => Promise<Outcome<Asset>>;
  readonly listMarket: (body: MarketBody, actor: LifecycleActor) => Promise<Outcome<ListedMarket>>;
  /** Sets a market's ticker `indexPrice` (a decimal with its price decimals) and pushes the ticker. */
  readonly setIndexPrice: (marketId: string, price: string) => void;
  /** The market's 24h traded volume (the ticker's volume24h), for GET /market/:symbol. */
  readonly volume24h: (marketId: string) => string | undefined;
  readonly detector: SignalDetector;
  readonly signals: SignalJournal;
  /** Per token subject: false refuses the update (`rate_limited`). */
  readonly allow: (subject: string) => boolean;
  readonly log: Logger;
  readonly clock?: () => number;
}

interface TrendMarket {
  readonly row: TrendMarketRow;
  readonly listed: ListedMarket;
  readonly terms: PricingTerms;
  priceTicks: number;
}

interface TrendState {
  readonly topic: RegisteredTopic;
  latest: MetricsRow | undefined;
  market: TrendMarket | undefined;
}

/** The metrics of a request as the engine's integers (rounded to the nearest unit of each scale). */
export function scaleMetrics(metrics: TrendBody['metrics']): ScaledMetrics & {
  readonly engagementBp: number | undefined;
} {
  return {
    scoreCenti: Math.round(metrics.viralityScore * SCORE_SCALE),
    velocityCenti: Math.round(metrics.velocity * VELOCITY_SCALE),
    sentimentBp: Math.round(metrics.sentiment * SENTIMENT_SCALE),
    engagementBp:
      metrics.engagementRate === undefined ? undefined : Math.round(metrics.engagementRate * 10_000),
  };
}

/** The base asset of a trend market by default: the symbol's letters and digits, hashed past 16. */
export function defaultBaseAsset(symbol: string): string {
  const compact = symbol.replace(/^VIRAL\//, '').replace(/_/g, '');
  if (compact.length <= 16) return compact;
  return compact.slice(0, 11) + fnv1a(symbol).toString(36).toUpperCase().padStart(7, '0').slice(-5);
}

const DAY_MS = 24 * 3_600_000;
/** Most metrics rows a simulation reads. */
const SIMULATION_ROWS = 10_000;

export class TrendService {
  readonly #registry: SymbolRegistry;
  readonly #states = new Map<string, TrendState>();
  readonly #byMarket = new Map<string, TrendState>();
  readonly #clock: () => number;
  /** Topic creation one at a time: two new topics of one stem must get two numbers. */
  #creating: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly options: TrendServiceOptions,
    topics: readonly RegisteredTopic[],
  ) {
    this.#clock = options.clock ?? Date.now;
    this.#registry = new SymbolRegistry(topics);
    for (const topic of topics)
      this.#states.set(topic.symbol, { topic, latest: undefined, market: undefined });
  }

  /** Loads the topics, markets and latest metrics, and sets each trend market's index price. */
  static async start(options: TrendServiceOptions): Promise<TrendService> {
    const { store } = options;
    const service = new TrendService(options, await store.loadTopics());
    for (const row of await store.latestMetrics()) {
      const state = service.#states.get(row.symbol);
      if (state === undefined) continue;
      state.latest = row;
      options.detector.seed(row.symbol, row.scoreCenti);
    }
    for (const row of await store.loadMarkets()) {
      const state = service.#states.get(row.symbol);
      const listed = options.catalog.market(row.marketId);
      if (state === undefined || listed === undefined) {
        options.log.warn(
          { symbol: row.symbol, marketId: row.marketId },
          'trend market without its topic or market',
        );
        continue;
      }
      service.#attach(state, row, listed);
    }
    return service;
  }

  #attach(state: TrendState, row: TrendMarketRow, listed: ListedMarket): void {
    const terms: PricingTerms = {
      baseTicks: row.baseTicks,
      pointTicks: row.pointTicks,
      floorTicks: row.floorTicks,
      baselineCenti: row.baselineCenti,
    };
    const priceTicks = state.latest === undefined ? terms.baseTicks : trendPrice(terms, state.latest);
    state.market = { row, listed, terms, priceTicks };
    this.#byMarket.set(row.marketId, state);
    this.options.setIndexPrice(row.marketId, listed.money.formatPrice(priceTicks));
  }

  /** The symbol a topic has (or would get next), without storing anything. */
  symbolFor(topic: string, region: string, category?: string): string {
    return this.#registry.assign(topic, region, category).symbol;
  }

  /** One metrics update: stored, then priced and streamed; signals journaled. */
  async ingest(
    principal: Principal,
    body: TrendBody,
    source = 'http',
    limited = true,
  ): Promise<Outcome<TrendAccepted>> {
    if (limited && !this.options.allow(principal.userId)) {
      return failure('rate_limited', 'too many trend updates for this token; slow down');
    }
    const now = this.#clock();
    const ts = body.ts ?? now;
    // A known topic (every update after its first) is found without waiting on anything.
    const known = this.#known(body);
    const topic = known === undefined ? await this.#topic(body) : { ...success(known), created: false };
    if (!topic.ok) return topic;
    const state = topic.value;
    const scaled = scaleMetrics(body.metrics);
    const market = state.market;
    const priceTicks = market === undefined ? undefined : trendPrice(market.terms, scaled);
    const row: MetricsRow = {
      symbol: state.topic.symbol,
      ts,
      ...scaled,
      volume: body.metrics.volume,
      source,
      indexPriceTicks: priceTicks,
    };
    try {
      await this.options.store.insertMetrics(row);
    } catch (error) {
      return failure('unavailable', `the metrics were not stored: ${errorText(error)}`);
    }
    countTrendUpdate(source.startsWith('pull:') ? source.slice(5) : 'http');
    // An update older than the latest is history: stored, but it moves no price.
    const newest = state.latest === undefined || ts >= state.latest.ts;
    if (newest) {
      state.latest = row;
      if (market !== undefined && priceTicks !== undefined) {
        market.priceTicks = priceTicks;
        this.options.setIndexPrice(market.row.marketId, market.listed.money.formatPrice(priceTicks));
      }
      const signals = this.options.detector.observe({
        symbol: state.topic.symbol,
        topic: state.topic.topic,
        marketId: market?.row.marketId,
        scoreCenti: scaled.scoreCenti,
        sentimentBp: scaled.sentimentBp,
        velocityCenti: scaled.velocityCenti,
        priceTicks,
      });
      if (signals.length > 0) {
        await this.options.signals.record(signals, ts).catch((error: unknown) => {
          this.options.log.error(
            { err: error, symbol: state.topic.symbol, signals },
            'trend signals not journaled',
          );
        });
      }
    }
    return success({
      symbol: state.topic.symbol,
      topic: state.topic.topic,
      region: state.topic.region,
      created: topic.created === true,
      ts,
      viralityScore: scaled.scoreCenti / SCORE_SCALE,
      sentiment: scaled.sentimentBp / SENTIMENT_SCALE,
      velocity: scaled.velocityCenti / VELOCITY_SCALE,
      ...(market === undefined || priceTicks === undefined
        ? {}
        : {
            marketId: market.row.marketId,
            market: market.listed.definition.symbol,
            indexPrice: market.listed.money.formatPrice(priceTicks),
          }),
    });
  }

  /** The state of a topic that has its symbol already, else undefined. */
  #known(body: TrendBody): TrendState | undefined {
    const assigned = this.#registry.known(body.topic, body.region);
    return assigned === undefined ? undefined : this.#states.get(assigned.symbol);
  }

  /** The topic's state, its symbol given (and stored) first when it is new. */
  async #topic(body: TrendBody): Promise<Outcome<TrendState> & { created?: boolean }> {
    const assigned = this.#registry.assign(body.topic, body.region, body.category);
    const known = this.#states.get(assigned.symbol);
    if (!assigned.created && known !== undefined) return { ...success(known), created: false };
    const run = this.#creating.then(async (): Promise<Outcome<TrendState> & { created?: boolean }> => {
      // Again, in turn: an earlier creation may have given this topic (or its number) meanwhile.
      const again = this.#registry.assign(body.topic, body.region, body.category);
      const existing = this.#states.get(again.symbol);
      if (!again.created && existing !== undefined) return { ...success(existing), created: false };
      const topic: RegisteredTopic = {
        key: again.key,
        topic: body.topic,
        region: again.region,
        stem: again.stem,
        number: again.number,
        symbol: again.symbol,
      };
      try {
        await this.options.store.insertTopic(topic, body.category);
      } catch (error) {
        return failure('unavailable', `the topic was not stored: ${errorText(error)}`);
      }
      this.#registry.add(topic);
      const state: TrendState = { topic, latest: undefined, market: undefined };
      this.#states.set(topic.symbol, state);
      return { ...success(state), created: true };
    });
    this.#creating = run.catch(() => undefined);
    return run;
  }

  /** Lists a trend symbol as a market (admin): the base asset and market like any other, then its terms. */
  async listMarket(principal: Principal, body: TrendMarketBody): Promise<Outcome<TrendMarketListing>> {
    const state = this.#states.get(body.symbol);
    if (state === undefined)
      return failure('not_found', `no trend ${body.symbol}: POST /trends names it first`);
    if (state.market !== undefined)
      return failure(
        'conflict',
        `${body.symbol} is listed already as ${state.market.listed.definition.symbol}`,
      );
    let money: MarketMoney;
    try {
      money = createMarketMoney({ ...body, maxQty: body.maxQty ?? body.minQty });
    } catch (error) {
      if (error instanceof MarketSpecError) return failure('bad_request', error.message);
      throw error;
    }
    const base = money.parsePrice(body.basePrice, 'basePrice');
    if (!base.ok) return failure('bad_request', base.message);
    const baselineCenti =
      body.baselineScore === undefined
        ? (state.latest?.scoreCenti ?? 0)
        : Math.round(body.baselineScore * SCORE_SCALE);
    const defaults = defaultTerms(base.value, baselineCenti);
    const point = body.pointValue === undefined ? undefined : money.parsePrice(body.pointValue, 'pointValue');
    if (point !== undefined && !point.ok) return failure('bad_request', point.message);
    const floor = body.floorPrice === undefined ? undefined : money.parsePrice(body.floorPrice, 'floorPrice');
    if (floor !== undefined && !floor.ok) return failure('bad_request', floor.message);
    const terms: PricingTerms = {
      ...defaults,
      pointTicks: point?.value ?? defaults.pointTicks,
      floorTicks: floor?.value ?? defaults.floorTicks,
    };
    try {
      checkTerms(terms);
    } catch (error) {
      return failure('bad_request', errorText(error));
    }
    const baseAsset = body.baseAsset ?? defaultBaseAsset(body.symbol);
    if (this.options.catalog.asset(baseAsset) === undefined) {
      const created = await this.options.createAsset({
        symbol: baseAsset,
        decimals: body.qtyDecimals,
        kind: 'crypto',
      });
      if (!created.ok) return created;
    }
    const listed = await this.options.listMarket(
      {
        symbol: `${baseAsset}-${body.quoteAsset}`,
        baseAsset,
        quoteAsset: body.quoteAsset,
        priceDecimals: body.priceDecimals,
        qtyDecimals: body.qtyDecimals,
        tickSize: body.tickSize,
        lotSize: body.lotSize,
        minQty: body.minQty,
        maxQty: body.maxQty,
        minNotional: body.minNotional,
        makerFeeBps: body.makerFeeBps,
        takerFeeBps: body.takerFeeBps,
      },
      { id: principal.userId, type: 'admin' },
    );
    if (!listed.ok) return listed;
    const row: TrendMarketRow = {
      symbol: body.symbol,
      marketId: listed.value.definition.id,
      ...terms,
      listedBy: principal.userId,
    };
    try {
      await this.options.store.insertMarket(row);
    } catch (error) {
      return failure(
        'unavailable',
        `the market ${listed.value.definition.symbol} is listed, its trend terms not stored: ${errorText(error)}`,
      );
    }
    this.#attach(state, row, listed.value);
    return success(this.#listing(state));
  }

  #listing(state: TrendState): TrendMarketListing {
    const market = state.market!;
    const { money } = market.listed;
    return {
      symbol: state.topic.symbol,
      marketId: market.row.marketId,
      market: market.listed.definition.symbol,
      basePrice: money.formatPrice(market.terms.baseTicks),
      pointValue: money.formatPrice(market.terms.pointTicks),
      floorPrice: money.formatPrice(market.terms.floorTicks),
      baselineScore: market.terms.baselineCenti / SCORE_SCALE,
      indexPrice: money.formatPrice(market.priceTicks),
      viralityScore: (state.latest?.scoreCenti ?? market.terms.baselineCenti) / SCORE_SCALE,
      sentiment: (state.latest?.sentimentBp ?? 0) / SENTIMENT_SCALE,
    };
  }

  /** Every trend with a market (the dashboard's list). */
  markets(): TrendMarketListing[] {
    return [...this.#byMarket.values()].map((s) => this.#listing(s));
  }

  /** GET /market/:symbol (PROTOCOL v1.1): undefined for a symbol without a market. */
  async view(symbol: string): Promise<TrendMarketView | undefined> {
    const state = this.#states.get(symbol) ?? this.#byMarket.get(symbol);
    const market = state?.market;
    if (state === undefined || market === undefined) return undefined;
    const { money } = market.listed;
    const now = this.#clock();
    const dayAgo =
      (await this.options.store.priceAt(state.topic.symbol, now - DAY_MS)) ?? market.terms.baseTicks;
    const change = market.priceTicks - dayAgo;
    return {
      symbol: state.topic.symbol,
      name: state.topic.topic,
      currentPrice: money.formatPrice(market.priceTicks),
      priceChange: money.formatPrice(change),
      priceChangePercent: Math.round((change * 10_000) / dayAgo) / 100,
      volume: this.options.volume24h(market.row.marketId) ?? money.formatQty(0),
      viralityScore: (state.latest?.scoreCenti ?? market.terms.baselineCenti) / SCORE_SCALE,
      sentiment: (state.latest?.sentimentBp ?? 0) / SENTIMENT_SCALE,
      lastUpdated: state.latest?.ts ?? now,
    };
  }

  /** simulatePriceMovement over the recorded metrics of a window (undefined without a market). */
  async simulate(symbol: string, window: z.infer<typeof SimulationQuery>): Promise<Simulation | undefined> {
    const state = this.#states.get(symbol);
    const market = state?.market;
    if (state === undefined || market === undefined) return undefined;
    const recorded = await this.options.store.metricsBetween(symbol, window.from, window.to, SIMULATION_ROWS);
    return simulatePriceMovement(symbol, window, recorded, market.terms);
  }

  /** The trend market of a market id (the dashboard shows score and sentiment beside the price). */
  trendOf(
    marketId: string,
  ): { readonly symbol: string; readonly viralityScore: number; readonly sentiment: number } | undefined {
    const state = this.#byMarket.get(marketId);
    if (state === undefined) return undefined;
    return {
      symbol: state.topic.symbol,
      viralityScore: (state.latest?.scoreCenti ?? 0) / SCORE_SCALE,
      sentiment: (state.latest?.sentimentBp ?? 0) / SENTIMENT_SCALE,
    };
  }
}

export interface TrendMarketListing {
  readonly symbol: string;
  readonly marketId: string;
  readonly market: string;
  readonly basePrice: string;
  readonly pointValue: string;
  readonly floorPrice: string;
  readonly baselineScore: number;
  readonly indexPrice: string;
  /** The latest update's score (0..100) and sentiment (−1..1). */
  readonly viralityScore: number;
  readonly sentiment: number;
}

import { sql, type CommonQueryMethods, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { TRENDS_JOURNAL_ID } from '../actors/market/types.ts';
import {
  ensureMonthlyPartitions,
  monthStart,
  type MonthlyPartitioned,
} from '../persistence/monthlyPartitions.ts';
import type { RegisteredTopic } from './symbols.ts';

/** trend_metrics' monthly partitions, named trend_metrics_yYYYYmMM since migration 1763800000120. */
const TREND_METRICS: MonthlyPartitioned = {
  table: 'trend_metrics',
  prefix: 'trend_metrics_y',
  name: (month) =>
    `trend_metrics_y${month.getUTCFullYear()}m${String(month.getUTCMonth() + 1).padStart(2, '0')}`,
};

/*
 * The trend tables (migration 1763800000120_trends.sql). Metrics rows are written in groups: each
 * `insertMetrics` call waits for the multi-row INSERT holding its row (at most `maxInFlight`, 2,
 * at once, the next group gathering meanwhile; answers in the groups' order), so an ingestion
 * answers only once its row is durable and a burst of updates costs one round trip per group
 * instead of one per update. Each month's partition is created before its first row.
 */

export interface MetricsRow {
  readonly symbol: string;
  readonly ts: number;
  readonly scoreCenti: number;
  readonly sentimentBp: number;
  readonly velocityCenti: number;
  readonly engagementBp: number | undefined;
  readonly volume: number | undefined;
  readonly source: string;
  readonly indexPriceTicks: number | undefined;
}

export interface TrendMarketRow {
  readonly symbol: string;
  readonly marketId: string;
  readonly baseTicks: number;
  readonly pointTicks: number;
  readonly floorTicks: number;
  readonly baselineCenti: number;
  readonly listedBy: string;
}

const TopicRecord = z.object({
  topic_key: z.string(),
  topic: z.string(),
  region: z.string(),
  stem: z.string(),
  number: z.number(),
  symbol: z.string(),
});
const MarketRecord = z.object({
  symbol: z.string(),
  market_id: z.string(),
  base_ticks: z.string(),
  point_ticks: z.string(),
  floor_ticks: z.string(),
  baseline_centi: z.number(),
  listed_by: z.string(),
});
const MetricsRecord = z.object({
  symbol: z.string(),
  ts: z.string(),
  virality_centi: z.number(),
  sentiment_bp: z.number(),
  velocity_centi: z.number(),
  engagement_bp: z.number().nullable(),
  volume: z.string().nullable(),
  source: z.string(),
  index_price_ticks: z.string().nullable(),
});
type MetricsRecord = z.infer<typeof MetricsRecord>;
const PriceRecord = z.object({ index_price_ticks: z.string().nullable() });
const SeqRecord = z.object({ seq: z.string() });

function int(text: string, what: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value)) throw new RangeError(`${what} ${text} is not a safe integer`);
  return value;
}

function metricsOf(r: MetricsRecord): MetricsRow {
  return {
    symbol: r.symbol,
    ts: int(r.ts, 'ts'),
    scoreCenti: r.virality_centi,
    sentimentBp: r.sentiment_bp,
    velocityCenti: r.velocity_centi,
    engagementBp: r.engagement_bp ?? undefined,
    volume: r.volume === null ? undefined : int(r.volume, 'volume'),
    source: r.source,
    indexPriceTicks: r.index_price_ticks === null ? undefined : int(r.index_price_ticks, 'index price'),
  };
}

const METRICS_COLUMNS = sql.fragment`symbol, (extract(epoch FROM ts) * 1000)::int8::text AS ts, virality_centi,
  sentiment_bp, velocity_centi, engagement_bp, volume::text AS volume, source,
  index_price_ticks::text AS index_price_ticks`;

interface Queued {
  readonly row: MetricsRow;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

export class TrendStore {
  readonly #pool: DatabasePool;
  readonly #partitions = new Set<number>();
  readonly #maxGroup: number;
  readonly #maxInFlight: number;
  #queue: Queued[] = [];
  #inFlight = 0;
  #scheduled = false;
  /** The answers of the last group written, given: the next group's are given after them. */
  #delivered: Promise<void> = Promise.resolve();

  constructor(
    pool: DatabasePool,
    options: { readonly maxGroup?: number; readonly maxInFlight?: number } = {},
  ) {
    this.#pool = pool;
    this.#maxGroup = options.maxGroup ?? 1_000;
    this.#maxInFlight = options.maxInFlight ?? 2;
  }

  async loadTopics(): Promise<RegisteredTopic[]> {
    const rows = await this.#pool.any(sql.type(TopicRecord)`
      SELECT topic_key, topic, region, stem, number, symbol FROM trend_topics ORDER BY created_at, number`);
    return rows.map((r) => ({ ...r, key: r.topic_key }));
  }

  async insertTopic(topic: RegisteredTopic, category: string | undefined): Promise<void> {
    await this.#pool.query(sql.unsafe`
      INSERT INTO trend_topics (topic_key, topic, region, stem, number, symbol, category)
      VALUES (${topic.key}, ${topic.topic}, ${topic.region}, ${topic.stem}, ${topic.number}, ${topic.symbol},
        ${category ?? null})`);
  }

  async loadMarkets(): Promise<TrendMarketRow[]> {
    const rows = await this.#pool.any(sql.type(MarketRecord)`
      SELECT symbol, market_id, base_ticks::text AS base_ticks, point_ticks::text AS point_ticks,
        floor_ticks::text AS floor_ticks, baseline_centi, listed_by
      FROM trend_markets`);
    return rows.map((r) => ({
      symbol: r.symbol,
      marketId: r.market_id,
      baseTicks: int(r.base_ticks, 'base'),
      pointTicks: int(r.point_ticks, 'point'),
      floorTicks: int(r.floor_ticks, 'floor'),
      baselineCenti: r.baseline_centi,
      listedBy: r.listed_by,
    }));
  }

  async insertMarket(row: TrendMarketRow): Promise<void> {
    await this.#pool.query(sql.unsafe`
      INSERT INTO trend_markets (symbol, market_id, base_ticks, point_ticks, floor_ticks, baseline_centi, listed_by)
      VALUES (${row.symbol}, ${row.marketId}, ${row.baseTicks}, ${row.pointTicks}, ${row.floorTicks},
        ${row.baselineCenti}, ${row.listedBy})`);
  }

  /** The latest metrics of every symbol that has any. */
  async latestMetrics(): Promise<MetricsRow[]> {
    const rows = await this.#pool.any(sql.type(MetricsRecord)`
      SELECT DISTINCT ON (symbol) ${METRICS_COLUMNS}
      FROM trend_metrics ORDER BY symbol, ts DESC, received_at DESC`);
    return rows.map(metricsOf);
  }

  /** A symbol's metrics in [from, to], oldest first, at most `limit`. */
  async metricsBetween(symbol: string, from: number, to: number, limit: number): Promise<MetricsRow[]> {
    const rows = await this.#pool.any(sql.type(MetricsRecord)`
      SELECT ${METRICS_COLUMNS} FROM trend_metrics
      WHERE symbol = ${symbol} AND ts >= ${iso(from)}::timestamptz AND ts <= ${iso(to)}::timestamptz
      ORDER BY ts, received_at LIMIT ${limit}`);
    return rows.map(metricsOf);
  }

  /** The last index price at or before `at` (the 24h change's reference), if any. */
  async priceAt(symbol: string, at: number): Promise<number | undefined> {
    const row = await this.#pool.maybeOne(sql.type(PriceRecord)`
      SELECT index_price_ticks::text AS index_price_ticks FROM trend_metrics
      WHERE symbol = ${symbol} AND ts <= ${iso(at)}::timestamptz AND index_price_ticks IS NOT NULL
      ORDER BY ts DESC, received_at DESC LIMIT 1`);
    return row?.index_price_ticks == null ? undefined : int(row.index_price_ticks, 'index price');
  }

  /** The last seq of the `@trends` journal records (signals continue it). */
  async lastSignalSeq(): Promise<number> {
    const row = await this.#pool.one(sql.type(SeqRecord)`
      SELECT coalesce(max(seq_to), 0)::text AS seq FROM journal WHERE market_id = ${TRENDS_JOURNAL_ID}`);
    return int(row.seq, 'seq');
  }

  /**
   * Resolves once the row is committed (in a group with whatever else was queued). Up to
   * `maxInFlight` groups are written at once (each its own INSERT and commit, on its own pooled
   * connection), so the rate is not one group per round trip; their answers are given in the
   * order the groups were formed, whichever commits first, so the updates' effects (the latest
   * metrics, the index price pushed) follow the order of ingestion as with one group at a time.
   */
  insertMetrics(row: MetricsRow): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ row, resolve, reject });
      this.#schedule();
    });
  }

  /** Starts the next groups after this turn of the event loop (the requests it read join them). */
  #schedule(): void {
    if (this.#scheduled || this.#inFlight >= this.#maxInFlight || this.#queue.length === 0) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.#start();
    });
  }

  #start(): void {
    while (this.#inFlight < this.#maxInFlight && this.#queue.length > 0) {
      const group = this.#queue.splice(0, this.#maxGroup);
      this.#inFlight++;
      const written = this.#write(group.map((q) => q.row)).then(
        () => undefined,
        (error: unknown) => (error instanceof Error ? error : new Error(String(error))),
      );
      const previous = this.#delivered;
      this.#delivered = written.then(async (failure) => {
        await previous;
        for (const q of group) {
          if (failure === undefined) q.resolve();
          else q.reject(failure);
        }
      });
      void written.then(() => {
        this.#inFlight--;
        this.#schedule();
      });
    }
  }

  async #write(rows: readonly MetricsRow[]): Promise<void> {
    await this.#ensurePartitions(
      this.#pool,
      rows.map((row) => row.ts),
    );
    const column = <T>(f: (r: MetricsRow) => T) => rows.map(f);
    await this.#pool.query(sql.unsafe`
      INSERT INTO trend_metrics (symbol, ts, virality_centi, sentiment_bp, velocity_centi, engagement_bp,
        volume, source, index_price_ticks)
      SELECT * FROM unnest(
        ${sql.array(
          column((r) => r.symbol),
          'text',
        )},
        ${sql.array(
          column((r) => iso(r.ts)),
          'timestamptz',
        )},
        ${sql.array(
          column((r) => r.scoreCenti),
          'int4',
        )},
        ${sql.array(
          column((r) => r.sentimentBp),
          'int4',
        )},
        ${sql.array(
          column((r) => r.velocityCenti),
          'int4',
        )},
        ${sql.array(
          column((r) => r.engagementBp ?? null),
          'int4',
        )},
        ${sql.array(
          column((r) => (r.volume === undefined ? null : String(r.volume))),
          'int8',
        )},
        ${sql.array(
          column((r) => r.source),
          'text',
        )},
        ${sql.array(
          column((r) => (r.indexPriceTicks === undefined ? null : String(r.indexPriceTicks))),
          'int8',
        )}
      )`);
  }

  /** The months' partitions of trend_metrics, created the first time a row of that month comes. */
  async #ensurePartitions(db: CommonQueryMethods, times: readonly number[]): Promise<void> {
    const months = [...new Set(times.map((t) => monthStart(t).getTime()))].filter(
      (m) => !this.#partitions.has(m),
    );
    if (months.length === 0) return;
    await ensureMonthlyPartitions(db, TREND_METRICS, months);
    for (const m of months) this.#partitions.add(m);
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

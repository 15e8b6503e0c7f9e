import { sql, type CommonQueryMethods, type DatabasePool } from 'slonik';
import { z } from 'zod';
import type { CandleInterval } from '../protocol/messages.ts';
import type { Candle } from '../marketdata/candles.ts';

/*
 * The market-data tables (migration 1763800000060_marketdata.sql): candles and 24h stats written
 * from memory in batches, read back at start together with the trades projection after them, and
 * the reference prices of the fetch-external-prices job. Prices are ticks and quantities lots, read
 * as text (int8 can pass 2^53 in principle; a value that does is refused, never rounded).
 */

export interface CandleRow extends Candle {
  readonly marketId: string;
  readonly interval: CandleInterval;
}

/** The 24h figures of a market as saved (ticks, lots, epoch ms); undefined before any trade. */
export interface MarketStatsRow {
  readonly marketId: string;
  readonly last: number | undefined;
  readonly high: number | undefined;
  readonly low: number | undefined;
  readonly volume: number;
  readonly reference: number | undefined;
  readonly change: number | undefined;
  readonly lastTradeTs: number | undefined;
}

export interface MarketDataChanges {
  readonly candles: readonly CandleRow[];
  readonly stats: readonly MarketStatsRow[];
}

/** A committed trade as the market data counts it. */
export interface TradeTick {
  readonly price: number;
  readonly qty: number;
  readonly ts: number;
}

/** What a market's series start from: stored candles, then the committed trades after them. */
export interface StoredMarketData {
  /** Per interval, oldest first. */
  readonly candles: Readonly<Record<CandleInterval, readonly Candle[]>>;
  /** Trades from the cut on (see loadMarketData), in commit order. */
  readonly trades: readonly TradeTick[];
}

export interface ReferencePriceRow {
  readonly marketId: string;
  /** Decimal string with the market's price decimals. */
  readonly price: string;
  readonly sourceKey: string;
  readonly fetchedAt: number;
}

const INTERVALS: readonly CandleInterval[] = ['1m', '5m', '1h'];

const CandleRecord = z.object({
  t: z.string(),
  o: z.string(),
  h: z.string(),
  l: z.string(),
  c: z.string(),
  v: z.string(),
});
const TradeRecord = z.object({ price: z.string(), qty: z.string(), ts: z.string() });
const ReferenceRecord = z.object({
  market_id: z.string(),
  price: z.string(),
  source_key: z.string(),
  fetched_at: z.string(),
});

function int(text: string, what: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value)) throw new Error(`market data: ${what} ${text} is not a safe integer`);
  return value;
}

const iso = (ms: number): string => new Date(ms).toISOString();
const text = (n: number | undefined): string | null => (n === undefined ? null : String(n));

/** Upserts changed candles and stats in one transaction (a retry writes the same rows again). */
export async function saveMarketData(pool: DatabasePool, changes: MarketDataChanges): Promise<void> {
  const { candles, stats } = changes;
  if (candles.length === 0 && stats.length === 0) return;
  await pool.transaction(async (tx) => {
    if (candles.length > 0) {
      const col = <T>(pick: (row: CandleRow) => T) => candles.map(pick);
      await tx.query(sql.unsafe`
        INSERT INTO price_candles (market_id, interval, open_time, open, high, low, close, volume)
        SELECT * FROM unnest(
          ${sql.array(
            col((r) => r.marketId),
            'text',
          )}, ${sql.array(
            col((r) => r.interval),
            'text',
          )},
          ${sql.array(
            col((r) => iso(r.t)),
            'timestamptz',
          )}, ${sql.array(
            col((r) => String(r.o)),
            'int8',
          )},
          ${sql.array(
            col((r) => String(r.h)),
            'int8',
          )}, ${sql.array(
            col((r) => String(r.l)),
            'int8',
          )},
          ${sql.array(
            col((r) => String(r.c)),
            'int8',
          )}, ${sql.array(
            col((r) => String(r.v)),
            'int8',
          )}
        )
        ON CONFLICT (market_id, interval, open_time) DO UPDATE SET
          open = EXCLUDED.open, high = EXCLUDED.high, low = EXCLUDED.low, close = EXCLUDED.close,
          volume = EXCLUDED.volume, updated_at = now()`);
    }
    if (stats.length > 0) {
      const col = <T>(pick: (row: MarketStatsRow) => T) => stats.map(pick);
      await tx.query(sql.unsafe`
        INSERT INTO market_stats (market_id, last_price, high_24h, low_24h, volume_24h, reference,
                                  change_24h, last_trade_at)
        SELECT * FROM unnest(
          ${sql.array(
            col((r) => r.marketId),
            'text',
          )}, ${sql.array(
            col((r) => text(r.last)),
            'int8',
          )},
          ${sql.array(
            col((r) => text(r.high)),
            'int8',
          )}, ${sql.array(
            col((r) => text(r.low)),
            'int8',
          )},
          ${sql.array(
            col((r) => String(r.volume)),
            'int8',
          )}, ${sql.array(
            col((r) => text(r.reference)),
            'int8',
          )},
          ${sql.array(
            col((r) => text(r.change)),
            'int8',
          )}, ${sql.array(
            col((r) => (r.lastTradeTs === undefined ? null : iso(r.lastTradeTs))),
            'timestamptz',
          )}
        )
        ON CONFLICT (market_id) DO UPDATE SET
          last_price = EXCLUDED.last_price, high_24h = EXCLUDED.high_24h, low_24h = EXCLUDED.low_24h,
          volume_24h = EXCLUDED.volume_24h, reference = EXCLUDED.reference,
          change_24h = EXCLUDED.change_24h, last_trade_at = EXCLUDED.last_trade_at, updated_at = now()`);
    }
  });
}

/**
 * A market's stored candles and the trades to replay on top of them. Per interval it reads the
 * candles opened in the last `horizonMs[interval]` before `now`, plus the newest older one (the
 * last close, and the price 24h ago, survive a quiet spell). Saves happen while trading goes on, so
 * the newest stored candles may miss trades: every candle opened at or after the cut (the oldest of
 * the intervals' newest open times, an hour boundary at the latest) is dropped and rebuilt from the
 * trades from the cut on. With no stored candles the whole trade history is replayed.
 *
 * Read once the projector has caught up with the journal (src/app/consumers.ts does, before the
 * gateway opens): trades the projection does not hold yet would be missing from the candles.
 */
export async function loadMarketData(
  pool: CommonQueryMethods,
  marketId: string,
  options: { readonly now: number; readonly horizonMs: Readonly<Record<CandleInterval, number>> },
): Promise<StoredMarketData> {
  const stored: Partial<Record<CandleInterval, Candle[]>> = {};
  let cut = Number.POSITIVE_INFINITY;
  for (const interval of INTERVALS) {
    const horizon = iso(options.now - options.horizonMs[interval]);
    const columns = sql.fragment`
      (extract(epoch FROM open_time) * 1000)::int8::text AS t, open::text AS o, high::text AS h,
      low::text AS l, close::text AS c, volume::text AS v`;
    const rows = await pool.any(sql.type(CandleRecord)`
      SELECT * FROM (
        (SELECT ${columns} FROM price_candles
         WHERE market_id = ${marketId} AND interval = ${interval} AND open_time < ${horizon}
         ORDER BY open_time DESC LIMIT 1)
        UNION ALL
        (SELECT ${columns} FROM price_candles
         WHERE market_id = ${marketId} AND interval = ${interval} AND open_time >= ${horizon})
      ) c ORDER BY t::int8`);
    const candles = rows.map((r) => ({
      t: int(r.t, 'open time'),
      o: int(r.o, 'open'),
      h: int(r.h, 'high'),
      l: int(r.l, 'low'),
      c: int(r.c, 'close'),
      v: int(r.v, 'volume'),
    }));
    stored[interval] = candles;
    const newest = candles[candles.length - 1];
    cut = Math.min(cut, newest === undefined ? Number.NEGATIVE_INFINITY : newest.t);
  }
  const since = cut === Number.NEGATIVE_INFINITY ? sql.fragment`` : sql.fragment`AND t.ts >= ${iso(cut)}`;
  const trades = await pool.any(sql.type(TradeRecord)`
    SELECT t.price::text AS price, t.qty::text AS qty, (extract(epoch FROM t.ts) * 1000)::int8::text AS ts
    FROM trades t, LATERAL (SELECT regexp_match(t.id, ':([0-9]+):([0-9]+)$') AS parts) m
    WHERE t.market_id = ${marketId} ${since}
    ORDER BY t.global_seq, (m.parts)[1]::int8, (m.parts)[2]::int8`);
  const kept = (interval: CandleInterval) => (stored[interval] ?? []).filter((candle) => candle.t < cut);
  return {
    candles: { '1m': kept('1m'), '5m': kept('5m'), '1h': kept('1h') },
    trades: trades.map((r) => ({
      price: int(r.price, 'price'),
      qty: int(r.qty, 'qty'),
      ts: int(r.ts, 'ts'),
    })),
  };
}

/** Stores the latest price per market (older fetches are overwritten). */
export async function saveReferencePrices(
  pool: CommonQueryMethods,
  rows: readonly ReferencePriceRow[],
): Promise<void> {
  if (rows.length === 0) return;
  await pool.query(sql.unsafe`
    INSERT INTO reference_prices (market_id, price, source_key, fetched_at)
    SELECT * FROM unnest(
      ${sql.array(
        rows.map((r) => r.marketId),
        'text',
      )}, ${sql.array(
        rows.map((r) => r.price),
        'numeric',
      )},
      ${sql.array(
        rows.map((r) => r.sourceKey),
        'text',
      )}, ${sql.array(
        rows.map((r) => iso(r.fetchedAt)),
        'timestamptz',
      )}
    )
    ON CONFLICT (market_id) DO UPDATE SET
      price = EXCLUDED.price, source_key = EXCLUDED.source_key, fetched_at = EXCLUDED.fetched_at`);
}

/** The latest reference price of each market that has one, by market id. */
export async function loadReferencePrices(pool: CommonQueryMethods): Promise<Map<string, ReferencePriceRow>> {
  const rows = await pool.any(sql.type(ReferenceRecord)`
    SELECT market_id, price::text AS price, source_key,
      (extract(epoch FROM fetched_at) * 1000)::int8::text AS fetched_at
    FROM reference_prices`);
  return new Map(
    rows.map((r) => [
      r.market_id,
      {
        marketId: r.market_id,
        price: r.price,
        sourceKey: r.source_key,
        fetchedAt: int(r.fetched_at, 'fetched_at'),
      },
    ]),
  );
}

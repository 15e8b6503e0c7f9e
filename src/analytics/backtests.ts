import { randomUUID } from 'node:crypto';
import type { DatabasePool } from 'slonik';
import { z } from 'zod/v4';
import type { ListedMarket } from '../actors/catalog.ts';
import {
  finishBacktest,
  getBacktest,
  insertBacktest,
  listBacktests,
  marketJournalRecords,
  startBacktest,
  tradeBars,
  type BacktestPosition,
  type BacktestRow,
} from '../persistence/backtestStore.ts';
import { failure, type Outcome } from '../protocol/errors.ts';
import {
  checkLength,
  INTERVAL_MS,
  planOf,
  seriesFromCandles,
  type BacktestConfig,
  type Limits,
  type Plan,
} from './backtest/config.ts';
import type { BookInput } from './backtest/book.ts';
import { MAX_PRICE_SUM, type Series } from './backtest/series.ts';
import { equityCsv, renderReport, tradesCsv } from './report.ts';
import { runInThread } from './threads.ts';

/*
 * Back-tests as a service (PROTOCOL v1.1): `submit` checks the config (400 naming the field), the
 * market (404), the user's bound on runs going at once (429), stores the run as `queued` and queues
 * a `run-backtest` job; the job's `run` loads the bars (the request's candles, or the market's own
 * trades in [from, to) as bars of the interval), runs it on a worker thread under its time bound
 * and stores the result or the reason it failed. A run is visible to its owner only: anyone else
 * gets `not_found`, as for a run that does not exist.
 */

/**
 * Most journal records a `book` run reads (each a batch of up to a few hundred commands): the
 * replay starts at the market's first record, so the book at `from` is the book as it was.
 */
export const BOOK_MAX_RECORDS = 200_000;

export const RunBacktestPayload = z.object({ id: z.string().min(1).max(64) });

/** A stored result as the reports read it. */
const StoredResult = z.object({
  params: z.record(z.string(), z.unknown()).optional(),
  performance: z.record(z.string(), z.number().nullable()),
  trades: z.array(
    z.object({ t: z.number(), side: z.string(), price: z.string(), qty: z.string(), fee: z.string() }),
  ),
  equity: z.array(z.object({ t: z.number(), equity: z.string() })),
});

export type ExportKind = 'report.html' | 'trades.csv' | 'equity.csv';

export interface BacktestExport {
  readonly text: string;
  readonly contentType: string;
  readonly filename: string;
}

export interface BacktestLimits extends Limits {
  readonly maxActivePerUser: number;
  readonly runMs: number;
}

export interface BacktestsDeps {
  readonly pool: DatabasePool;
  readonly limits: BacktestLimits;
  readonly market: (idOrSymbol: string) => ListedMarket | undefined;
  /** Queues the run's job. */
  readonly enqueue: (id: string) => Promise<void>;
  /** Resolves once the trades projection holds what was committed before (history replays). */
  readonly historyCaughtUp?: () => Promise<unknown>;
}

/** What GET /backtests/:id answers. */
export interface BacktestView {
  readonly id: string;
  readonly status: BacktestRow['status'];
  readonly config: unknown;
  readonly createdAt: number;
  readonly error?: string;
  readonly [result: string]: unknown;
}

export class Backtests {
  constructor(private readonly deps: BacktestsDeps) {}

  async submit(userId: string, body: unknown): Promise<Outcome<{ id: string; status: 'queued' }>> {
    const planned = this.plan(body);
    if (!planned.ok) return planned;
    const { config } = planned.value;
    const id = `bt_${randomUUID()}`;
    const inserted = await insertBacktest(
      this.deps.pool,
      { id, userId, config },
      this.deps.limits.maxActivePerUser,
    );
    if (!inserted)
      return failure(
        'rate_limited',
        `at most ${this.deps.limits.maxActivePerUser} back-tests queued or running at once; wait for one to end`,
      );
    try {
      await this.deps.enqueue(id);
    } catch (error) {
      await finishBacktest(this.deps.pool, id, { error: 'could not be queued' });
      return failure('unavailable', `the back-test could not be queued: ${(error as Error).message}`);
    }
    return { ok: true, value: { id, status: 'queued' } };
  }

  async get(userId: string, id: string): Promise<Outcome<BacktestView>> {
    const row = await getBacktest(this.deps.pool, id);
    if (row === undefined || row.userId !== userId) return failure('not_found', `no back-test ${id}`);
    return { ok: true, value: viewOf(row) };
  }

  async list(
    userId: string,
    limit: number,
    after: BacktestPosition | undefined,
  ): Promise<{ items: BacktestView[]; next: BacktestPosition | undefined }> {
    const rows = await listBacktests(this.deps.pool, userId, limit, after);
    const last = rows.at(-1);
    return {
      items: rows.map(viewOf),
      next:
        rows.length === limit && last !== undefined ? { createdAt: last.createdAt, id: last.id } : undefined,
    };
  }

  /** The HTML report or a CSV export of a run that is done (409 `conflict` before). */
  async export(userId: string, id: string, kind: ExportKind): Promise<Outcome<BacktestExport>> {
    const row = await getBacktest(this.deps.pool, id);
    if (row === undefined || row.userId !== userId) return failure('not_found', `no back-test ${id}`);
    if (row.status !== 'done') return failure('conflict', `back-test ${id} is ${row.status}: no result yet`);
    const parsed = StoredResult.safeParse(row.result);
    if (!parsed.success) return failure('unavailable', `back-test ${id}: its stored result does not read`);
    const result = parsed.data;
    const filename = `${id}-${kind}`;
    if (kind === 'trades.csv')
      return {
        ok: true,
        value: { text: tradesCsv(result.trades), contentType: 'text/csv; charset=utf-8', filename },
      };
    if (kind === 'equity.csv')
      return {
        ok: true,
        value: { text: equityCsv(result.equity), contentType: 'text/csv; charset=utf-8', filename },
      };
    const html = renderReport({ id, config: row.config, ...result });
    return { ok: true, value: { text: html, contentType: 'text/html; charset=utf-8', filename } };
  }

  /**
   * The `run-backtest` job: idempotent (a run already ended is left as it is). An attempt that
   * throws (Postgres away) is retried by the queue; the last one marks the run failed, so it stops
   * counting against its owner's bound.
   */
  async runAttempt(id: string, final: boolean): Promise<void> {
    try {
      await this.run(id);
    } catch (error) {
      if (final)
        await finishBacktest(this.deps.pool, id, { error: 'the run failed after its retries' }).catch(
          () => undefined,
        );
      throw error;
    }
  }

  async run(id: string): Promise<void> {
    const { pool, limits } = this.deps;
    if (!(await startBacktest(pool, id))) return;
    const row = await getBacktest(pool, id);
    if (row === undefined) return;
    const planned = this.plan(row.config);
    if (!planned.ok) {
      await finishBacktest(pool, id, { error: planned.message });
      return;
    }
    if (planned.value.config.fill === 'book') {
      const input = await this.bookInput(planned.value);
      const outcome = input.ok
        ? await runInThread({
            config: row.config,
            qtyScale: input.value.qtyScale,
            limits,
            runMs: limits.runMs,
            journal: input.value,
          })
        : input;
      await finishBacktest(pool, id, outcome.ok ? { result: outcome.value } : { error: outcome.message });
      return;
    }
    const data = await this.seriesOf(planned.value);
    if (!data.ok) {
      await finishBacktest(pool, id, { error: data.message });
      return;
    }
    const outcome = await runInThread({
      config: row.config,
      series: data.value.series,
      qtyScale: data.value.qtyScale,
      limits,
      runMs: limits.runMs,
    });
    await finishBacktest(pool, id, outcome.ok ? { result: outcome.value } : { error: outcome.message });
  }

  private plan(body: unknown): Outcome<Plan> {
    const planned = planOf(body, this.deps.limits);
    if (!planned.ok) return planned;
    const { config } = planned.value;
    if (config.fill === 'book' && planned.value.strategy.needs !== undefined)
      return failure(
        'bad_request',
        `strategy.id: ${planned.value.strategy.id} needs trend data, which a book replay has not (use candles with next_open)`,
      );
    if (config.candles !== undefined) {
      const series = seriesFromCandles(config.candles, planned.value);
      if (!series.ok) return series;
    } else if (this.deps.market(config.market!) === undefined)
      return failure('unknown_market', `market: no market ${config.market!}`);
    return planned;
  }

  /** The `book` fill model's input: the market's journal records (bounded) and its money. */
  private async bookInput(plan: Plan): Promise<Outcome<BookInput & { records: Buffer[] }>> {
    const { config } = plan;
    const market = this.deps.market(config.market!);
    if (market === undefined) return failure('unknown_market', `market: no market ${config.market!}`);
    const records = await marketJournalRecords(this.deps.pool, market.definition.id, BOOK_MAX_RECORDS + 1);
    if (records.length > BOOK_MAX_RECORDS)
      return failure(
        'bad_request',
        `market: its journal holds more than ${BOOK_MAX_RECORDS} records, more than a book replay reads`,
      );
    const { definition, money } = market;
    return {
      ok: true,
      value: {
        marketId: definition.id,
        market: {
          book: { maxOrders: definition.maxOrders, maxQty: money.maxLots },
          tickUnits: Number(money.tickUnits),
          lotUnits: Number(money.lotUnits),
        },
        priceScale: definition.money.priceDecimals,
        qtyScale: definition.money.qtyDecimals,
        window: { from: config.from!, to: config.to!, intervalMs: INTERVAL_MS[config.interval] },
        records,
      },
    };
  }

  private async seriesOf(plan: Plan): Promise<Outcome<{ series: Series; qtyScale: number }>> {
    const { config } = plan;
    if (config.candles !== undefined) {
      const series = seriesFromCandles(config.candles, plan);
      return series.ok ? { ok: true, value: { series: series.value, qtyScale: config.qtyDecimals } } : series;
    }
    const market = this.deps.market(config.market!);
    if (market === undefined) return failure('unknown_market', `market: no market ${config.market!}`);
    await this.deps.historyCaughtUp?.();
    return historySeries(this.deps.pool, market, config, plan, this.deps.limits.maxBars);
  }
}

/** The market's trades as bars: prices in units of 10^-priceDecimals, quantities at its qtyDecimals. */
async function historySeries(
  pool: DatabasePool,
  market: ListedMarket,
  config: BacktestConfig,
  plan: Plan,
  maxBars: number,
): Promise<Outcome<{ series: Series; qtyScale: number }>> {
  const bars = await tradeBars(
    pool,
    market.definition.id,
    config.from!,
    config.to!,
    INTERVAL_MS[config.interval],
    maxBars + 1,
  );
  if (bars.length > maxBars) return failure('bad_request', `from: the range holds more than ${maxBars} bars`);
  const { priceDecimals, qtyDecimals } = market.definition.money;
  const tick = Number(market.money.tickUnits);
  const lot = Number(market.money.lotUnits);
  const n = bars.length;
  const column = (pick: (bar: (typeof bars)[number]) => number) => Float64Array.from(bars, pick);
  const series: Series = {
    length: n,
    t: column((b) => b.t),
    o: column((b) => b.o * tick),
    h: column((b) => b.h * tick),
    l: column((b) => b.l * tick),
    c: column((b) => b.c * tick),
    v: column((b) => (b.v * lot) / 10 ** qtyDecimals),
    priceScale: priceDecimals,
  };
  if (plan.strategy.needs !== undefined)
    return failure(
      'bad_request',
      `strategy.id: ${plan.strategy.id} needs trend data: bring candles with viralityScore and sentiment`,
    );
  const enough = checkLength(series, plan, 'from');
  if (!enough.ok) return enough;
  if (bars.some((b) => b.h * tick * plan.longestWindow > MAX_PRICE_SUM))
    return failure(
      'bad_request',
      `market: prices too large for exact sums over a ${plan.longestWindow}-bar window`,
    );
  return { ok: true, value: { series, qtyScale: qtyDecimals } };
}

function viewOf(row: BacktestRow): BacktestView {
  return {
    id: row.id,
    status: row.status,
    config: row.config,
    createdAt: row.createdAt,
    ...(row.result === undefined ? {} : (row.result as object)),
    ...(row.error === undefined ? {} : { error: row.error }),
  };
}

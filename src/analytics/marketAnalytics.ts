import type { CommonQueryMethods } from 'slonik';
import type { ListedMarket } from '../actors/catalog.ts';
import { formatUnits } from '../actors/money/decimal.ts';
import { rollupBars, rollupWindows } from '../persistence/rollupStore.ts';
import { failure, type Outcome } from '../protocol/errors.ts';
import { INTERVAL_MS, type Interval } from './backtest/config.ts';
import { YEAR_MS } from './backtest/metrics.ts';

/*
 * Both reads are of the trade rollups (rollups.ts, persistence/rollupStore.ts: the widest buckets
 * that fit, the raw trades only at sub-minute ends), equal to aggregating the trades.
 *
 * GET /analytics/markets/:id?interval&from&to (PROTOCOL v1.1): a market's trades in [from, to) as
 * candles of the interval (intervals with a trade; prices and volume as decimal strings), and
 *   vwap       = Σ price × qty / Σ qty over the window's trades (rounded down to the price decimals)
 *   returns    = mean and sample stdev of the close-to-close simple returns of those candles
 *   volatility = returns.stdev × √(candles per 365-day year) (annualized realized volatility)
 *   volume     = Σ qty; trades = their count.
 * Ratios are doubles; no candle pair gives returns of 0. At most MAX_CANDLES candles per window.
 */

export const MAX_CANDLES = 10_000;
const DAY_MS = 86_400_000;

export interface MarketReport {
  readonly market: string;
  readonly interval: Interval;
  readonly from: number;
  readonly to: number;
  readonly candles: readonly { t: number; o: string; h: string; l: string; c: string; v: string }[];
  readonly vwap: string | null;
  readonly returns: { readonly mean: number; readonly stdev: number };
  readonly volatility: number;
  readonly volume: string;
  readonly trades: number;
}

/** One market in the operators' report. */
export interface MarketSummary {
  readonly market: string;
  readonly trades: number;
  readonly volume: string;
  readonly first: string;
  readonly last: string;
  /** last / first − 1 over the window (a ratio). */
  readonly change: number;
}

export class MarketAnalytics {
  constructor(
    private readonly pool: CommonQueryMethods,
    private readonly market: (idOrSymbol: string) => ListedMarket | undefined,
    /**
     * Resolves once the rollups hold what was committed before the request (the durable consumer
     * `rollups`, bounded by HISTORY_WAIT_MS); without it the read is of the rollups as they are.
     */
    private readonly caughtUp: () => Promise<unknown> = () => Promise.resolve(),
  ) {}

  /**
   * The operators' market report over [from, to) (default the last 24 h): every market that traded,
   * by trade count (`byVolume`: volumes are in different base assets, so they rank by trades, then
   * symbol), and the top movers by |change| (at most `top`).
   */
  async operatorsReport(
    range: { from?: number; to?: number },
    now: number,
    top = 10,
  ): Promise<Outcome<{ from: number; to: number; byVolume: MarketSummary[]; topMovers: MarketSummary[] }>> {
    const to = range.to ?? now;
    const from = range.from ?? to - DAY_MS;
    if (from >= to) return failure('bad_request', 'to: must be after from');
    const summaries: MarketSummary[] = [];
    await this.caughtUp();
    for (const row of await rollupWindows(this.pool, from, to)) {
      const listed = this.market(row.marketId);
      if (listed === undefined) continue;
      const { money } = listed.definition;
      const price = (ticks: number) =>
        formatUnits(BigInt(ticks) * listed.money.tickUnits, money.priceDecimals);
      summaries.push({
        market: listed.definition.symbol,
        trades: row.trades,
        volume: formatUnits(row.lots * listed.money.lotUnits, money.qtyDecimals),
        first: price(row.first),
        last: price(row.last),
        change: row.last / row.first - 1,
      });
    }
    const byVolume = [...summaries].sort((a, b) => b.trades - a.trades || a.market.localeCompare(b.market));
    const topMovers = [...summaries]
      .sort((a, b) => Math.abs(b.change) - Math.abs(a.change) || a.market.localeCompare(b.market))
      .slice(0, top);
    return { ok: true, value: { from, to, byVolume, topMovers } };
  }

  async report(
    idOrSymbol: string,
    interval: Interval,
    range: { from?: number; to?: number },
    now: number,
  ): Promise<Outcome<MarketReport>> {
    const listed = this.market(idOrSymbol);
    if (listed === undefined) return failure('unknown_market', `no market ${idOrSymbol}`);
    const to = range.to ?? now;
    const from = range.from ?? to - DAY_MS;
    if (from >= to) return failure('bad_request', 'to: must be after from');
    const step = INTERVAL_MS[interval];
    if ((to - from) / step > MAX_CANDLES)
      return failure('bad_request', `from: at most ${MAX_CANDLES} candles of ${interval} per window`);
    const { id, symbol, money } = listed.definition;
    // One scan: the window's totals are the sums over its candles (the window is at most MAX_CANDLES).
    await this.caughtUp();
    const bars = await rollupBars(this.pool, id, from, to, step, MAX_CANDLES);
    const window = { trades: 0, lots: 0n, notional: 0n };
    for (const bar of bars) {
      window.trades += bar.n;
      window.lots += BigInt(bar.v);
      window.notional += bar.notional;
    }
    const tick = listed.money.tickUnits;
    const lot = listed.money.lotUnits;
    const price = (ticks: number | bigint) => formatUnits(BigInt(ticks) * tick, money.priceDecimals);
    const qty = (lots: number | bigint) => formatUnits(BigInt(lots) * lot, money.qtyDecimals);
    const returns: number[] = [];
    for (let i = 1; i < bars.length; i++) returns.push(bars[i]!.c / bars[i - 1]!.c - 1);
    const mean = returns.length === 0 ? 0 : returns.reduce((a, b) => a + b, 0) / returns.length;
    const stdev =
      returns.length < 2
        ? 0
        : Math.sqrt(returns.reduce((a, r) => a + (r - mean) ** 2, 0) / (returns.length - 1));
    return {
      ok: true,
      value: {
        market: symbol,
        interval,
        from,
        to,
        candles: bars.map((b) => ({
          t: b.t,
          o: price(b.o),
          h: price(b.h),
          l: price(b.l),
          c: price(b.c),
          v: qty(b.v),
        })),
        vwap: window.lots === 0n ? null : price(window.notional / window.lots),
        returns: { mean, stdev },
        volatility: stdev * Math.sqrt(YEAR_MS / step),
        volume: qty(window.lots),
        trades: window.trades,
      },
    };
  }
}

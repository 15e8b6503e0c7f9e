import type { CandleInterval, CandleMessage } from '../../src/client/index.ts';
import { decimalsOf, scaled, unscaled } from '../shared/format.ts';

/*
 * The chart's intervals, 1m to 1d. The exchange serves 1m, 5m and 1h candles (PROTOCOL.md); the
 * others are built here from those (15m from 5m, 4h and 1d from 1h), aligned to UTC like the
 * server's: open of the first, close of the last, highest high, lowest low, exact sum of volumes.
 * DOM-free, so unit tests import it.
 */

/** A candle as the HTTP route answers it (chart.ts's `Candle`). */
export type Candle = Omit<CandleMessage, 'op'>;

export const CHART_INTERVALS = ['1m', '5m', '15m', '1h', '4h', '1d'] as const;
export type ChartInterval = (typeof CHART_INTERVALS)[number];

const MINUTE = 60_000;
const MS: Readonly<Record<ChartInterval, number>> = {
  '1m': MINUTE,
  '5m': 5 * MINUTE,
  '15m': 15 * MINUTE,
  '1h': 60 * MINUTE,
  '4h': 240 * MINUTE,
  '1d': 1_440 * MINUTE,
};

/** The served interval a chart interval is built from. */
export function sourceOf(interval: ChartInterval): CandleInterval {
  switch (interval) {
    case '1m':
      return '1m';
    case '5m':
    case '15m':
      return '5m';
    default:
      return '1h';
  }
}

/** How many source candles to ask for: enough for ~250 bars, at most the route's 1000. */
export function sourceLimit(interval: ChartInterval): number {
  const perBar = MS[interval] / MS[sourceOf(interval)];
  return Math.min(1_000, 250 * perBar);
}

/** Source candles (any order) grouped into `interval` bars, oldest first. */
export function aggregate(candles: readonly Candle[], interval: ChartInterval): Candle[] {
  const source = sourceOf(interval);
  if (MS[interval] === MS[source]) return [...candles].sort((a, b) => a.t - b.t);
  const width = MS[interval];
  const buckets = new Map<number, Candle[]>();
  for (const candle of candles) {
    const t = Math.floor(candle.t / width) * width;
    const bucket = buckets.get(t);
    if (bucket === undefined) buckets.set(t, [candle]);
    else bucket.push(candle);
  }
  return [...buckets.entries()]
    .sort(([a], [b]) => a - b)
    .map(([t, bucket]) => combine(t, bucket, interval, MS[source]));
}

/** The bar of `interval` that holds `t`, from the source candles kept for it. */
export function barStart(t: number, interval: ChartInterval): number {
  return Math.floor(t / MS[interval]) * MS[interval];
}

function combine(t: number, bucket: Candle[], interval: ChartInterval, sourceMs: number): Candle {
  const sorted = [...bucket].sort((a, b) => a.t - b.t);
  const first = sorted[0]!;
  const last = sorted.at(-1)!;
  const priceScale = Math.max(...sorted.flatMap((c) => [c.o, c.h, c.l, c.c].map(decimalsOf)));
  const volumeScale = Math.max(...sorted.map((c) => decimalsOf(c.v)));
  let high = scaled(first.h, priceScale);
  let low = scaled(first.l, priceScale);
  let volume = 0n;
  for (const c of sorted) {
    const h = scaled(c.h, priceScale);
    const l = scaled(c.l, priceScale);
    if (h > high) high = h;
    if (l < low) low = l;
    volume += scaled(c.v, volumeScale);
  }
  const end = t + MS[interval];
  return {
    market: first.market,
    interval: first.interval,
    t,
    o: first.o,
    h: unscaled(high, priceScale),
    l: unscaled(low, priceScale),
    c: last.c,
    v: unscaled(volume, volumeScale),
    // Closed once the source candle that ends the bar closed.
    closed: last.closed && last.t + sourceMs >= end,
  };
}

/*
 * The bars a back-test runs over, columnar: open time and the four prices of each bar as exact
 * integers (units of 10^-priceScale, each a safe integer), plus the optional trend metrics a trend
 * strategy reads. Columns of doubles keep the bar loop free of allocation (bench/backtest.ts);
 * every price in them is an integer, so sums and comparisons of prices stay exact (see
 * `MAX_PRICE_SUM`).
 */

export interface Series {
  readonly length: number;
  /** Open time of each bar, ms since the epoch, strictly increasing. */
  readonly t: Float64Array;
  readonly o: Float64Array;
  readonly h: Float64Array;
  readonly l: Float64Array;
  readonly c: Float64Array;
  /** Volume of each bar in base units (a double: analytics only, never money). */
  readonly v: Float64Array;
  /** Decimals of the integer prices: a price p stands for p × 10^-priceScale. */
  readonly priceScale: number;
  /** Trend markets' metrics per bar, when the data carries them (trend_momentum needs both). */
  readonly viralityScore?: Float64Array;
  readonly sentiment?: Float64Array;
}

/**
 * Largest sum of prices a strategy may keep in a double: below 2^53 every integer sum is exact.
 * Config validation refuses data whose largest price × longest window passes it.
 */
export const MAX_PRICE_SUM = Number.MAX_SAFE_INTEGER;

/** Bars with integer prices (tests and the benchmark build series directly). */
export function seriesOf(
  bars: readonly { t: number; o: number; h: number; l: number; c: number; v?: number }[],
  priceScale = 0,
  trend?: { readonly viralityScore: readonly number[]; readonly sentiment: readonly number[] },
): Series {
  const n = bars.length;
  const series = {
    length: n,
    t: new Float64Array(n),
    o: new Float64Array(n),
    h: new Float64Array(n),
    l: new Float64Array(n),
    c: new Float64Array(n),
    v: new Float64Array(n),
    priceScale,
    ...(trend === undefined
      ? {}
      : {
          viralityScore: Float64Array.from(trend.viralityScore),
          sentiment: Float64Array.from(trend.sentiment),
        }),
  };
  bars.forEach((bar, i) => {
    series.t[i] = bar.t;
    series.o[i] = bar.o;
    series.h[i] = bar.h;
    series.l[i] = bar.l;
    series.c[i] = bar.c;
    series.v[i] = bar.v ?? 0;
  });
  return series;
}

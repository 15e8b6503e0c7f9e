/*
 * Aggregated reference prices (docs/trends.md "Aggregated prices"): one market's quotes from
 * several sources become one price. Pure, integers only (a quote is a bigint of the market's price
 * units, 10^-priceDecimals):
 *
 * 1. stale quotes are dropped: older than `maxAgeMs` at `now` (or dated ahead of `now` by more than
 *    that: a clock that far off is not trusted either);
 * 2. the median of the fresh ones (an even count: the mean of the middle two, rounded half up);
 * 3. outliers are rejected: a quote farther from that median than `bandBps` of it;
 * 4. the answer is the median of the quotes left, when at least `minSources` are left; otherwise
 *    no price (the ticker keeps its last one).
 */

export interface Quote {
  readonly source: string;
  readonly units: bigint;
  /** When the source says the price is from (ms); the fetch time when it does not say. */
  readonly at: number;
}

export interface AggregationRules {
  readonly maxAgeMs: number;
  readonly bandBps: number;
  readonly minSources: number;
}

export interface Aggregated {
  /** Undefined when fewer than minSources quotes were fresh and in the band. */
  readonly units: bigint | undefined;
  readonly used: readonly string[];
  readonly stale: readonly string[];
  readonly outliers: readonly string[];
}

/** The median of non-empty `values` (half up between the middle two). */
export function median(values: readonly bigint[]): bigint {
  if (values.length === 0) throw new RangeError('the median of nothing');
  const sorted = [...values].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const mid = sorted.length >> 1;
  if (sorted.length % 2 === 1) return sorted[mid]!;
  const sum = sorted[mid - 1]! + sorted[mid]!;
  return (sum + 1n) / 2n; // quotes are positive: half up
}

export function aggregateQuotes(quotes: readonly Quote[], now: number, rules: AggregationRules): Aggregated {
  const stale: string[] = [];
  const fresh: Quote[] = [];
  for (const quote of quotes) {
    if (Math.abs(now - quote.at) > rules.maxAgeMs || quote.units <= 0n) stale.push(quote.source);
    else fresh.push(quote);
  }
  if (fresh.length === 0) return { units: undefined, used: [], stale, outliers: [] };
  const centre = median(fresh.map((q) => q.units));
  const band = BigInt(rules.bandBps);
  const outliers: string[] = [];
  const kept: Quote[] = [];
  for (const quote of fresh) {
    const distance = quote.units > centre ? quote.units - centre : centre - quote.units;
    // distance / centre > band / 10000, in integers.
    if (distance * 10_000n > centre * band) outliers.push(quote.source);
    else kept.push(quote);
  }
  const used = kept.map((q) => q.source);
  if (kept.length < Math.max(1, rules.minSources)) return { units: undefined, used, stale, outliers };
  return { units: median(kept.map((q) => q.units)), used, stale, outliers };
}

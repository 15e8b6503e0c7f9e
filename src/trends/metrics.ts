import { Counter, Gauge, register } from 'prom-client';

/*
 * Metrics of the trend markets and the price sources, on prom-client's default registry (what
 * GET /metrics serves); idempotent registration as src/jobs/metrics.ts does. Sources are the
 * configured ones (a closed set, by name).
 */

function counter<L extends string>(name: string, help: string, labelNames: readonly L[]): Counter<L> {
  const existing = register.getSingleMetric(name);
  return existing instanceof Counter ? existing : new Counter<L>({ name, help, labelNames });
}

function gauge<L extends string>(name: string, help: string, labelNames: readonly L[]): Gauge<L> {
  const existing = register.getSingleMetric(name);
  return existing instanceof Gauge ? existing : new Gauge<L>({ name, help, labelNames });
}

const sourceUp = gauge(
  'exchange_price_source_up',
  'Whether the price source answered a usable document on its last fetch (1) or not (0)',
  ['source'],
);
const sourceLastSuccess = gauge(
  'exchange_price_source_last_success_seconds',
  'When the price source last answered a usable document (unix seconds)',
  ['source'],
);
const sourceQuotes = counter(
  'exchange_price_source_quotes_total',
  'Quotes of each price source by outcome: used in the median, stale, outlier (outside the band), garbage (not a price)',
  ['source', 'outcome'],
);
const sourceFailures = counter(
  'exchange_price_source_failures_total',
  'Fetches of the price source that gave no usable document',
  ['source'],
);
const trendUpdates = counter(
  'exchange_trend_updates_total',
  'Trend metrics updates stored, by source (http or a pulled source)',
  ['source'],
);
const trendGarbage = counter(
  'exchange_trend_source_garbage_total',
  'Trend metrics items of a pulled source that did not parse (skipped)',
  ['source'],
);

export interface SourceObservation {
  readonly up: boolean;
  readonly at: number;
  readonly garbage: number;
  readonly used: number;
  readonly stale: number;
  readonly outlier: number;
}

export function sourceObserved(source: string, o: SourceObservation): void {
  sourceUp.set({ source }, o.up ? 1 : 0);
  if (o.up) sourceLastSuccess.set({ source }, Math.floor(o.at / 1000));
  else sourceFailures.inc({ source });
  for (const outcome of ['used', 'stale', 'outlier', 'garbage'] as const) {
    if (o[outcome] > 0) sourceQuotes.inc({ source, outcome }, o[outcome]);
  }
}

export function countTrendUpdate(source: string): void {
  trendUpdates.inc({ source });
}

export function countTrendGarbage(source: string, n = 1): void {
  trendGarbage.inc({ source }, n);
}

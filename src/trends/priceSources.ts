import { z } from 'zod/v4';
import { jsonArrayEnv } from '../envShapes.ts';
import type { ListedMarket } from '../actors/catalog.ts';
import { formatUnits } from '../actors/money/decimal.ts';
import {
  parseJsonKeepingNumbers,
  priceAtDecimals,
  type FetchOutcome,
  type ReferencePrice,
} from '../marketdata/referencePrices.ts';
import { aggregateQuotes, type AggregationRules, type Quote } from './aggregation.ts';
import { sourceObserved } from './metrics.ts';

/*
 * Several reference-price sources for the fetch-external-prices job (docs/trends.md "Aggregated
 * prices"), aggregated per market (aggregation.ts). Two formats:
 * - `coingecko`: /simple/price?ids=...&vs_currencies=usd&include_last_updated_at=true, i.e.
 *   {"bitcoin": {"usd": 67000.5, "last_updated_at": 1711000000}} (seconds);
 * - `ticker`: an exchange's ticker list, [{"symbol": "BTCUSDT", "price": "67000.50",
 *   "closeTime": 1711000000000}] (ms; `time` is read too; Binance's /api/v3/ticker shapes).
 * Each source names its key per market (`ids`). Numbers are read from their source text, never
 * through a float (referencePrices.ts). A source that is down or answers garbage is logged,
 * counted (/metrics: exchange_price_source_up, exchange_price_source_quotes_total) and skipped.
 */

export const PriceSourceConfig = z.object({
  name: z.string().regex(/^[a-z0-9_-]{1,32}$/, '1-32 of a-z 0-9 _ -'),
  url: z.url(),
  format: z.enum(['coingecko', 'ticker']),
  /** Market symbol → the source's key (a CoinGecko id, an exchange's pair symbol). */
  ids: z.record(z.string(), z.string().min(1).max(64)),
  vsCurrency: z.string().min(1).max(16).default('usd'),
});
export type PriceSourceConfig = z.infer<typeof PriceSourceConfig>;

/** PRICE_SOURCES: a JSON array of PriceSourceConfig (at most 16). */
export const PriceSourcesEnv = jsonArrayEnv(PriceSourceConfig, 'price sources');

const MAX_BODY_BYTES = 1 << 20;
const Document = z.record(z.string(), z.unknown());
const Text = z.string();
const TickerEntry = z.object({
  symbol: z.string(),
  price: z.string(),
  closeTime: z.string().optional(),
  time: z.string().optional(),
});

export interface SourceQuotes {
  readonly source: string;
  /** Market id → quote. */
  readonly quotes: ReadonlyMap<string, Quote>;
  /** Why the source gave nothing, when it did not answer a usable document. */
  readonly failure?: string;
  /** Entries it had for our keys that were not prices. */
  readonly garbage: number;
}

/** The quotes one source's document holds for the markets (numbers as their source text). */
export function quotesFromDocument(
  source: PriceSourceConfig,
  document: unknown,
  markets: readonly ListedMarket[],
  fetchedAt: number,
): SourceQuotes {
  const quotes = new Map<string, Quote>();
  let garbage = 0;
  const entries = new Map<string, { price: unknown; at: unknown }>();
  if (source.format === 'coingecko') {
    const doc = Document.safeParse(document);
    if (!doc.success) return { source: source.name, quotes, garbage: 0, failure: 'not a JSON object' };
    for (const [key, value] of Object.entries(doc.data)) {
      const entry = Document.safeParse(value);
      if (entry.success)
        entries.set(key, { price: entry.data[source.vsCurrency], at: entry.data.last_updated_at });
      else entries.set(key, { price: undefined, at: undefined });
    }
  } else {
    if (!Array.isArray(document))
      return { source: source.name, quotes, garbage: 0, failure: 'not a JSON array' };
    for (const item of document) {
      const entry = TickerEntry.safeParse(item);
      if (entry.success)
        entries.set(entry.data.symbol, {
          price: entry.data.price,
          at: entry.data.closeTime ?? entry.data.time,
        });
    }
  }
  for (const market of markets) {
    const key = source.ids[market.definition.symbol];
    if (key === undefined) continue;
    const entry = entries.get(key);
    if (entry === undefined) continue;
    const text = Text.safeParse(entry.price);
    const price = text.success ? priceAtDecimals(text.data, market.money.priceDecimals) : undefined;
    if (price === undefined) {
      garbage++;
      continue;
    }
    const atText = Text.safeParse(entry.at);
    const atNumber = atText.success ? Number(atText.data) : Number.NaN;
    const at = Number.isFinite(atNumber)
      ? source.format === 'coingecko'
        ? atNumber * 1000
        : atNumber
      : fetchedAt;
    quotes.set(market.definition.id, { source: source.name, units: BigInt(price.replace('.', '')), at });
  }
  return { source: source.name, quotes, garbage };
}

/** One source's quotes; never throws (a failure is its `failure`). */
export async function fetchSource(
  source: PriceSourceConfig,
  markets: readonly ListedMarket[],
  options: { readonly timeoutMs: number; readonly now: () => number; readonly fetchImpl?: typeof fetch },
): Promise<SourceQuotes> {
  const fetchedAt = options.now();
  const failed = (failure: string): SourceQuotes => ({
    source: source.name,
    quotes: new Map(),
    garbage: 0,
    failure,
  });
  let body: string;
  try {
    const response = await (options.fetchImpl ?? fetch)(source.url, {
      headers: { accept: 'application/json' },
      signal: AbortSignal.timeout(options.timeoutMs),
    });
    if (!response.ok) {
      await response.body?.cancel();
      return failed(`HTTP ${response.status}`);
    }
    const bytes = Buffer.from(await response.arrayBuffer());
    if (bytes.length > MAX_BODY_BYTES) return failed(`a body over ${MAX_BODY_BYTES} bytes`);
    body = bytes.toString('utf8');
  } catch (error) {
    return failed(`unreachable: ${error instanceof Error ? error.message : String(error)}`);
  }
  let document: unknown;
  try {
    document = parseJsonKeepingNumbers(body);
  } catch {
    return failed(`not JSON: ${JSON.stringify(body.slice(0, 64))}`);
  }
  return quotesFromDocument(source, document, markets, fetchedAt);
}

/** Every source at once, then each market's aggregated price (the job's fetch). */
export async function fetchAggregatedPrices(
  sources: readonly PriceSourceConfig[],
  markets: readonly ListedMarket[],
  rules: AggregationRules & { readonly timeoutMs: number },
  now: () => number = Date.now,
  fetchImpl?: typeof fetch,
): Promise<FetchOutcome> {
  const answers = await Promise.all(
    sources.map((s) => fetchSource(s, markets, { timeoutMs: rules.timeoutMs, now, fetchImpl })),
  );
  const at = now();
  const prices: ReferencePrice[] = [];
  const skipped: { symbol: string; reason: string }[] = [];
  const tally = new Map<string, Record<'used' | 'stale' | 'outlier', number>>();
  for (const answer of answers) tally.set(answer.source, { used: 0, stale: 0, outlier: 0 });
  for (const market of markets) {
    const quotes = answers.flatMap((a) => {
      const q = a.quotes.get(market.definition.id);
      return q === undefined ? [] : [q];
    });
    if (quotes.length === 0) continue;
    const result = aggregateQuotes(quotes, at, rules);
    for (const s of result.used) tally.get(s)!.used++;
    for (const s of result.stale) tally.get(s)!.stale++;
    for (const s of result.outliers) tally.get(s)!.outlier++;
    if (result.units === undefined) {
      skipped.push({
        symbol: market.definition.symbol,
        reason: `no agreeing fresh quotes (used ${result.used.join(',') || 'none'}, stale ${result.stale.join(',') || 'none'}, outliers ${result.outliers.join(',') || 'none'})`,
      });
      continue;
    }
    prices.push({
      marketId: market.definition.id,
      symbol: market.definition.symbol,
      price: formatUnits(result.units, market.money.priceDecimals),
      sourceKey: `median:${result.used.join(',')}`.slice(0, 200),
    });
  }
  for (const answer of answers) {
    sourceObserved(answer.source, {
      up: answer.failure === undefined,
      at,
      garbage: answer.garbage,
      ...tally.get(answer.source)!,
    });
    if (answer.failure !== undefined)
      skipped.push({ symbol: '*', reason: `source ${answer.source}: ${answer.failure}` });
    else if (answer.garbage > 0)
      skipped.push({
        symbol: '*',
        reason: `source ${answer.source}: ${answer.garbage} entries are not prices`,
      });
  }
  return { ok: true, prices, skipped };
}

/** How the aggregated sources appear where the job names its one source (logs). */
export function aggregateSourceName(sources: readonly PriceSourceConfig[]): {
  readonly url: string;
  readonly format: 'map';
} {
  return { url: `aggregate:${sources.map((s) => s.name).join(',')}`, format: 'map' };
}

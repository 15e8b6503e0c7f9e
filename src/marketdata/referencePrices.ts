import type { Logger } from 'pino';
import { z } from 'zod/v4';
import type { ListedMarket } from '../actors/catalog.ts';
import { formatUnits } from '../actors/money/decimal.ts';
import { startJobQueue, type JobPlacement } from '../jobs/queue.ts';

/*
 * External reference prices: the `fetch-external-prices` repeatable BullMQ job reads an HTTP price
 * source, converts each market's price to the market's price decimals and hands them on (stored in
 * `reference_prices`, pushed on the ticker as `indexPrice`). A source that is down, slow, or answers
 * garbage is logged and skipped; nothing throws out of a run, so BullMQ never retries a fetch (the
 * next repetition is the retry). The job runs on the shared queue factory (src/jobs/queue.ts) as a
 * repeatable job with an empty payload.
 *
 * Money never passes through a float: the body is parsed with every JSON number token turned into
 * its source text first (Node 20's JSON.parse reviver cannot see a number's source), so
 * 67000.123456789012345 keeps all its digits, and the conversion to the market's decimals is integer
 * arithmetic on that text (rounded half up; the index price is informative, not on the tick grid).
 */

export type PriceSourceFormat = 'map' | 'coingecko';

export interface PriceSource {
  readonly url: string;
  readonly format: PriceSourceFormat;
  /** Market symbol → the source's key; `map` falls back to the base asset, `coingecko` needs one. */
  readonly keys: ReadonlyMap<string, string>;
  /** `coingecko` only: the currency under each id. */
  readonly vsCurrency: string;
  readonly timeoutMs: number;
}

export interface ReferencePrice {
  readonly marketId: string;
  readonly symbol: string;
  /** With exactly the market's price decimals. */
  readonly price: string;
  readonly sourceKey: string;
}

export type FetchOutcome =
  | {
      readonly ok: true;
      readonly prices: readonly ReferencePrice[];
      /** Markets the document had no usable price for, and why. */
      readonly skipped: readonly { readonly symbol: string; readonly reason: string }[];
    }
  | { readonly ok: false; readonly reason: string };

/** Larger bodies are refused: a price map of a few hundred markets is a few KB. */
const MAX_BODY_BYTES = 1 << 20;
/** Larger exponents are refused before any bigint is built from them. */
const MAX_EXPONENT = 64;
const PRICE_TEXT = /^(0|[1-9][0-9]*)(?:\.([0-9]+))?(?:[eE]([+-]?[0-9]+))?$/;

const Document = z.record(z.string(), z.unknown());
const PriceText = z.string().regex(PRICE_TEXT);

/**
 * A positive price as text (a JSON number's source or a string), rounded half up to `decimals`;
 * undefined when it is not a plain non-negative decimal (exponent allowed) or rounds to zero.
 */
export function priceAtDecimals(text: string, decimals: number): string | undefined {
  const match = PRICE_TEXT.exec(text);
  if (match === null) return undefined;
  const [, whole = '0', fraction = '', exponentText = '0'] = match;
  const exponent = Number(exponentText);
  if (Math.abs(exponent) > MAX_EXPONENT) return undefined;
  // value = digits × 10^-(scale); we want units = value × 10^decimals.
  const digits = BigInt(whole + fraction);
  const shift = decimals - (fraction.length - exponent);
  let units: bigint;
  if (shift >= 0) {
    units = digits * 10n ** BigInt(shift);
  } else {
    const divisor = 10n ** BigInt(-shift);
    units = (digits + divisor / 2n) / divisor;
  }
  if (units <= 0n) return undefined;
  return formatUnits(units, decimals);
}

/**
 * JSON.parse of `text` with every number token replaced by a string of its source text. Invalid
 * JSON throws a SyntaxError as JSON.parse does; number tokens are checked later by whoever reads them.
 */
export function parseJsonKeepingNumbers(text: string): unknown {
  let out = '';
  let copied = 0;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // A string: skip to its closing quote, past escapes.
      i++;
      while (i < n) {
        const d = text.charCodeAt(i);
        if (d === 0x5c) i += 2;
        else if (d === 0x22) {
          i++;
          break;
        } else i++;
      }
    } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      let j = i + 1;
      while (j < n && isNumberChar(text.charCodeAt(j))) j++;
      out += `${text.slice(copied, i)}"${text.slice(i, j)}"`;
      copied = j;
      i = j;
    } else {
      i++;
    }
  }
  return JSON.parse(copied === 0 ? text : out + text.slice(copied)) as unknown;
}

function isNumberChar(c: number): boolean {
  // digits . e E + -
  return (c >= 0x30 && c <= 0x39) || c === 0x2e || c === 0x65 || c === 0x45 || c === 0x2b || c === 0x2d;
}

/** The source's key for a market, or undefined when it has none (coingecko without an id). */
export function sourceKey(source: PriceSource, market: ListedMarket): string | undefined {
  const configured = source.keys.get(market.definition.symbol);
  if (configured !== undefined) return configured;
  return source.format === 'map' ? market.definition.baseAsset : undefined;
}

/** Reads each market's price out of a parsed document (numbers as their source text). */
export function pricesFromDocument(
  source: PriceSource,
  document: unknown,
  markets: readonly ListedMarket[],
): FetchOutcome {
  const parsed = Document.safeParse(document);
  if (!parsed.success) return { ok: false, reason: 'the price source did not answer a JSON object' };
  const prices: ReferencePrice[] = [];
  const skipped: { symbol: string; reason: string }[] = [];
  for (const market of markets) {
    const { id, symbol } = market.definition;
    const key = sourceKey(source, market);
    if (key === undefined) continue;
    let value: unknown = Object.hasOwn(parsed.data, key) ? parsed.data[key] : undefined;
    if (source.format === 'coingecko') {
      const entry = Document.safeParse(value);
      value =
        entry.success && Object.hasOwn(entry.data, source.vsCurrency)
          ? entry.data[source.vsCurrency]
          : undefined;
    }
    if (value === undefined) {
      skipped.push({ symbol, reason: `no price for ${key}` });
      continue;
    }
    const text = PriceText.safeParse(value);
    const price = text.success ? priceAtDecimals(text.data, market.money.priceDecimals) : undefined;
    if (price === undefined) {
      skipped.push({
        symbol,
        reason: `${key}: ${JSON.stringify(value).slice(0, 64)} is not a positive price`,
      });
      continue;
    }
    prices.push({ marketId: id, symbol, price, sourceKey: key });
  }
  return { ok: true, prices, skipped };
}

/** One fetch of the source for these markets; never throws. */
export async function fetchReferencePrices(
  source: PriceSource,
  markets: readonly ListedMarket[],
  fetchImpl: typeof fetch = fetch,
): Promise<FetchOutcome> {
  let body: string;
  try {
    const response = await fetchImpl(source.url, {
      headers: { accept: 'application/json' },
      signal: AbortSignal.timeout(source.timeoutMs),
    });
    if (!response.ok) {
      await response.body?.cancel();
      return { ok: false, reason: `the price source answered HTTP ${response.status}` };
    }
    const read = await readCapped(response, MAX_BODY_BYTES);
    if (read === undefined)
      return { ok: false, reason: `the price source's body is over ${MAX_BODY_BYTES} bytes` };
    body = read;
  } catch (error) {
    return { ok: false, reason: `the price source is unreachable: ${errorMessage(error)}` };
  }
  let document: unknown;
  try {
    document = parseJsonKeepingNumbers(body);
  } catch {
    return {
      ok: false,
      reason: `the price source answered something that is not JSON: ${JSON.stringify(body.slice(0, 64))}`,
    };
  }
  return pricesFromDocument(source, document, markets);
}

async function readCapped(response: Response, maxBytes: number): Promise<string | undefined> {
  const reader: ReadableStreamDefaultReader<Uint8Array> | undefined = response.body?.getReader();
  if (reader === undefined) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel();
      return undefined;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function errorMessage(error: unknown): string {
  if (error instanceof Error) {
    const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
    return `${error.message}${cause}`;
  }
  return String(error);
}

export const REFERENCE_PRICE_QUEUE = 'fetch-external-prices';

/**
 * A fetch-external-prices job's payload: nothing (each run reads the configured source and the
 * listed markets); a job that carries anything, a source to read say, is refused.
 */
export const ReferencePricePayload = z.strictObject({});

export interface ReferencePriceJobOptions {
  readonly redisUrl: string;
  /** Key prefix, as the other queues of the exchange (src/jobs/queue.ts). */
  readonly prefix: string;
  /** Where the work runs (src/app/roles.ts); default here. */
  readonly placement?: JobPlacement;
  readonly intervalMs: number;
  readonly source: PriceSource;
  readonly log: Logger;
  /** The markets to price, read at each run (markets listed later are included). */
  readonly markets: () => readonly ListedMarket[];
  /** Stores a run's prices (reference_prices); a failure is logged and the prices still go out. */
  readonly store: (prices: readonly ReferencePrice[], fetchedAt: number) => Promise<void>;
  /** The prices of a successful run (e.g. MarketDataService.setIndexPrice, then publish). */
  readonly onPrices: (prices: readonly ReferencePrice[]) => void;
  readonly fetchImpl?: typeof fetch;
  /**
   * Replaces the one-source fetch (issue 19: several sources aggregated, src/trends/priceSources.ts);
   * must not throw. `source.url` then only names the run in logs.
   */
  readonly fetchPrices?: (markets: readonly ListedMarket[]) => Promise<FetchOutcome>;
}

export interface ReferencePriceJob {
  readonly name: typeof REFERENCE_PRICE_QUEUE;
  /** One run now, outside the schedule (at start, and in tests). */
  runOnce(): Promise<FetchOutcome>;
  /** Jobs per state (metrics). */
  counts(): Promise<Record<string, number>>;
  close(): Promise<void>;
}

/** Schedules the repeatable job (every intervalMs) and its worker (concurrency 1). */
export async function startReferencePriceJob(options: ReferencePriceJobOptions): Promise<ReferencePriceJob> {
  const { prefix, intervalMs, source, log } = options;
  const run = async (): Promise<FetchOutcome> => {
    const fetchedAt = Date.now();
    const markets = options.markets();
    const outcome =
      options.fetchPrices === undefined
        ? await fetchReferencePrices(source, markets, options.fetchImpl)
        : await options.fetchPrices(markets);
    if (!outcome.ok) {
      log.warn(
        { job: REFERENCE_PRICE_QUEUE, url: source.url, reason: outcome.reason },
        'reference prices skipped',
      );
      return outcome;
    }
    for (const { symbol, reason } of outcome.skipped) {
      log.warn({ job: REFERENCE_PRICE_QUEUE, market: symbol, reason }, 'reference price skipped');
    }
    if (outcome.prices.length === 0) return outcome;
    try {
      await options.store(outcome.prices, fetchedAt);
    } catch (error) {
      log.warn({ job: REFERENCE_PRICE_QUEUE, err: errorMessage(error) }, 'reference prices not stored');
    }
    try {
      options.onPrices(outcome.prices);
    } catch (error) {
      log.error({ job: REFERENCE_PRICE_QUEUE, err: errorMessage(error) }, 'reference prices not published');
    }
    return outcome;
  };

  const queue = await startJobQueue({
    name: REFERENCE_PRICE_QUEUE,
    redisUrl: options.redisUrl,
    prefix,
    placement: options.placement,
    payload: ReferencePricePayload,
    // One attempt: a run never throws (see above); the next repetition is the retry.
    attempts: 1,
    concurrency: 1,
    keepEnded: 100,
    schedule: { everyMs: intervalMs, data: {} },
    // A line per repetition would say nothing the run's own lines do not.
    logDone: 'debug',
    log,
    run: async () => {
      await run();
    },
  });
  return {
    name: REFERENCE_PRICE_QUEUE,
    runOnce: run,
    counts: () => queue.counts(),
    close: () => queue.close(),
  };
}

import { z } from 'zod/v4';
import type { PriceSource } from './referencePrices.ts';

/*
 * The environment of market data, as a zod shape for src/config.ts to spread into its schema (one
 * frozen config object, parsed at boot), and the price source it describes.
 */

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);

/** `BTC-USDC=bitcoin,ETH-USDC=ethereum`: market symbol → the source's key for it. */
const keyMap = z
  .string()
  .default('')
  .transform((text, ctx) => {
    const keys = new Map<string, string>();
    for (const entry of text.split(',')) {
      if (entry.trim() === '') continue;
      const [symbol, key, ...rest] = entry.split('=').map((part) => part.trim());
      if (symbol === undefined || symbol === '' || key === undefined || key === '' || rest.length > 0) {
        ctx.addIssue({ code: 'custom', message: `expected SYMBOL=key, got ${JSON.stringify(entry)}` });
        return z.NEVER;
      }
      keys.set(symbol, key);
    }
    return keys;
  });

export const MARKETDATA_ENV = {
  /** How often changed candles and stats are written to price_candles / market_stats. */
  MARKETDATA_FLUSH_MS: positiveInt(1_000),
  /** The timer closes a candle this long after its interval ended (late commits land first). */
  CANDLE_CLOSE_GRACE_MS: z.coerce.number().int().min(0).max(60_000).default(2_000),
  /** HTTP price source of the fetch-external-prices job; unset = no reference prices. */
  PRICE_SOURCE_URL: z.url().optional(),
  /** `map`: {"BTC": 67000.5}; `coingecko`: {"bitcoin": {"usd": 67000.5}} (simple/price). */
  PRICE_SOURCE_FORMAT: z.enum(['map', 'coingecko']).default('map'),
  /** Market symbol → source key; `map` falls back to the market's base asset, `coingecko` needs one. */
  PRICE_SOURCE_IDS: keyMap,
  /** The currency of `coingecko` prices (the markets' quote is taken to be worth one of it). */
  PRICE_SOURCE_VS_CURRENCY: z.string().min(1).default('usd'),
  PRICE_FETCH_INTERVAL_MS: positiveInt(15_000),
  /** One fetch, connection to last byte. */
  PRICE_FETCH_TIMEOUT_MS: positiveInt(3_000),
};

const MarketDataEnv = z.object(MARKETDATA_ENV);
export type MarketDataConfig = Readonly<z.infer<typeof MarketDataEnv>>;

/** For callers that parse these variables on their own (scripts, tests). */
export function loadMarketDataConfig(env: NodeJS.ProcessEnv = process.env): MarketDataConfig {
  const parsed = MarketDataEnv.safeParse(env);
  if (!parsed.success) throw new Error(`invalid environment: ${z.prettifyError(parsed.error)}`);
  return Object.freeze(parsed.data);
}

/** The configured price source, or undefined when PRICE_SOURCE_URL is unset. */
export function priceSourceOf(config: MarketDataConfig): PriceSource | undefined {
  if (config.PRICE_SOURCE_URL === undefined) return undefined;
  return {
    url: config.PRICE_SOURCE_URL,
    format: config.PRICE_SOURCE_FORMAT,
    keys: config.PRICE_SOURCE_IDS,
    vsCurrency: config.PRICE_SOURCE_VS_CURRENCY,
    timeoutMs: config.PRICE_FETCH_TIMEOUT_MS,
  };
}

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ListedMarket } from '../../src/actors/catalog.ts';
import { createMarketMoney } from '../../src/actors/money.ts';
import { aggregateQuotes, median, type Quote } from '../../src/trends/aggregation.ts';
import { quotesFromDocument, type PriceSourceConfig } from '../../src/trends/priceSources.ts';
import { parseJsonKeepingNumbers } from '../../src/marketdata/referencePrices.ts';

const NOW = 1_763_800_000_000;
const rules = { maxAgeMs: 60_000, bandBps: 300, minSources: 1 };
const q = (source: string, units: bigint, age = 0): Quote => ({ source, units, at: NOW - age });

describe('aggregateQuotes', () => {
  it('takes the median of fresh quotes, drops stale ones and rejects outliers beyond the band', () => {
    expect(aggregateQuotes([q('a', 100n), q('b', 102n), q('c', 101n)], NOW, rules)).toEqual({
      units: 101n,
      used: ['a', 'b', 'c'],
      stale: [],
      outliers: [],
    });
    // Stale: older than maxAgeMs, or dated too far ahead.
    const stale = aggregateQuotes(
      [q('a', 100n), q('b', 500n, 60_001), { source: 'c', units: 90n, at: NOW + 61_000 }],
      NOW,
      rules,
    );
    expect(stale).toEqual({ units: 100n, used: ['a'], stale: ['b', 'c'], outliers: [] });
    // Outlier: 3 % away from the median of 100, 101, 140 (101) is 104.03.
    expect(aggregateQuotes([q('a', 100n), q('b', 101n), q('c', 140n)], NOW, rules)).toEqual({
      units: 101n, // the median of 100 and 101, half up
      used: ['a', 'b'],
      stale: [],
      outliers: ['c'],
    });
    // Missing sources: none, or fewer than minSources.
    expect(aggregateQuotes([], NOW, rules).units).toBeUndefined();
    expect(aggregateQuotes([q('a', 100n)], NOW, { ...rules, minSources: 2 }).units).toBeUndefined();
    expect(aggregateQuotes([q('a', 100n, 70_000)], NOW, rules)).toEqual({
      units: undefined,
      used: [],
      stale: ['a'],
      outliers: [],
    });
  });

  it('answers a price within the fresh quotes and the band of their median (always, for an odd count)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.bigInt({ min: 1n, max: 10n ** 15n }), { minLength: 1, maxLength: 9 }),
        (values) => {
          const quotes = values.map((v, i) => q(`s${i}`, v));
          const { units, used, outliers } = aggregateQuotes(quotes, NOW, rules);
          expect(used.length + outliers.length).toBe(values.length);
          // An odd count's median is a quote, always in the band; two camps of an even count may
          // leave nothing (no price rather than a guess).
          if (values.length % 2 === 1) expect(units).toBeDefined();
          if (units === undefined) return;
          const min = values.reduce((a, b) => (a < b ? a : b));
          const max = values.reduce((a, b) => (a > b ? a : b));
          expect(units >= min && units <= max).toBe(true);
          const centre = median(values);
          expect((units > centre ? units - centre : centre - units) * 10_000n <= centre * 300n).toBe(true);
        },
      ),
    );
  });
});

describe('the two source formats', () => {
  const money = createMarketMoney({
    priceDecimals: 2,
    qtyDecimals: 6,
    tickSize: '0.01',
    lotSize: '0.000001',
    minQty: '0.000001',
    maxQty: '1000',
  });
  const market = (symbol: string): ListedMarket =>
    ({ definition: { id: `id-${symbol}`, symbol }, money }) as unknown as ListedMarket;
  const markets = [market('BTC-USDC'), market('ETH-USDC'), market('SOL-USDC')];

  it('reads a CoinGecko simple/price document with last_updated_at, exactly', () => {
    const source: PriceSourceConfig = {
      name: 'cg',
      url: 'http://x',
      format: 'coingecko',
      ids: { 'BTC-USDC': 'bitcoin', 'ETH-USDC': 'ethereum', 'SOL-USDC': 'solana' },
      vsCurrency: 'usd',
    };
    const doc = parseJsonKeepingNumbers(
      '{"bitcoin":{"usd":67000.125,"last_updated_at":1763799990},"ethereum":{"usd":"oops"},"dogecoin":{"usd":1}}',
    );
    const quotes = quotesFromDocument(source, doc, markets, NOW);
    expect(quotes.garbage).toBe(1);
    expect([...quotes.quotes.values()]).toEqual([{ source: 'cg', units: 6_700_013n, at: 1_763_799_990_000 }]);
    expect(quotesFromDocument(source, ['x'], markets, NOW).failure).toBeDefined();
  });

  it('reads an exchange ticker list with closeTime, or the fetch time without one', () => {
    const source: PriceSourceConfig = {
      name: 'ex',
      url: 'http://x',
      format: 'ticker',
      ids: { 'BTC-USDC': 'BTCUSDT', 'ETH-USDC': 'ETHUSDT' },
      vsCurrency: 'usd',
    };
    const doc = parseJsonKeepingNumbers(
      '[{"symbol":"BTCUSDT","price":"67001.00","closeTime":1763799999000},{"symbol":"ETHUSDT","price":"3500.5"},{"junk":true}]',
    );
    const quotes = quotesFromDocument(source, doc, markets, NOW);
    expect(quotes.quotes.get('id-BTC-USDC')).toEqual({
      source: 'ex',
      units: 6_700_100n,
      at: 1_763_799_999_000,
    });
    expect(quotes.quotes.get('id-ETH-USDC')).toEqual({ source: 'ex', units: 350_050n, at: NOW });
    expect(quotesFromDocument(source, { symbol: 'BTCUSDT' }, markets, NOW).failure).toBe('not a JSON array');
  });
});

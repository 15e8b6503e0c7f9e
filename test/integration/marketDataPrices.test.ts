import { Writable } from 'node:stream';
import { Queue, QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { createPool, type DatabasePool } from 'slonik';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ListedMarket } from '../../src/actors/catalog.ts';
import type { MarketDefinition } from '../../src/actors/market/types.ts';
import { createMarketMoney } from '../../src/actors/money.ts';
import { loadMarketDataConfig, priceSourceOf } from '../../src/marketdata/config.ts';
import { MarketDataService, type MarketDataPublication } from '../../src/marketdata/marketData.ts';
import {
  fetchReferencePrices,
  parseJsonKeepingNumbers,
  priceAtDecimals,
  REFERENCE_PRICE_QUEUE,
  startReferencePriceJob,
  type PriceSource,
} from '../../src/marketdata/referencePrices.ts';
import { loadReferencePrices, saveReferencePrices } from '../../src/persistence/marketDataStore.ts';
import { startPriceSource, type StandInPriceSource } from '../../scripts/price-source.ts';
import { useTestDatabase } from '../support/database.ts';
import { eventually } from '../support/eventually.ts';
import { ASSET_DECIMALS, BTC_USDC, ETH_USDC, GOLD_USDC } from '../support/markets.ts';

/**
 * Reference prices: the conversion without floats, the fetch against the local stand-in source
 * (good, down, hanging, garbage, both document shapes), and the repeatable BullMQ job on a real
 * Redis storing into Postgres and pushing tickers, surviving a broken source.
 */

const database = useTestDatabase('marketdata_prices');
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/1';

function listed(definition: MarketDefinition): ListedMarket {
  const baseDecimals = ASSET_DECIMALS[definition.baseAsset]!;
  const quoteDecimals = ASSET_DECIMALS[definition.quoteAsset]!;
  return {
    definition,
    money: createMarketMoney({ ...definition.money, baseDecimals, quoteDecimals }),
    baseDecimals,
    quoteDecimals,
  };
}

const MARKETS = [listed(BTC_USDC), listed(ETH_USDC), listed(GOLD_USDC)];

function mapSource(url: string, timeoutMs = 2_000): PriceSource {
  return { url, format: 'map', keys: new Map(), vsCurrency: 'usd', timeoutMs };
}

let pool: DatabasePool;
let source: StandInPriceSource;

beforeAll(async () => {
  pool = await createPool(database.get().url, { maximumPoolSize: 2 });
  source = await startPriceSource({ prices: { BTC: '67000.125', ETH: '3500.0249', GOLD: '2400.05' } });
});

afterAll(async () => {
  await source.close();
  await pool.end();
});

describe('price conversion', () => {
  it('rounds half up to the market decimals from the number text, never through a float', () => {
    expect(priceAtDecimals('67000.125', 2)).toBe('67000.13');
    expect(priceAtDecimals('67000.124999999999999999', 2)).toBe('67000.12');
    expect(priceAtDecimals('0.1', 2)).toBe('0.10');
    expect(priceAtDecimals('6.7e4', 2)).toBe('67000.00');
    expect(priceAtDecimals('1.5E-1', 1)).toBe('0.2');
    expect(priceAtDecimals('9007199254740993.01', 1)).toBe('9007199254740993.0');
    expect(priceAtDecimals('0.004', 2)).toBeUndefined(); // rounds to nothing
    for (const bad of ['-1', '1.', '.5', '01', 'NaN', '1e999', '0x10', ' 1', '']) {
      expect(priceAtDecimals(bad, 2)).toBeUndefined();
    }
  });

  it('keeps every JSON number as its source text', () => {
    expect(parseJsonKeepingNumbers('{"a": 67000.123456789012345678, "b": [1e3, -2], "c": "x\\"1"}')).toEqual({
      a: '67000.123456789012345678',
      b: ['1e3', '-2'],
      c: 'x"1',
    });
    expect(() => parseJsonKeepingNumbers('{"a": 1')).toThrow(SyntaxError);
  });

  it('reads the environment', () => {
    expect(priceSourceOf(loadMarketDataConfig({}))).toBeUndefined();
    const config = loadMarketDataConfig({
      PRICE_SOURCE_URL: 'http://127.0.0.1:4100/simple/price',
      PRICE_SOURCE_FORMAT: 'coingecko',
      PRICE_SOURCE_IDS: 'BTC-USDC=bitcoin, ETH-USDC=ethereum',
    });
    expect(priceSourceOf(config)).toMatchObject({
      format: 'coingecko',
      keys: new Map([
        ['BTC-USDC', 'bitcoin'],
        ['ETH-USDC', 'ethereum'],
      ]),
      vsCurrency: 'usd',
      timeoutMs: 3_000,
    });
    expect(config.PRICE_FETCH_INTERVAL_MS).toBe(15_000);
    expect(() => loadMarketDataConfig({ PRICE_SOURCE_IDS: 'BTC-USDC' })).toThrow(/PRICE_SOURCE_IDS/);
    expect(() => loadMarketDataConfig({ PRICE_SOURCE_FORMAT: 'xml' })).toThrow(/PRICE_SOURCE_FORMAT/);
  });
});

describe('fetchReferencePrices with the stand-in source', () => {
  it('reads a simple map by base asset, at each market decimals', async () => {
    source.setMode('fixed');
    const outcome = await fetchReferencePrices(mapSource(source.url), MARKETS);
    expect(outcome).toEqual({
      ok: true,
      prices: [
        { marketId: 'm-btc', symbol: 'BTC-USDC', price: '67000.13', sourceKey: 'BTC' },
        { marketId: 'm-eth', symbol: 'ETH-USDC', price: '3500.02', sourceKey: 'ETH' },
        { marketId: 'm-gold', symbol: 'GOLD-USDC', price: '2400.1', sourceKey: 'GOLD' },
      ],
      skipped: [],
    });
  });

  it('reads the CoinGecko simple-price shape through the configured ids', async () => {
    const gecko = await startPriceSource({
      prices: { bitcoin: '67000.5', ethereum: '3500' },
      format: 'coingecko',
    });
    try {
      const outcome = await fetchReferencePrices(
        {
          url: gecko.url,
          format: 'coingecko',
          keys: new Map([
            ['BTC-USDC', 'bitcoin'],
            ['ETH-USDC', 'ethereum'],
            ['GOLD-USDC', 'tether-gold'],
          ]),
          vsCurrency: 'usd',
          timeoutMs: 2_000,
        },
        MARKETS,
      );
      expect(outcome).toEqual({
        ok: true,
        prices: [
          { marketId: 'm-btc', symbol: 'BTC-USDC', price: '67000.50', sourceKey: 'bitcoin' },
          { marketId: 'm-eth', symbol: 'ETH-USDC', price: '3500.00', sourceKey: 'ethereum' },
        ],
        skipped: [{ symbol: 'GOLD-USDC', reason: 'no price for tether-gold' }],
      });
    } finally {
      await gecko.close();
    }
  });

  it('a source that is down, hangs, is closed or answers garbage is an outcome, never a throw', async () => {
    source.setMode('down');
    expect(await fetchReferencePrices(mapSource(source.url), MARKETS)).toEqual({
      ok: false,
      reason: 'the price source answered HTTP 503',
    });
    source.setMode('hang');
    const hung = await fetchReferencePrices(mapSource(source.url, 200), MARKETS);
    expect(hung.ok ? 'ok' : hung.reason).toMatch(/unreachable/);
    expect(await fetchReferencePrices(mapSource('http://127.0.0.1:1/'), MARKETS)).toMatchObject({
      ok: false,
    });

    source.setMode('garbage');
    for (let i = 0; i < 8; i++) {
      const outcome = await fetchReferencePrices(mapSource(source.url), MARKETS);
      // Garbage never yields a price: a refusal of the whole body, or every market skipped.
      if (outcome.ok) {
        expect(outcome.prices).toEqual([]);
        expect(outcome.skipped.length).toBeGreaterThan(0);
      } else {
        expect(outcome.reason).toMatch(/not JSON|not answer a JSON object/);
      }
    }
    source.setMode('fixed');
  });
});

/** Polls `what` until it holds, for at most 15 s. */
async function waitFor(what: () => boolean): Promise<void> {
  await eventually(what, { timeoutMs: 15_000, everyMs: 25 });
}

describe('the fetch-external-prices job', () => {
  it('stores prices, pushes tickers with indexPrice, and keeps going through a broken source', async () => {
    const lines: { level: number; msg: string; reason?: string }[] = [];
    const log = pino(
      { level: 'warn' },
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          lines.push(JSON.parse(chunk.toString()) as { level: number; msg: string });
          done();
        },
      }),
    );
    const service = new MarketDataService();
    for (const market of MARKETS) service.addMarket(market);
    const pushes: MarketDataPublication[] = [];
    source.setMode('drift');
    const job = await startReferencePriceJob({
      redisUrl: REDIS_URL,
      prefix: `rwa-test-prices-${process.pid}-${Date.now()}`,
      intervalMs: 100,
      source: mapSource(source.url, 500),
      log,
      markets: () => MARKETS,
      store: (prices, fetchedAt) =>
        saveReferencePrices(
          pool,
          prices.map((p) => ({ marketId: p.marketId, price: p.price, sourceKey: p.sourceKey, fetchedAt })),
        ),
      onPrices: (prices) => {
        for (const { marketId, price } of prices) pushes.push(...service.setIndexPrice(marketId, price));
      },
    });
    try {
      // The schedule runs by itself: drifting prices reach the ticker and the table.
      await waitFor(() => pushes.filter((p) => p.topic === 'ticker/BTC-USDC').length >= 3);
      const btc = service.tickerSnapshot('BTC-USDC')!;
      expect(btc.indexPrice).toMatch(/^[0-9]+\.[0-9]{2}$/);
      expect(btc).not.toHaveProperty('last');
      const stored = await loadReferencePrices(pool);
      expect([...stored.keys()].sort()).toEqual(['m-btc', 'm-eth', 'm-gold']);
      expect(stored.get('m-gold')!.price).toMatch(/^[0-9]+\.[0-9]$/);

      // Broken source: logged and skipped, the last good price stays.
      source.setMode('garbage');
      const requests = source.requests;
      await waitFor(() => source.requests >= requests + 4);
      source.setMode('down');
      await waitFor(() => source.requests >= requests + 6);
      const kept = service.tickerSnapshot('BTC-USDC')!.indexPrice;
      expect(kept).toBeDefined();
      expect(lines.some((l) => l.msg === 'reference prices skipped' && /HTTP 503/.test(l.reason ?? ''))).toBe(
        true,
      );
      expect(
        lines.some((l) => l.msg === 'reference price skipped' || /not JSON|JSON object/.test(l.reason ?? '')),
      ).toBe(true);

      // Back up: prices flow again.
      source.setPrices({ BTC: '70000', ETH: '3600', GOLD: '2500' });
      source.setMode('fixed');
      await waitFor(() => service.tickerSnapshot('BTC-USDC')!.indexPrice === '70000.00');
      const outcome = await job.runOnce();
      expect(outcome.ok).toBe(true);
      expect((await loadReferencePrices(pool)).get('m-btc')!.price).toBe('70000.00');
    } finally {
      await job.close();
      source.setMode('fixed');
    }
  });

  it('issue 13: the reference-price job runs through the shared factory: scheduled, its payload parsed, anything else refused', async () => {
    const lines: { msg: string; queue?: string; jobId?: string }[] = [];
    const log = pino(
      { level: 'debug' },
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          lines.push(JSON.parse(chunk.toString()) as { msg: string });
          done();
        },
      }),
    );
    const prefix = `rwa-test-prices-factory-${process.pid}-${Date.now()}`;
    source.setMode('fixed');
    let priced = 0;
    const job = await startReferencePriceJob({
      redisUrl: REDIS_URL,
      prefix,
      intervalMs: 100,
      source: mapSource(source.url, 500),
      log,
      markets: () => MARKETS,
      store: () => Promise.resolve(),
      onPrices: () => {
        priced++;
      },
    });
    const connections = [0, 1].map(() => new Redis(REDIS_URL, { maxRetriesPerRequest: null }));
    const queue = new Queue(REFERENCE_PRICE_QUEUE, { connection: connections[0]!, prefix });
    const events = new QueueEvents(REFERENCE_PRICE_QUEUE, { connection: connections[1]!, prefix });
    await events.waitUntilReady();
    const done = () => lines.filter((l) => l.msg === 'job done' && l.queue === REFERENCE_PRICE_QUEUE);
    try {
      // One repeatable schedule, named after the queue, at the configured interval.
      expect(await queue.getJobSchedulers()).toMatchObject([{ key: REFERENCE_PRICE_QUEUE, every: 100 }]);
      // Its repetitions run on the factory's worker (whose lines name the queue and the job).
      await waitFor(() => done().length >= 2 && priced >= 2);

      // A job that carries something (a source of its own) is refused at once and runs nothing.
      const bad = await queue.add(REFERENCE_PRICE_QUEUE, { url: 'http://127.0.0.1:1/prices' });
      await expect(bad.waitUntilFinished(events, 15_000)).rejects.toThrow(/payload does not parse/);
      expect((await queue.getJob(bad.id!))!.attemptsMade).toBe(1);
      expect(lines.some((l) => l.msg === 'job payload rejected' && l.jobId === bad.id)).toBe(true);
      expect(done().some((l) => l.jobId === bad.id)).toBe(false);
      expect(await job.counts()).toMatchObject({ failed: 1 });

      // The schedule keeps going after the refusal.
      const runs = done().length;
      await waitFor(() => done().length >= runs + 2);
    } finally {
      await job.close();
      // Closing removes the schedule.
      expect(await queue.getJobSchedulers()).toEqual([]);
      await queue.obliterate({ force: true });
      await queue.close();
      await events.close();
      for (const connection of connections) connection.disconnect();
    }
  });
});

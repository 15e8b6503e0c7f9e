import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/eventually.ts';
import { runExchange, type RunningExchange } from '../support/exchange.ts';

/**
 * The exchange's jobs against loopback stand-ins (issue 19): the fetch-external-prices job reads a
 * CoinGecko-shaped, two exchange-ticker-shaped, a stale and a dead source and pushes the median of
 * the fresh, agreeing quotes as BTC-USDC's indexPrice, with each source's health on /metrics; the
 * pull-trends job ingests a feed's good items and counts and skips its garbage.
 */

let ex: RunningExchange;
const servers: Server[] = [];

async function standIn(body: () => unknown): Promise<string> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    const value = body();
    res.end(typeof value === 'string' ? value : JSON.stringify(value));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
}

beforeAll(async () => {
  const seconds = () => Math.floor(Date.now() / 1000);
  // Numbers are written as JSON text on purpose: 67000.10 must reach the price exactly.
  const cg = await standIn(() => `{"bitcoin":{"usd":67000.10,"last_updated_at":${seconds()}}}`);
  const ex1 = await standIn(() => [{ symbol: 'BTCUSDT', price: '67010.30', closeTime: Date.now() }]);
  const ex2 = await standIn(() => [{ symbol: 'BTCUSDT', price: '90000', closeTime: Date.now() }]);
  const stale = await standIn(() => `{"bitcoin":{"usd":50000,"last_updated_at":${seconds() - 3600}}}`);
  const dead = await standIn(() => 'not json at all');
  const feed = await standIn(() => ({
    trends: [
      {
        topic: 'Orlando Pirates cup run',
        region: 'SA',
        metrics: { viralityScore: 40, sentiment: 0.1, velocity: 5 },
      },
      { garbage: true },
      { topic: '', region: 'SA', metrics: { viralityScore: 40, sentiment: 0.1, velocity: 5 } },
      {
        topic: 'Orlando Pirates cup run',
        region: 'SA',
        metrics: { viralityScore: 400, sentiment: 0.1, velocity: 5 },
      },
    ],
  }));
  const ids = { 'BTC-USDC': 'BTCUSDT' };
  ex = await runExchange({
    PRICE_FETCH_INTERVAL_MS: '200',
    TREND_PULL_INTERVAL_MS: '200',
    PRICE_SOURCES: JSON.stringify([
      { name: 'cg', url: cg, format: 'coingecko', ids: { 'BTC-USDC': 'bitcoin' } },
      { name: 'ex1', url: ex1, format: 'ticker', ids },
      { name: 'ex2', url: ex2, format: 'ticker', ids },
      { name: 'old', url: stale, format: 'coingecko', ids: { 'BTC-USDC': 'bitcoin' } },
      { name: 'dead', url: dead, format: 'ticker', ids },
    ]),
    TREND_SOURCES: JSON.stringify([{ name: 'feed', url: feed }]),
  });
  await ex.asset('BTC', 8);
  await ex.asset('USDC', 6, 'stable');
  await ex.market({
    symbol: 'BTC-USDC',
    baseAsset: 'BTC',
    quoteAsset: 'USDC',
    priceDecimals: 2,
    qtyDecimals: 4,
    tickSize: '0.01',
    lotSize: '0.0001',
    minQty: '0.0001',
  });
});

afterAll(async () => {
  await ex.stop();
  for (const server of servers) server.close();
});

describe('aggregated reference prices', () => {
  it('pushes the median of fresh quotes within the band, the sources health on /metrics', async () => {
    const client = await ex.client();
    const tickers: { indexPrice?: string | undefined }[] = [];
    await client.subscribe('ticker', { market: 'BTC-USDC' }, (push) => tickers.push(push));
    // cg 67000.10 and ex1 67010.30 agree; ex2 (90000) is an outlier, `old` is stale, `dead` garbage:
    // the median of the two left, half up: (6700010 + 6701030) / 2 = 6700520 cents.
    await eventually(() => tickers.some((t) => t.indexPrice === '67005.20'), {
      what: () => `indexPrice 67005.20, got ${JSON.stringify(tickers.at(-1))}`,
    });
    const metrics = await eventually(async () => {
      const text = String((await ex.request('GET', '/metrics')).body);
      return text.includes('exchange_price_source_quotes_total{source="ex2",outcome="outlier"}')
        ? text
        : undefined;
    });
    expect(metrics).toMatch(/exchange_price_source_up\{source="cg"\} 1/);
    expect(metrics).toMatch(/exchange_price_source_up\{source="dead"\} 0/);
    expect(metrics).toMatch(/exchange_price_source_failures_total\{source="dead"\} [1-9]/);
    expect(metrics).toMatch(/exchange_price_source_quotes_total\{source="old",outcome="stale"\} [1-9]/);
    expect(metrics).toMatch(/exchange_price_source_quotes_total\{source="cg",outcome="used"\} [1-9]/);
    expect(metrics).toMatch(/exchange_price_source_last_success_seconds\{source="ex1"\} [1-9]/);
  });
});

describe('pulled trend sources', () => {
  it('ingests the good items, logs, counts and skips the garbage', async () => {
    const metrics = await eventually(async () => {
      const text = String((await ex.request('GET', '/metrics')).body);
      return /exchange_trend_updates_total\{source="feed"\} [1-9]/.test(text) ? text : undefined;
    });
    expect(metrics).toMatch(/exchange_trend_source_garbage_total\{source="feed"\} [1-9]/);
    const admin = await ex.token('admin', ['admin']);
    const known = await ex.request('POST', '/api/v1/trends', {
      token: admin,
      body: {
        topic: 'Orlando Pirates cup run',
        region: 'SA',
        metrics: { viralityScore: 41, sentiment: 0, velocity: 1 },
      },
    });
    expect(known.body).toMatchObject({ symbol: 'VIRAL/SA_SPORTS_ORLANDO_PIRATES_001', created: false });
  });
});

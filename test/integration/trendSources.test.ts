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
  const valuations = await standIn(() => ({
    valuations: [
      {
        tokenSymbol: 'GBAR',
        value: '2000000.00',
        currency: 'USD',
        valuationDate: '2026-11-30',
        documentRef: 'appraisal-2026-11',
      },
      { tokenSymbol: 'NOPE', value: '1.00', currency: 'USD', valuationDate: '2026-11-30', documentRef: 'x' },
      { tokenSymbol: 'GBAR', value: 'lots', currency: 'USD', valuationDate: '2026-11-30', documentRef: 'x' },
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
    RWA_VALUATION_SOURCE_URL: valuations,
    RWA_VALUATION_INTERVAL_MS: '200',
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

describe('RWA valuations', () => {
  it('records by hand (issuer or admin) and from the daily source, stored, listed, and pushed as indexPrice per token unit', async () => {
    const issuer = await ex.token('issuer-1', ['issuer']);
    const registered = await ex.request('POST', '/api/v1/markets/register', {
      token: issuer,
      body: {
        name: 'Gold bar 7',
        assetType: 'commodity',
        tokenSymbol: 'GBAR',
        tokenName: 'Gold Bar Token',
        totalSupply: '1000',
        quoteAsset: 'USDC',
        priceDecimals: 2,
        qtyDecimals: 3,
        tickSize: '0.01',
        lotSize: '0.001',
        minQty: '0.001',
      },
    });
    expect(registered.status, JSON.stringify(registered.body)).toBe(201);
    const path = '/api/v1/markets/GBAR-USDC/valuations';
    // The daily source: 2,000,000 over 1000 tokens = 2000.00 per unit; its garbage is skipped.
    await eventually(async () => ((await ex.request('GET', path)).body as unknown[]).length === 1, {
      what: 'the pulled valuation',
    });
    const client = await ex.client();
    const tickers: { indexPrice?: string | undefined }[] = [];
    await client.subscribe('ticker', { market: 'GBAR-USDC' }, (push) => tickers.push(push));
    await eventually(() => tickers.at(-1)?.indexPrice === '2000.00', {
      what: 'the pulled valuation as indexPrice',
    });

    const body = {
      value: '2100000.005',
      currency: 'USD',
      valuationDate: '2026-12-01',
      documentRef: 'appraisal-2026-12',
    };
    const other = await ex.token('issuer-2', ['issuer']);
    expect((await ex.request('POST', path, { token: other, body })).status).toBe(403);
    const bad = await ex.request('POST', path, { token: issuer, body: { ...body, valuationDate: '1 Dec' } });
    expect(bad.status).toBe(400);
    expect((bad.body as { error: { field: string } }).error.field).toBe('valuationDate');
    const recorded = await ex.request('POST', path, { token: issuer, body });
    expect(recorded.status, JSON.stringify(recorded.body)).toBe(201);
    // 2,100,000.005 / 1000 = 2100.000005: half up to 2100.00.
    expect(recorded.body).toMatchObject({
      perUnit: '2100.00',
      source: 'manual',
      recordedBy: 'issuer-1',
      documentRef: 'appraisal-2026-12',
    });
    expect((await ex.request('POST', path, { token: issuer, body })).status).toBe(409);
    await eventually(() => tickers.at(-1)?.indexPrice === '2100.00', {
      what: 'the recorded valuation as indexPrice',
    });
    const admin = await ex.token('admin', ['admin']);
    const later = { ...body, value: '2200000', valuationDate: '2026-12-02', source: 'auditor' };
    expect((await ex.request('POST', path, { token: admin, body: later })).body).toMatchObject({
      perUnit: '2200.00',
      recordedBy: 'admin',
    });
    const list = (await ex.request('GET', path)).body as { valuationDate: string; source: string }[];
    expect(list.map((v) => [v.valuationDate, v.source])).toEqual([
      ['2026-12-02', 'auditor'],
      ['2026-12-01', 'manual'],
      ['2026-11-30', expect.stringMatching(/^feed:127\.0\.0\.1:/) as unknown],
    ]);
    expect((await ex.request('GET', '/api/v1/markets/BTC-USDC/valuations')).status).toBe(404);
    // The asset's details show the latest.
    const details = await ex.request('GET', '/api/v1/markets/GBAR-USDC/details');
    expect(details.body).toMatchObject({
      valuation: { perUnit: '2200.00', valuationDate: '2026-12-02', source: 'auditor' },
    });
  });
});

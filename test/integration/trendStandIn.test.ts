import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TrendBody } from '../../src/trends/schemas.ts';
import { eventually } from '../support/eventually.ts';
import { runExchange, type RunningExchange } from '../support/exchange.ts';
import {
  DEFAULT_TOPICS,
  GARBAGE_ITEMS,
  startTrendSource,
  type StandInTrendSource,
} from '../../scripts/trend-source.ts';

/**
 * The local stand-in of the trend and valuation feeds (scripts/trend-source.ts, issue 19: "a local
 * stand-in for development"): what it serves is what the jobs read. Its walk stays within the
 * contract's ranges; its garbage is refused by the same schema; and the exchange's pull-trends and
 * update-token-metadata jobs, pointed at it, ingest its topics (the contract's symbols) and store
 * its valuation.
 */

let source: StandInTrendSource;
let ex: RunningExchange;

beforeAll(async () => {
  source = await startTrendSource({ mode: 'garbage', seed: 7 });
  ex = await runExchange({
    TREND_PULL_INTERVAL_MS: '200',
    TREND_SOURCES: JSON.stringify([{ name: 'dev', url: `${source.url}/trends` }]),
    RWA_VALUATION_SOURCE_URL: `${source.url}/valuations`,
    RWA_VALUATION_INTERVAL_MS: '200',
  });
  await ex.asset('USDC', 6, 'stable');
});

afterAll(async () => {
  await ex.stop();
  await source.close();
});

describe('the trend stand-in', () => {
  it('walks within the contract ranges; its garbage items are refused by the same schema', async () => {
    const walk = await startTrendSource({ mode: 'walk', seed: 3 });
    try {
      for (let i = 0; i < 200; i++) {
        const document = (await (await fetch(`${walk.url}/trends`)).json()) as { trends: unknown[] };
        expect(document.trends).toHaveLength(DEFAULT_TOPICS.length);
        for (const item of document.trends) expect(TrendBody.safeParse(item).success).toBe(true);
      }
      for (const item of GARBAGE_ITEMS) expect(TrendBody.safeParse(item).success).toBe(false);
      walk.setMode('down');
      expect((await fetch(`${walk.url}/trends`)).status).toBe(503);
    } finally {
      await walk.close();
    }
  });

  it('feeds the pull-trends job (good items ingested, garbage counted) and the valuation job', async () => {
    const metrics = await eventually(async () => {
      const text = String((await ex.request('GET', '/metrics')).body);
      return /exchange_trend_updates_total\{source="dev"\} ([5-9]|\d\d)/.test(text) ? text : undefined;
    });
    expect(metrics).toMatch(/exchange_trend_source_garbage_total\{source="dev"\} ([6-9]|\d\d)/);
    const feeder = await ex.token('feeder', ['ingest']);
    for (const [topic, symbol] of [
      ['DJ Zinhle dance challenge', 'VIRAL/SA_DJ_ZINHLE_001'],
      ['Bitcoin price spike', 'VIRAL/SA_CRYPTO_BTC_001'],
      ['Springboks win', 'VIRAL/SA_SPORTS_SPRINGBOKS_001'],
    ] as const) {
      const known = await ex.request('POST', '/api/v1/trends', {
        token: feeder,
        body: { topic, region: 'SA', metrics: { viralityScore: 1, sentiment: 0, velocity: 0 } },
      });
      expect(known.body).toMatchObject({ symbol, created: false });
    }

    const issuer = await ex.token('issuer-1', ['issuer']);
    const registered = await ex.request('POST', '/api/v1/markets/register', {
      token: issuer,
      body: {
        name: 'Gold bar 9',
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
    const list = await eventually(async () => {
      const answer = (await ex.request('GET', '/api/v1/markets/GBAR-USDC/valuations')).body as {
        perUnit: string;
        documentRef: string;
        source: string;
      }[];
      return answer.length > 0 ? answer : undefined;
    });
    expect(list[0]).toMatchObject({
      perUnit: '2000.00',
      documentRef: expect.stringMatching(/^stand-in-GBAR-\d{4}-\d{2}-\d{2}$/) as unknown,
      source: expect.stringMatching(/^feed:127\.0\.0\.1:/) as unknown,
    });
  });
});

import { createPool, sql, type DatabasePool } from 'slonik';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { DomainEvent } from '../../src/events/domain.ts';
import { DurableConsumerRunner } from '../../src/persistence/durableConsumers.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { eventually } from '../support/eventually.ts';
import { runExchange, type RunningExchange } from '../support/exchange.ts';

// HTTP bodies are JSON of many shapes; these tests read them field by field.
/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-argument */

/**
 * Trend markets end to end (issue 19): POST /trends over HTTP names a topic's symbol and stores its
 * metrics; a trend symbol listed as a market trades like any other; each metrics update moves its
 * index price, pushed as the ticker's `indexPrice` over a real WebSocket; GET /market/:symbol
 * answers the contract's shape; signals land on the committed event stream as `@trends` records
 * (read back by a durable consumer), and all of it survives a restart.
 */

const ZINHLE = 'VIRAL/SA_DJ_ZINHLE_001';
const MARKET = 'SADJZINHLE001-USDC';

let database: TestDatabase;
let ex: RunningExchange;
let admin: string;
let feeder: string;

beforeAll(async () => {
  database = await createTestDatabase('trends');
  ex = await runExchange({ TRENDS_RATE_PER_S: '50', TRENDS_RATE_BURST: '50' }, { database });
  admin = await ex.token('trend-admin', ['admin']);
  feeder = await ex.token('feeder', ['ingest']);
  await ex.asset('USDC', 6, 'stable');
});

afterAll(async () => {
  await ex.stop();
  await database.drop();
});

const metrics = (viralityScore: number, velocity = 10, sentiment = 0.2) => ({
  viralityScore,
  velocity,
  sentiment,
});
const post = (body: unknown, token = feeder) => ex.request('POST', '/api/v1/trends', { token, body });

describe('POST /trends', () => {
  it("names the contract's examples and gives the same topic the same symbol", async () => {
    const first = await post({ topic: 'DJ Zinhle dance challenge', region: 'SA', metrics: metrics(50) });
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ symbol: ZINHLE, created: true, viralityScore: 50 });
    const again = await post({ topic: 'DJ Zinhle dance challenge', region: 'SA', metrics: metrics(50) });
    expect(again.body).toMatchObject({ symbol: ZINHLE, created: false });
    const btc = await post({ topic: 'Bitcoin price spike', region: 'SA', metrics: metrics(20) }, admin);
    expect(btc.body.symbol).toBe('VIRAL/SA_CRYPTO_BTC_001');
    const boks = await post({ topic: 'Springboks win', region: 'sa', metrics: metrics(20) });
    expect(boks.body.symbol).toBe('VIRAL/SA_SPORTS_SPRINGBOKS_001');
    const other = await post({ topic: 'Bitcoin crash', region: 'SA', metrics: metrics(20) });
    expect(other.body.symbol).toBe('VIRAL/SA_CRYPTO_BTC_002');
  });

  it('gives concurrent new topics of one stem distinct numbers', async () => {
    const topics = [
      'Kaizer Chiefs coach',
      'Kaizer Chiefs transfer',
      'Amakhosi fans',
      'Kaizer Chiefs kit',
      'Amakhosi derby',
    ];
    const answers = await Promise.all(
      topics.map((topic) => post({ topic, region: 'SA', metrics: metrics(1) })),
    );
    const symbols = answers.map((a) => a.body.symbol as string).sort();
    expect(symbols).toEqual([1, 2, 3, 4, 5].map((n) => `VIRAL/SA_SPORTS_KAIZER_CHIEFS_00${n}`));
  });

  it('answers 400 naming the field of each bad input, and changes nothing', async () => {
    const cases: [unknown, string][] = [
      [{ topic: 'Bitcoin price spike', region: 'SA' }, 'metrics'],
      [
        { topic: 'Bitcoin price spike', region: 'SA', metrics: { sentiment: 0, velocity: 1 } },
        'metrics.viralityScore',
      ],
      [{ topic: 'Bitcoin price spike', region: 'SA', metrics: metrics(101) }, 'metrics.viralityScore'],
      [{ topic: 'Bitcoin price spike', region: 'SA', metrics: metrics(-1) }, 'metrics.viralityScore'],
      [{ topic: 'Bitcoin price spike', region: 'SA', metrics: metrics(50, 1, 1.5) }, 'metrics.sentiment'],
      [{ topic: 'Bitcoin price spike', region: 'SA', metrics: metrics(50, 1, -1.01) }, 'metrics.sentiment'],
      [{ topic: '', region: 'SA', metrics: metrics(50) }, 'topic'],
      [{ topic: '   ', region: 'SA', metrics: metrics(50) }, 'topic'],
      [{ topic: 'x'.repeat(500), region: 'SA', metrics: metrics(50) }, 'topic'],
      [{ topic: 'Bitcoin', region: 'South Africa', metrics: metrics(50) }, 'region'],
      [{ topic: 'Bitcoin', region: 'SA', metrics: metrics(50), ts: Date.now() - 30 * 86_400_000 }, 'ts'],
    ];
    for (const [body, field] of cases) {
      const answer = await post(body);
      expect(answer.status, JSON.stringify(body).slice(0, 80)).toBe(400);
      expect(answer.body.error).toMatchObject({ code: 'bad_request', field });
      expect(answer.body.error.message).toContain(field.split('.').at(-1));
    }
    const rows = await ex.request(
      'GET',
      '/api/v1/trends/simulation?symbol=VIRAL%2FSA_CRYPTO_BTC_001&from=0&to=1',
    );
    expect(rows.status).toBe(404); // no market yet, and nothing was listed by the refusals
  });

  it('needs the admin or ingest role, and limits each token', async () => {
    const trader = await ex.token('someone', ['trader']);
    expect((await post({ topic: 'Tyla', region: 'SA', metrics: metrics(5) }, trader)).status).toBe(403);
    expect((await ex.request('POST', '/api/v1/trends', { body: {} })).status).toBe(401);
    const busy = await ex.token('busy-feeder', ['ingest']);
    const answers = await Promise.all(
      Array.from({ length: 60 }, () =>
        post({ topic: 'Tyla new single', region: 'SA', metrics: metrics(5) }, busy),
      ),
    );
    const limited = answers.filter((a) => a.status === 429);
    expect(limited.length).toBeGreaterThan(0);
    expect(limited[0]!.body.error.code).toBe('rate_limited');
    // Another token is not held back by that one.
    expect((await post({ topic: 'Tyla new single', region: 'SA', metrics: metrics(5) })).status).toBe(201);
  });
});

describe('a trend market', () => {
  it('lists with a base price, trades, and streams each update as the ticker indexPrice over a WebSocket', async () => {
    const listed = await ex.request('POST', '/api/v1/trends/markets', {
      token: admin,
      body: {
        symbol: ZINHLE,
        quoteAsset: 'USDC',
        basePrice: '10.00',
        priceDecimals: 2,
        qtyDecimals: 0,
        tickSize: '0.01',
        lotSize: '1',
        minQty: '1',
      },
    });
    expect(listed.status, JSON.stringify(listed.body)).toBe(201);
    // The baseline is the last score (50): the index price starts at the base price.
    expect(listed.body).toMatchObject({
      market: MARKET,
      basePrice: '10.00',
      pointValue: '0.10',
      floorPrice: '1.00',
      baselineScore: 50,
      indexPrice: '10.00',
    });
    expect(
      (
        await ex.request('POST', '/api/v1/trends/markets', {
          token: admin,
          body: {
            ...listed.body,
            quoteAsset: 'USDC',
            priceDecimals: 2,
            qtyDecimals: 0,
            tickSize: '0.01',
            lotSize: '1',
            minQty: '1',
            basePrice: '10.00',
          },
        })
      ).status,
    ).toBe(409);

    const client = await ex.client();
    const tickers: { indexPrice?: string | undefined }[] = [];
    await client.subscribe('ticker', { market: MARKET }, (push) => tickers.push(push));
    await eventually(() => tickers.at(-1)?.indexPrice === '10.00', { what: 'the ticker snapshot' });

    // +10 points at +50 %/h and sentiment 0.5: 10.00 + 10 × 1.5 × 1.5 × 0.10 = 12.25.
    const update = await post({
      topic: 'DJ Zinhle dance challenge',
      region: 'SA',
      metrics: { viralityScore: 60, velocity: 50, sentiment: 0.5, engagementRate: 0.3, volume: 1200 },
    });
    expect(update.body).toMatchObject({ symbol: ZINHLE, market: MARKET, indexPrice: '12.25' });
    await eventually(() => tickers.at(-1)?.indexPrice === '12.25', {
      what: () => `indexPrice 12.25, got ${JSON.stringify(tickers.at(-1))}`,
    });

    // It trades like any other market.
    for (const user of ['ann', 'bob']) await ex.credit(user, 'USDC', '1000');
    await ex.credit('ann', 'SADJZINHLE001', '10');
    const ann = await ex.token('ann', ['trader']);
    const bob = await ex.token('bob', ['trader']);
    const sell = await ex.request('POST', '/api/v1/orders', {
      token: ann,
      body: { market: MARKET, side: 'sell', type: 'limit', qty: '4', price: '12.00' },
    });
    expect(sell.status, JSON.stringify(sell.body)).toBe(201);
    const buy = await ex.request('POST', '/api/v1/orders', {
      token: bob,
      body: { market: MARKET, side: 'buy', type: 'limit', qty: '4', price: '12.00' },
    });
    expect(buy.body).toMatchObject({ status: 'filled', filledQty: '4' });

    const view = await eventually(async () => {
      const r = await ex.request('GET', `/api/v1/market/${encodeURIComponent(ZINHLE)}`);
      return r.body.volume === '4' ? r : undefined;
    });
    expect(view.status).toBe(200);
    expect(Object.keys(view.body).sort()).toEqual(
      [
        'symbol',
        'name',
        'currentPrice',
        'priceChange',
        'priceChangePercent',
        'volume',
        'viralityScore',
        'sentiment',
        'lastUpdated',
      ].sort(),
    );
    expect(view.body).toMatchObject({
      symbol: ZINHLE,
      name: 'DJ Zinhle dance challenge',
      currentPrice: '12.25',
      priceChange: '2.25',
      priceChangePercent: 22.5,
      volume: '4',
      viralityScore: 60,
      sentiment: 0.5,
    });
    expect(view.body.lastUpdated).toBe(update.body.ts);
    // The slash may come literally too.
    expect((await ex.request('GET', `/api/v1/market/${ZINHLE}`)).body).toEqual(view.body);
    expect((await ex.request('GET', '/api/v1/market/VIRAL%2FSA_NOTHING_001')).status).toBe(404);

    const simulation = await ex.request(
      'GET',
      `/api/v1/trends/simulation?symbol=${encodeURIComponent(ZINHLE)}&from=${Date.now() - 60_000}&to=${Date.now() + 1000}&steps=20&seed=7`,
    );
    expect(simulation.status).toBe(200);
    expect(simulation.body.points).toHaveLength(21);
    const replay = await ex.request(
      'GET',
      `/api/v1/trends/simulation?symbol=${encodeURIComponent(ZINHLE)}&from=${simulation.body.points[0].t}&to=${simulation.body.points.at(-1).t}&steps=20&seed=7`,
    );
    expect(replay.body.points.map((p: { priceTicks: number }) => p.priceTicks)).toEqual(
      simulation.body.points.map((p: { priceTicks: number }) => p.priceTicks),
    );
  });

  it('journals trend.detected and market.breakout as @trends records a durable consumer reads, and recovers', async () => {
    // Five quiet updates of history for the breakout window, then a jump past the threshold.
    for (let i = 0; i < 5; i++)
      await post({ topic: 'DJ Zinhle dance challenge', region: 'SA', metrics: metrics(60, 1, 0) });
    const jump = await post({
      topic: 'DJ Zinhle dance challenge',
      region: 'SA',
      metrics: metrics(90, 80, 0.9),
    });
    expect(jump.status).toBe(201);

    const pool: DatabasePool = await createPool(database.url, { maximumPoolSize: 2 });
    try {
      const seen: DomainEvent[] = [];
      const runner = new DurableConsumerRunner(pool, {
        name: 'trends-test',
        apply: (_tx, page) => {
          for (const record of page.records) seen.push(...record.events);
          return Promise.resolve();
        },
      });
      await eventually(
        async () => {
          await runner.runOnce();
          return seen.some((e) => e.type === 'market.breakout');
        },
        { what: 'the signals on the journal' },
      );
      const detected = seen.filter((e) => e.type === 'trend.detected');
      expect(detected).toEqual([
        expect.objectContaining({
          type: 'trend.detected',
          symbol: ZINHLE,
          topic: 'DJ Zinhle dance challenge',
          viralityScore: 90,
          sentiment: 0.9,
        }),
      ]);
      expect(seen.filter((e) => e.type === 'market.breakout')).toEqual([
        expect.objectContaining({
          type: 'market.breakout',
          symbol: ZINHLE,
          direction: 'up',
          marketId: jump.body.marketId,
        }),
      ]);
      // The projector goes past them.
      const Cursor = z.object({ behind: z.string() });
      await eventually(
        async () => {
          const row = await pool.one(sql.type(Cursor)`
          SELECT ((SELECT max(global_seq) FROM journal) - global_seq)::text AS behind
          FROM projection_cursors WHERE projection = 'relational'`);
          return row.behind === '0';
        },
        { what: 'the projector past the @trends records' },
      );
    } finally {
      await pool.end();
    }
    const before = (await ex.request('GET', `/api/v1/market/${encodeURIComponent(ZINHLE)}`)).body;

    // A restart on the same database: recovery passes the @trends records, the state comes back.
    await ex.stop();
    ex = await runExchange({}, { database });
    feeder = await ex.token('feeder', ['ingest']);
    expect((await ex.request('GET', `/api/v1/market/${encodeURIComponent(ZINHLE)}`)).body).toEqual(before);
    const again = await post({
      topic: 'DJ Zinhle dance challenge',
      region: 'SA',
      metrics: metrics(91, 10, 0.9),
    });
    expect(again.body).toMatchObject({ symbol: ZINHLE, created: false, market: MARKET });
    expect((await post({ topic: 'Bitcoin halving', region: 'SA', metrics: metrics(1) })).body.symbol).toBe(
      'VIRAL/SA_CRYPTO_BTC_003',
    );
  });
});

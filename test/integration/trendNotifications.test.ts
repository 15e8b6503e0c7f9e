import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/eventually.ts';
import { runExchange, type RunningExchange } from '../support/exchange.ts';

/**
 * Trend signals become notifications end to end (issue 17 on issue 19's stream): metrics posted
 * over HTTP journal `@trends` records; the notifier turns `trend.detected` and `market.breakout`
 * of a listed trend market into `trend_detected` and `market_breakout` for the holders of its
 * asset, pushed in-app and listed at GET /notifications; a user holding nothing hears nothing.
 */

const TOPIC = 'Amapiano festival';
let ex: RunningExchange;

beforeAll(async () => {
  ex = await runExchange({ TRENDS_RATE_PER_S: '50', TRENDS_RATE_BURST: '50', NOTIFY_INTERVAL_MS: '20' });
  await ex.asset('USDC', 6, 'stable');
});

afterAll(async () => {
  await ex.stop();
});

const metrics = (viralityScore: number, velocity: number, sentiment: number) => ({
  viralityScore,
  velocity,
  sentiment,
});

interface Listed {
  type: string;
  title: string;
  data: Record<string, unknown>;
}

describe('trend notifications', () => {
  it('tells the holders of a trend market’s asset of a detected trend and a breakout', async () => {
    const admin = await ex.token('trend-admin', ['admin']);
    const feeder = await ex.token('feeder', ['ingest']);
    const post = (body: unknown) => ex.request('POST', '/api/v1/trends', { token: feeder, body });
    const first = await post({ topic: TOPIC, region: 'SA', metrics: metrics(50, 1, 0) });
    expect(first.status, JSON.stringify(first.body)).toBe(201);
    const symbol = (first.body as { symbol: string }).symbol;
    const listed = await ex.request('POST', '/api/v1/trends/markets', {
      token: admin,
      body: {
        symbol,
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
    const market = (listed.body as { market: string }).market;
    const asset = market.split('-')[0]!;
    await ex.credit('holder', asset, '5');
    const holder = await ex.token('holder', ['trader']);
    const stranger = await ex.token('stranger', ['trader']);
    const pushes: { type: string }[] = [];
    const socket = await ex.client(holder);
    await socket.subscribe('notifications', {}, (push: { type: string }) => pushes.push(push));

    // Quiet history for the breakout window, then a jump past the thresholds.
    for (let i = 0; i < 5; i++) await post({ topic: TOPIC, region: 'SA', metrics: metrics(60, 1, 0) });
    expect((await post({ topic: TOPIC, region: 'SA', metrics: metrics(90, 80, 0.9) })).status).toBe(201);

    const list = async (token: string) =>
      (await ex.request('GET', '/api/v1/notifications', { token })).body as Listed[];
    const heard = await eventually(
      async () => {
        const rows = await list(holder);
        return (
          rows.some((n) => n.type === 'trend_detected') &&
          rows.some((n) => n.type === 'market_breakout') &&
          rows
        );
      },
      { what: 'trend_detected and market_breakout for the holder' },
    );
    expect(heard.find((n) => n.type === 'market_breakout')).toMatchObject({
      data: expect.objectContaining({ direction: 'up' }) as object,
    });
    await eventually(() => pushes.some((p) => p.type === 'market_breakout'), { what: 'the in-app push' });
    expect(
      (await list(stranger)).filter((n) => n.type.startsWith('trend') || n.type === 'market_breakout'),
    ).toEqual([]);
  });
});

import { createPool, sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyLeg, emptyPosition, type Leg } from '../../src/analytics/portfolio/positions.ts';
import { dropEquityPartitionsBefore, ensureEquityPartitions } from '../../src/persistence/equityStore.ts';
import { resetPortfolio, userPositions } from '../../src/persistence/portfolioStore.ts';
import { eventually } from '../support/eventually.ts';
import { runExchange, type RunningExchange } from '../support/exchange.ts';
import { listMarkets, ORDER_RATES } from '../wire/fixtures.ts';

/*
 * Issue 18, portfolio: fills through the real exchange (BTC-USDC, maker 10 / taker 20 bps) become
 * positions by the durable consumer `portfolio`; GET /portfolio?in=USDC values them at the last
 * price; the rows equal a brute-force recomputation from the fills, and again after the consumer
 * is reset and rebuilds them from the journal. An asset no market prices is `unpriced`.
 */

let x: RunningExchange;
let pool: DatabasePool;
let alice: string;
let bob: string;
const started = Date.now();

interface View {
  readonly equity: string;
  readonly cash: readonly { asset: string; available: string; locked: string }[];
  readonly positions: readonly Record<string, unknown>[];
  readonly error: { readonly message: string };
}

async function get(path: string, token: string): Promise<{ status: number; body: View }> {
  const answer: { status: number; body: unknown } = await x.request('GET', path, { token });
  return answer as { status: number; body: View };
}

beforeAll(async () => {
  x = await runExchange({
    ...ORDER_RATES,
    PORTFOLIO_HISTORY_INTERVAL_MS: '200',
    LEADERBOARD_REFRESH_MS: '200',
  });
  pool = await createPool(x.database.url, { maximumPoolSize: 2 });
  alice = await x.token('alice', ['trader']);
  bob = await x.token('bob', ['trader']);
  await listMarkets(x);
  await x.asset('GOLD', 2);
  await x.credit('alice', 'USDC', '100000');
  await x.credit('bob', 'BTC', '10');
  await x.credit('bob', 'USDC', '100000');
  await x.credit('alice', 'GOLD', '5');
}, 60_000);

afterAll(async () => {
  await pool.end();
  await x.stop();
});

/** bob rests the other side, alice takes it: alice is the taker (20 bps of what she receives). */
async function trade(side: 'buy' | 'sell', price: string, qty: string): Promise<void> {
  const [maker, taker] = [bob, alice];
  const rest = await x.request('POST', '/api/v1/orders', {
    token: maker,
    body: { market: 'BTC-USDC', type: 'limit', side: side === 'buy' ? 'sell' : 'buy', price, qty },
  });
  expect(rest.status).toBe(201);
  const take = await x.request('POST', '/api/v1/orders', {
    token: taker,
    body: { market: 'BTC-USDC', type: 'limit', side, price, qty },
  });
  expect(take.body).toMatchObject({ status: 'filled' });
}

/** alice's legs of each trade: price in USDC, qty in BTC; alice is the taker (20 bps). */
function aliceLegs(trades: readonly (readonly ['buy' | 'sell', number, number])[]): Leg[] {
  return trades.map(([side, price, qty]) => {
    const base = BigInt(Math.round(qty * 1e8));
    const quote = BigInt(Math.round(price * 100)) * BigInt(Math.round(qty * 1e4));
    const received = side === 'buy' ? base : quote;
    return {
      userId: 'alice',
      asset: 'BTC',
      quoteAsset: 'USDC',
      side,
      base,
      quote,
      fee: (received * 20n + 9_999n) / 10_000n,
      ts: 0,
    };
  });
}

describe('portfolio', () => {
  it('keeps positions from fills and values them at the last price', async () => {
    const trades = [
      ['buy', 100, 2],
      ['buy', 110, 1],
      ['sell', 120, 1.5],
      ['buy', 90, 0.5],
    ] as const;
    for (const [side, price, qty] of trades) await trade(side, price.toFixed(2), qty.toFixed(4));
    const expected = aliceLegs(trades).reduce(applyLeg, emptyPosition('alice', 'BTC', 'USDC'));

    const rows = await eventually(async () => {
      const read = await userPositions(pool, 'alice');
      return read[0]?.fills === trades.length ? read : undefined;
    });
    expect(rows).toEqual([expected]);

    const r = await get('/api/v1/portfolio?in=USDC', alice);
    expect(r.status).toBe(200);
    // last price 90.00; value = qty × 90
    const qty = Number(expected.qty) / 1e8;
    const value = (expected.qty * 9000n * 10_000n) / 10n ** 8n; // USDC minor: qty(BTC) × 90.00
    expect(r.body).toMatchObject({
      in: 'USDC',
      positions: [
        {
          asset: 'BTC',
          quoteAsset: 'USDC',
          qty: qty.toFixed(8),
          lastPrice: '90.000000',
          value: (Number(value) / 1e6).toFixed(6),
          unrealizedPnl: (Number(value - expected.cost) / 1e6).toFixed(6),
          realizedPnl: (Number(expected.realized) / 1e6).toFixed(6),
          avgPrice: (Number((expected.cost * 10n ** 8n) / expected.qty) / 1e6).toFixed(6),
        },
      ],
      realizedPnl: (Number(expected.realized) / 1e6).toFixed(6),
      unpriced: ['GOLD'],
    });
    // equity = USDC held + BTC held × 90 (GOLD unpriced: left out)
    const balances = r.body.cash;
    const held = (asset: string) => {
      const b = balances.find((c) => c.asset === asset)!;
      return Number(b.available) + Number(b.locked);
    };
    expect(Number(r.body.equity)).toBeCloseTo(held('USDC') + held('BTC') * 90, 5);

    const bobView = await get('/api/v1/portfolio?in=USDC', bob);
    // bob's first sells were of deposited BTC (no cost: realized in full); then 1.5 bought (maker,
    // 10 bps of it in BTC), 0.5 sold.
    expect(bobView.body.positions[0]).toMatchObject({ asset: 'BTC', qty: '0.99850000' });
  });

  it('leaderboards show opted-in display names only, by volume and by realized PnL', async () => {
    const optIn = await x.request('POST', '/api/v1/leaderboard/profile', {
      token: alice,
      body: { displayName: 'Alice_A', optIn: true },
    });
    expect(optIn.status).toBe(200);
    const taken = await x.request('POST', '/api/v1/leaderboard/profile', {
      token: bob,
      body: { displayName: 'Alice_A', optIn: true },
    });
    expect(taken.status).toBe(409);
    const badName = await x.request('POST', '/api/v1/leaderboard/profile', {
      token: bob,
      body: { displayName: 'x', optIn: true },
    });
    expect(badName.body).toMatchObject({ error: { code: 'bad_request' } });
    expect((badName.body as { error: { message: string } }).error.message).toMatch(/^displayName: /);

    // The boards are the `update-market-stats` job's (every 200 ms here): alice shows after a run.
    const board = async (query: string, ready: (entries: { displayName: string }[]) => boolean) =>
      eventually(async () => {
        const r = await x.request('GET', `/api/v1/leaderboards?${query}`);
        const body = r.body as { entries: { displayName: string }[]; computedAt?: number };
        return body.computedAt !== undefined && ready(body.entries) ? body : undefined;
      });
    const volume = await board('market=BTC-USDC&by=volume', (e) => e.length === 1);
    expect(volume).toEqual({
      market: 'BTC-USDC',
      period: '24h',
      by: 'volume',
      entries: [{ rank: 1, displayName: 'Alice_A', value: '5.0000' }],
      computedAt: expect.any(Number) as unknown,
    });
    const stored = await pool.oneFirst(
      sql.type(z.object({ n: z.string() }))`SELECT count(*)::text AS n FROM leaderboard_runs`,
    );
    expect(Number(stored)).toBeGreaterThanOrEqual(6); // 3 periods × 2 measures per market
    const [position] = await userPositions(pool, 'alice');
    const pnl = { body: await board('market=BTC-USDC&by=realizedPnl&period=7d', (e) => e.length === 1) };
    expect(pnl.body).toMatchObject({
      entries: [{ rank: 1, displayName: 'Alice_A', value: (Number(position!.realized) / 1e6).toFixed(6) }],
    });
    expect(JSON.stringify([volume, pnl.body])).not.toContain('alice');

    // bob opts in: both on the board; then opts out: gone.
    await x.request('POST', '/api/v1/leaderboard/profile', {
      token: bob,
      body: { displayName: 'bobby', optIn: true },
    });
    const both = await board('market=BTC-USDC', (e) => e.length === 2);
    expect(both.entries.map((e) => e.displayName).sort()).toEqual(['Alice_A', 'bobby']);
    await x.request('POST', '/api/v1/leaderboard/profile', {
      token: bob,
      body: { displayName: 'bobby', optIn: false },
    });
    // Opting out removes at once (the stored board is joined with the profiles on read).
    const after = await x.request('GET', '/api/v1/leaderboards?market=BTC-USDC');
    expect((after.body as { entries: unknown[]; computedAt?: number }).computedAt).toBeDefined();
    expect((after.body as { entries: unknown[] }).entries).toHaveLength(1);
  });

  it('rebuilds the same positions from the journal after a reset', async () => {
    const before = await userPositions(pool, 'alice');
    const bobBefore = await userPositions(pool, 'bob');
    await resetPortfolio(pool);
    const rebuilt = await eventually(async () => {
      const read = await userPositions(pool, 'alice');
      return read[0]?.fills === before[0]!.fills ? read : undefined;
    });
    expect(rebuilt).toEqual(before);
    const realizedRows = await pool.oneFirst(
      sql.type(
        z.object({ n: z.number() }),
      )`SELECT count(*)::int4 AS n FROM realized_pnl WHERE user_id = 'alice'`,
    );
    expect(realizedRows).toBe(1);
    expect(await userPositions(pool, 'bob')).toEqual(bobBefore);
    const cursor = await pool.oneFirst(
      sql.type(z.object({ g: z.string() }))`
        SELECT global_seq::text AS g FROM projection_cursors WHERE projection = 'portfolio'`,
    );
    expect(Number(cursor)).toBeGreaterThan(0);
  });

  it('reports the market over a window: vwap, volume, trades, candles', async () => {
    const r = await x.request('GET', `/api/v1/analytics/markets/BTC-USDC?interval=1h&from=${started}`);
    expect(r.status).toBe(200);
    // (100 × 2 + 110 × 1 + 120 × 1.5 + 90 × 0.5) / 5 = 107
    expect(r.body).toMatchObject({
      market: 'BTC-USDC',
      interval: '1h',
      vwap: '107.00',
      volume: '5.0000',
      trades: 4,
    });
    const { candles } = r.body as { candles: { o: string; c: string; v: string }[] };
    expect(candles[0]!.o).toBe('100.00');
    expect(candles.at(-1)!.c).toBe('90.00');
    expect(candles.reduce((a, c) => a + Number(c.v), 0)).toBeCloseTo(5, 8);
    expect((await x.request('GET', '/api/v1/analytics/markets/NOPE-USDC')).status).toBe(404);
    // The durable consumer `rollups` holds them at every level (the route reads those rows).
    const levels = await pool.any(
      sql.type(z.object({ bucket: z.string(), n: z.string(), v: z.string() }))`
        SELECT bucket, sum(n)::text AS n, sum(v)::text AS v FROM trade_rollups GROUP BY bucket ORDER BY bucket`,
    );
    expect(levels.map((r) => [r.bucket, r.n, r.v])).toEqual(
      ['1d', '1h', '1m', '5m'].map((bucket) => [bucket, '4', '50000']),
    );

    // The operators' report: admin only.
    const admin = await x.token('root', ['admin']);
    const report = await x.request('GET', `/api/v1/admin/analytics/markets?from=${started}`, {
      token: admin,
    });
    expect(report.status).toBe(200);
    const { byVolume, topMovers } = report.body as { byVolume: { change: number }[]; topMovers: unknown[] };
    expect(byVolume).toEqual([
      {
        market: 'BTC-USDC',
        trades: 4,
        volume: '5.0000',
        first: '100.00',
        last: '90.00',
        change: expect.any(Number) as unknown,
      },
    ]);
    expect(byVolume[0]!.change).toBeCloseTo(-0.1, 12);
    expect(topMovers).toEqual(byVolume);
    const forbidden = await x.request('GET', '/api/v1/admin/analytics/markets', { token: alice });
    expect(forbidden.status).toBe(403);
    const bad = await x.request('GET', '/api/v1/analytics/markets/BTC-USDC?interval=2m');
    expect(bad.status).toBe(400);
  });

  it('records equity at the interval into monthly partitions and serves /portfolio/history', async () => {
    const now = await get('/api/v1/portfolio?in=USDC', alice);
    const points = await eventually(async () => {
      const r = await x.request('GET', `/api/v1/portfolio/history?in=USDC&interval=1m&from=${started}`, {
        token: alice,
      });
      const list = r.body as { t: number; equity: string }[];
      return list.at(-1)?.equity === now.body.equity ? list : undefined;
    });
    for (const point of points) expect(point.t % 60_000).toBe(0);
    const partitions = await pool.anyFirst(
      sql.type(z.object({ name: z.string() }))`
        SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'equity_points' ORDER BY 1`,
    );
    const month = (add: number) => {
      const d = new Date();
      const m = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + add, 1));
      return `equity_points_${m.getUTCFullYear()}${String(m.getUTCMonth() + 1).padStart(2, '0')}`;
    };
    expect(partitions).toEqual([month(0), month(1)]);
    // Retention drops whole months that ended before the cutoff, none younger.
    expect(await dropEquityPartitionsBefore(pool, Date.now() - 400 * 86_400_000)).toBe(0);
    const inTwoMonths = new Date();
    inTwoMonths.setUTCMonth(inTwoMonths.getUTCMonth() + 2, 15);
    expect(await dropEquityPartitionsBefore(pool, inTwoMonths.getTime())).toBe(2);
    await ensureEquityPartitions(pool, Date.now());
    const bad = await x.request('GET', '/api/v1/portfolio/history?in=BTC', { token: alice });
    expect(bad.status).toBe(400);
  });

  it('answers 400 for a missing or unknown `in`', async () => {
    expect((await x.request('GET', '/api/v1/portfolio', { token: alice })).status).toBe(400);
    const unknown = await get('/api/v1/portfolio?in=NOPE', alice);
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.message).toMatch(/^in: no asset NOPE/);
  });
});

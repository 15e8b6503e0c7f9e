import { createPool, sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planOf, seriesFromCandles } from '../../src/analytics/backtest/config.ts';
import { runPlan } from '../../src/analytics/backtest/run.ts';
import { tradeBars } from '../../src/persistence/backtestStore.ts';
import { eventually } from '../support/eventually.ts';
import { runExchange, type RunningExchange } from '../support/exchange.ts';
import { ETH_USDC, listMarkets, ORDER_RATES } from '../wire/fixtures.ts';

/*
 * Issue 18, back-testing over the wire: POST /backtests answers 202 and queues a BullMQ job on the
 * exchange's Redis; the worker runs it on a thread and stores the result in Postgres; GET polls it,
 * only for its owner; the list pages. Bad configs answer 400 naming the field and store nothing;
 * the bound on runs going per user answers 429; a replay of the exchange's own trades reads them.
 */

let x: RunningExchange;
let pool: DatabasePool;
let alice: string;
let bob: string;
const MINUTE = 60_000;
const Count = z.object({ n: z.number() });

const CANDLES = [10, 9, 11, 12, 8, 9, 10, 13, 12, 14, 11, 10].map((close, i, all) => {
  const open = i === 0 ? close : all[i - 1]!;
  return {
    t: 1_700_000_000_000 + i * MINUTE,
    o: `${open}.00`,
    h: `${Math.max(open, close)}.50`,
    l: `${Math.min(open, close) - 1}.00`,
    c: `${close}.00`,
  };
});
const CONFIG = {
  strategy: { id: 'sma_cross', params: { fast: 2, slow: 3 } },
  initialCapital: '1000.00',
  feeBps: 10,
  slippageBps: 5,
  interval: '1m',
  candles: CANDLES,
};

beforeAll(async () => {
  x = await runExchange({ ...ORDER_RATES, BACKTEST_MAX_ACTIVE_PER_USER: '2' });
  pool = await createPool(x.database.url, { maximumPoolSize: 2 });
  alice = await x.token('alice', ['trader']);
  bob = await x.token('bob', ['trader']);
  await listMarkets(x);
}, 60_000);

afterAll(async () => {
  await pool.end();
  await x.stop();
});

interface Answer {
  readonly id: string;
  readonly status: string;
  readonly error: { readonly code: string; readonly message: string };
  readonly [field: string]: unknown;
}

/** x.request with the answer's fields typed (the support helper answers `any`). */
async function call(
  method: string,
  path: string,
  options?: { token?: string; body?: unknown },
): Promise<{ status: number; body: Answer }> {
  const answer: { status: number; body: unknown } = await x.request(method, path, options);
  return answer as { status: number; body: Answer };
}

async function done(id: string, token = alice): Promise<Answer> {
  return eventually(
    async () => {
      const r = await call('GET', `/api/v1/backtests/${id}`, { token });
      return r.body.status === 'done' || r.body.status === 'failed' ? r.body : undefined;
    },
    { timeoutMs: 30_000, what: `back-test ${id} to end` },
  );
}

describe('POST /backtests', () => {
  it('queues a run, the worker stores its result, GET polls it for the owner only', async () => {
    const posted = await call('POST', '/api/v1/backtests', { token: alice, body: CONFIG });
    expect(posted.status).toBe(202);
    expect(posted.body).toEqual({ id: expect.stringMatching(/^bt_/) as unknown, status: 'queued' });
    const id = posted.body.id;

    const result = await done(id);
    const plan = planOf(CONFIG, { maxBars: 1_000, maxSweep: 1 });
    if (!plan.ok) throw new Error(plan.message);
    const series = seriesFromCandles(CANDLES, plan.value);
    if (!series.ok) throw new Error(series.message);
    const expected = runPlan(plan.value, series.value, { qtyScale: 8 });
    if (!expected.ok) throw new Error(expected.message);
    expect(result).toMatchObject({
      id,
      status: 'done',
      performance: expected.value.performance,
      trades: expected.value.trades,
      equity: expected.value.equity,
    });
    expect((result.trades as unknown[]).length).toBeGreaterThan(0);

    // The downloads: the HTML report (SVG curves, the metrics, the trades) and the CSVs.
    const report = await fetch(`${x.http}/api/v1/backtests/${id}/report.html`, {
      headers: { authorization: `Bearer ${alice}` },
    });
    expect(report.status).toBe(200);
    expect(report.headers.get('content-type')).toMatch(/^text\/html/);
    expect(report.headers.get('content-disposition')).toBe(`attachment; filename="${id}-report.html"`);
    const html = await report.text();
    expect(html.match(/<svg /g)).toHaveLength(2);
    expect(html).toContain(`<th>sharpe</th><td>${expected.value.performance.sharpe}</td>`);
    expect(html.match(/<tr><td>20/g)).toHaveLength(expected.value.trades.length);
    const csv = await (
      await fetch(`${x.http}/api/v1/backtests/${id}/trades.csv`, {
        headers: { authorization: `Bearer ${alice}` },
      })
    ).text();
    const t0 = expected.value.trades[0]!;
    expect(csv.split('\n').slice(0, 2)).toEqual([
      't,side,price,qty,fee',
      `${t0.t},${t0.side},${t0.price},${t0.qty},${t0.fee}`,
    ]);
    const equityCsv = await (
      await fetch(`${x.http}/api/v1/backtests/${id}/equity.csv`, {
        headers: { authorization: `Bearer ${alice}` },
      })
    ).text();
    expect(equityCsv.trim().split('\n')).toHaveLength(CANDLES.length + 1);
    const strangerReport = await fetch(`${x.http}/api/v1/backtests/${id}/report.html`, {
      headers: { authorization: `Bearer ${bob}` },
    });
    expect(strangerReport.status).toBe(404);

    const stranger = await call('GET', `/api/v1/backtests/${id}`, { token: bob });
    expect(stranger.status).toBe(404);
    expect(stranger.body.error.code).toBe('not_found');
    const anonymous = await call('GET', `/api/v1/backtests/${id}`);
    expect(anonymous.status).toBe(401);
  });

  it('runs a sweep and ranks it', async () => {
    const posted = await call('POST', '/api/v1/backtests', {
      token: alice,
      body: {
        ...CONFIG,
        strategy: { id: 'sma_cross', params: { fast: [1, 2], slow: [3, 4] } },
        rankBy: 'totalReturn',
      },
    });
    expect(posted.status).toBe(202);
    const result = await done(posted.body.id);
    const sweep = result.sweep as { performance: { totalReturn: number } }[];
    expect(sweep).toHaveLength(4);
    const returns = sweep.map((s) => s.performance.totalReturn);
    expect(returns).toEqual([...returns].sort((a, b) => b - a));
  });

  it.each([
    ['unknown strategy', { strategy: { id: 'nope', params: {} } }, /^strategy\.id/],
    [
      'fast ≥ slow',
      { strategy: { id: 'sma_cross', params: { fast: 3, slow: 3 } } },
      /^strategy\.params\.fast/,
    ],
    ['candles out of order', { candles: [CANDLES[1], CANDLES[0], ...CANDLES.slice(2)] }, /^candles\[1\]\.t/],
    ['h < l', { candles: CANDLES.map((c, i) => (i === 2 ? { ...c, h: '1.00' } : c)) }, /^candles\[2\]\.h/],
    [
      'a price not a decimal',
      { candles: CANDLES.map((c, i) => (i === 5 ? { ...c, o: 'ten' } : c)) },
      /^candles\[5\]\.o/,
    ],
    ['negative capital', { initialCapital: '-5' }, /^initialCapital/],
    ['too few candles', { candles: CANDLES.slice(0, 2) }, /^candles: 2 bars are fewer/],
  ])('%s answers 400 naming the field and stores nothing', async (_name, change, message) => {
    const before = await pool.oneFirst(sql.type(Count)`SELECT count(*)::int4 AS n FROM backtests`);
    const r = await call('POST', '/api/v1/backtests', { token: alice, body: { ...CONFIG, ...change } });
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('bad_request');
    expect(r.body.error.message).toMatch(message);
    expect(await pool.oneFirst(sql.type(Count)`SELECT count(*)::int4 AS n FROM backtests`)).toBe(before);
  });

  it('an unknown market answers 404', async () => {
    const r = await call('POST', '/api/v1/backtests', {
      token: alice,
      body: { ...CONFIG, candles: undefined, market: 'NOPE-USDC', from: 0, to: 1 },
    });
    expect(r.status).toBe(404);
    expect(r.body.error.code).toBe('unknown_market');
  });

  it('bounds the runs a user has going at once (429), others unaffected', async () => {
    // Two of carol's runs still going (rows as a busy worker leaves them).
    for (const id of ['bt_busy_1', 'bt_busy_2'])
      await pool.query(sql.unsafe`
        INSERT INTO backtests (id, user_id, status, config) VALUES (${id}, 'carol', 'running', '{}')`);
    const carol = await x.token('carol', ['trader']);
    const r = await call('POST', '/api/v1/backtests', { token: carol, body: CONFIG });
    expect(r.status).toBe(429);
    // A run still going has no report yet.
    const early = await call('GET', '/api/v1/backtests/bt_busy_1/trades.csv', { token: carol });
    expect(early.status).toBe(409);
    expect(early.body.error.code).toBe('conflict');
    expect(r.body.error.code).toBe('rate_limited');
    const other = await call('POST', '/api/v1/backtests', { token: bob, body: CONFIG });
    expect(other.status).toBe(202);
    await done(other.body.id, bob);
  });

  it('pages the owner’s list newest first', async () => {
    const all: string[] = [];
    let cursor: string | undefined;
    for (let pages = 0; pages < 50; pages++) {
      const r = await fetch(
        `${x.http}/api/v1/backtests?limit=1${cursor === undefined ? '' : `&cursor=${cursor}`}`,
        { headers: { authorization: `Bearer ${alice}` } },
      );
      const page = (await r.json()) as {
        id: string;
        performance?: unknown;
        config: Record<string, unknown>;
      }[];
      all.push(...page.map((b) => b.id));
      for (const b of page) expect(b.performance).toBeUndefined();
      for (const b of page) expect(b.config.candles).toBeUndefined();
      cursor = r.headers.get('x-next-cursor') ?? undefined;
      if (cursor === undefined) break;
    }
    const rows = await pool.anyFirst(sql.unsafe`
      SELECT id FROM backtests WHERE user_id = 'alice' ORDER BY created_at DESC, id DESC`);
    expect(all).toEqual(rows);
    expect(all.length).toBeGreaterThanOrEqual(2);
  });
});

describe('history replay', () => {
  it('reads the exchange’s own trades as bars of the interval', async () => {
    const seller = await x.token('sam', ['trader']);
    const buyer = await x.token('bea', ['trader']);
    await x.credit('sam', 'ETH', '10');
    await x.credit('bea', 'USDC', '100000');
    const started = Date.now();
    for (const [price, qty] of [
      ['2000.00', '1.000'],
      ['2010.00', '0.500'],
      ['1990.00', '0.250'],
    ] as const) {
      const sell = await call('POST', '/api/v1/orders', {
        token: seller,
        body: { market: 'ETH-USDC', side: 'sell', type: 'limit', price, qty },
      });
      expect(sell.status).toBe(201);
      const buy = await call('POST', '/api/v1/orders', {
        token: buyer,
        body: { market: 'ETH-USDC', side: 'buy', type: 'limit', price, qty },
      });
      expect(buy.body.status).toBe('filled');
    }
    const market = x.exchange.catalog.market(ETH_USDC.symbol)!;
    const bars = await eventually(async () => {
      const read = await tradeBars(pool, market.definition.id, started - 1, Date.now() + 1, 86_400_000, 10);
      return read.length === 1 && read[0]!.v === 1750 ? read : undefined;
    });
    // ticks of 0.01; lots of 0.001
    expect(bars[0]).toMatchObject({ o: 200_000, h: 201_000, l: 199_000, c: 199_000, v: 1750 });

    // One day-bar is fewer than sma_cross's window: the run fails, saying so.
    const posted = await call('POST', '/api/v1/backtests', {
      token: alice,
      body: {
        ...CONFIG,
        candles: undefined,
        market: 'ETH-USDC',
        from: started - 1,
        to: Date.now() + 1,
        interval: '1d',
      },
    });
    expect(posted.status).toBe(202);
    const result = await done(posted.body.id);
    expect(result).toMatchObject({
      status: 'failed',
      error: expect.stringMatching(/^from: 1 bars are fewer/) as unknown,
    });

    // fill "book" reads the market's journal as the exchange wrote it and replays it: the same one
    // bar (the fills in the replayed book), the same refusal.
    const book = await call('POST', '/api/v1/backtests', {
      token: alice,
      body: {
        ...CONFIG,
        candles: undefined,
        fill: 'book',
        market: 'ETH-USDC',
        from: started - 1,
        to: Date.now() + 1,
        interval: '1d',
      },
    });
    expect(book.status).toBe(202);
    expect(await done(book.body.id)).toMatchObject({
      status: 'failed',
      error: expect.stringMatching(/^from: 1 bars are fewer/) as unknown,
    });
  });
});

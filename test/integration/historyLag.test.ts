import { createPool, sql, type DatabasePool } from 'slonik';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runExchange, type RunningExchange } from '../support/exchange.ts';
import { BTC_USDC } from '../wire/fixtures.ts';

/*
 * Issue 12 §1, last bullet: acknowledged orders missing from GET /orders. GET /orders answers open
 * orders from memory and closed ones from the orders projection; an order closed in the journal
 * but not yet projected was in neither. History reads now wait (HISTORY_WAIT_MS) until the
 * projections hold everything committed before the request, and say so (503 `unavailable`,
 * /health `history: "catching_up"`) when they cannot.
 *
 * The projector's own tick is made rare (PROJECTION_INTERVAL_MS) so that nothing but the read
 * itself brings the projection up to date.
 */

let x: RunningExchange;
let alice: string;
let bob: string;
let pool: DatabasePool;

beforeAll(async () => {
  x = await runExchange({ PROJECTION_INTERVAL_MS: '600000', HISTORY_WAIT_MS: '400' });
  pool = await createPool(x.database.url, { maximumPoolSize: 2 });
  await x.asset('USDC', 6, 'stable');
  await x.asset('BTC', 8);
  await x.market(BTC_USDC);
  await x.credit('alice', 'USDC', '100000');
  await x.credit('bob', 'BTC', '10');
  alice = await x.token('alice', ['trader']);
  bob = await x.token('bob', ['trader']);
}, 60_000);

afterAll(async () => {
  await pool.end();
  await x.stop();
});

interface Listed {
  readonly orderId: string;
  readonly status: string;
  readonly filledQty: string;
}

async function place(token: string, body: Record<string, unknown>): Promise<string> {
  const placed = await x.request('POST', '/api/v1/orders', { token, body: { market: 'BTC-USDC', ...body } });
  expect(placed.status, JSON.stringify(placed.body)).toBe(201);
  return (placed.body as { orderId: string }).orderId;
}

describe('history reads after commit', () => {
  it('finding 1 (489 acknowledged orders missing after restart): GET /orders lists orders closed in the journal but not yet projected', async () => {
    // A resting order canceled, and one filled by a taker: both acknowledged, both closed.
    const canceled = await place(alice, { side: 'buy', type: 'limit', price: '90', qty: '0.5' });
    const gone = await x.request('DELETE', `/api/v1/orders/${encodeURIComponent(canceled)}`, {
      token: alice,
    });
    expect(gone.status).toBe(200);
    const maker = await place(alice, { side: 'buy', type: 'limit', price: '100', qty: '0.25' });
    const taker = await place(bob, { side: 'sell', type: 'market', qty: '0.25' });

    const mine = await x.request('GET', '/api/v1/orders?market=BTC-USDC', { token: alice });
    expect(mine.status).toBe(200);
    const listed = mine.body as Listed[];
    expect(listed.map((o) => [o.orderId, o.status])).toEqual(
      expect.arrayContaining([
        [canceled, 'canceled'],
        [maker, 'filled'],
      ]),
    );
    // Each order once, in its latest state (not also as open from memory).
    expect(new Set(listed.map((o) => o.orderId)).size).toBe(listed.length);
    const theirs = await x.request('GET', '/api/v1/orders', { token: bob });
    expect((theirs.body as Listed[]).find((o) => o.orderId === taker)).toMatchObject({
      status: 'filled',
      filledQty: '0.2500',
    });
    const trades = await x.request('GET', '/api/v1/markets/BTC-USDC/trades', {});
    expect(trades.status).toBe(200);
    expect(trades.body).toHaveLength(1);
  });

  it('finding 1 (489 acknowledged orders missing after restart): history that cannot catch up answers 503 unavailable and /health says catching_up', async () => {
    // The projector's next statement waits for this lock on its cursor: history stands still.
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let locked!: () => void;
    const isLocked = new Promise<void>((resolve) => {
      locked = resolve;
    });
    const holder = pool.transaction(async (tx) => {
      await tx.oneFirst(
        sql.unsafe`SELECT 1 FROM projection_cursors WHERE projection = 'relational' FOR UPDATE`,
      );
      locked();
      await released;
    });
    try {
      await isLocked;
      const order = await place(alice, { side: 'buy', type: 'limit', price: '80', qty: '0.1' });
      expect(
        (await x.request('DELETE', `/api/v1/orders/${encodeURIComponent(order)}`, { token: alice })).status,
      ).toBe(200);

      const read = await x.request('GET', '/api/v1/orders', { token: alice });
      expect(read.status).toBe(503);
      expect(read.body).toMatchObject({ error: { code: 'unavailable' } });
      expect((read.body as { error: { message: string } }).error.message).toMatch(/history is catching up/);
      // Open orders alone come from memory and do not wait.
      expect((await x.request('GET', '/api/v1/orders?status=open', { token: alice })).status).toBe(200);

      const health = await x.request('GET', '/health');
      expect(health.status).toBe(200);
      expect(health.body).toMatchObject({ status: 'ok', history: 'catching_up' });
      const lag = (health.body as { historyLag: { records: number; ms: number } }).historyLag;
      expect(lag.records).toBeGreaterThan(0);
      expect(lag.ms).toBeGreaterThan(400);

      release();
      await holder;
      const after = await x.request('GET', '/api/v1/orders', { token: alice });
      expect(after.status).toBe(200);
      expect((after.body as Listed[]).find((o) => o.orderId === order)).toMatchObject({ status: 'canceled' });
      expect((await x.request('GET', '/health')).body).toMatchObject({
        history: 'ok',
        historyLag: { records: 0, ms: 0 },
      });
    } finally {
      release();
      await holder.catch(() => undefined);
    }
  });
});

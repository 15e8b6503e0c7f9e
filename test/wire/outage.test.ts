import { createPool, sql } from 'slonik';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runExchange, type RunningExchange } from '../support/exchange.ts';
import { listMarkets, RawSocket } from './fixtures.ts';

/*
 * The two codes that depend on the exchange's state rather than the request: `overloaded` when a
 * market's mailbox is full, and `unavailable` while Postgres cannot be reached (nothing is
 * acknowledged), with the exchange resuming by itself, without a restart, once it is back.
 */

let running: RunningExchange;

beforeAll(async () => {
  running = await runExchange({
    MAILBOX_SIZE: '4',
    RATE_ORDERS_PER_S: '100000',
    RATE_ORDERS_BURST: '100000',
  });
  await listMarkets(running);
  await running.credit('fay', 'BTC', '10');
});

afterAll(async () => {
  await running.stop();
});

const ask = (price: number) => ({
  op: 'place',
  market: 'BTC-USDC',
  side: 'sell',
  type: 'limit',
  price: `${price}.00`,
  qty: '0.0100',
});

describe('state-dependent refusals', () => {
  it('answers overloaded when the market mailbox is full, and serves again once it drains', async () => {
    const socket = await RawSocket.open(`${running.ws}?token=${await running.token('fay', ['trader'])}`);
    for (let i = 0; i < 60; i++) socket.send({ ...ask(40_000 + i), rid: 1_000 + i });
    const replies = await Promise.all(
      Array.from({ length: 60 }, (_, i) => socket.next((m) => m.rid === 1_000 + i)),
    );
    const codes = replies.map((r) => (r.op === 'error' ? String(r.code) : String(r.op)));
    expect(codes).toContain('overloaded');
    expect(codes).toContain('accepted');
    expect(codes.every((c) => c === 'overloaded' || c === 'accepted')).toBe(true);
    expect(await socket.request(ask(39_000), 5)).toMatchObject({ op: 'accepted' });
    await socket.request({ op: 'cancel_all' }, 6);
    socket.close();
  });

  it('answers unavailable while Postgres refuses connections, acknowledges nothing, and resumes by itself', async () => {
    const admin = await createPool(process.env.TEST_DATABASE_ADMIN_URL!, { maximumPoolSize: 1 });
    const name = sql.identifier([running.database.name]);
    const socket = await RawSocket.open(`${running.ws}?token=${await running.token('fay', ['trader'])}`);
    const restingBefore = running.exchange.supervisor.actor('BTC-USDC')!.orderBook.openOrders()
      .resting.length;
    try {
      await admin.query(sql.unsafe`ALTER DATABASE ${name} ALLOW_CONNECTIONS false`);
      await admin.query(sql.unsafe`
        SELECT pg_terminate_backend(pid) FROM pg_stat_activity
        WHERE datname = ${running.database.name} AND pid <> pg_backend_pid()`);
      const refused = await socket.request(ask(41_000), 10, 20_000);
      expect(refused).toMatchObject({ op: 'error', code: 'unavailable' });
      // Nothing of it stays: once the market is rebuilt (it halts meanwhile) the book is as before.
      const deadline = Date.now() + 15_000;
      const resting = () =>
        running.exchange.supervisor.actor('BTC-USDC')!.orderBook.openOrders().resting.length;
      while (resting() !== restingBefore && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 50));
      expect(resting()).toBe(restingBefore);
    } finally {
      await admin.query(sql.unsafe`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`);
      await admin.end();
    }
    // Back without a restart: retry until the writer has reconnected.
    const deadline = Date.now() + 20_000;
    let reply: Record<string, unknown> = {};
    for (let rid = 100; Date.now() < deadline; rid++) {
      reply = await socket.request(ask(41_000), rid, 20_000);
      if (reply.op === 'accepted') break;
      expect(reply).toMatchObject({ code: 'unavailable' });
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(reply).toMatchObject({ op: 'accepted', status: 'open' });
    const book = await running.request('GET', '/api/v1/markets/BTC-USDC/book?depth=0');
    expect((book.body as { asks: string[][] }).asks).toContainEqual(['41000.00', '0.0100']);
    socket.close();
  });
});

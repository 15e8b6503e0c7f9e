import { createPool, sql } from 'slonik';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/eventually.ts';
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
    const fay = await running.token('fay', ['trader']);
    const openOfFay = async () =>
      (await running.request('GET', '/api/v1/orders?status=open&limit=1000', { token: fay })).body as {
        price: string;
        remainingQty: string;
      }[];
    expect(await openOfFay()).toEqual([]);
    try {
      await admin.query(sql.unsafe`ALTER DATABASE ${name} ALLOW_CONNECTIONS false`);
      await admin.query(sql.unsafe`
        SELECT pg_terminate_backend(pid) FROM pg_stat_activity
        WHERE datname = ${running.database.name} AND pid <> pg_backend_pid()`);
      const refused = await socket.request(ask(41_000), 10, 20_000);
      expect(refused).toMatchObject({ op: 'error', code: 'unavailable' });
    } finally {
      await admin.query(sql.unsafe`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`);
      await admin.end();
    }
    // Back without a restart: retry until the writer has reconnected.
    let rid = 100;
    const reply = await eventually(
      async () => {
        const answer = await socket.request(ask(41_000), rid++, 20_000);
        if (answer.op === 'accepted') return answer;
        expect(answer).toMatchObject({ code: 'unavailable' });
        return undefined;
      },
      { timeoutMs: 20_000, everyMs: 200, what: 'the order accepted once the writer reconnected' },
    );
    expect(reply).toMatchObject({ op: 'accepted', status: 'open' });
    // Nothing of the refused attempts stays (the market rebuilt its book meanwhile): the one order
    // accepted is all fay has open, and all its price level holds.
    expect(await openOfFay()).toMatchObject([{ price: '41000.00', remainingQty: '0.0100' }]);
    const book = await running.request('GET', '/api/v1/markets/BTC-USDC/book?depth=0');
    expect((book.body as { asks: string[][] }).asks).toContainEqual(['41000.00', '0.0100']);
    // Nor in the market's own book: a buyer sweeping the level fills the accepted order alone.
    await running.credit('gus', 'USDC', '10000');
    const buyer = await RawSocket.open(`${running.ws}?token=${await running.token('gus', ['trader'])}`);
    const sweep = { ...ask(41_000), side: 'buy', qty: '0.0200', tif: 'IOC' };
    expect(await buyer.request(sweep, 1)).toMatchObject({ op: 'accepted', filledQty: '0.0100' });
    buyer.close();
    socket.close();
  });
});

import { createPool, sql } from 'slonik';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Packr } from 'msgpackr';
import { decodeMarketState } from '../../src/persistence/snapshots.ts';
import type { ExchangeClient } from '../../src/client/index.ts';
import type {
  BookMessage,
  LifecycleMessage,
  OrderMessage,
  TradeMessage,
} from '../../src/protocol/messages.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { eventually } from '../support/eventually.ts';
import { runExchange, type RunningExchange } from '../support/exchange.ts';
import { listMarkets, RawSocket } from '../wire/fixtures.ts';

/*
 * PROTOCOL v1.1 "Sequences survive restarts" (issue 12 §4), over real sockets on one database
 * stopped and started again: the book, trade and lifecycle seq continue where the journal left
 * them, and a recovered open order keeps the ts of its last journaled change and its avgPrice.
 * Each case restarts from a different durable starting point: the snapshot taken at shutdown, an
 * earlier snapshot plus the journal after it, or the journal alone.
 */

const ENV = { RATE_ORDERS_PER_S: '100000', RATE_ORDERS_BURST: '100000' };
const databases: TestDatabase[] = [];

afterAll(async () => {
  for (const database of databases) await database.drop();
});

async function until<T>(read: () => T | undefined, what: string, timeoutMs = 10_000): Promise<T> {
  return eventually(read, { what, timeoutMs, everyMs: 10 });
}

async function trader(running: RunningExchange, userId: string): Promise<ExchangeClient> {
  return running.client(await running.token(userId, ['trader']));
}

/** Every message of a channel from its snapshot on. */
async function follow<M>(
  client: ExchangeClient,
  ch: 'book' | 'trades' | 'lifecycle' | 'orders',
  market: string | undefined,
): Promise<M[]> {
  const received: M[] = [];
  await client.subscribe(ch, market === undefined ? {} : { market, depth: 10 }, (message) => {
    received.push(message as M);
  });
  return received;
}

/** What a subscriber sees of BTC-USDC and of bob's open order. */
interface Observed {
  readonly book: BookMessage;
  readonly restBookSeq: number;
  readonly lifecycle: LifecycleMessage;
  readonly bobOrder: OrderMessage;
}

async function observe(running: RunningExchange): Promise<Observed> {
  const watcher = await running.client();
  const books = await follow<BookMessage>(watcher, 'book', 'BTC-USDC');
  const lifecycles = await follow<LifecycleMessage>(watcher, 'lifecycle', 'BTC-USDC');
  const bob = await trader(running, 'bob');
  const orders = await follow<OrderMessage>(bob, 'orders', undefined);
  const rest = await running.request('GET', '/api/v1/markets/BTC-USDC/book?depth=10');
  return {
    book: await until(() => books[0], 'the book snapshot'),
    restBookSeq: (rest.body as { seq: number }).seq,
    lifecycle: await until(() => lifecycles[0], 'the lifecycle snapshot'),
    bobOrder: await until(() => orders[0], "bob's open order"),
  };
}

async function deleteSnapshots(database: TestDatabase, afterGlobalSeq: number): Promise<void> {
  const pool = await createPool(database.url, { maximumPoolSize: 1 });
  try {
    await pool.query(sql.unsafe`DELETE FROM market_snapshots WHERE global_seq > ${afterGlobalSeq}`);
    await pool.query(sql.unsafe`DELETE FROM ledger_snapshots WHERE global_seq > ${afterGlobalSeq}`);
  } finally {
    await pool.end();
  }
}

/** Rewrites every market snapshot as version 1 wrote it (no activity), as a database from before. */
async function downgradeSnapshots(database: TestDatabase): Promise<void> {
  const packr = new Packr({
    useRecords: false,
    moreTypes: false,
    mapsAsObjects: true,
    int64AsType: 'number',
  });
  const pool = await createPool(database.url, { maximumPoolSize: 1 });
  try {
    const rows = await pool.any(
      sql.type(z.object({ market_id: z.string(), seq: z.string(), state: z.instanceof(Buffer) }))`
        SELECT market_id, seq::text AS seq, state FROM market_snapshots`,
    );
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) {
      const { activity, ...legacy } = decodeMarketState(row.state);
      expect(activity).toBeDefined();
      const v1 = packr.pack([1, JSON.parse(JSON.stringify(legacy)) as unknown]);
      await pool.query(sql.unsafe`
        UPDATE market_snapshots SET state = ${sql.binary(v1)}
        WHERE market_id = ${row.market_id} AND seq = ${row.seq}`);
    }
  } finally {
    await pool.end();
  }
}

/** The record versions of each market's latest snapshot (what the next recovery loads). */
async function snapshotVersions(database: TestDatabase): Promise<number[]> {
  const pool = await createPool(database.url, { maximumPoolSize: 1 });
  try {
    const rows = await pool.any(
      sql.type(z.object({ version: z.number() }))`
        SELECT DISTINCT get_byte(state, 1) AS version FROM (
          SELECT DISTINCT ON (market_id) state FROM market_snapshots
          ORDER BY market_id, global_seq DESC, seq DESC
        ) latest`,
    );
    return rows.map((r) => r.version);
  } finally {
    await pool.end();
  }
}

async function lastSnapshotGlobalSeq(database: TestDatabase): Promise<number> {
  const pool = await createPool(database.url, { maximumPoolSize: 1 });
  try {
    const row = await pool.one(
      sql.type(z.object({ g: z.string() }))`
        SELECT coalesce(max(global_seq), 0)::text AS g FROM ledger_snapshots`,
    );
    return Number(row.g);
  } finally {
    await pool.end();
  }
}

type StartingPoint =
  | 'the snapshot taken at shutdown'
  | 'an earlier snapshot and the journal after it'
  | 'the journal alone'
  | 'the journal alone, its snapshots being of version 1';

describe('finding 4 (seq continuity): book, trade and lifecycle seq continue after a restart', () => {
  it.each<StartingPoint>([
    'the snapshot taken at shutdown',
    'an earlier snapshot and the journal after it',
    'the journal alone',
    'the journal alone, its snapshots being of version 1',
  ])('and order ts and avgPrice after restart, recovering from %s', async (from) => {
    const database = await createTestDatabase('restart');
    databases.push(database);

    // Run 1: list, fund, two asks, and bob's bid that takes both and rests (avgPrice 99.25).
    const first = await runExchange(ENV, { database });
    await listMarkets(first);
    await first.credit('carol', 'BTC', '1');
    await first.credit('alice', 'BTC', '1');
    await first.credit('bob', 'USDC', '100000');
    const carol = await trader(first, 'carol');
    await carol.place({ market: 'BTC-USDC', side: 'sell', type: 'limit', qty: '0.1000', price: '99.00' });
    await carol.place({ market: 'BTC-USDC', side: 'sell', type: 'limit', qty: '0.1000', price: '99.50' });
    const bid = await (
      await trader(first, 'bob')
    ).place({ market: 'BTC-USDC', side: 'buy', type: 'limit', qty: '0.5000', price: '100.00' });
    expect(bid).toMatchObject({ status: 'partially_filled', filledQty: '0.2000' });
    await first.stop();
    const earlier = await lastSnapshotGlobalSeq(database);
    expect(earlier).toBeGreaterThan(0);

    // Run 2: the trade seq already continued once (2 → 3); alice sells into bob's bid.
    const second = await runExchange(ENV, { database });
    const watcher = await second.client();
    const trades = await follow<TradeMessage>(watcher, 'trades', 'BTC-USDC');
    await (
      await trader(second, 'alice')
    ).place({ market: 'BTC-USDC', side: 'sell', type: 'limit', qty: '0.1000', price: '100.00' });
    expect(await until(() => trades[0], 'the trade')).toMatchObject({ seq: 3, price: '100.00' });
    const before = await observe(second);
    expect(before.bobOrder).toMatchObject({
      status: 'partially_filled',
      filledQty: '0.3000',
      remainingQty: '0.2000',
      avgPrice: '99.50', // (99.00 × 0.1 + 99.50 × 0.1 + 100.00 × 0.1) / 0.3
    });
    expect(before.book.seq).toBe(before.restBookSeq);
    expect(before.book.seq).toBeGreaterThan(0);
    expect(before.lifecycle).toMatchObject({ seq: 4, to: 'active' });
    await second.stop();
    if (from === 'an earlier snapshot and the journal after it') await deleteSnapshots(database, earlier);
    if (from === 'the journal alone') await deleteSnapshots(database, 0);
    if (from === 'the journal alone, its snapshots being of version 1') await downgradeSnapshots(database);

    // Run 3: everything a subscriber sees is as it was before the restart.
    const third = await runExchange(ENV, { database });
    const after = await observe(third);
    expect(after.book).toEqual(before.book);
    expect(after.restBookSeq).toBe(before.book.seq);
    expect(after.lifecycle).toEqual(before.lifecycle);
    expect(after.bobOrder).toEqual(before.bobOrder);

    // The next trade and book change take the next numbers.
    const again = await third.client();
    const nextTrades = await follow<TradeMessage>(again, 'trades', 'BTC-USDC');
    const nextBooks = await follow<BookMessage>(again, 'book', 'BTC-USDC');
    const bob = await trader(third, 'bob');
    const bobOrders = await follow<OrderMessage>(bob, 'orders', undefined);
    await until(() => nextBooks[0], 'the book snapshot');
    await until(() => bobOrders[0], "bob's open order");
    await (
      await trader(third, 'alice')
    ).place({ market: 'BTC-USDC', side: 'sell', type: 'limit', qty: '0.1000', price: '100.00' });
    expect(await until(() => nextTrades[0], 'the next trade')).toMatchObject({ seq: 4 });
    expect(await until(() => nextBooks[1], 'the next book delta')).toMatchObject({
      kind: 'delta',
      seq: before.book.seq + 1,
    });
    // (29.85 + 10.00) / 0.4 = 99.625, half-up to the market's 2 decimals.
    expect(await until(() => bobOrders[1], "bob's order after the fill")).toMatchObject({
      filledQty: '0.4000',
      avgPrice: '99.63',
    });
    await third.stop();
    // Its shutdown snapshot rewrote the old rows in the current version: the next start uses them.
    if (from === 'the journal alone, its snapshots being of version 1') {
      expect(await snapshotVersions(database)).toEqual([2]);
    }
  });
});

interface HistoryEvent {
  readonly eventType: string;
  readonly actorId: string;
  readonly actorType: string;
  readonly decision?: string;
  readonly reason?: string;
  readonly metadata?: Record<string, unknown>;
  readonly ts: number;
}

/** GET /markets/:id/events once it holds `count` events (history follows the journal's projection). */
async function history(running: RunningExchange, market: string, count: number): Promise<HistoryEvent[]> {
  let events: HistoryEvent[] = [];
  return eventually(
    async () => {
      const answer = await running.request('GET', `/api/v1/markets/${market}/events`);
      expect(answer.status).toBe(200);
      events = answer.body as HistoryEvent[];
      return events.length >= count && events;
    },
    { what: () => `${count} events of ${market}; got ${JSON.stringify(events)}` },
  );
}

/** The visualizer's transitions of a market (the admin-only `actors` channel's snapshot). */
async function visualized(running: RunningExchange, symbol: string): Promise<string[]> {
  const socket = await RawSocket.open(`${running.ws}?token=${await running.token('ops', ['admin'])}`);
  try {
    socket.send({ op: 'sub', ch: 'actors', rid: 1 });
    const snapshot = await socket.next((m) => m.op === 'actors' && m.kind === 'snapshot');
    const markets = snapshot.markets as { symbol: string; transitions: { from: string; to: string }[] }[];
    return (markets.find((m) => m.symbol === symbol)?.transitions ?? []).map((t) => `${t.from}>${t.to}`);
  } finally {
    socket.close();
  }
}

describe("finding 4 (lifecycle history): a seeded/listed market's /events shows its transitions", () => {
  it('lists the four transitions of a market listed directly, as the visualizer shows them, before and after a restart', async () => {
    const database = await createTestDatabase('history');
    databases.push(database);
    const first = await runExchange(ENV, { database });
    await listMarkets(first); // POST /markets, as src/main.ts seeds BTC-USDC and ETH-USDC
    const expected: HistoryEvent[] = [
      {
        eventType: 'market.approval_requested',
        actorId: 'test-admin',
        actorType: 'admin',
        ts: expect.any(Number) as number,
      },
      {
        eventType: 'market.approved',
        actorId: 'test-admin',
        actorType: 'admin',
        decision: 'approved',
        reason: 'listed directly by an admin',
        ts: expect.any(Number) as number,
      },
      {
        eventType: 'market.activation_started',
        actorId: 'test-admin',
        actorType: 'admin',
        ts: expect.any(Number) as number,
      },
      {
        eventType: 'market.activated',
        actorId: 'test-admin',
        actorType: 'admin',
        metadata: { contractAddress: 'off-chain', txHash: 'none' },
        ts: expect.any(Number) as number,
      },
    ];
    const before = await history(first, 'BTC-USDC', 4);
    expect(before).toEqual(expected);
    const ts = before.map((e) => e.ts);
    expect(ts).toEqual([...ts].sort((a, b) => a - b));
    const transitions = [
      'draft>pending_approval',
      'pending_approval>approved',
      'approved>activating',
      'activating>active',
    ];
    expect(await visualized(first, 'BTC-USDC')).toEqual(transitions);
    // By id as well as by symbol.
    const listed = (await first.request('GET', '/api/v1/markets/ETH-USDC')).body as { id: string };
    expect(await history(first, listed.id, 4)).toEqual(expected);
    await first.stop();

    const second = await runExchange(ENV, { database });
    expect(await history(second, 'BTC-USDC', 4)).toEqual(before);
    // The visualizer sees them replayed by recovery: the same four.
    expect(await visualized(second, 'BTC-USDC')).toEqual(transitions);
    await second.stop();
  });
});

import { randomBytes } from 'node:crypto';
import { createPool, sql, type DatabasePool } from 'slonik';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ExchangeClient } from '../../src/client/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { eventually } from '../support/eventually.ts';
import { runExchange } from '../support/exchange.ts';
import { ASSET_DECIMALS } from '../support/markets.ts';
import {
  gatewayPort,
  listLotMarkets,
  startClusterNode,
  type ClusterEnv,
  type ClusterNode,
} from '../support/clusterNode.ts';

/**
 * ROLE=worker (issue 22, docs/scale-out.md "Roles") as real processes on loopback: an engine and a
 * gateway alone journal a trade but neither project nor notify it (the gateway's history route
 * answers `unavailable`); a worker projects it and writes its notifications (pushed to the
 * taker's socket on the gateway, relayed over NATS); a second worker stands
 * by (it holds no consumer lock) and, once the holder is killed with kill -9 while trades flow,
 * takes the locks over, and every trade is projected once and notified once per side.
 */

const natsUrl = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const MARKET = 'BTC-USDC';
/** What a worker runs under its locks (src/persistence/consumerLocks.ts). */
const CONSUMERS = ['notifier', 'portfolio', 'relational', 'rollups'];

let database: TestDatabase;
let pool: DatabasePool;
let env: ClusterEnv;
let http: string;
let ws: string;
let mint: (userId: string) => Promise<string>;
let adminToken: string;
const nodes: ClusterNode[] = [];
const clients: ExchangeClient[] = [];
const cleanups: (() => Promise<void>)[] = [];
let maker: ExchangeClient;
let taker: ExchangeClient;
/** Trades placed so far (each a buy that fills one resting sell whole). */
let traded = 0;
/** The in-app notifications pushed to the taker's socket on the gateway (their types). */
const pushed: { type: string; id: string }[] = [];

function start(name: string, role: 'engine' | 'gateway' | 'worker'): ClusterNode {
  const node = startClusterNode(name, role, env);
  nodes.push(node);
  return node;
}

async function client(userId: string): Promise<ExchangeClient> {
  const c = new ExchangeClient({ url: ws, WebSocket, requestTimeoutMs: 30_000 });
  await c.connect();
  clients.push(c);
  await c.auth(await mint(userId));
  return c;
}

async function trade(): Promise<void> {
  const price = `${10 + (traded % 5)}.00`;
  await maker.place({ market: MARKET, side: 'sell', type: 'limit', price, qty: '1' });
  const bought = await taker.place({ market: MARKET, side: 'buy', type: 'limit', price, qty: '1' });
  expect(bought.status).toBe('filled');
  traded++;
}

async function get(path: string, userId: string): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${http}${path}`, {
    headers: { authorization: `Bearer ${await mint(userId)}` },
  });
  return { status: response.status, body: await response.json() };
}

const Counts = z.object({ trades: z.number(), filled: z.number(), cursor: z.number(), head: z.number() });

/** What the workers wrote: trade rows, order_filled notifications, the projection's cursor, the journal's head. */
async function effects(): Promise<z.infer<typeof Counts>> {
  return pool.one(sql.type(Counts)`
    SELECT
      (SELECT count(*) FROM trades)::int AS trades,
      (SELECT count(*) FROM notifications WHERE type = 'order_filled')::int AS filled,
      coalesce((SELECT global_seq FROM projection_cursors WHERE projection = 'relational'), 0)::int AS cursor,
      (SELECT coalesce(max(global_seq), 0) FROM journal)::int AS head`);
}

const workerStarted = (l: { msg?: string }) => l.msg === 'worker started';
const lockTaken = (l: Record<string, unknown>) => l.msg === 'consumer lock taken: running it here';

beforeAll(async () => {
  database = await createTestDatabase('cluster_worker');
  cleanups.push(() => database.drop());
  const seed = await runExchange({}, { database });
  await listLotMarkets(seed, ['BTC'], (base) => ASSET_DECIMALS[base]!);
  await seed.credit('maker', 'BTC', '1000');
  await seed.credit('taker', 'USDC', '100000');
  mint = (userId) => seed.token(userId, ['trader']);
  adminToken = await seed.token('admin', ['admin']);
  await seed.stop();

  env = {
    databaseUrl: database.url,
    natsUrl,
    cluster: `w${randomBytes(4).toString('hex')}`,
    ttlMs: 2_000,
    renewMs: 500,
  };
  pool = await createPool(database.url, { maximumPoolSize: 2 });
  cleanups.push(() => pool.end());
  start('e1', 'engine');
  const port = await gatewayPort(start('gateway', 'gateway'));
  http = `http://127.0.0.1:${port}`;
  ws = `ws://127.0.0.1:${port}/ws`;
  await eventually(
    async () => {
      const response = await fetch(`${http}/api/v1/admin/cluster`, {
        headers: { authorization: `Bearer ${adminToken}` },
      });
      const body = z
        .object({
          markets: z.array(z.object({ owner: z.string().optional(), fencedEpoch: z.number().optional() })),
        })
        .parse(await response.json());
      return body.markets.every((m) => m.owner === 'e1' && m.fencedEpoch !== undefined);
    },
    { timeoutMs: 30_000, everyMs: 100, what: 'the market owned by e1' },
  );
  maker = await client('maker');
  taker = await client('taker');
  await taker.subscribe('notifications', {}, (push: { type: string; id: string }) => pushed.push(push));
}, 120_000);

afterAll(async () => {
  for (const c of clients) c.close();
  for (const node of nodes) node.kill('SIGKILL');
  await Promise.all(nodes.map((n) => n.exited));
  for (const cleanup of cleanups.reverse()) await cleanup();
});

describe('ROLE=worker', () => {
  it('without a worker, a trade is journaled but neither projected nor notified', async () => {
    const before = await effects();
    await trade();
    // The gateway runs no projector: its history waits (HISTORY_WAIT_MS), then says so.
    const fills = await get(`/api/v1/fills?market=${MARKET}`, 'taker');
    expect(fills.status).toBe(503);
    expect(fills.body).toMatchObject({ error: { code: 'unavailable' } });
    const after = await effects();
    expect(after.head).toBeGreaterThan(before.head);
    expect(after).toMatchObject({ trades: 0, filled: 0, cursor: before.cursor });
    expect(pushed).toEqual([]);
  }, 60_000);

  let first: ClusterNode;

  it('a worker projects the trade and notifies both sides', async () => {
    first = start('worker-1', 'worker');
    const started = await first.waitFor(workerStarted, 60_000);
    expect(started.consumers).toEqual(CONSUMERS);
    const metrics = await (await fetch(`http://127.0.0.1:${z.number().parse(started.port)}/metrics`)).text();
    for (const consumer of CONSUMERS)
      expect(metrics).toContain(`exchange_consumer_lock_held{consumer="${consumer}"} 1`);
    await eventually(
      async () => {
        const fills = await get(`/api/v1/fills?market=${MARKET}`, 'taker');
        return fills.status === 200 && Array.isArray(fills.body) && fills.body.length === 1;
      },
      { timeoutMs: 30_000, everyMs: 200, what: "the taker's fill in the gateway's history" },
    );
    await eventually(
      async () => {
        const page = await get('/api/v1/notifications', 'taker');
        return (
          page.status === 200 &&
          Array.isArray(page.body) &&
          page.body.some((n) => z.object({ type: z.string() }).parse(n).type === 'order_filled')
        );
      },
      { timeoutMs: 30_000, everyMs: 200, what: "the taker's order_filled notification" },
    );
    // Made in the worker, relayed over NATS, pushed by the gateway to the taker's socket.
    await eventually(() => pushed.some((p) => p.type === 'order_filled'), {
      timeoutMs: 10_000,
      what: 'the order_filled push on the gateway',
    });
    await trade();
    await eventually(async () => (await effects()).trades === traded, {
      timeoutMs: 30_000,
      what: 'the second trade projected',
    });
  }, 90_000);

  it('a second worker stands by, takes over when the holder is killed, and every effect happens once', async () => {
    const second = start('worker-2', 'worker');
    const started = await second.waitFor(workerStarted, 60_000);
    // The first worker holds every lock: the second runs none of them (its /metrics says so too).
    expect(started.consumers).toEqual([]);
    const metrics = await (await fetch(`http://127.0.0.1:${z.number().parse(started.port)}/metrics`)).text();
    for (const consumer of CONSUMERS)
      expect(metrics).toContain(`exchange_consumer_lock_held{consumer="${consumer}"} 0`);
    for (let i = 0; i < 3; i++) await trade();
    expect(second.logs.some(lockTaken)).toBe(false);

    // Kill the holder while trades flow: the standby takes every lock over.
    const flowing = (async () => {
      for (let i = 0; i < 10; i++) await trade();
    })();
    await eventually(async () => (await effects()).trades > traded - 3, {
      timeoutMs: 30_000,
      what: 'the first worker projecting the flow',
    });
    first.kill('SIGKILL');
    await first.exited;
    await flowing;
    for (let i = 0; i < 3; i++) await trade();
    await eventually(
      () => {
        const taken = second.logs.filter(lockTaken).map((l) => String(l.consumer));
        return taken.length === CONSUMERS.length ? taken.sort() : undefined;
      },
      { timeoutMs: 30_000, what: 'the standby holding every lock' },
    ).then((taken) => expect(taken).toEqual(CONSUMERS));

    // Every trade projected once and notified once per side; the projection at the journal's head.
    const settled = await eventually(
      async () => {
        const now = await effects();
        return now.cursor === now.head && now.filled === 2 * traded ? now : undefined;
      },
      { timeoutMs: 30_000, everyMs: 200, what: 'every trade projected and notified' },
    );
    expect(settled.trades).toBe(traded);
    const fills = await get(`/api/v1/fills?market=${MARKET}&limit=100`, 'taker');
    expect(fills.status).toBe(200);
    expect(fills.body).toHaveLength(traded);
    const bySource = await pool.any(sql.type(z.object({ user_id: z.string(), n: z.number() }))`
      SELECT user_id, count(*)::int AS n FROM notifications WHERE type = 'order_filled' GROUP BY user_id
      ORDER BY user_id`);
    expect(bySource).toEqual([
      { user_id: 'maker', n: traded },
      { user_id: 'taker', n: traded },
    ]);
    // Pushed at most once per notification (a page is applied, and its pushes made, once; those
    // of a page the killed holder committed but had not relayed yet are lost: core NATS).
    const last = await pool.oneFirst(sql.type(z.object({ id: z.string() }))`
      SELECT max(id)::text AS id FROM notifications WHERE user_id = 'taker'`);
    await eventually(() => pushed.some((p) => p.id === last), {
      timeoutMs: 10_000,
      what: "the taker's last notification pushed",
    });
    const ids = pushed.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
  }, 180_000);
});

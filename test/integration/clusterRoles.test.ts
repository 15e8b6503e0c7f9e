import { randomBytes } from 'node:crypto';
import { createPool, sql, type DatabasePool } from 'slonik';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ExchangeClient } from '../../src/client/index.ts';
import { ownerOf } from '../../src/cluster/placement.ts';
import { decodeBatch } from '../../src/persistence/journalCodec.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { eventually } from '../support/eventually.ts';
import { runExchange } from '../support/exchange.ts';
import { gatewayPort, startClusterNode, type ClusterEnv, type ClusterNode } from '../support/clusterNode.ts';

/**
 * Issue 22 end to end (docs/scale-out.md): two engines (ROLE=engine) and two gateways
 * (ROLE=gateway) as real processes on loopback, on one Postgres journal and the real NATS server.
 * A client on each gateway sees the same books and trades; funds for one order sent to two markets
 * on two engines at once buy exactly one; an engine killed with kill -9 under load hands its
 * markets over and every acknowledged order is in the journal once, balances conserved, no batch of
 * the killed owner after the new owner's first; an engine paused past its lease stops writing.
 * CLUSTER_KILL_ROUNDS sets the kill -9 rounds (default 2 for CI; the 20 are run by hand).
 */

const natsUrl = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const KILL_ROUNDS = Number(process.env.CLUSTER_KILL_ROUNDS ?? 2);
const MARKETS = ['A0', 'A1', 'A2', 'A3'];

let database: TestDatabase;
let pool: DatabasePool;
let env: ClusterEnv;
const nodes: ClusterNode[] = [];
const engines = new Map<string, ClusterNode>();
const gateways: { node: ClusterNode; http: string; ws: string }[] = [];
const clients: ExchangeClient[] = [];
let marketIds: Map<string, string>; // symbol → id
let engineIds: [string, string];
let mint: (userId: string) => Promise<string>;
let adminToken: string;

function startEngine(id: string): ClusterNode {
  const node = startClusterNode(id, 'engine', env);
  nodes.push(node);
  engines.set(id, node);
  return node;
}

async function client(gateway: number, userId: string): Promise<ExchangeClient> {
  const c = new ExchangeClient({ url: gateways[gateway]!.ws, WebSocket, requestTimeoutMs: 30_000 });
  await c.connect();
  clients.push(c);
  await c.auth(await mint(userId));
  return c;
}

const ClusterBody = z.object({
  engines: z.array(z.string()),
  markets: z.array(
    z.object({
      marketId: z.string(),
      symbol: z.string(),
      owner: z.string().optional(),
      leaseEpoch: z.number().optional(),
      fencedEpoch: z.number().optional(),
    }),
  ),
});

async function clusterStatus(gateway = 0): Promise<z.infer<typeof ClusterBody>> {
  const response = await fetch(`${gateways[gateway]!.http}/api/v1/admin/cluster`, {
    headers: { authorization: `Bearer ${adminToken}` },
  });
  return ClusterBody.parse(await response.json());
}

/** Every market owned by a live engine, fenced at its lease's epoch. */
async function settledOwnership(): Promise<Map<string, string>> {
  return eventually(
    async () => {
      const status = await clusterStatus();
      const owners = new Map<string, string>();
      for (const m of status.markets) {
        if (m.owner === undefined || m.leaseEpoch !== m.fencedEpoch) return undefined;
        if (engines.get(m.owner)?.exitCode() !== undefined) return undefined;
        owners.set(m.symbol, m.owner);
      }
      return owners.size === MARKETS.length ? owners : undefined;
    },
    { timeoutMs: 30_000, everyMs: 100, what: 'every market owned and fenced' },
  );
}

beforeAll(async () => {
  database = await createTestDatabase('cluster_roles');
  // The catalog and the money, by a ROLE=all exchange that then stops (it cannot run beside engines).
  const seed = await runExchange({}, { database });
  await seed.asset('USDC', 6, 'stable');
  for (const base of MARKETS) {
    await seed.asset(base, 4);
    await seed.market({
      symbol: `${base}-USDC`,
      baseAsset: base,
      quoteAsset: 'USDC',
      priceDecimals: 2,
      qtyDecimals: 0,
      tickSize: '0.01',
      lotSize: '1',
      minQty: '1',
      maxQty: '1000000',
      makerFeeBps: 0,
      takerFeeBps: 0,
    });
    await seed.credit('maker', base, '100000000');
  }
  for (const user of ['maker', 'taker']) await seed.credit(user, 'USDC', '100000000');
  for (let i = 0; i < 3; i++) await seed.credit(`spender-${i}`, 'USDC', '100');
  marketIds = new Map(seed.exchange.catalog.listMarkets().map((m) => [m.definition.symbol, m.definition.id]));
  mint = (userId) => seed.token(userId, ['trader']);
  adminToken = await seed.token('admin', ['admin']);
  await seed.stop();

  // Two engine ids that split the four markets.
  for (let k = 0; ; k++) {
    const ids: [string, string] = [`ea${k}`, `eb${k}`];
    const owners = MARKETS.map((s) => ownerOf(marketIds.get(`${s}-USDC`)!, ids));
    if (owners.filter((o) => o === ids[0]).length === 2) {
      engineIds = ids;
      break;
    }
  }
  env = {
    databaseUrl: database.url,
    natsUrl,
    cluster: `t${randomBytes(4).toString('hex')}`,
    ttlMs: 2_000,
    renewMs: 500,
  };
  pool = await createPool(database.url, { maximumPoolSize: 2 });
  for (const id of engineIds) startEngine(id);
  for (let g = 0; g < 2; g++) {
    const node = startClusterNode(`gateway-${g}`, 'gateway', env);
    nodes.push(node);
    const port = await gatewayPort(node);
    gateways.push({ node, http: `http://127.0.0.1:${port}`, ws: `ws://127.0.0.1:${port}/ws` });
  }
  await settledOwnership();
}, 180_000);

afterAll(async () => {
  for (const c of clients) c.close();
  for (const node of nodes) node.kill('SIGKILL');
  await Promise.all(nodes.map((n) => n.exited));
  await pool?.end();
  await database?.drop();
});

const symbolOf = (base: string) => `${base}-USDC`;

describe('two engines and two gateways', () => {
  it('place the markets on both engines and show a client on each gateway the same books and trades', async () => {
    const owners = await settledOwnership();
    expect(new Set(owners.values())).toEqual(new Set(engineIds));
    const maker = await client(0, 'maker');
    const taker = await client(1, 'taker');
    const watchers = [await client(0, 'watch-0'), await client(1, 'watch-1')];
    for (const base of MARKETS) {
      const market = symbolOf(base);
      const books = await Promise.all(watchers.map((w) => w.subscribeBook(market, 10, () => undefined)));
      const trades: unknown[][] = [[], []];
      await Promise.all(
        watchers.map((w, i) =>
          w.subscribe('trades', { market }, (t) => {
            trades[i]!.push(t);
          }),
        ),
      );
      for (let i = 0; i < 3; i++) {
        await maker.place({ market, side: 'sell', type: 'limit', price: `1${i}.00`, qty: '2' });
      }
      const bought = await taker.place({ market, side: 'buy', type: 'limit', price: '11.00', qty: '3' });
      expect(bought.status).toBe('filled');
      await eventually(
        () =>
          books.every(
            (b) => b.book.seq === books[0]!.book.seq && b.book.checksum() === books[0]!.book.checksum(),
          ) &&
          trades[0]!.length === 2 &&
          trades[1]!.length === 2,
        { what: `${market}: the same book and trades on both gateways` },
      );
      expect(trades[0]).toEqual(trades[1]);
      expect(books[0]!.book.asks()).toEqual(books[1]!.book.asks());
    }
  }, 60_000);
});

/**
 * `npm run bench:cluster` (issue 22, docs/scale-out.md): the scale-out roles as real processes on
 * this machine — engines (ROLE=engine), two gateways (ROLE=gateway) and a worker (ROLE=worker:
 * the projector and the durable consumers) on one Postgres journal and the NATS server (NATS_URL)
 * — measured end to end over the WebSocket SDK:
 *
 * 1. orders/s with 1 engine, then with 2 (the second joins, placement moves half the markets):
 *    closed-loop clients on both gateways, crossing buys and sells (every pair a trade), each
 *    order acknowledged after its owner's commit; meanwhile book subscribers on both gateways
 *    count the book pushes each delivers (fan-out) and compare their final checksums;
 * 2. failover, BENCH_KILLS times: kill -9 the owner of a market under a client's steady orders;
 *    timed from the kill to the first order accepted on that market (by the new owner); the killed
 *    engine restarts under its id;
 * 3. the journal read back: `lost` = acknowledged orders missing from it, `double_answers` =
 *    commands or clientOrderIds executed more than once.
 *
 * The last stdout line is one JSON object; progress on stderr. Both engines and both gateways
 * share this host's two cores with Postgres, NATS and the clients: the 1 → 2 engine figure says
 * what the roles cost here, not what two machines would do.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { sql } from 'slonik';
import WebSocket from 'ws';
import { z } from 'zod';
import { ExchangeClient } from '../src/client/index.ts';
import { ownerOf } from '../src/cluster/placement.ts';
import { decodeBatch } from '../src/persistence/journalCodec.ts';
import { createDatabasePool } from '../src/persistence/pool.ts';
import {
  gatewayPort,
  listLotMarkets,
  startClusterNode,
  type ClusterEnv,
  type ClusterNode,
} from '../test/support/clusterNode.ts';
import { runExchange } from '../test/support/exchange.ts';
import { createBenchDatabase, withBenchAdmin } from './lib/database.ts';
import { loadAvg, machineCpu, machineDelta } from './lifecycle/common.ts';
import { progress } from './lib/stats.ts';

const COMMAND = 'bench:cluster';
const natsUrl = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const KILLS = Number(process.env.BENCH_KILLS ?? 10);
const CLIENTS_PER_GATEWAY = Number(process.env.BENCH_CLIENTS ?? 16);
const MARKETS = ['B0', 'B1', 'B2', 'B3'];
const TTL_MS = 2_000;
const RENEW_MS = 500;
const symbolOf = (base: string) => `${base}-USDC`;

const loadBefore = loadAvg();
const machineBefore = machineCpu();
const { name: dbName, url } = await createBenchDatabase(COMMAND, 'bench_cluster');
const databaseUrl = url.toString();
const nodes: ClusterNode[] = [];
const clients: ExchangeClient[] = [];

try {
  progress('seeding the catalog and the money (ROLE=all, then stopped)');
  const seed = await runExchange(
    { REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/1' },
    { database: { name: dbName, url: databaseUrl, drop: () => Promise.resolve() } },
  );
  await listLotMarkets(seed, MARKETS, () => 4);
  const users: string[] = [];
  for (let i = 0; i < CLIENTS_PER_GATEWAY * 2; i++) {
    const user = `trader-${i}`;
    users.push(user);
    await seed.credit(user, 'USDC', '1000000000');
    for (const base of MARKETS) await seed.credit(user, base, '100000000');
  }
  const tokens = new Map<string, string>();
  for (const user of [...users, 'watcher', 'admin']) {
    tokens.set(user, await seed.token(user, user === 'admin' ? ['admin'] : ['trader']));
  }
  const marketIds = seed.exchange.catalog.listMarkets().map((m) => m.definition.id);
  await seed.stop();
  // Two engine ids that placement splits the markets 2 + 2 between (rendezvous on random market ids).
  let engineIds: [string, string] = ['engine-a0', 'engine-b0'];
  for (let k = 0; ; k++) {
    const ids: [string, string] = [`engine-a${k}`, `engine-b${k}`];
    if (marketIds.filter((id) => ownerOf(id, ids) === ids[0]).length === MARKETS.length / 2) {
      engineIds = ids;
      break;
    }
  }

  const env: ClusterEnv = {
    databaseUrl,
    natsUrl,
    cluster: `bench${randomBytes(4).toString('hex')}`,
    ttlMs: TTL_MS,
    renewMs: RENEW_MS,
  };
  const engines = new Map<string, ClusterNode>();
  const startEngine = (id: string) => {
    const node = startClusterNode(id, 'engine', env, { LOG_LEVEL: 'warn' });
    nodes.push(node);
    engines.set(id, node);
    return node;
  };
  // The projector, notifier and other durable consumers run in a worker (gateways only enqueue).
  const worker = startClusterNode('worker-0', 'worker', env, { LOG_LEVEL: 'warn' });
  nodes.push(worker);
  const gateways: string[] = [];
  const gatewayHttp: string[] = [];
  for (let g = 0; g < 2; g++) {
    const node = startClusterNode(`gateway-${g}`, 'gateway', env);
    nodes.push(node);
    const port = await gatewayPort(node);
    gateways.push(`ws://127.0.0.1:${port}/ws`);
    gatewayHttp.push(`http://127.0.0.1:${port}`);
  }
  const connectClient = async (g: number, user: string) => {
    const c = new ExchangeClient({ url: gateways[g]!, WebSocket, requestTimeoutMs: 60_000 });
    await c.connect();
    await c.auth(tokens.get(user)!);
    clients.push(c);
    return c;
  };

  const Cluster = z.object({
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
  /** Each market's owner once every market has a live, fenced one (and `want` engines own them). */
  const settled = async (want: number): Promise<Map<string, string>> => {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const response = await fetch(`${gatewayHttp[0]!}/api/v1/admin/cluster`, {
        headers: { authorization: `Bearer ${tokens.get('admin')!}` },
      });
      const status = Cluster.parse(await response.json());
      const owners = new Map<string, string>();
      for (const m of status.markets) {
        if (
          m.owner !== undefined &&
          m.leaseEpoch === m.fencedEpoch &&
          engines.get(m.owner)?.exitCode() === undefined &&
          // where placement over the running engines puts it: no handover still to come
          m.owner ===
            ownerOf(
              m.marketId,
              [...engines.keys()].filter((id) => engines.get(id)?.exitCode() === undefined),
            )
        ) {
          owners.set(m.symbol, m.owner);
        }
      }
      if (owners.size === MARKETS.length && new Set(owners.values()).size === want) return owners;
      if (Date.now() > deadline) throw new Error(`ownership did not settle: ${JSON.stringify(status)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };

  interface Acked {
    readonly key: string;
    readonly orderId: string;
  }
  const acked: Acked[] = [];
  let sequence = 0;
  const refusals = new Map<string, number>();
  /** One closed-loop client: alternately sells and buys 1 lot at 10.00 in its market (pairs trade). */
  const trade = async (c: ExchangeClient, user: string, market: string, running: () => boolean) => {
    let side: 'buy' | 'sell' = 'sell';
    let done = 0;
    while (running()) {
      const clientOrderId = `o${sequence++}`;
      try {
        const reply = await c.place({ market, side, type: 'limit', price: '10.00', qty: '1', clientOrderId });
        acked.push({ key: `${market}/${user}/${clientOrderId}`, orderId: reply.orderId });
        done++;
      } catch (error) {
        // Refused (e.g. overloaded): not acknowledged, not counted as an order.
        const code = error instanceof Error && 'code' in error ? String(error.code) : 'error';
        refusals.set(code, (refusals.get(code) ?? 0) + 1);
      }
      side = side === 'sell' ? 'buy' : 'sell';
    }
    return done;
  };

  const traders: { c: ExchangeClient; user: string; market: string }[] = [];
  for (let i = 0; i < users.length; i++) {
    const g = i % 2;
    traders.push({
      c: await connectClient(g, users[i]!),
      user: users[i]!,
      market: symbolOf(MARKETS[i % MARKETS.length]!),
    });
  }
  const watchers = [await connectClient(0, 'watcher'), await connectClient(1, 'watcher')];
  const pushes = [0, 0];
  const books = await Promise.all(
    watchers.flatMap((w, g) =>
      MARKETS.map((base) =>
        w.subscribeBook(symbolOf(base), 10, () => {
          pushes[g]!++;
        }),
      ),
    ),
  );

  const throughput = async (label: string): Promise<{ perS: number; fanoutPerS: number[] }> => {
    const pushesBefore = [...pushes];
    let running = true;
    const started = performance.now();
    const runs = traders.map((t) => trade(t.c, t.user, t.market, () => running));
    await new Promise((resolve) => setTimeout(resolve, SECONDS * 1_000));
    running = false;
    const counts = await Promise.all(runs);
    const seconds = (performance.now() - started) / 1_000;
    const total = counts.reduce((a, b) => a + b, 0);
    const fanoutPerS = pushes.map((p, g) => Math.round((p - pushesBefore[g]!) / seconds));
    progress(
      `${label}: refusals so far ${JSON.stringify(Object.fromEntries(refusals))}; ${total} orders in ${seconds.toFixed(1)} s = ${Math.round(total / seconds)}/s; book pushes/s per gateway ${fanoutPerS.join(', ')}`,
    );
    return { perS: Math.round(total / seconds), fanoutPerS };
  };

  progress('1 engine');
  startEngine(engineIds[0]);
  await settled(1);
  const one = await throughput('1 engine');
  progress('2 engines');
  startEngine(engineIds[1]);
  await settled(2);
  const two = await throughput('2 engines');
  const sameBooks = await (async () => {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const same = MARKETS.every((_, m) => {
        const [a, b] = [books[m]!.book, books[MARKETS.length + m]!.book];
        return a.seq === b.seq && a.checksum() === b.checksum();
      });
      if (same || Date.now() > deadline) return same;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();

  progress(`failover: ${KILLS} kills`);
  const failovers: number[] = [];
  for (let k = 0; k < KILLS; k++) {
    const owners = await settled(2);
    const market = symbolOf(MARKETS[k % MARKETS.length]!);
    const victimId = owners.get(market)!;
    const victim = engines.get(victimId)!;
    const trader = traders.find((t) => t.market === market)!;
    let running = true;
    let lastAckAt = 0;
    let killedAt = Infinity;
    const run = (async () => {
      let side: 'buy' | 'sell' = 'sell';
      while (running) {
        const clientOrderId = `f${sequence++}`;
        const sentAt = performance.now();
        try {
          const reply = await trader.c.place({
            market,
            side,
            type: 'limit',
            price: '10.00',
            qty: '1',
            clientOrderId,
          });
          acked.push({ key: `${market}/${trader.user}/${clientOrderId}`, orderId: reply.orderId });
          // Kill → first acknowledgement of an order sent after it (not a reply already in flight).
          if (sentAt > killedAt && lastAckAt === 0) lastAckAt = performance.now();
        } catch {
          // not acknowledged
        }
        side = side === 'sell' ? 'buy' : 'sell';
      }
    })();
    // A random moment of the renewal period and of the order stream: the window is what is measured.
    await new Promise((resolve) => setTimeout(resolve, 300 + Math.random() * 1_000));
    killedAt = performance.now();
    victim.kill('SIGKILL');
    await victim.exited;
    startEngine(victimId);
    while (lastAckAt === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    failovers.push(lastAckAt - killedAt);
    running = false;
    await run;
    progress(
      `kill ${k + 1}: ${victimId} (${market}) → accepted again after ${Math.round(lastAckAt - killedAt)} ms`,
    );
  }
  await settled(2);

  progress('reading the journal back');
  const pool = await createDatabasePool(databaseUrl, 2);
  const placed = new Map<string, string[]>();
  const commandIds = new Set<string>();
  let doubleAnswers = 0;
  let after = 0;
  for (;;) {
    const rows = await pool.any(sql.type(z.object({ global_seq: z.string(), record: z.instanceof(Buffer) }))`
      SELECT global_seq::text AS global_seq, record FROM journal WHERE global_seq > ${after}
      ORDER BY journal.global_seq LIMIT 2000`);
    for (const row of rows) {
      const batch = decodeBatch(row.record);
      for (const entry of batch.entries) {
        if (entry.commandId !== undefined) {
          if (commandIds.has(entry.commandId)) doubleAnswers++;
          commandIds.add(entry.commandId);
        }
        const { command, result } = entry;
        if (command.kind !== 'place' || !result.ok || command.clientOrderId === undefined) continue;
        const key = `${batch.symbol}/${command.userId}/${command.clientOrderId}`;
        placed.set(key, [...(placed.get(key) ?? []), `${batch.marketId}:${String(result.orderId)}`]);
      }
      after = Number(row.global_seq);
    }
    if (rows.length < 2000) break;
  }
  await pool.end();
  for (const ids of placed.values()) if (ids.length > 1) doubleAnswers += ids.length - 1;
  const lost = acked.filter((a) => placed.get(a.key)?.[0] !== a.orderId).length;

  failovers.sort((a, b) => a - b);
  const pct = (p: number) =>
    failovers[Math.min(failovers.length - 1, Math.ceil((p / 100) * failovers.length) - 1)]!;
  const machine = machineDelta(machineBefore, machineCpu());
  process.stdout.write(
    `${JSON.stringify({
      failover_p50_ms: Math.round(pct(50)),
      failover_p99_ms: Math.round(pct(99)),
      lost,
      double_answers: doubleAnswers,
      orders_per_s_1_engine: one.perS,
      orders_per_s_2_engines: two.perS,
      refusals: Object.fromEntries(refusals),
      fanout_book_pushes_per_s_per_gateway: two.fanoutPerS,
      gateways_same_books: sameBooks,
      acknowledged_orders: acked.length,
      kills: KILLS,
      clients: traders.length,
      seconds_per_phase: SECONDS,
      lease_ttl_ms: TTL_MS,
      lease_renew_ms: RENEW_MS,
      failover_target_met: pct(99) <= 5_000,
      steal_pct: +machine.stealPct.toFixed(2),
      busy_pct: +machine.busyPct.toFixed(1),
      load_avg: { before: loadBefore, after: loadAvg() },
      node: process.version,
    })}\n`,
  );
} finally {
  for (const c of clients) c.close();
  for (const node of nodes) node.kill('SIGKILL');
  await Promise.all(nodes.map((n) => n.exited));
  await withBenchAdmin(COMMAND, (admin) =>
    admin.query(sql.unsafe`DROP DATABASE IF EXISTS ${sql.identifier([dbName])} WITH (FORCE)`),
  );
}
process.exit(0);

/**
 * The exchange under the issuance benchmark, in a process of its own (its CPU read alone from
 * /proc/<pid>/stat): a fresh database `exchange_bench_lifecycle_<random>` created through the admin
 * URL (TEST_DATABASE_ADMIN_URL, else DATABASE_URL's server with database `postgres`), the whole
 * exchange (src/app.ts: migrations, recovery, supervisor, journal writer, gateway, the BullMQ
 * deploy-token queue on REDIS_URL under the key prefix `rwa:<database>`) on a free port of 127.0.0.1,
 * the USDC asset, an issuer and an admin token. No CHAIN_RPC_URL: the exchange starts anvil itself on
 * the first deployment and stops it when it closes.
 *
 * Reports `ServerReady` over IPC; answers `count` (markets by lifecycle state) and `stop` (closes
 * the exchange, drops the database, deletes its BullMQ keys from Redis).
 *
 * Started by bench/lifecycle.ts with `node --import tsx bench/lifecycle/server.ts`.
 */
import type { DatabasePool } from 'slonik';
import { benchAdminUrl, withBenchAdmin } from '../lib/database.ts';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { sql } from 'slonik';
import { startExchange, type Exchange } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { QUOTE, type ServerCount, type ServerReady, type ServerRequest } from './common.ts';

const send = (message: ServerReady | ServerCount): void => {
  process.send?.(message);
};

const adminUrl = (): string => benchAdminUrl('bench:lifecycle');

const redisUrl = process.env.REDIS_URL;
if (redisUrl === undefined || redisUrl === '') {
  throw new Error('REDIS_URL is not set: run through `npm run bench:lifecycle` (scripts/services.ts)');
}

const admin = (run: (pool: DatabasePool) => Promise<unknown>): Promise<void> =>
  withBenchAdmin('bench:lifecycle', run);

const name = `exchange_bench_lifecycle_${randomBytes(4).toString('hex')}`;
await admin((pool) => pool.query(sql.unsafe`CREATE DATABASE ${sql.identifier([name])}`));
const dbUrl = new URL(adminUrl());
dbUrl.pathname = `/${name}`;

/** The exchange's BullMQ keys (src/app.ts: prefix `rwa:<database name>`): ours alone, removed at the end. */
async function dropQueueKeys(): Promise<void> {
  const redis = new Redis(redisUrl!, { maxRetriesPerRequest: 1 });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `rwa:${name}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

let exchange: Exchange | undefined;
let stopping: Promise<void> | undefined;

async function stop(): Promise<void> {
  stopping ??= (async () => {
    if (exchange !== undefined) {
      // Closes the gateway, the job queues and the anvil it started; do not let it hold the run.
      await Promise.race([
        exchange.close().catch((error: unknown) => {
          process.stderr.write(`[server] close failed: ${String(error)}\n`);
        }),
        new Promise((resolve) => setTimeout(resolve, 20_000)),
      ]);
    }
    await dropQueueKeys().catch((error: unknown) => {
      process.stderr.write(`[server] could not delete the queue keys: ${String(error)}\n`);
    });
    await admin((pool) =>
      pool.query(sql.unsafe`DROP DATABASE IF EXISTS ${sql.identifier([name])} WITH (FORCE)`),
    );
  })();
  return stopping;
}

try {
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: process.env.BENCH_SERVER_LOG_LEVEL ?? 'warn',
    HOST: '127.0.0.1',
    PORT: '0',
    DATABASE_URL: dbUrl.toString(),
    REDIS_URL: redisUrl,
    // 20 + 20 lifecycle subscriptions on the benchmark's one watcher connection.
    WS_MAX_SUBSCRIPTIONS: '100',
  });
  // Logs to stderr, so the parent's stdout keeps only its own lines.
  exchange = await startExchange(config, pino({ level: config.LOG_LEVEL }, pino.destination(2)));
  const ex = exchange;
  const asset = await ex.admin.createAsset({ symbol: QUOTE, decimals: 6, kind: 'stable' });
  if (!asset.ok) throw new Error(`asset ${QUOTE}: ${asset.code} ${asset.message}`);
  const [issuerToken, adminToken] = await Promise.all([
    ex.auth.mint('bench-issuer', ['issuer'], '2h'),
    ex.auth.mint('bench-ops', ['admin'], '2h'),
  ]);
  process.on('message', (message: ServerRequest) => {
    if (message.type === 'count') {
      const byStatus: Record<string, number> = {};
      const markets = ex.catalog.listMarkets();
      for (const market of markets) {
        const state = ex.supervisor.actor(market.definition.symbol)?.state ?? 'unknown';
        byStatus[state] = (byStatus[state] ?? 0) + 1;
      }
      send({ type: 'count', markets: markets.length, byStatus });
    } else {
      void stop().finally(() => process.exit(0));
    }
  });
  process.on('disconnect', () => {
    void stop().finally(() => process.exit(0));
  });
  send({ type: 'ready', port: ex.port, database: name, issuerToken, adminToken });
} catch (error) {
  process.stderr.write(
    `[server] ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  await stop();
  process.exit(1);
}

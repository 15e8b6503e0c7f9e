/**
 * The exchange under bench:funding, in a process of its own: a fresh database
 * `exchange_bench_funding_<random>` (dropped at `stop`, with its BullMQ keys), the whole exchange
 * (src/app.ts) with the payment providers pointed at the parent's stand-ins (their env comes from
 * the parent). Reports `{type:"ready", port, pid}` over IPC; `{type:"stop"}` closes it.
 * Started by bench/funding.ts with `node --import tsx bench/funding/server.ts`.
 */
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { sql } from 'slonik';
import { startExchange, type Exchange } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { createBenchDatabase, withBenchAdmin } from '../lib/database.ts';

const redisUrl = process.env.REDIS_URL;
if (redisUrl === undefined || redisUrl === '') {
  throw new Error('REDIS_URL is not set: run through `npm run bench:funding` (scripts/services.ts)');
}
const { name, url: dbUrl } = await createBenchDatabase('bench:funding', 'exchange_bench_funding');

let exchange: Exchange | undefined;
async function stop(): Promise<void> {
  await exchange
    ?.close()
    .catch((error: unknown) => process.stderr.write(`[server] close: ${String(error)}\n`));
  const redis = new Redis(redisUrl!, { maxRetriesPerRequest: 1 });
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `rwa:${name}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== '0');
  redis.disconnect();
  await withBenchAdmin('bench:funding', (pool) =>
    pool.query(sql.unsafe`DROP DATABASE IF EXISTS ${sql.identifier([name])} WITH (FORCE)`),
  );
}

try {
  const config = loadConfig({
    ...process.env,
    NODE_ENV: 'test',
    LOG_LEVEL: process.env.BENCH_SERVER_LOG_LEVEL ?? 'warn',
    HOST: '127.0.0.1',
    PORT: '0',
    DATABASE_URL: dbUrl.toString(),
    REDIS_URL: redisUrl,
    // The driver sends many notifications from one address at once.
    HTTP_MAX_PENDING_REQUESTS_PER_IP: '1000',
    FUNDING_MAX_PENDING_DEPOSITS_PER_USER: '1000000',
  });
  exchange = await startExchange(config, pino({ level: config.LOG_LEVEL }, pino.destination(2)));
  process.send?.({ type: 'ready', port: exchange.port, pid: process.pid });
  process.on('message', (message: { type?: string }) => {
    if (message.type !== 'stop') return;
    void stop().then(() => process.exit(0));
  });
} catch (error) {
  process.stderr.write(
    `[server] ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  await stop();
  process.exit(1);
}

/**
 * The exchange under bench:trends, in a process of its own (so its CPU is measured apart from the
 * load generator's, and the two do not share one event loop): a fresh database
 * `bench_trends_<random>` (dropped at `stop`), the whole exchange (src/app.ts). Reports
 * `{type:"ready", port, pid, admin, feeder}` over IPC (two minted tokens: an admin and an
 * `ingest` service token); answers `{type:"cpu"}` with its process.cpuUsage() (µs),
 * `{type:"profile-start"}` / `{type:"profile-stop"}` with the V8 profile's top self times;
 * `{type:"stop"}` closes it. Started by bench/trends.ts with `node --import tsx bench/trends/server.ts`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { pino } from 'pino';
import { sql } from 'slonik';
import { z } from 'zod';
import { startExchange, type Exchange } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { topSelfTime, type CpuProfile } from '../lib/cpuProfile.ts';
import { createBenchDatabase, withBenchAdmin } from '../lib/database.ts';

const COMMAND = 'bench:trends';
const { name, url: dbUrl } = await createBenchDatabase(COMMAND, 'bench_trends');

/**
 * CPU (µs, user + system) of the Postgres backends serving this database now, from /proc (the
 * server runs on this host): the exchange's pool keeps its connections, so the difference over a
 * window is what Postgres spent on the exchange's queries, apart from other databases' work.
 */
async function databaseCpuUs(): Promise<number> {
  let pids: readonly number[] = [];
  await withBenchAdmin(COMMAND, async (pool) => {
    pids = await pool.anyFirst(
      sql.type(z.object({ pid: z.number() }))`SELECT pid FROM pg_stat_activity WHERE datname = ${name}`,
    );
  });
  let ticks = 0;
  for (const pid of pids) {
    try {
      // Fields after the command's closing parenthesis: utime and stime are the 12th and 13th.
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // A backend that ended meanwhile: its time is lost to the figure.
    }
  }
  return (ticks * 1_000_000) / 100;
}

let exchange: Exchange | undefined;
async function stop(): Promise<void> {
  await exchange
    ?.close()
    .catch((error: unknown) => process.stderr.write(`[server] close: ${String(error)}\n`));
  await withBenchAdmin(COMMAND, (pool) =>
    pool.query(sql.unsafe`DROP DATABASE IF EXISTS ${sql.identifier([name])} WITH (FORCE)`),
  );
}

const session = new Session();
const post = <R>(method: string, params: object = {}): Promise<R> =>
  new Promise((resolve, reject) => {
    session.post(method, params, (error, value) => {
      if (error === null) resolve(value as R);
      else reject(error);
    });
  });

try {
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: process.env.BENCH_SERVER_LOG_LEVEL ?? 'warn',
    HOST: '127.0.0.1',
    PORT: '0',
    DATABASE_URL: dbUrl.toString(),
    REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/1',
    TRENDS_RATE_PER_S: '1000000',
    TRENDS_RATE_BURST: '1000000',
    HTTP_MAX_PENDING_REQUESTS_PER_IP: '100000',
    // One client subscribes to every market's ticker at once.
    WS_RATE_SUBS_PER_S: '100000',
    WS_RATE_SUBS_BURST: '100000',
    WS_MAX_SUBSCRIPTIONS: '1000',
  });
  exchange = await startExchange(config, pino({ level: config.LOG_LEVEL }, pino.destination(2)));
  const admin = await exchange.auth.mint('bench-admin', ['admin']);
  const feeder = await exchange.auth.mint('bench-feeder', ['ingest']);
  process.send?.({ type: 'ready', port: exchange.port, pid: process.pid, admin, feeder });
  process.on('message', (message: { type?: string }) => {
    switch (message.type) {
      case 'cpu': {
        const usage = process.cpuUsage();
        void databaseCpuUs().then((db) => {
          process.send?.({ type: 'cpu', user: usage.user, system: usage.system, db });
        });
        break;
      }
      case 'profile-start':
        session.connect();
        void post('Profiler.enable')
          .then(() => post('Profiler.setSamplingInterval', { interval: 500 }))
          .then(() => post('Profiler.start'))
          .then(() => process.send?.({ type: 'profiling' }));
        break;
      case 'profile-stop':
        void post<{ profile: CpuProfile }>('Profiler.stop').then(({ profile }) => {
          session.disconnect();
          // BENCH_TREND_PROFILE_FILE (development aid): the whole profile, for a viewer.
          const file = process.env.BENCH_TREND_PROFILE_FILE;
          if (file !== undefined && file !== '') writeFileSync(file, JSON.stringify(profile));
          process.send?.({ type: 'profile', top: topSelfTime(profile, 12) });
        });
        break;
      case 'stop':
        void stop().then(() => process.exit(0));
        break;
      default:
    }
  });
} catch (error) {
  process.stderr.write(
    `[server] ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  await stop();
  process.exit(1);
}

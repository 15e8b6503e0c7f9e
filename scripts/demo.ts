/**
 * `npm run demo`: the exchange with something to watch. Starts the whole exchange in this process
 * (PORT, default 3000) on a database of its own (`exchange_demo` on the server `npm start` uses;
 * DEMO_DATABASE names another), sets up two markets over the HTTP API (BTC-USDC listed directly,
 * and LUXAPT-USDC, a tokenized apartment taken through registration, approval and token deployment
 * on the local chain), and runs bots on the client SDK: a market maker per market quoting around a
 * drifting price and takers trading against it. A later run on the same database finds the markets
 * and carries on from their last price. One line of figures every 5 s; Ctrl-C stops the bots
 * (their orders canceled) and shuts the exchange down cleanly.
 *
 * Environment: everything `npm start` reads, plus DEMO_DATABASE, DEMO_SEED, DEMO_RWA_TOKEN,
 * DEMO_LEVELS (orders per side per maker), DEMO_TAKERS (per market), DEMO_TAKER_RATE (orders/s
 * per taker). The demo's own defaults for the exchange's limits, unless set: LOG_LEVEL=warn,
 * RATE_ORDERS_PER_S=100, RATE_ORDERS_BURST=200, MAX_OPEN_ORDERS_PER_USER=100. Unless
 * PAYSTACK_SECRET_KEY is set (or DEMO_PAYMENTS=false), the payment providers' stand-ins run here
 * too and one user (`demo-funded`) is funded through each of them at start.
 */
import pg from 'pg';
import { startExchange, type Exchange } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { createLogger } from '../src/logger.ts';
import { PortInUseError } from '../src/transport/listen.ts';
import { fundThroughEachProvider, startDemoPayments } from './demo/funding.ts';
import { runDemo, type Demo, type MarketFigures } from './demo/run.ts';
import { helpOnly } from './lib/cli.ts';

helpOnly(
  'npm run demo --',
  `usage: npm run demo

The whole exchange in this process (PORT, default 3000) on a database of its own, two markets set
up over the HTTP API (BTC-USDC, and LUXAPT-USDC taken through registration, approval and token
deployment on the local chain), and bots trading on them. One line of figures every 5 s; Ctrl-C
stops the bots and shuts the exchange down cleanly.

Environment: everything npm start reads, plus
  DEMO_DATABASE     database name (default exchange_demo)
  DEMO_SEED         the bots' random seed (default 1)
  DEMO_RWA_TOKEN    the RWA market's token symbol
  DEMO_LEVELS       orders per side per market maker (default 8)
  DEMO_TAKERS       takers per market (default 2)
  DEMO_TAKER_RATE   orders/s per taker (default 3)
  DEMO_PAYMENTS     false: no payment stand-ins (default: run them unless PAYSTACK_SECRET_KEY is set)`,
);

const say = (line: string) => {
  console.log(`${new Date().toISOString().slice(11, 19)} [demo] ${line}`);
};

const env: NodeJS.ProcessEnv = { ...process.env };
env.LOG_LEVEL ??= 'warn';
env.RATE_ORDERS_PER_S ??= '100';
env.RATE_ORDERS_BURST ??= '200';
env.MAX_OPEN_ORDERS_PER_USER ??= '100';
if (env.DATABASE_URL === undefined) {
  console.error(
    'DATABASE_URL is not set: run the demo with `npm run demo`, which provides Postgres and Redis',
  );
  process.exit(1);
}
const databaseName = env.DEMO_DATABASE ?? 'exchange_demo';
env.DATABASE_URL = await ensureDatabase(env.DATABASE_URL, databaseName);

// Fiat funding through the providers' loopback stand-ins (scripts/demo/funding.ts; docs/funding.md).
const payments = await startDemoPayments(env);
const config = loadConfig(env);
const log = createLogger({ level: config.LOG_LEVEL, format: config.LOG_FORMAT, base: { svc: 'exchange' } });
const intEnv = (name: string, fallback: number): number => {
  const value = Number(env[name] ?? fallback);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer`);
  return value;
};

let exchange: Exchange | undefined;
let demo: Demo | undefined;
let figuresTimer: ReturnType<typeof setInterval> | undefined;
let stopping = false;
/** Read after awaits: a signal may have come meanwhile. */
const isStopping = () => stopping;

async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  say(`${signal}: stopping the bots`);
  if (figuresTimer !== undefined) clearInterval(figuresTimer);
  try {
    await demo?.stop();
    if (demo !== undefined) {
      const open = demo.botStats().reduce((n, s) => n + s.openOrders, 0);
      say(`bots stopped (${open} open bot orders left)`);
    }
    say('shutting the exchange down');
    await exchange?.close();
    await payments?.close();
    say('stopped cleanly');
    process.exit(0);
  } catch (error) {
    console.error('shutdown failed:', error);
    process.exit(1);
  }
}
let signaledAt = 0;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) {
      // tsx relays the terminal's Ctrl-C to us as well: a second signal at once is that copy.
      if (Date.now() - signaledAt < 2_000) return;
      say(`${signal} again: exiting at once`);
      process.exit(130);
    }
    signaledAt = Date.now();
    void shutdown(signal);
  });
}

try {
  exchange = await startExchange(config, log);
  const host = config.HOST === '0.0.0.0' ? '127.0.0.1' : config.HOST;
  const http = `http://${host}:${exchange.port}`;
  const ws = `ws://${host}:${exchange.port}/ws`;
  say(`exchange up on ${http} (database ${databaseName}); setting up the demo markets`);
  const running = exchange;
  demo = await runDemo({
    http,
    ws,
    mint: (userId, roles) => running.auth.mint(userId, roles, '7d'),
    log: say,
    seed: intEnv('DEMO_SEED', 1),
    rwaToken: env.DEMO_RWA_TOKEN,
    levels: intEnv('DEMO_LEVELS', 8),
    takersPerMarket: intEnv('DEMO_TAKERS', 2),
    takerOrdersPerSecond: intEnv('DEMO_TAKER_RATE', 3),
  });
  if (payments !== undefined) {
    await fundThroughEachProvider({
      http,
      standIn: payments,
      mint: (userId, roles) => running.auth.mint(userId, roles),
      log: say,
    });
    say(`payment stand-ins on ${payments.url}: fund more users as docs/funding.md shows`);
  }
  if (isStopping()) {
    await demo.stop();
  } else {
    say(`running. Dashboard: ${http}/  WebSocket: ${ws}  Ctrl-C stops.`);
    figuresTimer = startFigures(demo);
  }
} catch (error) {
  const message = error instanceof Error ? error.message : String(error);
  const hint = error instanceof PortInUseError ? ' (is `npm start` running? set PORT to another port)' : '';
  console.error(`the demo could not start: ${message}${hint}`);
  await demo?.stop().catch(() => undefined);
  await exchange?.close().catch(() => undefined);
  process.exit(1);
}

/** Every 5 s: trades/s, book levels and last price per market, and the bots' troubles. */
function startFigures(running: Demo): ReturnType<typeof setInterval> {
  const everyMs = 5_000;
  let previous = new Map(running.figures().map((f) => [f.symbol, f]));
  return setInterval(() => {
    const now = running.figures();
    const parts = now.map((f: MarketFigures) => {
      const before = previous.get(f.symbol)?.trades ?? 0;
      const rate = ((f.trades - before) * 1000) / everyMs;
      return `${f.symbol} ${rate.toFixed(1)} trades/s, book ${f.bidLevels} bids/${f.askLevels} asks, last ${f.last ?? '-'}`;
    });
    previous = new Map(now.map((f) => [f.symbol, f]));
    const stats = running.botStats();
    const count = (pick: (s: (typeof stats)[number]) => Record<string, number>) =>
      stats.reduce((n, s) => n + Object.values(pick(s)).reduce((a, b) => a + b, 0), 0);
    const open = stats.reduce((n, s) => n + s.openOrders, 0);
    say(
      `${parts.join(' | ')} | bots: ${open} open orders, ${count((s) => s.backoffs)} back-offs, ${count((s) => s.errors)} errors`,
    );
  }, everyMs);
}

/** The URL of database `name` on the server of `url`, created when missing. */
async function ensureDatabase(url: string, name: string): Promise<string> {
  const target = new URL(url);
  target.pathname = `/${encodeURIComponent(name)}`;
  const probe = new pg.Client({ connectionString: target.href, connectionTimeoutMillis: 5_000 });
  try {
    await probe.connect();
    return target.href;
  } catch (error) {
    if ((error as { code?: unknown }).code !== '3D000') throw error; // 3D000: no such database
  } finally {
    await probe.end().catch(() => undefined);
  }
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.href, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
  } finally {
    await client.end();
  }
  say(`created database ${name}`);
  return target.href;
}

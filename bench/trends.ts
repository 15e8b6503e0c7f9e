/**
 * Trend-market benchmark: `npm run bench:trends` (issue 19). Progress on stderr; the last stdout
 * line is one JSON object: {"trend_updates_per_s":..., "trend_update_p99_ms":..., ...}.
 *
 * A whole exchange (the real composition root, its own fresh database, Redis) with MARKETS trend
 * markets listed through POST /trends/markets; a WebSocket client subscribed to every market's
 * ticker. Then, for DURATION_S, CONCURRENCY closed loops POST /trends over keep-alive HTTP, each
 * update a new score of a market (so each gives a new index price). Measured: updates answered
 * 201 per second (ingestion: parsed, stored in Postgres, priced, streamed, answered), and per
 * update the time from sending the request to the ticker push carrying its index price arriving on
 * the WebSocket (ingestion → index price → ticker push), p50/p99. Client and server share the
 * machine's two cores (with the other engineers' work): the figures are of the whole loop.
 */
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { readFileSync } from 'node:fs';
import { build } from 'hdr-histogram-js';
import { pino } from 'pino';
import { sql } from 'slonik';
import WebSocket from 'ws';
import { Agent, request } from 'node:http';
import { startExchange } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { ExchangeClient } from '../src/client/index.ts';
import { withBenchAdmin, benchAdminUrl } from './lib/database.ts';
import { progress } from './lib/stats.ts';

const MARKETS = Number(process.env.BENCH_TREND_MARKETS ?? 100);
const CONCURRENCY = Number(process.env.BENCH_TREND_CONCURRENCY ?? 64);
const DURATION_S = Number(process.env.BENCH_TREND_DURATION_S ?? 10);
const WARMUP_S = 2;
const COMMAND = 'bench:trends';

function cpuTimes(): { busy: number; steal: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = line;
  const total = user + nice + system + idle + iowait + irq + softirq + steal;
  return { busy: total - idle - iowait, steal, total };
}

async function main(): Promise<void> {
  const loadBefore = loadavg();
  const name = `bench_trends_${randomBytes(4).toString('hex')}`;
  await withBenchAdmin(COMMAND, (pool) => pool.query(sql.unsafe`CREATE DATABASE ${sql.identifier([name])}`));
  const dbUrl = new URL(benchAdminUrl(COMMAND));
  dbUrl.pathname = `/${name}`;
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
  const exchange = await startExchange(config, pino({ level: config.LOG_LEVEL }, pino.destination(2)));
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  try {
    const port = exchange.port;
    const admin = await exchange.auth.mint('bench-admin', ['admin']);
    const feeder = await exchange.auth.mint('bench-feeder', ['ingest']);
    const post = (path: string, token: string, body: unknown) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const payload = JSON.stringify(body);
        const req = request(
          {
            host: '127.0.0.1',
            port,
            path,
            method: 'POST',
            agent,
            headers: {
              authorization: `Bearer ${token}`,
              'content-type': 'application/json',
              'content-length': Buffer.byteLength(payload),
            },
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => {
              resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() });
            });
          },
        );
        req.on('error', reject);
        req.end(payload);
      });
    const ok = async (what: string, answer: Promise<{ status: number; body: string }>) => {
      const a = await answer;
      if (a.status >= 300) throw new Error(`${what}: ${a.status} ${a.body}`);
      return JSON.parse(a.body) as Record<string, string>;
    };
    await ok('asset', post('/api/v1/assets', admin, { symbol: 'USDC', decimals: 6, kind: 'stable' }));
    const topics: string[] = [];
    const markets: string[] = [];
    for (let i = 0; i < MARKETS; i++) {
      const topic = `Bench Topic${i} Gauteng`;
      const trend = await ok(
        'trend',
        post('/api/v1/trends', feeder, {
          topic,
          region: 'SA',
          metrics: { viralityScore: 0, sentiment: 0, velocity: 0 },
        }),
      );
      const listed = await ok(
        'trend market',
        post('/api/v1/trends/markets', admin, {
          symbol: trend.symbol,
          quoteAsset: 'USDC',
          basePrice: '10000.00',
          priceDecimals: 2,
          qtyDecimals: 0,
          tickSize: '0.01',
          lotSize: '1',
          minQty: '1',
        }),
      );
      topics.push(topic);
      markets.push(listed.market!);
    }
    progress(`${MARKETS} trend markets listed`);

    const client = new ExchangeClient({
      url: `ws://127.0.0.1:${port}/ws`,
      WebSocket,
      requestTimeoutMs: 15_000,
    });
    await client.connect();
    /** market → index price → when its update was sent (performance.now()). */
    const sent = new Map<string, Map<string, number>>();
    const histogram = build({
      lowestDiscernibleValue: 1,
      highestTrackableValue: 60_000_000,
      numberOfSignificantValueDigits: 3,
    });
    let measuring = false;
    let pushes = 0;
    for (const market of markets) {
      sent.set(market, new Map());
      await client.subscribe('ticker', { market }, (push) => {
        const price = push.indexPrice;
        if (price === undefined) return;
        const at = sent.get(market)!.get(price);
        if (at === undefined) return;
        sent.get(market)!.delete(price);
        pushes++;
        if (measuring) histogram.recordValue(Math.max(1, Math.round((performance.now() - at) * 1000)));
      });
    }
    progress('subscribed to every ticker');

    // Score steps of 0.01 point per update of a market: with a point of 100.00 USDC (1 % of the
    // base) each step moves the index price by 1.00, so every update's price is new.
    const step = new Array<number>(MARKETS).fill(0);
    let acknowledged = 0;
    let failures = 0;
    let next = 0;
    const deadline = { warm: 0, end: 0 };
    const loop = async () => {
      while (performance.now() < deadline.end) {
        const m = next++ % MARKETS;
        const s = ++step[m]!;
        if (s > 10_000) step[m] = 1;
        const score = (step[m]! / 100).toFixed(2);
        const price = `${(10_000 + step[m]!).toFixed(0)}.00`;
        sent.get(markets[m]!)!.set(price, performance.now());
        const answer = await post('/api/v1/trends', feeder, {
          topic: topics[m],
          region: 'SA',
          metrics: { viralityScore: Number(score), sentiment: 0, velocity: 0 },
        });
        if (answer.status === 201) {
          if (performance.now() >= deadline.warm) acknowledged++;
        } else failures++;
      }
    };
    const start = performance.now();
    deadline.warm = start + WARMUP_S * 1000;
    deadline.end = deadline.warm + DURATION_S * 1000;
    setTimeout(() => {
      measuring = true;
    }, WARMUP_S * 1000).unref();
    const cpuBefore = cpuTimes();
    await Promise.all(Array.from({ length: CONCURRENCY }, loop));
    const cpuAfter = cpuTimes();
    const seconds = (performance.now() - deadline.warm) / 1000;
    client.close();
    const total = cpuAfter.total - cpuBefore.total;
    const result = {
      trend_updates_per_s: Math.round(acknowledged / seconds),
      trend_update_p99_ms: Math.round(histogram.getValueAtPercentile(99)) / 1000,
      trend_update_p50_ms: Math.round(histogram.getValueAtPercentile(50)) / 1000,
      pushes_measured: histogram.totalCount,
      pushes_total: pushes,
      failures,
      target_updates_per_s: 10_000,
      target_p99_ms: 100,
      markets: MARKETS,
      concurrency: CONCURRENCY,
      duration_s: DURATION_S,
      cpu_busy_pct: Math.round((1000 * (cpuAfter.busy - cpuBefore.busy)) / total) / 10,
      steal_pct: Math.round((1000 * (cpuAfter.steal - cpuBefore.steal)) / total) / 10,
      node: process.version,
      load_avg: {
        before: loadBefore.map((l) => Math.round(l * 100) / 100),
        after: loadavg().map((l) => Math.round(l * 100) / 100),
      },
    };
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    agent.destroy();
    await exchange.close();
    await withBenchAdmin(COMMAND, (pool) =>
      pool.query(sql.unsafe`DROP DATABASE IF EXISTS ${sql.identifier([name])} WITH (FORCE)`),
    );
  }
}

await main();

/**
 * Notifications benchmark: `npm run bench:notify` (scripts/services.ts provides Postgres and Redis).
 * Progress on stderr; the last stdout line is one JSON object (bench/RESULTS.md).
 *
 * A whole exchange (src/app.ts) on a database of its own, an SMTP server in a worker thread
 * (bench/lib/smtpReceiver.ts: a relay is another machine; its parsing does not share the
 * exchange's thread). After WARMUP_FILLS fills at RATE (not measured: connections, JIT), paced:
 * PACED_FILLS fills at RATE fills/s, each a buy (by one of BUYERS users with email on) filling a
 * resting sell; for each fill, latency from the buyer's `accepted` (sent after the commit) to
 *   - its in-app `notification` push on the buyer's socket (commit → in-app), and
 *   - the SMTP server accepting its email (commit → SMTP accepted, matched by X-Notification-Id).
 * Saturation: BURST_FILLS fills as fast as the buyers place them; notifications per second per
 * channel until the last in-app push and the last email arrived.
 */
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { Worker } from 'node:worker_threads';
import { pino } from 'pino';
import { sql } from 'slonik';
import WebSocket from 'ws';
import { startExchange } from '../src/app.ts';
import { ExchangeClient } from '../src/client/index.ts';
import { loadConfig } from '../src/config.ts';
import type { NotificationMessage } from '../src/protocol/messages.ts';
import { benchAdminUrl, withBenchAdmin } from './lib/database.ts';
import { progress, round } from './lib/stats.ts';

const RATE = 200;
const WARMUP_FILLS = 200;
const PACED_FILLS = 2_000;
const BURST_FILLS = 2_000;
const BUYERS = 20;
const COMMAND = 'bench:notify';

/** Epoch ms, comparable with the SMTP worker's clock. */
const now = (): number => performance.timeOrigin + performance.now();

const quantile = (values: readonly number[], q: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
};

async function main(): Promise<void> {
  const loadBefore = loadavg()[0]!;
  const name = `notify_bench_${randomBytes(4).toString('hex')}`;
  const admin = benchAdminUrl(COMMAND);
  await withBenchAdmin(COMMAND, (pool) => pool.query(sql.unsafe`CREATE DATABASE ${sql.identifier([name])}`));
  const databaseUrl = new URL(admin);
  databaseUrl.pathname = `/${name}`;

  /** Email arrival times by notification id. */
  const mailAt = new Map<string, number>();
  // The worker registers tsx itself (a worker thread does not inherit the parent's --import hooks).
  const receiver = new URL('./lib/smtpReceiver.ts', import.meta.url).href;
  const smtp = new Worker(
    `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(receiver)}); })`,
    { eval: true },
  );
  const smtpPort = await new Promise<number>((resolve, reject) => {
    smtp.on('message', (message: { port?: number; id?: string; at?: number }) => {
      if (message.port !== undefined) resolve(message.port);
      else if (message.id !== undefined) mailAt.set(message.id, message.at!);
    });
    smtp.once('error', reject);
  });

  const config = loadConfig({
    ...process.env,
    NODE_ENV: 'production',
    JWT_SECRET: 'bench-jwt-secret-0123456789',
    WEBHOOK_SECRET: 'bench-webhook-secret-0123456789',
    LOG_LEVEL: 'warn',
    HOST: '127.0.0.1',
    PORT: '0',
    DATABASE_URL: databaseUrl.toString(),
    SMTP_URL: `smtp://127.0.0.1:${smtpPort}`,
    NOTIFY_INTERVAL_MS: '50',
    // The provider limit is what a real SMTP relay sets; here the bench measures the pipeline.
    NOTIFY_RATE_PER_S: '100000',
    RATE_ORDERS_PER_S: '100000',
    RATE_ORDERS_BURST: '100000',
  });
  const exchange = await startExchange(config, pino({ level: 'warn' }));
  const http = `http://127.0.0.1:${exchange.port}`;
  const ws = `ws://127.0.0.1:${exchange.port}/ws`;
  const adminToken = await exchange.auth.mint('bench-admin', ['admin']);
  const call = async (method: string, path: string, body: unknown, token = adminToken) => {
    const response = await fetch(`${http}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (response.status >= 300)
      throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
  };
  await call('POST', '/api/v1/assets', { symbol: 'USDC', decimals: 6, kind: 'stable' });
  await call('POST', '/api/v1/assets', { symbol: 'LUXAPT', decimals: 2, kind: 'crypto' });
  await call('POST', '/api/v1/markets', {
    symbol: 'LUXAPT-USDC',
    baseAsset: 'LUXAPT',
    quoteAsset: 'USDC',
    priceDecimals: 2,
    qtyDecimals: 0,
    tickSize: '0.01',
    lotSize: '1',
    minQty: '1',
    maxQty: '1000000',
  });
  await call('POST', '/api/v1/admin/credit', { userId: 'maker', asset: 'LUXAPT', amount: '100000000' });
  const maker = new ExchangeClient({ url: ws, WebSocket, requestTimeoutMs: 30_000 });
  await maker.connect();
  await maker.auth(await exchange.auth.mint('maker', ['trader']));

  /** When each buyer's order was accepted (after its commit), by order id. */
  const acceptedAt = new Map<string, number>();
  /** The in-app push's arrival, and the notification id, by order id. */
  const pushedAt = new Map<string, { at: number; id: string }>();
  const buyers: ExchangeClient[] = [];
  for (let i = 0; i < BUYERS; i++) {
    const userId = `buyer${i}`;
    const token = await exchange.auth.mint(userId, ['trader']);
    await call('POST', '/api/v1/admin/credit', { userId, asset: 'USDC', amount: '100000000' });
    await call(
      'PUT',
      '/api/v1/notifications/preferences',
      { channels: { in_app: { enabled: true }, email: { address: `${userId}@bench.test`, enabled: true } } },
      token,
    );
    const client = new ExchangeClient({ url: ws, WebSocket, requestTimeoutMs: 30_000 });
    await client.connect();
    await client.auth(token);
    await client.subscribe('notifications', {}, (m: NotificationMessage) => {
      if (m.type === 'order_filled') pushedAt.set(String(m.data.orderId), { at: now(), id: m.id });
    });
    buyers.push(client);
  }

  const fill = async (n: number): Promise<void> => {
    await maker.place({ market: 'LUXAPT-USDC', side: 'sell', type: 'limit', price: '10.00', qty: '1' });
    const accepted = await buyers[n % BUYERS]!.place({
      market: 'LUXAPT-USDC',
      side: 'buy',
      type: 'limit',
      price: '10.00',
      qty: '1',
    });
    acceptedAt.set(accepted.orderId, now());
  };
  const waitFor = async (check: () => boolean, what: string, timeoutMs = 120_000) => {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      // A poll interval under a deadline, not a synchronisation.
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };

  /** `count` fills from number `first`, at RATE. */
  const paced = async (first: number, count: number) => {
    const started = now();
    const pending: Promise<void>[] = [];
    for (let n = 0; n < count; n++) {
      const due = started + (n * 1000) / RATE;
      const wait = due - now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      pending.push(fill(first + n));
    }
    await Promise.all(pending);
    return started;
  };

  progress(`warm-up: ${WARMUP_FILLS} fills at ${RATE}/s (not measured)`);
  await paced(0, WARMUP_FILLS);
  await waitFor(() => pushedAt.size >= WARMUP_FILLS, 'the warm-up in-app pushes');
  const warmIds = [...pushedAt.values()].map((p) => p.id);
  await waitFor(() => warmIds.every((id) => mailAt.has(id)), 'the warm-up emails');
  pushedAt.clear();

  progress(`paced: ${PACED_FILLS} fills at ${RATE}/s`);
  const started = await paced(WARMUP_FILLS, PACED_FILLS);
  await waitFor(() => pushedAt.size >= PACED_FILLS, 'the paced in-app pushes');
  const pacedIds = new Map([...pushedAt].map(([orderId, p]) => [p.id, orderId]));
  await waitFor(() => [...pacedIds.keys()].every((id) => mailAt.has(id)), 'the paced emails');
  const inapp: number[] = [];
  const email: number[] = [];
  const series: [number, number][] = [];
  for (const [orderId, { at, id }] of pushedAt) {
    const t0 = acceptedAt.get(orderId);
    if (t0 === undefined) continue;
    inapp.push(at - t0);
    email.push(mailAt.get(id)! - t0);
    series.push([t0 - started, mailAt.get(id)! - t0]);
  }
  series.sort((a, b) => a[0] - b[0]);
  for (let i = 0; i < series.length; i += 200) {
    progress(`t=${round(series[i]![0])} ms: email ${round(series[i]![1])} ms`);
  }
  progress(
    `in-app p99 ${round(quantile(inapp, 0.99), 1)} ms, email p99 ${round(quantile(email, 0.99), 1)} ms`,
  );

  progress(`saturation: ${BURST_FILLS} fills as fast as they go`);
  const before = pushedAt.size;
  const mailsBefore = mailAt.size;
  const burstStart = now();
  const burstCpu = process.cpuUsage();
  await Promise.all(Array.from({ length: BURST_FILLS }, (_, n) => fill(WARMUP_FILLS + PACED_FILLS + n)));
  const placedMs = now() - burstStart;
  await waitFor(() => pushedAt.size >= before + BURST_FILLS, 'the burst in-app pushes');
  const inappMs = now() - burstStart;
  await waitFor(() => mailAt.size >= mailsBefore + BURST_FILLS, 'the burst emails', 300_000);
  const emailMs = now() - burstStart;
  const cpu = process.cpuUsage(burstCpu);
  // Each fill notifies both sides in-app (buyer and maker); only the buyers have email.
  const inappPerS = (2 * BURST_FILLS * 1000) / inappMs;
  const emailPerS = (BURST_FILLS * 1000) / emailMs;

  for (const client of [maker, ...buyers]) client.close();
  await exchange.close();
  smtp.postMessage('close');
  await new Promise((resolve) => smtp.once('exit', resolve));
  await withBenchAdmin(COMMAND, (pool) =>
    pool.query(sql.unsafe`DROP DATABASE IF EXISTS ${sql.identifier([name])} WITH (FORCE)`),
  );
  const result = {
    fills_per_s_paced: RATE,
    warmup_fills: WARMUP_FILLS,
    paced_fills: inapp.length,
    inapp_p50_ms: round(quantile(inapp, 0.5), 1),
    inapp_p99_ms: round(quantile(inapp, 0.99), 1),
    email_p10_ms: round(quantile(email, 0.1), 1),
    email_p50_ms: round(quantile(email, 0.5), 1),
    email_p99_ms: round(quantile(email, 0.99), 1),
    burst_fills: BURST_FILLS,
    burst_fills_per_s: round((BURST_FILLS * 1000) / placedMs),
    inapp_per_s: round(inappPerS),
    email_per_s: round(emailPerS),
    notifications_per_s: round(((2 * BURST_FILLS + BURST_FILLS) * 1000) / emailMs),
    // The process's CPU (all threads: the exchange, the clients, the SMTP worker) per burst fill
    // (one trade, two in-app pushes, one email): a cost less bent by the host's load than latency.
    burst_cpu_ms_per_fill: round((cpu.user + cpu.system) / 1000 / BURST_FILLS, 2),
    load_before: round(loadBefore, 2),
    load_after: round(loadavg()[0]!, 2),
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

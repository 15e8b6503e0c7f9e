/**
 * Trend-market benchmark: `npm run bench:trends` (issue 19). Progress on stderr; the last stdout
 * line is one JSON object: {"trend_updates_per_s":..., "trend_update_p99_ms":..., ...}.
 *
 * The exchange runs whole (the real composition root, its own fresh database, Redis) in a child
 * process (bench/trends/server.ts), so its CPU is measured apart from the load generator's and the
 * two do not share one event loop. MARKETS trend markets are listed through POST /trends/markets; a
 * WebSocket client subscribes to every market's ticker. Then, for DURATION_S after a warm-up,
 * CONCURRENCY closed loops POST /trends, one update per request (the contract's body: one topic's
 * metrics), each a new score of a market (so each gives a new index price). Measured: updates
 * answered 201 per second (parsed, stored durably in Postgres, priced, streamed, answered), and per
 * update the time from sending the request to the ticker push carrying its index price arriving on
 * the WebSocket (ingestion → index price → ticker push), p50/p99; the exchange's CPU per update
 * (its process.cpuUsage over the measured window, which does not depend on the neighbours).
 *
 * The loops speak HTTP/1.1 keep-alive over raw sockets (one connection each, a request written
 * whole, the answer read by its content-length): Node's http client would cost the generator more
 * CPU than the exchange spends on an update, on the same two cores.
 */
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { loadavg } from 'node:os';
import { build } from 'hdr-histogram-js';
import WebSocket from 'ws';
import { ExchangeClient } from '../src/client/index.ts';
import type { SelfTime } from './lib/cpuProfile.ts';
import { progress } from './lib/stats.ts';

const MARKETS = Number(process.env.BENCH_TREND_MARKETS ?? 100);
const CONCURRENCY = Number(process.env.BENCH_TREND_CONCURRENCY ?? 64);
const DURATION_S = Number(process.env.BENCH_TREND_DURATION_S ?? 10);
/** BENCH_TREND_PROFILE=1: a further round of PROFILE_S under the exchange's V8 profiler (cpu_profile_top). */
const PROFILE = process.env.BENCH_TREND_PROFILE === '1';
const PROFILE_S = 3;
const WARMUP_S = 2;

function cpuTimes(): { busy: number; steal: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = line;
  const total = user + nice + system + idle + iowait + irq + softirq + steal;
  return { busy: total - idle - iowait, steal, total };
}

interface Answer {
  readonly status: number;
  readonly body: string;
}

/** One keep-alive HTTP/1.1 connection, one request at a time (a closed loop's). */
class Connection {
  #buffer: Buffer = Buffer.alloc(0);
  #waiting: { resolve: (a: Answer) => void; reject: (e: Error) => void } | undefined;

  private constructor(private readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
      this.#parse();
    });
    socket.on('error', (error) => this.#fail(error));
    socket.on('close', () => this.#fail(new Error('connection closed')));
  }

  static open(port: number): Promise<Connection> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => resolve(new Connection(socket)));
      socket.once('error', reject);
    });
  }

  post(head: string, payload: string): Promise<Answer> {
    return new Promise((resolve, reject) => {
      this.#waiting = { resolve, reject };
      this.socket.write(`${head}content-length: ${Buffer.byteLength(payload)}\r\n\r\n${payload}`);
    });
  }

  close(): void {
    this.socket.destroy();
  }

  #fail(error: Error): void {
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting?.reject(error);
  }

  #parse(): void {
    const end = this.#buffer.indexOf('\r\n\r\n');
    if (end < 0 || this.#waiting === undefined) return;
    const head = this.#buffer.toString('latin1', 0, end);
    const length = /\r\ncontent-length: *(\d+)/i.exec(head);
    const bodyLength = length === null ? 0 : Number(length[1]);
    if (this.#buffer.length < end + 4 + bodyLength) return;
    const body = this.#buffer.toString('utf8', end + 4, end + 4 + bodyLength);
    this.#buffer = this.#buffer.subarray(end + 4 + bodyLength);
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting.resolve({ status: Number(head.slice(9, 12)), body });
  }
}

interface Ready {
  readonly port: number;
  readonly pid: number;
  readonly admin: string;
  readonly feeder: string;
}

async function main(): Promise<void> {
  const loadBefore = loadavg();
  const child = fork(new URL('./trends/server.ts', import.meta.url), [], {
    // BENCH_SERVER_FLAGS (development aid): more Node flags for the exchange, e.g. --cpu-prof.
    execArgv: [
      '--import',
      'tsx',
      ...(process.env.BENCH_SERVER_FLAGS ?? '').split(' ').filter((f) => f !== ''),
    ],
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const ready = await new Promise<Ready>((resolve, reject) => {
    child.once('message', (m) => resolve(m as Ready));
    child.once('exit', (code) => reject(new Error(`the exchange exited (${String(code)})`)));
  });
  const ask = <T>(type: string, answer: string): Promise<T> =>
    new Promise((resolve) => {
      const listen = (m: { type?: string }) => {
        if (m.type !== answer) return;
        child.off('message', listen);
        resolve(m as T);
      };
      child.on('message', listen);
      child.send({ type });
    });
  const serverCpu = async () => {
    const { user, system, db } = await ask<{ user: number; system: number; db: number }>('cpu', 'cpu');
    return { server: user + system, db };
  };
  const connections: Connection[] = [];
  try {
    const { port, admin, feeder } = ready;
    const headOf = (path: string, token: string) =>
      `POST ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer ${token}\r\ncontent-type: application/json\r\n`;
    const setup = await Connection.open(port);
    connections.push(setup);
    const ok = async (what: string, path: string, token: string, body: unknown) => {
      const a = await setup.post(headOf(path, token), JSON.stringify(body));
      if (a.status >= 300) throw new Error(`${what}: ${a.status} ${a.body}`);
      return JSON.parse(a.body) as Record<string, string>;
    };
    await ok('asset', '/api/v1/assets', admin, { symbol: 'USDC', decimals: 6, kind: 'stable' });
    const topics: string[] = [];
    const markets: string[] = [];
    for (let i = 0; i < MARKETS; i++) {
      const topic = `Bench Topic${i} Gauteng`;
      const trend = await ok('trend', '/api/v1/trends', feeder, {
        topic,
        region: 'SA',
        metrics: { viralityScore: 0, sentiment: 0, velocity: 0 },
      });
      const listed = await ok('trend market', '/api/v1/trends/markets', admin, {
        symbol: trend.symbol,
        quoteAsset: 'USDC',
        basePrice: '10000.00',
        priceDecimals: 2,
        qtyDecimals: 0,
        tickSize: '0.01',
        lotSize: '1',
        minQty: '1',
      });
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
    for (let i = 0; i < CONCURRENCY; i++) connections.push(await Connection.open(port));
    const loops = connections.slice(1);
    const head = headOf('/api/v1/trends', feeder);

    // Score steps of 0.01 point per update of a market: with a point of 100.00 USDC (1 % of the
    // base) each step moves the index price by 1.00, so every update's price is new.
    const step = new Array<number>(MARKETS).fill(0);
    let next = 0;
    const round = async (warmS: number, seconds: number) => {
      let acknowledged = 0;
      let failures = 0;
      const warm = performance.now() + warmS * 1000;
      const end = warm + seconds * 1000;
      const loop = async (connection: Connection) => {
        while (performance.now() < end) {
          const m = next++ % MARKETS;
          const s = ++step[m]!;
          if (s > 10_000) step[m] = 1;
          const score = (step[m]! / 100).toFixed(2);
          const price = `${(10_000 + step[m]!).toFixed(0)}.00`;
          sent.get(markets[m]!)!.set(price, performance.now());
          const answer = await connection.post(
            head,
            JSON.stringify({
              topic: topics[m],
              region: 'SA',
              metrics: { viralityScore: Number(score), sentiment: 0, velocity: 0 },
            }),
          );
          if (answer.status === 201) {
            if (performance.now() >= warm) acknowledged++;
          } else failures++;
        }
      };
      const measured = new Promise<{
        cpu: { server: number; db: number };
        machine: ReturnType<typeof cpuTimes>;
        client: NodeJS.CpuUsage;
      }>((resolve) => {
        setTimeout(() => {
          measuring = true;
          void serverCpu().then((cpu) => resolve({ cpu, machine: cpuTimes(), client: process.cpuUsage() }));
        }, warmS * 1000).unref();
      });
      await Promise.all(loops.map(loop));
      measuring = false;
      const { cpu: cpuBefore, machine: machineBefore, client: clientBefore } = await measured;
      const cpuAfter = await serverCpu();
      const client = process.cpuUsage(clientBefore);
      const machineAfter = cpuTimes();
      const wall = (performance.now() - warm) / 1000;
      return {
        acknowledged,
        failures,
        wall,
        serverUs: cpuAfter.server - cpuBefore.server,
        dbUs: cpuAfter.db - cpuBefore.db,
        clientUs: client.user + client.system,
        machineBefore,
        machineAfter,
      };
    };
    const r = await round(WARMUP_S, DURATION_S);
    let cpuProfileTop: SelfTime[] | undefined;
    if (PROFILE) {
      await ask('profile-start', 'profiling');
      await round(0, PROFILE_S);
      cpuProfileTop = (await ask<{ top: SelfTime[] }>('profile-stop', 'profile')).top;
    }
    client.close();
    const total = r.machineAfter.total - r.machineBefore.total;
    const result = {
      trend_updates_per_s: Math.round(r.acknowledged / r.wall),
      trend_update_p99_ms: Math.round(histogram.getValueAtPercentile(99)) / 1000,
      trend_update_p50_ms: Math.round(histogram.getValueAtPercentile(50)) / 1000,
      server_cpu_us_per_update: Math.round((10 * r.serverUs) / r.acknowledged) / 10,
      client_cpu_us_per_update: Math.round((10 * r.clientUs) / r.acknowledged) / 10,
      db_cpu_us_per_update: Math.round((10 * r.dbUs) / r.acknowledged) / 10,
      updates_per_post: 1,
      pushes_measured: histogram.totalCount,
      pushes_total: pushes,
      failures: r.failures,
      target_updates_per_s: 10_000,
      target_p99_ms: 100,
      markets: MARKETS,
      concurrency: CONCURRENCY,
      duration_s: DURATION_S,
      cpu_busy_pct: Math.round((1000 * (r.machineAfter.busy - r.machineBefore.busy)) / total) / 10,
      steal_pct: Math.round((1000 * (r.machineAfter.steal - r.machineBefore.steal)) / total) / 10,
      ...(cpuProfileTop === undefined ? {} : { cpu_profile_top: cpuProfileTop }),
      node: process.version,
      load_avg: {
        before: loadBefore.map((l) => Math.round(l * 100) / 100),
        after: loadavg().map((l) => Math.round(l * 100) / 100),
      },
    };
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    for (const c of connections) c.close();
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.send({ type: 'stop' });
    await exited;
  }
}

await main();

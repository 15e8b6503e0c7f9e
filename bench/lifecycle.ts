/**
 * Issuance benchmark (issue 7 §6): `npm run bench:lifecycle` (scripts/services.ts provides Postgres
 * and Redis, DATABASE_URL and REDIS_URL; this runs `node --import tsx bench/lifecycle.ts [--quick]`).
 *
 * The exchange runs alone in a child process (bench/lifecycle/server.ts: the real src/app.ts on a
 * fresh database, USDC defined, the deploy-token queue on Redis, anvil started by the exchange on
 * first use). This process drives it over loopback:
 *
 *  (a) `POST /api/v1/markets/register` (issuer token) under autocannon's programmatic API, every
 *      request a new token symbol (setupRequest): a warm-up, then a measured window at 10
 *      connections, then an informative one at 1 connection (service time without queueing).
 *      Latency of every 2xx from autocannon's `response` event (sub-millisecond; autocannon's own
 *      histogram keeps whole milliseconds), requests/s, non-2xx share, server CPU per request.
 *  (b) approval → `active` on anvil: 1 + 20 + 20 markets registered and subscribed on the
 *      `lifecycle` channel of one raw WebSocket (MessagePack, src/client/codec.ts). One cold
 *      approval first (starts anvil; reported apart), then 20 approvals one at a time, each timed
 *      from just before the approve request is written to the receipt of that market's
 *      `activating → active` push; then, informative, 20 approvals sent at once.
 *
 * Load average (/proc/loadavg) and /proc/stat steal are recorded beside every figure. Progress on
 * stderr; the last stdout line is one JSON object. See bench/RESULTS.md (bench:lifecycle).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { cpus } from 'node:os';
import WebSocket from 'ws';
import { decodeMessage, encodeMessage } from '../src/protocol/codec.ts';
import { progress, round } from './lib/stats.ts';
import {
  histogram,
  loadAvg,
  machineCpu,
  machineDelta,
  msOf,
  nearestRank,
  processCpuMicros,
  QUOTE,
  type ServerCount,
  type ServerReady,
  type ServerRequest,
} from './lifecycle/common.ts';
import { parseCommandLine } from '../scripts/lib/cli.ts';

const { values: flags } = parseCommandLine({
  name: 'npm run bench:lifecycle --',
  usage: `usage: npm run bench:lifecycle -- [--quick] [--server-flag=FLAG ...]

Issuance under load: POST /markets/register under autocannon, then approval → active on anvil,
timed per market. Progress on stderr; the last stdout line is one JSON object (bench/RESULTS.md).

  --quick               shorter rounds (a smoke run, not a figure)
  --server-flag=FLAG    add a Node flag to the exchange process (repeatable)
  -h, --help            this text`,
  options: {
    quick: { type: 'boolean', default: false },
    'server-flag': { type: 'string', multiple: true, default: [] },
  },
});
const QUICK = flags.quick;
/** Development aid: `--server-flag=--cpu-prof` (repeatable) adds a Node flag to the exchange process. */
const SERVER_FLAGS = flags['server-flag'];
const P = QUICK
  ? { warmupS: 1, measuredS: 3, singleS: 2, connections: 10, approvals: 5, burst: 5 }
  : { warmupS: 3, measuredS: 10, singleS: 5, connections: 10, approvals: 20, burst: 20 };
const TARGET_REGISTER_P99_MS = 10;
const ACTIVE_TIMEOUT_MS = 60_000;

const loadBefore = loadAvg();
const cpuAtStart = machineCpu();

// ---------------------------------------------------------------- the exchange child

const children: ChildProcess[] = [];

interface Server {
  readonly proc: ChildProcess;
  readonly pid: number;
  send(request: ServerRequest): void;
  next<T extends { type: string }>(type: T['type'], timeoutMs?: number): Promise<T>;
}

function startServer(): Server {
  const proc = fork(new URL('./lifecycle/server.ts', import.meta.url), [], {
    execArgv: ['--import', 'tsx', ...SERVER_FLAGS],
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  // The child's stdout goes to our stderr: our stdout carries only the result line.
  proc.stdout?.on('data', (chunk: Buffer) => process.stderr.write(chunk));
  children.push(proc);
  if (proc.pid === undefined) throw new Error('server: could not start');
  const waiters: { type: string; resolve: (m: never) => void }[] = [];
  proc.on('message', (message: { type: string }) => {
    const i = waiters.findIndex((w) => w.type === message.type);
    if (i >= 0) waiters.splice(i, 1)[0]!.resolve(message as never);
  });
  return {
    proc,
    pid: proc.pid,
    send: (request) => proc.send(request),
    next: <T extends { type: string }>(type: T['type'], timeoutMs = 120_000) =>
      new Promise<T>((resolve, reject) => {
        const onExit = (code: number | null, signal: string | null): void => {
          clearTimeout(timer);
          reject(new Error(`server exited (${code ?? signal ?? '?'}) while waiting for '${type}'`));
        };
        const timer = setTimeout(() => {
          proc.off('exit', onExit);
          reject(new Error(`server: no '${type}' within ${timeoutMs} ms`));
        }, timeoutMs);
        proc.once('exit', onExit);
        waiters.push({
          type,
          resolve: (m: never) => {
            clearTimeout(timer);
            proc.off('exit', onExit);
            resolve(m);
          },
        });
      }),
  };
}

// ---------------------------------------------------------------- registration bodies

let symbolCounter = 0;
/** `R` + a base-36 counter: unique in the run, within the 1–16 [A-Z0-9] of a token symbol. */
const nextSymbol = (prefix = 'R'): string => `${prefix}${(symbolCounter++).toString(36).toUpperCase()}`;

const registration = (tokenSymbol: string): Record<string, unknown> => ({
  name: `Benchmark asset ${tokenSymbol}`,
  assetType: 'real_estate',
  tokenSymbol,
  tokenName: `${tokenSymbol} Property Token`,
  totalSupply: '1000000',
  quoteAsset: QUOTE,
  priceDecimals: 2,
  qtyDecimals: 3,
  tickSize: '0.01',
  lotSize: '0.001',
  minQty: '0.001',
  assetDetails: { valuation: '2500000', currency: 'EUR', location: 'Luxembourg' },
});

// ---------------------------------------------------------------- (a) autocannon

interface AutocannonRequest {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string;
  setupRequest?: (request: AutocannonRequest) => AutocannonRequest;
}
interface AutocannonResult {
  readonly requests: { readonly average: number; readonly total: number; readonly sent: number };
  readonly latency: { readonly p50: number; readonly p99: number; readonly max: number };
  readonly non2xx: number;
  readonly errors: number;
  readonly timeouts: number;
  readonly duration: number;
  readonly statusCodeStats: Record<string, { count: number }>;
}
interface AutocannonInstance {
  on(
    event: 'response',
    listener: (client: unknown, statusCode: number, resBytes: number, responseTime: number) => void,
  ): void;
}
type Autocannon = (
  options: {
    url: string;
    connections: number;
    duration: number;
    pipelining: number;
    timeout: number;
    requests: AutocannonRequest[];
  },
  done: (error: Error | null, result: AutocannonResult) => void,
) => AutocannonInstance;
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

interface RegisterRound {
  readonly connections: number;
  readonly seconds: number;
  readonly rps: number;
  readonly total: number;
  readonly ok: number;
  readonly non2xx: number;
  readonly non2xx_share: number;
  readonly errors: number;
  readonly timeouts: number;
  readonly p50_ms: number;
  readonly p90_ms: number;
  readonly p99_ms: number;
  readonly p999_ms: number;
  readonly max_ms: number;
  /** autocannon's own histogram (whole milliseconds), for comparison. */
  readonly autocannon_p50_ms: number;
  readonly autocannon_p99_ms: number;
  readonly server_cpu_us_per_request: number;
  readonly server_cpu_pct: number;
  readonly machine_busy_pct: number;
  readonly steal_pct: number;
  readonly load_avg_after: number;
  readonly status_codes: Record<string, number>;
}

async function registerRound(
  port: number,
  serverPid: number,
  token: string,
  connections: number,
  seconds: number,
): Promise<RegisterRound> {
  const latency = histogram();
  const statuses: Record<string, number> = {};
  const m0 = machineCpu();
  const cpu0 = processCpuMicros(serverPid);
  const t0 = performance.now();
  const result = await new Promise<AutocannonResult>((resolve, reject) => {
    const instance = autocannon(
      {
        url: `http://127.0.0.1:${port}`,
        connections,
        duration: seconds,
        pipelining: 1,
        timeout: 10,
        requests: [
          {
            method: 'POST',
            path: '/api/v1/markets/register',
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
            // Called for every request: a symbol never used before.
            setupRequest: (request) => ({ ...request, body: JSON.stringify(registration(nextSymbol())) }),
          },
        ],
      },
      (error, r) => {
        if (error === null) resolve(r);
        else reject(error);
      },
    );
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      statuses[statusCode] = (statuses[statusCode] ?? 0) + 1;
      if (statusCode >= 200 && statusCode < 300)
        latency.recordValue(Math.max(1, Math.round(responseTime * 1000)));
    });
  });
  const wallS = (performance.now() - t0) / 1000;
  const cpu = processCpuMicros(serverPid) - cpu0;
  const machine = machineDelta(m0, machineCpu());
  const total = result.requests.total;
  return {
    connections,
    seconds,
    rps: round(result.requests.average),
    total,
    ok: latency.totalCount,
    non2xx: result.non2xx,
    non2xx_share: total > 0 ? round(result.non2xx / total, 6) : 0,
    errors: result.errors,
    timeouts: result.timeouts,
    p50_ms: msOf(latency.getValueAtPercentile(50)),
    p90_ms: msOf(latency.getValueAtPercentile(90)),
    p99_ms: msOf(latency.getValueAtPercentile(99)),
    p999_ms: msOf(latency.getValueAtPercentile(99.9)),
    max_ms: msOf(latency.maxValue),
    autocannon_p50_ms: result.latency.p50,
    autocannon_p99_ms: result.latency.p99,
    server_cpu_us_per_request: round(cpu / Math.max(1, total), 1),
    server_cpu_pct: round((cpu / 1e6 / wallS) * 100, 1),
    machine_busy_pct: round(machine.busyPct, 1),
    steal_pct: round(machine.stealPct, 2),
    load_avg_after: loadAvg()[0],
    status_codes: statuses,
  };
}

// ---------------------------------------------------------------- (b) lifecycle watcher

interface Transition {
  readonly at: number;
  readonly ts: number;
}

/** One raw WebSocket subscribed to `lifecycle` for many markets; resolves waits on `<market> → <to>`. */
class Watcher {
  private readonly seen = new Map<string, Transition>();
  private readonly waiting = new Map<string, (t: Transition) => void>();
  private readonly replies = new Map<number, (m: Record<string, unknown>) => void>();
  private rid = 0;

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      const at = performance.now();
      if (!isBinary) return;
      const decoded = decodeMessage(new Uint8Array(data));
      if (!decoded.ok) return;
      const m = decoded.message;
      if (typeof m.rid === 'number') {
        const reply = this.replies.get(m.rid);
        this.replies.delete(m.rid);
        reply?.(m);
      }
      if (m.op === 'lifecycle' && typeof m.market === 'string' && typeof m.to === 'string') {
        const key = `${m.market}>${m.to}`;
        const t = { at, ts: typeof m.ts === 'number' ? m.ts : Number.NaN };
        if (m.event === 'snapshot') return;
        this.seen.set(key, t);
        const wake = this.waiting.get(key);
        this.waiting.delete(key);
        wake?.(t);
      }
    });
  }

  static open(url: string): Promise<Watcher> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      ws.once('open', () => resolve(new Watcher(ws)));
      ws.once('error', reject);
    });
  }

  async subscribe(market: string): Promise<void> {
    const rid = ++this.rid;
    const reply = new Promise<Record<string, unknown>>((resolve) => this.replies.set(rid, resolve));
    this.ws.send(encodeMessage({ op: 'sub', ch: 'lifecycle', market, rid }));
    const m = await reply;
    if (m.op === 'error') throw new Error(`sub lifecycle ${market}: ${JSON.stringify(m)}`);
  }

  /** The receipt of `market`'s push to `to` (already seen, or the next one). */
  transition(market: string, to: string, timeoutMs = ACTIVE_TIMEOUT_MS): Promise<Transition> {
    const key = `${market}>${to}`;
    const seen = this.seen.get(key);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(key);
        reject(new Error(`no lifecycle push ${key} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(key, (t) => {
        clearTimeout(timer);
        resolve(t);
      });
    });
  }

  close(): void {
    this.ws.close();
  }
}

interface Api {
  readonly base: string;
  readonly issuer: string;
  readonly admin: string;
}

async function post(
  api: Api,
  path: string,
  token: string,
  body: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${api.base}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

interface Issued {
  readonly id: string;
  readonly symbol: string;
}

async function registerAndWatch(api: Api, watcher: Watcher, prefix: string): Promise<Issued> {
  const r = await post(api, '/api/v1/markets/register', api.issuer, registration(nextSymbol(prefix)));
  if (r.status !== 201) throw new Error(`register: ${r.status} ${JSON.stringify(r.body)}`);
  const issued = { id: String(r.body.id), symbol: String(r.body.symbol) };
  await watcher.subscribe(issued.symbol);
  return issued;
}

interface Activation {
  readonly symbol: string;
  /** approve request written → `active` push received, ms. */
  readonly total_ms: number;
  /** approve request → its 200 (the market is `activating`, the job enqueued). */
  readonly http_ms: number;
  /** approve request → the `approved → activating` push. */
  readonly to_activating_ms: number;
  /** Server clock: the `activating` push's ts → the `active` push's ts (the job: queue + chain + commit). */
  readonly server_activating_to_active_ms: number;
}

async function approveToActive(api: Api, watcher: Watcher, market: Issued): Promise<Activation> {
  const t0 = performance.now();
  const activeP = watcher.transition(market.symbol, 'active');
  const activatingP = watcher.transition(market.symbol, 'activating');
  const r = await post(api, `/api/v1/markets/${market.id}/approve`, api.admin, { decision: 'approved' });
  const tHttp = performance.now();
  if (r.status !== 200) throw new Error(`approve ${market.symbol}: ${r.status} ${JSON.stringify(r.body)}`);
  const [activating, active] = await Promise.all([activatingP, activeP]);
  return {
    symbol: market.symbol,
    total_ms: round(active.at - t0, 3),
    http_ms: round(tHttp - t0, 3),
    to_activating_ms: round(activating.at - t0, 3),
    server_activating_to_active_ms: active.ts - activating.ts,
  };
}

interface Summary {
  readonly count: number;
  readonly p50_ms: number;
  readonly p99_ms: number;
  readonly min_ms: number;
  readonly max_ms: number;
}
function summary(values: readonly number[]): Summary {
  return {
    count: values.length,
    p50_ms: round(nearestRank(values, 50), 3),
    p99_ms: round(nearestRank(values, 99), 3),
    min_ms: round(Math.min(...values), 3),
    max_ms: round(Math.max(...values), 3),
  };
}

// ---------------------------------------------------------------- main

async function main(): Promise<Record<string, unknown>> {
  const server = startServer();
  try {
    const ready = await server.next<ServerReady>('ready');
    const api: Api = {
      base: `http://127.0.0.1:${ready.port}`,
      issuer: ready.issuerToken,
      admin: ready.adminToken,
    };
    progress(`exchange pid ${server.pid} on port ${ready.port}, database ${ready.database}`);

    // -------- (a)
    progress(`(a) register under autocannon: warm-up ${P.warmupS} s at ${P.connections} connections`);
    const warmup = await registerRound(ready.port, server.pid, ready.issuerToken, P.connections, P.warmupS);
    progress(`  warm-up: ${warmup.rps} req/s, p99 ${warmup.p99_ms} ms, non-2xx ${warmup.non2xx}`);
    const loadA = loadAvg();
    const measured = await registerRound(
      ready.port,
      server.pid,
      ready.issuerToken,
      P.connections,
      P.measuredS,
    );
    progress(`  measured: ${JSON.stringify(measured)}`);
    const single = await registerRound(ready.port, server.pid, ready.issuerToken, 1, P.singleS);
    progress(`  1 connection: ${JSON.stringify(single)}`);
    const counted = (async () => {
      const c = server.next<ServerCount>('count');
      server.send({ type: 'count' });
      return c;
    })();
    const count = await counted;
    const registered = warmup.ok + measured.ok + single.ok;
    progress(
      `  the exchange holds ${count.markets} markets ${JSON.stringify(count.byStatus)}; 2xx answers ${registered}`,
    );

    // -------- (b)
    progress(`(b) approve → active on anvil: 1 cold, ${P.approvals} one at a time, ${P.burst} at once`);
    const watcher = await Watcher.open(`ws://127.0.0.1:${ready.port}/ws`);
    const cold = await registerAndWatch(api, watcher, 'C');
    const sequential: Issued[] = [];
    for (let i = 0; i < P.approvals; i++) sequential.push(await registerAndWatch(api, watcher, 'S'));
    const burstMarkets: Issued[] = [];
    for (let i = 0; i < P.burst; i++) burstMarkets.push(await registerAndWatch(api, watcher, 'B'));

    const coldActivation = await approveToActive(api, watcher, cold);
    progress(`  cold (anvil starts): ${JSON.stringify(coldActivation)}`);
    const loadB = loadAvg();
    const mB = machineCpu();
    const activations: Activation[] = [];
    for (const market of sequential) {
      const a = await approveToActive(api, watcher, market);
      activations.push(a);
      progress(
        `  ${a.symbol}: ${a.total_ms} ms (http ${a.http_ms}, server activating→active ${a.server_activating_to_active_ms})`,
      );
    }
    const seqMachine = machineDelta(mB, machineCpu());
    const loadBAfter = loadAvg();
    const mC = machineCpu();
    const tBurst = performance.now();
    const burst = await Promise.all(burstMarkets.map((m) => approveToActive(api, watcher, m)));
    const burstWallMs = performance.now() - tBurst;
    const burstMachine = machineDelta(mC, machineCpu());
    progress(`  burst of ${P.burst}: all active after ${round(burstWallMs)} ms`);
    watcher.close();

    const approveSummary = summary(activations.map((a) => a.total_ms));
    const burstSummary = summary(burst.map((a) => a.total_ms));
    return {
      register_p99_ms: measured.p99_ms,
      register_p50_ms: measured.p50_ms,
      register_rps: measured.rps,
      approve_to_active_p50_ms: approveSummary.p50_ms,
      approve_to_active_p99_ms: approveSummary.p99_ms,
      // 1-minute load average as the measured register window starts; steal over that window.
      load_avg: loadA[0],
      steal_pct: measured.steal_pct,
      register_p999_ms: measured.p999_ms,
      register_non2xx_share: measured.non2xx_share,
      register: {
        measured,
        warmup,
        single_connection: single,
        markets_in_exchange: count.markets,
        by_status: count.byStatus,
        registered_2xx: registered,
        target_p99_ms: TARGET_REGISTER_P99_MS,
        target_met: measured.p99_ms < TARGET_REGISTER_P99_MS && measured.non2xx === 0,
      },
      approve_to_active: {
        ...approveSummary,
        http_p50_ms: round(
          nearestRank(
            activations.map((a) => a.http_ms),
            50,
          ),
          3,
        ),
        to_activating_p50_ms: round(
          nearestRank(
            activations.map((a) => a.to_activating_ms),
            50,
          ),
          3,
        ),
        server_activating_to_active_p50_ms: nearestRank(
          activations.map((a) => a.server_activating_to_active_ms),
          50,
        ),
        samples_ms: activations.map((a) => a.total_ms),
        cold_ms: coldActivation.total_ms,
        steal_pct: round(seqMachine.stealPct, 2),
        machine_busy_pct: round(seqMachine.busyPct, 1),
        load_avg: { before: loadB[0], after: loadBAfter[0] },
      },
      approve_burst: {
        ...burstSummary,
        all_active_ms: round(burstWallMs, 1),
        steal_pct: round(burstMachine.stealPct, 2),
      },
      quick: QUICK,
    };
  } finally {
    if (server.proc.exitCode === null && server.proc.connected) {
      const exited = new Promise((resolve) => server.proc.once('exit', resolve));
      server.send({ type: 'stop' });
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 30_000))]);
    }
  }
}

let result: Record<string, unknown>;
try {
  result = await main();
} finally {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill();
}
Object.assign(result, {
  steal_pct_whole_run: round(machineDelta(cpuAtStart, machineCpu()).stealPct, 2),
  load_avg_run: { before: loadBefore, after: loadAvg() },
  node: process.version,
  cpus: cpus().length,
  runtime_s: round(performance.now() / 1000),
});
progress('done');
process.stdout.write(`${JSON.stringify(result)}\n`);

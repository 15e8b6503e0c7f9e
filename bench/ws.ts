/**
 * Gateway benchmark (issue 6 §4): `npm run bench:ws` (scripts/services.ts provides Postgres and
 * DATABASE_URL; this runs `node --expose-gc --import tsx bench/ws.ts [--quick]`).
 *
 * Processes, all on loopback: the exchange (bench/ws/server.ts: the real src/app.ts on a fresh
 * database, durable group commit on), its CPU read alone from /proc/<pid>/stat; order generators
 * (bench/ws/trader.ts, raw `ws` + MessagePack); fan-out subscribers (bench/ws/subscriber.ts); the
 * Socket.io 4.8 peer (bench/ws/socketioServer.ts); autocannon runs in this process.
 *
 *  (a) orders: N authenticated connections placing crossing and resting limits. Closed loop (a
 *      window of outstanding places per connection): durable orders/s (`accepted` is sent only
 *      after commit) and server CPU µs per order. Open loop at 1,000 and 10,000 orders/s: latency
 *      from each place's scheduled send time to its `accepted` (no coordinated omission).
 *  (b) fan-out: 1,000 subscribers of one market's book deltas and trades (several processes);
 *      delivered messages/s for a burst of trades, then, paced, the delay from each trade's `ts`
 *      to its receipt; server memory per idle connection (RSS after GC, before/after connecting);
 *      the same for Socket.io (the very messages our subscriber got, as JSON events to one room),
 *      rounds alternating ours / Socket.io.
 *  (c) GET /api/v1/markets/:id/book under autocannon.
 *
 * /proc/stat steal is recorded beside every latency and rate figure. Progress on stderr; the last
 * stdout line is one JSON object. See bench/RESULTS.md (bench:ws).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, loadavg } from 'node:os';
import {
  machineCpu,
  machineDelta,
  mergeHistograms,
  percentiles,
  processCpuMicros,
  processRssBytes,
  type CpuTimes,
  type Emitted,
  type PairsResult,
  type StepResult,
  type Percentiles,
  type ServerMemory,
  type ServerReady,
  type SocketIoReady,
  type SocketIoRequest,
  type SubscriberReport,
  type SubscriberRequest,
  type TraderRequest,
  type TraderResult,
  MARKET,
} from './ws/common.ts';
import { median, progress, round } from './lib/stats.ts';
import { parseCommandLine } from '../scripts/lib/cli.ts';

const { values: flags } = parseCommandLine({
  name: 'npm run bench:ws --',
  usage: `usage: npm run bench:ws -- [--quick] [--peer-only] [--orders-only] [--profile-server=DIR]
                          [--server-flag=FLAG ...]

The gateway under load over loopback: durable orders/s and latency, fan-out to 1,000 subscribers
against Socket.io, GET /markets/:id/book under autocannon. Progress on stderr; the last stdout
line is one JSON object (bench/RESULTS.md).

  --quick                 shorter rounds (a smoke run, not a figure)
  --peer-only             only the Socket.io peer's rounds
  --orders-only           only the closed-loop order rounds (CPU per order), then stop
  --profile-server=DIR    write a V8 CPU profile of the exchange process into DIR
  --server-flag=FLAG      add a Node flag to the exchange process (repeatable)
  -h, --help              this text`,
  options: {
    quick: { type: 'boolean', default: false },
    'peer-only': { type: 'boolean', default: false },
    'orders-only': { type: 'boolean', default: false },
    'profile-server': { type: 'string' },
    'server-flag': { type: 'string', multiple: true, default: [] },
  },
});
const QUICK = flags.quick;
const PEER_ONLY = flags['peer-only'];
/** Development aid: `--profile-server=DIR` writes a V8 CPU profile of the exchange process there. */
const PROFILE_DIR = flags['profile-server'];
/** Development aid: `--orders-only` runs only the closed-loop rounds of (a) (CPU per order), then stops. */
const ORDERS_ONLY = flags['orders-only'];
/** Development aid: `--server-flag=--trace-gc` (repeatable) adds a Node flag to the exchange process. */
// The exchange runs as `npm start` runs it: a larger young generation (orders live ~100 ms in the
// pipeline, so the default semi-space promotes half of them).
const SERVER_FLAGS = ['--max-semi-space-size=64', ...flags['server-flag']];

const P = QUICK
  ? {
      traders: 8,
      traderProcs: 2,
      window: 32,
      closedRounds: 1,
      closedWarmupMs: 1_000,
      closedMs: 2_000,
      openRates: [1_000, 10_000],
      openRounds: 1,
      openWarmupMs: 500,
      openMs: 2_000,
      subscribers: 200,
      subscriberProcs: 2,
      fanoutRounds: 1,
      burstTrades: 100,
      pacedPairsPerS: 5,
      pacedMs: 2_000,
      httpMs: 2_000,
    }
  : {
      traders: 16,
      traderProcs: 2,
      window: 64,
      closedRounds: 3,
      closedWarmupMs: 2_000,
      closedMs: 5_000,
      openRates: [1_000, 10_000],
      openRounds: 3,
      openWarmupMs: 1_000,
      openMs: 5_000,
      subscribers: 1_000,
      subscriberProcs: 4,
      fanoutRounds: 3,
      burstTrades: 300,
      pacedPairsPerS: 3,
      pacedMs: 6_000,
      httpMs: 10_000,
    };
/** Buys outstanding in a fan-out burst (so a committed batch carries up to this many trades). */
const TAKE_WINDOW = 128;
const WARMUP_TRADES = 50;
const HTTP_CONNECTIONS = 10;
const TARGETS = { durableOrdersPerS: 25_000, p99MsAt10k: 10, fanoutRatio: 3 };

const loadBefore = loadavg();
const cpuAtStart = machineCpu();

// ---------------------------------------------------------------- children

interface Child<Req> {
  readonly proc: ChildProcess;
  readonly pid: number;
  send(request: Req): void;
  /** The next message of this type (messages of other types are ignored). */
  next<T extends { type: string }>(type: T['type'], timeoutMs?: number): Promise<T>;
}

const children: ChildProcess[] = [];

function child<Req>(
  script: string,
  args: readonly string[],
  name: string,
  extraExecArgv: readonly string[] = [],
): Child<Req> {
  const proc = fork(new URL(script, import.meta.url), args, {
    execArgv: ['--expose-gc', '--import', 'tsx', ...extraExecArgv],
    serialization: 'advanced',
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  // A child's stdout goes to our stderr: our stdout carries only the result line.
  proc.stdout?.on('data', (chunk: Buffer) => process.stderr.write(chunk));
  children.push(proc);
  const waiters: { type: string; resolve: (m: never) => void }[] = [];
  proc.on('message', (message: { type: string }) => {
    const i = waiters.findIndex((w) => w.type === message.type);
    if (i >= 0) waiters.splice(i, 1)[0]!.resolve(message as never);
  });
  let exited: string | undefined;
  proc.on('exit', (code, signal) => {
    exited = `${name} exited (${code ?? signal ?? '?'})`;
  });
  if (proc.pid === undefined) throw new Error(`${name}: could not start`);
  return {
    proc,
    pid: proc.pid,
    send: (request) => proc.send(request as object),
    next: <T extends { type: string }>(type: T['type'], timeoutMs = 120_000) =>
      new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => {
          reject(
            new Error(
              `${name}: no '${type}' within ${timeoutMs} ms${exited === undefined ? '' : `; ${exited}`}`,
            ),
          );
        }, timeoutMs);
        const onExit = (): void => {
          clearTimeout(timer);
          reject(new Error(`${name}: ${exited ?? 'exited'} while waiting for '${type}'`));
        };
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

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
const at = (epochMs: number): Promise<void> => sleep(epochMs - Date.now());

/**
 * CPU of the Postgres backends serving the benchmark's database (their process title names it), by
 * pid, µs. Shared background processes (WAL writer, checkpointer) are not counted.
 */
function postgresCpu(database: string): Map<number, number> {
  const out = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (!cmdline.startsWith('postgres:') || !cmdline.includes(` ${database} `)) continue;
      out.set(Number(entry), processCpuMicros(Number(entry)));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** CPU used between two samples by the backends present in both. */
function postgresDelta(a: Map<number, number>, b: Map<number, number>): number {
  let total = 0;
  for (const [pid, cpu] of b) {
    const before = a.get(pid);
    if (before !== undefined) total += cpu - before;
  }
  return total;
}

interface Window {
  readonly serverCpu: number;
  readonly dbCpu: Map<number, number>;
  readonly machine: CpuTimes;
}
let benchDatabase = '';
const sample = (pid: number): Window => ({
  serverCpu: processCpuMicros(pid),
  dbCpu: postgresCpu(benchDatabase),
  machine: machineCpu(),
});

// ---------------------------------------------------------------- (a) order entry

interface ClosedRound {
  readonly orders_per_s: number;
  readonly server_cpu_us_per_order: number;
  readonly db_cpu_us_per_order: number;
  readonly machine_cpu_us_per_order: number;
  readonly generator_cpu_us_per_order: number;
  /** Server CPU over the window, % of one core. */
  readonly server_cpu_pct: number;
  readonly steal_pct: number;
  readonly accepted: number;
  readonly errors: Record<string, number>;
  readonly latency: Percentiles;
}

function mergeErrors(results: readonly { errors: Record<string, number> }[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of results) for (const [code, n] of Object.entries(r.errors)) out[code] = (out[code] ?? 0) + n;
  return out;
}

async function closedRound(
  serverPid: number,
  traders: readonly Child<TraderRequest>[],
): Promise<ClosedRound> {
  const startAt = Date.now() + 300;
  const from = startAt + P.closedWarmupMs;
  const to = from + P.closedMs;
  const replies = traders.map((t) => t.next<TraderResult>('result', 60_000 + P.closedMs));
  for (const t of traders)
    t.send({ type: 'closed', window: P.window, startAt, warmupMs: P.closedWarmupMs, durationMs: P.closedMs });
  await at(from);
  const a = sample(serverPid);
  const g0 = traders.reduce((n, t) => n + processCpuMicros(t.pid), 0);
  await at(to);
  const b = sample(serverPid);
  const g1 = traders.reduce((n, t) => n + processCpuMicros(t.pid), 0);
  const results = await Promise.all(replies);
  const accepted = results.reduce((n, r) => n + r.accepted, 0);
  const machine = machineDelta(a.machine, b.machine);
  const first = results.find((r) => r.firstError !== undefined)?.firstError;
  if (first !== undefined) progress(`  first error: ${first}`);
  return {
    orders_per_s: round((accepted * 1000) / P.closedMs),
    server_cpu_us_per_order: round((b.serverCpu - a.serverCpu) / Math.max(1, accepted), 1),
    db_cpu_us_per_order: round(postgresDelta(a.dbCpu, b.dbCpu) / Math.max(1, accepted), 1),
    machine_cpu_us_per_order: round(machine.busyMicros / Math.max(1, accepted), 1),
    generator_cpu_us_per_order: round((g1 - g0) / Math.max(1, accepted), 1),
    server_cpu_pct: round(((b.serverCpu - a.serverCpu) * 100) / (P.closedMs * 1000), 1),
    steal_pct: round(machine.stealPct, 2),
    accepted,
    errors: mergeErrors(results),
    latency: percentiles(mergeHistograms(results.map((r) => r.latency))),
  };
}

interface OpenRound {
  readonly offered_per_s: number;
  readonly accepted_per_s: number;
  readonly p50_ms: number;
  readonly p99_ms: number;
  readonly p999_ms: number;
  readonly max_ms: number;
  readonly count: number;
  readonly send_lag_p99_ms: number;
  readonly server_cpu_pct: number;
  readonly steal_pct: number;
  readonly errors: Record<string, number>;
}

async function openRound(
  serverPid: number,
  traders: readonly Child<TraderRequest>[],
  rate: number,
): Promise<OpenRound> {
  const startAt = Date.now() + 300;
  const from = startAt + P.openWarmupMs;
  const to = from + P.openMs;
  const replies = traders.map((t) => t.next<TraderResult>('result', 60_000 + P.openMs));
  for (const t of traders)
    t.send({
      type: 'open',
      rate: rate / traders.length,
      startAt,
      warmupMs: P.openWarmupMs,
      durationMs: P.openMs,
    });
  await at(from);
  const a = sample(serverPid);
  await at(to);
  const b = sample(serverPid);
  const results = await Promise.all(replies);
  const latency = percentiles(mergeHistograms(results.map((r) => r.latency)));
  const lag = percentiles(mergeHistograms(results.map((r) => r.sendLag)));
  const accepted = results.reduce((n, r) => n + r.accepted, 0);
  return {
    offered_per_s: rate,
    accepted_per_s: round((accepted * 1000) / P.openMs),
    p50_ms: latency.p50_ms,
    p99_ms: latency.p99_ms,
    p999_ms: latency.p999_ms,
    max_ms: latency.max_ms,
    count: latency.count,
    send_lag_p99_ms: lag.p99_ms,
    server_cpu_pct: round(((b.serverCpu - a.serverCpu) * 100) / (P.openMs * 1000), 1),
    steal_pct: round(machineDelta(a.machine, b.machine).stealPct, 2),
    errors: mergeErrors(results),
  };
}

// ---------------------------------------------------------------- (b) fan-out

interface Delivery {
  readonly messages: number;
  readonly perConnectionMin: number;
  readonly perConnectionMax: number;
  readonly lastAt: number;
  readonly closed: number;
  readonly gaps: number;
  readonly tradeDelay: Percentiles;
  readonly recorded: readonly Record<string, unknown>[];
}

function reset(subs: readonly Child<SubscriberRequest>[], record: boolean): void {
  subs.forEach((s, i) => {
    s.send({ type: 'reset', record: record && i === 0 });
  });
}

async function report(subs: readonly Child<SubscriberRequest>[], recorded: boolean): Promise<Delivery> {
  const reports = await Promise.all(
    subs.map((s) => {
      const r = s.next<SubscriberReport>('report');
      s.send({ type: 'report', recorded });
      return r;
    }),
  );
  return {
    messages: reports.reduce((n, r) => n + r.messages, 0),
    perConnectionMin: Math.min(...reports.map((r) => r.perConnectionMin)),
    perConnectionMax: Math.max(...reports.map((r) => r.perConnectionMax)),
    lastAt: Math.max(...reports.map((r) => (Number.isNaN(r.lastAt) ? 0 : r.lastAt))),
    closed: reports.reduce((n, r) => n + r.closedConnections, 0),
    gaps: reports.reduce((n, r) => n + r.gaps, 0),
    tradeDelay: percentiles(mergeHistograms(reports.map((r) => r.tradeDelay))),
    recorded: reports[0]?.recorded ?? [],
  };
}

/**
 * Polls until delivery stops: every connection has the same count (and `expected` each, when
 * known) and the total has not moved for two polls; or nothing moved for 3 s (losses).
 */
async function delivered(
  subs: readonly Child<SubscriberRequest>[],
  expectedPerConnection: number | undefined,
): Promise<Delivery> {
  let previous = -1;
  let stableSince = Date.now();
  const deadline = Date.now() + 180_000;
  for (;;) {
    await sleep(250);
    const d = await report(subs, false);
    const even = d.perConnectionMin === d.perConnectionMax;
    const complete = expectedPerConnection === undefined || d.perConnectionMin >= expectedPerConnection;
    if (d.messages !== previous) stableSince = Date.now();
    if ((d.messages === previous && even && complete && d.messages > 0) || Date.now() - stableSince > 3_000)
      break;
    if (Date.now() > deadline) break;
    previous = d.messages;
  }
  return report(subs, true);
}

interface FanoutRound {
  readonly msgs_per_s: number;
  readonly messages: number;
  readonly per_connection: number;
  readonly complete: boolean;
  readonly seconds: number;
  readonly server_cpu_us_per_msg: number;
  readonly steal_pct: number;
  readonly closed: number;
  readonly gaps: number;
  /** Ours: from the first buy sent to the last `accepted` (all trades committed and published). */
  readonly source_seconds?: number;
}

function fanoutRound(
  startAt: number,
  d: Delivery,
  cpu: number,
  steal: number,
  subscribers: number,
): FanoutRound {
  const seconds = (d.lastAt - startAt) / 1000;
  return {
    msgs_per_s: round(d.messages / seconds),
    messages: d.messages,
    per_connection: d.perConnectionMax,
    complete: d.perConnectionMin === d.perConnectionMax && d.messages === d.perConnectionMax * subscribers,
    seconds: round(seconds, 2),
    server_cpu_us_per_msg: round(cpu / Math.max(1, d.messages), 3),
    steal_pct: round(steal, 2),
    closed: d.closed,
    gaps: d.gaps,
  };
}

/**
 * One burst through our exchange: the maker rests `trades` sells at the mid (delivered and settled
 * before counting starts), then the taker takes them, `TAKE_WINDOW` buys outstanding: `trades`
 * trade pushes plus a book delta per committed batch. Timed from the first buy sent to the last
 * message received by any subscriber; the source finishes long before delivery does (`source_seconds`).
 */
async function oursBurst(
  serverPid: number,
  source: Child<TraderRequest>,
  subs: readonly Child<SubscriberRequest>[],
  trades: number,
): Promise<{ round: FanoutRound; recorded: readonly Record<string, unknown>[] }> {
  reset(subs, false);
  const rested = source.next<StepResult>('stepDone');
  source.send({ type: 'rest', count: trades, window: TAKE_WINDOW });
  const r = await rested;
  if (r.firstError !== undefined) throw new Error(`fan-out source, resting sells: ${r.firstError}`);
  await delivered(subs, undefined);
  reset(subs, true);
  await sleep(100);
  const cpu0 = processCpuMicros(serverPid);
  const m0 = machineCpu();
  const took = source.next<StepResult>('stepDone');
  source.send({ type: 'take', count: trades, window: TAKE_WINDOW });
  const t = await took;
  if (t.firstError !== undefined) throw new Error(`fan-out source, buys: ${t.firstError}`);
  const d = await delivered(subs, undefined);
  const cpu = processCpuMicros(serverPid) - cpu0;
  const steal = machineDelta(m0, machineCpu()).stealPct;
  return {
    round: {
      ...fanoutRound(t.startAt, d, cpu, steal, P.subscribers),
      source_seconds: (t.endAt - t.startAt) / 1000,
    },
    recorded: d.recorded,
  };
}

async function peerBurst(
  peer: Child<SocketIoRequest>,
  subs: readonly Child<SubscriberRequest>[],
  messages: readonly Record<string, unknown>[],
): Promise<FanoutRound> {
  reset(subs, false);
  await sleep(100);
  const cpu0 = processCpuMicros(peer.pid);
  const m0 = machineCpu();
  const emitted = peer.next<Emitted>('emitted', 180_000);
  peer.send({ type: 'emit', messages, rate: 0, chunk: 8 });
  const e = await emitted;
  const d = await delivered(subs, messages.length);
  const cpu = processCpuMicros(peer.pid) - cpu0;
  const steal = machineDelta(m0, machineCpu()).stealPct;
  return fanoutRound(e.startAt, d, cpu, steal, P.subscribers);
}

/**
 * Waits until a process uses under 15% of a core over 500 ms (an idle exchange still polls: the
 * projector every 50 ms), at most `maxMs`; returns its last use, % of a core.
 */
async function quiesce(pid: number, maxMs: number): Promise<number> {
  const until = Date.now() + maxMs;
  let pct = 100;
  while (Date.now() < until) {
    const a = processCpuMicros(pid);
    await sleep(500);
    pct = (processCpuMicros(pid) - a) / 5_000;
    if (pct < 15) break;
  }
  return round(pct, 1);
}

/**
 * Memory after it settles: a full GC in the server, 500 ms for freed pages to be returned, RSS
 * read from /proc; repeated until two readings in a row differ by under 256 KiB (at most 12 times).
 */
async function memoryOf(server: Child<{ type: 'memory' }>): Promise<ServerMemory> {
  let previous: ServerMemory | undefined;
  for (let i = 0; i < 12; i++) {
    const m = server.next<ServerMemory>('memory');
    server.send({ type: 'memory' });
    const reported = await m;
    await sleep(500);
    const current = { ...reported, rss: processRssBytes(server.pid) };
    if (previous !== undefined && Math.abs(current.rss - previous.rss) < 256 * 1024) return current;
    previous = current;
  }
  return previous!;
}

interface PerConnection {
  /** RSS delta of the second half of the connections / their number (see connectSubscribers). */
  readonly rss: number;
  /** RSS delta of all of them / their number. */
  readonly rss_all: number;
  readonly heap: number;
  readonly external: number;
}

/**
 * Opens P.subscribers idle connections from P.subscriberProcs processes, in two halves, and
 * measures the server's memory before, between and after (settled, after a full GC). The headline
 * is the second half's RSS delta: a freshly started server still returns start-up memory to the OS
 * for a while, which can swamp the first half's (seen here as a negative delta).
 */
async function connectSubscribers(
  kind: 'ours' | 'socketio',
  url: string,
  server: Child<{ type: 'memory' }>,
): Promise<{ subs: Child<SubscriberRequest>[]; perConnection: PerConnection }> {
  const busy = await quiesce(server.pid, 10_000);
  if (busy >= 15) progress(`  ${kind}: server still busy (${busy}% of a core) before the memory baseline`);
  const m0 = await memoryOf(server);
  const subs = Array.from({ length: P.subscriberProcs }, (_, i) =>
    child<SubscriberRequest>('./ws/subscriber.ts', [], `${kind} subscribers ${i}`),
  );
  const each = Math.ceil(P.subscribers / P.subscriberProcs);
  const counts = subs.map((_, i) => Math.max(0, Math.min(each, P.subscribers - i * each)));
  const half = Math.ceil(subs.length / 2);
  const open = (from: number, to: number) =>
    Promise.all(
      subs.slice(from, to).map((s, k) => {
        const connected = s.next('connected', 120_000);
        s.send({ type: 'connect', kind, url, connections: counts[from + k]! });
        return connected;
      }),
    );
  await open(0, half);
  await quiesce(server.pid, 10_000);
  const m1 = await memoryOf(server);
  await open(half, subs.length);
  await quiesce(server.pid, 10_000);
  const m2 = await memoryOf(server);
  const second = counts.slice(half).reduce((a, b) => a + b, 0);
  const mib = (n: number): number => round(n / 2 ** 20, 1);
  progress(
    `  ${kind}: server RSS ${mib(m0.rss)} → ${mib(m1.rss)} → ${mib(m2.rss)} MiB, ` +
      `heap ${mib(m0.heapUsed)} → ${mib(m1.heapUsed)} → ${mib(m2.heapUsed)} MiB (0, ${P.subscribers - second}, ${P.subscribers} connections)`,
  );
  return {
    subs,
    perConnection: {
      rss: round((m2.rss - m1.rss) / Math.max(1, second)),
      rss_all: round((m2.rss - m0.rss) / P.subscribers),
      heap: round((m2.heapUsed - m0.heapUsed) / P.subscribers),
      external: round((m2.external - m0.external) / P.subscribers),
    },
  };
}

// ---------------------------------------------------------------- (c) HTTP

interface AutocannonResult {
  readonly requests: { readonly average: number; readonly total: number };
  readonly latency: { readonly p50: number; readonly p99: number };
  readonly non2xx: number;
  readonly errors: number;
}
type Autocannon = (options: {
  url: string;
  connections: number;
  duration: number;
  pipelining: number;
}) => Promise<AutocannonResult>;
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

// ---------------------------------------------------------------- main

const peerMessages = (n: number): Record<string, unknown>[] =>
  Array.from({ length: n }, (_, i) =>
    i % 3 === 2
      ? {
          op: 'trade',
          market: MARKET,
          seq: i,
          tradeId: `8a3c1e52-9f0b-4d2e-b6a1-1c2d3e4f5a6b:${i}`,
          price: '100.00',
          qty: '0.01',
          side: 'buy',
          ts: Date.now(),
        }
      : {
          op: 'book',
          market: MARKET,
          kind: 'delta',
          seq: i,
          bids: [],
          asks: [['100.00', '0.01']],
          checksum: 123456789,
        },
  );

/** `--orders-only`: the closed-loop rounds of (a) alone, for profiling the order path. */
async function ordersOnly(
  serverPid: number,
  wsUrl: string,
  ready: ServerReady,
): Promise<Record<string, unknown>> {
  const perProc = Math.ceil(P.traders / P.traderProcs);
  const traders = Array.from({ length: P.traderProcs }, (_, i) =>
    child<TraderRequest>('./ws/trader.ts', [String(1000 + i)], `trader ${i}`),
  );
  await Promise.all(
    traders.map((t, i) => {
      const c = t.next('connected');
      t.send({
        type: 'connect',
        url: wsUrl,
        tokens: ready.traderTokens.slice(i * perProc, (i + 1) * perProc),
      });
      return c;
    }),
  );
  const closed: ClosedRound[] = [];
  for (let r = 0; r < P.closedRounds; r++) {
    const c = await closedRound(serverPid, traders);
    closed.push(c);
    progress(`  closed loop round ${r + 1}: ${JSON.stringify(c)}`);
  }
  for (const t of traders) t.send({ type: 'close' });
  return {
    durable_orders_per_s: median(closed.map((c) => c.orders_per_s)),
    server_cpu_us_per_order: median(closed.map((c) => c.server_cpu_us_per_order)),
    closed_rounds: closed,
  };
}

async function main(): Promise<Record<string, unknown>> {
  const peer = child<SocketIoRequest>('./ws/socketioServer.ts', [], 'socket.io server');
  const peerReady = await peer.next<SocketIoReady>('ready');
  const peerUrl = `http://127.0.0.1:${peerReady.port}`;

  if (PEER_ONLY) {
    // Exercises the Socket.io half alone, on synthetic messages (development aid).
    const { subs, perConnection } = await connectSubscribers('socketio', peerUrl, peer);
    progress(`socket.io: ${P.subscribers} connections, ${JSON.stringify(perConnection)} bytes each`);
    const burst = await peerBurst(peer, subs, peerMessages(P.burstTrades * 2));
    progress(`socket.io burst: ${JSON.stringify(burst)}`);
    return { socketio_msgs_per_s: burst.msgs_per_s, socketio_bytes_per_connection: perConnection.rss };
  }

  progress('starting the exchange (fresh database, migrations, market, credits)');
  const server = child<{ type: 'memory' } | { type: 'stop' }>(
    './ws/server.ts',
    [String(P.traders)],
    'exchange',
    [...(PROFILE_DIR === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`]), ...SERVER_FLAGS],
  );
  const ready = await server.next<ServerReady>('ready', 180_000);
  const wsUrl = `ws://127.0.0.1:${ready.port}/ws`;
  progress(`exchange pid ${server.pid} on port ${ready.port}, database ${ready.database}`);
  benchDatabase = ready.database;

  try {
    if (ORDERS_ONLY) return await ordersOnly(server.pid, wsUrl, ready);
    // -------- memory per idle connection, first, on both fresh servers; the connections stay
    // open (idle: no subscriptions on ours) through (a) and subscribe for (b).
    progress(`memory: ${P.subscribers} idle connections to each server, ${P.subscriberProcs} processes each`);
    const ours = await connectSubscribers('ours', wsUrl, server);
    progress(`  ours: ${JSON.stringify(ours.perConnection)} bytes per connection`);
    const theirs = await connectSubscribers('socketio', peerUrl, peer);
    progress(`  socket.io: ${JSON.stringify(theirs.perConnection)} bytes per connection`);

    // -------- (a)
    const perProc = Math.ceil(P.traders / P.traderProcs);
    const traders = Array.from({ length: P.traderProcs }, (_, i) =>
      child<TraderRequest>('./ws/trader.ts', [String(1000 + i)], `trader ${i}`),
    );
    await Promise.all(
      traders.map((t, i) => {
        const c = t.next('connected');
        t.send({
          type: 'connect',
          url: wsUrl,
          tokens: ready.traderTokens.slice(i * perProc, (i + 1) * perProc),
        });
        return c;
      }),
    );
    progress(`(a) ${P.traders} trader connections in ${P.traderProcs} processes, window ${P.window} each`);
    const closed: ClosedRound[] = [];
    for (let r = 0; r < P.closedRounds; r++) {
      const c = await closedRound(server.pid, traders);
      closed.push(c);
      progress(`  closed loop round ${r + 1}: ${JSON.stringify(c)}`);
    }
    const open: Record<number, OpenRound[]> = {};
    for (const rate of P.openRates) {
      open[rate] = [];
      for (let r = 0; r < P.openRounds; r++) {
        const o = await openRound(server.pid, traders, rate);
        open[rate].push(o);
        progress(`  open loop ${rate}/s round ${r + 1}: ${JSON.stringify(o)}`);
      }
    }
    for (const t of traders) t.send({ type: 'close' });

    // -------- (b)
    progress(`(b) fan-out: ${P.subscribers} subscribers in ${P.subscriberProcs} processes per server`);
    await Promise.all(
      ours.subs.map((s) => {
        const subscribed = s.next('subscribed');
        s.send({ type: 'subscribe' });
        return subscribed;
      }),
    );

    const source = child<TraderRequest>('./ws/trader.ts', ['7'], 'fan-out source');
    {
      const c = source.next('connected');
      source.send({ type: 'connect', url: wsUrl, tokens: [ready.makerToken, ready.takerToken] });
      await c;
    }
    const oursRounds: FanoutRound[] = [];
    const peerRounds: FanoutRound[] = [];
    {
      // Warm-up of both paths (JIT, buffers), not counted.
      const o = await oursBurst(server.pid, source, ours.subs, WARMUP_TRADES);
      await peerBurst(peer, theirs.subs, o.recorded);
    }
    for (let r = 0; r < P.fanoutRounds; r++) {
      const o = await oursBurst(server.pid, source, ours.subs, P.burstTrades);
      oursRounds.push(o.round);
      progress(`  ours burst round ${r + 1}: ${JSON.stringify(o.round)}`);
      const s = await peerBurst(peer, theirs.subs, o.recorded);
      peerRounds.push(s);
      progress(`  socket.io burst round ${r + 1} (${o.recorded.length} messages): ${JSON.stringify(s)}`);
    }

    // Paced: the delay from publication to receipt while the subscribers keep up.
    reset(ours.subs, true);
    await sleep(100);
    const pacedPairs = Math.round((P.pacedPairsPerS * P.pacedMs) / 1000);
    const pacedSteal0 = machineCpu();
    const pacedSource = await (async () => {
      const done = source.next<PairsResult>('pairsDone');
      source.send({ type: 'pairs', pairs: pacedPairs, lanes: 1, rate: P.pacedPairsPerS });
      return done;
    })();
    const takerLatency = percentiles(mergeHistograms([pacedSource.takerLatency]));
    const oursPaced = await delivered(ours.subs, undefined);
    const oursPacedSteal = machineDelta(pacedSteal0, machineCpu()).stealPct;
    progress(
      `  ours paced (${P.pacedPairsPerS} trades/s): trade delay ${JSON.stringify(oursPaced.tradeDelay)}`,
    );
    reset(theirs.subs, false);
    await sleep(100);
    const peerPacedSteal0 = machineCpu();
    {
      const emitted = peer.next<Emitted>('emitted', 180_000);
      peer.send({
        type: 'emit',
        messages: oursPaced.recorded,
        rate: (oursPaced.recorded.length * 1000) / P.pacedMs,
        chunk: 1,
      });
      await emitted;
    }
    const peerPaced = await delivered(theirs.subs, oursPaced.recorded.length);
    const peerPacedSteal = machineDelta(peerPacedSteal0, machineCpu()).stealPct;
    progress(`  socket.io paced: trade delay ${JSON.stringify(peerPaced.tradeDelay)}`);
    source.send({ type: 'close' });
    for (const s of [...ours.subs, ...theirs.subs]) s.send({ type: 'close' });
    await sleep(1_000);

    // -------- (c)
    progress(`(c) GET /api/v1/markets/${MARKET}/book: autocannon, ${HTTP_CONNECTIONS} connections`);
    const m0 = machineCpu();
    const cpu0 = processCpuMicros(server.pid);
    const http = await autocannon({
      url: `http://127.0.0.1:${ready.port}/api/v1/markets/${MARKET}/book`,
      connections: HTTP_CONNECTIONS,
      duration: P.httpMs / 1000,
      pipelining: 1,
    });
    const httpCpu = processCpuMicros(server.pid) - cpu0;
    const book = (await (
      await fetch(`http://127.0.0.1:${ready.port}/api/v1/markets/${MARKET}/book?depth=0`)
    ).json()) as { bids: unknown[]; asks: unknown[] };
    const httpSteal = machineDelta(m0, machineCpu()).stealPct;
    progress(
      `  ${round(http.requests.average)} req/s, p50 ${http.latency.p50} ms, p99 ${http.latency.p99} ms, ` +
        `non-2xx ${http.non2xx}, errors ${http.errors}`,
    );

    // -------- figures
    const med = <T>(rows: readonly T[], key: (row: T) => number): number => median(rows.map(key));
    const at10k = open[10_000] ?? [];
    const at1k = open[1_000] ?? [];
    const durable = med(closed, (c) => c.orders_per_s);
    const oursFanout = med(oursRounds, (r) => r.msgs_per_s);
    const peerFanout = med(peerRounds, (r) => r.msgs_per_s);
    const ratios = oursRounds.map((o, i) => o.msgs_per_s / peerRounds[i]!.msgs_per_s);
    const p99At10k = med(at10k, (o) => o.p99_ms);
    const fanoutRatio = round(oursFanout / peerFanout, 2);
    return {
      durable_orders_per_s: round(durable),
      server_cpu_us_per_order: med(closed, (c) => c.server_cpu_us_per_order),
      p50_ms_at_10k: med(at10k, (o) => o.p50_ms),
      p99_ms_at_10k: p99At10k,
      p999_ms_at_10k: med(at10k, (o) => o.p999_ms),
      steal_pct: med(at10k, (o) => o.steal_pct),
      fanout_msgs_per_s: round(oursFanout),
      socketio_msgs_per_s: round(peerFanout),
      fanout_ratio: fanoutRatio,
      bytes_per_connection: ours.perConnection.rss,
      book_http_rps: round(http.requests.average),
      p50_ms_at_1k: med(at1k, (o) => o.p50_ms),
      p99_ms_at_1k: med(at1k, (o) => o.p99_ms),
      p999_ms_at_1k: med(at1k, (o) => o.p999_ms),
      steal_pct_at_1k: med(at1k, (o) => o.steal_pct),
      db_cpu_us_per_order: med(closed, (c) => c.db_cpu_us_per_order),
      machine_cpu_us_per_order: med(closed, (c) => c.machine_cpu_us_per_order),
      steal_pct_closed: med(closed, (c) => c.steal_pct),
      fanout_ratio_per_round_median: round(median(ratios), 2),
      fanout_trade_delay_p50_ms: oursPaced.tradeDelay.p50_ms,
      fanout_trade_delay_p99_ms: oursPaced.tradeDelay.p99_ms,
      socketio_trade_delay_p50_ms: peerPaced.tradeDelay.p50_ms,
      socketio_trade_delay_p99_ms: peerPaced.tradeDelay.p99_ms,
      fanout_paced: {
        trades_per_s: P.pacedPairsPerS,
        messages_per_connection: oursPaced.perConnectionMax,
        ours: { ...oursPaced.tradeDelay, steal_pct: round(oursPacedSteal, 2), closed: oursPaced.closed },
        taker_place_to_accepted: takerLatency,
        socketio: { ...peerPaced.tradeDelay, steal_pct: round(peerPacedSteal, 2), closed: peerPaced.closed },
      },
      socketio_bytes_per_connection: theirs.perConnection.rss,
      bytes_per_connection_detail: { ours: ours.perConnection, socketio: theirs.perConnection },
      book_http: {
        rps: round(http.requests.average),
        total: http.requests.total,
        p50_ms: http.latency.p50,
        p99_ms: http.latency.p99,
        non2xx: http.non2xx,
        errors: http.errors,
        server_cpu_us_per_request: round(httpCpu / Math.max(1, http.requests.total), 1),
        book_levels: { bids: book.bids.length, asks: book.asks.length },
        steal_pct: round(httpSteal, 2),
      },
      closed_rounds: closed,
      open_rounds: open,
      fanout_rounds: { ours: oursRounds, socketio: peerRounds },
      targets: {
        durable_orders_per_s: {
          target: TARGETS.durableOrdersPerS,
          met: durable >= TARGETS.durableOrdersPerS,
        },
        p99_ms_at_10k: { target: TARGETS.p99MsAt10k, met: p99At10k <= TARGETS.p99MsAt10k },
        fanout_ratio: { target: TARGETS.fanoutRatio, met: fanoutRatio >= TARGETS.fanoutRatio },
      },
      params: { ...P, take_window: TAKE_WINDOW, http_connections: HTTP_CONNECTIONS, quick: QUICK },
    };
  } finally {
    // The server closes the exchange and drops its database before it exits.
    if (server.proc.exitCode === null && server.proc.connected) {
      const exited = new Promise((resolve) => server.proc.once('exit', resolve));
      server.send({ type: 'stop' });
      await Promise.race([exited, sleep(30_000)]);
    }
  }
}

let result: Record<string, unknown>;
try {
  result = await main();
} finally {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill();
}
const steal = machineDelta(cpuAtStart, machineCpu()).stealPct;
Object.assign(result, {
  steal_pct_whole_run: round(steal, 2),
  node: process.version,
  cpus: cpus().length,
  load_avg: { before: loadBefore.map((x) => round(x, 2)), after: loadavg().map((x) => round(x, 2)) },
  runtime_s: round(performance.now() / 1000),
});
progress('done');
process.stdout.write(`${JSON.stringify(result)}\n`);

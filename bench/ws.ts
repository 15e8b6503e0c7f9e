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
 *  (d) sub flood (issue 12 §3): a book of 4,000 levels a side on a second market, three
 *      unauthenticated connections sending 700 subs of it (depth 0) at once each, every second,
 *      while one trader places on the benchmark's market at a steady rate: that trader's place →
 *      accepted (open loop), beside the same trader without the flood. `--sub-flood-only` runs
 *      just this.
 *
 * /proc/stat steal is recorded beside every latency and rate figure. Progress on stderr; the last
 * stdout line is one JSON object. See bench/RESULTS.md (bench:ws).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, loadavg } from 'node:os';
import { resolve as resolvePath } from 'node:path';
import { pathToFileURL } from 'node:url';
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
  type ServerLoop,
  type ServerProfile,
  type ServerRequest,
  type ServerMemory,
  type ServerReady,
  type SocketIoReady,
  type SocketIoRequest,
  type SubscriberReport,
  type SubscriberRequest,
  type TraderRequest,
  type TraderResult,
  type FloodResult,
  type FlooderRequest,
  FLOOD_MARKET,
  MARKET,
} from './ws/common.ts';
import { median, progress, round } from './lib/stats.ts';
import { parseCommandLine } from '../scripts/lib/cli.ts';

const { values: flags } = parseCommandLine({
  name: 'npm run bench:ws --',
  usage: `usage: npm run bench:ws -- [--quick] [--peer-only] [--orders-only] [--sub-flood-only] [--realtime] [--profile-server=DIR]
                          [--server-flag=FLAG ...]

The gateway under load over loopback: durable orders/s and latency, fan-out to 1,000 subscribers
against Socket.io, GET /markets/:id/book under autocannon. Progress on stderr; the last stdout
line is one JSON object (bench/RESULTS.md).

  --quick                 shorter rounds (a smoke run, not a figure)
  --peer-only             only the Socket.io peer's rounds
  --orders-only           only the closed-loop order rounds (CPU per order), then stop
  --sub-flood-only        only round (d): three unauthenticated connections flooding sub while a
                          trader places on another market
  --realtime              only issue 21's figures: closed rounds, open loops at 1,000 and 10,000/s
                          (with the server's event-loop delay and GC pauses), the sustained round
                          (BENCH_WS_SUSTAINED_MS, default 60,000), the memory sink, cpu_profile_top
  --ab-flag=FLAG, --ab-env=K=V
                          a lever's before/after in one run: exchange A as usual, exchange B with
                          these Node flags (replacing the default ones) and env, both up at once;
                          closed rounds and open loops at 1,000 and 10,000/s alternate A, B
  --ab-base=DIR           exchange A runs from the checkout in DIR (bench/ws/server.ts there: a
                          code lever's before/after, e.g. DIR from \`git archive <base> | tar -x -C DIR\`
                          with node_modules linked); B runs from this checkout
  --profile-server=DIR    write a V8 CPU profile of the exchange process into DIR
  --server-flag=FLAG      add a Node flag to the exchange process (repeatable)
  -h, --help              this text`,
  options: {
    quick: { type: 'boolean', default: false },
    'peer-only': { type: 'boolean', default: false },
    'orders-only': { type: 'boolean', default: false },
    'sub-flood-only': { type: 'boolean', default: false },
    realtime: { type: 'boolean', default: false },
    'ab-flag': { type: 'string', multiple: true, default: [] },
    'ab-env': { type: 'string', multiple: true, default: [] },
    'ab-base': { type: 'string' },
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
/** `--sub-flood-only` runs only round (d), the sub flood. */
const SUB_FLOOD_ONLY = flags['sub-flood-only'];
/** `--realtime`: issue 21's figures alone (see realtimeFigures). */
const REALTIME_ONLY = flags.realtime;
/** `--ab-flag` / `--ab-env`: exchange B of an A/B comparison (see abFigures). */
const AB_FLAGS_GIVEN: readonly string[] = flags['ab-flag'];
const AB_ENV: Record<string, string> = Object.fromEntries(
  flags['ab-env'].map((kv) => {
    const i = kv.indexOf('=');
    if (i < 1) throw new Error(`--ab-env=${kv}: expected KEY=VALUE`);
    return [kv.slice(0, i), kv.slice(i + 1)];
  }),
);
/** `--ab-base=DIR`: exchange A runs from another checkout (the code before a lever). */
const AB_BASE = flags['ab-base'];
const AB = AB_FLAGS_GIVEN.length > 0 || Object.keys(AB_ENV).length > 0 || AB_BASE !== undefined;
/** The sustained round's length (the recorded figure uses 60 s; shorter only for a smoke run). */
const SUSTAINED_MS = Number(process.env.BENCH_WS_SUSTAINED_MS ?? (flags.quick ? 10_000 : 60_000));
/** Each probe of the sustained rate search. */
const PROBE_MS = Number(process.env.BENCH_WS_PROBE_MS ?? (flags.quick ? 4_000 : 10_000));
/** Development aid: `--server-flag=--trace-gc` (repeatable) adds a Node flag to the exchange process. */
// The exchange runs as `npm start` runs it: a larger young generation (orders live ~100 ms in the
// pipeline, so the default semi-space promotes half of them).
const SERVER_FLAGS = ['--max-semi-space-size=64', ...flags['server-flag']];
/** B's Node flags: the given ones, or A's when none is given (an env or code lever alone). */
const AB_FLAGS: readonly string[] = AB_FLAGS_GIVEN.length > 0 ? AB_FLAGS_GIVEN : SERVER_FLAGS;

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
      floodLevels: 4_000,
      floodConnections: 3,
      floodWindow: 700,
      floodTraderRate: 100,
      floodWarmupMs: 1_000,
      floodMs: 4_000,
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
      floodLevels: 4_000,
      floodConnections: 3,
      floodWindow: 700,
      floodTraderRate: 100,
      floodWarmupMs: 1_000,
      floodMs: 10_000,
    };
/** Buys outstanding in a fan-out burst (so a committed batch carries up to this many trades). */
const TAKE_WINDOW = 128;
const WARMUP_TRADES = 50;
const HTTP_CONNECTIONS = 10;
const TARGETS = { durableOrdersPerS: 25_000, p99MsAt10k: 10, fanoutRatio: 3, subFloodP99Ms: 50 };

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
  env: NodeJS.ProcessEnv = process.env,
): Child<Req> {
  const url = script.startsWith('/') ? pathToFileURL(script) : new URL(script, import.meta.url);
  const proc = fork(url, args, {
    env,
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
/** Each exchange process's database (an A/B run or the memory sink has several). */
const databaseOf = new Map<number, string>();
const sample = (pid: number): Window => ({
  serverCpu: processCpuMicros(pid),
  dbCpu: postgresCpu(databaseOf.get(pid) ?? benchDatabase),
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
  /** At a fixed offered rate: what a committed order costs, polling and idle work included. */
  readonly server_cpu_us_per_order: number;
  readonly db_cpu_us_per_order: number;
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
    server_cpu_us_per_order: round((b.serverCpu - a.serverCpu) / Math.max(1, accepted), 1),
    db_cpu_us_per_order: round(postgresDelta(a.dbCpu, b.dbCpu) / Math.max(1, accepted), 1),
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

// ---------------------------------------------------------------- (d) sub flood

/** One trader's open loop at `rate` places/s from `startAt` (measured after the warm-up). */
function steadyPlaces(trader: Child<TraderRequest>, startAt: number): Promise<TraderResult> {
  const result = trader.next<TraderResult>('result', 60_000 + P.floodWarmupMs + P.floodMs);
  trader.send({
    type: 'open',
    rate: P.floodTraderRate,
    startAt,
    warmupMs: P.floodWarmupMs,
    durationMs: P.floodMs,
  });
  return result;
}

/**
 * (d): the deep book first (the maker's ladder on FLOOD_MARKET), then the trader on MARKET alone
 * (baseline), then the same trader while each flooder connection sends `floodWindow` subs of the
 * deep book at once every second. The server's frame bucket is opened wide by bench/ws/server.ts;
 * the sub bucket is at its default (WS_RATE_SUBS_PER_S / _BURST).
 */
async function subFloodRound(
  serverPid: number,
  wsUrl: string,
  ready: ServerReady,
): Promise<Record<string, unknown>> {
  const loadAtStart = loadavg();
  const maker = child<TraderRequest>('./ws/trader.ts', ['11'], 'flood-market maker');
  {
    const c = maker.next('connected');
    maker.send({ type: 'connect', url: wsUrl, tokens: [ready.makerToken] });
    await c;
  }
  const laddered = maker.next<StepResult>('stepDone', 600_000);
  maker.send({ type: 'ladder', market: FLOOD_MARKET, levels: P.floodLevels, window: 128 });
  const ladder = await laddered;
  if (ladder.firstError !== undefined) throw new Error(`flood-market ladder: ${ladder.firstError}`);
  maker.send({ type: 'close' });
  const book = (await (
    await fetch(`http://127.0.0.1:${ready.port}/api/v1/markets/${FLOOD_MARKET}/book?depth=0`)
  ).json()) as { bids: unknown[]; asks: unknown[] };
  progress(
    `(d) sub flood: ${FLOOD_MARKET} holds ${book.bids.length} bids and ${book.asks.length} asks ` +
      `(ladder in ${round((ladder.endAt - ladder.startAt) / 1000, 1)} s)`,
  );

  const trader = child<TraderRequest>('./ws/trader.ts', ['13'], 'steady trader');
  {
    const c = trader.next('connected');
    trader.send({ type: 'connect', url: wsUrl, tokens: [ready.traderTokens[0]!] });
    await c;
  }
  const baselineStart = Date.now() + 300;
  const baselinePlaced = steadyPlaces(trader, baselineStart);
  await at(baselineStart + P.floodWarmupMs);
  const s0 = sample(serverPid);
  await at(baselineStart + P.floodWarmupMs + P.floodMs);
  const s1 = sample(serverPid);
  const baseline = await baselinePlaced;
  const baselineLatency = percentiles(mergeHistograms([baseline.latency]));
  const baselineSteal = machineDelta(s0.machine, s1.machine).stealPct;
  progress(
    `  baseline (${P.floodTraderRate} places/s on ${MARKET}, no flood): ${JSON.stringify(baselineLatency)}`,
  );

  const flooder = child<FlooderRequest>('./ws/flooder.ts', [], 'sub flooder');
  {
    const c = flooder.next('connected');
    flooder.send({ type: 'connect', url: wsUrl, connections: P.floodConnections });
    await c;
  }
  const startAt = Date.now() + 300;
  const flooded = flooder.next<FloodResult>('flooded', P.floodWarmupMs + P.floodMs + 120_000);
  flooder.send({
    type: 'flood',
    market: FLOOD_MARKET,
    window: P.floodWindow,
    startAt,
    durationMs: P.floodWarmupMs + P.floodMs,
  });
  const placed = steadyPlaces(trader, startAt);
  await at(startAt + P.floodWarmupMs);
  const a = sample(serverPid);
  await at(startAt + P.floodWarmupMs + P.floodMs);
  const b = sample(serverPid);
  const [result, flood] = await Promise.all([placed, flooded]);
  trader.send({ type: 'close' });
  flooder.send({ type: 'close' });
  const latency = percentiles(mergeHistograms([result.latency]));
  const floodSeconds = (P.floodWarmupMs + P.floodMs) / 1000;
  const figures = {
    sub_flood_p50_ms: latency.p50_ms,
    sub_flood_p99_ms: latency.p99_ms,
    sub_flood_p999_ms: latency.p999_ms,
    sub_flood_max_ms: latency.max_ms,
    sub_flood_places: latency.count,
    sub_flood_place_errors: result.errors,
    sub_flood_baseline_p50_ms: baselineLatency.p50_ms,
    sub_flood_baseline_p99_ms: baselineLatency.p99_ms,
    sub_flood_subs_sent: flood.sent,
    sub_flood_subs_answered_subbed: flood.subbed,
    sub_flood_subs_rate_limited: flood.rateLimited,
    sub_flood_subs_other_errors: flood.otherErrors,
    sub_flood_subs_unanswered: flood.unanswered,
    sub_flood_subs_per_s: round(flood.sent / floodSeconds),
    sub_flood_snapshots: flood.snapshots,
    sub_flood_snapshot_bytes: round(flood.snapshotBytes / Math.max(1, flood.snapshots)),
    sub_flood_connections_closed: flood.closed,
    sub_flood_server_cpu_pct: round(((b.serverCpu - a.serverCpu) * 100) / (P.floodMs * 1000), 1),
    sub_flood_baseline_server_cpu_pct: round(((s1.serverCpu - s0.serverCpu) * 100) / (P.floodMs * 1000), 1),
    sub_flood_steal_pct: round(machineDelta(a.machine, b.machine).stealPct, 2),
    sub_flood_baseline_steal_pct: round(baselineSteal, 2),
    sub_flood_book_levels: { bids: book.bids.length, asks: book.asks.length },
    sub_flood_load_avg: {
      before: loadAtStart.map((x) => round(x, 2)),
      after: loadavg().map((x) => round(x, 2)),
    },
    sub_flood_target: {
      p99_ms: TARGETS.subFloodP99Ms,
      // Every place answered `accepted` (none lost to the flood), and fast enough.
      met:
        latency.count > 0 &&
        Object.keys(result.errors).length === 0 &&
        latency.p99_ms < TARGETS.subFloodP99Ms,
    },
  };
  progress(`  under the flood: ${JSON.stringify(figures)}`);
  return figures;
}

// ---------------------------------------------------------------- issue 21: the realtime path

type ServerChild = Child<ServerRequest>;

async function profileOf(server: ServerChild, action: 'start' | 'stop'): Promise<ServerProfile> {
  const r = server.next<ServerProfile>('profile');
  server.send({ type: 'profile', action });
  return r;
}

/** The exchange's own gauge (src/persistence/metrics.ts): journal records not yet projected. */
async function projectionLagRecords(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const m = /^exchange_projection_lag_records(?:\{[^}]*\})?\s+(\S+)/m.exec(text);
  return m === null ? Number.NaN : Number(m[1]);
}

/** Least-squares slope of (epoch ms, value) points, per second. */
function slopePerS(points: readonly (readonly [number, number])[]): number {
  const n = points.length;
  if (n < 2) return 0;
  const mt = points.reduce((a, p) => a + p[0], 0) / n;
  const mv = points.reduce((a, p) => a + p[1], 0) / n;
  let num = 0;
  let den = 0;
  for (const [t, v] of points) {
    num += (t - mt) * (v - mv);
    den += (t - mt) ** 2;
  }
  return den === 0 ? 0 : (num / den) * 1000;
}

async function loopOf(server: ServerChild): Promise<ServerLoop> {
  const r = server.next<ServerLoop>('loop');
  server.send({ type: 'loop' });
  return r;
}

async function connectTraders(wsUrl: string, ready: ServerReady): Promise<Child<TraderRequest>[]> {
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
  return traders;
}

async function startServer(label: string, execArgv: readonly string[], env: NodeJS.ProcessEnv) {
  const server: ServerChild = child('./ws/server.ts', [String(P.traders)], label, execArgv, env);
  const ready = await server.next<ServerReady>('ready', 180_000);
  databaseOf.set(server.pid, ready.database);
  progress(`${label}: pid ${server.pid} on port ${ready.port}, database ${ready.database}`);
  return { server, ready, wsUrl: `ws://127.0.0.1:${ready.port}/ws` };
}

async function stopServer(server: ServerChild): Promise<void> {
  if (server.proc.exitCode !== null || !server.proc.connected) return;
  const exited = new Promise((resolve) => server.proc.once('exit', resolve));
  server.send({ type: 'stop' });
  await Promise.race([exited, sleep(30_000)]);
}

interface SustainedRound {
  readonly offered_per_s: number;
  readonly accepted_per_s: number;
  readonly seconds: number;
  readonly projection_lag_slope_per_s: number;
  readonly lag_records: {
    readonly first: number;
    readonly max: number;
    readonly last: number;
    readonly samples: number;
  };
  readonly flat: boolean;
  readonly errors: Record<string, number>;
  readonly p50_ms: number;
  readonly p99_ms: number;
  readonly p999_ms: number;
  readonly server_cpu_us_per_order: number;
  readonly db_cpu_us_per_order: number;
  readonly steal_pct: number;
  /** The exchange's event loop, GC, flushes and snapshots over the round. */
  readonly loop: ServerLoop;
}

/**
 * A paced round at `rate` for `durationMs` (after a 1 s warm-up), the projection lag read from
 * /metrics every 500 ms. Flat: every place accepted (no `overloaded`, nothing lost), at least 97%
 * of the offered rate committed in the window, and the lag's fitted growth over the round below
 * max(200 records, the largest lag seen in its first quarter): the projector keeps up.
 */
async function sustainedRound(
  server: ServerChild,
  port: number,
  traders: readonly Child<TraderRequest>[],
  rate: number,
  durationMs: number,
): Promise<SustainedRound> {
  const warmupMs = 1_000;
  const startAt = Date.now() + 300;
  const from = startAt + warmupMs;
  const to = from + durationMs;
  const replies = traders.map((t) => t.next<TraderResult>('result', 120_000 + durationMs));
  for (const t of traders)
    t.send({ type: 'open', rate: rate / traders.length, startAt, warmupMs, durationMs });
  await at(from);
  await loopOf(server);
  const a = sample(server.pid);
  const lags: [number, number][] = [];
  while (Date.now() < to) {
    const t = Date.now();
    lags.push([t, await projectionLagRecords(port)]);
    await sleep(500 - (Date.now() - t));
  }
  const b = sample(server.pid);
  const loop = await loopOf(server);
  const results = await Promise.all(replies);
  const accepted = results.reduce((n, r) => n + r.accepted, 0);
  const latency = percentiles(mergeHistograms(results.map((r) => r.latency)));
  const errors = mergeErrors(results);
  const slope = slopePerS(lags);
  const firstQuarter = lags.slice(0, Math.max(1, Math.floor(lags.length / 4)));
  const acceptedPerS = (accepted * 1000) / durationMs;
  const growth = slope * (durationMs / 1000);
  const flat =
    Object.keys(errors).length === 0 &&
    acceptedPerS >= rate * 0.97 &&
    growth <= Math.max(200, ...firstQuarter.map((p) => p[1]));
  return {
    offered_per_s: rate,
    accepted_per_s: round(acceptedPerS),
    seconds: durationMs / 1000,
    projection_lag_slope_per_s: round(slope, 2),
    lag_records: {
      first: lags[0]?.[1] ?? Number.NaN,
      max: Math.max(...lags.map((p) => p[1])),
      last: lags.at(-1)?.[1] ?? Number.NaN,
      samples: lags.length,
    },
    flat,
    errors,
    p50_ms: latency.p50_ms,
    p99_ms: latency.p99_ms,
    p999_ms: latency.p999_ms,
    server_cpu_us_per_order: round((b.serverCpu - a.serverCpu) / Math.max(1, accepted), 1),
    db_cpu_us_per_order: round(postgresDelta(a.dbCpu, b.dbCpu) / Math.max(1, accepted), 1),
    steal_pct: round(machineDelta(a.machine, b.machine).stealPct, 2),
    loop,
  };
}

/**
 * Issue 21's figures, in one run: (1) closed rounds on the durable exchange (capacity, server and
 * Postgres CPU per order); (2) open loops at 1,000 and 10,000/s, each with the server's event-loop
 * delay and GC pauses over the round (the tail trace); (3) the sustained round: probes of
 * PROBE_MS stepping down from 95% of the closed-loop capacity until one is flat, then SUSTAINED_MS
 * at that rate (once more, 10% lower, if that is not flat); (4) the same closed rounds on a second
 * exchange whose journal writer writes nothing (BENCH_WS_SINK=memory); (5) one more closed round on
 * the durable exchange under the V8 CPU profiler: its ten functions with the most self time.
 */
async function realtimeFigures(durable: {
  server: ServerChild;
  ready: ServerReady;
  wsUrl: string;
}): Promise<Record<string, unknown>> {
  const loadAtStart = loadavg();
  const m0 = machineCpu();
  const traders = await connectTraders(durable.wsUrl, durable.ready);
  const closed: ClosedRound[] = [];
  for (let r = 0; r < P.closedRounds; r++) {
    closed.push(await closedRound(durable.server.pid, traders));
    progress(`  [realtime] closed round ${r + 1}: ${JSON.stringify(closed.at(-1))}`);
  }
  const capacity = median(closed.map((c) => c.orders_per_s));
  const open: Record<number, (OpenRound & { loop: ServerLoop })[]> = {};
  for (const rate of P.openRates) {
    open[rate] = [];
    for (let r = 0; r < P.openRounds; r++) {
      await loopOf(durable.server);
      const o = await openRound(durable.server.pid, traders, rate);
      const loop = await loopOf(durable.server);
      open[rate].push({ ...o, loop });
      progress(`  [realtime] open ${rate}/s round ${r + 1}: ${JSON.stringify(open[rate].at(-1))}`);
    }
  }
  // The sustained rate: probes down from 95% of capacity.
  const probes: SustainedRound[] = [];
  let rate = Math.max(500, Math.floor((capacity * 0.95) / 500) * 500);
  for (;;) {
    const p = await sustainedRound(durable.server, durable.ready.port, traders, rate, PROBE_MS);
    probes.push(p);
    progress(`  [realtime] probe ${rate}/s: ${JSON.stringify(p)}`);
    if (p.flat || rate <= 1_000) break;
    rate = Math.max(1_000, Math.floor((rate * 0.9) / 500) * 500);
  }
  const finals: SustainedRound[] = [];
  for (let tries = 0; tries < 2; tries++) {
    const f = await sustainedRound(durable.server, durable.ready.port, traders, rate, SUSTAINED_MS);
    finals.push(f);
    progress(`  [realtime] sustained ${rate}/s for ${SUSTAINED_MS / 1000} s: ${JSON.stringify(f)}`);
    if (f.flat) break;
    rate = Math.max(1_000, Math.floor((rate * 0.9) / 500) * 500);
  }
  for (const t of traders) t.send({ type: 'close' });
  const sustained = finals.find((f) => f.flat);

  // The same closed rounds through the memory sink.
  const mem = await startServer('exchange (memory sink)', SERVER_FLAGS, {
    ...process.env,
    BENCH_WS_SINK: 'memory',
  });
  const memClosed: ClosedRound[] = [];
  try {
    const memTraders = await connectTraders(mem.wsUrl, mem.ready);
    for (let r = 0; r < P.closedRounds; r++) {
      memClosed.push(await closedRound(mem.server.pid, memTraders));
      progress(`  [realtime] memory sink closed round ${r + 1}: ${JSON.stringify(memClosed.at(-1))}`);
    }
    for (const t of memTraders) t.send({ type: 'close' });
  } finally {
    await stopServer(mem.server);
  }

  // cpu_profile_top: one more closed round on the durable exchange, under the V8 CPU profiler.
  const profTraders = await connectTraders(durable.wsUrl, durable.ready);
  await profileOf(durable.server, 'start');
  const profiled = await closedRound(durable.server.pid, profTraders);
  const cpuTop = (await profileOf(durable.server, 'stop')).top;
  progress(`  [realtime] profiled closed round: ${JSON.stringify(profiled)}`);
  for (const t of profTraders) t.send({ type: 'close' });

  const med = <T>(rows: readonly T[], key: (row: T) => number): number => median(rows.map(key));
  const at1k = open[1_000] ?? [];
  const at10k = open[10_000] ?? [];
  const memoryRate = med(memClosed, (c) => c.orders_per_s);
  return {
    sustained_orders_per_s: sustained?.accepted_per_s ?? null,
    projection_lag_slope_per_s: (sustained ?? finals.at(-1))?.projection_lag_slope_per_s ?? null,
    durable_orders_per_s: capacity,
    server_cpu_us_per_order: med(closed, (c) => c.server_cpu_us_per_order),
    db_cpu_us_per_order: med(closed, (c) => c.db_cpu_us_per_order),
    machine_cpu_us_per_order: med(closed, (c) => c.machine_cpu_us_per_order),
    p50_ms_at_1k: med(at1k, (o) => o.p50_ms),
    p99_ms_at_1k: med(at1k, (o) => o.p99_ms),
    p999_ms_at_1k: med(at1k, (o) => o.p999_ms),
    p50_ms_at_10k: med(at10k, (o) => o.p50_ms),
    p99_ms_at_10k: med(at10k, (o) => o.p99_ms),
    p999_ms_at_10k: med(at10k, (o) => o.p999_ms),
    steal_pct: round(machineDelta(m0, machineCpu()).stealPct, 2),
    memory_sink_orders_per_s: memoryRate,
    durable_vs_memory_sink: round(capacity / Math.max(1, memoryRate), 2),
    memory_sink_server_cpu_us_per_order: med(memClosed, (c) => c.server_cpu_us_per_order),
    cpu_profile_top: cpuTop,
    profiled_closed_round: profiled,
    loop_at_1k: at1k.map((o) => o.loop),
    loop_at_10k: at10k.map((o) => o.loop),
    sustained_rounds: finals,
    sustained_probes: probes,
    realtime_closed_rounds: closed,
    realtime_open_rounds: open,
    memory_sink_closed_rounds: memClosed,
    realtime_load_avg: {
      before: loadAtStart.map((x) => round(x, 2)),
      after: loadavg().map((x) => round(x, 2)),
    },
    realtime_params: { sustained_ms: SUSTAINED_MS, probe_ms: PROBE_MS, server_flags: SERVER_FLAGS },
  };
}

/**
 * A lever's before/after in one run: exchange A (the default flags and env) and exchange B
 * (--ab-flag / --ab-env) both up, each with its own traders; P.closedRounds closed rounds, then
 * P.openRounds open rounds at each rate, alternating A, B (so both see the same machine load).
 */
async function abFigures(a: {
  server: ServerChild;
  ready: ServerReady;
  wsUrl: string;
}): Promise<Record<string, unknown>> {
  const b = await startServer('exchange B', AB_FLAGS, { ...process.env, ...AB_ENV });
  try {
    const sides = [
      { name: 'A', ...a, traders: await connectTraders(a.wsUrl, a.ready) },
      { name: 'B', ...b, traders: await connectTraders(b.wsUrl, b.ready) },
    ];
    const closed: Record<string, ClosedRound[]> = { A: [], B: [] };
    const open: Record<string, Record<number, (OpenRound & { loop: ServerLoop })[]>> = { A: {}, B: {} };
    for (let r = 0; r < P.closedRounds; r++)
      for (const side of sides) {
        const c = await closedRound(side.server.pid, side.traders);
        closed[side.name]!.push(c);
        progress(`  [ab] ${side.name} closed round ${r + 1}: ${JSON.stringify(c)}`);
      }
    for (const rate of P.openRates)
      for (let r = 0; r < P.openRounds; r++)
        for (const side of sides) {
          await loopOf(side.server);
          const o = await openRound(side.server.pid, side.traders, rate);
          const loop = await loopOf(side.server);
          (open[side.name]![rate] ??= []).push({ ...o, loop });
          progress(`  [ab] ${side.name} open ${rate}/s round ${r + 1}: ${JSON.stringify({ ...o, loop })}`);
        }
    for (const side of sides) for (const t of side.traders) t.send({ type: 'close' });
    const figures = (name: string) => {
      const c = closed[name]!;
      const o = open[name]!;
      const m = <T>(rows: readonly T[] | undefined, key: (row: T) => number): number =>
        median((rows ?? []).map(key));
      return {
        durable_orders_per_s: m(c, (x) => x.orders_per_s),
        server_cpu_us_per_order: m(c, (x) => x.server_cpu_us_per_order),
        db_cpu_us_per_order: m(c, (x) => x.db_cpu_us_per_order),
        p50_ms_at_1k: m(o[1_000], (x) => x.p50_ms),
        p99_ms_at_1k: m(o[1_000], (x) => x.p99_ms),
        p999_ms_at_1k: m(o[1_000], (x) => x.p999_ms),
        p50_ms_at_10k: m(o[10_000], (x) => x.p50_ms),
        p99_ms_at_10k: m(o[10_000], (x) => x.p99_ms),
        p999_ms_at_10k: m(o[10_000], (x) => x.p999_ms),
        loop_delay_max_ms_at_1k: m(o[1_000], (x) => x.loop.delay_max_ms),
        gc_minor_max_ms_at_1k: m(o[1_000], (x) => x.loop.gc.minor?.max_ms ?? 0),
        gc_minor_max_ms_at_10k: m(o[10_000], (x) => x.loop.gc.minor?.max_ms ?? 0),
        flush_commit_p99_ms_at_1k: m(o[1_000], (x) => x.loop.flushes.commit_latency_ms.p99),
        flush_commit_max_ms_at_1k: m(o[1_000], (x) => x.loop.flushes.commit_latency_ms.max),
        gc_us_per_order_at_1k: m(o[1_000], (x) =>
          round(
            (Object.values(x.loop.gc).reduce((n, g) => n + g.total_ms, 0) * 1000) / Math.max(1, x.count),
            1,
          ),
        ),
        server_cpu_pct_at_1k: m(o[1_000], (x) => x.server_cpu_pct),
        server_cpu_us_per_order_at_1k: m(o[1_000], (x) => x.server_cpu_us_per_order),
        db_cpu_us_per_order_at_1k: m(o[1_000], (x) => x.db_cpu_us_per_order),
        gc_total_ms_at_10k: m(o[10_000], (x) => Object.values(x.loop.gc).reduce((n, g) => n + g.total_ms, 0)),
        steal_pct: m(c, (x) => x.steal_pct),
      };
    };
    return {
      ab: {
        A: { flags: SERVER_FLAGS, env: {}, ...(AB_BASE === undefined ? {} : { dir: AB_BASE }) },
        B: { flags: AB_FLAGS, env: AB_ENV },
      },
      A: figures('A'),
      B: figures('B'),
      ab_closed_rounds: closed,
      ab_open_rounds: open,
    };
  } finally {
    await stopServer(b.server);
  }
}

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
  const serverScript = AB_BASE === undefined ? './ws/server.ts' : resolvePath(AB_BASE, 'bench/ws/server.ts');
  const server: ServerChild = child(serverScript, [String(P.traders)], 'exchange', [
    ...(PROFILE_DIR === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`]),
    ...SERVER_FLAGS,
  ]);
  const ready = await server.next<ServerReady>('ready', 180_000);
  const wsUrl = `ws://127.0.0.1:${ready.port}/ws`;
  progress(`exchange pid ${server.pid} on port ${ready.port}, database ${ready.database}`);
  benchDatabase = ready.database;

  try {
    if (ORDERS_ONLY) return await ordersOnly(server.pid, wsUrl, ready);
    if (AB) return await abFigures({ server, ready, wsUrl });
    if (REALTIME_ONLY) return await realtimeFigures({ server, ready, wsUrl });
    if (SUB_FLOOD_ONLY) {
      return { ...(await subFloodRound(server.pid, wsUrl, ready)), params: { ...P, quick: QUICK } };
    }
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

    // -------- (d)
    const subFlood = await subFloodRound(server.pid, wsUrl, ready);

    // -------- issue 21's figures (the same names at the top level: these rounds are the later ones)
    const realtime = await realtimeFigures({ server, ready, wsUrl });

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
      ...subFlood,
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
      ...realtime,
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

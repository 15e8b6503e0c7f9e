/**
 * The exchange under test, in a process of its own (so its CPU time can be read alone from
 * /proc/<pid>/stat): a fresh database `exchange_bench_ws_<random>` created through the admin URL
 * (TEST_DATABASE_ADMIN_URL, else DATABASE_URL's server with database `postgres`), the whole exchange
 * (src/app.ts: migrations, recovery, supervisor, journal writer with group commit, gateway) on a
 * free port of 127.0.0.1, the benchmark's market and generously credited users. Reports
 * `ServerReady` over IPC; answers `memory` (after a full GC) and `stop` (closes, drops the database).
 *
 * Started by bench/ws.ts with `node --expose-gc --import tsx bench/ws/server.ts <traders>`.
 */
import type { DatabasePool } from 'slonik';
import { benchAdminUrl, withBenchAdmin } from '../lib/database.ts';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { constants, monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { pino } from 'pino';
import { sql } from 'slonik';
import { startExchange, type Exchange } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { JournalWriter } from '../../src/persistence/journalWriter.ts';
import { DurableConsumerRunner } from '../../src/persistence/durableConsumers.ts';
import { journalObserver } from '../../src/persistence/metrics.ts';
import { topSelfTime, type CpuProfile } from '../lib/cpuProfile.ts';
import {
  BASE,
  FLOOD_BASE,
  lots,
  PRICE_DECIMALS,
  QTY_DECIMALS,
  QUOTE,
  ticks,
  type ServerLoop,
  type ServerProfile,
  type ServerMemory,
  type ServerReady,
  type ServerRequest,
} from './common.ts';

const traders = Number(process.argv[2] ?? '16');
const send = (message: ServerReady | ServerMemory | ServerLoop | ServerProfile): void => {
  process.send?.(message);
};

const adminUrl = (): string => benchAdminUrl('bench:ws');

const admin = (run: (pool: DatabasePool) => Promise<unknown>): Promise<void> =>
  withBenchAdmin('bench:ws', run);

function expectOk(what: string, outcome: { ok: boolean; message?: string; code?: string }): void {
  if (!outcome.ok) throw new Error(`${what}: ${outcome.code ?? ''} ${outcome.message ?? ''}`);
}

/**
 * BENCH_WS_SINK=memory (issue 21's `memory_sink_orders_per_s`): the same exchange with the journal
 * writer's database write replaced by nothing (records are still encoded, sequenced, grouped and
 * acknowledged after their "flush"): what the order path costs without durability. Benchmark only.
 */
const MEMORY_SINK = process.env.BENCH_WS_SINK === 'memory';
if (MEMORY_SINK) {
  (JournalWriter.prototype as unknown as { write: () => Promise<void> }).write = () => Promise.resolve();
}

/**
 * BENCH_WS_DURABLE_CONSUMERS=off (a diagnostic A/B, issue 21): the journal's durable consumers
 * other than the relational projector (portfolio positions, trade rollups, notifications; each
 * reads, decodes and folds every journal record) never start their rounds. Benchmark only.
 */
if (process.env.BENCH_WS_DURABLE_CONSUMERS === 'off') {
  DurableConsumerRunner.prototype.start = () => undefined;
}

/** The event-loop trace (a `loop` request reads and resets it). */
const loopDelay = monitorEventLoopDelay({ resolution: 1 });
loopDelay.enable();
const GC_KINDS: Record<number, string> = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
};
let gcPauses: Record<string, { count: number; total_ms: number; max_ms: number }> = {};
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    const kind = GC_KINDS[(entry as unknown as { detail?: { kind?: number } }).detail?.kind ?? -1] ?? 'other';
    const g = (gcPauses[kind] ??= { count: 0, total_ms: 0, max_ms: 0 });
    g.count++;
    g.total_ms += entry.duration;
    g.max_ms = Math.max(g.max_ms, entry.duration);
  }
}).observe({ entryTypes: ['gc'] });

/**
 * `cpu_profile_top`: the V8 CPU profiler (what --cpu-prof runs) from `start` to `stop`, over the
 * measured window only (a whole-process --cpu-prof is mostly start-up: module loading, migrations).
 */
let profileSession: Session | undefined;
async function profileStep(action: 'start' | 'stop'): Promise<ServerProfile> {
  if (action === 'start') {
    profileSession = new Session();
    profileSession.connect();
    await post(profileSession, 'Profiler.enable');
    await post(profileSession, 'Profiler.setSamplingInterval', { interval: 500 });
    await post(profileSession, 'Profiler.start');
    return { type: 'profile', top: [] };
  }
  if (profileSession === undefined) return { type: 'profile', top: [] };
  const { profile } = await post<{ profile: CpuProfile }>(profileSession, 'Profiler.stop');
  profileSession.disconnect();
  profileSession = undefined;
  if (process.env.BENCH_WS_PROFILE_FILE !== undefined)
    writeFileSync(process.env.BENCH_WS_PROFILE_FILE, JSON.stringify(profile));
  return { type: 'profile', top: topSelfTime(profile, 10) };
}

/** Every journal flush's commit latency and transaction time, ms (the writer's observer, wrapped). */
let flushes: { latency: number[]; transaction: number[]; records: number } = {
  latency: [],
  transaction: [],
  records: 0,
};
{
  const flushed = journalObserver.flushed.bind(journalObserver);
  journalObserver.flushed = (flush) => {
    flushed(flush);
    flushes.latency.push(flush.latencySeconds * 1000);
    flushes.transaction.push(flush.transactionSeconds * 1000);
    flushes.records += flush.records;
  };
}

/** Periodic snapshots (the exchange's hooks): from their start to their commit. */
let snapshotStartedAt: number | undefined;
let snapshots = { count: 0, total_ms: 0, max_ms: 0, bytes: 0 };

function quantiles(values: number[]): { p50: number; p99: number; max: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const q = (p: number): number =>
    sorted.length === 0
      ? 0
      : Math.round(sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]! * 100) / 100;
  return { p50: q(0.5), p99: q(0.99), max: q(1) };
}

function loopReport(): ServerLoop {
  const ms = (ns: number): number => Math.round(ns / 1e4) / 100;
  const round2 = (x: number): number => Math.round(x * 100) / 100;
  const report: ServerLoop = {
    type: 'loop',
    delay_p50_ms: ms(loopDelay.percentile(50)),
    delay_p99_ms: ms(loopDelay.percentile(99)),
    delay_p999_ms: ms(loopDelay.percentile(99.9)),
    delay_max_ms: ms(loopDelay.max),
    snapshots: {
      count: snapshots.count,
      total_ms: round2(snapshots.total_ms),
      max_ms: round2(snapshots.max_ms),
      bytes: snapshots.bytes,
    },
    flushes: {
      count: flushes.latency.length,
      records: flushes.records,
      commit_latency_ms: quantiles(flushes.latency),
      transaction_ms: quantiles(flushes.transaction),
    },
    gc: Object.fromEntries(
      Object.entries(gcPauses).map(([k, g]) => [
        k,
        { count: g.count, total_ms: round2(g.total_ms), max_ms: round2(g.max_ms) },
      ]),
    ),
  };
  loopDelay.reset();
  gcPauses = {};
  flushes = { latency: [], transaction: [], records: 0 };
  snapshots = { count: 0, total_ms: 0, max_ms: 0, bytes: 0 };
  return report;
}

const name = `exchange_bench_ws_${randomBytes(4).toString('hex')}`;
await admin((pool) => pool.query(sql.unsafe`CREATE DATABASE ${sql.identifier([name])}`));
const dbUrl = new URL(adminUrl());
dbUrl.pathname = `/${name}`;

let exchange: Exchange | undefined;
let stopping: Promise<void> | undefined;
const dropDatabase = (): Promise<void> =>
  admin((pool) => pool.query(sql.unsafe`DROP DATABASE IF EXISTS ${sql.identifier([name])} WITH (FORCE)`));

/**
 * Development aid: BENCH_HEAP_SAMPLE=FILE samples allocations (collected ones included) from ready
 * to stop and writes the V8 sampling heap profile there: where the churn the GC pays for comes from.
 */
const heapSampleFile = process.env.BENCH_HEAP_SAMPLE;
let heapSession: Session | undefined;

function post<T>(session: Session, method: string, params?: object): Promise<T> {
  return new Promise((resolve, reject) => {
    session.post(method, params ?? {}, (error, result) => {
      if (error === null) resolve(result as T);
      else reject(error);
    });
  });
}

async function writeHeapSample(): Promise<void> {
  if (heapSession === undefined || heapSampleFile === undefined) return;
  const { profile } = await post<{ profile: object }>(heapSession, 'HeapProfiler.stopSampling');
  writeFileSync(heapSampleFile, JSON.stringify(profile));
  heapSession.disconnect();
  heapSession = undefined;
}

async function stop(): Promise<void> {
  stopping ??= (async () => {
    await writeHeapSample().catch((error: unknown) => {
      process.stderr.write(`[server] heap sample failed: ${String(error)}\n`);
    });
    if (exchange !== undefined) {
      // A clean close snapshots and lets projections catch up; do not let it hold the run for long.
      await Promise.race([
        exchange.close().catch((error: unknown) => {
          process.stderr.write(`[server] close failed: ${String(error)}\n`);
        }),
        new Promise((resolve) => setTimeout(resolve, 15_000)),
      ]);
    }
    await dropDatabase();
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
    RATE_ORDERS_PER_S: '1000000',
    RATE_ORDERS_BURST: '1000000',
    MAX_OPEN_ORDERS_PER_USER: '1000000',
    // 1,000 subscribers and a burst of pushes each: leave the per-connection buffer at its default.
    WS_MAX_SUBSCRIPTIONS: '100',
    // Every process of the benchmark connects from 127.0.0.1; traders' frames are bounded by the
    // order rate above. The sub bucket (WS_RATE_SUBS_*) stays at its default: the sub-flood round
    // measures it.
    WS_MAX_CONNECTIONS_PER_IP: '100000',
    WS_RATE_FRAMES_PER_S: '1000000',
    WS_RATE_FRAMES_BURST: '1000000',
    // The memory sink commits nothing, so the projector never catches up: do not let its lag refuse places.
    ...(MEMORY_SINK ? { PROJECTION_MAX_LAG_RECORDS: '1000000000' } : {}),
  });
  // Logs to stderr, so the parent's stdout keeps only its own lines.
  exchange = await startExchange(config, pino({ level: config.LOG_LEVEL }, pino.destination(2)), {
    snapshotStarting: () => {
      snapshotStartedAt = performance.now();
    },
    snapshotTaken: (result) => {
      if (snapshotStartedAt === undefined) return;
      const ms = performance.now() - snapshotStartedAt;
      snapshotStartedAt = undefined;
      snapshots.count++;
      snapshots.total_ms += ms;
      snapshots.max_ms = Math.max(snapshots.max_ms, ms);
      snapshots.bytes += result.bytes;
    },
  });
  const ex = exchange;
  expectOk('asset USDC', await ex.admin.createAsset({ symbol: QUOTE, decimals: 6, kind: 'stable' }));
  // The benchmark's market, and the sub-flood round's deep book on a market of its own.
  for (const base of [BASE, FLOOD_BASE]) {
    expectOk(`asset ${base}`, await ex.admin.createAsset({ symbol: base, decimals: 8, kind: 'crypto' }));
    const symbol = `${base}-${QUOTE}`;
    expectOk(
      `market ${symbol}`,
      await ex.admin.listMarket(
        {
          symbol,
          baseAsset: base,
          quoteAsset: QUOTE,
          priceDecimals: PRICE_DECIMALS,
          qtyDecimals: QTY_DECIMALS,
          tickSize: ticks(1),
          lotSize: lots(1),
          minQty: lots(1),
        },
        { id: 'bench-admin', type: 'admin' },
      ),
    );
  }
  const users = [...Array.from({ length: traders }, (_, i) => `trader-${i}`), 'maker', 'taker'];
  for (const user of users) {
    expectOk(`credit ${user} ${QUOTE}`, await ex.admin.credit(user, QUOTE, '1000000000000'));
    expectOk(`credit ${user} ${BASE}`, await ex.admin.credit(user, BASE, '10000000000'));
  }
  expectOk(`credit maker ${FLOOD_BASE}`, await ex.admin.credit('maker', FLOOD_BASE, '10000000000'));
  const tokens = await Promise.all(users.map((user) => ex.auth.mint(user, ['trader'], '2h')));
  process.on('message', (message: ServerRequest) => {
    if (message.type === 'memory') {
      globalThis.gc?.();
      globalThis.gc?.();
      const m = process.memoryUsage();
      send({
        type: 'memory',
        rss: m.rss,
        heapUsed: m.heapUsed,
        external: m.external,
        arrayBuffers: m.arrayBuffers,
      });
    } else if (message.type === 'loop') {
      send(loopReport());
    } else if (message.type === 'profile') {
      void profileStep(message.action).then(send, (error: unknown) => {
        process.stderr.write(`[server] profile ${message.action} failed: ${String(error)}\n`);
        send({ type: 'profile', top: [] });
      });
    } else {
      void stop().finally(() => process.exit(0));
    }
  });
  process.on('disconnect', () => {
    void stop().finally(() => process.exit(0));
  });
  if (heapSampleFile !== undefined) {
    heapSession = new Session();
    heapSession.connect();
    await post(heapSession, 'HeapProfiler.startSampling', {
      samplingInterval: 16_384,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true,
    });
  }
  send({
    type: 'ready',
    port: ex.port,
    database: name,
    traderTokens: tokens.slice(0, traders),
    makerToken: tokens[traders]!,
    takerToken: tokens[traders + 1]!,
  });
} catch (error) {
  process.stderr.write(
    `[server] ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  await stop();
  process.exit(1);
}

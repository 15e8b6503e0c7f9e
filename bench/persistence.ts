/**
 * Persistence benchmark: `npm run bench:persistence` (scripts/services.ts starts Postgres and sets
 * DATABASE_URL; this runs `node --expose-gc --import tsx bench/persistence.ts`).
 *
 * Works in a database of its own, `exchange_bench` on DATABASE_URL's server (dropped and recreated,
 * migrated, dropped at the end), never in `exchange`. Measures (issue 5 §6):
 *   1. durable acknowledged orders/s through Supervisor + JournalWriter (real locks, fills, fees),
 *      from the first send to the last reply, at several flush bounds, with the latency of every
 *      commit() (call to resolution) in an HDR histogram;
 *   2. recovery time of one market from a snapshot plus as many journaled commands after it as fit
 *      the time budget (target: 1,000,000 in <= 10 s), and of 100 markets from snapshots plus a
 *      few records after them.
 *   3. projection: commands/s projected catching up the one-market journal (~1M commands) from an
 *      empty projection, and the lag (records) a running projector settles at under the durable
 *      load (one more durable run, flushIntervalMs 1, projector started).
 * Progress on stderr; the last stdout line is one JSON object. See bench/RESULTS.md.
 */
import { cpus, loadavg } from 'node:os';
import { build } from 'hdr-histogram-js';
import { createPool, sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import type { LifecycleEvent } from '../machines/marketLifecycle.ts';
import { Ledger } from '../src/actors/ledger/index.ts';
import type {
  BatchSink,
  CommandResult,
  JournalBatch,
  MarketCommand,
  MarketDefinition,
} from '../src/actors/market/types.ts';
import { Supervisor } from '../src/actors/supervisor.ts';
import { decodeBatch } from '../src/persistence/journalCodec.ts';
import { JournalWriter } from '../src/persistence/journalWriter.ts';
import { migrate } from '../src/persistence/migrate.ts';
import { Projector, resetProjections } from '../src/persistence/projector.ts';
import { recover } from '../src/persistence/recovery.ts';
import { takeSnapshot } from '../src/persistence/snapshots.ts';
import { actorCommands, BENCH_QUOTE, benchMarket } from './lib/actorStream.ts';
import { fullGc, progress, round } from './lib/stats.ts';
import { mixedStream, users, type BookShape } from './lib/stream.ts';
import { profiled } from './lib/cpuProfile.ts';
import { parseCommandLine } from '../scripts/lib/cli.ts';

parseCommandLine({
  name: 'npm run bench:persistence --',
  usage: `usage: npm run bench:persistence

Durable orders/s through the journal writer, recovery time from snapshot + journal, projection
throughput and lag, in a database of its own (exchange_bench on DATABASE_URL's server, which
npm run sets). Progress on stderr; the last stdout line is one JSON object (bench/RESULTS.md).
No options.`,
  options: {},
});

const SEED = 20240611;
const BENCH_DB = 'exchange_bench';
const MAILBOX_SIZE = 10_000;
const BATCH_SIZE = 512;
const WINDOW = MAILBOX_SIZE;
const DEEP: BookShape = { deepPercent: 50, deepTicks: 10, wideTicks: 290 };
const QUOTE = BENCH_QUOTE;
const QUOTE_DECIMALS = 6;
const BASE_DECIMALS = 8;
const DEPOSIT = 10n ** 15n;
const TS = 1_700_000_000_000;
const ADMIN = { id: 'bench-admin', type: 'admin' } as const;
const TARGET_DURABLE = 100_000;
const TARGET_RECOVERY_S = 10;
const TARGET_PROJECTION = 30_000;
/** Phase 3: projection catch-up of the one-market journal, and the lag under the durable load. */
const PROJECTION = { budgetMs: 90_000, flushIntervalMs: 1 };

/** Phase 1: many markets, so each flush carries many batches. */
const DURABLE = { markets: 20, users: 200, prefill: 2_000, ops: 10_000, flushIntervals: [1, 2, 5] };
/** Phase 2a: one market, up to 1M journaled commands after its snapshot, within a time budget. */
const RECOVERY_ONE = { users: 200, prefill: 20_000, ops: 1_000_000, budgetMs: 60_000, flushIntervalMs: 2 };
/** Phase 2b: 100 markets with snapshots, then a few records each after them. */
const RECOVERY_MANY = { markets: 100, users: 100, prefill: 500, ops: 1_000, after: 20, flushIntervalMs: 2 };

const loadBefore = loadavg();

// ---------------------------------------------------------------- database

function benchUrls(): { admin: string; bench: string } {
  const raw = process.env.DATABASE_URL;
  if (raw === undefined || raw === '') {
    throw new Error('DATABASE_URL is not set: run through `npm run bench:persistence`');
  }
  const admin = new URL(raw);
  admin.pathname = '/postgres';
  const bench = new URL(raw);
  bench.pathname = `/${BENCH_DB}`;
  return { admin: admin.toString(), bench: bench.toString() };
}

async function withAdmin(url: string, run: (pool: DatabasePool) => Promise<void>): Promise<void> {
  const pool = await createPool(url, { maximumPoolSize: 1 });
  try {
    await run(pool);
  } finally {
    await pool.end();
  }
}

async function recreateDatabase(adminUrl: string): Promise<void> {
  await withAdmin(adminUrl, async (pool) => {
    await pool.query(sql.unsafe`DROP DATABASE IF EXISTS ${sql.identifier([BENCH_DB])} WITH (FORCE)`);
    await pool.query(sql.unsafe`CREATE DATABASE ${sql.identifier([BENCH_DB])}`);
  });
}

async function dropDatabase(adminUrl: string): Promise<void> {
  await withAdmin(adminUrl, async (pool) => {
    await pool.query(sql.unsafe`DROP DATABASE IF EXISTS ${sql.identifier([BENCH_DB])} WITH (FORCE)`);
  });
}

/** Empties what the writer and snapshots fill, so each phase starts from an empty journal. */
async function resetJournal(pool: DatabasePool): Promise<void> {
  await pool.query(sql.unsafe`TRUNCATE journal, market_snapshots, ledger_snapshots`);
}

const Size = z.object({ bytes: z.string() });
async function journalBytes(pool: DatabasePool): Promise<number> {
  const row = await pool.one(sql.type(Size)`SELECT pg_total_relation_size('journal')::text AS bytes`);
  return Number(row.bytes);
}

// ---------------------------------------------------------------- markets and streams

interface Lane {
  readonly symbol: string;
  readonly baseAsset: string;
  readonly definition: MarketDefinition;
  prefill: readonly MarketCommand[];
  ops: readonly MarketCommand[];
}

function lanes(markets: number, userCount: number, prefill: number, ops: number, seed: number): Lane[] {
  return Array.from({ length: markets }, (_, m) => {
    const baseAsset = `RWA${m}`;
    const stream = mixedStream({ seed: seed + m, shape: DEEP, users: userCount, prefill, ops });
    const commands = actorCommands(stream);
    return {
      symbol: `${baseAsset}-${QUOTE}`,
      baseAsset,
      definition: benchMarket(m, baseAsset),
      prefill: commands.prefill,
      ops: commands.ops,
    };
  });
}

/** A ledger and supervisor with the lanes' markets added (not yet activated). */
function exchange(markets: readonly Lane[], sink: BatchSink): { ledger: Ledger; sup: Supervisor } {
  const ledger = new Ledger();
  ledger.defineAsset(QUOTE, QUOTE_DECIMALS);
  const sup = new Supervisor({ ledger, sink, mailboxSize: MAILBOX_SIZE, batchSize: BATCH_SIZE });
  for (const lane of markets) {
    ledger.defineAsset(lane.baseAsset, BASE_DECIMALS);
    sup.addMarket(lane.definition, { baseDecimals: BASE_DECIMALS, quoteDecimals: QUOTE_DECIMALS });
  }
  return { ledger, sup };
}

/** Lifecycle to `active` and generous credits, all journaled through the supervisor. */
async function open(sup: Supervisor, markets: readonly Lane[], userCount: number): Promise<void> {
  const events: LifecycleEvent[] = [
    { type: 'lifecycle.submit', actor: ADMIN, ts: TS },
    { type: 'lifecycle.approve', actor: ADMIN, ts: TS },
    { type: 'lifecycle.activate', actor: ADMIN, ts: TS },
    { type: 'lifecycle.deployed', actor: ADMIN, ts: TS, contractAddress: '0xbench', txHash: '0xbench' },
  ];
  await Promise.all(
    markets.map(async (lane) => {
      for (const event of events) {
        const result = await sup.submit(lane.symbol, { kind: 'lifecycle', event }, TS);
        if (!result.ok) throw new Error(`${lane.symbol} ${event.type}: ${result.message}`);
      }
    }),
  );
  const assets = [QUOTE, ...markets.map((l) => l.baseAsset)];
  const credits: Promise<CommandResult>[] = [];
  for (const user of users(userCount))
    for (const asset of assets) credits.push(sup.credit(user, asset, DEPOSIT, TS));
  for (const result of await Promise.all(credits))
    if (!result.ok) throw new Error(`credit: ${result.message}`);
}

interface FeedResult {
  readonly replied: number;
  readonly failures: number;
  readonly firstProblem: string | undefined;
}

/**
 * Sends each lane's commands (prefill or ops), at most WINDOW in flight per market, topping up as
 * replies come back; after `deadline` (performance.now()) nothing new is sent. Resolves once every
 * sent command is answered.
 */
async function feed(
  sup: Supervisor,
  work: readonly { symbol: string; commands: readonly MarketCommand[] }[],
  deadline = Infinity,
): Promise<FeedResult> {
  let wake: (() => void) | undefined;
  let failures = 0;
  let firstProblem: string | undefined;
  const state = work.map(({ symbol }) => {
    const s = { sent: 0, replied: 0, reply: (() => undefined) as (result: CommandResult) => void };
    s.reply = (result: CommandResult): void => {
      s.replied++;
      if (!result.ok) {
        failures++;
        firstProblem ??= `${symbol}: ${result.code}: ${result.message}`;
      }
      if (wake !== undefined) {
        const w = wake;
        wake = undefined;
        w();
      }
    };
    return s;
  });
  for (;;) {
    let pending = false;
    const sending = performance.now() < deadline;
    for (let m = 0; m < work.length; m++) {
      const lane = work[m]!;
      const s = state[m]!;
      if (sending) {
        const limit = Math.min(lane.commands.length, s.replied + WINDOW);
        while (s.sent < limit) sup.send(lane.symbol, lane.commands[s.sent++]!, TS, s.reply);
      }
      if (s.replied < s.sent || (sending && s.sent < lane.commands.length)) pending = true;
    }
    if (!pending) break;
    await new Promise<void>((resolve) => (wake = resolve));
  }
  return { replied: state.reduce((n, s) => n + s.replied, 0), failures, firstProblem };
}

/** The writer as the supervisor's sink, timing every commit() from the call to its resolution (µs). */
function timedSink(
  writer: JournalWriter,
  record: (micros: number) => void,
  encoded: (ms: number) => void,
): BatchSink {
  return {
    commit: (batch: JournalBatch) => {
      const t0 = performance.now();
      // commit() encodes the record synchronously before queueing it: that part is timed apart.
      const committed = writer.commit(batch);
      encoded(performance.now() - t0);
      return committed.then(() => {
        record(Math.max(1, Math.round((performance.now() - t0) * 1000)));
      });
    },
    canAccept: () => writer.canAccept(),
    whenAccepting: () => writer.whenAccepting(),
  };
}

const depths = (sup: Supervisor, markets: readonly Lane[]): string =>
  JSON.stringify(
    markets.map((l) => {
      const book = sup.actor(l.symbol)!.orderBook;
      return [book.depth('buy', 0), book.depth('sell', 0)];
    }),
  );

// ---------------------------------------------------------------- phase 1: durable throughput

interface DurableRun {
  readonly flushIntervalMs: number;
  readonly ordersPerS: number;
  readonly ops: number;
  readonly commitP50Ms: number;
  readonly commitP99Ms: number;
  readonly commitMaxMs: number;
  readonly commits: number;
  readonly flushes: number;
  readonly recordsPerFlush: number;
  readonly commandsPerRecord: number;
  readonly journalMbPerS: number;
  /** Share of the timed wall time spent encoding records inside commit() (synchronous). */
  readonly encodeShare: number;
  /** With a projector running: its lag in records (vs the writer's last commit), every 50 ms. */
  readonly lagSamples: readonly number[];
}

// ---------------------------------------------------------------- phase 3: projection catch-up

const CommandsUpTo = z.object({ commands: z.string() });

/**
 * Projects the journal left by the one-market recovery run (~1,000,000 commands) from an empty
 * projection, for at most budgetMs: commands (journal entries) projected per second.
 */
async function projectionCatchUp(
  pool: DatabasePool,
  budgetMs: number,
): Promise<{ ordersPerS: number; commands: number; seconds: number }> {
  await resetProjections(pool);
  const projector = new Projector(pool);
  const t0 = performance.now();
  projector.start(0);
  while (performance.now() - t0 < budgetMs) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    if (projector.lagRecords() === 0 && performance.now() - t0 > 500) break;
  }
  await projector.stop();
  const seconds = (performance.now() - t0) / 1000;
  const row = await pool.one(sql.type(CommandsUpTo)`
    SELECT coalesce(sum(seq_to - seq_from + 1), 0)::text AS commands FROM journal
    WHERE global_seq <= (SELECT global_seq FROM projection_cursors WHERE projection = 'relational')`);
  const commands = Number(row.commands);
  return { ordersPerS: commands / seconds, commands, seconds };
}

async function durableRun(
  pool: DatabasePool,
  markets: readonly Lane[],
  flushIntervalMs: number,
  withProjector = false,
): Promise<DurableRun> {
  await resetJournal(pool);
  await resetProjections(pool);
  const writer = await JournalWriter.open(pool, { flushIntervalMs });
  const projector = withProjector ? new Projector(pool) : undefined;
  const lagSamples: number[] = [];
  let sampler: NodeJS.Timeout | undefined;
  const histogram = build({ useWebAssembly: false, numberOfSignificantValueDigits: 3 });
  let timing = false;
  let encodeMs = 0;
  const sink = timedSink(
    writer,
    (micros) => {
      if (timing) histogram.recordValue(micros);
    },
    (ms) => {
      if (timing) encodeMs += ms;
    },
  );
  const { sup } = exchange(markets, sink);
  await open(sup, markets, DURABLE.users);
  const pre = await feed(
    sup,
    markets.map((l) => ({ symbol: l.symbol, commands: l.prefill })),
  );
  if (pre.failures > 0) throw new Error(`prefill: ${pre.failures} refused; first: ${pre.firstProblem}`);
  await sup.idle();
  const before = writer.stats();
  const bytesBefore = await journalBytes(pool);
  if (projector !== undefined) {
    await projector.runOnce();
    projector.start(5);
    sampler = setInterval(() => lagSamples.push(projector.lagRecords(writer.stats().lastGlobalSeq)), 50);
  }
  fullGc();
  timing = true;
  const start = performance.now();
  const run = await feed(
    sup,
    markets.map((l) => ({ symbol: l.symbol, commands: l.ops })),
  );
  const ms = performance.now() - start;
  timing = false;
  if (sampler !== undefined) clearInterval(sampler);
  await projector?.stop();
  if (run.failures > 0) throw new Error(`ops: ${run.failures} refused; first: ${run.firstProblem}`);
  await sup.idle();
  const after = writer.stats();
  await writer.close();
  const bytes = (await journalBytes(pool)) - bytesBefore;
  const records = after.records - before.records;
  const flushes = after.flushes - before.flushes;
  return {
    flushIntervalMs,
    ordersPerS: (run.replied * 1000) / ms,
    ops: run.replied,
    commitP50Ms: histogram.getValueAtPercentile(50) / 1000,
    commitP99Ms: histogram.getValueAtPercentile(99) / 1000,
    commitMaxMs: histogram.maxValue / 1000,
    commits: histogram.totalCount,
    flushes,
    recordsPerFlush: records / flushes,
    commandsPerRecord: run.replied / histogram.totalCount,
    journalMbPerS: bytes / 1e6 / (ms / 1000),
    encodeShare: encodeMs / ms,
    lagSamples,
  };
}

/** The same markets and streams with a sink that does nothing: the actor path's ceiling here. */
async function memoryRun(markets: readonly Lane[]): Promise<number> {
  const { sup } = exchange(markets, { commit: () => undefined });
  await open(sup, markets, DURABLE.users);
  await feed(
    sup,
    markets.map((l) => ({ symbol: l.symbol, commands: l.prefill })),
  );
  await sup.idle();
  fullGc();
  const start = performance.now();
  const run = await feed(
    sup,
    markets.map((l) => ({ symbol: l.symbol, commands: l.ops })),
  );
  const ms = performance.now() - start;
  if (run.failures > 0) throw new Error(`in-memory: ${run.failures} refused; first: ${run.firstProblem}`);
  return (run.replied * 1000) / ms;
}

// ---------------------------------------------------------------- phase 2: recovery

interface RecoveryRun {
  readonly seconds: number;
  readonly commands: number;
  readonly records: number;
  readonly journalRate: number;
  readonly snapshotMarkets: number;
  readonly verified: boolean;
  readonly readDecodeS: number;
  readonly decodeS: number;
}

/**
 * Journals `before` (prefill, plus the first ops when `splitAt` says so), takes a snapshot, journals
 * the rest within the budget, then recovers a fresh ledger and supervisor and times recover().
 */
async function recoveryRun(
  pool: DatabasePool,
  markets: Lane[],
  userCount: number,
  splitAt: number,
  budgetMs: number,
  flushIntervalMs: number,
  label: string,
): Promise<RecoveryRun> {
  await resetJournal(pool);
  const writer = await JournalWriter.open(pool, { flushIntervalMs });
  const { sup } = exchange(markets, writer);
  await open(sup, markets, userCount);
  const pre = await feed(
    sup,
    markets.map((l) => ({ symbol: l.symbol, commands: [...l.prefill, ...l.ops.slice(0, splitAt)] })),
  );
  if (pre.failures > 0)
    throw new Error(`${label} before snapshot: ${pre.failures} refused; ${pre.firstProblem}`);
  await sup.idle();
  const snap = await takeSnapshot(pool, { supervisor: sup, writer });
  progress(
    `${label}: snapshot at global_seq ${snap.globalSeq}, ${snap.markets} markets, ${snap.bytes} bytes`,
  );
  const start = performance.now();
  const rest = await feed(
    sup,
    markets.map((l) => ({ symbol: l.symbol, commands: l.ops.slice(splitAt) })),
    start + budgetMs,
  );
  const journalMs = performance.now() - start;
  if (rest.failures > 0)
    throw new Error(`${label} after snapshot: ${rest.failures} refused; ${rest.firstProblem}`);
  await sup.idle();
  await writer.close();
  const expected = depths(sup, markets);
  progress(
    `${label}: journaled ${rest.replied} commands after the snapshot in ${round(journalMs / 1000, 1)} s ` +
      `(${round((rest.replied * 1000) / journalMs)} durable commands/s); recovering`,
  );
  // Let the first exchange go before recovering into a fresh one.
  for (const l of markets) {
    l.prefill = [];
    l.ops = [];
  }
  const fresh = exchange(markets, { commit: () => undefined });
  fullGc();
  const t0 = performance.now();
  const stats = await recover(pool, { ledger: fresh.ledger, supervisor: fresh.sup });
  const seconds = (performance.now() - t0) / 1000;
  const readDecode = await readAndDecode(pool, stats.snapshotGlobalSeq);
  const verified = depths(fresh.sup, markets) === expected && fresh.ledger.checkInvariants().length === 0;
  progress(
    `${label}: recovered ${stats.entries} entries in ${stats.records} records after snapshot ` +
      `global_seq ${stats.snapshotGlobalSeq} (${stats.snapshotMarkets} markets) in ${round(seconds, 2)} s; ` +
      `books and ledger invariants ${verified ? 'match' : 'DIFFER'}; reading and decoding the same ` +
      `records alone takes ${round(readDecode.total, 2)} s (decoding ${round(readDecode.decode, 2)} s of it)`,
  );
  return {
    seconds,
    commands: stats.entries,
    records: stats.records,
    journalRate: (rest.replied * 1000) / journalMs,
    snapshotMarkets: stats.snapshotMarkets,
    verified,
    readDecodeS: readDecode.total,
    decodeS: readDecode.decode,
  };
}

const Page = z.object({ global_seq: z.string(), record: z.instanceof(Buffer) });

/** What recovery does apart from applying: page through the journal after `from` and decode each record. */
async function readAndDecode(pool: DatabasePool, from: number): Promise<{ total: number; decode: number }> {
  const t0 = performance.now();
  let decodeMs = 0;
  let last = from;
  let entries = 0;
  for (;;) {
    const page = await pool.any(sql.type(Page)`
      SELECT global_seq::text AS global_seq, record FROM journal
      WHERE global_seq > ${last} ORDER BY journal.global_seq LIMIT 1000`);
    for (const row of page) {
      last = Number(row.global_seq);
      const d0 = performance.now();
      entries += decodeBatch(row.record).entries.length;
      decodeMs += performance.now() - d0;
    }
    if (page.length < 1000) break;
  }
  if (entries === 0 && last !== from) throw new Error('decoded nothing');
  return { total: (performance.now() - t0) / 1000, decode: decodeMs / 1000 };
}

// ---------------------------------------------------------------- main

const urls = benchUrls();
progress(`creating database ${BENCH_DB} and migrating`);
await recreateDatabase(urls.admin);
await migrate(urls.bench);
const pool = await createPool(urls.bench, { maximumPoolSize: 4 });

let result: Record<string, unknown>;
try {
  progress(
    `durable: generating ${DURABLE.markets} streams (prefill ${DURABLE.prefill}, ops ${DURABLE.ops} each, seeds ${SEED}..)`,
  );
  const durableMarkets = lanes(DURABLE.markets, DURABLE.users, DURABLE.prefill, DURABLE.ops, SEED);
  const runs: DurableRun[] = [];
  for (const flushIntervalMs of DURABLE.flushIntervals) {
    const run = await durableRun(pool, durableMarkets, flushIntervalMs);
    runs.push(run);
    progress(
      `durable flushIntervalMs=${flushIntervalMs}: ${round(run.ordersPerS)} orders/s (${run.ops} ops), ` +
        `commit p50 ${round(run.commitP50Ms, 2)} ms p99 ${round(run.commitP99Ms, 2)} ms max ${round(run.commitMaxMs, 1)} ms, ` +
        `${run.flushes} flushes, ${round(run.recordsPerFlush, 1)} records/flush, ` +
        `${round(run.commandsPerRecord, 1)} commands/record, journal ${round(run.journalMbPerS, 1)} MB/s, ` +
        `encoding ${round(run.encodeShare * 100, 1)}% of wall time`,
    );
  }
  const withProjection = await durableRun(pool, durableMarkets, PROJECTION.flushIntervalMs, true);
  const lags = withProjection.lagSamples;
  const settledLag =
    lags.length === 0
      ? 0
      : lags.slice(Math.floor(lags.length / 2)).sort((a, b) => a - b)[
          Math.floor((lags.length - Math.floor(lags.length / 2)) / 2)
        ]!;
  progress(
    `durable with the projector running: ${round(withProjection.ordersPerS)} orders/s; projection lag ` +
      `(records) median of the second half ${settledLag}, max ${Math.max(0, ...lags)}, last ${lags.at(-1) ?? 0}`,
  );
  const memoryRate = await memoryRun(durableMarkets);
  progress(`same streams, in-memory sink (no I/O, no encoding): ${round(memoryRate)} orders/s`);
  const best = runs.reduce((a, b) => (b.ordersPerS > a.ordersPerS ? b : a));
  // cpu_profile_top (issue 21): the durable run with the projector once more, under the CPU profiler.
  const { top: cpuProfileTop } = await profiled(() =>
    durableRun(pool, durableMarkets, PROJECTION.flushIntervalMs, true),
  );

  progress(
    `recovery, one market: generating stream (prefill ${RECOVERY_ONE.prefill}, ops ${RECOVERY_ONE.ops}, seed ${SEED + 500})`,
  );
  const one = await recoveryRun(
    pool,
    lanes(1, RECOVERY_ONE.users, RECOVERY_ONE.prefill, RECOVERY_ONE.ops, SEED + 500),
    RECOVERY_ONE.users,
    0,
    RECOVERY_ONE.budgetMs,
    RECOVERY_ONE.flushIntervalMs,
    'recovery 1 market',
  );
  const perS = one.commands / one.seconds;

  progress(
    `projection: catching up the one-market journal from an empty projection (budget ${PROJECTION.budgetMs} ms)`,
  );
  const catchUp = await projectionCatchUp(pool, PROJECTION.budgetMs);
  progress(
    `projection: ${catchUp.commands} commands in ${round(catchUp.seconds, 1)} s = ${round(catchUp.ordersPerS)} orders/s`,
  );
  const extrapolated1m = 1_000_000 / perS;

  progress(`recovery, ${RECOVERY_MANY.markets} markets: generating streams`);
  const many = await recoveryRun(
    pool,
    lanes(RECOVERY_MANY.markets, RECOVERY_MANY.users, RECOVERY_MANY.prefill, RECOVERY_MANY.ops, SEED + 1000),
    RECOVERY_MANY.users,
    RECOVERY_MANY.ops - RECOVERY_MANY.after,
    Infinity,
    RECOVERY_MANY.flushIntervalMs,
    `recovery ${RECOVERY_MANY.markets} markets`,
  );

  const measured1m = one.commands >= 1_000_000;
  result = {
    durable_orders_per_s: round(best.ordersPerS),
    cpu_profile_top: cpuProfileTop,
    commit_p50_ms: round(best.commitP50Ms, 2),
    commit_p99_ms: round(best.commitP99Ms, 2),
    projection_orders_per_s: round(catchUp.ordersPerS),
    projection_lag_records: settledLag,
    projection_lag_records_max: Math.max(0, ...lags),
    projection_catch_up_commands: catchUp.commands,
    durable_with_projector_orders_per_s: round(withProjection.ordersPerS),
    target_projection_orders_per_s: TARGET_PROJECTION,
    target_projection_met: catchUp.ordersPerS >= TARGET_PROJECTION,
    recovery_1m_s: measured1m ? round(one.seconds, 2) : null,
    recovery_1m_s_extrapolated: round(extrapolated1m, 2),
    recovery_commands: one.commands,
    recovery_s: round(one.seconds, 2),
    recovery_commands_per_s: round(perS),
    recovery_records: one.records,
    recovery_read_decode_s: round(one.readDecodeS, 2),
    recovery_decode_s: round(one.decodeS, 2),
    recovery_journal_commands_per_s: round(one.journalRate),
    recovery_100_markets_s: round(many.seconds, 3),
    recovery_100_markets_commands: many.commands,
    recovery_100_markets_snapshot_markets: many.snapshotMarkets,
    recovery_verified: one.verified && many.verified,
    durable_best_flush_interval_ms: best.flushIntervalMs,
    durable_runs: runs.map((r) => ({
      flush_interval_ms: r.flushIntervalMs,
      orders_per_s: round(r.ordersPerS),
      commit_p50_ms: round(r.commitP50Ms, 2),
      commit_p99_ms: round(r.commitP99Ms, 2),
      commit_max_ms: round(r.commitMaxMs, 1),
      commits: r.commits,
      flushes: r.flushes,
      records_per_flush: round(r.recordsPerFlush, 1),
      commands_per_record: round(r.commandsPerRecord, 1),
      journal_mb_per_s: round(r.journalMbPerS, 1),
      encode_share: round(r.encodeShare, 3),
    })),
    memory_sink_orders_per_s: round(memoryRate),
    durable_markets: DURABLE.markets,
    durable_ops: best.ops,
    target_durable_orders_per_s: TARGET_DURABLE,
    target_durable_met: best.ordersPerS >= TARGET_DURABLE,
    target_recovery_1m_s: TARGET_RECOVERY_S,
    target_recovery_met: (measured1m ? one.seconds : extrapolated1m) <= TARGET_RECOVERY_S,
    target_recovery_extrapolated: !measured1m,
    max_records: 1_000,
    batch_size: BATCH_SIZE,
    seed: SEED,
    node: process.version,
    cpus: cpus().length,
    load_avg: { before: loadBefore.map((x) => round(x, 2)), after: loadavg().map((x) => round(x, 2)) },
    runtime_s: round(performance.now() / 1000),
  };
} finally {
  await pool.end();
  await dropDatabase(urls.admin);
}
progress('done');
process.stdout.write(`${JSON.stringify(result)}\n`);

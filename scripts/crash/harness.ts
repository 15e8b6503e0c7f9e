import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { createPool, sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import {
  LEDGER_JOURNAL_ID,
  type BatchEntry,
  type BatchOutput,
  type CommandResult,
  type JournalBatch,
  type JournalCommand,
} from '../../src/actors/market/types.ts';
import { decodeBatch } from '../../src/persistence/journalCodec.ts';
import { recover } from '../../src/persistence/recovery.ts';
import { actualLocks, expectedLocks } from '../../test/support/markets.ts';
import {
  buildExchange,
  CRASH_MARKETS,
  CRASH_USERS,
  random,
  type AckLine,
  type CrashExchange,
} from './exchange.ts';

/**
 * The crash test (issue 5 §5, DESIGN.md principle 4): per run, a fresh database; the exchange
 * (scripts/crash-child.ts) runs under load and is killed with SIGKILL at a random moment, started
 * again on the same database (recovering from the crash) and killed again; then this process checks
 * the journal against everything the child acknowledged, and the recovered exchange against the
 * journal.
 *
 * Checks, each discrepancy counted in `mismatches` (an acknowledged command missing from the
 * journal counts in `lost`):
 *  - every acknowledged command is in the journal under its market and seq, ok, with the same kind,
 *    order id, event types and fills;
 *  - re-executing the journal's commands in global order through a fresh supervisor (independently
 *    of recovery's replay) gives exactly the journaled results and postings, entry by entry, and the
 *    same books, market states and ledger as recover() on the same journal: nothing in the
 *    recovered state came from outside the journal;
 *  - the recovered ledger's invariants hold, and each user's locked funds are exactly what their
 *    open orders need.
 */

const childScript = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'crash-child.ts');

export interface CrashTestOptions {
  /** Connection string of a database from which databases can be created (e.g. `postgres`). */
  readonly adminUrl: string;
  readonly runs?: number;
  readonly seed?: number;
  /** Kill this long (ms, uniformly random in the range) after the child reported ready. */
  readonly killAfterMs?: readonly [number, number];
  /** Lives per run: the child is started this many times on the run's database (≥ 2). */
  readonly lives?: number;
  readonly log?: (message: string) => void;
}

export interface CrashTestSummary {
  /** The seed of the kill points and loads (CrashTestOptions.seed reproduces the same choices). */
  readonly seed: number;
  readonly runs: number;
  readonly acked: number;
  readonly lost: number;
  readonly mismatches: number;
  /** Journal entries (market commands and credits) over all runs. */
  readonly journaled: number;
  readonly killPointsMs: readonly number[];
  /** What went wrong, at most a few lines per run. */
  readonly problems: readonly string[];
}

export async function runCrashTest(options: CrashTestOptions): Promise<CrashTestSummary> {
  const runs = options.runs ?? 3;
  const lives = options.lives ?? 2;
  const [minKill, maxKill] = options.killAfterMs ?? [300, 1_500];
  const seed = options.seed ?? randomBytes(4).readUInt32LE();
  const log = options.log ?? (() => undefined);
  const rand = random(seed);
  log(`crash test: seed ${seed}, ${runs} runs of ${lives} lives`);

  let acked = 0;
  let lost = 0;
  let mismatches = 0;
  let journaled = 0;
  const killPointsMs: number[] = [];
  const problems: string[] = [];
  for (let run = 1; run <= runs; run++) {
    const database = await createDatabase(options.adminUrl, `crash_${run}`);
    try {
      const acks: AckLine[] = [];
      for (let life = 1; life <= lives; life++) {
        const killAfter = minKill + Math.floor(rand() * (maxKill - minKill + 1));
        killPointsMs.push(killAfter);
        const lifeSeed = Math.floor(rand() * 2 ** 32);
        const result = await crashOnce(database.url, lifeSeed, killAfter);
        acks.push(...result.acks);
        log(
          `run ${run} life ${life}: killed ${killAfter} ms after ready ` +
            `(recovered ${result.recoveredEntries} entries), ${result.acks.length} acks`,
        );
      }
      const verdict = await verify(database.url, acks);
      acked += acks.length;
      lost += verdict.lost;
      mismatches += verdict.mismatches;
      journaled += verdict.journaled;
      problems.push(...verdict.problems.slice(0, 10).map((p) => `run ${run}: ${p}`));
      log(
        `run ${run}: ${acks.length} acked, ${verdict.journaled} journaled entries, ` +
          `${verdict.lost} lost, ${verdict.mismatches} mismatches`,
      );
    } finally {
      await database.drop();
    }
  }
  return { seed, runs, acked, lost, mismatches, journaled, killPointsMs, problems };
}

interface Life {
  readonly acks: AckLine[];
  readonly recoveredEntries: number;
}

const ReadyLineSchema = z.object({ type: z.literal('ready'), recoveredEntries: z.number() });
const AckLineSchema = z.object({
  type: z.literal('ack'),
  market: z.string(),
  seq: z.number(),
  orderId: z.number().nullable(),
  kind: z.string(),
  events: z.array(z.string()),
  fills: z.array(z.object({ maker: z.number(), taker: z.number(), qty: z.number(), price: z.number() })),
});
const LineSchema = z.discriminatedUnion('type', [ReadyLineSchema, AckLineSchema]);

/** Starts the child, kills it (SIGKILL) `killAfter` ms after it is ready, returns what it acked. */
function crashOnce(
  databaseUrl: string,
  seed: number,
  killAfter: number,
  bootTimeoutMs = 30_000,
): Promise<Life> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', childScript], {
      env: { ...process.env, DATABASE_URL: databaseUrl, CRASH_SEED: String(seed), LOG_LEVEL: 'silent' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let ready: number | undefined;
    let killed = false;
    const kill = () => {
      killed = true;
      child.kill('SIGKILL');
    };
    const bootTimer = setTimeout(kill, bootTimeoutMs);
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      stdout += chunk;
      if (ready === undefined && stdout.includes('"type":"ready"')) {
        ready = Date.now();
        clearTimeout(bootTimer);
        setTimeout(kill, killAfter);
      }
    });
    child.stderr.on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-4_000);
    });
    child.once('error', (error) => {
      clearTimeout(bootTimer);
      reject(error);
    });
    // 'close': the process has exited and its stdout was read to the end.
    child.once('close', (code, signal) => {
      clearTimeout(bootTimer);
      if (!killed || signal !== 'SIGKILL' || ready === undefined) {
        const why =
          ready === undefined ? 'before it was ready' : `on its own (code ${code}, signal ${signal})`;
        reject(new Error(`the crash child ended ${why}:\n${stderr}`));
        return;
      }
      // Only complete lines: a line cut by the kill was never fully written.
      const lines = stdout.split('\n').slice(0, -1);
      const acks: AckLine[] = [];
      let recoveredEntries = 0;
      for (const text of lines) {
        const line = LineSchema.parse(JSON.parse(text));
        if (line.type === 'ack') acks.push(line);
        else recoveredEntries = line.recoveredEntries;
      }
      resolve({ acks, recoveredEntries });
    });
  });
}

interface Verdict {
  readonly lost: number;
  readonly mismatches: number;
  readonly journaled: number;
  readonly problems: string[];
}

const JournalRow = z.object({ global_seq: z.string(), record: z.instanceof(Buffer) });

export async function verify(databaseUrl: string, acks: readonly AckLine[]): Promise<Verdict> {
  const pool = await createPool(databaseUrl, { maximumPoolSize: 2 });
  try {
    const rows = await pool.any(
      sql.type(
        JournalRow,
      )`SELECT global_seq::text AS global_seq, record FROM journal ORDER BY journal.global_seq`,
    );
    const batches = rows.map((r) => decodeBatch(r.record));
    const problems: string[] = [];
    let lost = 0;
    let mismatches = 0;
    const mismatch = (message: string) => {
      mismatches++;
      problems.push(message);
    };

    // 1. Every acknowledged command is journaled with the same outcome.
    const entries = new Map<string, BatchEntry<JournalCommand>>();
    for (const batch of batches)
      for (const entry of batch.entries) entries.set(`${batch.symbol}#${entry.seq}`, entry);
    const seen = new Set<string>();
    for (const ack of acks) {
      const key = `${ack.market}#${ack.seq}`;
      if (seen.has(key)) mismatch(`${key} was acknowledged twice`);
      seen.add(key);
      const entry = entries.get(key);
      if (entry === undefined) {
        lost++;
        problems.push(`${key} (${ack.kind}) was acknowledged but is not in the journal`);
        continue;
      }
      const journaled = ackOf(ack.market, entry);
      if (!isDeepStrictEqual(journaled, ack)) {
        mismatch(`${key}: acknowledged ${JSON.stringify(ack)}, journaled ${JSON.stringify(journaled)}`);
      }
    }

    // 2. The journal re-executed from scratch gives the journaled results, and recovery agrees.
    const recovered = buildExchange({ commit: () => undefined });
    await recover(pool, recovered);
    const reexecuted = await reexecute(batches, mismatch);
    const difference = firstDifference(stateOf(recovered), stateOf(reexecuted));
    if (difference !== undefined) {
      mismatch(`the recovered exchange differs from the journal re-executed at ${difference}`);
    }

    // 3. Ledger invariants, and locked funds are what the open orders need.
    for (const violation of recovered.ledger.checkInvariants()) mismatch(`ledger: ${violation}`);
    const expected = Object.fromEntries(expectedLocks(recovered.supervisor));
    const actual = Object.fromEntries(actualLocks(recovered.ledger, CRASH_USERS));
    if (!isDeepStrictEqual(plain(expected), plain(actual))) {
      mismatch(
        `locked funds ${JSON.stringify(plain(actual))}, open orders need ${JSON.stringify(plain(expected))}`,
      );
    }
    if (recovered.supervisor.list().some((m) => m.state !== 'active')) mismatch('a market is not active');

    const journaled = batches.reduce((n, b) => n + b.entries.length, 0);
    return { lost, mismatches, journaled, problems };
  } finally {
    await pool.end();
  }
}

/** What the child would have printed for this journal entry. */
function ackOf(
  market: string,
  entry: BatchEntry<JournalCommand>,
): AckLine | { readonly refused: CommandResult } {
  const { result } = entry;
  if (!result.ok) return { refused: result };
  return {
    type: 'ack',
    market,
    seq: result.seq,
    orderId: result.orderId ?? null,
    kind: entry.command.kind,
    events: result.events.map((e) => e.type),
    fills: result.events.flatMap((e) =>
      e.type === 'fill' ? [{ maker: e.makerOrderId, taker: e.takerOrderId, qty: e.qty, price: e.price }] : [],
    ),
  };
}

/**
 * Runs the journal's commands again, in global order, through a fresh supervisor and ledger (real
 * matching and funds checks, unlike recovery's replay): each batch's commands are submitted
 * together and answered before the next batch goes. Reports every entry whose result or postings
 * differ from the journal's.
 */
async function reexecute(
  batches: readonly JournalBatch[],
  mismatch: (message: string) => void,
): Promise<CrashExchange> {
  const produced: BatchOutput[] = [];
  const exchange = buildExchange({ commit: (batch) => void produced.push(batch as BatchOutput) });
  const { supervisor } = exchange;
  const journaledEntries = new Map<string, BatchEntry<JournalCommand>[]>();
  for (const batch of batches) {
    const list = journaledEntries.get(batch.symbol) ?? [];
    list.push(...batch.entries);
    journaledEntries.set(batch.symbol, list);
    if (batch.marketId === LEDGER_JOURNAL_ID) {
      for (const entry of batch.entries) {
        const { command } = entry;
        if (command.kind !== 'deposit') {
          mismatch(`a ${command.kind} command in a @ledger record`);
          continue;
        }
        supervisor.resumeLedgerSeq(entry.seq - 1);
        const result = await supervisor.credit(command.userId, command.asset, command.amount, entry.ts);
        if (!isDeepStrictEqual(plain(result), plain(entry.result))) {
          mismatch(`@ledger#${entry.seq}: re-executed ${JSON.stringify(plain(result))}`);
        }
      }
      continue;
    }
    await Promise.all(
      batch.entries.map(({ command, ts }) => {
        if (command.kind === 'deposit') throw new Error(`a deposit in a ${batch.symbol} record`);
        return supervisor.submit(batch.symbol, command, ts);
      }),
    );
  }
  await supervisor.idle();
  for (const { symbol } of CRASH_MARKETS) {
    const journaled = journaledEntries.get(symbol) ?? [];
    const again = produced.filter((b) => b.symbol === symbol).flatMap((b) => b.entries);
    if (again.length !== journaled.length) {
      mismatch(`${symbol}: ${journaled.length} journaled entries, ${again.length} re-executed`);
    }
    for (let i = 0; i < Math.min(again.length, journaled.length); i++) {
      if (!isDeepStrictEqual(plain(again[i]), plain(journaled[i]))) {
        mismatch(`${symbol}#${journaled[i]!.seq}: re-executed ${JSON.stringify(plain(again[i]))}`);
        break;
      }
    }
  }
  return exchange;
}

/** Everything recovery must reproduce (open-order terms by order id: their map order is not state). */
function stateOf({ ledger, supervisor }: CrashExchange): unknown {
  return plain({
    ledger: ledger.snapshot(),
    markets: CRASH_MARKETS.map(({ symbol }) => {
      const actor = supervisor.actor(symbol)!;
      return {
        symbol,
        market: actor.currentState(),
        terms: [...actor.openOrderTerms].sort(([a], [b]) => a - b),
      };
    }),
  });
}

/** The path of the first place where two JSON-shaped values differ, with both values there. */
function firstDifference(a: unknown, b: unknown, at = '$'): string | undefined {
  if (isDeepStrictEqual(a, b)) return undefined;
  if (typeof a === 'object' && typeof b === 'object' && a !== null && b !== null) {
    const left = a as Record<string, unknown>;
    const right = b as Record<string, unknown>;
    for (const key of new Set([...Object.keys(left), ...Object.keys(right)])) {
      const found = firstDifference(left[key], right[key], `${at}.${key}`);
      if (found !== undefined) return found;
    }
  }
  const show = (v: unknown) => (v === undefined ? 'undefined' : JSON.stringify(v).slice(0, 200));
  return `${at}: ${show(a)} vs ${show(b)}`;
}

/** A JSON-shaped copy: bigints as strings, undefined fields dropped (as the journal decodes them). */
function plain(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v)));
}

interface CrashDatabase {
  readonly url: string;
  drop(): Promise<void>;
}

/** An empty database (the child applies the migrations, as the exchange does on start). */
async function createDatabase(adminUrl: string, label: string): Promise<CrashDatabase> {
  const name = `exchange_t_${label}_${randomBytes(4).toString('hex')}`;
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  await withAdmin(adminUrl, (pool) => pool.query(sql.unsafe`CREATE DATABASE ${sql.identifier([name])}`));
  return {
    url: url.toString(),
    drop: () =>
      withAdmin(adminUrl, async (pool) => {
        await pool.query(sql.unsafe`DROP DATABASE IF EXISTS ${sql.identifier([name])} WITH (FORCE)`);
      }),
  };
}

async function withAdmin<T>(adminUrl: string, run: (pool: DatabasePool) => Promise<T>): Promise<T> {
  const pool = await createPool(adminUrl, { maximumPoolSize: 1 });
  try {
    return await run(pool);
  } finally {
    await pool.end();
  }
}

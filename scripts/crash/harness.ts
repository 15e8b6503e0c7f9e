import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { createPool, sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { Authenticator } from '../../src/transport/auth.ts';
import { AckedOrders, checkOrdersOverApi } from './apiCheck.ts';
import { startLife, type Life } from './child.ts';
import { crashUsers, random, type AckLine } from './exchange.ts';
import { verifyJournal } from './journalCheck.ts';

/**
 * The crash test (issue 5 §5, issue 12 §1, DESIGN.md principle 4). Per run, a fresh database; the
 * real exchange (scripts/crash-child.ts, src/app.ts) runs under load and is killed with SIGKILL,
 * `lives` times, each time at a moment chosen to stress recovery (KillMode), then started once more
 * without load. After every restart, as soon as the gateway listens and before the new life's load
 * starts, every order acknowledged so far is looked up through the public API (GET /api/v1/orders
 * of its user: open ones from memory, closed ones from the projection) and must be listed in its
 * last acknowledged state or a later one (scripts/crash/apiCheck.ts). At the end of the run the
 * journal is checked against every acknowledgement and against recovery
 * (scripts/crash/journalCheck.ts).
 */

/**
 * Where a life is killed (after `killAfterMs` of load at least):
 *  - `random`: at a random instant of the window;
 *  - `during_snapshot`: 0–3 ms after a periodic snapshot began (snapshots every 250 ms);
 *  - `after_snapshot`: as soon as a periodic snapshot has committed;
 *  - `projector_behind`: at a random instant, the projector having had no tick since the start (its
 *    interval set to an hour), so history trails the journal by everything the life committed.
 */
export const KILL_MODES = ['random', 'during_snapshot', 'after_snapshot', 'projector_behind'] as const;
export type KillMode = (typeof KILL_MODES)[number];

export interface CrashTestOptions {
  /** Connection string of a database from which databases can be created (e.g. `postgres`). */
  readonly adminUrl: string;
  readonly runs?: number;
  readonly seed?: number;
  /** Lives under load per run (each killed), before the last life that only checks (≥ 1). */
  readonly lives?: number;
  /** The kill modes of a run's lives, in turn (default: every mode). */
  readonly modes?: readonly KillMode[];
  /** Users of the load (u1…uN). */
  readonly users?: number;
  /** Load before a life may be killed, ms: a uniformly random point of the window. */
  readonly killAfterMs?: readonly [number, number];
  /** Leave each run's database in place (its name is logged) to look into a failure. */
  readonly keepDatabases?: boolean;
  readonly log?: (message: string) => void;
}

export interface KillRecord {
  readonly run: number;
  readonly life: number;
  readonly mode: KillMode;
  /** Load the life ran before the kill, ms. */
  readonly loadMs: number;
  /** What the kill met: the snapshot's fate, or how far history trailed the journal. */
  readonly note: string;
}

export interface CrashTestSummary {
  /** The seed of the kill points and loads (CrashTestOptions.seed reproduces the same choices). */
  readonly seed: number;
  readonly runs: number;
  readonly acked: number;
  /** Acknowledged commands missing from the journal. */
  readonly lost: number;
  /** The journal disagreeing with an acknowledgement, or recovery with the journal. */
  readonly mismatches: number;
  /** Journal entries (market commands and credits) over all runs. */
  readonly journaled: number;
  /** Acknowledged orders looked up through GET /orders, over all restarts. */
  readonly apiChecked: number;
  /** Of those: not listed, or listed in an earlier state than acknowledged. */
  readonly missing: number;
  /** Of those: not listed because the user's closed orders overflow the longest page. */
  readonly truncated: number;
  readonly kills: readonly KillRecord[];
  /** What went wrong, at most a few lines per run. */
  readonly problems: readonly string[];
}

export async function runCrashTest(options: CrashTestOptions): Promise<CrashTestSummary> {
  const runs = options.runs ?? 3;
  const lives = options.lives ?? KILL_MODES.length;
  const modes = options.modes ?? KILL_MODES;
  const users = crashUsers(options.users ?? 24);
  const [minKill, maxKill] = options.killAfterMs ?? [300, 1_500];
  const seed = options.seed ?? randomBytes(4).readUInt32LE();
  const log = options.log ?? (() => undefined);
  if (lives < 1 || modes.length === 0) throw new RangeError('at least one life and one kill mode');
  const rand = random(seed);
  log(`crash test: seed ${seed}, ${runs} runs of ${lives} killed lives (${modes.join(', ')}) and a check`);

  const totals = { acked: 0, lost: 0, mismatches: 0, journaled: 0, apiChecked: 0, missing: 0, truncated: 0 };
  const kills: KillRecord[] = [];
  const problems: string[] = [];
  for (let run = 1; run <= runs; run++) {
    const database = await createDatabase(options.adminUrl, `crash_${run}`);
    const pool = await createPool(database.url, { maximumPoolSize: 1 });
    const secret = randomBytes(24).toString('hex');
    const auth = new Authenticator(secret);
    const runProblems: string[] = [];
    try {
      const acks: AckLine[] = [];
      const orders = new AckedOrders();
      for (let life = 1; life <= lives + 1; life++) {
        const mode = life <= lives ? modes[(life - 1) % modes.length]! : undefined;
        const child = startLife({
          DATABASE_URL: database.url,
          CRASH_SEED: String(Math.floor(rand() * 2 ** 32)),
          CRASH_USERS: String(users.length),
          CRASH_LOAD: mode === undefined ? 'off' : 'on',
          CRASH_SNAPSHOT_MS: mode === 'during_snapshot' || mode === 'after_snapshot' ? '250' : '1000',
          CRASH_PROJECTOR_MS: mode === 'projector_behind' ? '3600000' : '50',
          JWT_SECRET: secret,
          LOG_LEVEL: 'silent',
        });
        const bootStart = Date.now();
        const ready = await child.ready;
        const bootMs = Date.now() - bootStart;
        const checkStart = Date.now();
        let checked = '';
        if (life > 1) {
          const verdict = await checkOrdersOverApi({
            baseUrl: `http://127.0.0.1:${ready.port}`,
            markets: ready.markets,
            orders,
            token: (userId) => auth.mint(userId, ['trader']),
          });
          totals.apiChecked += verdict.checked;
          totals.missing += verdict.missing;
          totals.truncated += verdict.truncated;
          runProblems.push(...verdict.problems.map((p) => `after restart ${life - 1}: ${p}`));
          checked =
            `, ${verdict.checked} acknowledged orders looked up over HTTP ` +
            `(${verdict.missing} missing, ${verdict.truncated} beyond the page) in ${Date.now() - checkStart} ms`;
        }
        child.go();
        const loadStart = Date.now();
        const recovered =
          `up in ${bootMs} ms, recovered ${ready.recoveredRecords} records after the snapshot at ` +
          `global_seq ${ready.snapshotGlobalSeq}`;
        if (mode === undefined) {
          await child.kill();
          log(`run ${run} check life: ${recovered}${checked}`);
          continue;
        }
        const killAfter = minKill + Math.floor(rand() * (maxKill - minKill + 1));
        const { acks: lifeAcks, note: fate } = await killAt(mode, killAfter, child, pool);
        const loadMs = Date.now() - loadStart;
        kills.push({ run, life, mode, loadMs, note: fate });
        for (const ack of lifeAcks) {
          acks.push(ack);
          orders.apply(ack);
        }
        log(
          `run ${run} life ${life}: ${recovered}${checked}; ${lifeAcks.length} acks, ` +
            `killed (${mode}) after ${loadMs} ms: ${fate}`,
        );
      }
      await pool.end();
      const verdict = await verifyJournal(database.url, acks, users);
      totals.acked += acks.length;
      totals.lost += verdict.lost;
      totals.mismatches += verdict.mismatches;
      totals.journaled += verdict.journaled;
      runProblems.push(...verdict.problems);
      log(
        `run ${run}: ${acks.length} acked (${orders.size} orders), ${verdict.journaled} journaled entries, ` +
          `${verdict.lost} lost, ${verdict.mismatches} mismatches`,
      );
    } finally {
      await pool.end().catch(() => undefined);
      if (options.keepDatabases === true) log(`run ${run}: database kept: ${database.url}`);
      else await database.drop();
    }
    problems.push(...runProblems.slice(0, 10).map((p) => `run ${run}: ${p}`));
  }
  return { seed, runs, ...totals, kills, problems };
}

const Lag = z.object({ journal: z.string(), projected: z.string() });
const LatestSnapshot = z.object({ global_seq: z.string() });

/**
 * Kills the life at the kill point of `mode` (the life runs its load meanwhile; waiting out a
 * window of time is the point here) and says what the kill met. The snapshot kills are done by the
 * child itself once armed (scripts/crash-child.ts): this process, busy reading acknowledgements,
 * would see the moment too late.
 */
async function killAt(
  mode: KillMode,
  killAfter: number,
  life: Life,
  pool: DatabasePool,
): Promise<{ acks: AckLine[]; note: string }> {
  const SNAPSHOT_TIMEOUT_MS = 10_000;
  const latestSnapshot = async () =>
    Number(
      (
        await pool.one(
          sql.type(
            LatestSnapshot,
          )`SELECT coalesce(max(global_seq), 0)::text AS global_seq FROM ledger_snapshots`,
        )
      ).global_seq,
    );
  await sleep(killAfter);
  switch (mode) {
    case 'random': {
      const { acks } = await life.kill();
      return { acks, note: 'at random' };
    }
    case 'during_snapshot':
    case 'after_snapshot': {
      const before = await latestSnapshot();
      life.arm(mode === 'during_snapshot' ? 'kill-in-snapshot' : 'kill-after-snapshot');
      const { acks, self } = await life.kill(SNAPSHOT_TIMEOUT_MS);
      const latest = await latestSnapshot();
      if (!self) return { acks, note: 'no snapshot within 10 s: killed at random' };
      const committed = latest > before;
      return {
        acks,
        note:
          mode === 'after_snapshot'
            ? `right after the snapshot at global_seq ${latest}`
            : committed
              ? `during a snapshot, which had committed (global_seq ${latest})`
              : `during a snapshot, before it committed (the latest stays at global_seq ${latest})`,
      };
    }
    case 'projector_behind': {
      const { acks } = await life.kill();
      const lag = await pool.one(sql.type(Lag)`
        SELECT (SELECT coalesce(max(global_seq), 0) FROM journal)::text AS journal,
          coalesce((SELECT global_seq FROM projection_cursors WHERE projection = 'relational'), 0)::text
            AS projected`);
      return { acks, note: `history ${Number(lag.journal) - Number(lag.projected)} journal records behind` };
    }
  }
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

/**
 * `npm run bench:lease-failover`: how long a market is without an owner after its owner is killed,
 * with the pieces of issue 22 that exist (src/cluster/lease.ts, epochs.ts; docs/scale-out.md). Per
 * round: two lease holders in processes of their own (test/support/leaseHolder.ts) contend for a
 * fresh market; once one holds it and has written, it gets SIGKILL at a random moment of its
 * renewal period; timed from the kill to the survivor's lease (`takeover`) and to its first fenced
 * write committed in Postgres (`failover`: the analogue of the first accepted order on the new
 * owner, without the market's recovery, which the engine role will add). Not the issue's
 * bench:cluster (no engine or gateway role yet, so no orders/s).
 *
 * Real NATS (NATS_URL) and Postgres (a database of its own, dropped at the end). Progress on
 * stderr; the last stdout line is one JSON object.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { connect } from 'nats';
import { sql } from 'slonik';
import { migrate } from '../src/persistence/migrate.ts';
import { createDatabasePool } from '../src/persistence/pool.ts';
import { benchAdminUrl, withBenchAdmin } from './lib/database.ts';
import { loadAvg, machineCpu, machineDelta } from './lifecycle/common.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const natsUrl = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 10);
const COMMAND = 'bench:lease-failover';

interface Holder {
  readonly name: string;
  readonly child: ChildProcess;
  /** performance.now() of each event's arrival, by kind (first one only). */
  readonly firstAt: Map<string, number>;
  readonly exited: Promise<unknown>;
}

function startHolder(name: string, marketId: string, databaseUrl: string, bucket: string): Holder {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/leaseHolder.ts'], {
    cwd: repoRoot,
    env: {
      ...process.env,
      NATS_URL: natsUrl,
      DATABASE_URL: databaseUrl,
      MARKET_ID: marketId,
      HOLDER: name,
      LEASE_BUCKET: bucket,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const firstAt = new Map<string, number>();
  let partial = '';
  child.stdout.on('data', (chunk: Buffer) => {
    const now = performance.now();
    partial += chunk.toString('utf8');
    const lines = partial.split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      if (line.trim() === '') continue;
      const event = JSON.parse(line) as { event: string; committed?: boolean };
      const kind =
        event.event === 'write' ? (event.committed === true ? 'committed' : 'refused') : event.event;
      if (!firstAt.has(kind)) firstAt.set(kind, now);
    }
  });
  return { name, child, firstAt, exited: new Promise((resolve) => child.once('exit', resolve)) };
}

async function until<T>(check: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5)); // polling interval, bounded by the deadline
  }
}

function pct(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const loadBefore = loadAvg();
const machineBefore = machineCpu();
const dbName = `exchange_bench_lease_${randomBytes(3).toString('hex')}`;
await withBenchAdmin(COMMAND, (admin) =>
  admin.query(sql.unsafe`CREATE DATABASE ${sql.identifier([dbName])}`),
);
const dbUrl = new URL(benchAdminUrl(COMMAND));
dbUrl.pathname = `/${dbName}`;
const databaseUrl = dbUrl.toString();
const bucket = `bench_leases_${randomBytes(3).toString('hex')}`;
const takeovers: number[] = [];
const failovers: number[] = [];
let staleCommits = 0;
try {
  await migrate(databaseUrl);
  const pool = await createDatabasePool(databaseUrl, 2);
  await pool.query(sql.unsafe`
    CREATE TABLE fence_probe (id bigserial PRIMARY KEY, market_id text NOT NULL, epoch int8 NOT NULL, holder text NOT NULL, n int NOT NULL)`);
  for (let round = 0; round < ROUNDS; round++) {
    const market = `bench-${round}-${randomBytes(3).toString('hex')}`;
    const holders = [
      startHolder('a', market, databaseUrl, bucket),
      startHolder('b', market, databaseUrl, bucket),
    ];
    try {
      const owner = await until(
        () => holders.find((h) => h.firstAt.has('committed')),
        30_000,
        'a first owner',
      );
      const survivor = holders.find((h) => h !== owner)!;
      // A random moment of the owner's renewal period, so the kill does not always follow a renewal.
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 1_000));
      const killedAt = performance.now();
      owner.child.kill('SIGKILL');
      const held = await until(() => survivor.firstAt.get('held'), 15_000, 'the takeover');
      const committed = await until(
        () => survivor.firstAt.get('committed'),
        15_000,
        'the first write of the new owner',
      );
      takeovers.push(held - killedAt);
      failovers.push(committed - killedAt);
      process.stderr.write(
        `round ${round + 1}/${ROUNDS}: takeover ${Math.round(held - killedAt)} ms, first write ${Math.round(committed - killedAt)} ms\n`,
      );
    } finally {
      for (const h of holders) h.child.kill('SIGKILL');
      await Promise.all(holders.map((h) => h.exited));
    }
    // The fence: no row of an older epoch after the first row of a newer one, per market.
    staleCommits += Number(
      await pool.oneFirst(sql.unsafe`
        SELECT count(*)::int FROM fence_probe p
        WHERE p.market_id = ${market}
          AND p.id > (SELECT min(id) FROM fence_probe q WHERE q.market_id = p.market_id AND q.epoch > p.epoch)`),
    );
  }
  await pool.end();
} finally {
  const nc = await connect({ servers: natsUrl });
  await nc
    .jetstream()
    .views.kv(bucket)
    .then((kv) => kv.destroy())
    .catch(() => undefined);
  await nc.close();
  await withBenchAdmin(COMMAND, (admin) =>
    admin.query(sql.unsafe`DROP DATABASE IF EXISTS ${sql.identifier([dbName])} WITH (FORCE)`),
  );
}

takeovers.sort((a, b) => a - b);
failovers.sort((a, b) => a - b);
const machine = machineDelta(machineBefore, machineCpu());
process.stdout.write(
  `${JSON.stringify({
    failover_p50_ms: Math.round(pct(failovers, 50)),
    failover_p99_ms: Math.round(pct(failovers, 99)),
    takeover_p50_ms: Math.round(pct(takeovers, 50)),
    takeover_p99_ms: Math.round(pct(takeovers, 99)),
    stale_commits: staleCommits,
    rounds: ROUNDS,
    lease_ttl_ms: 3_000,
    lease_renew_ms: 1_000,
    failover_target_p99_ms: 5_000,
    failover_target_met: pct(failovers, 99) <= 5_000,
    steal_pct: +machine.stealPct.toFixed(2),
    load_avg: { before: loadBefore, after: loadAvg() },
    node: process.version,
  })}\n`,
);

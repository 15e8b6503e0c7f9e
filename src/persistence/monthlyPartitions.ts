import { sql, type CommonQueryMethods } from 'slonik';
import { z } from 'zod';

/*
 * Monthly range partitions of a time-partitioned table (equity_points, trade_rollups,
 * trend_metrics, ...), made ahead by the exchange and dropped past retention: pg_partman is not on
 * these machines and the design does not need it.
 *
 * Several sessions make partitions (the recorder, a consumer, a retention job, a second process):
 * `CREATE TABLE IF NOT EXISTS ... PARTITION OF` is not safe against a concurrent creator of the same
 * name (one of them fails with "already exists" or a pg_type unique violation), so creation takes a
 * transaction-scoped advisory lock per table first. The common case, every partition there, takes
 * no lock: one catalog read.
 *
 * A table may have a DEFAULT partition (`fallback`): a row of a month not made yet lands there
 * instead of failing its insert (the projector's page must not fail on a clock). Making a month
 * then moves that month's rows out of it (a partition cannot be made while the default holds rows
 * of its range), with the table locked, in the transaction that makes it; ensureFallbackMonths
 * makes every month the default holds rows of. Dropping never touches the default.
 */

/**
 * Monthly partitions of one parent table. A partition is `${table}_YYYYMM` unless `name` spells it
 * otherwise; then `prefix` is what every one of its names starts with (fixed width after it, so the
 * names sort as their months do).
 */
export interface MonthlyPartitioned {
  readonly table: string;
  readonly name?: (month: Date) => string;
  readonly prefix?: string;
  /** The table's DEFAULT partition and its partition key column (see above). */
  readonly fallback?: { readonly name: string; readonly column: string };
  /**
   * The tables its foreign keys reference, in the order its writers lock them before it: making or
   * dropping a partition adds or removes triggers on them (a SHARE ROW EXCLUSIVE lock), so they are
   * locked first, then the table, and a writer holding one of them while waiting for the table
   * cannot deadlock with the creator.
   */
  readonly lockFirst?: readonly string[];
}

/** Locks `lockFirst` then the table itself (ACCESS EXCLUSIVE, its partitions with it), when needed. */
async function lockForDdl(tx: CommonQueryMethods, spec: MonthlyPartitioned): Promise<void> {
  if (spec.fallback === undefined && spec.lockFirst === undefined) return;
  for (const referenced of spec.lockFirst ?? [])
    await tx.query(sql.unsafe`LOCK TABLE ${sql.identifier([referenced])} IN SHARE ROW EXCLUSIVE MODE`);
  await tx.query(sql.unsafe`LOCK TABLE ${sql.identifier([spec.table])} IN ACCESS EXCLUSIVE MODE`);
}

/** The UTC month start of `ms`, `add` months on. */
export function monthStart(ms: number, add = 0): Date {
  const d = new Date(ms);
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + add, 1));
}

const yyyymm = (month: Date) =>
  `${month.getUTCFullYear()}${String(month.getUTCMonth() + 1).padStart(2, '0')}`;

function partitionName(spec: MonthlyPartitioned, month: Date): string {
  return spec.name ? spec.name(month) : `${spec.table}_${yyyymm(month)}`;
}

async function childNames(db: CommonQueryMethods, table: string): Promise<readonly string[]> {
  return db.anyFirst(sql.type(z.object({ name: z.string() }))`
    SELECT c.relname AS name FROM pg_inherits i
    JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
    WHERE p.relname = ${table}`);
}

/** The partitions of the months holding `times` exist afterwards (DDL takes no bind parameters: literals of our own dates). */
export async function ensureMonthlyPartitions(
  db: CommonQueryMethods,
  spec: MonthlyPartitioned,
  times: readonly number[],
): Promise<void> {
  const months = new Map<string, Date>();
  for (const t of times) {
    const month = monthStart(t);
    months.set(partitionName(spec, month), month);
  }
  const present = new Set(await childNames(db, spec.table));
  const missing = [...months].filter(([name]) => !present.has(name));
  if (missing.length === 0) return;
  await db.transaction(async (tx) => {
    await tx.query(sql.unsafe`SELECT pg_advisory_xact_lock(hashtext(${'partitions:' + spec.table}))`);
    const { fallback } = spec;
    // The whole table (its partitions with it) before the default is read: no insert routes a row
    // into the default between the move and the partition, and no lock is upgraded later.
    await lockForDdl(tx, spec);
    for (const [name, month] of missing) {
      const to = monthStart(month.getTime(), 1);
      const from = sql.literalValue(month.toISOString());
      const until = sql.literalValue(to.toISOString());
      const parked = fallback !== undefined && (await parkFallbackRows(tx, spec.table, fallback, month, to));
      await tx.query(sql.unsafe`
        CREATE TABLE IF NOT EXISTS ${sql.identifier([name])} PARTITION OF ${sql.identifier([spec.table])}
        FOR VALUES FROM (${from}) TO (${until})`);
      if (parked) {
        await tx.query(
          sql.unsafe`INSERT INTO ${sql.identifier([spec.table])} SELECT * FROM pg_temp.partition_parked`,
        );
        await tx.query(sql.unsafe`DROP TABLE pg_temp.partition_parked`);
      }
    }
  });
}

/**
 * Moves the default partition's rows in [from, until) to a temporary table (pg_temp.partition_parked,
 * the parent's columns in its order), if it has any; whether it had.
 */
async function parkFallbackRows(
  tx: CommonQueryMethods,
  table: string,
  fallback: { readonly name: string; readonly column: string },
  from: Date,
  until: Date,
): Promise<boolean> {
  const column = sql.identifier([fallback.column]);
  const inRange = sql.fragment`${column} >= ${from.toISOString()} AND ${column} < ${until.toISOString()}`;
  const any = await tx.oneFirst(sql.type(z.object({ any: z.boolean() }))`
    SELECT EXISTS (SELECT FROM ${sql.identifier([fallback.name])} WHERE ${inRange}) AS any`);
  if (!any) return false;
  await tx.query(sql.unsafe`
    CREATE TEMPORARY TABLE partition_parked (LIKE ${sql.identifier([table])}) ON COMMIT DROP`);
  await tx.query(sql.unsafe`
    WITH moved AS (DELETE FROM ${sql.identifier([fallback.name])} WHERE ${inRange} RETURNING *)
    INSERT INTO pg_temp.partition_parked SELECT * FROM moved`);
  return true;
}

/**
 * The months the default partition holds rows of get partitions of their own, their rows moved
 * into them; how many months were made. Without a `fallback`, nothing (0).
 */
export async function ensureFallbackMonths(
  db: CommonQueryMethods,
  spec: MonthlyPartitioned,
): Promise<number> {
  const { fallback } = spec;
  if (fallback === undefined) return 0;
  const column = sql.identifier([fallback.column]);
  const months = await db.anyFirst(sql.type(z.object({ month: z.string() }))`
    SELECT DISTINCT (extract(epoch FROM date_trunc('month', ${column} AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')
      * 1000)::int8::text AS month
    FROM ${sql.identifier([fallback.name])}`);
  await ensureMonthlyPartitions(
    db,
    spec,
    months.map((month) => Number(month)),
  );
  return months.length;
}

/** This month's and the next's partitions, made ahead. */
export function ensureMonthsAhead(
  db: CommonQueryMethods,
  spec: MonthlyPartitioned,
  now: number,
): Promise<void> {
  return ensureMonthlyPartitions(db, spec, [monthStart(now).getTime(), monthStart(now, 1).getTime()]);
}

/** Drops the monthly partitions that end at or before the month of `cutoff` starts (whole months only); how many. */
export async function dropMonthlyPartitionsBefore(
  db: CommonQueryMethods,
  spec: MonthlyPartitioned,
  cutoff: number,
): Promise<number> {
  const last = partitionName(spec, monthStart(cutoff, -1));
  const prefix = spec.prefix ?? `${spec.table}_`;
  return db.transaction(async (tx) => {
    await tx.query(sql.unsafe`SELECT pg_advisory_xact_lock(hashtext(${'partitions:' + spec.table}))`);
    let dropped = 0;
    let locked = false;
    for (const name of await childNames(tx, spec.table)) {
      if (!name.startsWith(prefix) || name > last || name === spec.fallback?.name) continue;
      if (!locked) await lockForDdl(tx, spec);
      locked = true;
      await tx.query(sql.unsafe`DROP TABLE IF EXISTS ${sql.identifier([name])}`);
      dropped++;
    }
    return dropped;
  });
}

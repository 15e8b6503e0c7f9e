import { randomBytes } from 'node:crypto';
import { createPool, sql, type DatabasePool } from 'slonik';

/**
 * The admin connection the benchmarks create their own databases with: TEST_DATABASE_ADMIN_URL,
 * else the `postgres` database of DATABASE_URL's server (what `scripts/services.ts` provides).
 */
export function benchAdminUrl(command: string): string {
  const admin = process.env.TEST_DATABASE_ADMIN_URL;
  if (admin !== undefined && admin !== '') return admin;
  const raw = process.env.DATABASE_URL;
  if (raw === undefined || raw === '') {
    throw new Error(
      `DATABASE_URL is not set: run through \`npm run ${command}\` (scripts/services.ts sets it)`,
    );
  }
  const url = new URL(raw);
  url.pathname = '/postgres';
  return url.toString();
}

/** Runs `run` on a one-connection pool of the admin database, closed afterwards. */
export async function withBenchAdmin(
  command: string,
  run: (pool: DatabasePool) => Promise<unknown>,
): Promise<void> {
  const pool = await createPool(benchAdminUrl(command), { maximumPoolSize: 1 });
  try {
    await run(pool);
  } finally {
    await pool.end();
  }
}

/**
 * Creates a database of its own for one benchmark run (`<prefix>_<8 hex>`) and gives its URL on
 * the admin server, with its name (to drop it afterwards).
 */
export async function createBenchDatabase(
  command: string,
  prefix: string,
): Promise<{ readonly name: string; readonly url: URL }> {
  const name = `${prefix}_${randomBytes(4).toString('hex')}`;
  await withBenchAdmin(command, (pool) => pool.query(sql.unsafe`CREATE DATABASE ${sql.identifier([name])}`));
  const url = new URL(benchAdminUrl(command));
  url.pathname = `/${name}`;
  return { name, url };
}

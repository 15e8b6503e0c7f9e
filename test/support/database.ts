import { randomBytes } from 'node:crypto';
import { createPool, sql, type DatabasePool } from 'slonik';
import { afterAll, beforeAll } from 'vitest';
import { migrate } from '../../src/persistence/migrate.ts';

/**
 * A fresh, migrated database of its own for one test file, created through the admin connection
 * `npm test` provides (TEST_DATABASE_ADMIN_URL) and dropped afterwards, so files run in parallel
 * without seeing each other's rows.
 */
export interface TestDatabase {
  readonly name: string;
  /** Connection string of the new database. */
  readonly url: string;
  drop(): Promise<void>;
}

function adminUrl(): string {
  const url = process.env.TEST_DATABASE_ADMIN_URL;
  if (url === undefined || url === '') {
    throw new Error(
      'TEST_DATABASE_ADMIN_URL is not set: run the database tests through `npm test` ' +
        '(e.g. `npm test -- test/integration/journalWriter.test.ts`), which starts Postgres and sets it',
    );
  }
  return url;
}

async function withAdmin<T>(run: (pool: DatabasePool) => Promise<T>): Promise<T> {
  const pool = await createPool(adminUrl(), { maximumPoolSize: 1 });
  try {
    return await run(pool);
  } finally {
    await pool.end();
  }
}

/** Creates `exchange_t_<label>_<random>` and applies every migration to it. */
export async function createTestDatabase(label = 'file'): Promise<TestDatabase> {
  const safeLabel = label
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .slice(0, 30);
  const name = `exchange_t_${safeLabel}_${randomBytes(4).toString('hex')}`;
  const url = new URL(adminUrl());
  url.pathname = `/${name}`;
  await withAdmin((pool) => pool.query(sql.unsafe`CREATE DATABASE ${sql.identifier([name])}`));
  const database: TestDatabase = {
    name,
    url: url.toString(),
    drop: () =>
      withAdmin(async (pool) => {
        await pool.query(sql.unsafe`DROP DATABASE IF EXISTS ${sql.identifier([name])} WITH (FORCE)`);
      }),
  };
  try {
    await migrate(database.url);
  } catch (error) {
    await database.drop();
    throw error;
  }
  return database;
}

/**
 * Registers beforeAll/afterAll hooks for a database of this file; call `get()` inside tests or
 * hooks that run after it.
 */
export function useTestDatabase(label?: string): { get(): TestDatabase } {
  let database: TestDatabase | undefined;
  beforeAll(async () => {
    database = await createTestDatabase(label);
  });
  afterAll(async () => {
    await database?.drop();
  });
  return {
    get() {
      if (database === undefined) throw new Error('the test database is not created yet (use it in a test)');
      return database;
    },
  };
}

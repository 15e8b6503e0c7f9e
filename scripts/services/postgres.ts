import path from 'node:path';
import pg from 'pg';
import { EMBEDDED_PASSWORD, EMBEDDED_USER, startEmbeddedPostgres } from './embedded-postgres.ts';
import { errorMessage, log } from './log.ts';
import { usersDir } from './users.ts';

export const APP_DATABASE = 'exchange';
export const TEST_DATABASE = 'exchange_test';
export const ADMIN_DATABASE = 'postgres';
export const SYSTEM_SERVER_URL = 'postgres://postgres@127.0.0.1:5432';
export const EMBEDDED_PORT = 54329;

export interface PostgresSetup {
  /** What the app or the tests get as DATABASE_URL. */
  databaseUrl: string;
  /** The maintenance database `postgres` on the same server, for creating more databases. */
  adminUrl: string;
  /** Only for a server started here: stops it. */
  stop?: () => Promise<void>;
}

export interface PostgresOptions {
  databaseUrl: string | undefined;
  test: boolean;
  ignoreSystem: boolean;
  dataRoot: string;
}

export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(database)}`;
  return u.href;
}

function databaseOf(url: string): string {
  return decodeURIComponent(new URL(url).pathname.slice(1));
}

/** Where to show a URL in logs: no password. */
export function redact(url: string): string {
  const u = new URL(url);
  if (u.password !== '') u.password = '***';
  return u.href;
}

function client(url: string): pg.Client {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  c.on('error', () => undefined); // a dropped idle connection must not crash the runner
  return c;
}

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = client(url);
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** Connects and runs SELECT 1; the error when that is not possible. */
export async function probe(url: string): Promise<Error | undefined> {
  try {
    await withClient(url, (c) => c.query('SELECT 1'));
    return undefined;
  } catch (err) {
    return err instanceof Error ? err : new Error(String(err));
  }
}

/** The SQLSTATE of an error the server sent (five characters); undefined for network errors (ECONNREFUSED...). */
function pgCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null || !('code' in err) || typeof err.code !== 'string')
    return undefined;
  return /^[0-9A-Z]{5}$/.test(err.code) ? err.code : undefined;
}

async function ensureDatabaseExists(url: string, adminUrl: string): Promise<void> {
  const missing = await probe(url);
  if (missing === undefined) return;
  if (pgCode(missing) !== '3D000') throw missing; // 3D000: database does not exist
  const name = databaseOf(url);
  await withClient(adminUrl, (c) => c.query(`CREATE DATABASE ${c.escapeIdentifier(name)}`));
  log(`postgres: created database ${name}`);
}

async function recreateDatabase(url: string, adminUrl: string): Promise<void> {
  const name = databaseOf(url);
  await withClient(adminUrl, async (c) => {
    const ident = c.escapeIdentifier(name);
    // WITH (FORCE) (Postgres 13+) also ends leftover sessions, e.g. of an interrupted earlier run.
    await c.query(`DROP DATABASE IF EXISTS ${ident} WITH (FORCE)`).catch(async (err: unknown) => {
      if (pgCode(err) !== '42601') throw err; // 42601: syntax error, i.e. a server older than 13
      await c.query(`DROP DATABASE IF EXISTS ${ident}`);
    });
    await c.query(`CREATE DATABASE ${ident}`);
  });
  log(`postgres: fresh database ${name}`);
}

interface Server {
  /** Server URL; for a user-given DATABASE_URL, that URL with its database. */
  url: string;
  /** Only for a server started here. */
  stop?: () => Promise<void>;
}

async function findOrStartServer(options: PostgresOptions): Promise<Server> {
  if (options.databaseUrl !== undefined) {
    log(`postgres: using DATABASE_URL ${redact(options.databaseUrl)}`);
    return { url: options.databaseUrl };
  }
  if (!options.ignoreSystem) {
    const err = await probe(withDatabase(SYSTEM_SERVER_URL, ADMIN_DATABASE));
    if (err === undefined) {
      log('postgres: using the server on 127.0.0.1:5432');
      return { url: SYSTEM_SERVER_URL };
    }
    if (pgCode(err) !== undefined) {
      // Something answers on 5432 but will not let user postgres in without a password.
      log(`postgres: server on 127.0.0.1:5432 refused user postgres (${err.message}); using embedded one`);
    }
  }
  const dataDir = path.join(options.dataRoot, 'postgres');
  const logFile = path.join(options.dataRoot, 'postgres.log');
  const embeddedUrl = `postgres://${EMBEDDED_USER}:${EMBEDDED_PASSWORD}@127.0.0.1:${EMBEDDED_PORT}`;
  const running = await probe(withDatabase(embeddedUrl, ADMIN_DATABASE));
  if (running === undefined) {
    log(`postgres: reusing embedded postgres already running on 127.0.0.1:${EMBEDDED_PORT}`);
    return { url: embeddedUrl };
  }
  if (pgCode(running) !== undefined) {
    throw new Error(`port ${EMBEDDED_PORT} is taken by a postgres that refuses us (${running.message})`);
  }
  log(`postgres: starting embedded postgres on 127.0.0.1:${EMBEDDED_PORT} (data ${dataDir}, log ${logFile})`);
  const started = Date.now();
  const server = await startEmbeddedPostgres({
    dataDir,
    port: EMBEDDED_PORT,
    logFile,
    usersDir: usersDir(options.dataRoot),
  });
  log(`postgres: embedded postgres up in ${((Date.now() - started) / 1000).toFixed(1)}s`);
  return {
    url: server.serverUrl,
    stop: async () => {
      log('postgres: stopping embedded postgres');
      await server.stop();
    },
  };
}

/**
 * DATABASE_URL, else a server on 127.0.0.1:5432 (user postgres, trust auth), else an embedded Postgres
 * on 54329 with its data under .data/postgres. `npm start` gets database `exchange` (created when
 * missing; a user-given DATABASE_URL is used as it is); tests get a freshly recreated `exchange_test`.
 */
export async function ensurePostgres(options: PostgresOptions): Promise<PostgresSetup> {
  const server = await findOrStartServer(options);
  try {
    const adminUrl = withDatabase(server.url, ADMIN_DATABASE);
    let databaseUrl: string;
    if (options.test) {
      databaseUrl = withDatabase(server.url, TEST_DATABASE);
      await recreateDatabase(databaseUrl, adminUrl);
    } else {
      databaseUrl =
        options.databaseUrl !== undefined && databaseOf(options.databaseUrl) !== ''
          ? options.databaseUrl
          : withDatabase(server.url, APP_DATABASE);
      await ensureDatabaseExists(databaseUrl, adminUrl);
    }
    return { databaseUrl, adminUrl, stop: server.stop };
  } catch (err) {
    await server.stop?.();
    throw new Error(`postgres: ${errorMessage(err)}`);
  }
}

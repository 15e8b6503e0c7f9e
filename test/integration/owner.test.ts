import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createPool, sql, type DatabasePool } from 'slonik';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { BatchOutput } from '../../src/actors/market/types.ts';
import { JournalWriteError, JournalWriter } from '../../src/persistence/journalWriter.ts';
import pg from 'pg';
import { DatabaseOwnedError, OWNER_LOCK_KEY, Ownership } from '../../src/persistence/owner.ts';
import { buildServer } from '../../scripts/build.ts';
import { ping } from '../../scripts/services/redis.ts';
import { eventually } from '../support/eventually.ts';
import { createTestDatabase, useTestDatabase, type TestDatabase } from '../support/database.ts';
import { limit } from '../support/markets.ts';

/**
 * Issue 12 §1, "one exchange per database" (PROTOCOL v1.1): real processes (`node --import tsx
 * src/main.ts`; under `tsx scripts/services.ts`, the built dist/src/main.js as `npm start` runs
 * it), real Postgres, real sockets. A second
 * exchange on an owned database or on a port in use exits 1 and changes nothing; a SIGKILL of the
 * launcher's process group leaves nothing running; the journal writer refuses to write once the
 * ownership is gone or taken over.
 */

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/1';
/** What `npm start` has the launcher run, after `npm run build` (package.json). */
const START_EXEC = 'node --enable-source-maps --max-semi-space-size=64 dist/src/main.js';

interface Proc {
  readonly child: ChildProcess;
  /** Everything written to stdout and stderr so far. */
  output(): string;
  /** Resolves with the exit code (or the signal's name). */
  readonly exited: Promise<number | string>;
  /** Resolves once the output holds `text`; rejects if the process exits first or at the deadline. */
  waitFor(text: string, timeoutMs?: number): Promise<void>;
}

const running: Proc[] = [];

function start(
  command: string,
  args: readonly string[],
  env: Record<string, string>,
  detached = false,
): Proc {
  const child = spawn(command, args, {
    cwd: repoRoot,
    env: {
      ...process.env,
      NODE_ENV: 'test',
      LOG_LEVEL: 'info',
      HOST: '127.0.0.1',
      REDIS_URL: redisUrl,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached,
  });
  let text = '';
  const waiters = new Set<() => void>();
  const append = (chunk: Buffer) => {
    text += chunk.toString('utf8');
    for (const wake of waiters) wake();
  };
  child.stdout.on('data', append);
  child.stderr.on('data', append);
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => {
      resolve(code ?? signal ?? 'unknown');
      for (const wake of waiters) wake();
    });
  });
  const proc: Proc = {
    child,
    output: () => text,
    exited,
    waitFor: (wanted, timeoutMs = 60_000) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no "${wanted}" within ${timeoutMs} ms; output:\n${text}`));
        }, timeoutMs);
        const check = () => {
          if (text.includes(wanted)) {
            clearTimeout(timer);
            waiters.delete(check);
            resolve();
          } else if (child.exitCode !== null || child.signalCode !== null) {
            clearTimeout(timer);
            waiters.delete(check);
            reject(new Error(`exited before "${wanted}"; output:\n${text}`));
          }
        };
        waiters.add(check);
        check();
      }),
  };
  running.push(proc);
  return proc;
}

function exchange(database: TestDatabase, port: number): Proc {
  return start(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    DATABASE_URL: database.url,
    PORT: String(port),
  });
}

/** A port no one listens on right now (bound by the OS, then released). */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen({ host: '127.0.0.1', port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** Alive and not a zombie waiting for a parent that no longer reaps. */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** The exit code, or 'still running' past the deadline (the process is then killed). */
async function exitWithin(proc: Proc, timeoutMs = 45_000): Promise<number | string> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<string>((resolve) => {
    timer = setTimeout(() => {
      proc.child.kill('SIGKILL');
      resolve('still running');
    }, timeoutMs);
  });
  try {
    return await Promise.race([proc.exited, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Pids of the processes running src/main.ts or dist/src/main.js with this DATABASE_URL (/proc). */
function exchangesOn(databaseUrl: string): number[] {
  const found: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      // An argument of its own: not the launcher, whose --exec argument mentions it.
      const argv = fs.readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
      if (!argv.includes('src/main.ts') && !argv.includes('dist/src/main.js')) continue;
      const environ = fs.readFileSync(`/proc/${name}/environ`, 'utf8').split('\0');
      if (environ.includes(`DATABASE_URL=${databaseUrl}`) && isRunning(Number(name)))
        found.push(Number(name));
    } catch {
      // gone, or not ours to read
    }
  }
  return found;
}

async function until(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 15_000,
): Promise<void> {
  await eventually(check, { what, timeoutMs, everyMs: 50 });
}

const JournalTail = z.object({ records: z.string(), last: z.string() });
const Owner = z.object({ token: z.string(), pid: z.number(), port: z.number().nullable() });

async function journalTail(pool: DatabasePool): Promise<z.infer<typeof JournalTail>> {
  return pool.one(sql.type(JournalTail)`
    SELECT count(*)::text AS records, coalesce(max(global_seq), 0)::text AS last FROM journal`);
}

async function owner(pool: DatabasePool): Promise<z.infer<typeof Owner> | null> {
  return pool.maybeOne(sql.type(Owner)`SELECT token::text, pid, port FROM exchange_owner WHERE id = 1`);
}

/**
 * Ends the session holding the owner lock and takes the lock in its place (waiting for the dying
 * session to let it go): what another exchange starting at that moment would do.
 */
async function takeOverLock(databaseUrl: string, backendPid: number): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  await client.query('SELECT pg_terminate_backend($1)', [backendPid]);
  await client.query('SELECT pg_advisory_lock($1, $2)', [...OWNER_LOCK_KEY]);
  return client;
}

afterAll(() => {
  for (const proc of running.splice(0)) {
    if (proc.child.exitCode !== null || proc.child.signalCode !== null) continue;
    const pid = proc.child.pid!;
    try {
      // A launcher test's group, else the process alone.
      process.kill(proc.child.spawnargs.includes('scripts/services.ts') ? -pid : pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
});

describe('finding 1 (one exchange per database): processes', () => {
  let database: TestDatabase;
  let pool: DatabasePool;
  let first: Proc;
  let firstPort: number;

  beforeAll(async () => {
    database = await createTestDatabase('owner');
    pool = await createPool(database.url, { maximumPoolSize: 2 });
    firstPort = await freePort();
    first = exchange(database, firstPort);
    await first.waitFor('exchange ready');
  });

  afterAll(async () => {
    first.child.kill('SIGTERM');
    await first.exited;
    await pool.end();
    await database.drop();
  });

  it('finding 1 (one exchange per database): a second exchange on the same database exits 1 naming the owner; the first keeps serving; the journal is unchanged', async () => {
    const before = await journalTail(pool);
    const ownerBefore = await owner(pool);
    expect(Number(before.records)).toBeGreaterThan(0); // the seeded markets

    const secondPort = await freePort();
    const second = exchange(database, secondPort);
    expect(await exitWithin(second)).toBe(1);
    expect(second.output()).toContain(`is owned by another exchange: pid ${first.child.pid}`);
    expect(second.output()).toContain(`port ${firstPort}`);
    expect(await canBind(secondPort)).toBe(true); // it never listened

    // Same database and the same port: the owner is what it names.
    const third = exchange(database, firstPort);
    expect(await exitWithin(third)).toBe(1);
    expect(third.output()).toContain(`pid ${first.child.pid}`);
    expect(ownerBefore).toMatchObject({ pid: first.child.pid, port: firstPort });

    const health = await fetch(`http://127.0.0.1:${firstPort}/health`);
    expect(health.status).toBe(200);
    expect(await journalTail(pool)).toEqual(before);
    expect(await owner(pool)).toEqual(ownerBefore);
    expect(first.child.exitCode).toBeNull();
  }, 120_000);

  it('finding 1 (one exchange per database): migrate and rebuild-projections refuse a database an exchange owns', async () => {
    const before = await journalTail(pool);
    for (const script of ['scripts/migrate.ts', 'scripts/rebuild-projections.ts']) {
      const run = start(path.join(repoRoot, 'node_modules', '.bin', 'tsx'), [script], {
        DATABASE_URL: database.url,
      });
      expect(await exitWithin(run)).toBe(1);
      expect(run.output()).toContain(`is owned by another exchange: pid ${first.child.pid}`);
    }
    expect(await journalTail(pool)).toEqual(before);
    expect((await fetch(`http://127.0.0.1:${firstPort}/health`)).status).toBe(200);
  }, 120_000);

  it('finding 1 (one exchange per database): a second exchange on a port in use exits 1 naming the port and changes nothing', async () => {
    // A database of its own, not even migrated: the port check comes before the migrations.
    const bare = await createTestDatabase('owner_port');
    const barePool = await createPool(bare.url, { maximumPoolSize: 1 });
    try {
      await barePool.query(sql.unsafe`DROP SCHEMA public CASCADE`);
      await barePool.query(sql.unsafe`CREATE SCHEMA public`);
      const second = exchange(bare, firstPort);
      expect(await exitWithin(second)).toBe(1);
      expect(second.output()).toContain(`port ${firstPort} on 127.0.0.1 is not available (in use)`);
      const tables = await barePool.any(
        sql.type(z.object({ name: z.string() }))`
          SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public'`,
      );
      expect(tables).toEqual([]);
      // The lock was let go with the process: the database can be owned.
      const ownership = await Ownership.acquire(bare.url);
      await ownership.release();
    } finally {
      await barePool.end();
      await bare.drop();
    }
    expect((await fetch(`http://127.0.0.1:${firstPort}/health`)).status).toBe(200);
  }, 120_000);
});

describe('finding 1 (one exchange per database): launcher', () => {
  beforeAll(async () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    };
    expect(pkg.scripts.start).toContain(`--exec "${START_EXEC}"`);
    await buildServer(); // dist/src/main.js, as npm start builds it first
  }, 120_000);

  it('finding 1 (one exchange per database): SIGKILL of the launcher process group leaves no exchange running and the port free', async () => {
    const database = await createTestDatabase('owner_launcher');
    const pool = await createPool(database.url, { maximumPoolSize: 1 });
    try {
      const port = await freePort();
      // Detached: the launcher leads a process group, as `npm start` does in a shell.
      const launcher = start(
        path.join(repoRoot, 'node_modules', '.bin', 'tsx'),
        ['scripts/services.ts', '--exec', START_EXEC],
        { DATABASE_URL: database.url, PORT: String(port) },
        true,
      );
      await launcher.waitFor('exchange ready');
      const [exchangePid, ...more] = exchangesOn(database.url);
      expect(exchangePid).toBeTypeOf('number');
      expect(more).toEqual([]);

      process.kill(-launcher.child.pid!, 'SIGKILL');
      await until('the exchange is gone', () => !isRunning(exchangePid!));
      await until('the port is free', () => canBind(port));
      // And the database with it: a new owner gets the lock.
      await until('the lock is free', async () => {
        try {
          await (await Ownership.acquire(database.url)).release();
          return true;
        } catch (error) {
          if (error instanceof DatabaseOwnedError) return false;
          throw error;
        }
      });
      expect((await owner(pool))?.pid).toBe(exchangePid); // the one that owned it
    } finally {
      for (const pid of exchangesOn(database.url)) process.kill(pid, 'SIGKILL'); // a failed run's
      await pool.end();
      await database.drop();
    }
  }, 120_000);

  it("finding 1 (one exchange per database): SIGTERM to the launcher still shuts the exchange down cleanly, and the launcher exits with the command's code", async () => {
    const database = await createTestDatabase('owner_sigterm');
    try {
      const launcher = start(
        path.join(repoRoot, 'node_modules', '.bin', 'tsx'),
        ['scripts/services.ts', '--exec', START_EXEC],
        { DATABASE_URL: database.url, PORT: '0' },
        true,
      );
      await launcher.waitFor('exchange ready');
      const [exchangePid] = exchangesOn(database.url);
      launcher.child.kill('SIGTERM');
      expect(await exitWithin(launcher)).toBe(0);
      expect(launcher.output()).toContain('stopped cleanly');
      expect(isRunning(exchangePid!)).toBe(false);

      const failing = start(
        path.join(repoRoot, 'node_modules', '.bin', 'tsx'),
        ['scripts/services.ts', '--exec', 'node -e "process.exit(3)"'],
        { DATABASE_URL: database.url },
        true,
      );
      expect(await exitWithin(failing)).toBe(3);
    } finally {
      await database.drop();
    }
  }, 120_000);
});

describe('finding 1 (one exchange per database): lost lock', () => {
  it('finding 1 (one exchange per database): an exchange whose lock is taken over when its lock connection dies stops writing and exits 1', async () => {
    const database = await createTestDatabase('owner_lost');
    const pool = await createPool(database.url, { maximumPoolSize: 1 });
    try {
      const proc = exchange(database, 0);
      await proc.waitFor('exchange ready');
      const before = await journalTail(pool);
      const lock = await pool.one(
        sql.type(z.object({ backend_pid: z.number() }))`SELECT backend_pid FROM exchange_owner WHERE id = 1`,
      );
      const holder = await takeOverLock(database.url, lock.backend_pid);
      try {
        expect(await exitWithin(proc)).toBe(1);
        expect(proc.output()).toContain('database ownership lost');
        expect(await journalTail(pool)).toEqual(before);
      } finally {
        await holder.end();
      }
    } finally {
      await pool.end();
      await database.drop();
    }
  }, 120_000);
});

describe('finding 1 (one exchange per database): servers the launcher starts', () => {
  const database = useTestDatabase('owner_services');

  function launcher(redisPort: number): Proc {
    return start(
      path.join(repoRoot, 'node_modules', '.bin', 'tsx'),
      ['scripts/services.ts', '--exec', 'sleep 300'],
      {
        DATABASE_URL: database.get().url,
        // No REDIS_URL and the system server skipped: the launcher starts redis-server itself.
        REDIS_URL: '',
        SERVICES_IGNORE_SYSTEM: '1',
        SERVICES_REDIS_PORT: String(redisPort),
      },
      true,
    );
  }
  const answers = async (port: number) => (await ping('127.0.0.1', port, 300)).ok;

  it('finding 1 (one exchange per database): a redis-server the launcher started is not stopped while another launcher uses it, and stops with the last one, even killed', async () => {
    const port = await freePort();
    const first = launcher(port);
    await first.waitFor('running: sleep 300');
    expect(first.output()).toContain(`starting redis-server on 127.0.0.1:${port}`);
    const second = launcher(port);
    await second.waitFor('running: sleep 300');
    expect(second.output()).toContain(`reusing redis-server already running on 127.0.0.1:${port}`);

    // The one that started it leaves while the other still uses it: it stays.
    first.child.kill('SIGTERM');
    await first.exited;
    expect(first.output()).toContain(`redis:${port} left running`);
    expect(await answers(port)).toBe(true);

    // The last user is killed with its whole group: the guard stops redis-server.
    process.kill(-second.child.pid!, 'SIGKILL');
    await until('redis-server stops once no launcher uses it', async () => !(await answers(port)));

    // Alone, killed: the same.
    const third = launcher(port);
    await third.waitFor('running: sleep 300');
    expect(third.output()).toContain(`starting redis-server on 127.0.0.1:${port}`);
    process.kill(-third.child.pid!, 'SIGKILL');
    await until('redis-server stops with its launcher', async () => !(await answers(port)));
  }, 120_000);
});

describe('finding 1 (one exchange per database): journal writer', () => {
  const database = useTestDatabase('owner_writer');
  let pool: DatabasePool;

  beforeAll(async () => {
    pool = await createPool(database.get().url, { maximumPoolSize: 3 });
  });
  afterAll(async () => {
    await pool.end();
  });

  it('finding 1 (one exchange per database): the journal writer refuses to commit without the lock', async () => {
    const url = database.get().url;
    const ownership = await Ownership.acquire(url, { heartbeatMs: 100 });
    await ownership.claim();
    await expect(Ownership.acquire(url)).rejects.toThrow(`is owned by another exchange: pid ${process.pid}`);
    const fatal: Error[] = [];
    const writer = await JournalWriter.open(pool, {
      fence: ownership,
      onFatal: (error) => fatal.push(error),
    });
    await writer.commit(batchOf('m-a', 1));
    const before = await journalTail(pool);
    expect(before).toEqual({ records: '1', last: '1' });

    // The lock's session ends and someone else takes the lock: the ownership is lost for good.
    const holder = await takeOverLock(url, ownership.backendPid);
    try {
      await until('the ownership is lost', () => ownership.lost() !== undefined);
      await expect(writer.commit(batchOf('m-a', 3))).rejects.toThrow(/refuses to write: lost the ownership/);
      await expect(writer.commit(batchOf('m-a', 5))).rejects.toThrow(JournalWriteError);
      expect(fatal).toHaveLength(1);
      expect(await journalTail(pool)).toEqual(before);
    } finally {
      await ownership.release();
      await holder.end();
    }
  });

  it('finding 1 (one exchange per database): an owner whose lock connection died regains the lock when nobody claimed the database meanwhile', async () => {
    const url = database.get().url;
    const changes: string[] = [];
    const ownership = await Ownership.acquire(url, {
      heartbeatMs: 100,
      onChange: (change) => changes.push(change),
    });
    await ownership.claim();
    const writer = await JournalWriter.open(pool, { fence: ownership });
    const first = ownership.backendPid;
    await pool.query(sql.unsafe`SELECT pg_terminate_backend(${first})`);
    await until('the lock is regained', () => changes.includes('regained'));
    expect(ownership.backendPid).not.toBe(first);
    expect(ownership.lost()).toBeUndefined();
    const before = await journalTail(pool);
    await writer.commit(batchOf('m-c', 1));
    expect(Number((await journalTail(pool)).records)).toBe(Number(before.records) + 1);
    // Still the owner: a second one is refused.
    await expect(Ownership.acquire(url)).rejects.toThrow(DatabaseOwnedError);
    await writer.close();
    await ownership.release();
  });

  it('finding 1 (one exchange per database): a writer whose ownership was taken over cannot append (fencing token)', async () => {
    const url = database.get().url;
    const old = await Ownership.acquire(url);
    const staleToken = await old.claim();
    await old.release();
    const current = await Ownership.acquire(url);
    expect(await current.claim()).toBe(staleToken + 1);
    const before = await journalTail(pool);
    // An owner that has not noticed yet that its lock is gone: only the token can stop it.
    const fatal: Error[] = [];
    const stale = await JournalWriter.open(pool, {
      fence: { token: staleToken, lost: () => undefined },
      onFatal: (error) => fatal.push(error),
    });
    await expect(stale.commit(batchOf('m-b', 1))).rejects.toThrow(/taken over by another exchange/);
    expect(fatal).toHaveLength(1);
    expect(await journalTail(pool)).toEqual(before);

    const owned = await JournalWriter.open(pool, { fence: current });
    await owned.commit(batchOf('m-b', 1));
    expect(Number((await journalTail(pool)).records)).toBe(Number(before.records) + 1);
    await owned.close();
    await current.release();
  });
});

function batchOf(marketId: string, seq: number): BatchOutput {
  return {
    marketId,
    symbol: `${marketId}-USDC`,
    state: 'active',
    entries: [
      {
        seq,
        ts: 1_763_800_000_000 + seq,
        command: limit('u-1', 'buy', 100, 1),
        result: { ok: true, seq, orderId: seq, events: [] },
        postings: [],
      },
    ],
  };
}

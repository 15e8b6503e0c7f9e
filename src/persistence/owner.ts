import os from 'node:os';
import pg from 'pg';
import { z } from 'zod';
import { isAlive } from '../processAlive.ts';

/*
 * One exchange per database (PROTOCOL v1.1, "One exchange per database"). The owner holds a
 * session-level advisory lock on a connection of its own for its whole life: not one from the
 * slonik pool, whose connections come and go, since a session lock lives and dies with its
 * session. The lock is the ownership; the `exchange_owner` row only names the holder (so that a
 * second exchange can say who it is) and carries a fencing token that the journal writer checks
 * where its rows land (journalWriter.ts): a claim increments it, so an owner whose lock connection
 * died while it had not noticed yet can never append after a new owner took over.
 *
 * Losing the lock connection (Postgres restarted, the session terminated, the network gone) is not
 * final by itself: the exchange answers `unavailable` while Postgres is away and wins the lock
 * back on a new connection when it returns, keeping it only if its token is still the newest
 * (Ownership, below). Another holder or a newer token is final: the ownership reports itself lost,
 * the journal writer refuses every commit from then on, and the exchange exits (src/main.ts)
 * without a shutdown snapshot. Nothing acknowledged is lost: acks follow commits.
 */

/** The advisory lock's key, as pg_try_advisory_lock(int4, int4): "rwax" and 1 (the owner). */
const LOCK_CLASS = 0x72776178;
const LOCK_OBJECT = 1;
export const OWNER_LOCK_KEY = [LOCK_CLASS, LOCK_OBJECT] as const;

export interface OwnerIdentity {
  readonly host: string;
  readonly pid: number;
  readonly startedAt: Date;
}

/** What the journal writer checks before and inside each flush (JournalWriterOptions.fence). */
export interface OwnershipFence {
  /** The token of this owner's claim; the writer's INSERT lands only while the row holds it. */
  readonly token: number;
  /** Why this process no longer owns the database, or undefined while it does. */
  lost(): Error | undefined;
}

/** Another exchange owns the database: nothing was changed. */
export class DatabaseOwnedError extends Error {
  readonly code = 'database_owned';
  constructor(
    readonly database: string,
    readonly owner: string,
  ) {
    super(
      `database ${database} is owned by another exchange: ${owner}. ` +
        'Stop that exchange first, or point DATABASE_URL at another database.',
    );
    this.name = 'DatabaseOwnedError';
  }
}

export class OwnershipLostError extends Error {
  constructor(reason: string) {
    super(`lost the ownership of the database (${reason}): this exchange must not write any more`);
    this.name = 'OwnershipLostError';
  }
}

const Holder = z.object({
  backend_pid: z.number(),
  application_name: z.string().nullable(),
  client_addr: z.string().nullable(),
  backend_start: z.date().nullable(),
});
const OwnerRow = z.object({
  host: z.string(),
  pid: z.number(),
  port: z.number().nullable(),
  started_at: z.date(),
  backend_pid: z.number(),
});
const Claimed = z.object({ token: z.string() });

export interface OwnershipOptions {
  /** Who we are; defaults to this host, this process, now. */
  readonly identity?: OwnerIdentity;
  /** How often the lock connection is checked (default 2 s); a failed check starts a regain. */
  readonly heartbeatMs?: number;
  /** Between attempts to regain the lock while Postgres cannot be reached (default 500 ms). */
  readonly regainEveryMs?: number;
  /** The lock connection went away (`suspended`) or was replaced with the lock held (`regained`). */
  readonly onChange?: (change: 'suspended' | 'regained', detail: string) => void;
  /**
   * How long to wait for the lock when its holder is an exchange of this host whose process is
   * gone (default 10 s): after kill -9 Postgres ends the dead session only once it notices the
   * closed socket, so a restart at once may find the lock still held for a moment.
   */
  readonly deadOwnerWaitMs?: number;
}

interface LockSession {
  readonly client: pg.Client;
  readonly backendPid: number;
}

/**
 * The lock held: claim() (after the migrations, which create `exchange_owner`) records us and
 * takes the fencing token; release() ends the ownership on a clean shutdown.
 *
 * When the lock's connection goes away (Postgres restarted or unreachable for a while, the session
 * terminated) the ownership tries to win it back on a new connection, and keeps it only if the
 * fencing token is still ours: nobody claimed the database meanwhile, so nobody wrote its journal
 * (a claim precedes every write and every recovery). Meanwhile the journal writer goes on trying
 * (its INSERT is fenced by the token, so what lands is safe). Someone else holding the lock, or a
 * newer token, means lost for good: lost() says why and onLost listeners run once.
 */
export class Ownership implements OwnershipFence {
  private claimed: number | undefined;
  private lostWith: Error | undefined;
  private released = false;
  private session: LockSession | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private regainTimer: NodeJS.Timeout | undefined;
  private readonly listeners: ((error: Error) => void)[] = [];

  private constructor(
    private readonly databaseUrl: string,
    readonly identity: OwnerIdentity,
    private readonly options: OwnershipOptions,
  ) {}

  /**
   * Takes the lock, or throws DatabaseOwnedError naming the exchange that holds it. Changes
   * nothing in the database when the lock is taken by someone else.
   */
  static async acquire(databaseUrl: string, options: OwnershipOptions = {}): Promise<Ownership> {
    const identity = options.identity ?? { host: os.hostname(), pid: process.pid, startedAt: new Date() };
    const ownership = new Ownership(databaseUrl, identity, options);
    const deadline = Date.now() + (options.deadOwnerWaitMs ?? 10_000);
    for (;;) {
      const taken = await ownership.tryLock();
      if (typeof taken !== 'string') {
        ownership.hold(taken);
        return ownership;
      }
      const dead = ownerGone(taken, identity.host);
      if (!dead || Date.now() >= deadline) throw new DatabaseOwnedError(databaseNameOf(databaseUrl), taken);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** The Postgres backend holding the lock now (it changes when the lock is regained). */
  get backendPid(): number {
    return this.session?.backendPid ?? 0;
  }

  /** The fencing token of our claim; claim() must have run. */
  get token(): number {
    if (this.claimed === undefined) throw new Error('the database ownership is not claimed yet');
    return this.claimed;
  }

  lost(): Error | undefined {
    return this.lostWith;
  }

  /** Called once, when the ownership is lost for good (not after release()). */
  onLost(listener: (error: Error) => void): void {
    if (this.lostWith !== undefined) listener(this.lostWith);
    else this.listeners.push(listener);
  }

  /** Records this process as the owner and takes the next fencing token (needs `exchange_owner`). */
  async claim(): Promise<number> {
    const result = await this.lockClient().query(
      `INSERT INTO exchange_owner (id, token, host, pid, port, started_at, backend_pid, released_at)
       VALUES (1, 1, $1, $2, NULL, $3, pg_backend_pid(), NULL)
       ON CONFLICT (id) DO UPDATE SET token = exchange_owner.token + 1, host = excluded.host,
         pid = excluded.pid, port = NULL, started_at = excluded.started_at,
         backend_pid = excluded.backend_pid, released_at = NULL
       RETURNING token::text AS token`,
      [this.identity.host, this.identity.pid, this.identity.startedAt],
    );
    this.claimed = Number(Claimed.parse(result.rows[0]).token);
    return this.claimed;
  }

  /** Adds the gateway's port to the record, once it listens. */
  async recordPort(port: number): Promise<void> {
    await this.lockClient().query('UPDATE exchange_owner SET port = $1 WHERE id = 1 AND token = $2', [
      port,
      this.token,
    ]);
  }

  /** Marks the record released and ends the lock's session (which releases the lock). */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    clearInterval(this.heartbeat);
    clearTimeout(this.regainTimer);
    const session = this.session;
    this.session = undefined;
    if (session === undefined) return;
    if (this.lostWith === undefined && this.claimed !== undefined) {
      await session.client
        .query('UPDATE exchange_owner SET released_at = now() WHERE id = 1 AND token = $1', [this.claimed])
        .catch(() => undefined);
    }
    await session.client.end().catch(() => undefined);
  }

  /** A method, not the field: release() may run during an await, which narrowing ignores. */
  private isReleased(): boolean {
    return this.released;
  }

  private lockClient(): pg.Client {
    if (this.session === undefined) throw new Error('the database ownership lock is not held right now');
    return this.session.client;
  }

  /** A new connection holding the lock, or the description of whoever holds it instead. */
  private async tryLock(): Promise<LockSession | string> {
    const client = new pg.Client({
      connectionString: this.databaseUrl,
      // Postgres keeps 63 bytes of it; pg_stat_activity shows it next to the lock.
      application_name: `rwa-exchange pid ${this.identity.pid} on ${this.identity.host}`.slice(0, 63),
      keepAlive: true,
      connectionTimeoutMillis: 10_000,
      query_timeout: 10_000,
    });
    // Until hold() listens: the error of a connection we may be about to give up on.
    client.on('error', () => undefined);
    await client.connect();
    try {
      // Twice: a holder that went away between our try and our look at pg_locks.
      for (let attempt = 0; attempt < 2; attempt++) {
        const taken = await client.query<{ locked: boolean; backend_pid: number }>(
          'SELECT pg_try_advisory_lock($1, $2) AS locked, pg_backend_pid() AS backend_pid',
          [LOCK_CLASS, LOCK_OBJECT],
        );
        const row = taken.rows[0]!;
        if (row.locked) return { client, backendPid: row.backend_pid };
        const owner = await describeOwner(client);
        if (owner !== undefined) {
          await client.end().catch(() => undefined);
          return owner;
        }
      }
      await client.end().catch(() => undefined);
      return 'an exchange that is starting or stopping';
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
  }

  private hold(session: LockSession): void {
    this.session = session;
    const gone = (reason: string) => {
      if (this.session === session) this.suspend(reason);
    };
    session.client.on('error', (error) => {
      gone(error.message);
    });
    session.client.on('end', () => {
      gone('the connection holding the lock closed');
    });
    this.heartbeat = setInterval(() => {
      session.client.query('SELECT 1').catch((error: unknown) => {
        gone(error instanceof Error ? error.message : String(error));
      });
    }, this.options.heartbeatMs ?? 2_000);
    this.heartbeat.unref();
  }

  private suspend(reason: string): void {
    if (this.released || this.lostWith !== undefined || this.session === undefined) return;
    const { client } = this.session;
    this.session = undefined;
    clearInterval(this.heartbeat);
    client.end().catch(() => undefined);
    this.options.onChange?.('suspended', reason);
    this.scheduleRegain(0);
  }

  private scheduleRegain(delayMs: number): void {
    this.regainTimer = setTimeout(() => {
      void this.regain();
    }, delayMs);
  }

  private async regain(): Promise<void> {
    if (this.released || this.lostWith !== undefined) return;
    let taken: LockSession | string;
    try {
      taken = await this.tryLock();
    } catch {
      this.scheduleRegain(this.options.regainEveryMs ?? 500); // Postgres still unreachable
      return;
    }
    if (typeof taken === 'string') {
      this.lose(`the lock is now held by ${taken}`);
      return;
    }
    try {
      const token = await this.tokenNow(taken.client);
      if (this.claimed !== undefined && token !== this.claimed) {
        await taken.client.end().catch(() => undefined);
        this.lose(
          `another exchange claimed the database meanwhile (token ${String(token)}, ours ${this.claimed})`,
        );
        return;
      }
      if (this.claimed !== undefined) {
        await taken.client.query('UPDATE exchange_owner SET backend_pid = pg_backend_pid() WHERE id = 1');
      }
    } catch {
      await taken.client.end().catch(() => undefined);
      this.scheduleRegain(this.options.regainEveryMs ?? 500);
      return;
    }
    if (this.isReleased()) {
      await taken.client.end().catch(() => undefined);
      return;
    }
    this.hold(taken);
    this.options.onChange?.('regained', `backend pid ${taken.backendPid}`);
  }

  private async tokenNow(client: pg.Client): Promise<number | undefined> {
    const result = await client.query<{ token: string }>(
      `SELECT token::text AS token FROM exchange_owner WHERE id = 1`,
    );
    const row = result.rows[0];
    return row === undefined ? undefined : Number(row.token);
  }

  private lose(reason: string): void {
    if (this.released || this.lostWith !== undefined) return;
    clearInterval(this.heartbeat);
    clearTimeout(this.regainTimer);
    this.lostWith = new OwnershipLostError(reason);
    for (const listener of this.listeners.splice(0)) listener(this.lostWith);
  }
}

/** Whether a holder described by describeOwner is an exchange of this host that no longer runs. */
function ownerGone(description: string, host: string): boolean {
  const match = /^pid (\d+) on host (\S+) /.exec(description);
  return match !== null && match[2] === host && !isAlive(Number(match[1]));
}

/** "pid 123 on host h, port 3000, since ..." from the owner row when it is the lock holder's. */
async function describeOwner(client: pg.Client): Promise<string | undefined> {
  const holders = await client.query(
    `SELECT a.pid AS backend_pid, a.application_name, host(a.client_addr) AS client_addr, a.backend_start
     FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
     WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $1 AND l.objid = $2 AND l.objsubid = 2
       AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    [LOCK_CLASS, LOCK_OBJECT],
  );
  const holder = holders.rows[0] === undefined ? undefined : Holder.parse(holders.rows[0]);
  if (holder === undefined) return undefined;
  const table = await client.query<{ present: boolean }>(
    `SELECT to_regclass('exchange_owner') IS NOT NULL AS present`,
  );
  if (table.rows[0]?.present === true) {
    const rows = await client.query(
      'SELECT host, pid, port, started_at, backend_pid FROM exchange_owner WHERE id = 1',
    );
    const row = rows.rows[0] === undefined ? undefined : OwnerRow.parse(rows.rows[0]);
    if (row !== undefined && row.backend_pid === holder.backend_pid) {
      const port = row.port === null ? 'gateway not listening yet' : `port ${row.port}`;
      return `pid ${row.pid} on host ${row.host} (${port}), running since ${row.started_at.toISOString()}`;
    }
  }
  // Still migrating, or not this kind of process: what Postgres knows of the session.
  const name =
    holder.application_name === null || holder.application_name === ''
      ? 'a session'
      : `"${holder.application_name}"`;
  const from = holder.client_addr === null ? '' : ` from ${holder.client_addr}`;
  const since =
    holder.backend_start === null ? '' : `, connected since ${holder.backend_start.toISOString()}`;
  return `${name} (Postgres backend pid ${holder.backend_pid}${from}${since})`;
}

function databaseNameOf(databaseUrl: string): string {
  return decodeURIComponent(new URL(databaseUrl).pathname.slice(1)) || '(default)';
}

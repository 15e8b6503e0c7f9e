import pg from 'pg';

/*
 * Which process runs a durable consumer (or the projector) when several workers follow the same
 * journal (ROLE=worker, docs/scale-out.md "Roles"): the one holding that consumer's session-level
 * advisory lock, pg_try_advisory_lock(CONSUMER_LOCK_CLASS, hashtext(name)), on one connection of
 * its own (not the slonik pool's: a session lock lives and dies with its session). The others are
 * standbys: they try again every `retryMs` and take over when the holder's session ends (kill -9
 * closes its socket; Postgres then drops its locks).
 *
 * The lock only keeps the work in one place. Exactly once comes from where the effects land: each
 * page's effects commit with its cursor's move, the cursor row locked (durableConsumers.ts), and the
 * projector's statement moves its cursor only from where it read (projector.ts). So a holder that
 * has not noticed yet that its lock connection died can at worst apply a page the new holder then
 * does not: never one page twice.
 */

/** The advisory lock class of the consumers' locks: "rwac" (owner.ts uses "rwax"). */
const CONSUMER_LOCK_CLASS = 0x72776163;

/** Whether this process may run a consumer's rounds now. */
export interface ConsumerGate {
  /** Registers a consumer this process would run (a standby tries for its lock from now on). */
  want(name: string): void;
  /** True while this process may apply the consumer's pages. */
  held(name: string): boolean;
}

/** ROLE=all: one process, every consumer here. */
export const EVERY_CONSUMER_HERE: ConsumerGate = { want: () => undefined, held: () => true };

/** A cluster gateway: the workers run the consumers; this process only reads their cursors. */
export const NO_CONSUMER_HERE: ConsumerGate = { want: () => undefined, held: () => false };

export interface ConsumerLockOptions {
  /** Between two attempts at the locks not held, ms (default 1,000). */
  readonly retryMs?: number;
  /** A lock taken (the consumer runs here from now on) or lost (the lock connection broke). */
  readonly onChange?: (name: string, held: boolean) => void;
  /** An attempt failed (Postgres away): the next one retries. */
  readonly onError?: (error: unknown) => void;
}

/** The consumers' locks of one worker: a dedicated connection, the locks it holds, a retry loop. */
export class ConsumerLocks implements ConsumerGate {
  readonly #databaseUrl: string;
  readonly #retryMs: number;
  readonly #onChange: (name: string, held: boolean) => void;
  readonly #onError: (error: unknown) => void;
  readonly #wanted = new Set<string>();
  readonly #held = new Set<string>();
  #client: pg.Client | undefined;
  #timer: NodeJS.Timeout | undefined;
  #attempt: Promise<void> | undefined;
  #closed = false;

  constructor(databaseUrl: string, options: ConsumerLockOptions = {}) {
    this.#databaseUrl = databaseUrl;
    this.#retryMs = options.retryMs ?? 1_000;
    this.#onChange = options.onChange ?? (() => undefined);
    this.#onError = options.onError ?? (() => undefined);
  }

  want(name: string): void {
    if (this.#closed || this.#wanted.has(name)) return;
    this.#wanted.add(name);
    this.#schedule(0);
  }

  held(name: string): boolean {
    return this.#held.has(name);
  }

  /** The consumers this process would run (held or standing by). */
  wanted(): string[] {
    return [...this.#wanted].sort();
  }

  /** The consumers whose locks this process holds now. */
  holding(): string[] {
    return [...this.#held].sort();
  }

  /** One attempt at every wanted lock not held, now (after the one in flight); `holding` is then current. */
  settled(): Promise<void> {
    return this.#tryAll();
  }

  /** Releases every lock (its session ends) and stops trying. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    await this.#attempt?.catch(() => undefined);
    // Released, not lost: the session's end hands them to the standbys.
    this.#held.clear();
    const client = this.#client;
    this.#client = undefined;
    await client?.end().catch(() => undefined);
  }

  #schedule(delayMs: number): void {
    if (this.#closed) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#tryAll().finally(() => {
        if (this.#held.size < this.#wanted.size) this.#schedule(this.#retryMs);
      });
    }, delayMs);
    this.#timer.unref();
  }

  /** One attempt at every wanted lock not held; one at a time. */
  #tryAll(): Promise<void> {
    const previous = this.#attempt ?? Promise.resolve();
    const attempt = previous
      .then(() => this.#tryLocks())
      .catch((error: unknown) => {
        this.#onError(error);
      });
    this.#attempt = attempt;
    return attempt;
  }

  async #tryLocks(): Promise<void> {
    if (this.#closed) return;
    const client = await this.#connection();
    for (const name of this.#wanted) {
      if (this.#held.has(name)) continue;
      const result = await client.query<{ locked: boolean }>(
        'SELECT pg_try_advisory_lock($1, hashtext($2)) AS locked',
        [CONSUMER_LOCK_CLASS, name],
      );
      if (result.rows[0]?.locked === true && this.#client === client) {
        this.#held.add(name);
        this.#onChange(name, true);
      }
    }
  }

  async #connection(): Promise<pg.Client> {
    if (this.#client !== undefined) return this.#client;
    const client = new pg.Client({ connectionString: this.#databaseUrl });
    // The session is the locks: when it breaks, every lock is gone (another worker may hold them now).
    const broken = () => {
      if (this.#client !== client) return;
      this.#client = undefined;
      this.#dropAll();
      client.end().catch(() => undefined);
      this.#schedule(this.#retryMs);
    };
    client.on('error', broken);
    client.on('end', broken);
    await client.connect();
    this.#client = client;
    return client;
  }

  #dropAll(): void {
    for (const name of this.#held) this.#onChange(name, false);
    this.#held.clear();
  }
}

import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import type { ConsumerGate } from './consumerLocks.ts';
import { clearProjectionLagSource, setProjectionLagSource, type ProjectionLagSource } from './metrics.ts';
import { RELATIONAL_PROJECTION, safeInteger } from './projection/relational.ts';
import { PageScheduler } from './projection/scheduler.ts';
import { Rounds } from './rounds.ts';

export { ProjectionError, RELATIONAL_PROJECTION } from './projection/relational.ts';
export type { OrderStatus } from './projection/rows.ts';

export interface ProjectorOptions {
  /** Most journal records read and applied per transaction (default 1,000). */
  readonly pageSize?: number;
  /**
   * Bytes of records a page aims at (default 1 MB, ~8,000 commands of 512-command batches): after
   * each page the row limit follows the records' mean size, so a page of large batches stays a
   * statement Postgres applies in tens of ms, not one of hundreds of thousands of rows.
   */
  readonly pageBytes?: number;
  /** Called when a continuous run (start) fails a round; it retries on the next tick. */
  readonly onError?: (error: unknown) => void;
  /**
   * Where the projections are built when several processes follow the journal (consumerLocks.ts,
   * under the name RELATIONAL_PROJECTION): while the gate is closed a round applies nothing and
   * only reads the cursor, so waitFor and the lag follow the process that projects. Default: here.
   */
  readonly gate?: ConsumerGate;
}

export interface ProjectionLag {
  /** Journal records after the cursor. */
  readonly records: number;
  /** Age of the oldest unprojected record (0 when none). */
  readonly ms: number;
}

const LagRow = z.object({ tail: z.string(), oldest_ms: z.number().nullable() });

/**
 * Builds the relational projections (orders, trades, ledger_postings, balances; see the
 * 1763800000001_projections migration; market_lifecycle_events and audit_log, 1763800000020) from
 * the committed journal, in global_seq order (DESIGN.md principle 5). Each page of records is
 * applied by one statement that also moves the 'relational' cursor, so the tables always reflect a
 * prefix of the journal and a crash never applies a record twice. The cursor only moves from where
 * the page was read: if another projector moved it meanwhile, the statement changes nothing and the
 * run stops.
 *
 * The parts, one file each under projection/: fold.ts folds a page's records into its rows,
 * statement.ts writes them in one statement, scheduler.ts runs the pages of a round (pipelined) and
 * keeps what is known of the lag. This class runs the rounds (a tick, a waiter, a caller), one at a
 * time.
 *
 * Lag: the projector knows, without a query, the last global_seq it applied and the newest it has
 * seen committed (from its reads, or from noteCommitted, which the journal writer's owner may call
 * after every flush). lagRecords() and lagMs() read that in O(1) for the order-entry path; the
 * exchange_projection_lag_* gauges read the running projector (start) at scrape time.
 */
export class Projector implements ProjectionLagSource {
  readonly #pool: DatabasePool;
  readonly #pages: PageScheduler;
  readonly #onError: (error: unknown) => void;
  readonly #rounds: Rounds;

  constructor(pool: DatabasePool, options: ProjectorOptions = {}) {
    const pageSize = options.pageSize ?? 1_000;
    if (!Number.isSafeInteger(pageSize) || pageSize < 1) {
      throw new RangeError('pageSize must be a positive integer');
    }
    const pageBytes = options.pageBytes ?? 1_000_000;
    if (!(pageBytes > 0)) throw new RangeError('pageBytes must be positive');
    this.#pool = pool;
    this.#pages = new PageScheduler(pool, pageSize, pageBytes);
    this.#onError =
      options.onError ??
      ((error) => {
        console.error(error);
      });
    const pages = this.#pages;
    const gate = options.gate;
    gate?.want(RELATIONAL_PROJECTION);
    this.#rounds = new Rounds(
      () => (gate === undefined || gate.held(RELATIONAL_PROJECTION) ? pages.run() : pages.watch()),
      (error) => {
        this.#onError(error);
      },
      (halting) => {
        pages.halting = halting;
      },
    );
  }

  /**
   * Journal records committed but not yet projected, from memory (no query; cheap enough for every
   * placement). Pass the writer's last committed global_seq (JournalWriter.stats().lastGlobalSeq)
   * for an exact figure; without it, the newest this projector has seen (its last read or
   * noteCommitted). 0 before the projector's first read.
   */
  lagRecords(lastCommittedGlobalSeq?: number): number {
    return this.#pages.lagRecords(lastCommittedGlobalSeq);
  }

  /** Age in ms of the oldest committed record not yet projected, from memory; 0 when none is known. */
  lagMs(now = Date.now()): number {
    return this.#pages.lagMs(now);
  }

  /** Tells the projector that records up to globalSeq are committed (e.g. after each writer flush). */
  noteCommitted(globalSeq: number): void {
    this.#pages.noteCommitted(globalSeq);
  }

  /** The newest committed global_seq this projector knows of (its reads, or noteCommitted). */
  get committedGlobalSeq(): number {
    return this.#pages.committedGlobalSeq;
  }

  /**
   * Resolves true once the projections hold every journal record up to `globalSeq` (at once when
   * they do already), false when `timeoutMs` passes first. A waiter starts a round now rather than
   * at the next tick, and rounds follow each other while they make progress toward it, so a read
   * that waits costs about one round, not the tick interval.
   */
  waitFor(globalSeq: number, timeoutMs: number): Promise<boolean> {
    if (this.#pages.projected >= globalSeq) return Promise.resolve(true);
    const reached = this.#pages.wait(globalSeq, timeoutMs);
    if (!this.#rounds.busy) this.#kick();
    return reached;
  }

  /** A round for the waiters; its failure is reported like a tick's, and the tick retries. */
  #kick(): void {
    this.runOnce().then(
      (applied) => {
        // Progress and still someone waiting: go on (no progress: the next tick tries again).
        if (applied > 0 && this.#pages.waiting && !this.#rounds.busy) this.#kick();
      },
      (error: unknown) => {
        this.#onError(error);
      },
    );
  }

  /** Applies every committed record after the cursor; resolves with how many were applied. */
  runOnce(): Promise<number> {
    return this.#rounds.runOnce();
  }

  /** Catches up every intervalMs until stop(); meanwhile the lag gauges read this projector. */
  start(intervalMs = 50): void {
    if (this.#rounds.start(intervalMs)) setProjectionLagSource(this);
  }

  /** Stops the continuous run; resolves once a round in flight has finished. */
  async stop(): Promise<void> {
    clearProjectionLagSource(this);
    await this.#rounds.stop();
  }

  /** How far the projections are behind the journal, asked of the database (ms: since the commit of the record after the cursor). */
  async lag(): Promise<ProjectionLag> {
    const row = await this.#pool.one(sql.type(LagRow)`
      WITH c AS (
        SELECT coalesce(
          (SELECT global_seq FROM projection_cursors WHERE projection = ${RELATIONAL_PROJECTION}), 0
        ) AS global_seq
      )
      SELECT
        (coalesce((SELECT max(global_seq) FROM journal), 0) - c.global_seq)::text AS tail,
        (SELECT (extract(epoch FROM clock_timestamp() - j.committed_at) * 1000)::float8
           FROM journal j WHERE j.global_seq > c.global_seq
           ORDER BY j.global_seq LIMIT 1) AS oldest_ms
      FROM c`);
    const records = Math.max(0, safeInteger(row.tail, 'lag'));
    return { records, ms: records === 0 ? 0 : Math.max(0, row.oldest_ms ?? 0) };
  }
}

/**
 * Empties the relational projections and resets their cursor, in one transaction: the next
 * Projector run rebuilds them from the start of the journal.
 */
export async function resetProjections(pool: DatabasePool): Promise<void> {
  await pool.transaction(async (tx) => {
    await tx.query(
      sql.unsafe`TRUNCATE trades, orders, ledger_postings, balances, market_lifecycle_events, audit_log`,
    );
    await tx.query(sql.unsafe`
      INSERT INTO projection_cursors (projection, global_seq) VALUES (${RELATIONAL_PROJECTION}, 0)
      ON CONFLICT (projection) DO UPDATE SET global_seq = 0, updated_at = now()`);
  });
}

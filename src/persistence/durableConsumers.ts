import { sql, type DatabasePool, type DatabaseTransactionConnection } from 'slonik';
import { z } from 'zod';
import { foldBatch } from '../events/fold.ts';
import type { CommittedBatch } from '../events/stream.ts';
import type { ConsumerGate } from './consumerLocks.ts';
import { decodeBatch } from './journalCodec.ts';
import { Rounds } from './rounds.ts';

/*
 * The durable consumers of the committed event stream (src/events/stream.ts): each a name, a
 * cursor row of its own in projection_cursors, and pages of journal records after it, decoded and
 * folded with the stream's one fold. A page's effects and the cursor's move commit in one
 * transaction with the cursor row locked, so each consumer sees every event exactly once, in
 * global_seq order, across restarts and with more than one runner.
 */

/** A journal record as a durable consumer sees it. */
export interface CommittedRecord extends CommittedBatch {
  readonly globalSeq: number;
}

/** A page of records: every record after `from` up to `to`, gapless, in global_seq order. */
export interface EventPage {
  readonly from: number;
  readonly to: number;
  readonly records: readonly CommittedRecord[];
}

/** A consumer whose effects are in Postgres: applied in the transaction that moves its cursor. */
export interface DurableConsumer {
  /** Its cursor's name (a row of projection_cursors); stable across releases. */
  readonly name: string;
  /** Applies a page's effects in `tx`; throwing rolls them back with the cursor (the page is retried). */
  apply(tx: DatabaseTransactionConnection, page: EventPage): Promise<void>;
  /**
   * Called once the page's transaction committed (its effects are durable and visible), in page
   * order; for what may follow only a commit, such as pushes. Not called for a page rolled back.
   * A throw is reported to onError; the cursor has moved regardless.
   */
  committed?(page: EventPage): void;
}

/**
 * Thrown by a consumer's apply when it cannot apply the page yet (what it reads is not there yet,
 * e.g. the notifier's holders before the relational projection passed the page). The page's
 * transaction rolls back with the cursor and the page is taken again next round; the round ends
 * without an error. The runner catches it outside the transaction but inside the connection's
 * handler, so the connection goes back to the pool: slonik destroys a connection whose handler
 * threw, and a new Postgres session for every retried page cost more than the page.
 */
export class PageNotReady extends Error {
  override readonly name: string = 'PageNotReady';
}

export interface DurableConsumerOptions {
  /** Most records per page (one transaction); default 500. */
  readonly pageSize?: number;
  /** Called when a continuous run (start) fails a round; it retries on the next tick. */
  readonly onError?: (error: unknown) => void;
  /**
   * Where the consumer runs when several processes follow the journal (consumerLocks.ts): a round
   * while the gate is closed applies nothing and only reads the cursor (at most every
   * IDLE_CHECK_MS), for `onCursor`. Default: here, always.
   */
  readonly gate?: ConsumerGate;
  /** The cursor as another process moved it (read while the gate is closed). */
  readonly onCursor?: (globalSeq: number) => void;
}

const CursorRow = z.object({ global_seq: z.string() });
const PageRow = z.object({
  cursor: z.string(),
  global_seq: z.string().nullable(),
  record: z.instanceof(Buffer).nullable(),
});

/**
 * Decoded journal records shared by the runners of one pool (the portfolio, rollups and notifier
 * consumers read the same records within milliseconds of each other): one decode and fold per
 * record instead of one per consumer. An entry is used only for the same bytes (a journal row is
 * never rewritten; the comparison also keeps two databases with the same global_seq apart). The
 * events are shared: consumers only read them (readonly types).
 */
class DecodedRecords {
  static readonly #byPool = new WeakMap<DatabasePool, DecodedRecords>();
  static of(pool: DatabasePool): DecodedRecords {
    let cache = DecodedRecords.#byPool.get(pool);
    if (cache === undefined) DecodedRecords.#byPool.set(pool, (cache = new DecodedRecords()));
    return cache;
  }

  /** Most records kept (oldest out first). */
  static readonly SIZE = 512;
  readonly #records = new Map<number, { readonly bytes: Buffer; readonly record: CommittedRecord }>();

  get(globalSeq: number, bytes: Buffer): CommittedRecord {
    const hit = this.#records.get(globalSeq);
    if (hit !== undefined && hit.bytes.equals(bytes)) return hit.record;
    const batch = decodeBatch(bytes);
    const record: CommittedRecord = { globalSeq, batch, events: foldBatch(batch) };
    this.#records.delete(globalSeq);
    this.#records.set(globalSeq, { bytes, record });
    if (this.#records.size > DecodedRecords.SIZE) {
      const oldest = this.#records.keys().next().value as number;
      this.#records.delete(oldest);
    }
    return record;
  }
}

/** With a committed global_seq noted (noteCommitted), an idle tick still asks Postgres this often. */
const IDLE_CHECK_MS = 1_000;

function seqOf(text: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value)) throw new RangeError(`global_seq ${text} is not a safe integer`);
  return value;
}

/** Runs one durable consumer: pages after its cursor, each with its effects in one transaction. */
export class DurableConsumerRunner {
  readonly #pool: DatabasePool;
  readonly #consumer: DurableConsumer;
  readonly #pageSize: number;
  readonly #onError: (error: unknown) => void;
  readonly #rounds: Rounds;
  readonly #decoded: DecodedRecords;
  readonly #gate: ConsumerGate | undefined;
  readonly #onCursor: ((globalSeq: number) => void) | undefined;
  /** Set by stop(): a round in progress ends after its current page. */
  #halting = false;
  /** The newest committed global_seq noted (noteCommitted); -1: never told, every tick asks Postgres. */
  #committed = -1;
  /** The cursor as of this runner's last page (-1: none yet). */
  #cursorSeen = -1;
  /** Date.now() at this runner's last page. */
  #checkedAt = 0;

  constructor(pool: DatabasePool, consumer: DurableConsumer, options: DurableConsumerOptions = {}) {
    const pageSize = options.pageSize ?? 500;
    if (!Number.isSafeInteger(pageSize) || pageSize < 1) {
      throw new RangeError('pageSize must be a positive integer');
    }
    this.#pool = pool;
    this.#decoded = DecodedRecords.of(pool);
    this.#consumer = consumer;
    this.#pageSize = pageSize;
    this.#gate = options.gate;
    this.#onCursor = options.onCursor;
    this.#gate?.want(consumer.name);
    this.#onError =
      options.onError ??
      ((error) => {
        console.error(error);
      });
    this.#rounds = new Rounds(
      () => (this.#gate === undefined || this.#gate.held(consumer.name) ? this.#catchUp() : this.#standBy()),
      (error) => {
        this.#onError(error);
      },
      (halting) => {
        this.#halting = halting;
      },
    );
  }

  /** The consumer's cursor: the last global_seq whose effects committed (0 before any). */
  async cursor(): Promise<number> {
    const row = await this.#pool.maybeOne(sql.type(CursorRow)`
      SELECT global_seq::text AS global_seq FROM projection_cursors
      WHERE projection = ${this.#consumer.name}`);
    return row === null ? 0 : seqOf(row.global_seq);
  }

  /** Applies every committed record after the cursor, page by page; resolves with how many. */
  runOnce(): Promise<number> {
    // One round at a time in this process; other processes wait on the cursor row's lock.
    return this.#rounds.runOnce();
  }

  /**
   * Tells the runner that journal records up to globalSeq are committed (the journal writer's
   * owner calls it after every flush). Once told, a tick of start() that knows of nothing after
   * the cursor runs no transaction; it still asks Postgres at least every IDLE_CHECK_MS, for
   * records committed by another process.
   */
  noteCommitted(globalSeq: number): void {
    if (globalSeq > this.#committed) this.#committed = globalSeq;
  }

  /** Catches up every intervalMs until stop(). */
  start(intervalMs = 50): void {
    this.#rounds.start(intervalMs, () => this.#idle());
  }

  /** Nothing known after the cursor, and Postgres was asked less than IDLE_CHECK_MS ago. */
  #idle(): boolean {
    return (
      this.#committed >= 0 &&
      this.#cursorSeen >= this.#committed &&
      Date.now() - this.#checkedAt < IDLE_CHECK_MS
    );
  }

  /** Stops the continuous run; resolves once a round in flight has finished. */
  stop(): Promise<void> {
    return this.#rounds.stop();
  }

  /** Another process runs the consumer: read its cursor now and then, apply nothing. */
  async #standBy(): Promise<number> {
    if (Date.now() - this.#checkedAt < IDLE_CHECK_MS) return 0;
    this.#checkedAt = Date.now();
    const cursor = await this.cursor();
    this.#cursorSeen = cursor;
    this.#onCursor?.(cursor);
    return 0;
  }

  async #catchUp(): Promise<number> {
    let total = 0;
    for (;;) {
      const applied = await this.#page();
      total += applied;
      if (applied < this.#pageSize) return total;
      if (this.#halting) return total;
    }
  }

  /**
   * One page in one transaction: lock the cursor and read the records after it (one statement;
   * the cursor row is made first if it does not exist), apply, move it.
   */
  async #page(): Promise<number> {
    let committed: EventPage | undefined;
    const applied = await this.#pool.connect(async (connection) => {
      try {
        return await connection.transaction((tx) => this.#pageIn(tx, (page) => (committed = page)));
      } catch (error) {
        if (error instanceof PageNotReady) return 0;
        throw error;
      }
    });
    if (committed === undefined) return applied;
    this.#cursorSeen = committed.to;
    if (this.#consumer.committed !== undefined) {
      try {
        this.#consumer.committed(committed);
      } catch (error) {
        this.#onError(error);
      }
    }
    return applied;
  }

  /** The page's work inside its transaction; `applied` is told the page once it is applied. */
  async #pageIn(tx: DatabaseTransactionConnection, applied: (page: EventPage) => void): Promise<number> {
    const name = this.#consumer.name;
    const read = () =>
      tx.any(sql.type(PageRow)`
        WITH c AS (
          SELECT global_seq FROM projection_cursors WHERE projection = ${name} FOR UPDATE
        )
        SELECT c.global_seq::text AS cursor, j.global_seq::text AS global_seq, j.record
        FROM c LEFT JOIN LATERAL (
          SELECT global_seq, record FROM journal
          WHERE journal.global_seq > c.global_seq ORDER BY journal.global_seq LIMIT ${this.#pageSize}
        ) j ON true`);
    let rows = await read();
    if (rows.length === 0) {
      await tx.query(sql.unsafe`
        INSERT INTO projection_cursors (projection, global_seq) VALUES (${name}, 0)
        ON CONFLICT (projection) DO NOTHING`);
      rows = await read();
    }
    const cursor = seqOf(rows[0]!.cursor);
    const records: CommittedRecord[] = [];
    let expected = cursor + 1;
    for (const row of rows) {
      if (row.global_seq === null || row.record === null) break;
      const globalSeq = seqOf(row.global_seq);
      if (globalSeq !== expected) break; // not yet visible: the next round takes it
      records.push(this.#decoded.get(globalSeq, row.record));
      expected++;
    }
    this.#checkedAt = Date.now();
    if (records.length === 0) {
      this.#cursorSeen = cursor;
      return 0;
    }
    const to = expected - 1;
    const page: EventPage = { from: cursor, to, records };
    await this.#consumer.apply(tx, page);
    await tx.query(sql.unsafe`
      UPDATE projection_cursors SET global_seq = ${to}, updated_at = now() WHERE projection = ${name}`);
    applied(page);
    return records.length;
  }
}

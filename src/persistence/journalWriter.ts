// Over ~400 lines as one concept: the group-commit writer. Its queue, flush and failure rewind share
// one state (the global sequence, the flush in flight); the class comment keeps the measurements.
import { performance } from 'node:perf_hooks';
import {
  sql,
  type CommonQueryMethods,
  type DatabasePool,
  type FragmentSqlToken,
  type ListSqlToken,
} from 'slonik';
import { z } from 'zod';
import { EXTERNAL_ACCOUNT } from '../actors/ledger/types.ts';
import type { BatchSink, JournalBatch } from '../actors/market/types.ts';
import { encodeBatch } from './journalCodec.ts';
import type { OwnershipFence } from './owner.ts';
import { marketEpochFence, type MarketEpoch } from '../cluster/epochs.ts';

export interface JournalWriterOptions {
  /** Most records in one flush (one transaction); a flush starts as soon as this many are pending. */
  readonly maxRecords?: number;
  /** Most bytes of records in one flush (a single larger record still goes, alone). */
  readonly maxFlushBytes?: number;
  /** A flush starts at the latest this long after the first record of the next flush was queued. */
  readonly flushIntervalMs?: number;
  /** canAccept() is false while this many records are not yet committed (queued or being written). */
  readonly maxPending?: number;
  /** canAccept() is false while the uncommitted records hold this many bytes. */
  readonly maxPendingBytes?: number;
  /**
   * The journal holds records this writer was told had failed (a COMMIT whose outcome was lost with
   * the connection): memory and the durable truth disagree. The writer refuses every commit from
   * then on; the default fails stop (rethrows outside any promise) so recovery rebuilds from the
   * journal.
   */
  readonly onFatal?: (error: Error) => void;
  /** After each committed flush, with the last global_seq it made durable (projection lag figures). */
  readonly onCommitted?: (lastGlobalSeq: number) => void;
  /** Figures of every flush (src/persistence/metrics.ts feeds /metrics from them). */
  readonly observe?: JournalObserver;
  /**
   * The database ownership (owner.ts). With it, a flush refuses to write once the ownership is
   * lost, and its INSERT lands only while `exchange_owner` still holds the fence's token (read
   * FOR SHARE, so a new owner's claim waits for the flush in flight): either refusal turns the
   * writer fatal (see `onFatal`), since another exchange may be writing the journal now.
   * Measured (2 cores shared, load ~11, 4 alternating rounds of 1,500 one-record flushes and of
   * 20,000 grouped records): no difference above the noise (130–204 against 141–193 flushes/s;
   * 32k–64k against 35k–47k records/s); the row lock rides in the INSERT, no extra round trip.
   */
  readonly fence?: OwnershipFence;
  /**
   * The per-market fence of an engine (src/cluster/epochs.ts, docs/scale-out.md): the epoch this
   * writer holds for each market of a flush. With it, each flush first reads those markets'
   * `market_epochs` rows FOR SHARE in its transaction and writes only if every one still holds
   * our epoch (an extra statement per flush; ROLE=all does not set it). A refusal is fatal.
   */
  readonly marketFence?: (marketIds: readonly string[]) => readonly MarketEpoch[];
  /**
   * Shared writer mode (an engine of ROLE=engine, docs/scale-out.md "Shared journal"): several
   * writers on one journal. Each flush takes its global_seq range from the `journal_head` row in
   * its transaction (the row lock serialises the writers' commits: commit order = global_seq
   * order), marks its rows with `writer`, and, with `funds`, applies its batches' changes of
   * available balances to `cluster_funds`, whose CHECK refuses a batch that would spend what
   * another engine spent already (JournalFundsError: the flush commits nothing, the writer stays
   * usable).
   */
  readonly shared?: { readonly writer: string; readonly funds: boolean };
  /**
   * A writer that writes nothing (ROLE=gateway: a replica of the journal): every commit is refused
   * with this message, so what would change state answers `unavailable`.
   */
  readonly readOnly?: string;
}

/** One committed flush, as the metrics see it. */
export interface JournalFlush {
  readonly records: number;
  readonly bytes: number;
  /** From the first record of the flush being queued to its COMMIT returning. */
  readonly latencySeconds: number;
  /** The write transaction alone. */
  readonly transactionSeconds: number;
}

export interface JournalObserver {
  flushed(flush: JournalFlush): void;
  failed(): void;
}

export interface JournalWriterStats {
  /** Flushes committed. */
  readonly flushes: number;
  /** Records committed. */
  readonly records: number;
  readonly failedFlushes: number;
  /** From the first record of the last committed flush being queued to its COMMIT returning. */
  readonly lastCommitLatencyMs: number;
  readonly lastFlushRecords: number;
  /** Records queued or being written. */
  readonly pending: number;
  readonly pendingBytes: number;
  /** Global sequence of the last committed record (0 when the journal is empty). */
  readonly lastGlobalSeq: number;
}

/**
 * A shared-mode flush refused by the debit fence (`cluster_funds`): one of its batches spends an
 * available balance that the committed journal (another engine's batch) has spent already.
 * Nothing of the flush is in the journal; not fatal.
 */
export class JournalFundsError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'JournalFundsError';
  }
}

/** A commit refused: nothing of the batch is in the journal. */
export class JournalWriteError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'JournalWriteError';
  }
}

interface Queued {
  /** Assigned at commit() by a single writer, at the flush by a shared one. */
  globalSeq: number;
  readonly marketId: string;
  readonly seqFrom: number;
  readonly seqTo: number;
  readonly record: Buffer;
  /** Shared mode with funds: the batch's changes of available balances, `account\u0000asset` → delta. */
  readonly funds: ReadonlyMap<string, bigint> | undefined;
  readonly queuedAt: number;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

const JournalTail = z.object({ global_seq: z.string(), flush_id: z.string() });
const MaxGlobalSeq = z.object({ global_seq: z.string() });
const HeadSeq = z.object({ seq: z.string() });
const CHECK_VIOLATION = '23514';
const SharedFlushRow = z.object({
  base: z.string().nullable(),
  inserted: z.number(),
  fenced: z.boolean(),
  funds: z.number(),
});

const failStop = (error: Error): void => {
  setImmediate(() => {
    throw error;
  });
};

/**
 * The group-commit journal writer (DESIGN.md principles 4, 5, 7): every market's batches, in the
 * order they were processed, become journal rows with a gap-free global sequence; a commit()
 * resolves only once the transaction holding its row has committed, so acks follow durability.
 *
 * Records queue up and are written by one multi-row INSERT ... SELECT FROM unnest(...) per flush,
 * one flush (transaction) at a time: while one is in flight the next accumulates. A flush starts
 * when `maxRecords` (or `maxFlushBytes`) are queued or `flushIntervalMs` after the first queued
 * record, whichever is first (right after the previous flush when it is already due), and takes at
 * most that many records and bytes.
 *
 * Why one flush at a time, on one connection: two overlapping transactions can commit out of
 * order, so a later flush could be durable while an earlier one fails — a gap in the global
 * sequence, and durable batches that depend on undone ones (replay would diverge from what was
 * acked). Measured (2 cores, Postgres 15 on the same machine, fsync on, same unnest insert): a
 * second connection does raise raw throughput, 1.3–1.6× (500 rows of 116 B per flush: 64k → 99k
 * rows/s; 500 × 1 KB: 20k → 33k rows/s; 10 × 116 B: 9.3k → 11.9k rows/s), because one flush's
 * INSERT overlaps the other's WAL flush. It is not used here for the reason above; the safe way to
 * get most of it is to run the next flush's INSERT while the previous COMMIT is in flight and send
 * its COMMIT only after the previous one succeeded (rolling it back if that failed).
 * Through this writer (same machine, one outstanding batch per market as the supervisor did then):
 * 1 market 400 records/s (one ~2.5 ms fsync per flush), 10 markets 4k/s, 100 markets 23.5k/s,
 * 1000 markets 40k records/s at 1000 records per flush (~40 ms commit latency); 100 markets with
 * 10 commands per batch 8.6k records = 86k commands/s.
 * Since the supervisor pipelines (several batches per market outstanding), a second flush in
 * flight was measured again on the persistence benchmark's durable phase (20 markets, batches of
 * 512, 4 batches in flight per market; an unordered two-flush variant, i.e. the upper bound of any
 * overlap): no gain (30k and 22k orders/s against 37k and 39k with one flush at a time, same
 * conditions, load average ~5), because the event loop — matching plus encoding records in
 * commit() — is the limit there, not Postgres. So one flush at a time stays.
 *
 * A failed flush (any error: Postgres unreachable, a constraint...) rejects every batch of that flush
 * and every batch queued behind it, newest first (the supervisor undoes ledger postings in its
 * rejection handlers, in reverse processing order), and rewinds the global sequence to the last
 * committed record. The writer stays usable: the next commit() tries again. The first flush after a
 * failure checks that the journal ends where the writer believes (a COMMIT can succeed while its
 * reply is lost); if not, the writer turns fatal (see `onFatal`).
 *
 * Backpressure: canAccept() turns false at `maxPending` records or `maxPendingBytes` bytes not yet
 * committed; commit() still takes what it is given (each market has at most the supervisor's
 * maxBatchesInFlight batches outstanding, so the queue is bounded by that times the number of
 * markets) — callers should stop draining
 * mailboxes while it is false (whenAccepting() resolves when it turns true again), which lets
 * mailboxes fill and answer `overloaded`.
 */
export class JournalWriter implements BatchSink {
  readonly maxRecords: number;
  readonly maxFlushBytes: number;
  readonly flushIntervalMs: number;
  readonly maxPending: number;
  readonly maxPendingBytes: number;

  private queue: Queued[] = [];
  private inFlight: Promise<void> | undefined;
  private inFlightRecords = 0;
  private pendingBytes = 0;
  private queuedBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  /** The flush interval has elapsed for the queued records: flush as soon as nothing is in flight. */
  private due = false;
  private nextGlobalSeq: number;
  private lastCommitted: number;
  private nextFlushId: number;
  /** Set by a failed flush: the next one verifies the journal's tail before writing. */
  private verifyTail = false;
  private fatal: Error | undefined;
  private closing = false;
  private closed = false;
  private acceptWaiters: (() => void)[] = [];

  private flushes = 0;
  private records = 0;
  private failedFlushes = 0;
  private lastCommitLatencyMs = 0;
  private lastFlushRecords = 0;

  private constructor(
    private readonly pool: DatabasePool,
    tail: { readonly globalSeq: number; readonly flushId: number },
    private readonly options: JournalWriterOptions,
  ) {
    this.maxRecords = positive('maxRecords', options.maxRecords ?? 1_000);
    this.maxFlushBytes = positive('maxFlushBytes', options.maxFlushBytes ?? 8 * 1024 * 1024);
    this.flushIntervalMs = nonNegative('flushIntervalMs', options.flushIntervalMs ?? 1);
    this.maxPending = positive('maxPending', options.maxPending ?? 10_000);
    this.maxPendingBytes = positive('maxPendingBytes', options.maxPendingBytes ?? 64 * 1024 * 1024);
    this.lastCommitted = tail.globalSeq;
    this.nextGlobalSeq = tail.globalSeq + 1;
    this.nextFlushId = tail.flushId + 1;
  }

  /** A writer continuing the journal after its last record. */
  static async open(pool: DatabasePool, options: JournalWriterOptions = {}): Promise<JournalWriter> {
    if (options.shared !== undefined) {
      // ROLE=all writes without moving the head: after it ran on this database the head catches up.
      await pool.query(sql.unsafe`
        UPDATE journal_head SET seq = greatest(seq, (SELECT coalesce(max(global_seq), 0) FROM journal))
        WHERE id = 1`);
    }
    const tail = await pool.one(sql.type(JournalTail)`
      SELECT coalesce(max(global_seq), 0)::text AS global_seq, coalesce(max(flush_id), 0)::text AS flush_id
      FROM journal`);
    return new JournalWriter(
      pool,
      { globalSeq: safeInteger(tail.global_seq), flushId: safeInteger(tail.flush_id) },
      options,
    );
  }

  /**
   * Journals a batch: resolves once the transaction holding it has committed; rejects (with
   * nothing of it in the journal) when its flush fails or the writer is closed.
   */
  commit(batch: JournalBatch): Promise<void> {
    if (this.fatal !== undefined) return Promise.reject(this.fatal);
    if (this.closing) return Promise.reject(new JournalWriteError('the journal writer is closed'));
    if (this.options.readOnly !== undefined)
      return Promise.reject(new JournalWriteError(this.options.readOnly));
    const first = batch.entries[0];
    const last = batch.entries.at(-1);
    // An empty batch changed nothing; there is nothing to make durable.
    if (first === undefined || last === undefined) return Promise.resolve();
    let record: Buffer;
    try {
      record = encodeBatch(batch);
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    const funds = this.options.shared?.funds === true ? availableChanges(batch) : undefined;
    return new Promise<void>((resolve, reject) => {
      this.queue.push({
        globalSeq: this.options.shared === undefined ? this.nextGlobalSeq++ : 0,
        marketId: batch.marketId,
        seqFrom: first.seq,
        seqTo: last.seq,
        record,
        funds,
        queuedAt: performance.now(),
        resolve,
        reject,
      });
      this.pendingBytes += record.length;
      this.queuedBytes += record.length;
      if (this.queue.length === 1 && !this.due) this.startTimer();
      this.maybeFlush();
    });
  }

  /**
   * False while the uncommitted records reach `maxPending` or `maxPendingBytes`. Capacity only: a
   * closed or fatal writer still says true, so commits are tried and refused (`unavailable` to
   * clients) rather than markets stalling.
   */
  canAccept(): boolean {
    return (
      this.queue.length + this.inFlightRecords < this.maxPending && this.pendingBytes < this.maxPendingBytes
    );
  }

  /** Resolves once canAccept() is true (at once when it is): an alternative to polling canAccept(). */
  whenAccepting(): Promise<void> {
    if (this.canAccept()) return Promise.resolve();
    return new Promise((resolve) => this.acceptWaiters.push(resolve));
  }

  stats(): JournalWriterStats {
    return {
      flushes: this.flushes,
      records: this.records,
      failedFlushes: this.failedFlushes,
      lastCommitLatencyMs: this.lastCommitLatencyMs,
      lastFlushRecords: this.lastFlushRecords,
      pending: this.queue.length + this.inFlightRecords,
      pendingBytes: this.pendingBytes,
      lastGlobalSeq: this.lastCommitted,
    };
  }

  /** Writes what is queued (settling every commit), then refuses further commits. */
  async close(): Promise<void> {
    this.closing = true;
    this.due = true;
    this.maybeFlush();
    while (this.inFlight !== undefined) {
      await this.inFlight;
      this.maybeFlush();
    }
    this.clearTimer();
    this.closed = true;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private startTimer(): void {
    this.clearTimer();
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.due = true;
      this.maybeFlush();
    }, this.flushIntervalMs);
  }

  private clearTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private maybeFlush(): void {
    if (this.inFlight !== undefined || this.queue.length === 0) return;
    if (!this.due && this.queue.length < this.maxRecords && this.queuedBytes < this.maxFlushBytes) return;
    let count = 0;
    let bytes = 0;
    for (const r of this.queue) {
      if (count === this.maxRecords || (count > 0 && bytes + r.record.length > this.maxFlushBytes)) break;
      bytes += r.record.length;
      count++;
    }
    const records = this.queue.splice(0, count);
    this.queuedBytes -= bytes;
    this.clearTimer();
    // Records left behind have waited at least as long as these: they go right after this flush.
    this.due = this.queue.length > 0;
    this.inFlightRecords = records.length;
    this.inFlight = this.flush(records);
  }

  private async flush(records: Queued[]): Promise<void> {
    const flushId = this.nextFlushId++;
    const started = performance.now();
    try {
      await this.write(records, flushId);
    } catch (error) {
      this.inFlight = undefined;
      this.inFlightRecords = 0;
      this.options.observe?.failed();
      this.failed(records, flushId, error);
      this.notifyAccepting();
      return;
    }
    this.inFlight = undefined;
    this.inFlightRecords = 0;
    const now = performance.now();
    this.lastCommitted = records.at(-1)!.globalSeq;
    this.options.onCommitted?.(this.lastCommitted);
    this.verifyTail = false;
    this.flushes++;
    this.records += records.length;
    this.lastFlushRecords = records.length;
    this.lastCommitLatencyMs = now - records[0]!.queuedAt;
    let bytes = 0;
    for (const r of records) {
      bytes += r.record.length;
      this.pendingBytes -= r.record.length;
      r.resolve();
    }
    this.options.observe?.flushed({
      records: records.length,
      bytes,
      latencySeconds: this.lastCommitLatencyMs / 1000,
      transactionSeconds: (now - started) / 1000,
    });
    this.maybeFlush();
    this.notifyAccepting();
  }

  private notifyAccepting(): void {
    if (this.acceptWaiters.length === 0 || !this.canAccept()) return;
    const waiters = this.acceptWaiters;
    this.acceptWaiters = [];
    for (const resolve of waiters) resolve();
  }

  private async write(records: readonly Queued[], flushId: number): Promise<void> {
    const expectedTail = this.verifyTail ? this.lastCommitted : undefined;
    const fence = this.options.fence;
    const lost = fence?.lost();
    if (lost !== undefined) {
      this.fatal = new JournalWriteError(`the journal writer refuses to write: ${lost.message}`, {
        cause: lost,
      });
      throw this.fatal;
    }
    const shared = this.options.shared;
    if (shared !== undefined && expectedTail === undefined) {
      await this.writeShared(records, flushId, shared);
      return;
    }
    await this.pool.transaction(async (tx) => {
      if (expectedTail !== undefined) await this.verifyJournalTail(tx, expectedTail);
      if (shared !== undefined) {
        // The head's row lock is held to COMMIT: writers commit one at a time, in global_seq order.
        const head = await tx.one(sql.type(HeadSeq)`
          UPDATE journal_head SET seq = seq + ${records.length} WHERE id = 1 RETURNING seq::text AS seq`);
        let globalSeq = safeInteger(head.seq) - records.length;
        for (const r of records) r.globalSeq = ++globalSeq;
      }
      const marketFence = this.options.marketFence;
      const epochs =
        marketFence === undefined ? undefined : marketFence([...new Set(records.map((r) => r.marketId))]);
      const fenced = epochs === undefined || epochs.length === 0 ? undefined : marketEpochFence(epochs);
      const withs: FragmentSqlToken[] = [];
      const conditions: FragmentSqlToken[] = [];
      if (fence !== undefined) {
        withs.push(sql.fragment`owner AS (
          SELECT 1 FROM exchange_owner WHERE id = 1 AND token = ${fence.token}::int8 FOR SHARE
        )`);
        conditions.push(sql.fragment`EXISTS (SELECT 1 FROM owner)`);
      }
      if (fenced !== undefined) {
        withs.push(fenced.cte);
        conditions.push(fenced.holds);
      }
      // The records travel as one binary parameter, each row its slice (1-based offsets): a bytea
      // array parameter is hex text, encoded here and parsed by Postgres (issue 21).
      const blob = Buffer.concat(records.map((r) => r.record));
      const inserted = await tx.query(sql.unsafe`
        ${withs.length === 0 ? sql.fragment`` : sql.fragment`WITH ${sql.join(withs, sql.fragment`, `)}`}
        INSERT INTO journal (global_seq, market_id, seq_from, seq_to, flush_id, writer, record)
        SELECT g, m, f, t, ${flushId}::int8, ${shared?.writer ?? null}::text,
          substring(${sql.binary(blob)}::bytea FROM o FOR n)
        FROM unnest(
          ${sql.array(
            records.map((r) => r.globalSeq),
            'int8',
          )},
          ${recordColumns(records)}
        ) AS u(g, m, f, t, o, n)
        ${conditions.length === 0 ? sql.fragment`` : sql.fragment`WHERE ${sql.join(conditions, sql.fragment` AND `)}`}`);
      if (inserted.rowCount !== records.length) {
        this.fatal = new JournalWriteError(
          fenced !== undefined && epochs !== undefined
            ? `the journal writer refuses to write: a market of this flush has a newer owner than epochs ` +
                epochs.map((e) => `${e.marketId}@${e.epoch}`).join(', ')
            : `the journal writer refuses to write: this exchange's ownership (token ${String(fence?.token)}) was ` +
                'taken over by another exchange',
        );
        throw this.fatal;
      }
      if (shared?.funds === true) await applyFunds(tx, records);
    });
  }

  /**
   * A shared-mode flush as ONE statement, outside any transaction (one round trip instead of six:
   * BEGIN, head, INSERT, credits, debits, COMMIT). The head's UPDATE happens only if the market fence
   * holds and every debited balance exists; the rows take their global_seq from it and the funds
   * CTEs run only with it, so when it does not happen nothing is written and the head does not move
   * (no gap). A debit below zero violates cluster_funds' CHECK and the whole statement fails. The head's
   * row lock lasts only this statement: commit order is still global_seq order.
   */
  private async writeShared(
    records: readonly Queued[],
    flushId: number,
    shared: { readonly writer: string; readonly funds: boolean },
  ): Promise<void> {
    const marketFence = this.options.marketFence;
    const epochs =
      marketFence === undefined ? undefined : marketFence([...new Set(records.map((r) => r.marketId))]);
    const fenced = epochs === undefined || epochs.length === 0 ? undefined : marketEpochFence(epochs);
    const total = new Map<string, bigint>();
    if (shared.funds) {
      for (const r of records) {
        if (r.funds === undefined) continue;
        for (const [key, delta] of r.funds) total.set(key, (total.get(key) ?? 0n) + delta);
      }
    }
    const keys = [...total.keys()].filter((k) => total.get(k) !== 0n).sort();
    const credits = keys.filter((k) => total.get(k)! > 0n);
    const debits = keys.filter((k) => total.get(k)! < 0n);
    const column = (pick: readonly string[], i: 0 | 1) =>
      sql.array(
        pick.map((k) => k.split('\u0000')[i]!),
        'text',
      );
    const amounts = (pick: readonly string[]) =>
      sql.array(
        pick.map((k) => String(total.get(k))),
        'numeric',
      );
    const blob = Buffer.concat(records.map((r) => r.record));
    const n = records.length;
    const fenceHolds = fenced === undefined ? sql.fragment`true` : fenced.holds;
    const debitsExist =
      debits.length === 0
        ? sql.fragment`true`
        : sql.fragment`(SELECT count(*) FROM cluster_funds c
            JOIN unnest(${column(debits, 0)}, ${column(debits, 1)}) AS k(a, s) ON c.account = k.a AND c.asset = k.s
          ) = ${debits.length}`;
    let row: z.infer<typeof SharedFlushRow>;
    try {
      row = await this.pool.one(sql.type(SharedFlushRow)`
        WITH ${fenced === undefined ? sql.fragment`` : sql.fragment`${fenced.cte},`}
        head AS (
          UPDATE journal_head SET seq = seq + ${n} WHERE id = 1 AND ${fenceHolds} AND ${debitsExist}
          RETURNING seq - ${n} AS base
        ),
        ins AS (
          INSERT INTO journal (global_seq, market_id, seq_from, seq_to, flush_id, writer, record)
          SELECT head.base + u.i, u.m, u.f, u.t, ${flushId}::int8, ${shared.writer}::text,
            substring(${sql.binary(blob)}::bytea FROM u.o FOR u.len)
          FROM head, unnest(
            ${recordColumns(records)}
          ) WITH ORDINALITY AS u(m, f, t, o, len, i)
          RETURNING 1
        ),
        credits AS (
          INSERT INTO cluster_funds (account, asset, available)
          SELECT a, s, d FROM head, unnest(${column(credits, 0)}, ${column(credits, 1)}, ${amounts(credits)}) AS u(a, s, d)
          ON CONFLICT (account, asset) DO UPDATE SET available = cluster_funds.available + excluded.available
          RETURNING 1
        ),
        debits AS (
          UPDATE cluster_funds c SET available = c.available + u.d
          FROM head, unnest(${column(debits, 0)}, ${column(debits, 1)}, ${amounts(debits)}) AS u(a, s, d)
          WHERE c.account = u.a AND c.asset = u.s
          RETURNING 1
        )
        SELECT (SELECT base FROM head)::text AS base, (SELECT count(*) FROM ins)::int AS inserted,
          ${fenceHolds} AS fenced, (SELECT count(*) FROM credits)::int + (SELECT count(*) FROM debits)::int AS funds`);
    } catch (error) {
      if (isCheckViolation(error)) {
        throw new JournalFundsError('a batch of this flush spends funds the journal has spent already', {
          cause: error,
        });
      }
      throw error;
    }
    if (row.base === null) {
      if (!row.fenced && epochs !== undefined) {
        this.fatal = new JournalWriteError(
          `the journal writer refuses to write: a market of this flush has a newer owner than epochs ` +
            epochs.map((e) => `${e.marketId}@${e.epoch}`).join(', '),
        );
        throw this.fatal;
      }
      throw new JournalFundsError('a batch of this flush spends an available balance never credited');
    }
    if (row.inserted !== n) {
      this.fatal = new JournalWriteError(`a shared flush inserted ${row.inserted} of ${n} rows`);
      throw this.fatal;
    }
    let globalSeq = safeInteger(row.base);
    for (const r of records) r.globalSeq = ++globalSeq;
  }

  /** After a failed flush: the journal must not hold it (its COMMIT may have succeeded unseen). */
  private async verifyJournalTail(tx: CommonQueryMethods, expectedTail: number): Promise<void> {
    const shared = this.options.shared;
    if (shared !== undefined) {
      const found = await tx.maybeOne(sql.type(MaxGlobalSeq)`
        SELECT global_seq::text AS global_seq FROM journal
        WHERE writer = ${shared.writer} AND global_seq > ${expectedTail} LIMIT 1`);
      if (found !== null) {
        this.fatal = new JournalWriteError(
          `the journal holds global_seq ${found.global_seq} of this writer, past the last commit it saw ` +
            `(${expectedTail}): a flush reported as failed was committed`,
        );
        throw this.fatal;
      }
      return;
    }
    const tail = await tx.one(
      sql.type(MaxGlobalSeq)`SELECT coalesce(max(global_seq), 0)::text AS global_seq FROM journal`,
    );
    if (safeInteger(tail.global_seq) !== expectedTail) {
      this.fatal = new JournalWriteError(
        `the journal ends at global_seq ${tail.global_seq}, past the last commit this writer saw ` +
          `(${expectedTail}): a flush reported as failed was committed`,
      );
      throw this.fatal;
    }
  }

  private failed(records: readonly Queued[], flushId: number, cause: unknown): void {
    const queued = this.queue;
    this.queue = [];
    this.clearTimer();
    this.due = false;
    this.pendingBytes = 0;
    this.queuedBytes = 0;
    this.failedFlushes++;
    this.nextGlobalSeq = this.lastCommitted + 1;
    // A refusal of the debit fence is an answer of the database: nothing was committed.
    this.verifyTail = !(cause instanceof JournalFundsError);
    const fatal = this.fatal;
    let error: Error;
    if (fatal !== undefined) error = fatal;
    else if (cause instanceof JournalFundsError) error = cause;
    else {
      error = new JournalWriteError(
        `journal flush ${flushId} failed: ${cause instanceof Error ? cause.message : String(cause)}`,
        { cause },
      );
    }
    const all = [...records, ...queued];
    // Newest first: the rejection handlers undo ledger postings, in reverse processing order.
    for (let i = all.length - 1; i >= 0; i--) all[i]!.reject(error);
    if (fatal !== undefined) (this.options.onFatal ?? failStop)(fatal);
  }
}

/** A batch's net changes of available balances per account and asset (the world's account excepted). */
function availableChanges(batch: JournalBatch): ReadonlyMap<string, bigint> | undefined {
  let changes: Map<string, bigint> | undefined;
  for (const entry of batch.entries) {
    for (const p of entry.postings) {
      if (p.bucket !== 'available' || p.account === EXTERNAL_ACCOUNT || p.amount === 0n) continue;
      changes ??= new Map();
      const key = `${p.account}\u0000${p.asset}`;
      changes.set(key, (changes.get(key) ?? 0n) + p.amount);
    }
  }
  return changes;
}

/**
 * The debit fence (shared mode): the flush's changes of available balances applied to
 * `cluster_funds` in one statement; a balance going below zero violates its CHECK, and the whole
 * transaction is undone (JournalFundsError).
 */
async function applyFunds(tx: CommonQueryMethods, records: readonly Queued[]): Promise<void> {
  const total = new Map<string, bigint>();
  for (const r of records) {
    if (r.funds === undefined) continue;
    for (const [key, delta] of r.funds) total.set(key, (total.get(key) ?? 0n) + delta);
  }
  const keys = [...total.keys()].filter((k) => total.get(k) !== 0n).sort();
  if (keys.length === 0) return;
  const column = (pick: readonly string[], i: 0 | 1) =>
    sql.array(
      pick.map((k) => k.split('\u0000')[i]!),
      'text',
    );
  const amounts = (pick: readonly string[]) =>
    sql.array(
      pick.map((k) => String(total.get(k))),
      'numeric',
    );
  // A CHECK is evaluated on the row INSERT proposes, before ON CONFLICT: credits upsert, debits
  // update rows that must exist (a debit of a balance never credited is refused as well).
  const credits = keys.filter((k) => total.get(k)! > 0n);
  const debits = keys.filter((k) => total.get(k)! < 0n);
  try {
    if (credits.length > 0) {
      await tx.query(sql.unsafe`
        INSERT INTO cluster_funds (account, asset, available)
        SELECT a, s, d FROM unnest(${column(credits, 0)}, ${column(credits, 1)}, ${amounts(credits)}) AS u(a, s, d)
        ON CONFLICT (account, asset) DO UPDATE SET available = cluster_funds.available + excluded.available`);
    }
    if (debits.length > 0) {
      const updated = await tx.query(sql.unsafe`
        UPDATE cluster_funds c SET available = c.available + u.d
        FROM unnest(${column(debits, 0)}, ${column(debits, 1)}, ${amounts(debits)}) AS u(a, s, d)
        WHERE c.account = u.a AND c.asset = u.s`);
      if (updated.rowCount !== debits.length) {
        throw new JournalFundsError('a batch of this flush spends an available balance never credited');
      }
    }
  } catch (error) {
    if (isCheckViolation(error)) {
      throw new JournalFundsError('a batch of this flush spends funds the journal has spent already', {
        cause: error,
      });
    }
    throw error;
  }
}

function isCheckViolation(error: unknown): boolean {
  for (let e: unknown = error; typeof e === 'object' && e !== null; e = (e as { cause?: unknown }).cause) {
    if ((e as { code?: unknown }).code === CHECK_VIOLATION) return true;
  }
  return false;
}

function positive(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer`);
  return value;
}

function nonNegative(name: string, value: number): number {
  if (!Number.isFinite(value) || value < 0) throw new RangeError(`${name} must be a non-negative number`);
  return value;
}

function safeInteger(text: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value)) throw new RangeError(`journal sequence ${text} is not a safe integer`);
  return value;
}

/**
 * The unnest columns of a flush's records, both INSERTs' (ROLE=all's and the shared writer's):
 * market, seq_from, seq_to, and each record's offset (1-based) and length in the flush's one
 * binary blob, the records concatenated in order.
 */
function recordColumns(records: readonly Queued[]): ListSqlToken {
  const offsets: number[] = new Array<number>(records.length);
  for (let i = 0, at = 1; i < records.length; at += records[i]!.record.length, i++) offsets[i] = at;
  return sql.join(
    [
      sql.array(
        records.map((r) => r.marketId),
        'text',
      ),
      sql.array(
        records.map((r) => r.seqFrom),
        'int8',
      ),
      sql.array(
        records.map((r) => r.seqTo),
        'int8',
      ),
      sql.array(offsets, 'int4'),
      sql.array(
        records.map((r) => r.record.length),
        'int4',
      ),
    ],
    sql.fragment`, `,
  );
}

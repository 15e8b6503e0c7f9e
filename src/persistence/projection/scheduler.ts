import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { decodeBatch } from '../journalCodec.ts';
import { projectionMetrics } from '../metrics.ts';
import { PageState } from './fold.ts';
import { RELATIONAL_PROJECTION, safeInteger } from './relational.ts';
import type { OrderState } from './rows.ts';
import { writePage } from './statement.ts';

const PageRow = z.object({
  cursor: z.string(),
  tail: z.string(),
  global_seq: z.string().nullable(),
  record: z.instanceof(Buffer).nullable(),
  age_ms: z.number().nullable(),
});

/** One page as read: the records of a gapless run after `from`, and what the read saw of the journal. */
interface ReadPage {
  readonly from: number;
  readonly tail: number;
  readonly rows: readonly { readonly globalSeq: number; readonly record: Buffer }[];
  /** Date.now() at the commit of the page's first record (approximate: the database's clock, aged). */
  readonly firstCommittedAt: number | undefined;
  /** Rows returned (a gap may have cut `rows` shorter). */
  readonly returned: number;
  readonly bytes: number;
}

/** A page whose write is in flight: what the next page needs from it. */
interface InFlight {
  readonly write: Promise<boolean>;
  readonly last: number;
  readonly records: number;
  readonly entries: number;
  /** Every order the page touched, in its final state: the next page starts from these. */
  readonly orders: ReadonlyMap<string, OrderState>;
}

/**
 * Runs the pages of a catch-up round, pipelined: while one page's statement runs in Postgres, the
 * next page is read, decoded and built here (measured on bench:persistence: see bench/RESULTS.md).
 * The next page starts from the orders the page in flight touched (kept in memory) and loads only
 * older orders, which that page cannot change; its own statement is sent only after the previous
 * one committed. Only a gapless run of global_seq after the cursor is applied: a record not yet
 * visible stops the page there.
 *
 * It also knows, without a query, the last global_seq it applied and the newest it has seen
 * committed (from its reads, or from noteCommitted), and resolves the readers waiting for a
 * global_seq as pages commit.
 */
export class PageScheduler {
  readonly #pool: DatabasePool;
  readonly #pageSize: number;
  readonly #pageBytes: number;
  /** Set by the projector's stop(): a run in progress ends after its current page instead of catching up fully. */
  halting = false;
  /** The cursor as of the last read or commit (-1: not read yet). */
  #projected = -1;
  /** The newest committed global_seq seen (a read's max, or noteCommitted). */
  #committed = 0;
  /** Date.now() at the commit of the oldest record after #projected; undefined when none is known. */
  #oldestAt: number | undefined;
  /** Readers waiting for the projections to reach a global_seq (waitFor). */
  readonly #waiters = new Set<{ readonly globalSeq: number; readonly resolve: (reached: boolean) => void }>();

  constructor(pool: DatabasePool, pageSize: number, pageBytes: number) {
    this.#pool = pool;
    this.#pageSize = pageSize;
    this.#pageBytes = pageBytes;
  }

  /** The cursor as of the last read or commit (-1: not read yet). */
  get projected(): number {
    return this.#projected;
  }

  /** Whether a reader waits for a global_seq not projected yet. */
  get waiting(): boolean {
    return this.#waiters.size > 0;
  }

  /**
   * Journal records committed but not yet projected, from memory (no query; cheap enough for every
   * placement). Pass the writer's last committed global_seq (JournalWriter.stats().lastGlobalSeq)
   * for an exact figure; without it, the newest this scheduler has seen (its last read or
   * noteCommitted). 0 before the first read.
   */
  lagRecords(lastCommittedGlobalSeq?: number): number {
    if (this.#projected < 0) return 0;
    const committed = Math.max(this.#committed, lastCommittedGlobalSeq ?? 0);
    return Math.max(0, committed - this.#projected);
  }

  /** Age in ms of the oldest committed record not yet projected, from memory; 0 when none is known. */
  lagMs(now = Date.now()): number {
    if (this.#oldestAt === undefined) return 0;
    return Math.max(0, now - this.#oldestAt);
  }

  /** Tells the scheduler that records up to globalSeq are committed (e.g. after each writer flush). */
  noteCommitted(globalSeq: number): void {
    if (globalSeq <= this.#committed) return;
    this.#committed = globalSeq;
    if (this.#oldestAt === undefined && this.#projected >= 0 && globalSeq > this.#projected) {
      this.#oldestAt = Date.now();
    }
  }

  /** The newest committed global_seq this scheduler knows of (its reads, or noteCommitted). */
  get committedGlobalSeq(): number {
    return this.#committed;
  }

  /**
   * Resolves true once a page up to `globalSeq` has committed (or a read found the cursor there),
   * false when `timeoutMs` passes first. Starts no round: the projector does.
   */
  wait(globalSeq: number, timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const waiter = {
        globalSeq,
        resolve: (reached: boolean) => {
          clearTimeout(timer);
          this.#waiters.delete(waiter);
          resolve(reached);
        },
      };
      const timer = setTimeout(() => {
        waiter.resolve(false);
      }, timeoutMs);
      this.#waiters.add(waiter);
    });
  }

  /** Applies every committed record after the cursor; resolves with how many were applied. The caller runs one at a time. */
  async run(): Promise<number> {
    let total = 0;
    let limit = Math.min(this.#pageSize, 16);
    let previous: InFlight | undefined;
    try {
      for (;;) {
        if (this.halting && previous !== undefined) {
          const done: InFlight = previous;
          previous = undefined;
          if (await this.#settle(done, undefined)) total += done.records;
          return total;
        }
        const asked = limit;
        const page = await this.#read(previous?.last, asked);
        if (page.returned === asked && page.bytes > 0) {
          limit = Math.max(1, Math.min(this.#pageSize, Math.round((this.#pageBytes * asked) / page.bytes)));
        }
        this.#committed = Math.max(this.#committed, page.tail);
        if (previous === undefined) this.#seen(page.from, page);
        const state = new PageState();
        let last = page.from;
        for (const row of page.rows) {
          state.apply(row.globalSeq, decodeBatch(row.record));
          last = row.globalSeq;
        }
        if (last > page.from) await state.load(this.#pool, previous?.orders);
        if (previous !== undefined) {
          if (!(await this.#settle(previous, page))) return total;
          total += previous.records;
          previous = undefined;
        }
        if (last === page.from) return total;
        state.resolve();
        const write = writePage(this.#pool, state, page.from, last);
        // Settled (and its error reported) by the next iteration or the finally below.
        write.catch(() => undefined);
        previous = {
          write,
          last,
          records: last - page.from,
          entries: state.entries,
          orders: state.orders,
        };
        if (page.returned < asked || page.rows.length < page.returned) {
          // The journal had nothing more when read (or the rest is not visible yet): settle and stop.
          const done: InFlight = previous;
          previous = undefined;
          if (await this.#settle(done, undefined)) total += done.records;
          return total;
        }
      }
    } finally {
      if (previous !== undefined) await previous.write.catch(() => undefined);
    }
  }

  /**
   * Another process projects (a cluster's worker, consumerLocks.ts): reads where its cursor and the
   * journal are, applies nothing, resolves the readers waiting for what it reached.
   */
  async watch(): Promise<number> {
    const page = await this.#read(undefined, 0);
    this.#committed = Math.max(this.#committed, page.tail);
    this.#projected = page.from;
    for (const waiter of this.#waiters) if (waiter.globalSeq <= page.from) waiter.resolve(true);
    // The age of the oldest record after the cursor is not read here: known from the gap only.
    if (page.from >= this.#committed) this.#oldestAt = undefined;
    else this.#oldestAt ??= Date.now();
    return 0;
  }

  /** Awaits a page's statement; updates the in-memory lag and the counters. False: the cursor had moved. */
  async #settle(page: InFlight, next: ReadPage | undefined): Promise<boolean> {
    const moved = await page.write;
    if (!moved) {
      this.#projected = -1; // re-read on the next run
      return false;
    }
    this.#projected = page.last;
    for (const waiter of this.#waiters) if (waiter.globalSeq <= page.last) waiter.resolve(true);
    this.#oldestAt =
      next !== undefined && next.rows.length > 0
        ? next.firstCommittedAt
        : this.#committed > page.last
          ? this.#oldestAt
          : undefined;
    projectionMetrics.records.inc(page.records);
    projectionMetrics.entries.inc(page.entries);
    projectionMetrics.pages.inc();
    return true;
  }

  /** What a read says of the journal when no page is in flight: the cursor and the oldest after it. */
  #seen(cursor: number, page: ReadPage): void {
    this.#projected = cursor;
    this.#oldestAt = page.returned > 0 ? page.firstCommittedAt : undefined;
    for (const waiter of this.#waiters) if (waiter.globalSeq <= cursor) waiter.resolve(true);
  }

  /** Reads the records after `from` (after the stored cursor when undefined), up to the first gap. */
  async #read(from: number | undefined, limit: number): Promise<ReadPage> {
    const result = await this.#pool.any(sql.type(PageRow)`
      WITH c AS (
        SELECT coalesce(${from ?? null}::int8, (
          SELECT global_seq FROM projection_cursors WHERE projection = ${RELATIONAL_PROJECTION}), 0) AS g
      )
      SELECT c.g::text AS cursor, (SELECT coalesce(max(global_seq), 0) FROM journal)::text AS tail,
        j.global_seq::text AS global_seq, j.record,
        (extract(epoch FROM clock_timestamp() - j.committed_at) * 1000)::float8 AS age_ms
      FROM c LEFT JOIN LATERAL (
        SELECT global_seq, record, committed_at FROM journal
        WHERE global_seq > c.g ORDER BY journal.global_seq LIMIT ${limit}
      ) j ON true`);
    const now = Date.now();
    const head = result[0];
    const cursor = head === undefined ? 0 : safeInteger(head.cursor, 'cursor');
    const tail = head === undefined ? 0 : safeInteger(head.tail, 'tail');
    const rows: { globalSeq: number; record: Buffer }[] = [];
    let returned = 0;
    let bytes = 0;
    let expected = cursor + 1;
    let gap = false;
    for (const row of result) {
      if (row.global_seq === null || row.record === null) continue;
      returned++;
      bytes += row.record.length;
      const globalSeq = safeInteger(row.global_seq, 'global_seq');
      if (gap || globalSeq !== expected) {
        gap = true; // not yet visible: the next round takes it
        continue;
      }
      rows.push({ globalSeq, record: row.record });
      expected++;
    }
    const firstAge = result[0]?.age_ms;
    return {
      from: cursor,
      tail,
      rows,
      firstCommittedAt: returned > 0 && firstAge != null ? now - firstAge : undefined,
      returned,
      bytes,
    };
  }
}

import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import type { LifecycleEvent } from '../../machines/marketLifecycle.ts';
import type { BookEvent, OrderType, Side, TimeInForce } from '../actors/book/types.ts';
import { LEDGER_JOURNAL_ID, type BatchEntry, type JournalCommand } from '../actors/market/types.ts';
import { decodeBatch } from './journalCodec.ts';
import {
  clearProjectionLagSource,
  projectionMetrics,
  setProjectionLagSource,
  type ProjectionLagSource,
} from './metrics.ts';

/** The projection_cursors row of the relational projections. */
export const RELATIONAL_PROJECTION = 'relational';

export type OrderStatus = 'open' | 'partially_filled' | 'filled' | 'canceled' | 'pending_trigger';

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
}

export interface ProjectionLag {
  /** Journal records after the cursor. */
  readonly records: number;
  /** Age of the oldest unprojected record (0 when none). */
  readonly ms: number;
}

export class ProjectionError extends Error {
  constructor(message: string) {
    super(`projector: ${message}`);
    this.name = 'ProjectionError';
  }
}

const PageRow = z.object({
  cursor: z.string(),
  tail: z.string(),
  global_seq: z.string().nullable(),
  record: z.instanceof(Buffer).nullable(),
  age_ms: z.number().nullable(),
});
const Moved = z.object({ moved: z.number() });
const LagRow = z.object({ tail: z.string(), oldest_ms: z.number().nullable() });
const OrderRow = z.object({
  id: z.string(),
  qty: z.string(),
  remaining: z.string(),
  price: z.string().nullable(),
  status: z.string(),
});

/** An order's projected state while a page is applied. */
interface OrderState {
  readonly id: string;
  readonly isNew: boolean;
  marketId: string;
  orderId: number;
  userId: string;
  clientOrderId: string | null;
  side: Side;
  type: OrderType;
  tif: TimeInForce;
  price: number | null;
  stopPrice: number | null;
  qty: number;
  remaining: number;
  pending: boolean;
  canceled: boolean;
  createdGlobalSeq: number;
  updatedGlobalSeq: number;
  createdAt: string;
  updatedAt: string;
}

interface TradeRow {
  id: string;
  marketId: string;
  makerOrderId: string;
  takerOrderId: string;
  makerUserId: string;
  takerUserId: string;
  takerSide: Side;
  price: number;
  qty: number;
  ts: string;
  globalSeq: number;
}

/** A page's postings as columns; `entry` is the 1-based position of the posting's entry in PostingEntries. */
class PostingColumns {
  readonly entry: number[] = [];
  readonly index: number[] = [];
  readonly account: string[] = [];
  readonly asset: string[] = [];
  readonly bucket: string[] = [];
  readonly amount: string[] = [];
  readonly kind: string[] = [];
}

/** The entries (with postings) of a page as columns. */
class PostingEntries {
  readonly globalSeq: number[] = [];
  readonly index: number[] = [];
  readonly marketId: string[] = [];
  readonly ts: string[] = [];
}

interface LifecycleRow {
  marketId: string;
  marketSeq: number;
  lifecycleSeq: number | null;
  outcome: 'transition' | 'rejected';
  from: string | null;
  to: string | null;
  eventType: string;
  actorId: string;
  actorType: string;
  reason: string | null;
  errorCode: string | null;
  errorMessage: string | null;
  contractAddress: string | null;
  txHash: string | null;
  deployError: string | null;
  ts: string;
  globalSeq: number;
}

interface AuditRow {
  globalSeq: number;
  entryIndex: number;
  ledgerSeq: number;
  kind: 'deposit';
  account: string;
  asset: string;
  amount: bigint;
  ts: string;
}

function statusOf(order: OrderState): OrderStatus {
  if (order.canceled) return 'canceled';
  if (order.pending) return 'pending_trigger';
  if (order.remaining === 0) return 'filled';
  return order.remaining < order.qty ? 'partially_filled' : 'open';
}

function safeInteger(text: string, what: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value)) throw new ProjectionError(`${what} ${text} is not a safe integer`);
  return value;
}

function isoTime(ts: number): string {
  const date = new Date(ts);
  if (Number.isNaN(date.getTime())) throw new ProjectionError(`bad entry ts ${ts}`);
  return date.toISOString();
}

/** Element types of the projector's array parameters. */
type ArrayType = 'text' | 'int4' | 'int8' | 'numeric' | 'timestamptz';

/**
 * An array parameter as one Postgres array literal, built here: `sql.array` leaves the conversion
 * to pg, whose per-element prepareValue and two regex escapes were ~4% of the server's CPU in
 * bench:ws (the projector sends ~100 array elements per order), and whose concatenation was most
 * of the bytes allocated per order. The usual array (no null, nothing to escape) is one join().
 */
function pgArray(values: readonly (string | number | null)[], type: ArrayType) {
  return sql.fragment`${arrayLiteral(values)}::${sql.identifier([type])}[]`;
}

/**
 * Every string element is quoted (so "NULL", empty strings, commas and braces stay plain text),
 * with `"` and `\` escaped; null is NULL.
 */
function arrayLiteral(values: readonly (string | number | null)[]): string {
  let plain = true;
  let strings = false;
  for (let i = 0; i < values.length && plain; i++) {
    const value = values[i];
    if (value === null || value === undefined) plain = false;
    else if (typeof value === 'string') {
      strings = true;
      if (value.includes('"') || value.includes('\\')) plain = false;
    }
  }
  if (plain) return strings ? `{"${values.join('","')}"}` : `{${values.join(',')}}`;
  return `{${values.map(arrayElement).join(',')}}`;
}

function arrayElement(value: string | number | null): string {
  if (value === null) return 'NULL';
  if (typeof value === 'number') return String(value);
  return `"${value.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;
}

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
 * Builds the relational projections (orders, trades, ledger_postings, balances; see the
 * 1763800000001_projections migration; market_lifecycle_events and audit_log, 1763800000020) from
 * the committed journal, in global_seq order (DESIGN.md principle 5). Each page of records is
 * applied by one statement (data-modifying CTEs over unnest arrays) that also moves the
 * 'relational' cursor, so the tables always reflect a prefix of the journal and a crash never
 * applies a record twice. The cursor only moves from where the page was read: if another projector
 * moved it meanwhile, the statement changes nothing and the run stops. Only a gapless run of
 * global_seq after the cursor is applied: a record not yet visible stops the page there.
 *
 * Pipelined: while one page's statement runs in Postgres, the next page is read, decoded and built
 * here (measured on bench:persistence: see bench/RESULTS.md). The next page starts from the orders
 * the page in flight touched (kept in memory) and loads only older orders, which that page cannot
 * change; its own statement is sent only after the previous one committed.
 *
 * Order status comes from the book events: accepted (+ rested) → open; fills → partially_filled /
 * filled (filled_qty = qty − remaining); canceled → canceled; pending → pending_trigger; triggered →
 * back to the fill-derived status; amended → the new price, qty and remaining. Lifecycle commands
 * give market_lifecycle_events rows (the transition the machine recorded, or the refusal); accepted
 * deposits give audit_log rows.
 *
 * Lag: the projector knows, without a query, the last global_seq it applied and the newest it has
 * seen committed (from its reads, or from noteCommitted, which the journal writer's owner may call
 * after every flush). lagRecords() and lagMs() read that in O(1) for the order-entry path; the
 * exchange_projection_lag_* gauges read the running projector (start) at scrape time.
 */
export class Projector implements ProjectionLagSource {
  readonly #pool: DatabasePool;
  readonly #pageSize: number;
  readonly #pageBytes: number;
  readonly #onError: (error: unknown) => void;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<number> | undefined;
  #stopped = true;
  /** Set by stop(): a run in progress ends after its current page instead of catching up fully. */
  #halting = false;
  /** The cursor as of this projector's last read or commit (-1: not read yet). */
  #projected = -1;
  /** The newest committed global_seq seen (a read's max, or noteCommitted). */
  #committed = 0;
  /** Date.now() at the commit of the oldest record after #projected; undefined when none is known. */
  #oldestAt: number | undefined;
  /** Readers waiting for the projections to reach a global_seq (waitFor). */
  readonly #waiters = new Set<{ readonly globalSeq: number; readonly resolve: (reached: boolean) => void }>();

  constructor(pool: DatabasePool, options: ProjectorOptions = {}) {
    const pageSize = options.pageSize ?? 1_000;
    if (!Number.isSafeInteger(pageSize) || pageSize < 1) {
      throw new RangeError('pageSize must be a positive integer');
    }
    const pageBytes = options.pageBytes ?? 1_000_000;
    if (!(pageBytes > 0)) throw new RangeError('pageBytes must be positive');
    this.#pool = pool;
    this.#pageSize = pageSize;
    this.#pageBytes = pageBytes;
    this.#onError =
      options.onError ??
      ((error) => {
        console.error(error);
      });
  }

  /**
   * Journal records committed but not yet projected, from memory (no query; cheap enough for every
   * placement). Pass the writer's last committed global_seq (JournalWriter.stats().lastGlobalSeq)
   * for an exact figure; without it, the newest this projector has seen (its last read or
   * noteCommitted). 0 before the projector's first read.
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

  /** Tells the projector that records up to globalSeq are committed (e.g. after each writer flush). */
  noteCommitted(globalSeq: number): void {
    if (globalSeq <= this.#committed) return;
    this.#committed = globalSeq;
    if (this.#oldestAt === undefined && this.#projected >= 0 && globalSeq > this.#projected) {
      this.#oldestAt = Date.now();
    }
  }

  /** The newest committed global_seq this projector knows of (its reads, or noteCommitted). */
  get committedGlobalSeq(): number {
    return this.#committed;
  }

  /**
   * Resolves true once the projections hold every journal record up to `globalSeq` (at once when
   * they do already), false when `timeoutMs` passes first. A waiter starts a round now rather than
   * at the next tick, and rounds follow each other while they make progress toward it, so a read
   * that waits costs about one round, not the tick interval.
   */
  waitFor(globalSeq: number, timeoutMs: number): Promise<boolean> {
    if (this.#projected >= globalSeq) return Promise.resolve(true);
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
      if (this.#running === undefined) this.#kick();
    });
  }

  /** A round for the waiters; its failure is reported like a tick's, and the tick retries. */
  #kick(): void {
    this.runOnce().then(
      (applied) => {
        // Progress and still someone waiting: go on (no progress: the next tick tries again).
        if (applied > 0 && this.#waiters.size > 0 && this.#running === undefined) this.#kick();
      },
      (error: unknown) => {
        this.#onError(error);
      },
    );
  }

  /** Applies every committed record after the cursor; resolves with how many were applied. */
  runOnce(): Promise<number> {
    // One run at a time (a continuous tick and a caller share it; a second caller waits for it,
    // then runs again so it sees everything committed before it was called).
    const previous = this.#running ?? Promise.resolve(0);
    const run = previous.catch(() => 0).then(() => this.#run());
    this.#running = run;
    void run
      .finally(() => {
        if (this.#running === run) this.#running = undefined;
      })
      .catch(() => undefined);
    return run;
  }

  /** Catches up every intervalMs until stop(); meanwhile the lag gauges read this projector. */
  start(intervalMs = 50): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    setProjectionLagSource(this);
    const tick = () => {
      if (this.#stopped) return;
      this.runOnce()
        .catch((error: unknown) => {
          this.#onError(error);
        })
        .finally(() => {
          if (!this.#stopped) this.#timer = setTimeout(tick, intervalMs);
        });
    };
    tick();
  }

  /** Stops the continuous run; resolves once a round in flight has finished. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#halting = true;
    clearProjectionLagSource(this);
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    try {
      await this.#running?.catch(() => undefined);
    } finally {
      this.#halting = false;
    }
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

  async #run(): Promise<number> {
    let total = 0;
    let limit = Math.min(this.#pageSize, 16);
    let previous: InFlight | undefined;
    try {
      for (;;) {
        if (this.#halting && previous !== undefined) {
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
        const write = this.#write(state, page.from, last);
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

  /** The page's one statement: every table and the cursor, only if the cursor is still at `from`. */
  async #write(state: PageState, from: number, last: number): Promise<boolean> {
    const created: OrderState[] = [];
    const changed: OrderState[] = [];
    for (const order of state.orders.values()) (order.isNew ? created : changed).push(order);
    const o = <T>(list: readonly OrderState[], f: (order: OrderState) => T) => list.map(f);
    const t = <T>(f: (trade: TradeRow) => T) => state.trades.map(f);
    const ps = state.postings;
    const es = state.postingEntries;
    const l = <T>(f: (row: LifecycleRow) => T) => state.lifecycle.map(f);
    const a = <T>(f: (row: AuditRow) => T) => state.audit.map(f);
    const deltas = [...state.deltas.values()];
    const row = await this.#pool.one(sql.type(Moved)`
      WITH cur AS (
        INSERT INTO projection_cursors (projection, global_seq) VALUES (${RELATIONAL_PROJECTION}, ${last})
        ON CONFLICT (projection) DO UPDATE SET global_seq = excluded.global_seq, updated_at = now()
        WHERE projection_cursors.global_seq = ${from}
        RETURNING 1
      ),
      new_orders AS (
        INSERT INTO orders (id, market_id, order_id, user_id, client_order_id, side, type, tif, price,
          stop_price, qty, filled_qty, remaining, status, created_global_seq, updated_global_seq,
          created_at, updated_at)
        SELECT u.* FROM unnest(
          ${pgArray(
            o(created, (x) => x.id),
            'text',
          )}, ${pgArray(
            o(created, (x) => x.marketId),
            'text',
          )},
          ${pgArray(
            o(created, (x) => x.orderId),
            'int8',
          )}, ${pgArray(
            o(created, (x) => x.userId),
            'text',
          )},
          ${pgArray(
            o(created, (x) => x.clientOrderId),
            'text',
          )}, ${pgArray(
            o(created, (x) => x.side),
            'text',
          )},
          ${pgArray(
            o(created, (x) => x.type),
            'text',
          )}, ${pgArray(
            o(created, (x) => x.tif),
            'text',
          )},
          ${pgArray(
            o(created, (x) => x.price),
            'int8',
          )}, ${pgArray(
            o(created, (x) => x.stopPrice),
            'int8',
          )},
          ${pgArray(
            o(created, (x) => x.qty),
            'int8',
          )},
          ${pgArray(
            o(created, (x) => x.qty - x.remaining),
            'int8',
          )},
          ${pgArray(
            o(created, (x) => x.remaining),
            'int8',
          )}, ${pgArray(o(created, statusOf), 'text')},
          ${pgArray(
            o(created, (x) => x.createdGlobalSeq),
            'int8',
          )},
          ${pgArray(
            o(created, (x) => x.updatedGlobalSeq),
            'int8',
          )},
          ${pgArray(
            o(created, (x) => x.createdAt),
            'timestamptz',
          )},
          ${pgArray(
            o(created, (x) => x.updatedAt),
            'timestamptz',
          )}
        ) AS u WHERE EXISTS (SELECT FROM cur)
      ),
      changed_orders AS (
        UPDATE orders SET price = u.price, qty = u.qty, filled_qty = u.qty - u.remaining,
          remaining = u.remaining, status = u.status, updated_global_seq = u.g, updated_at = u.at
        FROM unnest(
          ${pgArray(
            o(changed, (x) => x.id),
            'text',
          )}, ${pgArray(
            o(changed, (x) => x.price),
            'int8',
          )},
          ${pgArray(
            o(changed, (x) => x.qty),
            'int8',
          )}, ${pgArray(
            o(changed, (x) => x.remaining),
            'int8',
          )},
          ${pgArray(o(changed, statusOf), 'text')},
          ${pgArray(
            o(changed, (x) => x.updatedGlobalSeq),
            'int8',
          )},
          ${pgArray(
            o(changed, (x) => x.updatedAt),
            'timestamptz',
          )}
        ) AS u(id, price, qty, remaining, status, g, at)
        WHERE orders.id = u.id AND EXISTS (SELECT FROM cur)
      ),
      new_trades AS (
        INSERT INTO trades (id, market_id, maker_order_id, taker_order_id, maker_user_id, taker_user_id,
          taker_side, price, qty, ts, global_seq)
        SELECT u.* FROM unnest(
          ${pgArray(
            t((x) => x.id),
            'text',
          )}, ${pgArray(
            t((x) => x.marketId),
            'text',
          )},
          ${pgArray(
            t((x) => x.makerOrderId),
            'text',
          )}, ${pgArray(
            t((x) => x.takerOrderId),
            'text',
          )},
          ${pgArray(
            t((x) => x.makerUserId),
            'text',
          )}, ${pgArray(
            t((x) => x.takerUserId),
            'text',
          )},
          ${pgArray(
            t((x) => x.takerSide),
            'text',
          )}, ${pgArray(
            t((x) => x.price),
            'int8',
          )},
          ${pgArray(
            t((x) => x.qty),
            'int8',
          )}, ${pgArray(
            t((x) => x.ts),
            'timestamptz',
          )},
          ${pgArray(
            t((x) => x.globalSeq),
            'int8',
          )}
        ) AS u WHERE EXISTS (SELECT FROM cur)
      ),
      -- Postings as columns, joined to their entry's columns (global_seq, index, market, ts): an
      -- order makes ~6 postings, so per-posting copies of entry fields were most of the page's bytes.
      new_postings AS (
        INSERT INTO ledger_postings (global_seq, entry_index, posting_index, market_id, account, asset,
          bucket, amount, kind, ts)
        SELECT e.g, e.i, p.pi, e.m, p.account, p.asset, p.bucket, p.amount, p.kind, e.ts
        FROM unnest(
          ${pgArray(ps.entry, 'int4')}, ${pgArray(ps.index, 'int4')}, ${pgArray(ps.account, 'text')},
          ${pgArray(ps.asset, 'text')}, ${pgArray(ps.bucket, 'text')}, ${pgArray(ps.amount, 'numeric')},
          ${pgArray(ps.kind, 'text')}
        ) AS p(e, pi, account, asset, bucket, amount, kind)
        JOIN unnest(
          ${pgArray(es.globalSeq, 'int8')}, ${pgArray(es.index, 'int4')}, ${pgArray(es.marketId, 'text')},
          ${pgArray(es.ts, 'timestamptz')}
        ) WITH ORDINALITY AS e(g, i, m, ts, n) ON e.n = p.e
        WHERE EXISTS (SELECT FROM cur)
      ),
      -- The final balance is computed here and proposed as the row, so a CHECK sees the page's
      -- result, never a (possibly negative) delta.
      new_balances AS (
        INSERT INTO balances (account, asset, available, locked)
        SELECT u.account, u.asset, coalesce(b.available, 0) + u.available, coalesce(b.locked, 0) + u.locked
        FROM unnest(
          ${pgArray(
            deltas.map((d) => d.account),
            'text',
          )}, ${pgArray(
            deltas.map((d) => d.asset),
            'text',
          )},
          ${pgArray(
            deltas.map((d) => d.available.toString()),
            'numeric',
          )}, ${pgArray(
            deltas.map((d) => d.locked.toString()),
            'numeric',
          )}
        ) AS u(account, asset, available, locked)
        LEFT JOIN balances b ON b.account = u.account AND b.asset = u.asset
        WHERE EXISTS (SELECT FROM cur)
        ON CONFLICT (account, asset) DO UPDATE SET available = excluded.available, locked = excluded.locked
      ),
      new_lifecycle AS (
        INSERT INTO market_lifecycle_events (market_id, market_seq, lifecycle_seq, outcome, from_state,
          to_state, event_type, actor_id, actor_type, reason, error_code, error_message, contract_address,
          tx_hash, deploy_error, ts, global_seq)
        SELECT u.* FROM unnest(
          ${pgArray(
            l((x) => x.marketId),
            'text',
          )}, ${pgArray(
            l((x) => x.marketSeq),
            'int8',
          )},
          ${pgArray(
            l((x) => x.lifecycleSeq),
            'int8',
          )}, ${pgArray(
            l((x) => x.outcome),
            'text',
          )},
          ${pgArray(
            l((x) => x.from),
            'text',
          )}, ${pgArray(
            l((x) => x.to),
            'text',
          )},
          ${pgArray(
            l((x) => x.eventType),
            'text',
          )}, ${pgArray(
            l((x) => x.actorId),
            'text',
          )},
          ${pgArray(
            l((x) => x.actorType),
            'text',
          )}, ${pgArray(
            l((x) => x.reason),
            'text',
          )},
          ${pgArray(
            l((x) => x.errorCode),
            'text',
          )}, ${pgArray(
            l((x) => x.errorMessage),
            'text',
          )},
          ${pgArray(
            l((x) => x.contractAddress),
            'text',
          )}, ${pgArray(
            l((x) => x.txHash),
            'text',
          )},
          ${pgArray(
            l((x) => x.deployError),
            'text',
          )}, ${pgArray(
            l((x) => x.ts),
            'timestamptz',
          )},
          ${pgArray(
            l((x) => x.globalSeq),
            'int8',
          )}
        ) AS u WHERE EXISTS (SELECT FROM cur)
      ),
      new_audit AS (
        INSERT INTO audit_log (global_seq, entry_index, ledger_seq, kind, account, asset, amount, ts)
        SELECT u.* FROM unnest(
          ${pgArray(
            a((x) => x.globalSeq),
            'int8',
          )}, ${pgArray(
            a((x) => x.entryIndex),
            'int4',
          )},
          ${pgArray(
            a((x) => x.ledgerSeq),
            'int8',
          )}, ${pgArray(
            a((x) => x.kind),
            'text',
          )},
          ${pgArray(
            a((x) => x.account),
            'text',
          )}, ${pgArray(
            a((x) => x.asset),
            'text',
          )},
          ${pgArray(
            a((x) => x.amount.toString()),
            'numeric',
          )}, ${pgArray(
            a((x) => x.ts),
            'timestamptz',
          )}
        ) AS u WHERE EXISTS (SELECT FROM cur)
      )
      SELECT count(*)::int AS moved FROM cur`);
    return row.moved === 1;
  }
}

/**
 * A change to an order not created in the page, applied once its row is loaded: the event itself,
 * not a closure (tsx's keepNames wraps every named closure in a __name() call, ~2% of the server's
 * CPU in bench:ws when #event made three per event).
 */
interface PendingChange {
  readonly orderId: number;
  readonly event: BookEvent;
  readonly globalSeq: number;
  readonly ts: string;
}

/** An event's effect on one of its orders (`orderId` tells a fill's taker from its maker). */
function applyChange(
  order: OrderState,
  orderId: number,
  event: BookEvent,
  globalSeq: number,
  ts: string,
): void {
  switch (event.type) {
    case 'fill':
      order.remaining = orderId === event.takerOrderId ? event.takerRemaining : event.makerRemaining;
      break;
    case 'rested':
      order.remaining = event.remaining;
      order.price = event.price;
      order.pending = false;
      break;
    case 'pending':
      order.pending = true;
      break;
    case 'triggered':
      order.pending = false;
      break;
    case 'canceled':
      order.remaining = event.remaining;
      order.canceled = true;
      order.pending = false;
      break;
    case 'amended':
      order.price = event.price;
      order.qty = event.qty;
      order.remaining = event.remaining;
      break;
    case 'decremented':
      order.qty -= event.qty;
      order.remaining = event.remaining;
      break;
    case 'accepted':
    case 'rejected':
    case 'level':
      return;
  }
  order.updatedGlobalSeq = globalSeq;
  order.updatedAt = ts;
}

/**
 * The effects of one page, gathered in memory: orders created in it, changes to orders created
 * before (applied once their rows are loaded), trades, postings, balance deltas, lifecycle and
 * audit rows.
 */
class PageState {
  readonly orders = new Map<string, OrderState>();
  /** Changes, in journal order, to orders not created in this page (applied after load). */
  readonly pendingChanges = new Map<string, PendingChange[]>();
  readonly trades: TradeRow[] = [];
  readonly postings = new PostingColumns();
  readonly postingEntries = new PostingEntries();
  readonly deltas = new Map<string, { account: string; asset: string; available: bigint; locked: bigint }>();
  readonly lifecycle: LifecycleRow[] = [];
  readonly audit: AuditRow[] = [];
  entries = 0;

  apply(globalSeq: number, batch: ReturnType<typeof decodeBatch>): void {
    const { marketId } = batch;
    this.entries += batch.entries.length;
    const { entries } = batch;
    for (let entryIndex = 0; entryIndex < entries.length; entryIndex++) {
      const entry = entries[entryIndex]!;
      const ts = this.#isoTime(entry.ts);
      const ps = this.postings;
      const es = this.postingEntries;
      if (entry.postings.length > 0) {
        es.globalSeq.push(globalSeq);
        es.index.push(entryIndex);
        es.marketId.push(marketId);
        es.ts.push(ts);
      }
      const entryRef = es.globalSeq.length;
      const { postings } = entry;
      for (let postingIndex = 0; postingIndex < postings.length; postingIndex++) {
        const posting = postings[postingIndex]!;
        ps.entry.push(entryRef);
        ps.index.push(postingIndex);
        ps.account.push(posting.account);
        ps.asset.push(posting.asset);
        ps.bucket.push(posting.bucket);
        ps.amount.push(posting.amount.toString());
        ps.kind.push(posting.kind);
        const key = `${posting.account}\u0000${posting.asset}`;
        let delta = this.deltas.get(key);
        if (delta === undefined) {
          delta = { account: posting.account, asset: posting.asset, available: 0n, locked: 0n };
          this.deltas.set(key, delta);
        }
        if (posting.bucket === 'available') delta.available += posting.amount;
        else delta.locked += posting.amount;
      }
      const { command } = entry;
      if (command.kind === 'lifecycle') this.#lifecycle(marketId, globalSeq, entry, command.event);
      else if (command.kind === 'deposit') {
        if (marketId !== LEDGER_JOURNAL_ID)
          throw new ProjectionError(`a deposit in market record ${globalSeq}`);
        if (entry.result.ok) {
          this.audit.push({
            globalSeq,
            entryIndex,
            ledgerSeq: entry.seq,
            kind: 'deposit',
            account: command.userId,
            asset: command.asset,
            amount: command.amount,
            ts,
          });
        }
      }
      if (!entry.result.ok) continue;
      let fills = 0;
      for (const event of entry.result.events) {
        this.#event(marketId, globalSeq, entry.seq, ts, event, fills);
        if (event.type === 'fill') fills++;
      }
    }
  }

  #lastTs = Number.NaN;
  #lastIso = '';

  /** isoTime, remembering the last: consecutive entries mostly share their millisecond. */
  #isoTime(ts: number): string {
    if (ts !== this.#lastTs) {
      this.#lastIso = isoTime(ts);
      this.#lastTs = ts;
    }
    return this.#lastIso;
  }

  #lifecycle(
    marketId: string,
    globalSeq: number,
    entry: BatchEntry<JournalCommand>,
    event: LifecycleEvent,
  ): void {
    const { result } = entry;
    if (result.ok && result.transition === undefined) return;
    const notice = result.ok ? result.transition : undefined;
    const actor = notice?.actor ?? event.actor;
    this.lifecycle.push({
      marketId,
      marketSeq: entry.seq,
      lifecycleSeq: notice?.seq ?? null,
      outcome: notice === undefined ? 'rejected' : 'transition',
      from: notice?.from ?? null,
      to: notice?.to ?? null,
      eventType: notice?.event ?? event.type,
      actorId: actor.id,
      actorType: actor.type,
      reason: (notice === undefined ? event.reason : notice.reason) ?? null,
      errorCode: result.ok ? null : result.code,
      errorMessage: result.ok ? null : result.message,
      contractAddress: notice?.contractAddress ?? null,
      txHash: notice?.deploymentTxHash ?? null,
      deployError: notice?.deployError ?? null,
      ts: isoTime(notice?.ts ?? event.ts),
      globalSeq,
    });
  }

  #event(
    marketId: string,
    globalSeq: number,
    seq: number,
    ts: string,
    event: BookEvent,
    /** Fills of the entry before this event: numbers a fill's trade. */
    fillsBefore: number,
  ): void {
    switch (event.type) {
      case 'accepted': {
        const key = `${marketId}:${event.orderId}`;
        if (this.orders.has(key) || this.pendingChanges.has(key)) {
          throw new ProjectionError(`order ${key} accepted twice`);
        }
        this.orders.set(key, {
          id: key,
          isNew: true,
          marketId,
          orderId: event.orderId,
          userId: event.userId,
          clientOrderId: event.clientOrderId ?? null,
          side: event.side,
          type: event.orderType,
          tif: event.tif,
          price: event.price ?? null,
          stopPrice: event.stopPrice ?? null,
          qty: event.qty,
          remaining: event.qty,
          pending: false,
          canceled: false,
          createdGlobalSeq: globalSeq,
          updatedGlobalSeq: globalSeq,
          createdAt: ts,
          updatedAt: ts,
        });
        return;
      }
      case 'fill': {
        const takerKey = `${marketId}:${event.takerOrderId}`;
        const makerKey = `${marketId}:${event.makerOrderId}`;
        this.trades.push({
          id: `${marketId}:${seq}:${fillsBefore}`,
          marketId,
          makerOrderId: makerKey,
          takerOrderId: takerKey,
          makerUserId: event.makerUserId,
          takerUserId: event.takerUserId,
          takerSide: event.takerSide,
          price: event.price,
          qty: event.qty,
          ts,
          globalSeq,
        });
        this.#change(takerKey, event.takerOrderId, event, globalSeq, ts);
        this.#change(makerKey, event.makerOrderId, event, globalSeq, ts);
        return;
      }
      case 'rested':
      case 'pending':
      case 'triggered':
      case 'canceled':
      case 'amended':
      case 'decremented':
        this.#change(`${marketId}:${event.orderId}`, event.orderId, event, globalSeq, ts);
        return;
      case 'rejected':
      case 'level':
        return;
    }
  }

  /** Applies an event to an order of the page now, or keeps it for after the order is loaded. */
  #change(key: string, orderId: number, event: BookEvent, globalSeq: number, ts: string): void {
    const order = this.orders.get(key);
    if (order !== undefined) {
      applyChange(order, orderId, event, globalSeq, ts);
      return;
    }
    const change: PendingChange = { orderId, event, globalSeq, ts };
    const list = this.pendingChanges.get(key);
    if (list === undefined) this.pendingChanges.set(key, [change]);
    else list.push(change);
  }

  /**
   * Loads the orders this page changes but did not create: from `recent` (the page before, whose
   * statement may still be in flight) or else from the table.
   */
  async load(pool: DatabasePool, recent: ReadonlyMap<string, OrderState> | undefined): Promise<void> {
    const ids: string[] = [];
    for (const key of this.pendingChanges.keys()) {
      const order = recent?.get(key);
      if (order === undefined) ids.push(key);
      else this.orders.set(key, { ...order, isNew: false });
    }
    if (ids.length === 0) return;
    const rows = await pool.any(sql.type(OrderRow)`
      SELECT id, qty::text AS qty, remaining::text AS remaining, price::text AS price, status
      FROM orders WHERE id = ANY(${sql.array(ids, 'text')})`);
    for (const row of rows) {
      this.orders.set(row.id, {
        id: row.id,
        isNew: false,
        // Only the fields below are written back for an existing order.
        marketId: '',
        orderId: 0,
        userId: '',
        clientOrderId: null,
        side: 'buy',
        type: 'limit',
        tif: 'GTC',
        price: row.price === null ? null : safeInteger(row.price, 'price'),
        stopPrice: null,
        qty: safeInteger(row.qty, 'qty'),
        remaining: safeInteger(row.remaining, 'remaining'),
        pending: row.status === 'pending_trigger',
        canceled: row.status === 'canceled',
        createdGlobalSeq: 0,
        updatedGlobalSeq: 0,
        createdAt: '',
        updatedAt: '',
      });
    }
    const missing = ids.filter((key) => !this.orders.has(key));
    if (missing.length > 0) throw new ProjectionError(`events for unknown orders ${missing.join(', ')}`);
  }

  /** Applies the changes to loaded orders (each order's changes in journal order). */
  resolve(): void {
    for (const [key, changes] of this.pendingChanges) {
      const order = this.orders.get(key)!;
      for (const { orderId, event, globalSeq, ts } of changes)
        applyChange(order, orderId, event, globalSeq, ts);
    }
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

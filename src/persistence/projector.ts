import { sql, type CommonQueryMethods, type DatabasePool } from 'slonik';
import { z } from 'zod';
import type { BookEvent, OrderType, Side, TimeInForce } from '../actors/book/types.ts';
import type { Posting } from '../actors/ledger/index.ts';
import { decodeBatch } from './journalCodec.ts';

/** The projection_cursors row of the relational projections. */
export const RELATIONAL_PROJECTION = 'relational';

export type OrderStatus = 'open' | 'partially_filled' | 'filled' | 'canceled' | 'pending_trigger';

export interface ProjectorOptions {
  /** Journal records read and applied per transaction. */
  readonly pageSize?: number;
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

const CursorRow = z.object({ global_seq: z.string() });
const JournalPage = z.object({ global_seq: z.string(), record: z.instanceof(Buffer) });
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

interface PostingRow extends Posting {
  globalSeq: number;
  entryIndex: number;
  postingIndex: number;
  marketId: string;
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

/**
 * Builds the relational projections (orders, trades, ledger_postings, balances; see the
 * 1763800000001_projections migration) from the committed journal, in global_seq order (DESIGN.md
 * principle 5). Each page of records is applied in one transaction that also moves the
 * 'relational' cursor, with bulk statements (unnest), so the tables always reflect a prefix of the
 * journal and a crash never applies a record twice. Only a gapless run of global_seq after the
 * cursor is applied: a record not yet visible stops the page there.
 *
 * Order status comes from the book events: accepted (+ rested) → open; fills → partially_filled /
 * filled (filled_qty = qty − remaining); canceled → canceled; pending → pending_trigger; triggered →
 * back to the fill-derived status; amended → the new price, qty and remaining.
 */
export class Projector {
  readonly #pool: DatabasePool;
  readonly #pageSize: number;
  readonly #onError: (error: unknown) => void;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<number> | undefined;
  #stopped = true;

  constructor(pool: DatabasePool, options: ProjectorOptions = {}) {
    const pageSize = options.pageSize ?? 1_000;
    if (!Number.isSafeInteger(pageSize) || pageSize < 1) {
      throw new RangeError('pageSize must be a positive integer');
    }
    this.#pool = pool;
    this.#pageSize = pageSize;
    this.#onError =
      options.onError ??
      ((error) => {
        console.error(error);
      });
  }

  /** Applies every committed record after the cursor; resolves with how many were applied. */
  runOnce(): Promise<number> {
    // One run at a time (a continuous tick and a caller share it; a second caller waits for it,
    // then runs again so it sees everything committed before it was called).
    const previous = this.#running ?? Promise.resolve(0);
    const run = previous
      .catch(() => 0)
      .then(async () => {
        let total = 0;
        for (;;) {
          const applied = await this.#applyPage();
          total += applied;
          if (applied < this.#pageSize) return total;
        }
      });
    this.#running = run;
    void run
      .finally(() => {
        if (this.#running === run) this.#running = undefined;
      })
      .catch(() => undefined);
    return run;
  }

  /** Catches up every intervalMs until stop(). */
  start(intervalMs = 50): void {
    if (!this.#stopped) return;
    this.#stopped = false;
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
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#running?.catch(() => undefined);
  }

  /** How far the projections are behind the journal (ms: since the commit of the record after the cursor). */
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

  async #applyPage(): Promise<number> {
    return this.#pool.transaction(async (tx) => {
      await tx.query(sql.unsafe`
        INSERT INTO projection_cursors (projection, global_seq) VALUES (${RELATIONAL_PROJECTION}, 0)
        ON CONFLICT (projection) DO NOTHING`);
      const cursor = await tx.one(sql.type(CursorRow)`
        SELECT global_seq::text AS global_seq FROM projection_cursors
        WHERE projection = ${RELATIONAL_PROJECTION} FOR UPDATE`);
      let last = safeInteger(cursor.global_seq, 'cursor');
      const page = await tx.any(sql.type(JournalPage)`
        SELECT global_seq::text AS global_seq, record FROM journal
        WHERE global_seq > ${last} ORDER BY journal.global_seq LIMIT ${this.#pageSize}`);
      const page0 = last;
      const state = new PageState();
      for (const row of page) {
        const globalSeq = safeInteger(row.global_seq, 'global_seq');
        if (globalSeq !== last + 1) break; // not yet visible: the next round takes it
        state.apply(globalSeq, decodeBatch(row.record));
        last = globalSeq;
      }
      if (last === page0) return 0;
      await state.load(tx);
      state.resolve();
      await state.write(tx);
      await tx.query(sql.unsafe`
        UPDATE projection_cursors SET global_seq = ${last}, updated_at = now()
        WHERE projection = ${RELATIONAL_PROJECTION}`);
      return last - page0;
    });
  }
}

type Mutation = (order: OrderState) => void;

/**
 * The effects of one page, gathered in memory: orders created in it, changes to orders created
 * before (applied once their rows are loaded), trades, postings and balance deltas.
 */
class PageState {
  readonly orders = new Map<string, OrderState>();
  /** Changes, in journal order, to orders not created in this page (applied after load). */
  readonly pendingChanges = new Map<string, Mutation[]>();
  readonly trades: TradeRow[] = [];
  readonly postings: PostingRow[] = [];
  readonly deltas = new Map<string, { account: string; asset: string; available: bigint; locked: bigint }>();

  apply(globalSeq: number, batch: ReturnType<typeof decodeBatch>): void {
    const { marketId } = batch;
    batch.entries.forEach((entry, entryIndex) => {
      const ts = isoTime(entry.ts);
      entry.postings.forEach((posting, postingIndex) => {
        this.postings.push({ ...posting, globalSeq, entryIndex, postingIndex, marketId, ts });
        const key = `${posting.account}\u0000${posting.asset}`;
        let delta = this.deltas.get(key);
        if (delta === undefined) {
          delta = { account: posting.account, asset: posting.asset, available: 0n, locked: 0n };
          this.deltas.set(key, delta);
        }
        if (posting.bucket === 'available') delta.available += posting.amount;
        else delta.locked += posting.amount;
      });
      if (!entry.result.ok) return;
      let fills = 0;
      for (const event of entry.result.events) {
        this.#event(marketId, globalSeq, entry.seq, ts, event, () => fills++);
      }
    });
  }

  #event(
    marketId: string,
    globalSeq: number,
    seq: number,
    ts: string,
    event: BookEvent,
    nextFill: () => number,
  ): void {
    const id = (orderId: number) => `${marketId}:${orderId}`;
    const change = (orderId: number, mutate: Mutation) => {
      const key = id(orderId);
      const touch: Mutation = (order) => {
        mutate(order);
        order.updatedGlobalSeq = globalSeq;
        order.updatedAt = ts;
      };
      const order = this.orders.get(key);
      if (order !== undefined) touch(order);
      else {
        const list = this.pendingChanges.get(key) ?? [];
        list.push(touch);
        this.pendingChanges.set(key, list);
      }
    };
    switch (event.type) {
      case 'accepted': {
        const key = id(event.orderId);
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
        const n = nextFill();
        this.trades.push({
          id: `${marketId}:${seq}:${n}`,
          marketId,
          makerOrderId: id(event.makerOrderId),
          takerOrderId: id(event.takerOrderId),
          makerUserId: event.makerUserId,
          takerUserId: event.takerUserId,
          takerSide: event.takerSide,
          price: event.price,
          qty: event.qty,
          ts,
          globalSeq,
        });
        change(event.takerOrderId, (o) => {
          o.remaining = event.takerRemaining;
        });
        change(event.makerOrderId, (o) => {
          o.remaining = event.makerRemaining;
        });
        return;
      }
      case 'rested':
        change(event.orderId, (o) => {
          o.remaining = event.remaining;
          o.price = event.price;
          o.pending = false;
        });
        return;
      case 'pending':
        change(event.orderId, (o) => {
          o.pending = true;
        });
        return;
      case 'triggered':
        change(event.orderId, (o) => {
          o.pending = false;
        });
        return;
      case 'canceled':
        change(event.orderId, (o) => {
          o.remaining = event.remaining;
          o.canceled = true;
          o.pending = false;
        });
        return;
      case 'amended':
        change(event.orderId, (o) => {
          o.price = event.price;
          o.qty = event.qty;
          o.remaining = event.remaining;
        });
        return;
      case 'rejected':
      case 'level':
        return;
    }
  }

  /** Loads the orders this page changes but did not create. */
  async load(tx: CommonQueryMethods): Promise<void> {
    const ids = [...this.pendingChanges.keys()];
    if (ids.length === 0) return;
    const rows = await tx.any(sql.type(OrderRow)`
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
    for (const [key, mutations] of this.pendingChanges) {
      const order = this.orders.get(key)!;
      for (const mutate of mutations) mutate(order);
    }
  }

  async write(tx: CommonQueryMethods): Promise<void> {
    const all = [...this.orders.values()];
    const created = all.filter((o) => o.isNew);
    const changed = all.filter((o) => !o.isNew);
    if (created.length > 0) {
      const col = <T>(f: (o: OrderState) => T) => created.map(f);
      await tx.query(sql.unsafe`
        INSERT INTO orders (id, market_id, order_id, user_id, client_order_id, side, type, tif, price,
          stop_price, qty, filled_qty, remaining, status, created_global_seq, updated_global_seq,
          created_at, updated_at)
        SELECT * FROM unnest(
          ${sql.array(
            col((o) => o.id),
            'text',
          )},
          ${sql.array(
            col((o) => o.marketId),
            'text',
          )},
          ${sql.array(
            col((o) => o.orderId),
            'int8',
          )},
          ${sql.array(
            col((o) => o.userId),
            'text',
          )},
          ${sql.array(
            col((o) => o.clientOrderId),
            'text',
          )},
          ${sql.array(
            col((o) => o.side),
            'text',
          )},
          ${sql.array(
            col((o) => o.type),
            'text',
          )},
          ${sql.array(
            col((o) => o.tif),
            'text',
          )},
          ${sql.array(
            col((o) => o.price),
            'int8',
          )},
          ${sql.array(
            col((o) => o.stopPrice),
            'int8',
          )},
          ${sql.array(
            col((o) => o.qty),
            'int8',
          )},
          ${sql.array(
            col((o) => o.qty - o.remaining),
            'int8',
          )},
          ${sql.array(
            col((o) => o.remaining),
            'int8',
          )},
          ${sql.array(col(statusOf), 'text')},
          ${sql.array(
            col((o) => o.createdGlobalSeq),
            'int8',
          )},
          ${sql.array(
            col((o) => o.updatedGlobalSeq),
            'int8',
          )},
          ${sql.array(
            col((o) => o.createdAt),
            'timestamptz',
          )},
          ${sql.array(
            col((o) => o.updatedAt),
            'timestamptz',
          )}
        )`);
    }
    if (changed.length > 0) {
      const col = <T>(f: (o: OrderState) => T) => changed.map(f);
      await tx.query(sql.unsafe`
        UPDATE orders SET price = u.price, qty = u.qty, filled_qty = u.qty - u.remaining,
          remaining = u.remaining, status = u.status, updated_global_seq = u.g, updated_at = u.at
        FROM unnest(
          ${sql.array(
            col((o) => o.id),
            'text',
          )},
          ${sql.array(
            col((o) => o.price),
            'int8',
          )},
          ${sql.array(
            col((o) => o.qty),
            'int8',
          )},
          ${sql.array(
            col((o) => o.remaining),
            'int8',
          )},
          ${sql.array(col(statusOf), 'text')},
          ${sql.array(
            col((o) => o.updatedGlobalSeq),
            'int8',
          )},
          ${sql.array(
            col((o) => o.updatedAt),
            'timestamptz',
          )}
        ) AS u(id, price, qty, remaining, status, g, at)
        WHERE orders.id = u.id`);
    }
    if (this.trades.length > 0) {
      const col = <T>(f: (t: TradeRow) => T) => this.trades.map(f);
      await tx.query(sql.unsafe`
        INSERT INTO trades (id, market_id, maker_order_id, taker_order_id, maker_user_id, taker_user_id,
          taker_side, price, qty, ts, global_seq)
        SELECT * FROM unnest(
          ${sql.array(
            col((t) => t.id),
            'text',
          )},
          ${sql.array(
            col((t) => t.marketId),
            'text',
          )},
          ${sql.array(
            col((t) => t.makerOrderId),
            'text',
          )},
          ${sql.array(
            col((t) => t.takerOrderId),
            'text',
          )},
          ${sql.array(
            col((t) => t.makerUserId),
            'text',
          )},
          ${sql.array(
            col((t) => t.takerUserId),
            'text',
          )},
          ${sql.array(
            col((t) => t.takerSide),
            'text',
          )},
          ${sql.array(
            col((t) => t.price),
            'int8',
          )},
          ${sql.array(
            col((t) => t.qty),
            'int8',
          )},
          ${sql.array(
            col((t) => t.ts),
            'timestamptz',
          )},
          ${sql.array(
            col((t) => t.globalSeq),
            'int8',
          )}
        )`);
    }
    if (this.postings.length > 0) {
      const col = <T>(f: (p: PostingRow) => T) => this.postings.map(f);
      await tx.query(sql.unsafe`
        INSERT INTO ledger_postings (global_seq, entry_index, posting_index, market_id, account, asset,
          bucket, amount, kind, ts)
        SELECT * FROM unnest(
          ${sql.array(
            col((p) => p.globalSeq),
            'int8',
          )},
          ${sql.array(
            col((p) => p.entryIndex),
            'int4',
          )},
          ${sql.array(
            col((p) => p.postingIndex),
            'int4',
          )},
          ${sql.array(
            col((p) => p.marketId),
            'text',
          )},
          ${sql.array(
            col((p) => p.account),
            'text',
          )},
          ${sql.array(
            col((p) => p.asset),
            'text',
          )},
          ${sql.array(
            col((p) => p.bucket),
            'text',
          )},
          ${sql.array(
            col((p) => p.amount.toString()),
            'numeric',
          )},
          ${sql.array(
            col((p) => p.kind),
            'text',
          )},
          ${sql.array(
            col((p) => p.ts),
            'timestamptz',
          )}
        )`);
    }
    const deltas = [...this.deltas.values()];
    if (deltas.length > 0) {
      const accounts = sql.array(
        deltas.map((d) => d.account),
        'text',
      );
      const assets = sql.array(
        deltas.map((d) => d.asset),
        'text',
      );
      // New rows first at zero, then the page's net change: a CHECK sees only the page's result
      // (an INSERT ... ON CONFLICT would check the proposed row, a delta that may be negative).
      await tx.query(sql.unsafe`
        INSERT INTO balances (account, asset, available, locked)
        SELECT a, s, 0, 0 FROM unnest(${accounts}, ${assets}) AS u(a, s)
        ON CONFLICT (account, asset) DO NOTHING`);
      await tx.query(sql.unsafe`
        UPDATE balances SET available = balances.available + u.available, locked = balances.locked + u.locked
        FROM unnest(
          ${accounts},
          ${assets},
          ${sql.array(
            deltas.map((d) => d.available.toString()),
            'numeric',
          )},
          ${sql.array(
            deltas.map((d) => d.locked.toString()),
            'numeric',
          )}
        ) AS u(account, asset, available, locked)
        WHERE balances.account = u.account AND balances.asset = u.asset`);
    }
  }
}

/**
 * Empties the relational projections and resets their cursor, in one transaction: the next
 * Projector run rebuilds them from the start of the journal.
 */
export async function resetProjections(pool: DatabasePool): Promise<void> {
  await pool.transaction(async (tx) => {
    await tx.query(sql.unsafe`TRUNCATE trades, orders, ledger_postings, balances`);
    await tx.query(sql.unsafe`
      INSERT INTO projection_cursors (projection, global_seq) VALUES (${RELATIONAL_PROJECTION}, 0)
      ON CONFLICT (projection) DO UPDATE SET global_seq = 0, updated_at = now()`);
  });
}

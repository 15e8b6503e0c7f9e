import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod/v4';
import type { ListedMarket } from '../actors/catalog.ts';
import { recentTrades, userOrders, type OrderRecord, type TradeRecord } from '../persistence/history.ts';
import { userFills, type FillRecord } from '../persistence/userFills.ts';
import { failure, type Failure, type Outcome } from '../protocol/errors.ts';
import type { OrderMessage } from '../protocol/messages.ts';

export type { FillRecord, OrderRecord, TradeRecord };

/*
 * History reads (PROTOCOL.md, HTTP: trades, orders): what is live comes from memory (open orders,
 * as of the last committed batch), what is past from the relational projections, which trail the
 * journal by a projector round or more. Every read of the projections first waits until they hold
 * what was committed before the request (HISTORY_WAIT_MS), else answers `unavailable`.
 */

/** How far the projections trail the journal (the projector, src/persistence/projector.ts). */
export interface HistoryProgress {
  /** Resolves true once the projections hold everything committed before the call, false past the wait bound. */
  caughtUp(): Promise<boolean>;
  lag(): { readonly records: number; readonly ms: number };
  /** HISTORY_WAIT_MS: how long a read waits for the projections. */
  readonly maxWaitMs: number;
}

export interface HistoryOptions {
  readonly pool: Pick<DatabasePool, 'oneFirst' | 'any'>;
  /** Absent: the reads do not wait (tests that project by hand). */
  readonly progress?: HistoryProgress;
  /** The user's open orders as of the last committed batch (the market-data publisher). */
  readonly openOrders: (userId: string, marketId?: string) => readonly OrderMessage[];
  readonly market: (marketId: string) => ListedMarket | undefined;
}

const HEALTH_TIMEOUT_MS = 1_000;
const OPEN_STATUSES: ReadonlySet<string> = new Set(['open', 'partially_filled', 'pending_trigger']);
const CLOSED_STATUSES: readonly ('filled' | 'canceled')[] = ['filled', 'canceled'];
/** The statuses `GET /orders?status=` accepts. */
export const LISTED_STATUSES: ReadonlySet<string> = new Set([
  ...OPEN_STATUSES,
  ...CLOSED_STATUSES,
  'rejected',
]);

/**
 * A page's position in GET /orders: the last open order's (market id, order number), or the last
 * closed order's (updatedGlobalSeq, id); `closed: null` is the start of the closed part.
 */
export const OrdersCursor = z.union([
  z.object({ open: z.tuple([z.string().max(200), z.number().int().nonnegative()]) }),
  z.object({
    closed: z.tuple([z.number().int().nonnegative(), z.string().max(300)]).nullable(),
  }),
]);
export type OrdersCursor = z.infer<typeof OrdersCursor>;

/** A page's position in GET /markets/:id/trades: the last trade's `seq` (newest first). */
export const TradesCursor = z.object({ seq: z.number().int().positive() });
export type TradesCursor = z.infer<typeof TradesCursor>;

/** A page's position in GET /fills: the last fill's FillPosition (src/persistence/userFills.ts). */
export const FillsCursor = z.object({
  fill: z.tuple([
    z.number().int().nonnegative(),
    z.number().int().nonnegative(),
    z.number().int().nonnegative(),
    z.number().int().nonnegative(),
    z.enum(['maker', 'taker']),
  ]),
});
export type FillsCursor = z.infer<typeof FillsCursor>;

export interface FillsQuery {
  readonly userId: string;
  readonly market?: ListedMarket | undefined;
  readonly limit: number;
  readonly cursor?: FillsCursor | undefined;
}

export interface OrdersQuery {
  readonly userId: string;
  readonly market?: ListedMarket | undefined;
  /** One of LISTED_STATUSES, or every status. */
  readonly status?: string | undefined;
  readonly limit: number;
  readonly cursor?: OrdersCursor | undefined;
}

/** An item of a page of orders: live from memory, or closed from the projection. */
export type ListedOrder =
  { readonly open: OrderMessage } | { readonly closed: OrderRecord; readonly market: ListedMarket };

type OpenKey = [marketId: string, orderNumber: number];

export class History {
  readonly #options: HistoryOptions;

  constructor(options: HistoryOptions) {
    this.#options = options;
  }

  /** What /health reports: Postgres answering, and the projections' lag against the wait bound. */
  async health(): Promise<{
    postgres: 'ok' | 'down';
    history?: 'ok' | 'catching_up';
    historyLag?: { records: number; ms: number };
  }> {
    const postgres = await postgresHealth(this.#options.pool);
    const { progress } = this.#options;
    if (progress === undefined) return { postgres };
    const lag = progress.lag();
    const ms = Math.round(lag.ms);
    return {
      postgres,
      history: ms > progress.maxWaitMs ? 'catching_up' : 'ok',
      historyLag: { records: lag.records, ms },
    };
  }

  /** Waits until history holds what was committed before now: undefined, or the failure to answer. */
  async behind(): Promise<Failure | undefined> {
    const { progress } = this.#options;
    if (progress === undefined || (await progress.caughtUp())) return undefined;
    const { records, ms } = progress.lag();
    return failure(
      'unavailable',
      `history is catching up: ${records} journal records (${Math.round(ms)} ms) not yet in it; try again shortly`,
    );
  }

  /** A page of a market's trades, newest first, and the cursor of the next page if one follows. */
  async trades(
    market: ListedMarket,
    limit: number,
    cursor?: TradesCursor,
  ): Promise<Outcome<{ trades: TradeRecord[]; next: TradesCursor | undefined }>> {
    const behind = await this.behind();
    if (behind !== undefined) return behind;
    // One more than a page, to know whether another page follows.
    const trades = await recentTrades(this.#options.pool, market.definition.id, limit + 1, cursor?.seq);
    const page = trades.slice(0, limit);
    const last = page.at(-1);
    return {
      ok: true,
      value: {
        trades: page,
        next: trades.length > limit && last !== undefined ? { seq: last.seq } : undefined,
      },
    };
  }

  /**
   * A page of the user's fills (issue 20), newest first, from the trades projection once it holds
   * what was committed before the request; each with its market (a fill of a market no longer
   * listed is left out).
   */
  async fills(
    query: FillsQuery,
  ): Promise<
    Outcome<{ fills: { record: FillRecord; market: ListedMarket }[]; next: FillsCursor | undefined }>
  > {
    const behind = await this.behind();
    if (behind !== undefined) return behind;
    const at = query.cursor?.fill;
    // One more than a page, to know whether another page follows.
    const records = await userFills(this.#options.pool, {
      userId: query.userId,
      marketId: query.market?.definition.id,
      limit: query.limit + 1,
      after: at,
    });
    const page = records.slice(0, query.limit);
    const fills: { record: FillRecord; market: ListedMarket }[] = [];
    for (const record of page) {
      const market = this.#options.market(record.marketId);
      if (market !== undefined) fills.push({ record, market });
    }
    const last = page.at(-1);
    const next: FillsCursor | undefined =
      records.length > query.limit && last !== undefined ? { fill: [...last.position] } : undefined;
    return { ok: true, value: { fills, next } };
  }

  /**
   * One page of the user's orders: first the open ones (open, partially_filled, pending_trigger)
   * from memory, by market id then order number; then the closed ones (filled, canceled) from the
   * orders projection, most recently changed first. `limit` bounds the page; the cursor is the last
   * item's place in one of the two parts. An order that closes while a client pages through the
   * open part is listed again among the closed ones, never missed.
   * Open orders are read when the request arrives and the projection once it holds everything
   * committed by then (HISTORY_WAIT_MS, else `unavailable`), so an order that closed in between is
   * listed, closed (an order closed in memory but not yet projected used to be missing).
   */
  async orders(
    query: OrdersQuery,
  ): Promise<Outcome<{ orders: ListedOrder[]; next: OrdersCursor | undefined }>> {
    const { userId, market, status: wanted, limit, cursor: at } = query;
    if (wanted !== undefined && !LISTED_STATUSES.has(wanted)) {
      return failure('bad_request', `status must be one of ${[...LISTED_STATUSES].join(', ')}`);
    }
    const orders: ListedOrder[] = [];
    if ((at === undefined || 'open' in at) && (wanted === undefined || OPEN_STATUSES.has(wanted))) {
      const open = this.#options
        .openOrders(userId, market?.definition.id)
        .filter((order) => wanted === undefined || order.status === wanted)
        .map((order) => ({ order, key: openOrderKey(order.orderId) }))
        .filter(({ key }) => at === undefined || !('open' in at) || compareOpenKeys(key, at.open) > 0)
        .sort((a, b) => compareOpenKeys(a.key, b.key));
      for (const { order } of open.slice(0, limit)) orders.push({ open: order });
      if (open.length > limit) {
        return { ok: true, value: { orders, next: { open: open[limit - 1]!.key } } };
      }
    }
    const closed = wanted === undefined ? CLOSED_STATUSES : CLOSED_STATUSES.filter((s) => s === wanted);
    if (closed.length === 0) return { ok: true, value: { orders, next: undefined } };
    const behind = await this.behind();
    if (behind !== undefined) return behind;
    const room = limit - orders.length;
    const after = at !== undefined && 'closed' in at && at.closed !== null ? at.closed : undefined;
    const records = await userOrders(this.#options.pool, {
      userId,
      marketId: market?.definition.id,
      statuses: closed,
      // One more than the room left, to know whether another page follows.
      limit: room + 1,
      after: after === undefined ? undefined : { updatedGlobalSeq: after[0], id: after[1] },
    });
    const kept = records.slice(0, room);
    // An order open when the request came and closed since is listed once, closed.
    const closedIds = new Set(kept.map((r) => r.id));
    for (let i = orders.length - 1; i >= 0; i--) {
      const item = orders[i]!;
      if ('open' in item && closedIds.has(item.open.orderId)) orders.splice(i, 1);
    }
    for (const record of kept) {
      const of = this.#options.market(record.marketId);
      if (of !== undefined) orders.push({ closed: record, market: of });
    }
    const last = kept.at(-1);
    let next: OrdersCursor | undefined;
    if (records.length > room) {
      next = { closed: last === undefined ? null : [last.updatedGlobalSeq, last.id] };
    }
    return { ok: true, value: { orders, next } };
  }
}

/** An open order's place in the open part: wire ids are `marketId:orderNumber`. */
function openOrderKey(orderId: string): OpenKey {
  const colon = orderId.lastIndexOf(':');
  return [orderId.slice(0, colon), Number(orderId.slice(colon + 1))];
}

function compareOpenKeys(a: OpenKey, b: OpenKey): number {
  if (a[0] !== b[0]) return a[0] < b[0] ? -1 : 1;
  return a[1] - b[1];
}

async function postgresHealth(pool: Pick<DatabasePool, 'oneFirst'>): Promise<'ok' | 'down'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'down'>((resolve) => {
    timer = setTimeout(() => {
      resolve('down');
    }, HEALTH_TIMEOUT_MS);
  });
  const check = pool.oneFirst(sql.unsafe`SELECT 1`).then(
    () => 'ok' as const,
    () => 'down' as const,
  );
  try {
    return await Promise.race([check, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

import { z } from 'zod';
import type { AckLine, ReadyMarket } from './exchange.ts';

/**
 * The crash test's check through the public API (issue 12 §1): after a restart, every order the
 * client saw acknowledged is listed by GET /api/v1/orders of its user (open ones from the
 * exchange's memory, closed ones from the orders projection), in the state of its last
 * acknowledgement or a later one.
 */

export type ExpectedStatus =
  'accepted' | 'open' | 'partially_filled' | 'filled' | 'canceled' | 'pending_trigger';

/** An order as the client last saw it acknowledged. */
export interface AckedOrder {
  readonly userId: string;
  readonly market: string;
  readonly orderId: number;
  status: ExpectedStatus;
  readonly qty: number;
  /**
   * Lots open as of that acknowledgement, as its events say (not a sum of the fills seen: a fill
   * in a command whose acknowledgement the kill cut off was committed all the same).
   */
  remaining: number;
}

const TERMINAL: ReadonlySet<string> = new Set(['filled', 'canceled']);

/** Every order the acknowledgements name, by `market#orderId`, in their last acknowledged state. */
export class AckedOrders {
  readonly #orders = new Map<string, AckedOrder>();

  get size(): number {
    return this.#orders.size;
  }

  /** Applies one acknowledgement's book events, in order. */
  apply(ack: AckLine): void {
    const of = (orderId: number) => this.#orders.get(`${ack.market}#${orderId}`);
    for (const event of ack.events) {
      switch (event.type) {
        case 'accepted':
          this.#orders.set(`${ack.market}#${event.orderId}`, {
            userId: event.userId,
            market: ack.market,
            orderId: event.orderId,
            status: 'accepted',
            qty: event.qty,
            remaining: event.qty,
          });
          break;
        case 'rested': {
          const order = of(event.orderId);
          if (order === undefined) break;
          order.remaining = event.remaining;
          order.status = event.remaining < order.qty ? 'partially_filled' : 'open';
          break;
        }
        case 'pending': {
          const order = of(event.orderId);
          if (order !== undefined) order.status = 'pending_trigger';
          break;
        }
        case 'fill':
          for (const [orderId, remaining] of [
            [event.takerOrderId, event.takerRemaining],
            [event.makerOrderId, event.makerRemaining],
          ] as const) {
            const order = of(orderId);
            if (order === undefined) continue; // placed by an acknowledgement the kill cut off
            order.remaining = remaining;
            if (remaining === 0) order.status = 'filled';
            else if (order.status === 'open') order.status = 'partially_filled';
          }
          break;
        case 'canceled': {
          const order = of(event.orderId);
          if (order === undefined) break;
          order.remaining = event.remaining;
          order.status = 'canceled';
          break;
        }
        default:
          break;
      }
    }
  }

  /** The orders of one user, by market symbol. */
  byUser(): Map<string, AckedOrder[]> {
    const users = new Map<string, AckedOrder[]>();
    for (const order of this.#orders.values()) {
      const list = users.get(order.userId) ?? [];
      list.push(order);
      users.set(order.userId, list);
    }
    return users;
  }
}

export interface ApiVerdict {
  /** Acknowledged orders looked up. */
  readonly checked: number;
  /** Not listed, or listed in a state earlier than (or different from) the acknowledged one. */
  readonly missing: number;
  /** Not listed because the user's closed orders filled the longest page and no cursor was offered. */
  readonly truncated: number;
  readonly problems: string[];
}

const Listed = z.array(
  z.object({ orderId: z.string(), status: z.string(), filledQty: z.string() }).passthrough(),
);
type ListedOrder = z.infer<typeof Listed>[number];

/** The longest page GET /orders answers (PROTOCOL v1.1: `limit` at most 1000). */
const PAGE = 1_000;

export async function checkOrdersOverApi(options: {
  readonly baseUrl: string;
  readonly markets: readonly ReadyMarket[];
  readonly orders: AckedOrders;
  readonly token: (userId: string) => Promise<string>;
}): Promise<ApiVerdict> {
  const { baseUrl, markets, orders } = options;
  const bySymbol = new Map(markets.map((m) => [m.symbol, m]));
  let checked = 0;
  let missing = 0;
  let truncated = 0;
  const problems: string[] = [];
  for (const [userId, mine] of orders.byUser()) {
    const token = await options.token(userId);
    for (const market of markets) {
      const expected = mine.filter((o) => o.market === market.symbol);
      if (expected.length === 0) continue;
      const listing = await listOrders(baseUrl, token, market.symbol);
      let beyond = 0;
      for (const order of expected) {
        checked++;
        const wireId = `${bySymbol.get(order.market)!.id}:${order.orderId}`;
        const found = listing.orders.get(wireId);
        const acked = order.qty - order.remaining;
        const what = `${userId} ${order.market}#${order.orderId} (acknowledged ${order.status}, ${acked} of ${order.qty} lots filled)`;
        if (found === undefined) {
          if (listing.full) beyond++;
          else {
            missing++;
            problems.push(`${what} is not listed by GET /orders`);
          }
          continue;
        }
        const filled = lots(found.filledQty, market);
        // Later states only: never less filled, and a closed order stays exactly as it closed.
        const earlier =
          filled < acked ||
          (TERMINAL.has(order.status) && (found.status !== order.status || filled !== acked));
        if (earlier) {
          missing++;
          problems.push(`${what} is listed ${found.status} with filledQty ${found.filledQty}`);
        }
      }
      if (beyond > 0) {
        truncated += beyond;
        const closed = [...listing.orders.values()].filter((o) => TERMINAL.has(o.status)).length;
        problems.push(
          `${userId} ${market.symbol}: ${beyond} acknowledged orders not listed: GET /orders lists ` +
            `at most ${PAGE} closed orders per request and status (the newest) and offers no cursor ` +
            `(${closed} closed listed)`,
        );
      }
    }
  }
  return { checked, missing, truncated, problems };
}

interface Listing {
  readonly orders: Map<string, ListedOrder>;
  /** A closed-order page came back full with no cursor: older closed orders cannot be read. */
  readonly full: boolean;
}

/**
 * Every order GET /orders lists for the user on one market. Pages are followed through
 * X-Next-Cursor when the server offers it; without it a full page of closed orders is read again
 * per closed status, and if one of those is full too the listing is marked `full`. The first
 * request lists open and closed orders at one instant (open from memory when it arrives, closed
 * from history holding everything committed by then), so an order closing meanwhile is still seen.
 */
async function listOrders(baseUrl: string, token: string, symbol: string): Promise<Listing> {
  const orders = new Map<string, ListedOrder>();
  const add = (page: readonly ListedOrder[]) => {
    for (const order of page) {
      const known = orders.get(order.orderId);
      // Closed is final: a later page's closed state wins over an earlier open one.
      if (known === undefined || TERMINAL.has(order.status)) orders.set(order.orderId, order);
    }
  };
  const market = encodeURIComponent(symbol);
  let page = await getPage(baseUrl, token, `market=${market}&limit=${PAGE}`);
  add(page.orders);
  let closed = page.orders.filter((o) => TERMINAL.has(o.status)).length;
  if (page.cursor !== undefined) {
    while (page.cursor !== undefined) {
      page = await getPage(
        baseUrl,
        token,
        `market=${market}&limit=${PAGE}&cursor=${encodeURIComponent(page.cursor)}`,
      );
      add(page.orders);
    }
    return { orders, full: false };
  }
  if (closed < PAGE) return { orders, full: false };
  let full = false;
  for (const status of TERMINAL) {
    const only = await getPage(baseUrl, token, `market=${market}&status=${status}&limit=${PAGE}`);
    add(only.orders);
    closed = only.orders.length;
    if (closed >= PAGE) full = true;
  }
  return { orders, full };
}

async function getPage(
  baseUrl: string,
  token: string,
  query: string,
): Promise<{ orders: ListedOrder[]; cursor: string | undefined }> {
  const response = await fetch(`${baseUrl}/api/v1/orders?${query}`, {
    headers: { authorization: `Bearer ${token}` },
  });
  const text = await response.text();
  if (response.status !== 200) {
    throw new Error(`GET /api/v1/orders?${query} answered ${response.status}: ${text.slice(0, 300)}`);
  }
  const cursor = response.headers.get('x-next-cursor');
  return {
    orders: Listed.parse(JSON.parse(text)),
    cursor: cursor === null || cursor === '' ? undefined : cursor,
  };
}

/** A decimal quantity string of the market as lots (exact: digits, not floats). */
function lots(qty: string, market: ReadyMarket): number {
  return Number(units(qty, market.qtyDecimals) / units(market.lotSize, market.qtyDecimals));
}

function units(decimal: string, places: number): bigint {
  const match = /^([0-9]+)(?:\.([0-9]*))?$/.exec(decimal);
  if (match === null) throw new Error(`not a decimal quantity: ${decimal}`);
  const fraction = (match[2] ?? '').padEnd(places, '0');
  if (fraction.length > places) throw new Error(`${decimal} has more than ${places} decimals`);
  return BigInt(match[1]! + fraction);
}

import { acceptsOrder, type OrderAction } from '../../machines/marketLifecyclePolicy.ts';
import type { Catalog, ListedMarket } from '../actors/catalog.ts';
import type { CommandResult, MarketCommand } from '../actors/market/types.ts';
import type { Supervisor } from '../actors/supervisor.ts';
import { wireOrderId } from '../events/ids.ts';
import { placementSummary } from '../events/orders.ts';
import type { Principal } from './principal.ts';
import { failure, success, type ErrorCode, type Failure, type Outcome } from '../protocol/errors.ts';
import type { AcceptedStatus } from '../protocol/messages.ts';
import type { AmendRequest, CancelRequest, PlaceOcoRequest, PlaceRequest } from '../protocol/schemas.ts';
import type { UserOrders } from './userOrders.ts';
import {
  decimalProblem,
  ocoCommand,
  ocoDecimalProblem,
  orderRef,
  placeCommand,
  placeProblem,
} from './orderCommands.ts';

/*
 * Order entry, shared by the WebSocket and HTTP surfaces: wire requests (decimal strings, ids as
 * strings) in, the market's integer commands to the supervisor, wire replies out. Checks run in the
 * order PROTOCOL.md gives for several errors: bad_request, unknown_market, market_not_active,
 * compliance, duplicate_client_order_id, then what the market itself decides (insufficient_funds,
 * would_match, fok_unfilled). Before all of them, the user's rate limit; nothing refused here
 * reaches a market.
 */

export interface Accepted {
  readonly orderId: string;
  readonly clientOrderId?: string;
  readonly status: AcceptedStatus;
  readonly filledQty: string;
  readonly remainingQty: string;
}

/** PROTOCOL v1.1 `accepted_oco`: the list (its id is the limit leg's) and both legs as accepted. */
export interface AcceptedOco {
  readonly listId: string;
  readonly orders: readonly (Accepted & { readonly type: 'limit' | 'stop_limit' | 'stop_market' })[];
}

export interface Canceled {
  readonly orderId: string;
  readonly clientOrderId?: string;
  readonly status: 'canceled';
  readonly filledQty: string;
  readonly remainingQty: string;
}

export interface Amended {
  readonly orderId: string;
  readonly price: string;
  readonly qty: string;
  readonly remainingQty: string;
}

export interface OrderEntryOptions {
  readonly catalog: Catalog;
  readonly supervisor: Supervisor;
  /**
   * Where commands go (default: the local supervisor). ROLE=gateway sends each to its market's
   * owner over NATS (src/cluster/router.ts); `reply` is called once, after the owner's commit.
   */
  readonly route?: CommandRoute;
  /** One token per place, amend or cancel of a user; false: refused `rate_limited`. */
  readonly limiter: { take(userId: string): boolean };
  /** Told each order's outcome and every refusal (/metrics counts them). */
  readonly observe?: OrderEntryObserver;
  readonly userOrders: UserOrders;
  /** A reason to refuse new places now (e.g. projections lagging): answered `overloaded`. */
  readonly admission?: () => Failure | undefined;
  readonly clock?: () => number;
}

export type CommandRoute = (
  symbol: string,
  command: MarketCommand,
  ts: number,
  reply: (result: CommandResult) => void,
) => void;

export interface OrderEntryObserver {
  /** A place's outcome: the status it was accepted with, or `rejected`. */
  order(
    type: PlaceRequest['type'],
    side: PlaceRequest['side'],
    status: Accepted['status'] | 'rejected',
  ): void;
  rejection(op: 'place' | 'amend' | 'cancel' | 'cancel_all', code: ErrorCode): void;
}

/** `respond`, telling the observer the order and its outcome. */
function countedPlace(
  observe: OrderEntryObserver | undefined,
  request: PlaceRequest,
  respond: (outcome: Outcome<Accepted>) => void,
): (outcome: Outcome<Accepted>) => void {
  if (observe === undefined) return respond;
  return (outcome) => {
    const { type, side } = request;
    observe.order(type, side, outcome.ok ? outcome.value.status : 'rejected');
    if (!outcome.ok) observe.rejection('place', outcome.code);
    respond(outcome);
  };
}

/** `respond`, telling the observer its failures. */
function countedRejections<T>(
  observe: OrderEntryObserver | undefined,
  op: 'cancel' | 'amend' | 'place',
  respond: (outcome: Outcome<T>) => void,
): (outcome: Outcome<T>) => void {
  if (observe === undefined) return respond;
  return (outcome) => {
    if (!outcome.ok) observe.rejection(op, outcome.code);
    respond(outcome);
  };
}

/** The wire id of an order: unique across the exchange (src/events/ids.ts). */
export { wireOrderId };

export class OrderEntry {
  private readonly clock: () => number;

  constructor(private readonly options: OrderEntryOptions) {
    this.clock = options.clock ?? Date.now;
  }

  /**
   * Each operation answers through `respond`, called synchronously in the supervisor's reply loop
   * once the batch is committed: a connection's reply goes out before the pushes the same batch
   * causes (PROTOCOL.md), which the supervisor publishes right after the replies.
   */
  place(principal: Principal, request: PlaceRequest, answer: (outcome: Outcome<Accepted>) => void): void {
    const respond = countedPlace(this.options.observe, request, answer);
    const found = this.marketFor(principal, request.market, placeProblem(request));
    if (!found.ok) return respond(found);
    const market = found.value;
    const command = placeCommand(principal.userId, market, request);
    if (!command.ok) return respond(command);
    const refused = this.notActive(market, 'place') ?? this.options.admission?.();
    if (refused !== undefined) return respond(refused);
    const { userOrders } = this.options;
    const { clientOrderId } = request;
    const reserved = userOrders.reserve(principal.userId, clientOrderId);
    if (reserved === 'duplicate') {
      return respond(
        failure(
          'duplicate_client_order_id',
          `you already have an open order with clientOrderId ${clientOrderId}`,
        ),
      );
    }
    if (reserved === 'limit') {
      return respond(
        failure('too_many_open_orders', 'you have as many open orders as allowed; cancel some first'),
      );
    }
    this.submit(market, command.value, (result) => {
      if (!result.ok || result.orderId === undefined) {
        userOrders.settle(principal.userId, clientOrderId, undefined);
        respond(
          result.ok
            ? failure('unavailable', 'the market gave no order id')
            : failure(result.code, result.message),
        );
        return;
      }
      const orderId = wireOrderId(market.definition.id, result.orderId);
      const summary = placementSummary(result.events, result.orderId);
      if (summary === undefined) {
        userOrders.settle(principal.userId, clientOrderId, undefined);
        respond(failure('unavailable', 'the market did not accept the order it numbered'));
        return;
      }
      const open = summary.status === 'open' || summary.status === 'partially_filled';
      userOrders.settle(principal.userId, clientOrderId, open ? orderId : undefined);
      const { money } = market;
      respond(
        success({
          orderId,
          ...(clientOrderId === undefined ? {} : { clientOrderId }),
          status: summary.status,
          filledQty: money.formatQty(summary.filledQty),
          remainingQty: money.formatQty(summary.remainingQty),
        }),
      );
    });
  }

  /**
   * OCO (PROTOCOL v1.1): as place, for a list of two legs; the clientOrderId is the limit leg's, and
   * both legs count among the user's open orders while open.
   */
  placeOco(
    principal: Principal,
    request: PlaceOcoRequest,
    answer: (outcome: Outcome<AcceptedOco>) => void,
  ): void {
    const respond = countedRejections(this.options.observe, 'place', answer);
    const found = this.marketFor(principal, request.market, ocoDecimalProblem(request));
    if (!found.ok) return respond(found);
    const market = found.value;
    const command = ocoCommand(principal.userId, market, request);
    if (!command.ok) return respond(command);
    const refused = this.notActive(market, 'place') ?? this.options.admission?.();
    if (refused !== undefined) return respond(refused);
    const { userOrders } = this.options;
    const { clientOrderId } = request;
    const reserved = userOrders.reserve(principal.userId, clientOrderId);
    if (reserved !== 'ok') {
      return respond(
        reserved === 'duplicate'
          ? failure(
              'duplicate_client_order_id',
              `you already have an open order with clientOrderId ${clientOrderId}`,
            )
          : failure('too_many_open_orders', 'you have as many open orders as allowed; cancel some first'),
      );
    }
    this.submit(market, command.value, (result) => {
      const legs = result.ok && result.orderId !== undefined ? [result.orderId, result.orderId + 1] : [];
      const summaries = result.ok ? legs.map((id) => placementSummary(result.events, id)) : [];
      if (!result.ok || summaries.length !== 2 || summaries.some((s) => s === undefined)) {
        userOrders.settle(principal.userId, clientOrderId, undefined);
        respond(
          result.ok
            ? failure('unavailable', 'the market did not accept both legs')
            : failure(result.code, result.message),
        );
        return;
      }
      const { money } = market;
      const stopType: 'stop_limit' | 'stop_market' =
        request.stopLimitPrice === undefined ? 'stop_market' : 'stop_limit';
      const orders = legs.map((id, i): AcceptedOco['orders'][number] => {
        const summary = summaries[i]!;
        const orderId = wireOrderId(market.definition.id, id);
        const open = summary.status === 'open' || summary.status === 'partially_filled';
        if (i === 0) userOrders.settle(principal.userId, clientOrderId, open ? orderId : undefined);
        else if (open) userOrders.add(principal.userId, orderId, undefined);
        return {
          orderId,
          ...(i === 0 && clientOrderId !== undefined ? { clientOrderId } : {}),
          type: i === 0 ? ('limit' as const) : stopType,
          status: summary.status,
          filledQty: money.formatQty(summary.filledQty),
          remainingQty: money.formatQty(summary.remainingQty),
        };
      });
      respond(success({ listId: orders[0]!.orderId, orders }));
    });
  }

  cancel(principal: Principal, request: CancelRequest, answer: (outcome: Outcome<Canceled>) => void): void {
    const respond = countedRejections(this.options.observe, 'cancel', answer);
    const found = this.marketFor(principal, request.market);
    if (!found.ok) return respond(found);
    const market = found.value;
    const ref = orderRef(principal.userId, market, request);
    if (!ref.ok) return respond(ref);
    const refused = this.notActive(market, 'cancel');
    if (refused !== undefined) return respond(refused);
    this.submit(market, { kind: 'cancel', ...ref.value }, (result) => {
      if (!result.ok) return respond(failure(result.code, result.message));
      const canceled = result.events.find((e) => e.type === 'canceled');
      if (canceled === undefined) return respond(failure('not_found', 'no such open order'));
      respond(
        success({
          orderId: wireOrderId(market.definition.id, canceled.orderId),
          ...(request.clientOrderId === undefined ? {} : { clientOrderId: request.clientOrderId }),
          status: 'canceled',
          filledQty: market.money.formatQty(result.filledQty ?? 0),
          remainingQty: market.money.formatQty(canceled.remaining),
        }),
      );
    });
  }

  amend(principal: Principal, request: AmendRequest, answer: (outcome: Outcome<Amended>) => void): void {
    const respond = countedRejections(this.options.observe, 'amend', answer);
    const problem = decimalProblem('qty', request.qty) ?? decimalProblem('price', request.price) ?? undefined;
    const found = this.marketFor(principal, request.market, problem);
    if (!found.ok) return respond(found);
    const market = found.value;
    const ref = orderRef(principal.userId, market, request);
    if (!ref.ok) return respond(ref);
    const qty = request.qty === undefined ? undefined : market.money.parseQty(request.qty);
    const price = request.price === undefined ? undefined : market.money.parsePrice(request.price);
    for (const parsed of [qty, price]) {
      if (parsed?.ok === false) return respond(failure('bad_request', parsed.message));
    }
    const refused = this.notActive(market, 'amend');
    if (refused !== undefined) return respond(refused);
    const command: MarketCommand = {
      kind: 'amend',
      ...ref.value,
      qty: qty?.ok ? qty.value : undefined,
      price: price?.ok ? price.value : undefined,
    };
    this.submit(market, command, (result) => {
      if (!result.ok) return respond(failure(result.code, result.message));
      const amended = result.events.find((e) => e.type === 'amended');
      if (amended === undefined) return respond(failure('not_found', 'no such open order'));
      let remaining = amended.remaining;
      for (const e of result.events) {
        if (e.type === 'fill' && e.takerOrderId === amended.orderId) remaining = e.takerRemaining;
      }
      const { money } = market;
      respond(
        success({
          orderId: wireOrderId(market.definition.id, amended.orderId),
          price: money.formatPrice(amended.price),
          qty: money.formatQty(amended.qty),
          remainingQty: money.formatQty(remaining),
        }),
      );
    });
  }

  /** Cancels the user's open orders in one market, or in every market that takes cancels. */
  /**
   * `exempt`: the exchange's own cancel (a compliance refusal), not counted in the user's rate
   * limit.
   */
  /**
   * Cancels the user's open orders in every market trading `asset` (base or quote), exempt from
   * the rate limit: compliance revoked or rejected for it (ComplianceAdmin). Answers how many.
   */
  async cancelHolding(userId: string, asset: string): Promise<number> {
    const trading = this.options.catalog
      .listMarkets()
      .filter((m) => m.definition.baseAsset === asset || m.definition.quoteAsset === asset);
    let count = 0;
    for (const market of trading) {
      const canceled = await this.cancelAll({ userId, roles: ['trader'] }, market.definition.symbol, {
        exempt: true,
      });
      if (canceled.ok) count += canceled.value.count;
    }
    return count;
  }

  async cancelAll(
    principal: Principal,
    symbol: string | undefined,
    options: { exempt?: boolean } = {},
  ): Promise<Outcome<{ count: number }>> {
    const limited = options.exempt === true ? undefined : this.limit(principal);
    if (limited !== undefined) return limited;
    const { catalog, supervisor } = this.options;
    let markets: ListedMarket[];
    if (symbol === undefined) {
      markets = catalog.listMarkets().filter((m) => {
        const state = supervisor.actor(m.definition.symbol)?.state;
        return state !== undefined && acceptsOrder(state, 'cancel_all');
      });
    } else {
      const market = catalog.market(symbol);
      if (market === undefined) return unknownMarket(symbol);
      const refused = this.notActive(market, 'cancel_all');
      if (refused !== undefined) return refused;
      markets = [market];
    }
    const { userId } = principal;
    const results = await Promise.all(
      markets.map(
        (m) =>
          new Promise<CommandResult>((resolve) => {
            this.submit(m, { kind: 'cancel_all', userId }, resolve);
          }),
      ),
    );
    let count = 0;
    for (const result of results) {
      if (!result.ok) {
        if (symbol !== undefined) return failure(result.code, result.message);
        continue;
      }
      for (const e of result.events) if (e.type === 'canceled') count++;
    }
    return success({ count });
  }

  private submit(market: ListedMarket, command: MarketCommand, then: (result: CommandResult) => void): void {
    const route = this.options.route;
    if (route !== undefined) route(market.definition.symbol, command, this.clock(), then);
    else this.options.supervisor.send(market.definition.symbol, command, this.clock(), then);
  }

  /**
   * The rate limit, then what is wrong with the request whatever the market (`bad_request` comes
   * before `unknown_market`, PROTOCOL.md), then the market named: every single-market request
   * starts so. The market's own money rules (decimals, tick, lot, min and max) are checked after.
   */
  private marketFor(principal: Principal, name: string, problem?: string): Outcome<ListedMarket> {
    const limited = this.limit(principal);
    if (limited !== undefined) return limited;
    if (problem !== undefined) return failure('bad_request', problem);
    const market = this.options.catalog.market(name);
    return market === undefined ? unknownMarket(name) : success(market);
  }

  private limit(principal: Principal): Failure | undefined {
    if (this.options.limiter.take(principal.userId)) return undefined;
    return failure('rate_limited', 'too many order requests; slow down');
  }

  private notActive(market: ListedMarket, action: OrderAction): Failure | undefined {
    const state = this.options.supervisor.actor(market.definition.symbol)?.state;
    if (state !== undefined && acceptsOrder(state, action)) return undefined;
    return failure(
      'market_not_active',
      `market ${market.definition.symbol} is ${state ?? 'not running'}: no ${action}`,
    );
  }
}

function unknownMarket(name: string): Failure {
  return failure('unknown_market', `no market ${name}`);
}

/**
 * The matching engine's contract: commands in, events out. Pure data, integers only.
 *
 * Units: every price is an integer number of ticks, every quantity an integer number of lots, and a
 * quote budget is in tick×lot units (price × qty). All are positive safe integers. Conversion from
 * and to decimal strings happens at the edges (src/actors/money.ts), never here.
 *
 * Semantics (the reference model in test/reference implements the same rules independently):
 *
 * Priority. Price first (best bid = highest, best ask = lowest), then arrival on the level (FIFO).
 * A taker always trades at the maker's price.
 *
 * Placement. Rejections (event `rejected`, nothing else happens) are checked in this order:
 *   1. `bad_request`: qty not a positive safe integer or above config maxQty; `price` missing on limit/stop_limit or present on
 *      market/stop_market; `stopPrice` missing on stop types or present on others; a non-positive or
 *      unsafe price/stopPrice/quoteBudget; `postOnly` on a type other than limit/stop_limit or with a
 *      tif other than GTC/GTD; `quoteBudget` on anything but a `market` or `stop_market` buy;
 *      tif GTD without a positive safe integer `expireAt`, or `expireAt` with another tif;
 *      `displayQty` not a positive safe integer, above qty, below qty / 1000 (MAX_ICEBERG_SLICES), or
 *      on anything but a GTC/GTD limit or stop_limit; a `trailing_stop` without exactly one of
 *      `trailingOffset` (ticks) and `trailingBps` (1..10000), with a price or stopPrice of its own,
 *      or a negative or unsafe `limitOffset`; any of these three on another type; `postOnly` on a
 *      trailing_stop without limitOffset; a quoteBudget on one with limitOffset.
 *   2. `duplicate_client_order_id`: the user already has an open order (resting or pending stop) in
 *      this book with the same clientOrderId.
 *   3. `overloaded`: the book already holds `maxOrders` open orders (resting + pending stops).
 *   4. `would_match`: a post-only limit whose price would match: buy >= best ask, sell <= best bid (any
 *      owner).
 *   5. `fok_unfilled`: a FOK limit or market order that could not fill completely (see FOK below).
 *   6. `bad_request`: a trailing_stop while the book has no last trade price (nothing to trail).
 *   Rules 3–5 apply whether or not the order would rest. A stop that triggers at once is accepted
 *   and then follows the triggered-order rules below.
 * Otherwise `accepted`, then execution:
 *   - stop types: if a last trade price exists and the stop condition already holds (buy: last >=
 *     stopPrice; sell: last <= stopPrice) the order is `triggered` at once and executes as below;
 *     otherwise `pending` and it waits.
 *   - limit: matches while the opposite best price is at or better than its price; then the remainder
 *     rests (GTC and GTD: event `rested`) or is canceled (IOC/FOK: `canceled` reason `unfilled`).
 *     A GTD order rests (or waits, as a stop) like a GTC one until an `expire` command at or after
 *     its expireAt cancels it (reason `expired`); the book never reads a clock.
 *   - market: matches at any price until filled, the book side is empty, or its quote budget cannot
 *     buy one more lot at the next maker's price; the remainder is canceled (`unfilled`). A market
 *     order never rests, whatever its tif.
 *   - A fully filled taker gets no closing event: its last `fill` shows takerRemaining 0.
 *   - At each maker at the head of the opposite side, in this order: stop if its price is worse than
 *     the taker's limit; stop if the quote budget cannot buy one lot at its price; apply self-trade
 *     prevention if it is the taker's user; else fill min(taker remaining, maker remaining, lots the
 *     budget affords = floor(budget / price)) and spend price × fill qty of the budget.
 *
 * Self-trade prevention, when the taker meets a maker of the same user (the taker's mode decides):
 *   cancel_taker: `canceled` (reason `self_trade`) for the taker's remainder; matching stops.
 *   cancel_maker: `canceled` (`self_trade`) for that maker; matching continues.
 *   cancel_both:  `canceled` for the maker, then for the taker's remainder; matching stops.
 *   decrement:    nothing trades and no last price is set: both are reduced by d = min(taker
 *                 remaining, maker remaining), qty and remaining alike (filled stays), maker first.
 *                 One left with remaining 0 is `canceled` (`self_trade`, remaining d) instead; any
 *                 other gets `decremented` (qty d, its new remaining). The maker stays at its place
 *                 in the queue; the taker continues matching (rests, or is canceled as usual) when
 *                 it has some left, and stops when it has none.
 *
 * FOK. Walk the opposite side in priority order over makers at acceptable prices: a maker of another
 * user adds its remaining; a maker of the same user is skipped under cancel_maker and ends the walk
 * under cancel_taker/cancel_both/decrement (a decrement would leave qty unfilled). Fillable when the sum reaches qty. A fillable FOK then executes as
 * an ordinary order (cancel_maker cancellations happen as it goes).
 * A FOK buy with a quote budget walks the same way, each maker adding min(its remaining, the lots
 * the budget left affords at its price) and spending them; before the self-trade check, a maker
 * whose price the budget left cannot buy one lot at ends the walk. It is fillable when the sum
 * reaches qty within the budget, or, when qty is the book's maxQty (what order entry gives a
 * budget-only order), also when the walk ends because the budget is spent (up to lot rounding:
 * less than one lot at the next maker's price is left, or, when the side runs out, at the price
 * of the last maker it took from). Executed, such a budget-only FOK ends
 * like any budget-only market buy: the quantity the budget did not buy is `canceled` `unfilled`.
 *
 * Stops. Each `fill` sets the last trade price. Right after a fill at price p, pending buy stops with
 * stopPrice <= p trigger (stopPrice ascending, then arrival), or pending sell stops with stopPrice >= p
 * (stopPrice descending, then arrival); each gets a `triggered` event right after that fill and joins
 * the back of a trigger queue; buy stops before sell stops (both sides can trigger only on the first
 * trade, as afterwards pending buy stops are above the last price and pending sell stops below it). When the current order has finished (rested, canceled or filled), the
 * queue is executed front to back: a stop_limit as a limit order with its price/tif/postOnly/stp, a
 * stop_market as a market order (a stop_market buy with the quote budget it was placed with). A triggered order that the book's trigger gate refuses (see
 * TriggerGate) is `canceled` with reason `compliance`, before anything else is checked; one that
 * breaks post-only is `canceled` with reason `would_match`; a triggered FOK that cannot fill is `canceled` with reason `fok_unfilled`; fills of
 * triggered orders can trigger more stops (they join the back of the queue).
 *
 * Cancel (by orderId, or by clientOrderId among the user's open orders when orderId is absent; neither
 * given: `bad_request`; an orderId that is not a safe integer: `bad_request`; when orderId is given
 * clientOrderId is ignored) of a resting order or pending stop: `canceled` reason `user`. Unknown, or
 * another user's: `rejected` `not_found`. Cancel-all
 * cancels every open order (resting and pending stops) of the user in this book, ascending orderId.
 *
 * Amend (a resting order of the user, by orderId or clientOrderId). Checked in this order: `bad_request`
 * when neither qty nor price is given, or a given one is not a positive safe integer, or qty is above
 * maxQty; `not_found` as for cancel; `bad_request` when the order is a pending stop or qty (the new
 * total quantity) does not exceed the filled quantity, or (an iceberg) exceeds 1000 × displayQty. Same price (or none) and qty not higher: priority kept, remaining
 * reduced in place (`amended` with priorityKept true). A new price or a higher qty loses priority:
 * if post-only and the new price crosses, `rejected` `would_match` and nothing changes; otherwise
 * `amended` (priorityKept false), the order leaves its level and re-enters as an aggressive GTC
 * limit order with the same id, stp and post-only flag (fills first, then `rested`).
 *
 * A triggered stop_limit that rests keeps type `stop_limit` and its stopPrice in OpenOrder.
 *
 * Iceberg (`displayQty`). An iceberg takes liquidity like any limit, with all it has. When it rests
 * it shows a slice of min(displayQty, remaining) on its level and hides the rest: level totals (and
 * so every `level` event, depth and snapshot level) count only the shown slice; the order's own
 * events (rested, fill, canceled, amended, decremented) report its whole remaining. When a fill
 * takes the last of the shown slice and some is hidden, the next slice of min(displayQty, hidden)
 * joins the back of the same level (time priority lost per slice), within the same match: a taker
 * that goes on meets the level's other makers first, then the new slice. FOK counts the hidden parts
 * of a level's icebergs after its other makers (where matching would meet them). STP decrement
 * against an iceberg maker takes d = min(taker remaining, shown slice); the maker is canceled when
 * that was all it had, else reduced (a shown slice brought to 0 refills as above). Amend keeping
 * priority reduces the hidden part first (shown = min(shown, new remaining)); an amend that loses
 * priority re-enters with its whole remaining and rests a fresh slice. OpenOrder carries
 * `displayQty`, and `shownQty` (the current slice) while it rests.
 *
 * Trailing stops (`trailing_stop`). The stop trails an anchor: the last trade price at placement,
 * then the best trade price in the order's favour since (lowest for a buy, highest for a sell).
 * The trailing distance is trailingOffset, or max(1, floor(anchor × trailingBps / 10000)); the
 * stopPrice is anchor + distance (buy) or max(1, anchor − distance) (sell); with limitOffset it
 * executes as a limit at stopPrice + limitOffset (buy) or max(1, stopPrice − limitOffset) (sell),
 * else as a market order (a buy with its quote budget). It waits among the pending stops at its
 * current stopPrice and triggers under the stop rules above (a move against it by the distance).
 * Moves happen on fills only (the book's trades, so replay moves it the same way): after each fill
 * at p, and after the stops p triggers, every pending buy trailing stop with anchor > p (sell:
 * anchor < p) takes anchor p, its new stopPrice (and price) and rejoins the back of its new stop
 * level, those moved by one fill in orderId order. At the end of a command each order moved in it
 * and still pending gets one `trailed` event with its current stopPrice (and price), in orderId
 * order, before the level events. A triggered trailing stop keeps type `trailing_stop`; OpenOrder
 * carries trailingOffset or trailingBps, limitOffset and `trailAnchor`.
 *
 * OCO (`place_oco`, one-cancels-the-other). Two legs of one user: a GTC limit (orderId, price, the
 * clientOrderId if any) and a GTC stop (stopOrderId; a stop_limit at stopLimitPrice, else a
 * stop_market), both of side and qty, linked as a list whose listId is the limit leg's orderId.
 * Rejections, in this order: `bad_request` when qty is not a positive safe integer or above maxQty,
 * price, stopPrice or a given stopLimitPrice is not a positive safe integer, stopOrderId is not a
 * safe integer or equals orderId, or the stop is not beyond the limit (buy: stopPrice > price; sell:
 * stopPrice < price); `duplicate_client_order_id` as for place; `overloaded` when the book has no
 * room for two more open orders. Otherwise `accepted` for the limit leg, then for the stop leg
 * (orderType stop_limit or stop_market, tif GTC), then the limit leg executes as a GTC limit; then,
 * if the stop leg is still open, it is `triggered` at once when the stop condition holds (and
 * executes), else `pending`; then the trigger queue runs.
 * While linked, both legs carry `listId` in OpenOrder. A linked leg that fills (taker or maker, any
 * part), is `decremented`, is `triggered`, or ends (canceled for any reason) breaks the link and its
 * partner is `canceled` with reason `oco` right after that event (after a fill: the maker's partner,
 * then the taker's, before the stops that fill triggers). Canceling either leg therefore cancels both
 * (cancel-all: ascending orderId, a leg already canceled as a partner is skipped). A linked leg
 * cannot be amended (`bad_request`, checked with the pending-stop rule). Once unlinked, a leg is an
 * ordinary order.
 *
 * Level changes. At the end of every command, one `level` event per price level whose total differs
 * from its total before the command (0 when it disappeared), sorted buys first (price descending)
 * then sells (price ascending). Pending stops are not on levels.
 */

export type Side = 'buy' | 'sell';
export type OrderType = 'limit' | 'market' | 'stop_limit' | 'stop_market' | 'trailing_stop';
export type TimeInForce = 'GTC' | 'IOC' | 'FOK' | 'GTD';
export type SelfTradePrevention = 'cancel_taker' | 'cancel_maker' | 'cancel_both' | 'decrement';

export type RejectCode =
  'bad_request' | 'duplicate_client_order_id' | 'overloaded' | 'would_match' | 'fok_unfilled' | 'not_found';

export type CancelReason =
  'user' | 'unfilled' | 'self_trade' | 'would_match' | 'fok_unfilled' | 'compliance' | 'expired' | 'oco';

/**
 * Asked when a triggered stop is about to execute (in trigger-queue order, or at once when it
 * triggers at placement): false cancels it with reason `compliance` instead, so a stop whose owner
 * lost compliance after placing it never trades. The market actor answers from its compliance gate
 * live and from the journaled events on replay, so the book stays a pure function of its inputs.
 */
export type TriggerGate = (userId: string, orderId: number) => boolean;

export interface PlaceCommand {
  readonly kind: 'place';
  /** Assigned by the caller, unique in the book forever (also for rejected orders). */
  readonly orderId: number;
  readonly userId: string;
  readonly clientOrderId?: string | undefined;
  readonly side: Side;
  readonly type: OrderType;
  readonly qty: number;
  readonly price?: number | undefined;
  readonly stopPrice?: number | undefined;
  readonly tif: TimeInForce;
  readonly postOnly: boolean;
  readonly stp: SelfTradePrevention;
  /**
   * Market and stop_market buys only: spend at most this many tick×lot units (a stop keeps it
   * while it waits and spends it when it executes).
   */
  readonly quoteBudget?: number | undefined;
  /** GTD only (required there): the time (ms since epoch) from which an `expire` command cancels it. */
  readonly expireAt?: number | undefined;
  /** Iceberg: show at most this many lots on the book while resting (limit and stop_limit, GTC/GTD). */
  readonly displayQty?: number | undefined;
  /** trailing_stop: the trailing distance in ticks, or in basis points of the anchor (one of them). */
  readonly trailingOffset?: number | undefined;
  readonly trailingBps?: number | undefined;
  /** trailing_stop: once triggered, a limit this many ticks beyond the stopPrice (none: market). */
  readonly limitOffset?: number | undefined;
}

/** Names an order by id, or by the user's clientOrderId when orderId is absent. */
export interface OrderRef {
  readonly userId: string;
  readonly orderId?: number | undefined;
  readonly clientOrderId?: string | undefined;
}

export interface CancelCommand extends OrderRef {
  readonly kind: 'cancel';
}

export interface AmendCommand extends OrderRef {
  readonly kind: 'amend';
  readonly qty?: number | undefined;
  readonly price?: number | undefined;
}

export interface CancelAllCommand {
  readonly kind: 'cancel_all';
  readonly userId: string;
}

/**
 * Time enters the book only as this command (issue 14, GTD): every open GTD order whose expireAt
 * is at or before `now` is canceled with reason `expired`, in (expireAt, orderId) order. `now` not
 * a non-negative safe integer: `bad_request`.
 */
export interface ExpireCommand {
  readonly kind: 'expire';
  readonly now: number;
}

/** Issue 14, OCO: a limit leg and a stop leg linked as one list (the rules above). */
export interface PlaceOcoCommand {
  readonly kind: 'place_oco';
  /** The limit leg's id, and the list's. */
  readonly orderId: number;
  /** The stop leg's id. */
  readonly stopOrderId: number;
  readonly userId: string;
  /** The limit leg's (the stop leg has none). */
  readonly clientOrderId?: string | undefined;
  readonly side: Side;
  readonly qty: number;
  readonly price: number;
  readonly stopPrice: number;
  /** The stop leg's limit once triggered; none: it executes as a stop_market. */
  readonly stopLimitPrice?: number | undefined;
  readonly stp: SelfTradePrevention;
}

export type BookCommand =
  PlaceCommand | CancelCommand | AmendCommand | CancelAllCommand | ExpireCommand | PlaceOcoCommand;

export interface AcceptedEvent {
  readonly type: 'accepted';
  readonly orderId: number;
  readonly userId: string;
  readonly clientOrderId?: string | undefined;
  readonly side: Side;
  readonly orderType: OrderType;
  readonly tif: TimeInForce;
  readonly qty: number;
  readonly price?: number | undefined;
  readonly stopPrice?: number | undefined;
  readonly quoteBudget?: number | undefined;
}

export interface RejectedEvent {
  readonly type: 'rejected';
  readonly command: BookCommand['kind'];
  /** The placed order's id, or the target named by a cancel/amend (absent when named by client id). */
  readonly orderId?: number | undefined;
  readonly code: RejectCode;
  readonly message: string;
}

export interface FillEvent {
  readonly type: 'fill';
  readonly takerOrderId: number;
  readonly takerUserId: string;
  readonly makerOrderId: number;
  readonly makerUserId: string;
  readonly takerSide: Side;
  readonly price: number;
  readonly qty: number;
  readonly takerRemaining: number;
  readonly makerRemaining: number;
}

export interface RestedEvent {
  readonly type: 'rested';
  readonly orderId: number;
  readonly side: Side;
  readonly price: number;
  readonly remaining: number;
}

export interface PendingEvent {
  readonly type: 'pending';
  readonly orderId: number;
  readonly side: Side;
  readonly stopPrice: number;
}

export interface TriggeredEvent {
  readonly type: 'triggered';
  readonly orderId: number;
  readonly stopPrice: number;
  readonly lastPrice: number;
}

export interface CanceledEvent {
  readonly type: 'canceled';
  readonly orderId: number;
  readonly userId: string;
  readonly remaining: number;
  readonly reason: CancelReason;
}

/** A pending trailing stop moved in this command: its stopPrice now (and its limit price, with limitOffset). */
export interface TrailedEvent {
  readonly type: 'trailed';
  readonly orderId: number;
  readonly stopPrice: number;
  readonly price?: number | undefined;
}

/** STP `decrement` reduced this order by `qty` (qty and remaining alike); nothing traded. */
export interface DecrementedEvent {
  readonly type: 'decremented';
  readonly orderId: number;
  readonly userId: string;
  readonly qty: number;
  readonly remaining: number;
}

export interface AmendedEvent {
  readonly type: 'amended';
  readonly orderId: number;
  readonly price: number;
  /** New total quantity (filled + remaining). */
  readonly qty: number;
  readonly remaining: number;
  readonly priorityKept: boolean;
}

export interface LevelEvent {
  readonly type: 'level';
  readonly side: Side;
  readonly price: number;
  /** The level's new total remaining quantity; 0 when the level is gone. */
  readonly qty: number;
}

export type BookEvent =
  | AcceptedEvent
  | RejectedEvent
  | FillEvent
  | RestedEvent
  | PendingEvent
  | TriggeredEvent
  | CanceledEvent
  | AmendedEvent
  | DecrementedEvent
  | TrailedEvent
  | LevelEvent;

/** An open order as the book holds it: resting on a level, or a pending stop. */
export interface OpenOrder {
  readonly orderId: number;
  readonly userId: string;
  readonly clientOrderId?: string | undefined;
  readonly side: Side;
  readonly type: OrderType;
  readonly tif: TimeInForce;
  readonly postOnly: boolean;
  readonly stp: SelfTradePrevention;
  /** Limit price; absent for a pending stop_market. */
  readonly price?: number | undefined;
  readonly stopPrice?: number | undefined;
  /** Total quantity (original, or as amended). */
  readonly qty: number;
  readonly remaining: number;
  /** A pending stop_market buy's budget (tick×lot units), spent when it triggers. */
  readonly quoteBudget?: number | undefined;
  /** A GTD order's expiry, ms since epoch. */
  readonly expireAt?: number | undefined;
  /** An iceberg's largest shown slice. */
  readonly displayQty?: number | undefined;
  /** A resting iceberg's shown slice (what its level counts of it); the rest of `remaining` is hidden. */
  readonly shownQty?: number | undefined;
  readonly trailingOffset?: number | undefined;
  readonly trailingBps?: number | undefined;
  readonly limitOffset?: number | undefined;
  /** A trailing stop's anchor: the best trade price in its favour since placement (frozen once triggered). */
  readonly trailAnchor?: number | undefined;
  /** An OCO leg while linked to its partner: the list's id (the limit leg's orderId). */
  readonly listId?: number | undefined;
}

export interface BookConfig {
  /** Most open orders (resting + pending stops) the book holds; beyond it placements get `overloaded`. */
  readonly maxOrders: number;
  /** Largest quantity of one order, in lots; maxOrders × maxQty must be a safe integer so level totals stay exact. */
  readonly maxQty: number;
}

/** Plain serializable state: restoring it gives a book that behaves identically. */
export interface BookSnapshot {
  readonly version: 1;
  readonly config: BookConfig;
  readonly lastPrice: number | null;
  /** Resting orders, bids best level first then asks best level first, FIFO within a level. */
  readonly resting: readonly OpenOrder[];
  /** Pending stops, buys then sells, each in trigger priority order. */
  readonly stops: readonly OpenOrder[];
}

export interface BookView {
  bestBid(): number | undefined;
  bestAsk(): number | undefined;
  /** Best `n` levels of a side, best first, as [price, total]; n (a non-negative integer) = 0 gives all. */
  depth(side: Side, n: number): [number, number][];
  /** Resting orders in priority order (bids best first, then asks best first); pending stops in snapshot order. */
  openOrders(): { resting: OpenOrder[]; stops: OpenOrder[] };
  readonly lastPrice: number | null;
}

/** What both the engine and the test reference model implement. */
export interface MatchingEngine extends BookView {
  execute(command: BookCommand): BookEvent[];
  /** Consulted before a triggered stop executes; undefined: every stop executes. */
  triggerGate: TriggerGate | undefined;
}

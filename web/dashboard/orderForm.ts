import {
  iceberg,
  oco,
  trailingStop,
  type AcceptedOcoReply,
  type AcceptedReply,
  type MarketView,
  type PlaceOcoOrder,
  type PlaceOrder,
} from '../../src/client/index.ts';
import { scaled, unscaled } from '../shared/format.ts';

/*
 * The order ticket's rules, DOM-free: what the form's fields make as a `place` request, the
 * errors of each field (the contract's: decimals, tick, lot, minQty, minNotional), the lock the
 * order will need and the largest fee it can pay (PROTOCOL v1.1: a buy locks price × qty, or its
 * quote budget; a sell its qty; fees are taken from what is received, rounded up). Integer
 * arithmetic on scaled bigints throughout.
 *
 * Issue 14's types (PROTOCOL v1.1, More order types), all sent through the SDK's builders: an
 * iceberg (a limit with `displayQty`), GTD (tif GTD with `expireAt`), a trailing stop (a distance
 * or bps, optional limit offset; a market buy spends a budget), an OCO (`placeOco`: the limit leg
 * at `price`, the stop leg at `stopPrice`, a stop-limit at `stopLimitPrice`; one lock, the larger
 * leg's need) and the STP mode, decrement included.
 */

export type TicketType = 'limit' | 'market' | 'stop_limit' | 'stop_market' | 'trailing_stop' | 'oco';
export type TicketField =
  | 'price'
  | 'stopPrice'
  | 'qty'
  | 'quoteQty'
  | 'tif'
  | 'postOnly'
  | 'displayQty'
  | 'expireAt'
  | 'trailingOffset'
  | 'trailingBps'
  | 'limitOffset'
  | 'stopLimitPrice'
  | 'stp'
  | 'form';

export type TicketStp = '' | 'cancel_taker' | 'cancel_maker' | 'cancel_both' | 'decrement';

export interface Ticket {
  readonly side: 'buy' | 'sell';
  readonly type: TicketType;
  readonly price: string;
  readonly stopPrice: string;
  readonly qty: string;
  /** Market and stop-market buys: spend at most this (then qty may be empty). */
  readonly quoteQty: string;
  readonly tif: 'GTC' | 'IOC' | 'FOK' | 'GTD';
  readonly postOnly: boolean;
  /** Iceberg: the slice shown (limit and stop-limit, GTC or GTD); empty for a plain order. */
  readonly displayQty?: string;
  /** GTD: when it expires, ms since epoch as text (the form converts its local date and time). */
  readonly expireAt?: string;
  /** Trailing stop: by a price distance (`trailingOffset`) or by basis points (`trailingBps`). */
  readonly trailBy?: 'offset' | 'bps';
  readonly trailingOffset?: string;
  readonly trailingBps?: string;
  /** Trailing stop: once triggered, a limit this far beyond the stop; empty: a market order. */
  readonly limitOffset?: string;
  /** OCO: the stop leg's limit price; empty: a stop-market leg (sells only). */
  readonly stopLimitPrice?: string;
  /** Self-trade prevention; empty: the exchange's default (cancel_taker). */
  readonly stp?: TicketStp;
}

export interface Preview {
  /** What placing locks, e.g. `{amount:"1000.00", asset:"USDC"}`; undefined when not known yet. */
  readonly lock: { readonly amount: string; readonly asset: string } | undefined;
  /** The largest fee (taker rate; maker when post-only) in the asset received. */
  readonly fee: { readonly amount: string; readonly asset: string } | undefined;
  /**
   * True when the lock is estimated from the best opposite price: a trailing limit buy locks qty ×
   * its limit, which the server sets from the last trade price at placement.
   */
  readonly estimate?: boolean;
}

export type FieldErrors = Partial<Record<TicketField, string>>;

const DECIMAL = /^(?:0|[1-9][0-9]*)(?:\.[0-9]+)?$/;

/** A limit price field: limit, stop-limit, and an OCO's limit leg. */
export function needsPrice(type: TicketType): boolean {
  return type === 'limit' || type === 'stop_limit' || type === 'oco';
}

/** A stop price field: stop-limit, stop-market, and an OCO's stop leg. */
export function needsStop(type: TicketType): boolean {
  return type === 'stop_limit' || type === 'stop_market' || type === 'oco';
}

/** Budget entry (quote amount): market, stop-market and trailing (without limit offset) buys. */
export function takesBudget(ticket: Pick<Ticket, 'side' | 'type' | 'limitOffset'>): boolean {
  if (ticket.side !== 'buy') return false;
  if (ticket.type === 'trailing_stop') return (ticket.limitOffset ?? '').trim() === '';
  return ticket.type === 'market' || ticket.type === 'stop_market';
}

/** An iceberg's slice applies to limit and stop-limit orders. */
export function takesDisplay(type: TicketType): boolean {
  return type === 'limit' || type === 'stop_limit';
}

/** Which time-in-force choices the type has (none shown for OCO legs and stop-market: GTC). */
export function tifChoices(type: TicketType): readonly Ticket['tif'][] {
  if (type === 'limit' || type === 'stop_limit') return ['GTC', 'IOC', 'FOK', 'GTD'];
  if (type === 'market') return ['IOC', 'FOK'];
  if (type === 'trailing_stop') return ['GTC', 'GTD'];
  return [];
}

const text = (value: string | undefined): string => (value ?? '').trim();

/** The field errors of a ticket for this market; empty when it can be sent. */
export function validate(ticket: Ticket, market: MarketView, now = Date.now()): FieldErrors {
  const errors: FieldErrors = {};
  const price = (field: 'price' | 'stopPrice', value: string) => {
    const problem = decimalProblem(value, market.priceDecimals, market.tickSize, 'tick');
    if (problem !== undefined) errors[field] = problem;
  };
  if (needsPrice(ticket.type)) price('price', ticket.price);
  if (needsStop(ticket.type)) price('stopPrice', ticket.stopPrice);
  const budget = takesBudget(ticket);
  if (budget && ticket.type === 'stop_market' && ticket.quoteQty.trim() === '') {
    errors.quoteQty = 'a stop-market buy needs a budget';
  }
  if (budget && ticket.quoteQty.trim() !== '') {
    const problem = decimalProblem(ticket.quoteQty, market.priceDecimals + market.qtyDecimals, undefined);
    if (problem !== undefined) errors.quoteQty = problem;
  }
  if (!budget || ticket.qty.trim() !== '' || ticket.quoteQty.trim() === '') {
    const problem = decimalProblem(ticket.qty, market.qtyDecimals, market.lotSize, 'lot');
    if (problem !== undefined) errors.qty = problem;
    else if (scaled(ticket.qty, market.qtyDecimals) < scaled(market.minQty, market.qtyDecimals)) {
      errors.qty = `at least ${market.minQty}`;
    } else if (
      market.maxQty !== undefined &&
      scaled(ticket.qty, market.qtyDecimals) > scaled(market.maxQty, market.qtyDecimals)
    ) {
      errors.qty = `at most ${market.maxQty}`;
    }
  }
  if (
    market.minNotional !== undefined &&
    errors.qty === undefined &&
    errors.price === undefined &&
    needsPrice(ticket.type)
  ) {
    const notional = notionalUnits(ticket.price, ticket.qty, market);
    const min = scaled(market.minNotional, market.priceDecimals + market.qtyDecimals);
    if (notional < min) errors.qty = `price × qty must be at least ${market.minNotional}`;
  }
  if (ticket.postOnly && ticket.type !== 'limit') errors.postOnly = 'post-only is for limit orders';
  if (ticket.postOnly && ticket.tif !== 'GTC') errors.tif = 'post-only orders rest: GTC only';
  if (ticket.type === 'stop_market' && ticket.tif !== 'GTC') errors.tif = 'stop-market orders are GTC';
  newTypeErrors(ticket, market, errors, now);
  return errors;
}

/** The issue 14 fields' errors (iceberg, GTD, trailing stop, OCO), added to `errors`. */
function newTypeErrors(ticket: Ticket, market: MarketView, errors: FieldErrors, now: number): void {
  const pd = market.priceDecimals;
  const qd = market.qtyDecimals;
  const display = text(ticket.displayQty);
  if (display !== '') {
    if (!takesDisplay(ticket.type)) errors.displayQty = 'an iceberg is a limit or stop-limit order';
    else if (ticket.tif !== 'GTC' && ticket.tif !== 'GTD') errors.tif = 'an iceberg rests: GTC or GTD';
    const problem = decimalProblem(display, qd, market.lotSize, 'lot');
    if (problem !== undefined) errors.displayQty ??= problem;
    else if (errors.qty === undefined && text(ticket.qty) !== '') {
      const shown = scaled(display, qd);
      const qty = scaled(ticket.qty, qd);
      if (shown > qty) errors.displayQty ??= 'at most the quantity';
      else if (shown * 1000n < qty) errors.displayQty ??= 'at least 1/1000 of the quantity';
    }
  }
  if (ticket.tif === 'GTD') {
    if (!tifChoices(ticket.type).includes('GTD')) errors.tif = 'GTD is for limit and trailing orders';
    const at = expireAtOf(ticket);
    if (text(ticket.expireAt) === '') errors.expireAt = 'required for GTD';
    else if (at === undefined) errors.expireAt = 'a date and time';
    else if (at <= now) errors.expireAt = 'must be in the future';
  }
  if (ticket.type === 'trailing_stop') {
    if (ticket.trailBy === 'bps') {
      const bps = text(ticket.trailingBps);
      if (bps === '') errors.trailingBps = 'required';
      else if (!/^[1-9][0-9]*$/.test(bps) || Number(bps) > 10_000)
        errors.trailingBps = 'whole bps, 1 to 10000';
    } else {
      const problem = decimalProblem(text(ticket.trailingOffset), pd, market.tickSize, 'tick');
      if (problem !== undefined) errors.trailingOffset = problem;
    }
    const limitOffset = text(ticket.limitOffset);
    if (limitOffset !== '') {
      const problem = decimalProblem(limitOffset, pd, market.tickSize, 'tick');
      if (problem !== undefined) errors.limitOffset = problem;
    }
    if (takesBudget(ticket) && text(ticket.quoteQty) === '') {
      errors.quoteQty = 'a trailing market buy needs a budget';
    }
  }
  if (ticket.type === 'oco') {
    const stopLimit = text(ticket.stopLimitPrice);
    if (stopLimit !== '') {
      const problem = decimalProblem(stopLimit, pd, market.tickSize, 'tick');
      if (problem !== undefined) errors.stopLimitPrice = problem;
    } else if (ticket.side === 'buy') {
      errors.stopLimitPrice = 'a buy OCO needs a stop-limit price';
    }
    if (errors.price === undefined && errors.stopPrice === undefined) {
      const price = scaled(ticket.price, pd);
      const stop = scaled(ticket.stopPrice, pd);
      if (ticket.side === 'buy' && stop <= price) errors.stopPrice = 'a buy OCO stops above its limit';
      if (ticket.side === 'sell' && stop >= price) errors.stopPrice = 'a sell OCO stops below its limit';
    }
  }
}

/** The ticket's expireAt in ms since epoch; undefined when not a whole number. */
export function expireAtOf(ticket: Pick<Ticket, 'expireAt'>): number | undefined {
  const value = text(ticket.expireAt);
  if (!/^[1-9][0-9]*$/.test(value)) return undefined;
  const ms = Number(value);
  return Number.isSafeInteger(ms) ? ms : undefined;
}

function decimalProblem(
  value: string,
  decimals: number,
  step: string | undefined,
  stepName?: string,
): string | undefined {
  const text = value.trim();
  if (text === '') return 'required';
  if (!DECIMAL.test(text)) return 'a plain decimal, e.g. 12.50';
  const dot = text.indexOf('.');
  if (dot >= 0 && text.length - dot - 1 > decimals) return `at most ${decimals} decimals`;
  const units = scaled(text, decimals);
  if (units <= 0n) return 'must be above 0';
  if (step !== undefined) {
    const stepUnits = scaled(step, decimals);
    if (stepUnits > 0n && units % stepUnits !== 0n) return `a multiple of the ${stepName ?? 'step'} ${step}`;
  }
  return undefined;
}

/** price × qty in units of 10^-(priceDecimals + qtyDecimals). */
function notionalUnits(price: string, qty: string, market: MarketView): bigint {
  return scaled(price, market.priceDecimals) * scaled(qty, market.qtyDecimals);
}

/** Fee on `units` (at `scale`) at `bps`, rounded up to `decimals` (PROTOCOL v1.1). */
function feeOf(units: bigint, scale: number, bps: number, decimals: number): string {
  const numerator = units * BigInt(bps);
  const denominator = 10_000n * 10n ** BigInt(Math.max(0, scale - decimals));
  const fee = (numerator + denominator - 1n) / denominator;
  return unscaled(fee, decimals);
}

/**
 * The lock and the fee. `reference` is the price a market order is estimated at (the best
 * opposite level) when no limit is given.
 */
export function preview(ticket: Ticket, market: MarketView, reference?: string): Preview {
  if (ticket.type === 'oco') return ocoPreview(ticket, market);
  if (ticket.type === 'trailing_stop' && ticket.side === 'buy' && !takesBudget(ticket)) {
    return trailingLimitBuyPreview(ticket, market, reference);
  }
  const errors = validate(ticket, market);
  const pd = market.priceDecimals;
  const qd = market.qtyDecimals;
  const bps = (ticket.postOnly ? market.makerFeeBps : market.takerFeeBps) ?? 0;
  const budget = takesBudget(ticket) && ticket.quoteQty.trim() !== '' && errors.quoteQty === undefined;
  const priceText = needsPrice(ticket.type)
    ? errors.price === undefined
      ? ticket.price
      : undefined
    : ticket.type === 'stop_market'
      ? errors.stopPrice === undefined
        ? ticket.stopPrice
        : undefined
      : reference;
  const qtyOk = errors.qty === undefined && ticket.qty.trim() !== '';
  let lock: Preview['lock'];
  let fee: Preview['fee'];
  if (ticket.side === 'sell') {
    if (qtyOk) lock = { amount: unscaled(scaled(ticket.qty, qd), qd), asset: market.baseAsset };
    if (qtyOk && priceText !== undefined) {
      fee = {
        amount: feeOf(notionalUnits(priceText, ticket.qty, market), pd + qd, bps, pd),
        asset: market.quoteAsset,
      };
    }
  } else {
    if (budget) {
      lock = { amount: unscaled(scaled(ticket.quoteQty, pd + qd), pd + qd), asset: market.quoteAsset };
    } else if (qtyOk && priceText !== undefined) {
      lock = {
        amount: unscaled(notionalUnits(priceText, ticket.qty, market), pd + qd),
        asset: market.quoteAsset,
      };
    }
    if (qtyOk) fee = { amount: feeOf(scaled(ticket.qty, qd), qd, bps, qd), asset: market.baseAsset };
    else if (budget && priceText !== undefined) {
      // Budget only: the most it buys at the reference price.
      const budgetUnits = scaled(ticket.quoteQty, pd + qd);
      const priceUnits = scaled(priceText, pd);
      if (priceUnits > 0n) {
        const qtyUnits = budgetUnits / priceUnits;
        fee = { amount: feeOf(qtyUnits, qd, bps, qd), asset: market.baseAsset };
      }
    }
  }
  return { lock, fee };
}

/**
 * An OCO's one lock (PROTOCOL v1.1): the larger of its legs' needs. A sell locks its qty; a buy
 * qty × the higher of its limit price and its stop-limit price.
 */
function ocoPreview(ticket: Ticket, market: MarketView): Preview {
  const errors = validate(ticket, market);
  const pd = market.priceDecimals;
  const qd = market.qtyDecimals;
  const bps = market.takerFeeBps ?? 0;
  if (errors.qty !== undefined || errors.price !== undefined) return { lock: undefined, fee: undefined };
  if (ticket.side === 'sell') {
    return {
      lock: { amount: unscaled(scaled(ticket.qty, qd), qd), asset: market.baseAsset },
      fee: {
        amount: feeOf(notionalUnits(ticket.price, ticket.qty, market), pd + qd, bps, pd),
        asset: market.quoteAsset,
      },
    };
  }
  const fee = { amount: feeOf(scaled(ticket.qty, qd), qd, bps, qd), asset: market.baseAsset };
  if (errors.stopLimitPrice !== undefined) return { lock: undefined, fee };
  const stopLimit = text(ticket.stopLimitPrice);
  const higher =
    stopLimit !== '' && scaled(stopLimit, pd) > scaled(ticket.price, pd) ? stopLimit : ticket.price;
  return {
    lock: { amount: unscaled(notionalUnits(higher, ticket.qty, market), pd + qd), asset: market.quoteAsset },
    fee,
  };
}

/**
 * A trailing limit buy locks qty × its limit: stop (last trade price + the distance) + limitOffset,
 * which the server fixes at placement; here estimated from the best ask (`reference`).
 */
function trailingLimitBuyPreview(ticket: Ticket, market: MarketView, reference?: string): Preview {
  const errors = validate(ticket, market);
  const pd = market.priceDecimals;
  const qd = market.qtyDecimals;
  const bps = market.takerFeeBps ?? 0;
  if (errors.qty !== undefined || text(ticket.qty) === '') return { lock: undefined, fee: undefined };
  const fee = { amount: feeOf(scaled(ticket.qty, qd), qd, bps, qd), asset: market.baseAsset };
  const distanceOk =
    ticket.trailBy === 'bps' ? errors.trailingBps === undefined : errors.trailingOffset === undefined;
  if (reference === undefined || !distanceOk || errors.limitOffset !== undefined)
    return { lock: undefined, fee };
  const ref = scaled(reference, pd);
  const tick = scaled(market.tickSize, pd);
  let distance: bigint;
  if (ticket.trailBy === 'bps') {
    distance = ((ref * BigInt(text(ticket.trailingBps))) / 10_000n / tick) * tick;
    if (distance < tick) distance = tick;
  } else distance = scaled(text(ticket.trailingOffset), pd);
  const limit = ref + distance + scaled(text(ticket.limitOffset), pd);
  const lock = limit * scaled(ticket.qty, qd);
  return { lock: { amount: unscaled(lock, pd + qd), asset: market.quoteAsset }, fee, estimate: true };
}

/** The `place` request of a valid ticket (not an OCO: see toOco). */
export function toPlace(ticket: Ticket, market: MarketView, clientOrderId?: string): PlaceOrder {
  const common = {
    ...(text(ticket.stp) === '' ? {} : { stp: ticket.stp as Exclude<TicketStp, ''> }),
    ...(clientOrderId === undefined ? {} : { clientOrderId }),
  };
  const expireAt = ticket.tif === 'GTD' ? expireAtOf(ticket) : undefined;
  if (ticket.type === 'trailing_stop') {
    const budget = takesBudget(ticket) && text(ticket.quoteQty) !== '';
    const qty = text(ticket.qty);
    const order = trailingStop(
      market.symbol,
      ticket.side,
      qty,
      ticket.trailBy === 'bps'
        ? { bps: Number(text(ticket.trailingBps)) }
        : { offset: text(ticket.trailingOffset) },
      {
        ...common,
        ...(text(ticket.limitOffset) === '' ? {} : { limitOffset: text(ticket.limitOffset) }),
        ...(budget ? { quoteQty: text(ticket.quoteQty) } : {}),
        ...(expireAt === undefined ? {} : { expireAt }),
      },
    );
    // A budget-only trailing market buy: no qty (the budget decides).
    if (qty === '' && budget) {
      return Object.fromEntries(Object.entries(order).filter(([key]) => key !== 'qty')) as PlaceOrder;
    }
    return order;
  }
  if (
    ticket.type === 'limit' &&
    text(ticket.displayQty) !== '' &&
    (ticket.tif === 'GTC' || ticket.tif === 'GTD')
  ) {
    return iceberg(
      market.symbol,
      ticket.side,
      ticket.qty.trim(),
      ticket.price.trim(),
      text(ticket.displayQty),
      {
        ...common,
        ...(expireAt === undefined ? {} : { expireAt }),
        ...(ticket.postOnly ? { postOnly: true } : {}),
      },
    );
  }
  return { ...plainPlace(ticket, market, clientOrderId), ...common, ...newFields(ticket, expireAt) };
}

/** A stop-limit iceberg's displayQty and a GTD's expireAt, on the plain request. */
function newFields(ticket: Ticket, expireAt: number | undefined): { displayQty?: string; expireAt?: number } {
  return {
    ...(takesDisplay(ticket.type) && text(ticket.displayQty) !== ''
      ? { displayQty: text(ticket.displayQty) }
      : {}),
    ...(expireAt === undefined ? {} : { expireAt }),
  };
}

/** The `place_oco` request of a valid OCO ticket (the SDK's oco()). */
export function toOco(ticket: Ticket, market: MarketView, clientOrderId?: string): PlaceOcoOrder {
  const stopLimit = text(ticket.stopLimitPrice);
  return oco(market.symbol, ticket.side, ticket.qty.trim(), ticket.price.trim(), ticket.stopPrice.trim(), {
    ...(stopLimit === '' ? {} : { stopLimitPrice: stopLimit }),
    ...(text(ticket.stp) === '' ? {} : { stp: ticket.stp as Exclude<TicketStp, ''> }),
    ...(clientOrderId === undefined ? {} : { clientOrderId }),
  });
}

/** What the ticket sends with: the SDK client's place and placeOco. */
export interface TicketClient {
  place(order: PlaceOrder): Promise<AcceptedReply>;
  placeOco(order: PlaceOcoOrder): Promise<AcceptedOcoReply>;
}

/** Sends a valid ticket (an OCO through placeOco) and answers the notice to show. */
export async function sendTicket(client: TicketClient, ticket: Ticket, market: MarketView): Promise<string> {
  if (ticket.type === 'oco') {
    const list = await client.placeOco(toOco(ticket, market));
    const legs = list.orders.map((o) => `${o.type} ${o.orderId} ${o.status}`).join(', ');
    return `OCO ${list.listId}: ${legs}`;
  }
  const accepted = await client.place(toPlace(ticket, market));
  return `order ${accepted.orderId}: ${accepted.status} (filled ${accepted.filledQty})`;
}

function plainPlace(ticket: Ticket, market: MarketView, clientOrderId?: string): PlaceOrder {
  const budget = takesBudget(ticket) && ticket.quoteQty.trim() !== '';
  const qty = ticket.qty.trim();
  return {
    market: market.symbol,
    side: ticket.side,
    type: ticket.type,
    ...(qty === '' && budget ? {} : { qty }),
    ...(needsPrice(ticket.type) ? { price: ticket.price.trim() } : {}),
    ...(needsStop(ticket.type) ? { stopPrice: ticket.stopPrice.trim() } : {}),
    ...(budget ? { quoteQty: ticket.quoteQty.trim() } : {}),
    ...(ticket.type === 'limit' || ticket.type === 'stop_limit' || ticket.type === 'market'
      ? { tif: ticket.tif }
      : ticket.type === 'trailing_stop' && ticket.tif === 'GTD'
        ? { tif: 'GTD' }
        : {}),
    ...(ticket.postOnly ? { postOnly: true } : {}),
    ...(clientOrderId === undefined ? {} : { clientOrderId }),
  } as PlaceOrder;
}

/** Which field a contract error concerns (PROTOCOL.md codes; bad_request by the field it names). */
export function errorField(code: string, message: string): TicketField {
  switch (code) {
    case 'insufficient_funds':
      return 'qty';
    case 'would_match':
      return 'postOnly';
    case 'fok_unfilled':
      return 'tif';
    case 'bad_request': {
      const named =
        /\b(stopLimitPrice|stopPrice|quoteQty|displayQty|trailingOffset|trailingBps|limitOffset|expireAt|price|qty|tif|postOnly|stp)\b/.exec(
          message,
        )?.[1];
      return (named as TicketField | undefined) ?? 'form';
    }
    default:
      return 'form';
  }
}

/** Groups levels to multiples of `step` price units: bids down, asks up; sizes summed exactly. */
export function groupLevels(
  levels: readonly (readonly [string, string])[],
  side: 'bid' | 'ask',
  tickSize: string,
  factor: number,
  decimals: { readonly price: number; readonly qty: number },
): [string, string][] {
  if (factor <= 1) return levels.map(([p, q]) => [p, q]);
  const step = scaled(tickSize, decimals.price) * BigInt(factor);
  const out: [bigint, bigint][] = [];
  for (const [price, qty] of levels) {
    const units = scaled(price, decimals.price);
    const bucket = side === 'bid' ? (units / step) * step : ((units + step - 1n) / step) * step;
    const last = out.at(-1);
    const q = scaled(qty, decimals.qty);
    if (last !== undefined && last[0] === bucket) last[1] += q;
    else out.push([bucket, q]);
  }
  return out.map(([p, q]) => [unscaled(p, decimals.price), unscaled(q, decimals.qty)]);
}

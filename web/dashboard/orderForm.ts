import type { MarketView, PlaceOrder } from '../../src/client/index.ts';
import { scaled, unscaled } from '../shared/format.ts';

/*
 * The order ticket's rules, DOM-free: what the form's fields make as a `place` request, the
 * errors of each field (the contract's: decimals, tick, lot, minQty, minNotional), the lock the
 * order will need and the largest fee it can pay (PROTOCOL v1.1: a buy locks price × qty, or its
 * quote budget; a sell its qty; fees are taken from what is received, rounded up). Integer
 * arithmetic on scaled bigints throughout.
 */

export type TicketType = 'limit' | 'market' | 'stop_limit' | 'stop_market';
export type TicketField = 'price' | 'stopPrice' | 'qty' | 'quoteQty' | 'tif' | 'postOnly' | 'form';

export interface Ticket {
  readonly side: 'buy' | 'sell';
  readonly type: TicketType;
  readonly price: string;
  readonly stopPrice: string;
  readonly qty: string;
  /** Market and stop-market buys: spend at most this (then qty may be empty). */
  readonly quoteQty: string;
  readonly tif: 'GTC' | 'IOC' | 'FOK';
  readonly postOnly: boolean;
}

export interface Preview {
  /** What placing locks, e.g. `{amount:"1000.00", asset:"USDC"}`; undefined when not known yet. */
  readonly lock: { readonly amount: string; readonly asset: string } | undefined;
  /** The largest fee (taker rate; maker when post-only) in the asset received. */
  readonly fee: { readonly amount: string; readonly asset: string } | undefined;
}

export type FieldErrors = Partial<Record<TicketField, string>>;

const DECIMAL = /^(?:0|[1-9][0-9]*)(?:\.[0-9]+)?$/;

export function needsPrice(type: TicketType): boolean {
  return type === 'limit' || type === 'stop_limit';
}

export function needsStop(type: TicketType): boolean {
  return type === 'stop_limit' || type === 'stop_market';
}

/** Budget entry (quote amount) applies to market and stop-market buys. */
export function takesBudget(ticket: Pick<Ticket, 'side' | 'type'>): boolean {
  return ticket.side === 'buy' && (ticket.type === 'market' || ticket.type === 'stop_market');
}

/** The field errors of a ticket for this market; empty when it can be sent. */
export function validate(ticket: Ticket, market: MarketView): FieldErrors {
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
  return errors;
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

/** The `place` request of a valid ticket. */
export function toPlace(ticket: Ticket, market: MarketView, clientOrderId?: string): PlaceOrder {
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
      const named = /\b(stopPrice|quoteQty|price|qty|tif|postOnly)\b/.exec(message)?.[1];
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

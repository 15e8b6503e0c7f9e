import { explainNotDecimal, formatUnits, pow10n, scanDecimal, StepScale } from './decimal.ts';
import type { DecimalShape } from './decimal.ts';
import { fail, ok } from './result.ts';
import type { MoneyFailure, MoneyResult } from './result.ts';
import { parseMarketSpec } from './spec.ts';
import type { MarketMoneySpec } from './spec.ts';

/** A market's conversions, built once per market; see src/actors/money.ts for units and rounding. */
export interface MarketMoney {
  readonly priceDecimals: number;
  readonly qtyDecimals: number;
  /** Decimals of quote minor units (priceDecimals + qtyDecimals): price × qty is exact there. */
  readonly notionalDecimals: number;
  /** Decimals a quote budget string may carry (the quote asset's when known, else notionalDecimals). */
  readonly budgetDecimals: number;
  /** Canonical strings of the spec, with exactly the market's decimals. */
  readonly tickSize: string;
  readonly lotSize: string;
  readonly minQty: string;
  readonly maxQty: string;
  /** The smallest notional an order may have, with budgetDecimals decimals; undefined: none. */
  readonly minNotional: string | undefined;
  /** minQty and maxQty in lots (maxLots is what the book's config calls maxQty). */
  readonly minLots: number;
  readonly maxLots: number;
  /** Quote minor units in one tick×lot unit (tickSize × lotSize at notionalDecimals). */
  readonly quoteMinorPerTickLot: bigint;
  /** The tick in units of 10^-priceDecimals, and the lot in units of 10^-qtyDecimals. */
  readonly tickUnits: bigint;
  readonly lotUnits: bigint;

  /** A price string as a positive safe integer of ticks. `field` names it in messages. */
  parsePrice(input: unknown, field?: string): MoneyResult<number>;
  /** A quantity string as lots, within [minLots, maxLots]. */
  parseQty(input: unknown, field?: string): MoneyResult<number>;
  /**
   * Why an order of `tickLots` notional (price × qty in tick×lot units, or a market buy's budget) is
   * below the market's minNotional; undefined when it is not, or the market sets none.
   */
  notionalProblem(tickLots: bigint, what: string): string | undefined;
  /** A quote amount as whole tick×lot units, rounded down (a budget spends only what it has). */
  parseQuoteBudget(input: unknown, field?: string): MoneyResult<number>;
  /** Ticks (any safe integer) with exactly priceDecimals decimals; throws RangeError on a non-safe-integer. */
  formatPrice(ticks: number): string;
  /** Lots (any safe integer) with exactly qtyDecimals decimals; throws RangeError on a non-safe-integer. */
  formatQty(lots: number): string;
  /** price × qty in quote minor units (10^-notionalDecimals); exact. */
  notionalToQuoteMinor(ticks: number, lots: number): bigint;
  /** A quote budget in tick×lot units, in quote minor units; exact. */
  budgetToQuoteMinor(tickLots: number): bigint;
  /** price × qty with exactly notionalDecimals decimals. */
  formatNotional(ticks: number, lots: number): string;
  /** Quote minor units with exactly notionalDecimals decimals. */
  formatQuoteMinor(minor: bigint): string;
}

/**
 * Validates `spec` (throws MarketSpecError with a precise message when it is bad) and returns the
 * market's frozen conversions. All precomputation happens here so each call stays a single scan.
 */
export function createMarketMoney(spec: MarketMoneySpec): MarketMoney {
  const parsed = parseMarketSpec(spec);
  const {
    priceDecimals,
    qtyDecimals,
    tickUnits,
    lotUnits,
    minLots,
    maxLots,
    budgetDecimals,
    minNotionalUnits,
  } = parsed;
  const notionalDecimals = priceDecimals + qtyDecimals;
  const quoteMinorPerTickLot = tickUnits * lotUnits;
  const price = new StepScale(priceDecimals, tickUnits);
  const qty = new StepScale(qtyDecimals, lotUnits);
  const budget = new StepScale(
    budgetDecimals,
    quoteMinorPerTickLot * pow10n(budgetDecimals - notionalDecimals),
  );
  const tickSize = price.format(1);
  const lotSize = qty.format(1);
  const minQty = qty.format(minLots);
  const maxQty = qty.format(maxLots);
  // An order's notional is a whole number of tick×lot units, so "notional >= minNotional" is exactly
  // "tickLots >= minNotional in tick×lot units, rounded up".
  const budgetUnitsPerTickLot = quoteMinorPerTickLot * pow10n(budgetDecimals - notionalDecimals);
  const minNotional =
    minNotionalUnits === undefined ? undefined : formatUnits(minNotionalUnits, budgetDecimals);
  const minTickLots =
    minNotionalUnits === undefined
      ? 0n
      : (minNotionalUnits + budgetUnitsPerTickLot - 1n) / budgetUnitsPerTickLot;
  const maxPrice = price.format(Number.MAX_SAFE_INTEGER);
  const maxBudget = budget.format(Number.MAX_SAFE_INTEGER);

  function parsePrice(input: unknown, field = 'price'): MoneyResult<number> {
    if (typeof input !== 'string') return notString(input, field);
    const shape = scan(input, field, priceDecimals);
    if ('ok' in shape) return shape;
    if (shape.isZero) return fail('zero', `${field} must be positive, got ${show(input)}`);
    const { steps, exact } = price.toSteps(input, shape);
    if (steps < 0 || (steps === Number.MAX_SAFE_INTEGER && !exact)) {
      return fail('out_of_range', `${field} ${show(input)} is above the largest price ${maxPrice}`);
    }
    if (!exact)
      return fail('off_tick', `${field} ${show(input)} is not a multiple of the tick size ${tickSize}`);
    return ok(steps);
  }

  function parseQty(input: unknown, field = 'qty'): MoneyResult<number> {
    if (typeof input !== 'string') return notString(input, field);
    const shape = scan(input, field, qtyDecimals);
    if ('ok' in shape) return shape;
    if (shape.isZero) return fail('zero', `${field} must be positive, got ${show(input)}`);
    const { steps, exact } = qty.toSteps(input, shape);
    if (steps >= 0 && steps < minLots) {
      return fail('below_min', `${field} ${show(input)} is below the minimum quantity ${minQty}`);
    }
    if (steps < 0 || steps > maxLots || (steps === maxLots && !exact)) {
      return fail('above_max', `${field} ${show(input)} is above the maximum quantity ${maxQty}`);
    }
    if (!exact)
      return fail('off_lot', `${field} ${show(input)} is not a multiple of the lot size ${lotSize}`);
    return ok(steps);
  }

  function parseQuoteBudget(input: unknown, field = 'quoteQty'): MoneyResult<number> {
    if (typeof input !== 'string') return notString(input, field);
    const shape = scan(input, field, budgetDecimals);
    if ('ok' in shape) return shape;
    if (shape.isZero) return fail('zero', `${field} must be positive, got ${show(input)}`);
    const { steps } = budget.toSteps(input, shape);
    if (steps < 0)
      return fail('out_of_range', `${field} ${show(input)} is above the largest budget ${maxBudget}`);
    if (steps === 0) {
      return fail('below_min', `${field} ${show(input)} is less than one tick × lot (${budget.format(1)})`);
    }
    return ok(steps);
  }

  function notionalProblem(tickLots: bigint, what: string): string | undefined {
    if (tickLots >= minTickLots) return undefined;
    const notional = formatUnits(tickLots * budgetUnitsPerTickLot, budgetDecimals);
    return `${what} ${notional} is below the market's minNotional ${String(minNotional)}`;
  }

  function notionalToQuoteMinor(ticks: number, lots: number): bigint {
    return BigInt(ticks) * BigInt(lots) * quoteMinorPerTickLot;
  }

  function budgetToQuoteMinor(tickLots: number): bigint {
    return BigInt(tickLots) * quoteMinorPerTickLot;
  }

  function formatQuoteMinor(minor: bigint): string {
    return formatUnits(minor, notionalDecimals);
  }

  return Object.freeze({
    priceDecimals,
    qtyDecimals,
    notionalDecimals,
    budgetDecimals,
    tickSize,
    lotSize,
    minQty,
    maxQty,
    minNotional,
    minLots,
    maxLots,
    quoteMinorPerTickLot,
    tickUnits,
    lotUnits,
    parsePrice,
    parseQty,
    parseQuoteBudget,
    notionalProblem,
    formatPrice: (ticks: number) => price.format(ticks),
    formatQty: (lots: number) => qty.format(lots),
    notionalToQuoteMinor,
    budgetToQuoteMinor,
    formatNotional: (ticks: number, lots: number) => formatQuoteMinor(notionalToQuoteMinor(ticks, lots)),
    formatQuoteMinor,
  });
}

function notString(input: unknown, field: string): MoneyFailure {
  return fail('not_decimal', `${field} must be a decimal string like "1000.50", got ${describeType(input)}`);
}

/** The grammar and decimal-count checks shared by every parse, in reason order. */
function scan(s: string, field: string, decimals: number): DecimalShape | MoneyFailure {
  if (s.length === 0) return fail('empty', `${field} is empty`);
  const shape = scanDecimal(s);
  if (shape === undefined) {
    return fail('not_decimal', `${field} ${show(s)} is not a plain decimal: ${explainNotDecimal(s)}`);
  }
  if (shape.fracLen > decimals) {
    return fail(
      'too_many_decimals',
      `${field} ${show(s)} has ${shape.fracLen} decimals; this market allows at most ${decimals}`,
    );
  }
  return shape;
}

/** Quotes an input for a message, cut short so a huge input cannot bloat the reply. */
function show(s: string): string {
  return JSON.stringify(s.length > 40 ? `${s.slice(0, 40)}…` : s);
}

function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'number' || typeof value === 'bigint') return `the ${typeof value} ${String(value)}`;
  return `a value of type ${typeof value}`;
}

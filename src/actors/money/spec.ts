import { MAX_SAFE_BIG, scanDecimal, unitsBig } from './decimal.ts';

/** A market's money rules as listed (decimal strings as an admin or issuer wrote them). */
export interface MarketMoneySpec {
  /** Decimals of every price string, 0..18. */
  readonly priceDecimals: number;
  /** Decimals of every quantity string, 0..18. */
  readonly qtyDecimals: number;
  /** Price step, > 0, at most priceDecimals decimals. */
  readonly tickSize: string;
  /** Quantity step, > 0, at most qtyDecimals decimals. */
  readonly lotSize: string;
  /** Smallest order quantity: a positive multiple of lotSize. */
  readonly minQty: string;
  /** Largest order quantity: a multiple of lotSize, >= minQty, at most Number.MAX_SAFE_INTEGER lots. */
  readonly maxQty: string;
  /**
   * Smallest order notional, in quote units (PROTOCOL v1.1): a positive decimal string with at most
   * the quote asset's decimals (priceDecimals + qtyDecimals when they are not known); absent: none.
   */
  readonly minNotional?: string | undefined;
  /** The base asset's decimals (0..255), when known: qtyDecimals may not exceed them. */
  readonly baseDecimals?: number | undefined;
  /** The quote asset's decimals (0..255), when known: priceDecimals + qtyDecimals may not exceed them. */
  readonly quoteDecimals?: number | undefined;
}

/** A refused market spec: bad config, thrown once at listing or boot, never on the hot path. */
export class MarketSpecError extends Error {
  readonly field: keyof MarketMoneySpec | 'spec';

  constructor(field: keyof MarketMoneySpec | 'spec', message: string) {
    super(`market spec: ${message}`);
    this.name = 'MarketSpecError';
    this.field = field;
  }
}

/** The spec in integers: tick and lot in units of 10^-priceDecimals and 10^-qtyDecimals. */
export interface ParsedMarketSpec {
  readonly priceDecimals: number;
  readonly qtyDecimals: number;
  readonly tickUnits: bigint;
  readonly lotUnits: bigint;
  readonly minLots: number;
  readonly maxLots: number;
  /** Decimals a quote budget may be written with: the quote asset's, else priceDecimals + qtyDecimals. */
  readonly budgetDecimals: number;
  /** minNotional in units of 10^-budgetDecimals; undefined when the market sets none. */
  readonly minNotionalUnits: bigint | undefined;
}

const MAX_MARKET_DECIMALS = 18;
const MAX_ASSET_DECIMALS = 255;

export function parseMarketSpec(spec: MarketMoneySpec): ParsedMarketSpec {
  const raw: unknown = spec;
  if (typeof raw !== 'object' || raw === null) throw new MarketSpecError('spec', 'must be an object');
  const priceDecimals = decimalsField(spec, 'priceDecimals', MAX_MARKET_DECIMALS);
  const qtyDecimals = decimalsField(spec, 'qtyDecimals', MAX_MARKET_DECIMALS);
  const tickUnits = positiveDecimal(spec, 'tickSize', priceDecimals, 'priceDecimals');
  const lotUnits = positiveDecimal(spec, 'lotSize', qtyDecimals, 'qtyDecimals');
  const minUnits = positiveDecimal(spec, 'minQty', qtyDecimals, 'qtyDecimals');
  const maxUnits = positiveDecimal(spec, 'maxQty', qtyDecimals, 'qtyDecimals');
  for (const [field, units] of [
    ['minQty', minUnits],
    ['maxQty', maxUnits],
  ] as const) {
    if (units % lotUnits !== 0n) {
      throw new MarketSpecError(
        field,
        `${field} "${spec[field]}" is not a multiple of lotSize "${spec.lotSize}"`,
      );
    }
  }
  if (minUnits > maxUnits) {
    throw new MarketSpecError('minQty', `minQty "${spec.minQty}" is above maxQty "${spec.maxQty}"`);
  }
  const maxLots = maxUnits / lotUnits;
  if (maxLots > MAX_SAFE_BIG) {
    throw new MarketSpecError(
      'maxQty',
      `maxQty "${spec.maxQty}" is ${maxLots} lots, more than Number.MAX_SAFE_INTEGER (${MAX_SAFE_BIG})`,
    );
  }
  const baseDecimals = optionalDecimalsField(spec, 'baseDecimals');
  if (baseDecimals !== undefined && qtyDecimals > baseDecimals) {
    throw new MarketSpecError(
      'qtyDecimals',
      `qtyDecimals ${qtyDecimals} exceeds the base asset's decimals ${baseDecimals}`,
    );
  }
  const quoteDecimals = optionalDecimalsField(spec, 'quoteDecimals');
  if (quoteDecimals !== undefined && priceDecimals + qtyDecimals > quoteDecimals) {
    throw new MarketSpecError(
      'quoteDecimals',
      `priceDecimals + qtyDecimals (${priceDecimals} + ${qtyDecimals}) exceeds the quote asset's decimals ` +
        `${quoteDecimals}, so price × qty would not be exact in the quote asset`,
    );
  }
  const budgetDecimals = quoteDecimals ?? priceDecimals + qtyDecimals;
  const minNotionalUnits =
    spec.minNotional === undefined
      ? undefined
      : positiveDecimal(
          spec,
          'minNotional',
          budgetDecimals,
          quoteDecimals === undefined ? 'spec' : 'quoteDecimals',
        );
  return {
    priceDecimals,
    qtyDecimals,
    tickUnits,
    lotUnits,
    minLots: Number(minUnits / lotUnits),
    maxLots: Number(maxLots),
    budgetDecimals,
    minNotionalUnits,
  };
}

type DecimalsField = 'priceDecimals' | 'qtyDecimals' | 'baseDecimals' | 'quoteDecimals';
type SizeField = 'tickSize' | 'lotSize' | 'minQty' | 'maxQty' | 'minNotional';

function decimalsField(spec: MarketMoneySpec, field: DecimalsField, max: number): number {
  const value: unknown = spec[field];
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) {
    throw new MarketSpecError(field, `${field} must be an integer from 0 to ${max}, got ${describe(value)}`);
  }
  return value;
}

function optionalDecimalsField(spec: MarketMoneySpec, field: DecimalsField): number | undefined {
  return spec[field] === undefined ? undefined : decimalsField(spec, field, MAX_ASSET_DECIMALS);
}

/** The field in units of 10^-decimals; it must be a plain decimal string, positive, within decimals. */
function positiveDecimal(
  spec: MarketMoneySpec,
  field: SizeField,
  decimals: number,
  decimalsName: DecimalsField | 'spec',
): bigint {
  const value: unknown = spec[field];
  if (typeof value !== 'string') {
    throw new MarketSpecError(field, `${field} must be a decimal string, got ${describe(value)}`);
  }
  const shape = scanDecimal(value);
  if (shape === undefined) {
    throw new MarketSpecError(field, `${field} must be a plain decimal like "0.01", got ${describe(value)}`);
  }
  if (shape.fracLen > decimals) {
    throw new MarketSpecError(
      field,
      `${field} "${value}" has ${shape.fracLen} decimals, more than ${decimalsName === 'spec' ? 'priceDecimals + qtyDecimals' : decimalsName} ${decimals}`,
    );
  }
  if (shape.isZero) throw new MarketSpecError(field, `${field} must be positive, got "${value}"`);
  return unitsBig(value, shape, decimals);
}

function describe(value: unknown): string {
  return typeof value === 'string'
    ? JSON.stringify(value)
    : typeof value === 'number'
      ? String(value)
      : typeof value;
}

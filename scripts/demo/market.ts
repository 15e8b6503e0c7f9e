/*
 * A market's trading rules as the bots need them (tick, lot, decimals), read over HTTP like any
 * client would, and the integer arithmetic that turns a float price into a valid decimal string.
 */

export interface MarketSpec {
  readonly symbol: string;
  readonly baseAsset: string;
  readonly quoteAsset: string;
  readonly priceDecimals: number;
  readonly qtyDecimals: number;
  readonly tickSize: string;
  readonly lotSize: string;
  readonly minQty: string;
}

/** Integer units of 10^-decimals in a plain decimal string ("0.05", 2 → 5). */
export function toUnits(value: string, decimals: number): number {
  const match = /^(\d+)(?:\.(\d+))?$/.exec(value);
  if (match === null) throw new Error(`not a plain decimal: ${value}`);
  const frac = match[2] ?? '';
  if (frac.length > decimals && /[1-9]/.test(frac.slice(decimals))) {
    throw new Error(`${value} has more than ${decimals} decimals`);
  }
  return Number(match[1]) * 10 ** decimals + Number(frac.slice(0, decimals).padEnd(decimals, '0'));
}

/** `units` × 10^-decimals as a decimal string with exactly `decimals` decimals. */
export function fromUnits(units: number, decimals: number): string {
  if (!Number.isSafeInteger(units) || units < 0) throw new Error(`bad units ${units}`);
  if (decimals === 0) return String(units);
  const digits = String(units).padStart(decimals + 1, '0');
  return `${digits.slice(0, -decimals)}.${digits.slice(-decimals)}`;
}

/** Conversions between numbers and valid prices (in ticks) and quantities (in lots) of a market. */
export class MarketMath {
  readonly spec: MarketSpec;
  readonly tickUnits: number;
  readonly lotUnits: number;
  /** The smallest quantity, in lots. */
  readonly minLots: number;

  constructor(spec: MarketSpec) {
    this.spec = spec;
    this.tickUnits = toUnits(spec.tickSize, spec.priceDecimals);
    this.lotUnits = toUnits(spec.lotSize, spec.qtyDecimals);
    this.minLots = Math.max(1, Math.ceil(toUnits(spec.minQty, spec.qtyDecimals) / this.lotUnits));
    if (this.tickUnits <= 0 || this.lotUnits <= 0) throw new Error(`${spec.symbol}: zero tick or lot`);
  }

  /** The tick count nearest to `price` (at least one tick). */
  ticks(price: number, round: 'down' | 'up' | 'nearest' = 'nearest'): number {
    const exact = (price * 10 ** this.spec.priceDecimals) / this.tickUnits;
    const ticks =
      round === 'down' ? Math.floor(exact) : round === 'up' ? Math.ceil(exact) : Math.round(exact);
    return Math.max(1, ticks);
  }

  priceOf(ticks: number): string {
    return fromUnits(ticks * this.tickUnits, this.spec.priceDecimals);
  }

  /** Ticks of a price string the exchange sent. */
  ticksOf(price: string): number {
    return Math.round(toUnits(price, this.spec.priceDecimals) / this.tickUnits);
  }

  /** A price as a number (for display and the reference). */
  value(ticks: number): number {
    return (ticks * this.tickUnits) / 10 ** this.spec.priceDecimals;
  }

  /** The lot count nearest to `qty`, at least the minimum. */
  lots(qty: number): number {
    return Math.max(this.minLots, Math.round((qty * 10 ** this.spec.qtyDecimals) / this.lotUnits));
  }

  qtyOf(lots: number): string {
    return fromUnits(lots * this.lotUnits, this.spec.qtyDecimals);
  }

  /** Lots in a quantity string the exchange sent. */
  lotsOf(qty: string): number {
    return Math.round(toUnits(qty, this.spec.qtyDecimals) / this.lotUnits);
  }
}

/** GET /api/v1/markets/:symbol, as the bots' rules. */
export async function fetchMarketSpec(httpUrl: string, symbol: string): Promise<MarketSpec> {
  const response = await fetch(`${httpUrl}/api/v1/markets/${encodeURIComponent(symbol)}`);
  const body = (await response.json()) as Record<string, unknown>;
  if (!response.ok) throw new Error(`market ${symbol}: ${response.status} ${JSON.stringify(body)}`);
  return specOf(body);
}

/** The rules out of a market as the HTTP API shows it. */
export function specOf(market: Record<string, unknown>): MarketSpec {
  const text = (key: string): string => {
    const value = market[key];
    if (typeof value !== 'string') throw new Error(`market without ${key}: ${JSON.stringify(market)}`);
    return value;
  };
  const int = (key: string): number => {
    const value = market[key];
    if (typeof value !== 'number') throw new Error(`market without ${key}: ${JSON.stringify(market)}`);
    return value;
  };
  return {
    symbol: text('symbol'),
    baseAsset: text('baseAsset'),
    quoteAsset: text('quoteAsset'),
    priceDecimals: int('priceDecimals'),
    qtyDecimals: int('qtyDecimals'),
    tickSize: text('tickSize'),
    lotSize: text('lotSize'),
    minQty: text('minQty'),
  };
}

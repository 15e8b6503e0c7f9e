import { formatUnits, scanDecimal, unitsBig } from '../../actors/money/decimal.ts';

/*
 * Prices of one asset in another through the markets that price them (issue 18: "valued in a
 * chosen quote asset, through the markets that price it"): the asset itself is 1; else a market
 * of the pair (asset/target at its last price, target/asset at its inverse); else two hops through
 * one asset X that has a market with each. No such path, or a market with no trade yet: no price,
 * and the caller reports the asset as unpriced (left out of equity and of the PnL totals).
 * Prices are exact rationals of whole units (bigints), rounded once, down, at the end.
 */

export interface Rational {
  readonly n: bigint;
  readonly d: bigint;
}

export interface PricedMarket {
  readonly baseAsset: string;
  readonly quoteAsset: string;
  /** The last trade's price as the wire writes it, or undefined before the first trade. */
  readonly last: string | undefined;
}

const ONE: Rational = { n: 1n, d: 1n };

function decimalOf(text: string): Rational | undefined {
  const shape = scanDecimal(text);
  if (shape === undefined || shape.isZero) return undefined;
  return { n: unitsBig(text, shape, shape.fracLen), d: 10n ** BigInt(shape.fracLen) };
}

const times = (a: Rational, b: Rational): Rational => ({ n: a.n * b.n, d: a.d * b.d });

export class PriceGraph {
  /** asset → counter asset → price of one asset in the counter asset. */
  readonly #edges = new Map<string, Map<string, Rational>>();

  constructor(markets: readonly PricedMarket[]) {
    for (const m of markets) {
      if (m.last === undefined) continue;
      const price = decimalOf(m.last);
      if (price === undefined) continue;
      this.#edge(m.baseAsset, m.quoteAsset, price);
      this.#edge(m.quoteAsset, m.baseAsset, { n: price.d, d: price.n });
    }
  }

  #edge(from: string, to: string, price: Rational): void {
    let edges = this.#edges.get(from);
    if (edges === undefined) this.#edges.set(from, (edges = new Map<string, Rational>()));
    // The first market listed for a pair prices it (a direct market before its inverse).
    if (!edges.has(to)) edges.set(to, price);
  }

  /** One whole `asset` in whole `target` units, or undefined when no market path prices it. */
  price(asset: string, target: string): Rational | undefined {
    if (asset === target) return ONE;
    const edges = this.#edges.get(asset);
    if (edges === undefined) return undefined;
    const direct = edges.get(target);
    if (direct !== undefined) return direct;
    for (const [via, first] of edges) {
      const second = this.#edges.get(via)?.get(target);
      if (second !== undefined) return times(first, second);
    }
    return undefined;
  }
}

/** `minor` units of an asset of `fromDecimals`, times `price`, in minor units of `toDecimals` (down). */
export function convert(minor: bigint, fromDecimals: number, price: Rational, toDecimals: number): bigint {
  const n = minor * price.n * 10n ** BigInt(toDecimals);
  const d = price.d * 10n ** BigInt(fromDecimals);
  // Floor division for negatives too (realized PnL may be negative).
  const q = n / d;
  return n % d !== 0n && n < 0n ? q - 1n : q;
}

export const formatMinor = formatUnits;

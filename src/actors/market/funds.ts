import type { MarketMoney } from '../money.ts';

const BPS = 10_000n;

/**
 * What a market's orders reserve, in the assets' minor units (bigint: an 18-decimal token does not
 * fit a JS number). Listing guarantees qtyDecimals <= base decimals and priceDecimals + qtyDecimals
 * <= quote decimals, so every conversion here is an exact multiplication.
 *
 * A buy reserves price × remaining plus the most taker fee that could be charged on it (PROTOCOL:
 * "a buy's lock covers price × qty plus the maximum taker fee"), a sell its remaining quantity. What
 * an open order needs is a function of its limit price and remaining quantity alone, so the locks
 * can always be recomputed from the book (and are, in tests and after a rebuild).
 */
export class MarketFunds {
  /** Quote minor units in one tick × lot. */
  readonly quotePerTickLot: bigint;
  /** Base minor units in one lot. */
  readonly basePerLot: bigint;

  constructor(
    money: MarketMoney,
    baseDecimals: number,
    quoteDecimals: number,
    readonly makerFeeBps: number,
    readonly takerFeeBps: number,
  ) {
    this.quotePerTickLot = money.quoteMinorPerTickLot * 10n ** BigInt(quoteDecimals - money.notionalDecimals);
    this.basePerLot = money.lotUnits * 10n ** BigInt(baseDecimals - money.qtyDecimals);
  }

  notional(price: number, qty: number): bigint {
    return BigInt(price) * BigInt(qty) * this.quotePerTickLot;
  }

  base(qty: number): bigint {
    return BigInt(qty) * this.basePerLot;
  }

  /** A quote amount plus the largest taker fee on it (rounded up: the reserve must cover it). */
  withFeeReserve(quote: bigint): bigint {
    return quote + (quote * BigInt(this.takerFeeBps) + BPS - 1n) / BPS;
  }

  /** What an open buy limit needs locked in quote. */
  buyNeed(price: number, remaining: number): bigint {
    return this.withFeeReserve(this.notional(price, remaining));
  }

  /** What a market buy spending `budget` tick×lot units locks in quote. */
  budgetNeed(budget: number): bigint {
    return this.withFeeReserve(BigInt(budget) * this.quotePerTickLot);
  }

  /** The largest budget (tick×lot units) whose lock fits in `available` quote. */
  budgetFor(available: bigint): number {
    let units = (available * BPS) / (BPS + BigInt(this.takerFeeBps)) / this.quotePerTickLot;
    while (units > 0n && this.withFeeReserve(units * this.quotePerTickLot) > available) units--;
    return Number(units > BigInt(Number.MAX_SAFE_INTEGER) ? BigInt(Number.MAX_SAFE_INTEGER) : units);
  }

  /** Fee in the received asset, rounded down (PROTOCOL). */
  fee(amount: bigint, bps: number): bigint {
    return (amount * BigInt(bps)) / BPS;
  }
}

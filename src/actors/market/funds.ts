import { feeOf } from '../ledger/index.ts';
import type { MarketMoney } from '../money.ts';

/**
 * What a market's orders reserve, in the assets' minor units (bigint: an 18-decimal token does not
 * fit a JS number). Listing guarantees qtyDecimals <= base decimals and priceDecimals + qtyDecimals
 * <= quote decimals, so every conversion here is an exact multiplication.
 *
 * A buy reserves price × remaining (a market buy, and a stop_market buy from placement until it
 * has executed, its budget), a sell its remaining quantity, and
 * nothing more: fees come out of what each side receives (PROTOCOL v1.1, "Fees round up"; the
 * earlier reserve for a taker fee is gone). What an open order needs is a function of its limit
 * price and remaining quantity alone, so the locks can always be recomputed from the book (and
 * are, in tests and after a rebuild; a pending stop_market buy's budget is part of the book's open
 * order).
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

  /** What an open buy limit needs locked in quote: price × remaining exactly. */
  buyNeed(price: number, remaining: number): bigint {
    return this.notional(price, remaining);
  }

  /** What a market or stop_market buy spending `budget` tick×lot units locks in quote: the budget exactly. */
  budgetNeed(budget: number): bigint {
    return BigInt(budget) * this.quotePerTickLot;
  }

  /** The largest budget (tick×lot units) whose lock fits in `available` quote. */
  budgetFor(available: bigint): number {
    const units = available / this.quotePerTickLot;
    return Number(units > BigInt(Number.MAX_SAFE_INTEGER) ? BigInt(Number.MAX_SAFE_INTEGER) : units);
  }

  /** Fee in the received asset, rounded up to its smallest unit (feeOf). */
  fee(amount: bigint, bps: number): bigint {
    return feeOf(amount, bps);
  }
}

import type { Series } from './series.ts';
import { HOLD, LONG, type Decider } from './strategy.ts';

/*
 * The `next_open` fill model (PROTOCOL v1.1): the strategy decides on a bar's close; the order
 * fills at the next bar's open, moved against the trader by `slippageBps` (a buy's price rounds up,
 * a sell's down, to the series' price units) and charged `feeBps` of the fill's notional, rounded
 * up to the cash unit. Long all-in buys the most quantity (in units of 10^-qtyScale) whose notional
 * plus fee the cash covers; a sell closes the whole position. A decision on the last bar has no next
 * open and does not fill. Cash is a bigint of 10^-(priceScale + qtyScale) units, so price × qty is
 * exact: no money here is ever a double.
 */

export interface FillSettings {
  /** Starting cash in cash units (10^-(priceScale + qtyScale)). */
  readonly initialCash: bigint;
  readonly feeBps: number;
  readonly slippageBps: number;
  /** performance.now() past which the run stops (BacktestTimeout); none when omitted. */
  readonly deadline?: number;
}

export interface Fill {
  /** Index of the bar whose open it filled at. */
  readonly bar: number;
  readonly side: 'buy' | 'sell';
  /** Price units (10^-priceScale). */
  readonly price: bigint;
  /** Quantity units (10^-qtyScale). */
  readonly qty: bigint;
  /** Cash units. */
  readonly fee: bigint;
}

/** A closed round trip: the buy and the sell that closed it, with its money result. */
export interface RoundTrip {
  readonly entryBar: number;
  readonly exitBar: number;
  /** Proceeds less sell fee, less cost and buy fee (cash units). */
  readonly pnl: bigint;
}

export interface Simulation {
  readonly fills: readonly Fill[];
  readonly roundTrips: readonly RoundTrip[];
  /** Equity at each bar's close, exact (cash units). */
  readonly equity: readonly bigint[];
  /** The same as doubles (for the ratios). */
  readonly equityRatio: Float64Array;
  /** Bars that ended holding a position. */
  readonly barsHolding: number;
  readonly finalCash: bigint;
  readonly finalQty: bigint;
}

export class BacktestTimeout extends Error {
  constructor(bars: number) {
    super(`the run passed its time bound after ${bars} bars`);
    this.name = 'BacktestTimeout';
  }
}

const BPS = 10_000n;
/** Bars between two looks at the clock. */
const CLOCK_EVERY = 65_536;

export function simulateNextOpen(series: Series, decide: Decider, settings: FillSettings): Simulation {
  const n = series.length;
  const { o, c } = series;
  const feeBps = BigInt(settings.feeBps);
  const buyFactor = BPS + BigInt(settings.slippageBps);
  const sellFactor = BPS - BigInt(settings.slippageBps);
  const deadline = settings.deadline ?? Number.POSITIVE_INFINITY;
  const fills: Fill[] = [];
  const roundTrips: RoundTrip[] = [];
  const equity: bigint[] = new Array<bigint>(n);
  const equityRatio = new Float64Array(n);
  let cash = settings.initialCash;
  let qty = 0n;
  let entryCost = 0n;
  let entryBar = -1;
  let pending = HOLD as number;
  let barsHolding = 0;
  let flatRatio = Number(cash);

  for (let i = 0; i < n; i++) {
    if (pending !== HOLD) {
      const open = BigInt(o[i]!);
      if (pending === LONG && qty === 0n) {
        const price = ceilDiv(open * buyFactor, BPS);
        let bought = (cash * BPS) / (price * (BPS + feeBps));
        let fee = ceilDiv(price * bought * feeBps, BPS);
        while (bought > 0n && price * bought + fee > cash) {
          bought -= 1n;
          fee = ceilDiv(price * bought * feeBps, BPS);
        }
        if (bought > 0n) {
          const cost = price * bought + fee;
          cash -= cost;
          qty = bought;
          entryCost = cost;
          entryBar = i;
          fills.push({ bar: i, side: 'buy', price, qty: bought, fee });
        }
      } else if (pending !== LONG && qty > 0n) {
        const price = (open * sellFactor) / BPS;
        const notional = price * qty;
        const fee = ceilDiv(notional * feeBps, BPS);
        const proceeds = notional - fee;
        cash += proceeds;
        fills.push({ bar: i, side: 'sell', price, qty, fee });
        roundTrips.push({ entryBar, exitBar: i, pnl: proceeds - entryCost });
        qty = 0n;
        flatRatio = Number(cash);
      }
      pending = HOLD;
    }
    const holding = qty > 0n;
    if (holding) {
      const value = cash + qty * BigInt(c[i]!);
      equity[i] = value;
      equityRatio[i] = Number(value);
      barsHolding++;
    } else {
      equity[i] = cash;
      equityRatio[i] = flatRatio;
    }
    if (i + 1 < n) pending = decide(i, holding);
    if ((i & (CLOCK_EVERY - 1)) === CLOCK_EVERY - 1 && performance.now() > deadline)
      throw new BacktestTimeout(i + 1);
  }
  return { fills, roundTrips, equity, equityRatio, barsHolding, finalCash: cash, finalQty: qty };
}

function ceilDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return q * b === a ? q : q + 1n;
}

import type { RoundTrip } from './nextOpen.ts';

/*
 * The performance of a run, exactly as PROTOCOL v1.1 defines it; one formula per field, in one
 * place (Lean's Statistics.cs is the model). Ratios are doubles; money (round-trip PnL) comes in
 * exact and is only divided here.
 *
 *   returns r_i = E_i / E_{i−1} − 1 for the equity E at each bar's close, i = 1..n−1
 *   excess  x_i = r_i − riskFreeRate / barsPerYear          (riskFreeRate annual, default 0)
 *   totalReturn = E_{n−1} / initial − 1
 *   cagr        = (E_{n−1} / initial)^(1 / years) − 1, years = (t_{n−1} − t_0) / 365 days
 *   sharpe      = mean(x) / sampleStdev(x) × √barsPerYear   (sample: n−1 in the denominator)
 *   sortino     = mean(x) / √mean(min(x, 0)²) × √barsPerYear (mean over every bar's return)
 *   maxDrawdown = max_t (1 − E_t / max_{s≤t} E_s)
 *   winRate     = round trips with pnl > 0 / closed round trips
 *   profitFactor= Σ pnl of winners / |Σ pnl of losers| (money)
 *   exposure    = bars ending with a position / bars
 *   totalTrades = fills (the `trades` list's length)
 * Where a ratio has no value (no returns, a zero deviation, no round trips, no time) it is 0,
 * except profitFactor with winners and no losers, and a cagr past the largest double (a gain
 * compounded over a year from minutes), which are null (an unbounded ratio has no JSON number); a position still open at the end counts in equity, not in the round trips.
 */

export interface Performance {
  readonly totalReturn: number;
  /** null when it passes the largest double (a big return over minutes). */
  readonly cagr: number | null;
  readonly sharpe: number;
  readonly sortino: number;
  readonly maxDrawdown: number;
  readonly winRate: number;
  readonly profitFactor: number | null;
  readonly exposure: number;
  readonly totalTrades: number;
}

export interface MetricsInput {
  /** Equity at each close (as doubles: ratios only). */
  readonly equity: Float64Array;
  /** Open time of each bar. */
  readonly t: Float64Array;
  readonly initial: number;
  readonly barsHolding: number;
  readonly roundTrips: readonly RoundTrip[];
  readonly fills: number;
  readonly barsPerYear: number;
  readonly riskFreeRate?: number;
}

export const YEAR_MS = 365 * 24 * 3_600_000;

export function performanceOf(input: MetricsInput): Performance {
  const { equity, t, initial, barsPerYear } = input;
  const n = equity.length;
  const last = n === 0 ? initial : equity[n - 1]!;
  const rf = (input.riskFreeRate ?? 0) / barsPerYear;

  // One pass: mean by sum, then the deviations (two passes keep the sample variance accurate).
  let sum = 0;
  let peak = n === 0 ? initial : equity[0]!;
  let maxDrawdown = 0;
  for (let i = 0; i < n; i++) {
    const e = equity[i]!;
    if (e > peak) peak = e;
    const drawdown = peak > 0 ? 1 - e / peak : 0;
    if (drawdown > maxDrawdown) maxDrawdown = drawdown;
    if (i > 0) sum += e / equity[i - 1]! - 1 - rf;
  }
  const count = n - 1;
  let sharpe = 0;
  let sortino = 0;
  if (count >= 1) {
    const mean = sum / count;
    let squares = 0;
    let downside = 0;
    for (let i = 1; i < n; i++) {
      const x = equity[i]! / equity[i - 1]! - 1 - rf;
      squares += (x - mean) ** 2;
      if (x < 0) downside += x * x;
    }
    const annual = Math.sqrt(barsPerYear);
    const stdev = count >= 2 ? Math.sqrt(squares / (count - 1)) : 0;
    const downsideDeviation = Math.sqrt(downside / count);
    sharpe = stdev > 0 ? (mean / stdev) * annual : 0;
    sortino = downsideDeviation > 0 ? (mean / downsideDeviation) * annual : 0;
  }

  const years = n >= 2 ? (t[n - 1]! - t[0]!) / YEAR_MS : 0;
  const growth = last / initial;
  const compounded = years > 0 ? (growth > 0 ? growth ** (1 / years) - 1 : -1) : 0;
  const cagr = Number.isFinite(compounded) ? compounded : null;

  let wins = 0;
  let grossProfit = 0n;
  let grossLoss = 0n;
  for (const trip of input.roundTrips) {
    if (trip.pnl > 0n) {
      wins++;
      grossProfit += trip.pnl;
    } else grossLoss -= trip.pnl;
  }
  const trips = input.roundTrips.length;
  const profitFactor = grossLoss > 0n ? ratioOf(grossProfit, grossLoss) : grossProfit > 0n ? null : 0;

  return {
    totalReturn: growth - 1,
    cagr,
    sharpe,
    sortino,
    maxDrawdown,
    winRate: trips === 0 ? 0 : wins / trips,
    profitFactor,
    exposure: n === 0 ? 0 : input.barsHolding / n,
    totalTrades: input.fills,
  };
}

/** a / b as a double, for bigints of any size (both scaled down together past 2^53). */
function ratioOf(a: bigint, b: bigint): number {
  const shift = BigInt(Math.max(0, Math.max(a.toString(2).length, b.toString(2).length) - 53));
  return Number(a >> shift) / Number(b >> shift);
}

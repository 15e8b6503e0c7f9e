/*
 * A slow, obviously correct back-test of the contract's rules, written apart from src/analytics:
 * whole bigint arithmetic, each SMA recomputed from the closes at every bar as a fraction, the
 * metrics as their textbook formulas over plain arrays. test/property/backtest.property.test.ts
 * compares src/analytics/backtest with it.
 */

export interface RefBar {
  readonly t: number;
  readonly o: bigint;
  readonly c: bigint;
}

export interface RefFill {
  readonly bar: number;
  readonly side: 'buy' | 'sell';
  readonly price: bigint;
  readonly qty: bigint;
  readonly fee: bigint;
}

export interface RefRun {
  readonly fills: RefFill[];
  readonly equity: bigint[];
  readonly trips: bigint[];
  readonly holding: boolean[];
}

/** sign(SMA(fast) − SMA(slow)) at bar i, by cross-multiplying the sums. */
function smaSide(closes: readonly bigint[], i: number, fast: number, slow: number): number {
  const sum = (k: number) => closes.slice(i - k + 1, i + 1).reduce((a, b) => a + b, 0n);
  const d = sum(fast) * BigInt(slow) - sum(slow) * BigInt(fast);
  return d > 0n ? 1 : d < 0n ? -1 : 0;
}

/** Targets of sma_cross per bar: 'long', 'flat' or undefined (no change). */
export function smaCrossTargets(
  bars: readonly RefBar[],
  fast: number,
  slow: number,
): ('long' | 'flat' | undefined)[] {
  const closes = bars.map((b) => b.c);
  const targets: ('long' | 'flat' | undefined)[] = [];
  for (let i = 0; i < bars.length; i++) {
    if (i < slow) {
      targets.push(undefined);
      continue;
    }
    // The last non-zero side before bar i, or 0 when every side since slow−1 was 0.
    let before = 0;
    for (let j = i - 1; j >= slow - 1; j--) {
      const s = smaSide(closes, j, fast, slow);
      if (s !== 0) {
        before = s;
        break;
      }
    }
    const now = smaSide(closes, i, fast, slow);
    targets.push(now === 1 && before !== 1 ? 'long' : now === -1 && before !== -1 ? 'flat' : undefined);
  }
  return targets;
}

const ceil = (a: bigint, b: bigint) => (a + b - 1n) / b;

export function simulate(
  bars: readonly RefBar[],
  targets: readonly ('long' | 'flat' | undefined)[],
  cash0: bigint,
  feeBps: bigint,
  slipBps: bigint,
): RefRun {
  let cash = cash0;
  let qty = 0n;
  let cost = 0n;
  const fills: RefFill[] = [];
  const equity: bigint[] = [];
  const trips: bigint[] = [];
  const holding: boolean[] = [];
  for (let i = 0; i < bars.length; i++) {
    const want = i === 0 ? undefined : targets[i - 1];
    const open = bars[i]!.o;
    if (want === 'long' && qty === 0n) {
      const price = ceil(open * (10_000n + slipBps), 10_000n);
      // The largest q whose price × q plus its fee (rounded up) fits the cash, by search.
      let q = cash / price;
      while (q > 0n && price * q + ceil(price * q * feeBps, 10_000n) > cash) q--;
      if (q > 0n) {
        const fee = ceil(price * q * feeBps, 10_000n);
        cash -= price * q + fee;
        cost = price * q + fee;
        qty = q;
        fills.push({ bar: i, side: 'buy', price, qty: q, fee });
      }
    } else if (want === 'flat' && qty > 0n) {
      const price = (open * (10_000n - slipBps)) / 10_000n;
      const fee = ceil(price * qty * feeBps, 10_000n);
      cash += price * qty - fee;
      trips.push(price * qty - fee - cost);
      fills.push({ bar: i, side: 'sell', price, qty, fee });
      qty = 0n;
    }
    equity.push(cash + qty * bars[i]!.c);
    holding.push(qty > 0n);
  }
  return { fills, equity, trips, holding };
}

export function metrics(run: RefRun, t: readonly number[], cash0: bigint, barsPerYear: number) {
  const e = run.equity.map(Number);
  const r = e.slice(1).map((x, i) => x / e[i]! - 1);
  const mean = r.length === 0 ? 0 : r.reduce((a, b) => a + b, 0) / r.length;
  const sd = r.length < 2 ? 0 : Math.sqrt(r.reduce((a, x) => a + (x - mean) ** 2, 0) / (r.length - 1));
  const dd = r.length === 0 ? 0 : Math.sqrt(r.reduce((a, x) => a + Math.min(x, 0) ** 2, 0) / r.length);
  let peak = -Infinity;
  let maxDrawdown = 0;
  for (const x of e) {
    peak = Math.max(peak, x);
    maxDrawdown = Math.max(maxDrawdown, 1 - x / peak);
  }
  const wins = run.trips.filter((p) => p > 0n);
  const losses = run.trips.filter((p) => p <= 0n);
  const gp = wins.reduce((a, b) => a + b, 0n);
  const gl = -losses.reduce((a, b) => a + b, 0n);
  const years = (t[t.length - 1]! - t[0]!) / (365 * 86_400_000);
  const growth = e[e.length - 1]! / Number(cash0);
  return {
    totalReturn: growth - 1,
    cagr: years > 0 ? (Number.isFinite(growth ** (1 / years)) ? growth ** (1 / years) - 1 : null) : 0,
    sharpe: sd > 0 ? (mean / sd) * Math.sqrt(barsPerYear) : 0,
    sortino: dd > 0 ? (mean / dd) * Math.sqrt(barsPerYear) : 0,
    maxDrawdown,
    winRate: run.trips.length === 0 ? 0 : wins.length / run.trips.length,
    profitFactor: gl > 0n ? Number(gp) / Number(gl) : gp > 0n ? null : 0,
    exposure: run.holding.filter(Boolean).length / e.length,
    totalTrades: run.fills.length,
  };
}

import type { Series } from '../../src/analytics/backtest/series.ts';
import { Prng } from './prng.ts';

/** A seeded random walk of `n` one-minute bars, prices in cents around 100.00 (bench and tests). */
export function randomWalk(n: number, seed: number): Series {
  const prng = new Prng(seed);
  const t = new Float64Array(n);
  const o = new Float64Array(n);
  const h = new Float64Array(n);
  const l = new Float64Array(n);
  const c = new Float64Array(n);
  const v = new Float64Array(n);
  let price = 10_000;
  for (let i = 0; i < n; i++) {
    const open = price;
    price = Math.max(100, price + prng.int(41) - 20);
    t[i] = 1_700_000_000_000 + i * 60_000;
    o[i] = open;
    c[i] = price;
    h[i] = Math.max(open, price) + prng.int(5);
    l[i] = Math.max(1, Math.min(open, price) - prng.int(5));
    v[i] = 1 + prng.int(100);
  }
  return { length: n, t, o, h, l, c, v, priceScale: 2 };
}

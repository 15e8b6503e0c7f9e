import { MAX_SCORE, trendPrice, type PricingTerms, type ScaledMetrics } from './pricing.ts';
import { fnv1a } from './symbols.ts';

/*
 * simulatePriceMovement (docs/trends.md "Simulation"): a simulated price path of a trend market
 * over a window, from its recorded metrics. The model is a seeded bootstrap: the recorded updates
 * in the window give a list of steps (the score's change from one update to the next, with the
 * velocity and sentiment of the later one); each simulated step draws one of them uniformly with
 * a mulberry32 generator, adds its score change to the running score (kept within 0..100) and
 * prices the result with the pricing formula (pricing.ts). The seed defaults to the FNV-1a hash of
 * `symbol|from|to|steps`, so the same request always gives the same path; another seed gives
 * another plausible one. Fewer than two recorded updates give a flat path at the last price.
 */

export interface RecordedMetrics extends ScaledMetrics {
  readonly ts: number;
}

export interface SimulationWindow {
  readonly from: number;
  readonly to: number;
  /** Points after the start (1..1000). */
  readonly steps: number;
  readonly seed?: number | undefined;
}

export interface SimulatedPoint {
  readonly t: number;
  readonly priceTicks: number;
  readonly scoreCenti: number;
}

export interface Simulation {
  readonly symbol: string;
  readonly model: 'bootstrap-v1';
  readonly seed: number;
  readonly points: readonly SimulatedPoint[];
}

export const MAX_SIMULATION_STEPS = 1_000;

/** mulberry32: a small, fast, well-mixed 32-bit generator; values in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** The simulated path; `recorded` in time order (those outside the window are ignored). */
export function simulatePriceMovement(
  symbol: string,
  window: SimulationWindow,
  recorded: readonly RecordedMetrics[],
  terms: PricingTerms,
): Simulation {
  const { from, to } = window;
  const steps = Math.min(MAX_SIMULATION_STEPS, Math.max(1, Math.trunc(window.steps)));
  const seed = (window.seed ?? fnv1a(`${symbol}|${from}|${to}|${steps}`)) >>> 0;
  const inWindow = recorded.filter((m) => m.ts >= from && m.ts <= to);
  const before = recorded.filter((m) => m.ts < from).at(-1);
  const start = inWindow[0] ?? before;
  const moves: { readonly dScore: number; readonly at: ScaledMetrics }[] = [];
  for (let i = 1; i < inWindow.length; i++) {
    moves.push({ dScore: inWindow[i]!.scoreCenti - inWindow[i - 1]!.scoreCenti, at: inWindow[i]! });
  }
  const random = mulberry32(seed);
  let state: ScaledMetrics = start ?? { scoreCenti: terms.baselineCenti, velocityCenti: 0, sentimentBp: 0 };
  const span = Math.max(0, to - from);
  const points: SimulatedPoint[] = [
    { t: from, priceTicks: trendPrice(terms, state), scoreCenti: state.scoreCenti },
  ];
  for (let i = 1; i <= steps; i++) {
    if (moves.length > 0) {
      const move = moves[Math.floor(random() * moves.length)]!;
      const scoreCenti = Math.min(MAX_SCORE, Math.max(0, state.scoreCenti + move.dScore));
      state = { scoreCenti, velocityCenti: move.at.velocityCenti, sentimentBp: move.at.sentimentBp };
    }
    points.push({
      t: from + Math.floor((span * i) / steps),
      priceTicks: trendPrice(terms, state),
      scoreCenti: state.scoreCenti,
    });
  }
  return { symbol, model: 'bootstrap-v1', seed, points };
}

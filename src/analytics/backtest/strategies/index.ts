import type { AnyStrategy, Strategy } from '../strategy.ts';
import { meanReversion } from './meanReversion.ts';
import { momentum } from './momentum.ts';
import { smaCross } from './smaCross.ts';
import { trendMomentum } from './trendMomentum.ts';

/** The built-in strategies by id; a new one is a module here and one line below. */
export const STRATEGIES: ReadonlyMap<string, AnyStrategy> = new Map(
  ([smaCross, momentum, meanReversion, trendMomentum] as Strategy<never>[]).map((s) => [
    s.id,
    s as AnyStrategy,
  ]),
);

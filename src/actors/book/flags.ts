import type { OrderType, SelfTradePrevention, Side, TimeInForce } from './types.ts';

/*
 * Side, type, tif, post-only and stp of an order, packed into one small integer: one Int32Array
 * column of the order store instead of five.
 */
const SIDE_SELL = 1;
const TYPE_SHIFT = 1;
const TIF_SHIFT = 3;
const POST_ONLY = 1 << 5;
const STP_SHIFT = 6;
/**
 * Set by the order store, not by packFlags: the slot has entries in the store's sparse maps (a
 * budget, an expiry, an iceberg's hidden part), so freeing a slot without one touches no Map.
 */
export const HAS_SPARSE = 1 << 8;
/**
 * Which of the sparse maps hold the slot (set with HAS_SPARSE): freeing a slot, a fill of a GTD
 * maker, or an amend then touch only the maps that hold it, not all six.
 */
export const SPARSE_BUDGET = 1 << 10;
export const SPARSE_EXPIRY = 1 << 11;
/** An iceberg: `display`, and while it rests `hidden`. */
export const SPARSE_ICEBERG = 1 << 12;
/** A linked OCO leg (`link`); cleared when the link breaks. */
export const SPARSE_LINK = 1 << 13;
/**
 * A trailing stop: its type bits say how it executes once triggered (stop_limit with a limitOffset,
 * stop_market without), this bit that it trails (typeOf answers `trailing_stop`).
 */
export const TRAILING = 1 << 9;

const TYPES: readonly OrderType[] = ['limit', 'market', 'stop_limit', 'stop_market'];
const TIFS: readonly TimeInForce[] = ['GTC', 'IOC', 'FOK', 'GTD'];
const STPS: readonly SelfTradePrevention[] = ['cancel_taker', 'cancel_maker', 'cancel_both', 'decrement'];

export function packFlags(
  side: Side,
  type: OrderType,
  tif: TimeInForce,
  postOnly: boolean,
  stp: SelfTradePrevention,
  /** A trailing_stop's limitOffset is given (it executes as a limit). */
  trailingLimit = false,
): number {
  const trailing = type === 'trailing_stop';
  const executesAs = trailing ? (trailingLimit ? 2 : 3) : indexIn(TYPES, type);
  return (
    (trailing ? TRAILING : 0) |
    (side === 'sell' ? SIDE_SELL : 0) |
    (executesAs << TYPE_SHIFT) |
    (indexIn(TIFS, tif) << TIF_SHIFT) |
    (postOnly ? POST_ONLY : 0) |
    (indexIn(STPS, stp) << STP_SHIFT)
  );
}

/** indexOf over a four-entry list, unrolled (Array#indexOf was a percent of place() in bench:engine). */
function indexIn<T>(list: readonly T[], value: T): number {
  if (list[0] === value) return 0;
  if (list[1] === value) return 1;
  if (list[2] === value) return 2;
  return list[3] === value ? 3 : -1;
}

export const isSell = (flags: number): boolean => (flags & SIDE_SELL) !== 0;
export const sideOf = (flags: number): Side => (isSell(flags) ? 'sell' : 'buy');
export const typeOf = (flags: number): OrderType =>
  (flags & TRAILING) !== 0 ? 'trailing_stop' : TYPES[(flags >> TYPE_SHIFT) & 3]!;
export const isTrailing = (flags: number): boolean => (flags & TRAILING) !== 0;
export const tifOf = (flags: number): TimeInForce => TIFS[(flags >> TIF_SHIFT) & 3]!;
export const isPostOnly = (flags: number): boolean => (flags & POST_ONLY) !== 0;
export const stpOf = (flags: number): SelfTradePrevention => STPS[(flags >> STP_SHIFT) & 3]!;
/** Market and stop_market orders execute at any price and never rest. */
export const isMarketLike = (flags: number): boolean => ((flags >> TYPE_SHIFT) & 1) === 1;
export const isStop = (flags: number): boolean => ((flags >> TYPE_SHIFT) & 2) === 2;
/** GTC and GTD orders rest; IOC and FOK never do. */
export const rests = (flags: number): boolean => {
  const tif = (flags >> TIF_SHIFT) & 3;
  return tif === 0 || tif === 3;
};

import { scaled, unscaled } from '../shared/format.ts';

/*
 * The depth ladder's figures, DOM-free: for the best `rows` levels of each side, the cumulative
 * size from the best level outwards (exact, on scaled integers) and each row's share of the
 * largest cumulative size shown, which sizes its depth bar.
 */

export type Level = readonly [price: string, qty: string];

export interface LadderRow {
  readonly price: string;
  readonly qty: string;
  /** Cumulative size from the best level to this one, with the market's qty decimals. */
  readonly total: string;
  /** `total` over the largest total on either side, 0..1. */
  readonly depth: number;
}

export interface Ladder {
  /** Best (lowest) first. */
  readonly asks: readonly LadderRow[];
  /** Best (highest) first. */
  readonly bids: readonly LadderRow[];
  /** Best ask minus best bid, with the market's price decimals; undefined when a side is empty. */
  readonly spread: string | undefined;
}

export function ladder(
  bids: readonly Level[],
  asks: readonly Level[],
  rows: number,
  decimals: { readonly price: number; readonly qty: number },
): Ladder {
  const bidTotals = cumulative(bids.slice(0, rows), decimals.qty);
  const askTotals = cumulative(asks.slice(0, rows), decimals.qty);
  const largest = [bidTotals.at(-1)?.units ?? 0n, askTotals.at(-1)?.units ?? 0n].reduce((a, b) =>
    a > b ? a : b,
  );
  const toRows = (side: readonly { level: Level; units: bigint }[]): LadderRow[] =>
    side.map(({ level, units }) => ({
      price: level[0],
      qty: level[1],
      total: unscaled(units, decimals.qty),
      depth: largest === 0n ? 0 : Number((units * 10_000n) / largest) / 10_000,
    }));
  const bestBid = bids[0];
  const bestAsk = asks[0];
  const spread =
    bestBid === undefined || bestAsk === undefined
      ? undefined
      : unscaled(scaled(bestAsk[0], decimals.price) - scaled(bestBid[0], decimals.price), decimals.price);
  return { bids: toRows(bidTotals), asks: toRows(askTotals), spread };
}

function cumulative(levels: readonly Level[], qtyDecimals: number): { level: Level; units: bigint }[] {
  let sum = 0n;
  return levels.map((level) => {
    sum += scaled(level[1], qtyDecimals);
    return { level, units: sum };
  });
}

import { formatUnits } from '../../actors/money/decimal.ts';
import type { PositionRow } from '../../persistence/portfolioStore.ts';
import type { PositionMessage } from '../../protocol/pushes.ts';
import { topics, type Publication } from '../../protocol/topics.ts';

/**
 * The private `positions` channel (PROTOCOL v1.1, Portfolio): one push per position a round of the
 * durable consumer `portfolio` changed, to its user's topic, after that round committed. Amounts
 * are in the position's own quote asset (no valuation): qty with the asset's decimals, avgPrice =
 * cost / qty and realizedPnl with the quote asset's, rounded down; avgPrice is null at qty 0.
 * An asset the catalog does not know is written with 0 decimals (as its minor units).
 */
export function positionPublications(
  rows: readonly PositionRow[],
  seq: number,
  decimalsOf: (asset: string) => number | undefined,
): Publication<PositionMessage>[] {
  return rows.map((row) => {
    const assetDecimals = decimalsOf(row.asset) ?? 0;
    const quoteDecimals = decimalsOf(row.quoteAsset) ?? 0;
    const message: PositionMessage = {
      op: 'position',
      asset: row.asset,
      quoteAsset: row.quoteAsset,
      qty: formatUnits(row.qty, assetDecimals),
      avgPrice:
        row.qty === 0n
          ? null
          : formatUnits((row.cost * 10n ** BigInt(assetDecimals)) / row.qty, quoteDecimals),
      realizedPnl: formatUnits(row.realized, quoteDecimals),
      fills: row.fills,
      seq,
    };
    return { topic: topics.private('positions', row.userId), message };
  });
}

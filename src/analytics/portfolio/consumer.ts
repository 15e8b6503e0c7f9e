import type { DatabaseTransactionConnection } from 'slonik';
import type { ListedMarket } from '../../actors/catalog.ts';
import type { DurableConsumer, EventPage } from '../../persistence/durableConsumers.ts';
import {
  PORTFOLIO_CONSUMER,
  insertRealized,
  positionsOf,
  upsertPositions,
  type RealizedRow,
  type PositionRow,
} from '../../persistence/portfolioStore.ts';
import {
  applyLeg,
  emptyPosition,
  legsOf,
  legTermsOf,
  positionKey,
  type LegTerms,
  type Position,
} from './positions.ts';

/*
 * The durable consumer `portfolio`: each page's fills become legs (positions.ts), applied to the
 * positions they touch, read once per page and written back in the page's transaction, with the
 * cursor (DurableConsumerRunner), with what each sell realized (realized_pnl, the leaderboards'
 * source). Exactly once, in journal order, rebuildable by resetting it. Once a page committed,
 * the positions it changed go to `changed` (the private `positions` channel's pushes).
 */
export class PortfolioConsumer implements DurableConsumer {
  readonly name = PORTFOLIO_CONSUMER;
  readonly #terms = new Map<string, LegTerms>();
  /** The positions the page being applied changed, until it commits (or the next page replaces it). */
  #pending: { readonly to: number; readonly rows: readonly PositionRow[] } | undefined;

  constructor(
    private readonly market: (marketId: string) => ListedMarket | undefined,
    private readonly changed?: (rows: readonly PositionRow[], seq: number) => void,
  ) {}

  async apply(tx: DatabaseTransactionConnection, page: EventPage): Promise<void> {
    this.#pending = undefined;
    const legs = page.records.flatMap((record) => {
      const terms = this.termsOf(record.batch.marketId);
      if (terms === undefined) return [];
      const { marketId } = record.batch;
      return legsOf(record.events, terms).map((leg, n) => ({
        ...leg,
        marketId,
        globalSeq: record.globalSeq,
        n,
      }));
    });
    if (legs.length === 0) return;
    const touched = new Map<string, { userId: string; asset: string; quoteAsset: string }>();
    for (const leg of legs) touched.set(positionKey(leg.userId, leg.asset, leg.quoteAsset), leg);
    const positions = new Map<string, Position>();
    for (const row of await positionsOf(tx, [...touched.values()]))
      positions.set(positionKey(row.userId, row.asset, row.quoteAsset), row);
    const realized: RealizedRow[] = [];
    for (const leg of legs) {
      const key = positionKey(leg.userId, leg.asset, leg.quoteAsset);
      const before = positions.get(key) ?? emptyPosition(leg.userId, leg.asset, leg.quoteAsset);
      const after = applyLeg(before, leg);
      positions.set(key, after);
      if (leg.side === 'sell')
        realized.push({
          userId: leg.userId,
          marketId: leg.marketId,
          globalSeq: leg.globalSeq,
          n: leg.n,
          t: leg.ts,
          pnl: after.realized - before.realized,
        });
    }
    const changed: PositionRow[] = [...touched.keys()].map((key) => positions.get(key)!);
    await upsertPositions(tx, changed, page.to);
    await insertRealized(tx, realized);
    this.#pending = { to: page.to, rows: changed };
  }

  committed(page: EventPage): void {
    const pending = this.#pending;
    this.#pending = undefined;
    if (pending === undefined || pending.to !== page.to || this.changed === undefined) return;
    this.changed(pending.rows, page.to);
  }

  private termsOf(marketId: string): LegTerms | undefined {
    let terms = this.#terms.get(marketId);
    if (terms === undefined) {
      const listed = this.market(marketId);
      if (listed === undefined) return undefined; // `@ledger` records, or no such market
      terms = legTermsOf(listed);
      this.#terms.set(marketId, terms);
    }
    return terms;
  }
}

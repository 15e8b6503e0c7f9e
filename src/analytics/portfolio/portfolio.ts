import type { CommonQueryMethods } from 'slonik';
import { formatUnits, scanDecimal, unitsBig } from '../../actors/money/decimal.ts';
import { userPositions } from '../../persistence/portfolioStore.ts';
import { failure, type Outcome } from '../../protocol/errors.ts';
import { convert, PriceGraph, type PricedMarket, type Rational } from './valuation.ts';

/*
 * GET /portfolio?in=ASSET (PROTOCOL v1.1): the user's positions from fills (the `portfolio`
 * consumer's rows) valued in `in` at the last trade prices (valuation.ts), the user's balances as
 * cash, and equity = every balance (available + locked) valued in `in`. Money is in `in`'s minor
 * units, written with its decimals. An asset no market path prices is listed in `unpriced`: its
 * position answers null for lastPrice, value and unrealizedPnl (and realizedPnl when its quote
 * asset is the one unpriced), and it counts in neither equity nor the totals.
 */

export interface PortfolioDeps {
  readonly pool: CommonQueryMethods;
  readonly assetDecimals: (asset: string) => number | undefined;
  readonly markets: () => readonly PricedMarket[];
  readonly balances: (
    userId: string,
  ) => readonly { readonly asset: string; readonly available: string; readonly locked: string }[];
}

export interface PositionView {
  readonly asset: string;
  readonly quoteAsset: string;
  readonly qty: string;
  readonly avgPrice: string | null;
  readonly lastPrice: string | null;
  readonly value: string | null;
  readonly unrealizedPnl: string | null;
  readonly realizedPnl: string | null;
}

export interface PortfolioView {
  readonly in: string;
  readonly equity: string;
  readonly positions: readonly PositionView[];
  readonly cash: readonly { readonly asset: string; readonly available: string; readonly locked: string }[];
  readonly realizedPnl: string;
  readonly unrealizedPnl: string;
  readonly unpriced: readonly string[];
}

export class Portfolio {
  constructor(private readonly deps: PortfolioDeps) {}

  async view(userId: string, target: string): Promise<Outcome<PortfolioView>> {
    const { deps } = this;
    const inDecimals = deps.assetDecimals(target);
    if (inDecimals === undefined) return failure('bad_request', `in: no asset ${target}`);
    const graph = new PriceGraph(deps.markets());
    const decimalsOf = (asset: string) => deps.assetDecimals(asset) ?? 0;
    const fmt = (minor: bigint) => formatUnits(minor, inDecimals);
    const unpriced = new Set<string>();
    const priceOf = (asset: string): Rational | undefined => {
      const price = graph.price(asset, target);
      if (price === undefined) unpriced.add(asset);
      return price;
    };

    let realizedTotal = 0n;
    let unrealizedTotal = 0n;
    const positions: PositionView[] = [];
    for (const row of await userPositions(deps.pool, userId)) {
      const assetDecimals = decimalsOf(row.asset);
      const price = priceOf(row.asset);
      const quotePrice = priceOf(row.quoteAsset);
      const costIn =
        quotePrice === undefined
          ? undefined
          : convert(row.cost, decimalsOf(row.quoteAsset), quotePrice, inDecimals);
      const realizedIn =
        quotePrice === undefined
          ? undefined
          : convert(row.realized, decimalsOf(row.quoteAsset), quotePrice, inDecimals);
      const value = price === undefined ? undefined : convert(row.qty, assetDecimals, price, inDecimals);
      const unrealized = value === undefined || costIn === undefined ? undefined : value - costIn;
      if (realizedIn !== undefined) realizedTotal += realizedIn;
      if (unrealized !== undefined) unrealizedTotal += unrealized;
      positions.push({
        asset: row.asset,
        quoteAsset: row.quoteAsset,
        qty: formatUnits(row.qty, assetDecimals),
        avgPrice:
          costIn === undefined || row.qty === 0n
            ? null
            : fmt((costIn * 10n ** BigInt(assetDecimals)) / row.qty),
        lastPrice:
          price === undefined
            ? null
            : fmt(convert(10n ** BigInt(assetDecimals), assetDecimals, price, inDecimals)),
        value: value === undefined ? null : fmt(value),
        unrealizedPnl: unrealized === undefined ? null : fmt(unrealized),
        realizedPnl: realizedIn === undefined ? null : fmt(realizedIn),
      });
    }

    const cash = deps.balances(userId).map(({ asset, available, locked }) => ({ asset, available, locked }));
    const equity = this.equityOf(cash, target, inDecimals, graph, unpriced);
    return {
      ok: true,
      value: {
        in: target,
        equity: fmt(equity),
        positions,
        cash,
        realizedPnl: fmt(realizedTotal),
        unrealizedPnl: fmt(unrealizedTotal),
        unpriced: [...unpriced].sort(),
      },
    };
  }

  /** The users' equity in each of `targets` (minor units), at the current last prices: the history's points. */
  equities(
    userIds: readonly string[],
    targets: readonly string[],
  ): { userId: string; asset: string; equity: bigint }[] {
    const graph = new PriceGraph(this.deps.markets());
    const points: { userId: string; asset: string; equity: bigint }[] = [];
    for (const target of targets) {
      const inDecimals = this.deps.assetDecimals(target);
      if (inDecimals === undefined) continue;
      for (const userId of userIds)
        points.push({
          userId,
          asset: target,
          equity: this.equityOf(this.deps.balances(userId), target, inDecimals, graph, new Set()),
        });
    }
    return points;
  }

  private equityOf(
    balances: readonly { readonly asset: string; readonly available: string; readonly locked: string }[],
    target: string,
    inDecimals: number,
    graph: PriceGraph,
    unpriced: Set<string>,
  ): bigint {
    return equityIn(balances, target, inDecimals, graph, (a) => this.deps.assetDecimals(a) ?? 0, unpriced);
  }
}

/** Every balance (available + locked) valued in `target`; assets without a price are added to `unpriced`. */
function equityIn(
  balances: readonly { readonly asset: string; readonly available: string; readonly locked: string }[],
  target: string,
  inDecimals: number,
  graph: PriceGraph,
  decimalsOf: (asset: string) => number,
  unpriced: Set<string>,
): bigint {
  let equity = 0n;
  for (const balance of balances) {
    const price = graph.price(balance.asset, target);
    if (price === undefined) {
      unpriced.add(balance.asset);
      continue;
    }
    const decimals = decimalsOf(balance.asset);
    const held = minorOf(balance.available, decimals) + minorOf(balance.locked, decimals);
    equity += convert(held, decimals, price, inDecimals);
  }
  return equity;
}

function minorOf(text: string, decimals: number): bigint {
  const shape = scanDecimal(text);
  return shape === undefined ? 0n : unitsBig(text, shape, decimals);
}

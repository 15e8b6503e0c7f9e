/**
 * Which domain events become which notifications (PROTOCOL v1.1, Notifications), as a pure function
 * of one committed journal record: fills → `order_filled` to taker and maker; lifecycle transitions
 * → `market_lifecycle` to the issuer and the holders of the market's asset; deposits completed →
 * `deposit_completed`; withdrawal changes → `withdrawal_status`; trends → `trend_detected` and
 * `market_breakout`. Price alerts need the armed alerts (Postgres): the notifier checks the record's
 * trades (tradesOf) against them. Each draft's `source` is unique within the record; the notifier
 * prefixes the record's global_seq, so a row per user and source is written at most once.
 */

import type { BatchEntry, JournalCommand } from '../actors/market/types.ts';
import { formatUnits } from '../actors/money/decimal.ts';
import type { DomainEvent } from '../events/domain.ts';
import { tradeId, wireOrderId } from '../events/ids.ts';
import type { Draft } from './types.ts';

/** What the mapping needs to name a market's figures as the wire does. */
export interface MarketTerms {
  readonly symbol: string;
  readonly baseAsset: string;
  formatPrice(ticks: number): string;
  formatQty(lots: number): string;
}

export interface MappingContext {
  market(marketId: string): MarketTerms | undefined;
  assetDecimals(asset: string): number | undefined;
}

/** The record a draft comes from: the market's batch (or `@ledger`) and its events. */
export interface RecordEvents {
  readonly marketId: string;
  readonly symbol: string;
  readonly events: readonly DomainEvent[];
}

/** A trade of the record, for price alerts: its price in ticks, in order. */
export interface RecordTrade {
  readonly marketId: string;
  readonly price: number;
  readonly ts: number;
  readonly tradeId: string;
}

export function draftsOf(record: RecordEvents, context: MappingContext): Draft[] {
  const drafts: Draft[] = [];
  const terms = context.market(record.marketId);
  const symbol = terms?.symbol ?? record.symbol;
  const price = (ticks: number) => terms?.formatPrice(ticks) ?? String(ticks);
  const qty = (lots: number) => terms?.formatQty(lots) ?? String(lots);
  const amount = (asset: string, units: bigint) => {
    const decimals = context.assetDecimals(asset);
    return decimals === undefined ? units.toString() : formatUnits(units, decimals);
  };
  for (const event of record.events) {
    switch (event.type) {
      case 'fill': {
        const { fill, seq, entry, n, ts } = event;
        const trade = tradeId(record.marketId, seq, n);
        const shared = { market: symbol, tradeId: trade, price: price(fill.price), qty: qty(fill.qty) };
        const makerSide = fill.takerSide === 'buy' ? 'sell' : 'buy';
        for (const [role, userId, orderId, side, remaining] of [
          ['taker', fill.takerUserId, fill.takerOrderId, fill.takerSide, fill.takerRemaining],
          ['maker', fill.makerUserId, fill.makerOrderId, makerSide, fill.makerRemaining],
        ] as const) {
          drafts.push({
            type: 'order_filled',
            audience: { kind: 'user', userId },
            source: `fill:${entry}:${n}:${role}`,
            ts,
            data: {
              ...shared,
              orderId: wireOrderId(record.marketId, orderId),
              side,
              liquidity: role,
              remainingQty: qty(remaining),
              complete: remaining === 0,
            },
          });
        }
        break;
      }
      case 'lifecycle.transition': {
        const { notice, entry, ts } = event;
        drafts.push({
          type: 'market_lifecycle',
          audience: { kind: 'market', marketId: notice.marketId, asset: terms?.baseAsset },
          source: `lifecycle:${entry}`,
          ts,
          data: {
            market: symbol,
            from: notice.from,
            to: notice.to,
            event: notice.event,
            ...(notice.reason === undefined ? {} : { reason: notice.reason }),
          },
        });
        break;
      }
      case 'deposit.changed': {
        if (event.status !== 'completed') break;
        drafts.push({
          type: 'deposit_completed',
          audience: { kind: 'user', userId: event.userId },
          source: `deposit:${event.depositId}`,
          ts: event.ts,
          data: {
            depositId: event.depositId,
            asset: event.asset,
            amount: amount(event.asset, event.amount),
            provider: event.provider,
            reference: event.reference,
          },
        });
        break;
      }
      case 'withdrawal.changed': {
        drafts.push({
          type: 'withdrawal_status',
          audience: { kind: 'user', userId: event.userId },
          source: `withdrawal:${event.withdrawalId}:${event.status}`,
          ts: event.ts,
          data: {
            withdrawalId: event.withdrawalId,
            status: event.status,
            asset: event.asset,
            amount: amount(event.asset, event.amount),
            destination: event.destination,
            ...(event.reason === undefined ? {} : { reason: event.reason }),
            ...(event.txHash === undefined ? {} : { txHash: event.txHash }),
          },
        });
        break;
      }
      case 'trend.detected': {
        const market = event.marketId === undefined ? undefined : context.market(event.marketId);
        drafts.push({
          type: 'trend_detected',
          audience:
            event.marketId === undefined
              ? { kind: 'opted_in' }
              : { kind: 'watchers', marketId: event.marketId, asset: market?.baseAsset },
          source: `trend:${event.entry}:${event.topic}`,
          ts: event.ts,
          data: {
            symbol: event.symbol,
            topic: event.topic,
            viralityScore: event.viralityScore,
            sentiment: event.sentiment,
            ...(market === undefined ? {} : { market: market.symbol }),
          },
        });
        break;
      }
      case 'market.breakout': {
        const market = context.market(event.marketId);
        drafts.push({
          type: 'market_breakout',
          audience: { kind: 'watchers', marketId: event.marketId, asset: market?.baseAsset },
          source: `breakout:${event.entry}:${event.marketId}`,
          ts: event.ts,
          data: {
            market: market?.symbol ?? event.symbol,
            direction: event.direction,
            price: market?.formatPrice(event.price) ?? String(event.price),
          },
        });
        break;
      }
      default:
        break;
    }
  }
  return drafts;
}

/**
 * `kyc_required` for each place the compliance gate refused (src/services/admission.ts; the market
 * journals refused commands with their code): one per user, market and UTC day (`source`), so a
 * bot retrying a refused order is told once, not per attempt.
 */
export function kycDraftsOf(
  record: {
    readonly marketId: string;
    readonly symbol: string;
    readonly entries: readonly BatchEntry<JournalCommand>[];
  },
  context: MappingContext,
): Draft[] {
  const drafts = new Map<string, Draft>();
  for (const { command, result, ts } of record.entries) {
    if (command.kind !== 'place' || result.ok || result.code !== 'compliance') continue;
    const day = new Date(ts).toISOString().slice(0, 10);
    const source = `kyc:${record.marketId}:${day}`;
    const key = `${command.userId}|${source}`;
    if (drafts.has(key)) continue;
    drafts.set(key, {
      type: 'kyc_required',
      audience: { kind: 'user', userId: command.userId },
      source,
      ts,
      data: { market: context.market(record.marketId)?.symbol ?? record.symbol, reason: result.message },
    });
  }
  return [...drafts.values()];
}

/** The record's trades in order (one per fill). */
export function tradesOf(record: RecordEvents): RecordTrade[] {
  const trades: RecordTrade[] = [];
  for (const event of record.events) {
    if (event.type !== 'fill') continue;
    trades.push({
      marketId: record.marketId,
      price: event.fill.price,
      ts: event.ts,
      tradeId: tradeId(record.marketId, event.seq, event.n),
    });
  }
  return trades;
}

/** An armed alert: fires when a trade's price is at or above `above`, or at or below `below`. */
export interface ArmedAlert {
  readonly id: string;
  readonly userId: string;
  readonly marketId: string;
  readonly direction: 'above' | 'below';
  readonly priceTicks: number;
}

/** The first trade crossing each alert, in trade order; an alert fires once. */
export function crossings(
  alerts: readonly ArmedAlert[],
  trades: readonly RecordTrade[],
): { alert: ArmedAlert; trade: RecordTrade }[] {
  const fired: { alert: ArmedAlert; trade: RecordTrade }[] = [];
  const armed = new Set(alerts);
  for (const trade of trades) {
    for (const alert of armed) {
      if (alert.marketId !== trade.marketId) continue;
      const crossed =
        alert.direction === 'above' ? trade.price >= alert.priceTicks : trade.price <= alert.priceTicks;
      if (!crossed) continue;
      fired.push({ alert, trade });
      armed.delete(alert);
    }
  }
  return fired;
}

/**
 * The one fold of the journal: a committed batch (JournalBatch, as the supervisor commits it or as
 * decodeBatch reads it back) into its ordered domain events (domain.ts). Pure and cheap: one
 * object per event, the journal's payloads shared, no closures (the publisher runs it on the hot
 * path for every batch). An order's state is not kept here: consumers apply the events to theirs
 * with orders.ts, the one place that says what a change does to an order.
 */

import type { BatchEntry, JournalBatch, JournalCommand } from '../actors/market/types.ts';
import { isFundingCommand, type FundingCommand } from '../actors/funding/index.ts';
import type { DomainEvent } from './domain.ts';

/** The events of a committed batch, in order, appended to `out` (a new array when none is given). */
export function foldBatch(batch: JournalBatch, out: DomainEvent[] = []): DomainEvent[] {
  const { entries } = batch;
  for (let entry = 0; entry < entries.length; entry++) foldEntry(entries[entry]!, entry, out);
  return out;
}

/** One entry's events (see domain.ts for their order). */
export function foldEntry(item: BatchEntry<JournalCommand>, entry: number, out: DomainEvent[]): void {
  const { seq, ts, command, result } = item;
  if (item.postings.length > 0)
    out.push({ type: 'balance.changed', seq, ts, entry, postings: item.postings });
  if (command.kind === 'lifecycle') {
    if (!result.ok) {
      out.push({
        type: 'lifecycle.refused',
        seq,
        ts,
        entry,
        event: command.event,
        code: result.code,
        message: result.message,
      });
    } else if (result.transition !== undefined) {
      out.push({
        type: 'lifecycle.transition',
        seq,
        ts,
        entry,
        event: command.event,
        notice: result.transition,
      });
    }
  }
  // Issue 19: the signals of `@trends` records (no postings, no book events).
  if (command.kind === 'trend_detected') {
    const { symbol, topic, marketId, scoreCenti, sentimentBp } = command;
    out.push({
      type: 'trend.detected',
      seq,
      ts,
      entry,
      symbol,
      topic,
      ...(marketId === undefined ? {} : { marketId }),
      viralityScore: scoreCenti / 100,
      sentiment: sentimentBp / 10_000,
    });
    return;
  }
  if (command.kind === 'market_breakout') {
    const { marketId, symbol, direction, price } = command;
    out.push({ type: 'market.breakout', seq, ts, entry, marketId, symbol, direction, price });
    return;
  }
  if (command.kind === 'deposit') {
    if (result.ok) {
      const { userId, asset, amount } = command;
      out.push({ type: 'credit', seq, ts, entry, userId, asset, amount });
    }
    return;
  }
  if (isFundingCommand(command)) {
    if (result.ok) foldFunding(command, seq, ts, entry, out);
    return;
  }
  if (!result.ok) return;
  const { events } = result;
  let n = 0;
  for (let i = 0; i < events.length; i++) {
    const event = events[i]!;
    switch (event.type) {
      case 'accepted':
        out.push({ type: 'order.accepted', seq, ts, entry, order: event });
        break;
      case 'fill':
        out.push({ type: 'fill', seq, ts, entry, n: n++, fill: event });
        if (event.takerRemaining === 0) {
          out.push({
            type: 'order.closed',
            seq,
            ts,
            entry,
            orderId: event.takerOrderId,
            userId: event.takerUserId,
            reason: 'filled',
          });
        }
        if (event.makerRemaining === 0) {
          out.push({
            type: 'order.closed',
            seq,
            ts,
            entry,
            orderId: event.makerOrderId,
            userId: event.makerUserId,
            reason: 'filled',
          });
        }
        break;
      case 'canceled':
        out.push({ type: 'order.changed', seq, ts, entry, orderId: event.orderId, change: event });
        out.push({
          type: 'order.closed',
          seq,
          ts,
          entry,
          orderId: event.orderId,
          userId: event.userId,
          reason: 'canceled',
        });
        break;
      case 'rested':
      case 'pending':
      case 'triggered':
      case 'amended':
      case 'decremented':
      case 'trailed':
        out.push({ type: 'order.changed', seq, ts, entry, orderId: event.orderId, change: event });
        break;
      case 'level':
        out.push({ type: 'book.level', seq, ts, entry, level: event });
        break;
      case 'rejected':
        break;
    }
  }
}

/**
 * A funding entry's events (issue 15): a credited deposit is a `credit` (the audit's deposit, as
 * an admin credit is) and then `deposit.changed` completed; a failed one `deposit.changed` failed;
 * a withdrawal's change `withdrawal.changed` (its postings, if any, came before as balance.changed).
 */
function foldFunding(
  command: FundingCommand,
  seq: number,
  ts: number,
  entry: number,
  out: DomainEvent[],
): void {
  const { userId, asset, amount } = command;
  if (command.kind === 'withdrawal') {
    const { withdrawalId, status, destination, reason, txHash } = command;
    out.push({
      type: 'withdrawal.changed',
      seq,
      ts,
      entry,
      userId,
      withdrawalId,
      status,
      asset,
      amount,
      destination,
      ...(reason === undefined ? {} : { reason }),
      ...(txHash === undefined ? {} : { txHash }),
    });
    return;
  }
  const { depositId, provider, reference } = command;
  if (command.kind === 'deposit_credit') {
    out.push({ type: 'credit', seq, ts, entry, userId, asset, amount });
    out.push({
      type: 'deposit.changed',
      seq,
      ts,
      entry,
      userId,
      depositId,
      status: 'completed',
      asset,
      amount,
      provider,
      reference,
    });
    return;
  }
  out.push({
    type: 'deposit.changed',
    seq,
    ts,
    entry,
    userId,
    depositId,
    status: 'failed',
    asset,
    amount,
    provider,
    reference,
    reason: command.reason,
  });
}

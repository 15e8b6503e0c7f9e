import { describe, expect, it } from 'vitest';
import { Ledger } from '../../src/actors/ledger/index.ts';
import { LEDGER_JOURNAL_ID } from '../../src/actors/market/types.ts';
import { Supervisor } from '../../src/actors/supervisor.ts';
import type { DomainEvent } from '../../src/events/domain.ts';
import { foldBatch } from '../../src/events/fold.ts';
import { CommittedEventStream, type CommittedBatch } from '../../src/events/stream.ts';
import {
  ASSET_DECIMALS,
  BTC_USDC,
  expectOk,
  lifecycle,
  lifecycleEvent,
  limit,
  marketOrder,
  MemorySink,
  PATH_TO,
} from '../support/markets.ts';

/**
 * The fold's events for each kind of command, in the order domain.ts gives, and the in-process
 * stream calling its consumers in order with one fold per batch.
 */

const BTC = BTC_USDC.symbol;

function shape(event: DomainEvent): string {
  switch (event.type) {
    case 'order.changed':
      return `${event.entry}:changed:${event.change.type}:${event.orderId}`;
    case 'order.accepted':
      return `${event.entry}:accepted:${event.order.orderId}`;
    case 'order.closed':
      return `${event.entry}:closed:${event.reason}:${event.orderId}`;
    case 'fill':
      return `${event.entry}:fill:${event.n}:${event.fill.takerOrderId}>${event.fill.makerOrderId}`;
    case 'lifecycle.transition':
      return `${event.entry}:transition:${event.notice.from}>${event.notice.to}`;
    case 'lifecycle.refused':
      return `${event.entry}:refused:${event.code}`;
    case 'credit':
      return `${event.entry}:credit:${event.userId}:${event.asset}:${event.amount}`;
    case 'balance.changed':
      return `${event.entry}:balances:${event.postings.length}`;
    case 'book.level':
      return `${event.entry}:level:${event.level.side}:${event.level.price}:${event.level.qty}`;
    case 'deposit.changed':
    case 'withdrawal.changed':
    case 'trend.detected':
    case 'market.breakout':
      return `${event.entry}:${event.type}`;
  }
}

function market() {
  const ledger = new Ledger();
  for (const [asset, decimals] of Object.entries(ASSET_DECIMALS)) ledger.defineAsset(asset, decimals);
  const sink = new MemorySink();
  const committed: CommittedBatch[] = [];
  const calls: string[] = [];
  const stream = new CommittedEventStream();
  stream.subscribe({
    name: 'first',
    onCommitted: (c) => {
      calls.push('first');
      committed.push(c);
    },
  });
  stream.subscribe({
    name: 'second',
    onCommitted: (c) => {
      calls.push('second');
      // The same fold, not a second one.
      expect(c).toBe(committed.at(-1));
    },
  });
  const supervisor = new Supervisor({ ledger, sink, publish: (batch) => stream.publish(batch) });
  supervisor.addMarket(BTC_USDC, { baseDecimals: 8, quoteDecimals: 6 });
  return { supervisor, sink, committed, calls, stream };
}

const last = (batches: readonly CommittedBatch[]) => batches.at(-1)!.events.map(shape);

describe('foldBatch', () => {
  it('folds lifecycle, credits, placements, fills, cancels and an archive into ordered events', async () => {
    const t = market();
    expectOk(await t.supervisor.submit(BTC, lifecycle('lifecycle.submit'), 1));
    expect(last(t.committed)).toEqual(['0:transition:draft>pending_approval']);
    const refused = await t.supervisor.submit(BTC, lifecycle('lifecycle.deployed'), 2);
    expect(refused.ok).toBe(false);
    expect(last(t.committed)).toEqual(['0:refused:invalid_transition']);
    for (const type of PATH_TO.active.slice(1)) expectOk(await t.supervisor.submit(BTC, lifecycle(type), 3));

    expectOk(await t.supervisor.credit('ann', 'BTC', 10n ** 9n, 4));
    expect(t.committed.at(-1)!.batch.marketId).toBe(LEDGER_JOURNAL_ID);
    expect(last(t.committed)).toEqual(['0:balances:2', '0:credit:ann:BTC:1000000000']);
    expectOk(await t.supervisor.credit('bob', 'USDC', 10n ** 12n, 4));

    const ask = expectOk(await t.supervisor.submit(BTC, limit('ann', 'sell', 100_00, 50), 5)).orderId!;
    expect(last(t.committed)).toEqual([
      '0:balances:2',
      `0:accepted:${ask}`,
      `0:changed:rested:${ask}`,
      '0:level:sell:10000:50',
    ]);
    // A market buy takes 20 of the ask, then an IOC limit sweeps the rest and is canceled unfilled.
    const taker = expectOk(await t.supervisor.submit(BTC, marketOrder('bob', 'buy', 20), 6)).orderId!;
    expect(last(t.committed).filter((e) => !e.includes(':balances:'))).toEqual([
      `0:accepted:${taker}`,
      `0:fill:0:${taker}>${ask}`,
      `0:closed:filled:${taker}`,
      '0:level:sell:10000:30',
    ]);
    const ioc = expectOk(
      await t.supervisor.submit(BTC, limit('bob', 'buy', 100_00, 40, { tif: 'IOC' }), 7),
    ).orderId!;
    expect(last(t.committed).filter((e) => !e.includes(':balances:'))).toEqual([
      `0:accepted:${ioc}`,
      `0:fill:0:${ioc}>${ask}`,
      `0:closed:filled:${ask}`,
      `0:changed:canceled:${ioc}`,
      `0:closed:canceled:${ioc}`,
      '0:level:sell:10000:0',
    ]);

    // An archive: its transition first, then the cancels it causes.
    const bid = expectOk(await t.supervisor.submit(BTC, limit('bob', 'buy', 99_00, 10), 8)).orderId!;
    expectOk(
      await t.supervisor.submit(BTC, { kind: 'lifecycle', event: lifecycleEvent('lifecycle.archive', 9) }, 9),
    );
    expect(last(t.committed)).toEqual([
      '0:balances:2',
      '0:transition:active>archived',
      `0:changed:canceled:${bid}`,
      `0:closed:canceled:${bid}`,
      '0:level:buy:9900:0',
    ]);

    // Every batch the sink committed folded to what the stream handed on, consumers in order.
    expect(t.committed.map((c) => c.batch)).toEqual(t.sink.batches);
    for (const c of t.committed) expect(c.events).toEqual(foldBatch(c.batch));
    expect(t.calls).toEqual(t.committed.flatMap(() => ['first', 'second']));
  });

  it('refuses a second consumer of the same name', () => {
    const { stream } = market();
    expect(() => stream.subscribe({ name: 'first', onCommitted: () => undefined })).toThrow(/subscribed/);
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Ledger } from '../../src/actors/ledger/index.ts';
import { MarketActor } from '../../src/actors/market/marketActor.ts';
import type { MarketCommand } from '../../src/actors/market/types.ts';
import { createMarketMoney } from '../../src/actors/money.ts';
import { Supervisor } from '../../src/actors/supervisor.ts';
import { MarketDataPublisher } from '../../src/marketdata/publisher.ts';
import { decodeMarketState, encodeMarketState } from '../../src/persistence/snapshots.ts';
import {
  ASSET_DECIMALS,
  BTC_USDC,
  lifecycle,
  limit,
  marketOrder,
  MemorySink,
  PATH_TO,
} from '../support/markets.ts';

/*
 * Finding 4 (seq continuity), as a property: the market's OrderActivity (book seq, each open
 * order's last-change ts and filled notional) is what the publisher published, batch for batch,
 * whatever the batching; a publisher started from the market's state (a restart) answers the same
 * book snapshot and the same `order` pushes as the live one; the state survives the snapshot codec,
 * and replaying the committed batches (recovery) gives the same state.
 */

const BTC = BTC_USDC.symbol;
const USERS = ['ann', 'bob', 'cat'] as const;
const CLIENT_IDS = ['c1', 'c2'] as const;

const user = fc.constantFrom(...USERS);
const clientOrderId = fc.constantFrom(...CLIENT_IDS);
const price = fc.integer({ min: 98, max: 102 }).map((p) => p * 100);
const command: fc.Arbitrary<MarketCommand> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc
      .tuple(
        user,
        fc.boolean(),
        price,
        fc.integer({ min: 1, max: 5 }),
        fc.option(clientOrderId, { nil: undefined }),
      )
      .map(([u, buy, p, q, c]) => limit(u, buy ? 'buy' : 'sell', p, q * 100, { clientOrderId: c })),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(user, fc.boolean(), fc.integer({ min: 1, max: 5 }))
      .map(([u, buy, q]) =>
        marketOrder(u, buy ? 'buy' : 'sell', q * 100, buy ? { quoteBudget: 50_000 } : {}),
      ),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(user, clientOrderId)
      .map(([u, c]): MarketCommand => ({ kind: 'cancel', userId: u, clientOrderId: c })),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(user, clientOrderId, fc.option(price, { nil: undefined }), fc.integer({ min: 1, max: 6 }))
      .map(([u, c, p, q]): MarketCommand => ({
        kind: 'amend',
        userId: u,
        clientOrderId: c,
        price: p,
        qty: q * 100,
      })),
  },
);
/** Batches of commands sent at once (each drained as one batch), with the ts they are stamped with. */
const batches = fc.array(fc.array(command, { minLength: 1, maxLength: 5 }), { minLength: 1, maxLength: 12 });

async function run(plan: readonly (readonly MarketCommand[])[]) {
  const ledger = new Ledger();
  for (const [asset, decimals] of Object.entries(ASSET_DECIMALS)) ledger.defineAsset(asset, decimals);
  const publisher = new MarketDataPublisher();
  publisher.addLedger(ledger, (asset) => ledger.decimalsOf(asset));
  const sink = new MemorySink();
  const supervisor = new Supervisor({
    ledger,
    sink,
    publish: (batch) => {
      publisher.publish(batch);
    },
  });
  const listing = { definition: BTC_USDC, baseDecimals: 8, quoteDecimals: 6 };
  const money = createMarketMoney({ ...BTC_USDC.money, baseDecimals: 8, quoteDecimals: 6 });
  const actor = supervisor.addMarket(BTC_USDC, listing);
  publisher.addMarket({ ...listing, money }, actor);
  for (const type of PATH_TO.active) await supervisor.submit(BTC, lifecycle(type), 1);
  for (const u of USERS) {
    ledger.deposit(u, 'USDC', 10n ** 12n);
    ledger.deposit(u, 'BTC', 10n ** 12n);
  }
  let ts = 10;
  for (const commands of plan) {
    ts++;
    await Promise.all(commands.map((c) => supervisor.submit(BTC, c, ts)));
    expect(actor.orderActivity.bookSeq).toBe(publisher.bookSnapshot(BTC, 0)!.seq);
  }
  return { ledger, publisher, supervisor, sink, actor, listing, money };
}

describe('finding 4 (seq continuity): the market state carries what the publisher published', () => {
  it('book seq, order ts and avgPrice agree with the live publisher, through a restart, the codec and a replay', async () => {
    await fc.assert(
      fc.asyncProperty(batches, async (plan) => {
        const { ledger, publisher, sink, actor, listing, money } = await run(plan);
        const restarted = new MarketDataPublisher();
        restarted.addLedger(ledger);
        restarted.addMarket({ ...listing, money }, actor, { ts: -1 });
        expect(restarted.bookSnapshot(BTC, 0)).toEqual(publisher.bookSnapshot(BTC, 0));
        // The same pushes (the live publisher lists them in the order it began tracking them).
        const byId = (u: string, p: MarketDataPublisher) =>
          p.openOrders(u).sort((a, b) => a.orderId.localeCompare(b.orderId));
        for (const u of USERS) expect(byId(u, restarted)).toEqual(byId(u, publisher));

        const state = actor.currentState();
        const { resting, stops } = actor.orderBook.openOrders();
        expect(state.activity?.orders.map((o) => o.orderId)).toEqual(
          [...resting, ...stops].map((o) => o.orderId).sort((a, b) => a - b),
        );
        expect(decodeMarketState(encodeMarketState(state))).toEqual(state);

        const replayed = new MarketActor({ ...listing, ledger: new Ledger(), mailboxSize: 1, batchSize: 1 });
        for (const batch of sink.batches) replayed.replayBatch(batch.entries);
        replayed.finishRecovery();
        expect(replayed.currentState()).toEqual(state);
      }),
      { numRuns: 150 },
    );
  });

  it('a batch that places and cancels one order leaves the book as it was: no book seq step', async () => {
    const { actor, publisher } = await run([
      [limit('ann', 'buy', 100_00, 100, { clientOrderId: 'c1' })],
      [
        limit('bob', 'sell', 101_00, 100, { clientOrderId: 'c1' }),
        { kind: 'cancel', userId: 'bob', clientOrderId: 'c1' },
      ],
    ]);
    expect(actor.orderActivity.bookSeq).toBe(1);
    expect(publisher.bookSnapshot(BTC, 0)!.seq).toBe(1);
  });
});

import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { Ledger } from '../../src/actors/ledger/index.ts';
import { MarketActor } from '../../src/actors/market/marketActor.ts';
import { decodeMarketState, encodeMarketState } from '../../src/persistence/snapshots.ts';
import { BTC_USDC, lifecycle, limit, PATH_TO } from '../support/markets.ts';

/** A market actor driven directly, one batch per call, as the supervisor drives it. */
function market() {
  const ledger = new Ledger();
  ledger.defineAsset('BTC', 8);
  ledger.defineAsset('USDC', 6);
  for (const user of ['ann', 'bob']) {
    ledger.deposit(user, 'USDC', 10n ** 12n);
    ledger.deposit(user, 'BTC', 10n ** 12n);
  }
  const actor = new MarketActor({
    definition: BTC_USDC,
    baseDecimals: 8,
    quoteDecimals: 6,
    ledger,
    mailboxSize: 100,
    batchSize: 100,
  });
  const batch = (ts: number, ...commands: Parameters<typeof actor.mailbox.offer>[0]['command'][]) => {
    for (const command of commands) actor.mailbox.offer({ command, ts, reply: () => undefined });
    return actor.processBatch()!;
  };
  batch(1, ...PATH_TO.active.map(lifecycle));
  return { actor, batch };
}

describe('OrderActivity in the market state (finding 4, seq continuity)', () => {
  it('counts batches that changed the book, and keeps each open order its last-change ts and filled notional', () => {
    const { actor, batch } = market();
    batch(5, limit('ann', 'sell', 100_00, 300), limit('ann', 'sell', 101_00, 300));
    batch(6, limit('bob', 'buy', 101_00, 400)); // takes 300 at 100.00 and 100 at 101.00
    batch(7, limit('bob', 'buy', 90_00, 100), { kind: 'cancel', userId: 'bob', orderId: 4 }); // net nothing
    expect(actor.orderActivity.bookSeq).toBe(2);
    expect(actor.currentState().activity).toEqual({
      bookSeq: 2,
      orders: [{ orderId: 2, ts: 6, filledNotional: String(101_00 * 100) }],
    });
  });

  it('a version 1 market snapshot (written before activity) still decodes; its book seq continues from the market seq', () => {
    const { actor, batch } = market();
    batch(5, limit('ann', 'sell', 100_00, 300));
    batch(6, limit('bob', 'buy', 100_00, 100));
    const { activity, ...legacy } = actor.currentState();
    expect(activity?.bookSeq).toBe(2);
    const packr = new Packr({
      useRecords: false,
      moreTypes: false,
      mapsAsObjects: true,
      int64AsType: 'number',
    });
    const v1 = packr.pack([1, JSON.parse(JSON.stringify(legacy)) as unknown]);
    const decoded = decodeMarketState(v1);
    expect(decoded.activity).toBeUndefined();
    const restored = new MarketActor({
      definition: BTC_USDC,
      baseDecimals: 8,
      quoteDecimals: 6,
      ledger: new Ledger(),
      mailboxSize: 1,
      batchSize: 1,
    });
    restored.restoreState(decoded);
    // Never behind what was published (the market seq counts commands, at least one per batch).
    expect(restored.orderActivity.bookSeq).toBe(legacy.seq);
    expect(restored.orderActivity.bookSeq).toBeGreaterThanOrEqual(activity!.bookSeq);
    // The partly filled order's ts and average are unknown; a fresh one's notional is 0.
    expect(restored.orderActivity.order(1)).toEqual({ ts: undefined, filledNotional: undefined });
    // A version 2 record carries it all.
    expect(decodeMarketState(encodeMarketState(actor.currentState()))).toEqual(actor.currentState());
  });
});

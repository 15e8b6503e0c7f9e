import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { BookCommand } from '../../src/actors/book/types.ts';
import { Ledger } from '../../src/actors/ledger/index.ts';
import { MarketActor } from '../../src/actors/market/marketActor.ts';
import type { CommandResult, MarketCommand } from '../../src/actors/market/types.ts';
import { decodeBatch, encodeBatch } from '../../src/persistence/journalCodec.ts';
import { marketEntries } from '../../src/persistence/recovery.ts';
import { decodeMarketState, encodeMarketState } from '../../src/persistence/snapshots.ts';
import { configArb, ocoIntentsArb, toCommands, USERS } from '../property/bookCommands.ts';
import {
  actualLocks,
  BTC_USDC,
  createHarness,
  expectedLocks,
  expectOk,
  limit,
  listMarket,
} from '../support/markets.ts';

/**
 * Issue 14, OCO in the market actor: one lock per list (the larger of the two legs' needs), the
 * right part of it given back when one leg ends the other, and replay from the encoded journal
 * (tag 17) and from an encoded snapshot with linked legs inside ending in the same state.
 *
 * BTC-USDC: 1 tick × 1 lot is 1 USDC minor unit, 1 lot is 10^4 BTC minor units.
 */

const SYMBOL = BTC_USDC.symbol;
const SAT_PER_LOT = 10_000n;

type Oco = Extract<MarketCommand, { kind: 'place_oco' }>;

function oco(userId: string, side: 'buy' | 'sell', fields: Partial<Oco> = {}): MarketCommand {
  return {
    kind: 'place_oco',
    userId,
    side,
    qty: 10,
    price: side === 'buy' ? 90_00 : 110_00,
    stopPrice: side === 'buy' ? 110_00 : 90_00,
    stp: 'cancel_taker',
    ...fields,
  };
}

function freshActor(ledger = new Ledger()): MarketActor {
  return new MarketActor({
    definition: BTC_USDC,
    baseDecimals: 8,
    quoteDecimals: 6,
    ledger,
    mailboxSize: 16,
    batchSize: 16,
  });
}

async function market() {
  const h = createHarness({ now: () => 1 });
  await listMarket(h, BTC_USDC);
  const send = (c: MarketCommand): Promise<CommandResult> => h.supervisor.submit(SYMBOL, c, 1);
  return { ...h, send, actor: h.supervisor.actor(SYMBOL)! };
}

/** The live market against a fresh actor fed its encoded journal, and one fed a snapshot plus the rest. */
function expectReplaysTo(
  h: Awaited<ReturnType<typeof market>>,
  snapshot: ReturnType<MarketActor['currentState']>,
  batchesAtSnapshot: number,
): void {
  const journal = h.sink.batches.map((b) => marketEntries(decodeBatch(encodeBatch(b)).entries, 'test'));
  const fromJournal = freshActor();
  for (const entries of journal) fromJournal.replayBatch(entries);
  fromJournal.finishRecovery();
  expect(fromJournal.currentState()).toEqual(h.actor.currentState());
  expect(fromJournal.openOrderTerms).toEqual(h.actor.openOrderTerms);
  const fromSnapshot = freshActor();
  fromSnapshot.restoreState(decodeMarketState(encodeMarketState(snapshot)));
  for (const entries of journal.slice(batchesAtSnapshot)) fromSnapshot.replayBatch(entries);
  fromSnapshot.finishRecovery();
  expect(fromSnapshot.currentState()).toEqual(h.actor.currentState());
  expect(fromSnapshot.openOrderTerms).toEqual(h.actor.openOrderTerms);
}

describe('issue 14: OCO in the actor', () => {
  it("a buy OCO locks the larger leg once; a partial fill of its limit leg cancels the stop leg and frees the stop's extra", async () => {
    const h = await market();
    const { ledger, send } = h;
    ledger.deposit('bob', 'USDC', 10_000_000n);
    ledger.deposit('alice', 'BTC', 100n * SAT_PER_LOT);
    const placed = expectOk(await send(oco('bob', 'buy', { stopLimitPrice: 111_00 })));
    const listId = placed.orderId!;
    // max(10 × 90_00, 10 × 111_00): the stop leg's limit is the larger need.
    expect(ledger.balance('bob', 'USDC').locked).toBe(111_000n);
    expect(h.actor.orderBook.openOrders()).toMatchObject({
      resting: [{ orderId: listId, listId, price: 90_00 }],
      stops: [{ orderId: listId + 1, listId, stopPrice: 110_00, price: 111_00, type: 'stop_limit' }],
    });
    const snapshot = h.actor.currentState();
    const batchesAtSnapshot = h.sink.batches.length;
    const fill = expectOk(await send(limit('alice', 'sell', 90_00, 3)));
    expect(fill.events).toContainEqual(
      expect.objectContaining({ type: 'canceled', orderId: listId + 1, reason: 'oco' }),
    );
    // 7 lots left at 90_00.
    expect(ledger.balance('bob', 'USDC').locked).toBe(63_000n);
    expect(h.actor.orderBook.openOrders().stops).toEqual([]);
    expect(h.actor.orderBook.findOrder({ userId: 'bob', orderId: listId })?.listId).toBeUndefined();
    expect(actualLocks(ledger, ['bob', 'alice'])).toEqual(expectedLocks(h.supervisor));
    expectReplaysTo(h, snapshot, batchesAtSnapshot);
    expect(ledger.checkInvariants()).toEqual([]);
    h.supervisor.stopExpiries();
  });

  it('a sell OCO whose stop triggers cancels its limit leg in the same command; the stop executes with the one lock', async () => {
    const h = await market();
    const { ledger, send } = h;
    ledger.deposit('alice', 'BTC', 100n * SAT_PER_LOT);
    ledger.deposit('bob', 'USDC', 10_000_000n);
    ledger.deposit('carol', 'BTC', 100n * SAT_PER_LOT);
    const listId = expectOk(await send(oco('alice', 'sell'))).orderId!;
    expect(ledger.balance('alice', 'BTC').locked).toBe(10n * SAT_PER_LOT);
    const snapshot = h.actor.currentState();
    const batchesAtSnapshot = h.sink.batches.length;
    // A trade at 90_00 triggers alice's stop_market sell; it sells into bob's bid at 89_00.
    expectOk(await send(limit('bob', 'buy', 89_00, 20)));
    expectOk(await send(limit('bob', 'buy', 90_00, 1)));
    const trigger = expectOk(await send(limit('carol', 'sell', 90_00, 1)));
    const types = trigger.events.filter((e) => e.type !== 'level').map((e) => e.type);
    expect(types).toEqual(['accepted', 'fill', 'triggered', 'canceled', 'fill']);
    expect(trigger.events).toContainEqual(
      expect.objectContaining({ type: 'canceled', orderId: listId, reason: 'oco' }),
    );
    expect(ledger.balance('alice', 'BTC').locked).toBe(0n);
    expect(ledger.balance('alice', 'BTC').available).toBe(90n * SAT_PER_LOT);
    expect(actualLocks(ledger, ['alice', 'bob', 'carol'])).toEqual(expectedLocks(h.supervisor));
    expectReplaysTo(h, snapshot, batchesAtSnapshot);
    expect(ledger.checkInvariants()).toEqual([]);
    h.supervisor.stopExpiries();
  });

  it('canceling either leg cancels both and gives back the whole lock; a buy OCO without stopLimitPrice answers bad_request; a linked leg cannot be amended', async () => {
    const h = await market();
    const { ledger, send } = h;
    ledger.deposit('bob', 'USDC', 10_000_000n);
    const bad = await send(oco('bob', 'buy'));
    expect(bad.ok ? 'ok' : bad.code).toBe('bad_request');
    const wrongSide = await send(oco('bob', 'buy', { stopPrice: 80_00, stopLimitPrice: 80_00 }));
    expect(wrongSide.ok ? 'ok' : wrongSide.code).toBe('bad_request');
    expect(ledger.balance('bob', 'USDC').locked).toBe(0n);
    const listId = expectOk(
      await send(oco('bob', 'buy', { stopLimitPrice: 110_00, clientOrderId: 'list-1' })),
    ).orderId!;
    const amend = await send({ kind: 'amend', userId: 'bob', orderId: listId, qty: 5 });
    expect(amend.ok ? 'ok' : amend.code).toBe('bad_request');
    const canceled = expectOk(await send({ kind: 'cancel', userId: 'bob', orderId: listId + 1 }));
    expect(canceled.events.flatMap((e) => (e.type === 'canceled' ? [[e.orderId, e.reason]] : []))).toEqual([
      [listId + 1, 'user'],
      [listId, 'oco'],
    ]);
    expect(ledger.balance('bob', 'USDC')).toEqual({ available: 10_000_000n, locked: 0n });
    expect(h.actor.orderBook.size).toBe(0);
    h.supervisor.stopExpiries();
  });

  it('random sequences of OCOs among every other type: locks equal what open orders need (one per list) after every command, and the encoded journal replays to the same state', async () => {
    await fc.assert(
      fc.asyncProperty(configArb, ocoIntentsArb, async (config, intents) => {
        const h = await market();
        const { ledger, send, supervisor } = h;
        for (const user of USERS) {
          ledger.deposit(user, 'USDC', 1_000_000n);
          ledger.deposit(user, 'BTC', 1_000n * SAT_PER_LOT);
        }
        for (const command of toCommands(intents, { ...config, maxQty: 30 })) {
          await send(toMarket(command));
          expect(actualLocks(ledger, USERS)).toEqual(expectedLocks(supervisor));
          expect(h.actor.openOrderTerms.size).toBe(h.actor.orderBook.size);
        }
        expect(ledger.checkInvariants()).toEqual([]);
        const journal = h.sink.batches.map((b) => marketEntries(decodeBatch(encodeBatch(b)).entries, 'test'));
        const replayed = freshActor();
        for (const entries of journal) replayed.replayBatch(entries);
        replayed.finishRecovery();
        expect(replayed.currentState()).toEqual(h.actor.currentState());
        supervisor.stopExpiries();
      }),
      {
        numRuns: 150,
        // Found by this property (seed -57281182, shrunk): a trailing limit buy whose stop moved down
        // and triggered in one command (no `trailed` event) rested below the limit it had locked for.
        examples: [[{ maxOrders: 1000, maxQty: 30 }, TRAILING_BUY_MOVES_AND_RESTS]] as never,
      },
    );
  });
});

const TRAILING_BUY_MOVES_AND_RESTS = [
  {
    kind: 'oco',
    userId: 'ann',
    clientOrderId: undefined,
    side: 'buy',
    qty: 1,
    priceOffset: 1,
    stopDistance: 1,
    stopLimitOffset: 0,
    stp: 'cancel_taker',
  },
  {
    kind: 'oco',
    userId: 'ann',
    clientOrderId: undefined,
    side: 'buy',
    qty: 1,
    priceOffset: 0,
    stopDistance: 1,
    stopLimitOffset: 0,
    stp: 'cancel_taker',
  },
  {
    kind: 'place',
    userId: 'dan',
    clientOrderId: undefined,
    side: 'sell',
    type: 'limit',
    priceOffset: 0,
    stopPrice: 5,
    qty: 1,
    tif: 'GTC',
    postOnly: false,
    stp: 'cancel_taker',
    quoteBudget: undefined,
    budgetOnly: false,
    expireIn: 1,
    displayQty: undefined,
    trail: 1,
    trailInBps: false,
    limitOffset: undefined,
    malformed: 'none',
  },
  {
    kind: 'place',
    userId: 'ann',
    clientOrderId: undefined,
    side: 'buy',
    type: 'trailing_stop',
    priceOffset: 0,
    stopPrice: 5,
    qty: 1,
    tif: 'GTC',
    postOnly: true,
    stp: 'cancel_taker',
    quoteBudget: undefined,
    budgetOnly: false,
    expireIn: 1,
    displayQty: undefined,
    trail: 2,
    trailInBps: false,
    limitOffset: 0,
    malformed: 'none',
  },
  {
    kind: 'place',
    userId: 'ann',
    clientOrderId: undefined,
    side: 'sell',
    type: 'trailing_stop',
    priceOffset: 0,
    stopPrice: 5,
    qty: 1,
    tif: 'GTC',
    postOnly: true,
    stp: 'cancel_taker',
    quoteBudget: undefined,
    budgetOnly: false,
    expireIn: 1,
    displayQty: undefined,
    trail: 1,
    trailInBps: false,
    limitOffset: 0,
    malformed: 'none',
  },
  {
    kind: 'place',
    userId: 'ann',
    clientOrderId: undefined,
    side: 'buy',
    type: 'stop_limit',
    priceOffset: 1,
    stopPrice: 5,
    qty: 1,
    tif: 'GTC',
    postOnly: true,
    stp: 'cancel_taker',
    quoteBudget: undefined,
    budgetOnly: false,
    expireIn: 1,
    displayQty: undefined,
    trail: 1,
    trailInBps: false,
    limitOffset: undefined,
    malformed: 'none',
  },
  {
    kind: 'place',
    userId: 'cat',
    clientOrderId: undefined,
    side: 'sell',
    type: 'limit',
    priceOffset: 0,
    stopPrice: 5,
    qty: 3,
    tif: 'GTD',
    postOnly: false,
    stp: 'cancel_taker',
    quoteBudget: undefined,
    budgetOnly: false,
    expireIn: 1,
    displayQty: undefined,
    trail: 1,
    trailInBps: false,
    limitOffset: undefined,
    malformed: 'none',
  },
  {
    kind: 'place',
    userId: 'bob',
    clientOrderId: undefined,
    side: 'buy',
    type: 'market',
    priceOffset: 0,
    stopPrice: 5,
    qty: 2,
    tif: 'GTD',
    postOnly: false,
    stp: 'cancel_taker',
    quoteBudget: undefined,
    budgetOnly: false,
    expireIn: 1,
    displayQty: undefined,
    trail: 1,
    trailInBps: false,
    limitOffset: undefined,
    malformed: 'none',
  },
];

/** A generated book command as a market command: the actor assigns placement ids itself. */
function toMarket(command: BookCommand): MarketCommand {
  if (command.kind === 'place' || command.kind === 'place_oco') {
    const { orderId, ...rest } = command;
    expect(orderId).toBeGreaterThan(0);
    if (rest.kind === 'place') return rest;
    const { stopOrderId, ...list } = rest;
    expect(stopOrderId).toBe(orderId + 1);
    return list;
  }
  return command;
}

import { describe, expect, it } from 'vitest';
import { LIFECYCLE_EVENT_TYPES, LIFECYCLE_STATES } from '../../machines/marketLifecycle.ts';
import type { LifecycleEventType, LifecycleState } from '../../machines/marketLifecycle.ts';
import { FEE_ACCOUNT, Ledger } from '../../src/actors/ledger/index.ts';
import { MarketActor } from '../../src/actors/market/marketActor.ts';
import type { PlaceCommand } from '../../src/actors/book/types.ts';
import type { CommandResult, MarketCommand } from '../../src/actors/market/types.ts';
import { decodeBatch, encodeBatch } from '../../src/persistence/journalCodec.ts';
import { marketEntries } from '../../src/persistence/recovery.ts';
import { decodeMarketState, encodeMarketState } from '../../src/persistence/snapshots.ts';
import {
  balancesOf,
  BTC_USDC,
  createHarness,
  expectOk,
  lifecycle,
  limit,
  listMarket,
  marketOrder,
  type Harness,
  type PlaceFields,
} from '../support/markets.ts';
import { eventually } from '../support/eventually.ts';

/**
 * The market actor through the supervisor: lifecycle gating, the funds each order locks and
 * releases, fees, and which error wins when several apply (PROTOCOL.md).
 *
 * BTC-USDC: 1 tick × 1 lot is exactly 1 USDC minor unit and 1 lot is 10^4 BTC minor units, so
 * the amounts below are written out by hand; taker 20 bps, maker 10 bps.
 */

const SYMBOL = BTC_USDC.symbol;
const SAT_PER_LOT = 10_000n;

const LEGAL: Readonly<Record<LifecycleState, readonly LifecycleEventType[]>> = {
  draft: ['lifecycle.submit'],
  pending_approval: ['lifecycle.approve', 'lifecycle.reject'],
  approved: ['lifecycle.activate'],
  rejected: [],
  activating: ['lifecycle.deployed', 'lifecycle.deploy_failed'],
  active: ['lifecycle.pause', 'lifecycle.archive'],
  paused: ['lifecycle.resume', 'lifecycle.archive'],
  archived: [],
};

function bal(ledger: Ledger, user: string, asset: string): { available: bigint; locked: bigint } {
  return ledger.balance(user, asset);
}

/** price × qty in USDC minor units: a buy's whole lock (PROTOCOL v1.1: no taker-fee reserve). */
function buyNeed(price: number, qty: number): bigint {
  return BigInt(price) * BigInt(qty);
}

/** A fee as settlement charges it: rounded up to a whole minor unit (PROTOCOL v1.1). */
function ceilFee(amount: bigint, bps: bigint): bigint {
  return (amount * bps + 9_999n) / 10_000n;
}

async function active(): Promise<Harness & { send: (c: MarketCommand) => Promise<CommandResult> }> {
  const h = createHarness();
  await listMarket(h, BTC_USDC);
  return { ...h, send: (c) => h.supervisor.submit(SYMBOL, c, 1) };
}

function expectError(result: CommandResult, code: string): void {
  expect(result.ok ? 'ok' : result.code).toBe(code);
}

describe('lifecycle gating', () => {
  describe.each(LIFECYCLE_STATES)('in %s', (state) => {
    it(
      state === 'active' ? 'accepts a place' : 'answers market_not_active to a place and changes nothing',
      async () => {
        const h = createHarness();
        const actor = await listMarket(h, BTC_USDC, state);
        h.ledger.deposit('alice', 'USDC', 1_000_000_000n);
        const result = await h.supervisor.submit(SYMBOL, limit('alice', 'buy', 100_00, 10), 1);
        if (state === 'active') {
          expectOk(result);
          expect(actor.orderBook.size).toBe(1);
          return;
        }
        expectError(result, 'market_not_active');
        expect(!result.ok && result.message).toContain(state);
        expect(actor.orderBook.size).toBe(0);
        expect(bal(h.ledger, 'alice', 'USDC')).toEqual({ available: 1_000_000_000n, locked: 0n });
      },
    );

    if (state !== 'active' && state !== 'paused') {
      it('answers market_not_active to amend, cancel and cancel_all', async () => {
        const h = createHarness();
        await listMarket(h, BTC_USDC, state);
        const commands: MarketCommand[] = [
          { kind: 'amend', userId: 'alice', orderId: 1, qty: 5 },
          { kind: 'cancel', userId: 'alice', orderId: 1 },
          { kind: 'cancel_all', userId: 'alice' },
        ];
        for (const c of commands) expectError(await h.supervisor.submit(SYMBOL, c, 1), 'market_not_active');
      });
    }

    it('answers invalid_transition to every illegal lifecycle event, naming state and event, and changes nothing', async () => {
      const h = createHarness();
      const actor = await listMarket(h, BTC_USDC, state);
      const before = actor.currentState();
      const illegal = LIFECYCLE_EVENT_TYPES.filter((type) => !LEGAL[state].includes(type));
      expect(illegal.length).toBeGreaterThan(0);
      for (const type of illegal) {
        const result = await h.supervisor.submit(SYMBOL, lifecycle(type), 1);
        expectError(result, 'invalid_transition');
        expect(!result.ok && result.message).toContain(state);
        expect(!result.ok && result.message).toContain(type);
        expect(actor.state).toBe(state);
      }
      const after = actor.currentState();
      expect(after.lifecycle).toEqual(before.lifecycle);
      expect(after.book).toEqual(before.book);
    });
  });

  it('paused accepts cancel and cancel_all but refuses place and amend; resume trades again', async () => {
    const h = await active();
    const { ledger, send } = h;
    ledger.deposit('alice', 'USDC', 100_000_000n);
    ledger.deposit('bob', 'BTC', 100_000_000n);
    expectOk(await send(limit('alice', 'buy', 99_00, 100, { clientOrderId: 'a1' })));
    expectOk(await send(limit('alice', 'buy', 98_00, 100, { clientOrderId: 'a2' })));
    expectOk(await send(limit('bob', 'sell', 101_00, 100, { clientOrderId: 'b1' })));
    expectOk(await send(limit('bob', 'sell', 102_00, 100, { clientOrderId: 'b2' })));
    expectOk(await send(lifecycle('lifecycle.pause')));
    const actor = h.supervisor.actor(SYMBOL)!;
    const book = actor.orderBook.snapshot();
    const funds = balancesOf(ledger, ['alice', 'bob']);

    expectError(await send(limit('alice', 'buy', 97_00, 1)), 'market_not_active');
    expectError(await send(limit('bob', 'sell', 99_00, 1)), 'market_not_active');
    expectError(
      await send({ kind: 'amend', userId: 'alice', clientOrderId: 'a1', qty: 50 }),
      'market_not_active',
    );
    expect(actor.orderBook.snapshot()).toEqual(book);
    expect(balancesOf(ledger, ['alice', 'bob'])).toEqual(funds);

    const canceled = expectOk(await send({ kind: 'cancel', userId: 'alice', clientOrderId: 'a1' }));
    expect(canceled.events.some((e) => e.type === 'canceled' && e.reason === 'user')).toBe(true);
    expect(bal(ledger, 'alice', 'USDC').locked).toBe(buyNeed(98_00, 100));
    const all = expectOk(await send({ kind: 'cancel_all', userId: 'bob' }));
    expect(all.events.filter((e) => e.type === 'canceled')).toHaveLength(2);
    expect(bal(ledger, 'bob', 'BTC')).toEqual({ available: 100_000_000n, locked: 0n });
    expect(actor.orderBook.size).toBe(1);

    expectOk(await send(lifecycle('lifecycle.resume')));
    const fill = expectOk(await send(limit('bob', 'sell', 98_00, 100)));
    expect(fill.events.some((e) => e.type === 'fill')).toBe(true);
    expect(ledger.checkInvariants()).toEqual([]);
  });

  describe.each(['active', 'paused'] as const)('archiving from %s', (from) => {
    it('cancels every open order (resting and pending stops) and releases their funds', async () => {
      const h = await active();
      const { ledger, send } = h;
      ledger.deposit('alice', 'USDC', 100_000_000n);
      ledger.deposit('bob', 'BTC', 100_000_000n);
      ledger.deposit('carol', 'USDC', 50_000_000n);
      expectOk(await send(limit('alice', 'buy', 99_00, 300)));
      expectOk(await send(limit('bob', 'sell', 101_00, 200)));
      expectOk(await send(limit('bob', 'sell', 105_00, 200)));
      const stop = expectOk(
        await send(limit('carol', 'buy', 110_00, 50, { type: 'stop_limit', stopPrice: 108_00 })),
      );
      expect(stop.events.some((e) => e.type === 'pending')).toBe(true);
      if (from === 'paused') expectOk(await send(lifecycle('lifecycle.pause')));
      expect(bal(ledger, 'carol', 'USDC').locked).toBe(buyNeed(110_00, 50));

      const archived = expectOk(await send(lifecycle('lifecycle.archive')));
      expect(archived.transition).toMatchObject({ from, to: 'archived' });
      const canceled = archived.events.filter((e) => e.type === 'canceled');
      expect(canceled.map((e) => e.orderId).sort()).toEqual([1, 2, 3, 4]);
      const actor = h.supervisor.actor(SYMBOL)!;
      expect(actor.orderBook.size).toBe(0);
      expect(actor.openOrderTerms.size).toBe(0);
      expect(bal(ledger, 'alice', 'USDC')).toEqual({ available: 100_000_000n, locked: 0n });
      expect(bal(ledger, 'bob', 'BTC')).toEqual({ available: 100_000_000n, locked: 0n });
      expect(bal(ledger, 'carol', 'USDC')).toEqual({ available: 50_000_000n, locked: 0n });
      expect(ledger.checkInvariants()).toEqual([]);
      expectError(await send({ kind: 'cancel_all', userId: 'bob' }), 'market_not_active');
    });
  });
});

describe('funds', () => {
  it('refuses a buy whose lock (price × qty exactly, no fee reserve) is one unit short, and changes nothing', async () => {
    const { ledger, send, supervisor } = await active();
    // 100.01 × 0.0003 = 30003 minor: the whole lock (fees come out of the BTC received).
    expect(buyNeed(100_01, 3)).toBe(30_003n);
    ledger.deposit('alice', 'USDC', 30_002n);
    expectError(await send(limit('alice', 'buy', 100_01, 3)), 'insufficient_funds');
    expect(bal(ledger, 'alice', 'USDC')).toEqual({ available: 30_002n, locked: 0n });
    expect(supervisor.actor(SYMBOL)!.orderBook.size).toBe(0);
    ledger.deposit('alice', 'USDC', 1n);
    expectOk(await send(limit('alice', 'buy', 100_01, 3)));
    expect(bal(ledger, 'alice', 'USDC')).toEqual({ available: 0n, locked: 30_003n });
  });

  it('locks qty in base for a sell and refuses one lot more than available', async () => {
    const { ledger, send } = await active();
    ledger.deposit('bob', 'BTC', 50_000_000n);
    expectError(await send(limit('bob', 'sell', 100_00, 5001)), 'insufficient_funds');
    expect(bal(ledger, 'bob', 'BTC')).toEqual({ available: 50_000_000n, locked: 0n });
    expectOk(await send(limit('bob', 'sell', 100_00, 5000)));
    expect(bal(ledger, 'bob', 'BTC')).toEqual({ available: 0n, locked: 50_000_000n });
  });

  it('releases a price improvement at once and charges fees in the asset received to @fees', async () => {
    const { ledger, send } = await active();
    ledger.deposit('alice', 'USDC', 1_000_000_000n);
    ledger.deposit('bob', 'BTC', 100_000_000n);
    expectOk(await send(limit('bob', 'sell', 100_07, 1234)));
    const taker = expectOk(await send(limit('alice', 'buy', 101_00, 2000)));
    expect(taker.events.filter((e) => e.type === 'fill')).toHaveLength(1);
    const notional = 100_07n * 1234n; // 12 348 638 USDC minor
    const base = 1234n * SAT_PER_LOT;
    const takerFee = ceilFee(base, 20n);
    const makerFee = ceilFee(notional, 10n); // 12 348.638 rounds up
    expect(makerFee).toBe(12_349n);
    // Alice keeps exactly the lock of her resting 766 lots at her own limit.
    expect(bal(ledger, 'alice', 'USDC')).toEqual({
      available: 1_000_000_000n - notional - buyNeed(101_00, 766),
      locked: buyNeed(101_00, 766),
    });
    expect(bal(ledger, 'alice', 'BTC')).toEqual({ available: base - takerFee, locked: 0n });
    expect(bal(ledger, 'bob', 'USDC')).toEqual({ available: notional - makerFee, locked: 0n });
    expect(bal(ledger, 'bob', 'BTC')).toEqual({ available: 100_000_000n - base, locked: 0n });
    expect(bal(ledger, FEE_ACCOUNT, 'BTC')).toEqual({ available: takerFee, locked: 0n });
    expect(bal(ledger, FEE_ACCOUNT, 'USDC')).toEqual({ available: makerFee, locked: 0n });
    expect(ledger.checkInvariants()).toEqual([]);
  });

  it('charges a taker sell its fee in quote (rounded up) and the resting buyer the maker fee in base', async () => {
    const { ledger, send } = await active();
    ledger.deposit('alice', 'USDC', 1_000_000_000n);
    ledger.deposit('bob', 'BTC', 100_000_000n);
    expectOk(await send(limit('alice', 'buy', 99_99, 777)));
    expectOk(await send(limit('bob', 'sell', 95_00, 777)));
    const notional = 99_99n * 777n; // 7 769 223
    const base = 777n * SAT_PER_LOT;
    // 15 538.446 and 7 770 round up to 15 539 and 7 770 (an exact fee stays as it is).
    expect(ceilFee(notional, 20n)).toBe(15_539n);
    expect(bal(ledger, 'bob', 'USDC').available).toBe(notional - ceilFee(notional, 20n));
    expect(bal(ledger, 'alice', 'BTC').available).toBe(base - ceilFee(base, 10n));
    expect(bal(ledger, 'alice', 'USDC')).toEqual({ available: 1_000_000_000n - notional, locked: 0n });
    expect(bal(ledger, FEE_ACCOUNT, 'USDC').available).toBe(ceilFee(notional, 20n));
    expect(bal(ledger, FEE_ACCOUNT, 'BTC').available).toBe(ceilFee(base, 10n));
  });

  it('releases everything on cancel', async () => {
    const { ledger, send } = await active();
    ledger.deposit('alice', 'USDC', 5_000_000n);
    ledger.deposit('alice', 'BTC', 5_000_000n);
    const buy = expectOk(await send(limit('alice', 'buy', 100_00, 333)));
    const sell = expectOk(await send(limit('alice', 'sell', 120_00, 222)));
    expect(bal(ledger, 'alice', 'USDC').locked).toBe(buyNeed(100_00, 333));
    expect(bal(ledger, 'alice', 'BTC').locked).toBe(222n * SAT_PER_LOT);
    expectOk(await send({ kind: 'cancel', userId: 'alice', orderId: buy.orderId }));
    expectOk(await send({ kind: 'cancel', userId: 'alice', orderId: sell.orderId }));
    expect(bal(ledger, 'alice', 'USDC')).toEqual({ available: 5_000_000n, locked: 0n });
    expect(bal(ledger, 'alice', 'BTC')).toEqual({ available: 5_000_000n, locked: 0n });
  });

  describe('market buy', () => {
    async function withAsks() {
      const h = await active();
      h.ledger.deposit('bob', 'BTC', 100_000_000n);
      expectOk(await h.send(limit('bob', 'sell', 100_00, 1000)));
      expectOk(await h.send(limit('bob', 'sell', 102_00, 1000)));
      return h;
    }

    it('with a quoteBudget locks exactly the budget, spends at most the budget, releases the rest', async () => {
      const { ledger, send } = await withAsks();
      // budget 15 000 000 locks 15 000 000, nothing more (PROTOCOL v1.1).
      ledger.deposit('alice', 'USDC', 14_999_999n);
      expectError(
        await send(marketOrder('alice', 'buy', 5000, { quoteBudget: 15_000_000 })),
        'insufficient_funds',
      );
      expect(bal(ledger, 'alice', 'USDC')).toEqual({ available: 14_999_999n, locked: 0n });
      ledger.deposit('alice', 'USDC', 1n);
      const result = expectOk(await send(marketOrder('alice', 'buy', 5000, { quoteBudget: 15_000_000 })));
      // 1000 lots at 100.00, then floor(5 000 000 / 10 200) = 490 lots at 102.00.
      const fills = result.events.filter((e) => e.type === 'fill');
      expect(fills.map((f) => [f.price, f.qty])).toEqual([
        [100_00, 1000],
        [102_00, 490],
      ]);
      const spent = 100_00n * 1000n + 102_00n * 490n;
      expect(bal(ledger, 'alice', 'USDC')).toEqual({ available: 15_000_000n - spent, locked: 0n });
      const base = 1490n * SAT_PER_LOT;
      expect(bal(ledger, 'alice', 'BTC')).toEqual({ available: base - ceilFee(base, 20n), locked: 0n });
      expect(ledger.checkInvariants()).toEqual([]);
    });

    it('without a quoteBudget fills qty and gives back what it did not spend', async () => {
      const { ledger, send } = await withAsks();
      ledger.deposit('alice', 'USDC', 20_000_000n);
      const result = expectOk(await send(marketOrder('alice', 'buy', 1500)));
      expect(result.events.filter((e) => e.type === 'fill').map((f) => f.qty)).toEqual([1000, 500]);
      expect(bal(ledger, 'alice', 'USDC')).toEqual({
        available: 20_000_000n - 100_00n * 1000n - 102_00n * 500n,
        locked: 0n,
      });
    });

    it('without a quoteBudget spends at most what the available balance affords (all of it)', async () => {
      const { ledger, send } = await withAsks();
      ledger.deposit('alice', 'USDC', 12_000_000n);
      const budget = 12_000_000n;
      const result = expectOk(await send(marketOrder('alice', 'buy', 2000)));
      const afford = (budget - 10_000_000n) / 102_00n;
      expect(result.events.filter((e) => e.type === 'fill').map((f) => f.qty)).toEqual([
        1000,
        Number(afford),
      ]);
      expect(bal(ledger, 'alice', 'USDC')).toEqual({
        available: 12_000_000n - 10_000_000n - afford * 102_00n,
        locked: 0n,
      });
      expectError(await send(marketOrder('carol', 'buy', 10)), 'insufficient_funds');
    });
  });

  describe('amend', () => {
    it('up needs more funds (refused: order and lock unchanged); down releases the difference', async () => {
      const { ledger, send, supervisor } = await active();
      ledger.deposit('alice', 'USDC', buyNeed(100_00, 1000) + 5_000n);
      const placed = expectOk(await send(limit('alice', 'buy', 100_00, 1000, { clientOrderId: 'a' })));
      const book = supervisor.actor(SYMBOL)!.orderBook;
      const before = book.snapshot();
      expectError(
        await send({ kind: 'amend', userId: 'alice', clientOrderId: 'a', qty: 2000 }),
        'insufficient_funds',
      );
      expectError(
        await send({ kind: 'amend', userId: 'alice', orderId: placed.orderId, price: 101_00 }),
        'insufficient_funds',
      );
      expect(book.snapshot()).toEqual(before);
      expect(bal(ledger, 'alice', 'USDC')).toEqual({ available: 5_000n, locked: buyNeed(100_00, 1000) });

      expectOk(await send({ kind: 'amend', userId: 'alice', clientOrderId: 'a', qty: 600 }));
      expect(bal(ledger, 'alice', 'USDC').locked).toBe(buyNeed(100_00, 600));
      expectOk(await send({ kind: 'amend', userId: 'alice', clientOrderId: 'a', price: 90_00 }));
      expect(bal(ledger, 'alice', 'USDC').locked).toBe(buyNeed(90_00, 600));
      expectOk(await send({ kind: 'amend', userId: 'alice', clientOrderId: 'a', price: 100_00, qty: 1000 }));
      expect(bal(ledger, 'alice', 'USDC')).toEqual({ available: 5_000n, locked: buyNeed(100_00, 1000) });
      expect(book.findOrder({ userId: 'alice', clientOrderId: 'a' })).toMatchObject({
        qty: 1000,
        price: 100_00,
      });
    });

    it('of a sell locks or releases base by quantity only', async () => {
      const { ledger, send } = await active();
      ledger.deposit('bob', 'BTC', 10_000_000n);
      expectOk(await send(limit('bob', 'sell', 100_00, 500, { clientOrderId: 'b' })));
      expectOk(await send({ kind: 'amend', userId: 'bob', clientOrderId: 'b', price: 200_00 }));
      expect(bal(ledger, 'bob', 'BTC').locked).toBe(500n * SAT_PER_LOT);
      expectError(
        await send({ kind: 'amend', userId: 'bob', clientOrderId: 'b', qty: 1001 }),
        'insufficient_funds',
      );
      expectOk(await send({ kind: 'amend', userId: 'bob', clientOrderId: 'b', qty: 1000 }));
      expect(bal(ledger, 'bob', 'BTC')).toEqual({ available: 0n, locked: 10_000_000n });
      expectOk(await send({ kind: 'amend', userId: 'bob', clientOrderId: 'b', qty: 1 }));
      expect(bal(ledger, 'bob', 'BTC')).toEqual({ available: 9_990_000n, locked: 10_000n });
    });

    it('that crosses settles the fills at the new price and keeps the remainder locked at it', async () => {
      const { ledger, send } = await active();
      ledger.deposit('alice', 'USDC', 100_000_000n);
      ledger.deposit('bob', 'BTC', 100_000_000n);
      expectOk(await send(limit('bob', 'sell', 101_00, 300)));
      expectOk(await send(limit('alice', 'buy', 99_00, 500, { clientOrderId: 'a' })));
      const amended = expectOk(
        await send({ kind: 'amend', userId: 'alice', clientOrderId: 'a', price: 102_00 }),
      );
      expect(amended.events.some((e) => e.type === 'fill')).toBe(true);
      expect(bal(ledger, 'alice', 'USDC')).toEqual({
        available: 100_000_000n - 101_00n * 300n - buyNeed(102_00, 200),
        locked: buyNeed(102_00, 200),
      });
      expect(ledger.checkInvariants()).toEqual([]);
    });
  });
});

describe('error precedence (PROTOCOL: bad_request, market_not_active, duplicate, insufficient_funds, would_match / fok_unfilled)', () => {
  it.each(['draft', 'paused', 'archived'] as const)(
    'bad_request comes before market_not_active (%s)',
    async (state) => {
      const h = createHarness();
      await listMarket(h, BTC_USDC, state);
      const send = (c: MarketCommand) => h.supervisor.submit(SYMBOL, c, 1);
      expectError(
        await send(limit('alice', 'buy', 100_00, 1, { postOnly: true, tif: 'IOC' })),
        'bad_request',
      );
      expectError(await send(limit('alice', 'buy', 100_00, 1_000_001)), 'bad_request');
      expectError(await send(marketOrder('alice', 'buy', 1, { tif: 'FOK' })), 'bad_request');
      expectError(
        await send(marketOrder('alice', 'buy', 1, { type: 'stop_market', stopPrice: 5 })),
        'bad_request',
      );
      expectError(await send({ kind: 'amend', userId: 'alice', orderId: 1 }), 'bad_request');
      expectError(await send({ kind: 'cancel', userId: 'alice' }), 'bad_request');
    },
  );

  it('market_not_active comes before duplicate_client_order_id and insufficient_funds', async () => {
    const { ledger, send } = await active();
    ledger.deposit('alice', 'USDC', 10_000_000n);
    expectOk(await send(limit('alice', 'buy', 100_00, 10, { clientOrderId: 'dup' })));
    expectOk(await send(lifecycle('lifecycle.pause')));
    expectError(
      await send(limit('alice', 'buy', 100_00, 999_999, { clientOrderId: 'dup' })),
      'market_not_active',
    );
  });

  it('bad_request comes before duplicate_client_order_id', async () => {
    const { ledger, send } = await active();
    ledger.deposit('alice', 'USDC', 10_000_000n);
    expectOk(await send(limit('alice', 'buy', 100_00, 10, { clientOrderId: 'dup' })));
    expectError(
      await send(limit('alice', 'buy', 100_00, 1_000_001, { clientOrderId: 'dup' })),
      'bad_request',
    );
  });

  it('duplicate_client_order_id comes before insufficient_funds', async () => {
    const { ledger, send } = await active();
    ledger.deposit('alice', 'USDC', 10_000_000n);
    expectOk(await send(limit('alice', 'buy', 100_00, 10, { clientOrderId: 'dup' })));
    expectError(
      await send(limit('alice', 'buy', 100_00, 999_999, { clientOrderId: 'dup' })),
      'duplicate_client_order_id',
    );
  });

  it('insufficient_funds comes before would_match and fok_unfilled; alone, those change nothing', async () => {
    const { ledger, send, supervisor } = await active();
    ledger.deposit('bob', 'BTC', 10_000_000n);
    ledger.deposit('alice', 'USDC', 1_000n);
    expectOk(await send(limit('bob', 'sell', 100_00, 100)));
    const postOnly = limit('alice', 'buy', 100_00, 50, { postOnly: true });
    const fok = limit('alice', 'buy', 100_00, 500, { tif: 'FOK' });
    expectError(await send(postOnly), 'insufficient_funds');
    expectError(await send(fok), 'insufficient_funds');
    ledger.deposit('alice', 'USDC', 100_000_000n);
    const book = supervisor.actor(SYMBOL)!.orderBook.snapshot();
    expectError(await send(postOnly), 'would_match');
    expectError(await send(fok), 'fok_unfilled');
    expect(supervisor.actor(SYMBOL)!.orderBook.snapshot()).toEqual(book);
    expect(bal(ledger, 'alice', 'USDC')).toEqual({ available: 100_001_000n, locked: 0n });
    expect(ledger.checkInvariants()).toEqual([]);
  });
});

describe('compliance gate (issue 12 §2)', () => {
  async function gated() {
    const revoked = new Set<string>();
    const h = createHarness({
      admit: (_m, userId) => (revoked.has(userId) ? `${userId} is revoked` : undefined),
    });
    await listMarket(h, BTC_USDC, 'active', {
      beforeCommand: (c) => {
        if (c.kind === 'place' && c.clientOrderId === 'boom') throw new Error('injected fault');
      },
    });
    for (const user of ['alice', 'bob', 'carol']) {
      h.ledger.deposit(user, 'USDC', 100_000_000n);
      h.ledger.deposit(user, 'BTC', 100_000_000n);
    }
    return { ...h, revoked, send: (c: MarketCommand) => h.supervisor.submit(SYMBOL, c, 1) };
  }

  it('answers compliance to an amend that reprices or grows, admits one that only shrinks', async () => {
    const { send, revoked, supervisor } = await gated();
    const sell = expectOk(await send(limit('bob', 'sell', 110_00, 40)));
    expectOk(await send(limit('alice', 'buy', 100_00, 40)));
    revoked.add('bob');
    const before = supervisor.actor(SYMBOL)!.orderBook.snapshot();
    const amend = (fields: { price?: number; qty?: number }) =>
      send({ kind: 'amend', userId: 'bob', orderId: sell.orderId, ...fields });
    expectError(await amend({ price: 100_00 }), 'compliance');
    expectError(await amend({ qty: 41 }), 'compliance');
    expect(supervisor.actor(SYMBOL)!.orderBook.snapshot()).toEqual(before);
    expectOk(await amend({ qty: 30 }));
    // An amend the book would refuse anyway gets the book's answer: an unknown order is not_found.
    expectError(await send({ kind: 'amend', userId: 'bob', orderId: 999, price: 1 }), 'not_found');
  });

  it('a refused stop stays refused when the market is rebuilt after a fault, even if the owner is compliant again', async () => {
    const { send, revoked, supervisor, ledger } = await gated();
    const stop = expectOk(
      await send(limit('bob', 'sell', 90_00, 10, { type: 'stop_limit', stopPrice: 95_00 })),
    );
    expectOk(await send(limit('alice', 'buy', 92_00, 10)));
    expectOk(await send(limit('alice', 'buy', 95_00, 1)));
    revoked.add('bob');
    const triggered = expectOk(await send(limit('carol', 'sell', 95_00, 1)));
    expect(triggered.events).toContainEqual({
      type: 'canceled',
      orderId: stop.orderId,
      userId: 'bob',
      remaining: 10,
      reason: 'compliance',
    });
    revoked.delete('bob');
    // A fault: the market is rebuilt from its rebuild point by replaying what it did since, and
    // the stop must be refused again (live, bob would now be admitted and sell into alice's bid).
    expectError(await send(limit('carol', 'buy', 1_00, 1, { clientOrderId: 'boom' })), 'unavailable');
    await supervisor.idle();
    const actor = supervisor.actor(SYMBOL)!;
    expect(actor.orderBook.depth('buy', 0)).toEqual([[92_00, 10]]);
    expect(actor.orderBook.findOrder({ userId: 'bob', orderId: stop.orderId })).toBeUndefined();
    expect(bal(ledger, 'bob', 'BTC')).toEqual({ available: 100_000_000n, locked: 0n });
    expect(ledger.checkInvariants()).toEqual([]);
  });
});

/** A BTC-USDC actor of its own (own ledger), for restores and replays. */
function freshActor(): MarketActor {
  return new MarketActor({
    definition: BTC_USDC,
    baseDecimals: 8,
    quoteDecimals: 6,
    ledger: new Ledger(),
    mailboxSize: 16,
    batchSize: 16,
  });
}

describe('issue 14: budgeted stop_market and FOK market buys', () => {
  const stopBuy = (userId: string, stopPrice: number, budget: number, extra: Partial<PlaceFields> = {}) =>
    marketOrder(userId, 'buy', 1_000, {
      type: 'stop_market',
      tif: 'GTC',
      stopPrice,
      quoteBudget: budget,
      ...extra,
    });

  it('issue 14: a stop_market buy or a FOK market buy without a budget answers bad_request and locks nothing', async () => {
    const { ledger, send } = await active();
    ledger.deposit('alice', 'USDC', 1_000_000n);
    expectError(
      await send(marketOrder('alice', 'buy', 10, { type: 'stop_market', stopPrice: 100_00 })),
      'bad_request',
    );
    expectError(await send(marketOrder('alice', 'buy', 10, { tif: 'FOK' })), 'bad_request');
    expect(bal(ledger, 'alice', 'USDC')).toEqual({ available: 1_000_000n, locked: 0n });
  });

  it('issue 14: a stop_market buy locks its budget at placement and a cancel releases all of it', async () => {
    const { ledger, send, supervisor } = await active();
    ledger.deposit('alice', 'USDC', 1_000_000n);
    expectError(await send(stopBuy('alice', 101_00, 1_000_001)), 'insufficient_funds');
    const placed = expectOk(await send(stopBuy('alice', 101_00, 600_000)));
    expect(bal(ledger, 'alice', 'USDC')).toEqual({ available: 400_000n, locked: 600_000n });
    expect(supervisor.actor(SYMBOL)!.orderBook.openOrders().stops).toMatchObject([{ quoteBudget: 600_000 }]);
    expectOk(await send({ kind: 'cancel', userId: 'alice', orderId: placed.orderId }));
    expect(bal(ledger, 'alice', 'USDC')).toEqual({ available: 1_000_000n, locked: 0n });
  });

  it('issue 14: a triggered stop_market buy spends at most its budget and releases the rest', async () => {
    const { ledger, send } = await active();
    ledger.deposit('alice', 'USDC', 1_000_000n);
    ledger.deposit('bob', 'BTC', 100_000_000n);
    ledger.deposit('carol', 'USDC', 1_000_000n);
    expectOk(await send(stopBuy('alice', 101_00, 500_000)));
    expectOk(await send(limit('bob', 'sell', 101_00, 1)));
    expectOk(await send(limit('bob', 'sell', 102_00, 40)));
    expectOk(await send(limit('bob', 'sell', 103_00, 1000)));
    // carol's trade at 101.00 triggers the stop: 500 000 buys 40 at 102.00 (408 000), then 8 at
    // 103.00 (82 400); the 9 600 left cannot buy a lot and is released with the unfilled rest.
    const triggered = expectOk(await send(limit('carol', 'buy', 101_00, 1)));
    const fills = triggered.events.filter((e) => e.type === 'fill' && e.takerUserId === 'alice');
    expect(fills.map((f) => (f.type === 'fill' ? [f.price, f.qty] : []))).toEqual([
      [102_00, 40],
      [103_00, 8],
    ]);
    const spent = 40n * 102_00n + 8n * 103_00n;
    expect(bal(ledger, 'alice', 'USDC')).toEqual({ available: 1_000_000n - spent, locked: 0n });
  });

  it('issue 14: a pending stop_market buy keeps its lock through a snapshot and restore', async () => {
    const { ledger, send, supervisor } = await active();
    ledger.deposit('alice', 'USDC', 1_000_000n);
    const placed = expectOk(await send(stopBuy('alice', 101_00, 600_000)));
    const state = decodeMarketState(encodeMarketState(supervisor.actor(SYMBOL)!.currentState()));
    const restored = freshActor();
    restored.restoreState(state);
    expect(restored.openOrderTerms.get(placed.orderId!)).toMatchObject({ price: 0, locked: 600_000n });
  });

  it('issue 14: a FOK market buy with a budget fills within it or answers fok_unfilled, locking nothing after', async () => {
    const { ledger, send } = await active();
    ledger.deposit('alice', 'USDC', 1_000_000n);
    ledger.deposit('bob', 'BTC', 100_000_000n);
    expectOk(await send(limit('bob', 'sell', 100_00, 5)));
    expectError(
      await send(marketOrder('alice', 'buy', 6, { tif: 'FOK', quoteBudget: 600_000 })),
      'fok_unfilled',
    );
    expectError(
      await send(marketOrder('alice', 'buy', 5, { tif: 'FOK', quoteBudget: 49_999 })),
      'fok_unfilled',
    );
    expect(bal(ledger, 'alice', 'USDC')).toEqual({ available: 1_000_000n, locked: 0n });
    const filled = expectOk(await send(marketOrder('alice', 'buy', 5, { tif: 'FOK', quoteBudget: 60_000 })));
    expect(filled.events.filter((e) => e.type === 'fill')).toHaveLength(1);
    expect(bal(ledger, 'alice', 'USDC')).toEqual({ available: 1_000_000n - 50_000n, locked: 0n });
  });
});

describe('issue 14: STP decrement releases the funds of the reduced quantity', () => {
  it('issue 14: a buy decremented against its own sell releases price × d, the sell its d lots, and no fee is charged', async () => {
    const { ledger, send, supervisor } = await active();
    ledger.deposit('alice', 'USDC', 10_000_000n);
    ledger.deposit('alice', 'BTC', 100_000_000n);
    ledger.deposit('bob', 'BTC', 100_000_000n);
    expectOk(await send(limit('alice', 'sell', 100_00, 30)));
    expectOk(await send(limit('bob', 'sell', 100_00, 50)));
    // d = 30: alice's sell is canceled, her buy shrinks to 70 and takes 50 from bob, 20 rest.
    const placed = expectOk(await send(limit('alice', 'buy', 101_00, 100, { stp: 'decrement' })));
    expect(placed.events.filter((e) => e.type === 'fill')).toMatchObject([{ qty: 50, makerUserId: 'bob' }]);
    expect(supervisor.actor(SYMBOL)!.orderBook.openOrders().resting).toMatchObject([
      { orderId: placed.orderId, qty: 70, remaining: 20 },
    ]);
    const fee = ceilFee(50n * SAT_PER_LOT, 20n);
    expect(bal(ledger, 'alice', 'BTC')).toEqual({
      available: 100_000_000n + 50n * SAT_PER_LOT - fee,
      locked: 0n,
    });
    expect(bal(ledger, 'alice', 'USDC')).toEqual({
      available: 10_000_000n - buyNeed(100_00, 50) - buyNeed(101_00, 20),
      locked: buyNeed(101_00, 20),
    });
    expect(bal(ledger, FEE_ACCOUNT, 'BTC').available).toBe(fee);
  });

  it('issue 14: a resting order decremented by a smaller taker of its owner keeps the rest locked', async () => {
    const { ledger, send } = await active();
    ledger.deposit('alice', 'USDC', 10_000_000n);
    ledger.deposit('alice', 'BTC', 100_000_000n);
    expectOk(await send(limit('alice', 'buy', 99_00, 40)));
    const taker = expectOk(await send(marketOrder('alice', 'sell', 15, { stp: 'decrement' })));
    expect(taker.events.some((e) => e.type === 'canceled' && e.reason === 'self_trade')).toBe(true);
    expect(bal(ledger, 'alice', 'USDC')).toEqual({
      available: 10_000_000n - buyNeed(99_00, 25),
      locked: buyNeed(99_00, 25),
    });
    expect(bal(ledger, 'alice', 'BTC')).toEqual({ available: 100_000_000n, locked: 0n });
  });
});

describe('issue 14: GTD expiry', () => {
  const gtd = (userId: string, side: 'buy' | 'sell', price: number, qty: number, expireAt: number) =>
    limit(userId, side, price, qty, { tif: 'GTD', expireAt });

  it('issue 14: an expire command cancels due GTD orders and releases their funds in its batch; replay from the journal, and from a snapshot plus the journal after it, ends in the same state', async () => {
    // The scheduler's clock stays before every expiry: only the commands sent here expire orders.
    const h = createHarness({ now: () => 1 });
    await listMarket(h, BTC_USDC);
    const { ledger, supervisor, sink } = h;
    const send = (c: MarketCommand) => supervisor.submit(SYMBOL, c, 1);
    ledger.deposit('alice', 'USDC', 10_000_000n);
    ledger.deposit('bob', 'BTC', 100_000_000n);
    expectError(await send(gtd('alice', 'buy', 99_00, 10, 1)), 'bad_request'); // not in the future (ts 1)
    expectOk(await send(gtd('alice', 'buy', 99_00, 10, 5_000)));
    const actor = supervisor.actor(SYMBOL)!;
    const snapshot = decodeMarketState(encodeMarketState(actor.currentState()));
    const batchesAtSnapshot = sink.batches.length;
    expectOk(await send(gtd('bob', 'sell', 101_00, 20, 6_000)));
    expectOk(await send(gtd('alice', 'buy', 98_00, 10, 7_000)));
    expect(bal(ledger, 'alice', 'USDC').locked).toBe(buyNeed(99_00, 10) + buyNeed(98_00, 10));
    expect(actor.nextExpiry()).toBe(5_000);
    const expired = expectOk(await send({ kind: 'expire', now: 6_000 }));
    expect(expired.events.filter((e) => e.type === 'canceled')).toMatchObject([
      { userId: 'alice', reason: 'expired' },
      { userId: 'bob', reason: 'expired' },
    ]);
    expect(bal(ledger, 'alice', 'USDC').locked).toBe(buyNeed(98_00, 10));
    expect(bal(ledger, 'bob', 'BTC')).toEqual({ available: 100_000_000n, locked: 0n });
    expect(actor.nextExpiry()).toBe(7_000);

    const fromJournal = freshActor();
    for (const out of sink.batches) fromJournal.replayBatch(out.entries);
    fromJournal.finishRecovery();
    expect(fromJournal.currentState()).toEqual(actor.currentState());
    const fromSnapshot = freshActor();
    fromSnapshot.restoreState(snapshot);
    for (const out of sink.batches.slice(batchesAtSnapshot)) fromSnapshot.replayBatch(out.entries);
    fromSnapshot.finishRecovery();
    expect(fromSnapshot.currentState()).toEqual(actor.currentState());
    expect(fromSnapshot.nextExpiry()).toBe(7_000);
    supervisor.stopExpiries();
  });

  it('issue 14: the supervisor emits expire with its own clock when the earliest GTD order is due, and only then', async () => {
    let clock = 1_000;
    const h = createHarness({ now: () => clock });
    await listMarket(h, BTC_USDC);
    h.ledger.deposit('alice', 'USDC', 10_000_000n);
    expectOk(await h.supervisor.submit(SYMBOL, gtd('alice', 'buy', 99_00, 10, 1_020), 1_000));
    const expireCommands = () =>
      h.sink.batches.flatMap((b) => b.entries).filter((e) => e.command.kind === 'expire');
    // The time window under test: the timer fires after ~20 ms of real time, but the clock has
    // not reached 1 020, so it re-arms and nothing is emitted within 100 ms.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(expireCommands()).toEqual([]);
    clock = 1_020;
    await eventually(() => expireCommands().length > 0, { timeoutMs: 5_000, what: 'the expire command' });
    await h.supervisor.idle();
    expect(expireCommands().map((e) => [e.command, e.ts])).toEqual([[{ kind: 'expire', now: 1_020 }, 1_020]]);
    expect(bal(h.ledger, 'alice', 'USDC')).toEqual({ available: 10_000_000n, locked: 0n });
    h.supervisor.stopExpiries();
  });

  it("issue 22: expireOnly sends expiries only to the markets its gate lets through (an engine's owned ones)", async () => {
    let clock = 1_000;
    const h = createHarness({ now: () => clock });
    await listMarket(h, BTC_USDC);
    h.ledger.deposit('alice', 'USDC', 10_000_000n);
    let owned = false;
    h.supervisor.expireOnly((marketId) => owned && marketId === BTC_USDC.id);
    expectOk(await h.supervisor.submit(SYMBOL, gtd('alice', 'buy', 99_00, 10, 1_020), 1_000));
    // Due now: only the gate keeps it from expiring.
    clock = 1_030;
    const expireCommands = () =>
      h.sink.batches.flatMap((b) => b.entries).filter((e) => e.command.kind === 'expire');
    // The time window under test: a due order, a closed gate, nothing emitted within 100 ms.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(expireCommands()).toEqual([]);
    owned = true;
    h.supervisor.armExpiries();
    await eventually(() => expireCommands().length > 0, { timeoutMs: 5_000, what: 'the expire command' });
    await h.supervisor.idle();
    expect(bal(h.ledger, 'alice', 'USDC')).toEqual({ available: 10_000_000n, locked: 0n });
    h.supervisor.stopExpiries();
  });
});

describe('issue 14: iceberg in the actor', () => {
  it('issue 14: an iceberg locks its whole qty, fills release per fill, a cancel releases the hidden rest; replay from the encoded journal, and from an encoded snapshot plus it, with GTD expiries inside, ends in the same state', async () => {
    const h = createHarness({ now: () => 1 });
    await listMarket(h, BTC_USDC);
    const { ledger, supervisor, sink } = h;
    const send = (c: MarketCommand) => supervisor.submit(SYMBOL, c, 1);
    ledger.deposit('alice', 'BTC', 100_000_000n);
    ledger.deposit('bob', 'USDC', 100_000_000n);
    const iceberg = expectOk(await send(limit('alice', 'sell', 100_00, 100, { displayQty: 30 }))).orderId!;
    expect(bal(ledger, 'alice', 'BTC').locked).toBe(100n * SAT_PER_LOT);
    const actor = supervisor.actor(SYMBOL)!;
    expect(actor.orderBook.depth('sell', 0)).toEqual([[100_00, 30]]);
    const snapshot = decodeMarketState(encodeMarketState(actor.currentState()));
    const batchesAtSnapshot = sink.batches.length;
    expectOk(await send(limit('bob', 'buy', 100_00, 45, { tif: 'GTD', expireAt: 5_000 })));
    expectOk(await send(limit('bob', 'buy', 99_00, 10, { tif: 'GTD', expireAt: 5_000 })));
    expect(actor.orderBook.depth('sell', 0)).toEqual([[100_00, 15]]);
    expect(bal(ledger, 'alice', 'BTC').locked).toBe(55n * SAT_PER_LOT);
    expectOk(await send({ kind: 'expire', now: 5_000 }));
    expect(bal(ledger, 'bob', 'USDC').locked).toBe(0n);
    expectOk(await send({ kind: 'cancel', userId: 'alice', orderId: iceberg }));
    expect(bal(ledger, 'alice', 'BTC')).toEqual({ available: 100_000_000n - 45n * SAT_PER_LOT, locked: 0n });
    expectOk(await send(limit('alice', 'sell', 101_00, 50, { displayQty: 7 })));

    const journal = sink.batches.map((b) => marketEntries(decodeBatch(encodeBatch(b)).entries, 'test'));
    const fromJournal = freshActor();
    for (const entries of journal) fromJournal.replayBatch(entries);
    fromJournal.finishRecovery();
    expect(fromJournal.currentState()).toEqual(actor.currentState());
    const fromSnapshot = freshActor();
    fromSnapshot.restoreState(snapshot);
    // The snapshot keeps the slice: the hidden 70 lots stay off the book.
    expect(fromSnapshot.orderBook.depth('sell', 0)).toEqual([[100_00, 30]]);
    for (const entries of journal.slice(batchesAtSnapshot)) fromSnapshot.replayBatch(entries);
    fromSnapshot.finishRecovery();
    expect(fromSnapshot.currentState()).toEqual(actor.currentState());
    expect(fromSnapshot.orderBook.openOrders().resting).toMatchObject([
      { displayQty: 7, shownQty: 7, remaining: 50 },
    ]);
    supervisor.stopExpiries();
  });
});

describe('issue 14: trailing stops in the actor', () => {
  it('issue 14: a trailing limit buy locks qty × its limit and gives back the difference as it trails down; replay from the encoded journal and from an encoded snapshot plus it ends in the same state', async () => {
    const h = createHarness({ now: () => 1 });
    await listMarket(h, BTC_USDC);
    const { ledger, supervisor, sink } = h;
    const send = (c: MarketCommand) => supervisor.submit(SYMBOL, c, 1);
    ledger.deposit('alice', 'BTC', 100_000_000n);
    ledger.deposit('bob', 'USDC', 100_000_000n);
    ledger.deposit('carol', 'USDC', 100_000_000n);
    const trade = async (price: number) => {
      expectOk(await send(limit('alice', 'sell', price, 1)));
      expectOk(await send(limit('carol', 'buy', price, 1, { tif: 'IOC' })));
    };
    await trade(100_00);
    const actor = supervisor.actor(SYMBOL)!;
    const snapshot = decodeMarketState(encodeMarketState(actor.currentState()));
    const batchesAtSnapshot = sink.batches.length;
    const trailing = (userId: string, side: 'buy' | 'sell', extra: Partial<PlaceCommand>): MarketCommand => ({
      kind: 'place',
      userId,
      side,
      type: 'trailing_stop',
      qty: 10,
      tif: 'GTC',
      postOnly: false,
      stp: 'cancel_taker',
      ...extra,
    });
    // Stop 100_50, limit 100_60: qty × 100_60 locked.
    const buy = expectOk(
      await send(trailing('bob', 'buy', { trailingOffset: 50, limitOffset: 10 })),
    ).orderId!;
    expect(bal(ledger, 'bob', 'USDC').locked).toBe(buyNeed(100_60, 10));
    expectOk(await send(trailing('alice', 'sell', { trailingBps: 100 })));
    await trade(99_50);
    expect(actor.orderBook.findOrder({ userId: 'bob', orderId: buy })).toMatchObject({
      stopPrice: 100_00,
      price: 100_10,
      trailAnchor: 99_50,
    });
    expect(bal(ledger, 'bob', 'USDC').locked).toBe(buyNeed(100_10, 10));
    // Up 1.50: bob's buy triggers and rests at its limit; alice's sell trails up to 101_00 − 1_01.
    await trade(101_00);
    expect(actor.orderBook.openOrders().stops).toMatchObject([{ userId: 'alice', stopPrice: 99_99 }]);
    expect(actor.orderBook.openOrders().resting).toMatchObject([{ orderId: buy, price: 100_10 }]);
    expect(bal(ledger, 'bob', 'USDC').locked).toBe(buyNeed(100_10, 10));

    const journal = sink.batches.map((b) => marketEntries(decodeBatch(encodeBatch(b)).entries, 'test'));
    const fromJournal = freshActor();
    for (const entries of journal) fromJournal.replayBatch(entries);
    fromJournal.finishRecovery();
    expect(fromJournal.currentState()).toEqual(actor.currentState());
    const fromSnapshot = freshActor();
    fromSnapshot.restoreState(snapshot);
    for (const entries of journal.slice(batchesAtSnapshot)) fromSnapshot.replayBatch(entries);
    fromSnapshot.finishRecovery();
    expect(fromSnapshot.currentState()).toEqual(actor.currentState());
    // And from a snapshot taken with the trailing stops inside.
    const later = freshActor();
    later.restoreState(decodeMarketState(encodeMarketState(actor.currentState())));
    expect(later.orderBook.snapshot()).toEqual(actor.orderBook.snapshot());
    supervisor.stopExpiries();
  });
});

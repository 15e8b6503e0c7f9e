import { describe, expect, it } from 'vitest';
import type { BookEvent } from '../../src/actors/book/types.ts';
import { Ledger } from '../../src/actors/ledger/index.ts';
import type { MarketActor } from '../../src/actors/market/marketActor.ts';
import type { MarketCommand, MarketDefinition } from '../../src/actors/market/types.ts';
import { createMarketMoney } from '../../src/actors/money.ts';
import { Supervisor } from '../../src/actors/supervisor.ts';
import { bookChecksum } from '../../src/protocol/checksum.ts';
import { decodeMessage, encodeMessage } from '../../src/protocol/codec.ts';
import { placementSummary } from '../../src/events/orders.ts';
import { MarketDataPublisher, type Publication } from '../../src/marketdata/publisher.ts';
import {
  ASSET_DECIMALS,
  BTC_USDC,
  ETH_USDC,
  expectOk,
  lifecycleEvent,
  limit,
  MemorySink,
  nextTurn,
  PATH_TO,
} from '../support/markets.ts';

/**
 * The publisher driven by a real Supervisor and MarketActor over an in-memory sink: the pushes of
 * committed batches (book, trades, lifecycle, orders, fills, balances) and the reads it answers.
 */

const BTC = BTC_USDC.symbol;

interface Closed {
  userId: string;
  marketId: string;
  orderId: number;
  clientOrderId: string | undefined;
}

function setup() {
  const ledger = new Ledger();
  for (const [asset, decimals] of Object.entries(ASSET_DECIMALS)) ledger.defineAsset(asset, decimals);
  const closed: Closed[] = [];
  const publisher = new MarketDataPublisher({
    onOrderClosed: (userId, marketId, orderId, clientOrderId) =>
      closed.push({ userId, marketId, orderId, clientOrderId }),
  });
  publisher.addLedger(ledger, (asset) => ledger.decimalsOf(asset));
  const sink = new MemorySink();
  let pushes: Publication[] = [];
  const supervisor = new Supervisor({
    ledger,
    sink,
    publish: (batch) => {
      pushes.push(...publisher.publish(batch));
    },
  });
  const addMarket = (definition: MarketDefinition): MarketActor => {
    const baseDecimals = ASSET_DECIMALS[definition.baseAsset]!;
    const quoteDecimals = ASSET_DECIMALS[definition.quoteAsset]!;
    const actor = supervisor.addMarket(definition, { baseDecimals, quoteDecimals });
    const money = createMarketMoney({ ...definition.money, baseDecimals, quoteDecimals });
    publisher.addMarket({ definition, money, baseDecimals, quoteDecimals }, actor);
    return actor;
  };
  /** The pushes since the last call. */
  const take = (): Publication[] => {
    const out = pushes;
    pushes = [];
    return out;
  };
  const submit = async (symbol: string, command: MarketCommand, ts: number) =>
    expectOk(await supervisor.submit(symbol, command, ts));
  const activate = async (symbol: string) => {
    for (const type of PATH_TO.active)
      await submit(symbol, { kind: 'lifecycle', event: lifecycleEvent(type) }, 1);
  };
  return { ledger, publisher, supervisor, sink, closed, addMarket, take, submit, activate };
}

const on = (pushes: readonly Publication[], topic: string) =>
  pushes.filter((p) => p.topic === topic).map((p) => p.message);

/** Every push must survive the wire codec unchanged: no undefined fields, integers stay integers. */
function expectWireSafe(pushes: readonly Publication[]): void {
  for (const { message } of pushes) {
    for (const [key, value] of Object.entries(message)) expect(value, key).not.toBeUndefined();
    const decoded = decodeMessage(encodeMessage(message));
    expect(decoded.ok && decoded.message).toEqual(JSON.parse(JSON.stringify(message)));
  }
}

describe('publishing committed batches', () => {
  it('streams each lifecycle transition with a seq step, and snapshots the current state', async () => {
    const t = setup();
    t.addMarket(BTC_USDC);
    expect(t.publisher.lifecycleSnapshot(BTC)).toEqual({
      op: 'lifecycle',
      market: BTC,
      seq: 0,
      from: null,
      to: 'draft',
      event: 'snapshot',
      ts: 0,
    });
    await t.submit(BTC, { kind: 'lifecycle', event: lifecycleEvent('lifecycle.submit', 1000) }, 5);
    await t.submit(
      BTC,
      {
        kind: 'lifecycle',
        event: { ...lifecycleEvent('lifecycle.reject', 1001), reason: 'missing documents' },
      },
      6,
    );
    const pushes = t.take();
    expectWireSafe(pushes);
    expect(pushes).toEqual([
      {
        topic: `lifecycle/${BTC}`,
        message: {
          op: 'lifecycle',
          market: BTC,
          seq: 1,
          from: 'draft',
          to: 'pending_approval',
          event: 'lifecycle.submit',
          ts: 1000,
          actor: 'admin-1',
        },
      },
      {
        topic: `lifecycle/${BTC}`,
        message: {
          op: 'lifecycle',
          market: BTC,
          seq: 2,
          from: 'pending_approval',
          to: 'rejected',
          event: 'lifecycle.reject',
          ts: 1001,
          actor: 'admin-1',
          reason: 'missing documents',
        },
      },
    ]);
    expect(t.publisher.lifecycleSnapshot(BTC)).toMatchObject({ seq: 2, to: 'rejected', ts: 1001 });
    // A refused transition is not ok: it publishes nothing.
    const refused = await t.supervisor.submit(
      BTC,
      { kind: 'lifecycle', event: lifecycleEvent('lifecycle.pause') },
      2,
    );
    expect(refused.ok).toBe(false);
    expect(t.take()).toEqual([]);
    expect(t.publisher.lifecycleSnapshot('NOPE-USDC')).toBeUndefined();
  });

  it('publishes a credit as a balance push of the credited user only', async () => {
    const t = setup();
    expectOk(await t.supervisor.credit('alice', 'USDC', 1_234_500_000n, 7));
    const pushes = t.take();
    expectWireSafe(pushes);
    expect(pushes).toEqual([
      {
        topic: 'balances/alice',
        message: { op: 'balance', asset: 'USDC', available: '1234.500000', locked: '0.000000' },
      },
    ]);
    expect(t.publisher.balances('alice')).toEqual([
      { op: 'balance', asset: 'USDC', available: '1234.500000', locked: '0.000000' },
    ]);
    expect(t.publisher.balances('nobody')).toEqual([]);
  });

  it('publishes a trade between two users: orders, fills with fees, balances, the trade and the book', async () => {
    const t = setup();
    t.addMarket(BTC_USDC);
    await t.activate(BTC);
    await t.supervisor.credit('alice', 'USDC', 1_000_000_000n, 1); // 1000 USDC
    await t.supervisor.credit('bob', 'BTC', 100_000_000n, 1); // 1 BTC
    t.take();

    // bob rests 0.5 BTC at 100.00.
    const ask = await t.submit(BTC, limit('bob', 'sell', 100_00, 5_000), 2000);
    const bobOrder = `m-btc:${ask.orderId}`;
    let pushes = t.take();
    expectWireSafe(pushes);
    expect(on(pushes, 'orders/bob')).toEqual([
      {
        op: 'order',
        orderId: bobOrder,
        market: BTC,
        side: 'sell',
        type: 'limit',
        status: 'open',
        price: '100.00',
        qty: '0.5000',
        filledQty: '0.0000',
        remainingQty: '0.5000',
        ts: 2000,
      },
    ]);
    expect(on(pushes, `book/${BTC}/10`)).toEqual([
      {
        op: 'book',
        market: BTC,
        kind: 'delta',
        seq: 1,
        bids: [],
        asks: [['100.00', '0.5000']],
        checksum: bookChecksum([], [['100.00', '0.5000']]),
      },
    ]);
    expect(on(pushes, 'balances/bob')).toEqual([
      { op: 'balance', asset: 'BTC', available: '0.50000000', locked: '0.50000000' },
    ]);
    expect(t.publisher.openOrders('bob')).toEqual(on(pushes, 'orders/bob'));

    // alice buys 0.2 BTC at up to 101.00: she takes 0.2 of bob's ask at 100.00.
    const bid = await t.submit(BTC, limit('alice', 'buy', 101_00, 2_000, { clientOrderId: 'a-1' }), 3000);
    const aliceOrder = `m-btc:${bid.orderId}`;
    const tradeId = `m-btc:${bid.seq}:0`;
    pushes = t.take();
    expectWireSafe(pushes);
    expect(on(pushes, `trades/${BTC}`)).toEqual([
      { op: 'trade', market: BTC, seq: 1, tradeId, price: '100.00', qty: '0.2000', side: 'buy', ts: 3000 },
    ]);
    // Fees in the asset received, rounded up (exact here): bob (maker, 10 bps) on 20 USDC, alice (taker, 20 bps) on 0.2 BTC.
    expect(on(pushes, 'fills/bob')).toEqual([
      {
        op: 'fill',
        orderId: bobOrder,
        tradeId,
        market: BTC,
        side: 'sell',
        price: '100.00',
        qty: '0.2000',
        fee: '0.020000',
        feeAsset: 'USDC',
        liquidity: 'maker',
        ts: 3000,
      },
    ]);
    expect(on(pushes, 'fills/alice')).toEqual([
      {
        op: 'fill',
        orderId: aliceOrder,
        tradeId,
        market: BTC,
        side: 'buy',
        price: '100.00',
        qty: '0.2000',
        fee: '0.00040000',
        feeAsset: 'BTC',
        liquidity: 'taker',
        ts: 3000,
      },
    ]);
    expect(on(pushes, 'orders/alice')).toEqual([
      {
        op: 'order',
        orderId: aliceOrder,
        clientOrderId: 'a-1',
        market: BTC,
        side: 'buy',
        type: 'limit',
        status: 'filled',
        price: '101.00',
        qty: '0.2000',
        filledQty: '0.2000',
        remainingQty: '0.0000',
        avgPrice: '100.00',
        ts: 3000,
      },
    ]);
    expect(on(pushes, 'orders/bob')).toEqual([
      expect.objectContaining({
        orderId: bobOrder,
        status: 'partially_filled',
        filledQty: '0.2000',
        remainingQty: '0.3000',
        avgPrice: '100.00',
      }),
    ]);
    expect(on(pushes, 'balances/alice')).toEqual(
      expect.arrayContaining([
        { op: 'balance', asset: 'USDC', available: '980.000000', locked: '0.000000' },
        { op: 'balance', asset: 'BTC', available: '0.19960000', locked: '0.00000000' },
      ]),
    );
    expect(on(pushes, 'balances/alice')).toHaveLength(2);
    expect(on(pushes, 'balances/bob')).toEqual(
      expect.arrayContaining([
        { op: 'balance', asset: 'BTC', available: '0.50000000', locked: '0.30000000' },
        { op: 'balance', asset: 'USDC', available: '19.980000', locked: '0.000000' },
      ]),
    );
    expect(on(pushes, 'balances/bob')).toHaveLength(2);
    for (const depth of [10, 50, 0]) {
      expect(on(pushes, `book/${BTC}/${depth}`)).toEqual([
        expect.objectContaining({ seq: 2, bids: [], asks: [['100.00', '0.3000']] }),
      ]);
    }
    // The filled order left the open set; its clientOrderId is free again.
    expect(t.closed).toEqual([
      { userId: 'alice', marketId: 'm-btc', orderId: bid.orderId, clientOrderId: 'a-1' },
    ]);
    expect(t.publisher.openOrders('alice')).toEqual([]);
    expect(t.publisher.openOrders('bob', BTC)).toEqual(on(pushes, 'orders/bob'));
    expect(t.publisher.openOrders('bob', 'm-btc')).toEqual(on(pushes, 'orders/bob'));
    expect(t.publisher.openOrders('bob', 'ETH-USDC')).toEqual([]);
    // The published balances are the ledger's once everything is committed.
    for (const user of ['alice', 'bob']) {
      expect(
        t.publisher
          .balances(user)
          .map((b) => b.asset)
          .sort(),
      ).toEqual(['BTC', 'USDC']);
    }
    expect(t.publisher.bookSnapshot(BTC, 10)).toEqual({
      op: 'book',
      market: BTC,
      kind: 'snapshot',
      seq: 2,
      bids: [],
      asks: [['100.00', '0.3000']],
      checksum: bookChecksum([], [['100.00', '0.3000']]),
    });
  });

  it('publishes a cancel: the order canceled with what it filled, the level removed with "0", funds released', async () => {
    const t = setup();
    t.addMarket(BTC_USDC);
    await t.activate(BTC);
    await t.supervisor.credit('alice', 'USDC', 1_000_000_000n, 1);
    await t.supervisor.credit('bob', 'BTC', 100_000_000n, 1);
    const ask = await t.submit(BTC, limit('bob', 'sell', 100_00, 5_000, { clientOrderId: 'b-1' }), 2);
    await t.submit(BTC, limit('alice', 'buy', 100_00, 1_000), 3);
    await t.submit(BTC, limit('alice', 'buy', 99_00, 1_000), 4);
    t.take();
    t.closed.length = 0;

    await t.submit(BTC, { kind: 'cancel', userId: 'bob', orderId: ask.orderId }, 5000);
    const pushes = t.take();
    expectWireSafe(pushes);
    expect(pushes.map((p) => p.topic)).toEqual([
      'orders/bob',
      `book/${BTC}/10`,
      `book/${BTC}/50`,
      `book/${BTC}/0`,
      'balances/bob',
    ]);
    expect(on(pushes, 'orders/bob')).toEqual([
      {
        op: 'order',
        orderId: `m-btc:${ask.orderId}`,
        clientOrderId: 'b-1',
        market: BTC,
        side: 'sell',
        type: 'limit',
        status: 'canceled',
        price: '100.00',
        qty: '0.5000',
        filledQty: '0.1000',
        remainingQty: '0.4000',
        avgPrice: '100.00',
        ts: 5000,
      },
    ]);
    const book = t.publisher.bookSnapshot(BTC, 0)!;
    expect(on(pushes, `book/${BTC}/10`)).toEqual([
      {
        op: 'book',
        market: BTC,
        kind: 'delta',
        seq: 4,
        bids: [],
        asks: [['100.00', '0']],
        checksum: bookChecksum([['99.00', '0.1000']], []),
      },
    ]);
    expect(book).toMatchObject({ seq: 4, bids: [['99.00', '0.1000']], asks: [] });
    expect(on(pushes, 'balances/bob')).toEqual([
      { op: 'balance', asset: 'BTC', available: '0.90000000', locked: '0.00000000' },
    ]);
    expect(t.closed).toEqual([
      { userId: 'bob', marketId: 'm-btc', orderId: ask.orderId, clientOrderId: 'b-1' },
    ]);
    expect(t.publisher.openOrders('bob')).toEqual([]);
    expect(t.publisher.openOrders('alice')).toEqual([
      expect.objectContaining({ price: '99.00', status: 'open', remainingQty: '0.1000' }),
    ]);
    // A refused cancel (already gone) publishes nothing.
    const again = await t.supervisor.submit(BTC, { kind: 'cancel', userId: 'bob', orderId: ask.orderId }, 6);
    expect(again.ok).toBe(false);
    expect(t.take()).toEqual([]);
  });

  it('publishes an IOC that never rests as canceled with its fill, and pending stops as pending_trigger', async () => {
    const t = setup();
    t.addMarket(BTC_USDC);
    await t.activate(BTC);
    await t.supervisor.credit('alice', 'USDC', 1_000_000_000n, 1);
    await t.supervisor.credit('bob', 'BTC', 100_000_000n, 1);
    await t.submit(BTC, limit('bob', 'sell', 100_00, 1_000), 2);
    t.take();
    const ioc = await t.submit(
      BTC,
      limit('alice', 'buy', 100_00, 3_000, { tif: 'IOC', clientOrderId: 'x' }),
      3,
    );
    expect(placementSummary(ioc.events, ioc.orderId!)).toEqual({
      status: 'canceled',
      filledQty: 1_000,
      remainingQty: 2_000,
    });
    const pushes = t.take();
    expect(on(pushes, 'orders/alice')).toEqual([
      expect.objectContaining({
        status: 'canceled',
        filledQty: '0.1000',
        remainingQty: '0.2000',
        avgPrice: '100.00',
      }),
    ]);
    expect(t.closed).toEqual([
      { userId: 'alice', marketId: 'm-btc', orderId: ioc.orderId, clientOrderId: 'x' },
      { userId: 'bob', marketId: 'm-btc', orderId: ioc.orderId! - 1, clientOrderId: undefined },
    ]);
    const stop = await t.submit(
      BTC,
      { ...limit('bob', 'sell', 90_00, 1_000), type: 'stop_limit', stopPrice: 95_00 } as MarketCommand,
      4,
    );
    expect(placementSummary(stop.events, stop.orderId!)).toEqual({
      status: 'open',
      filledQty: 0,
      remainingQty: 1_000,
    });
    expect(on(t.take(), 'orders/bob')).toEqual([
      expect.objectContaining({
        type: 'stop_limit',
        status: 'pending_trigger',
        price: '90.00',
        stopPrice: '95.00',
      }),
    ]);
    expect(t.publisher.openOrders('bob')).toEqual([expect.objectContaining({ status: 'pending_trigger' })]);
    // No level changed: no book message and no seq step.
    expect(t.publisher.bookSnapshot(BTC, 10)!.seq).toBe(2);
  });

  it('publishes balances as committed, not a later batch that is still being committed', async () => {
    const t = setup();
    t.addMarket(BTC_USDC);
    t.addMarket(ETH_USDC);
    await t.activate(BTC);
    await t.activate(ETH_USDC.symbol);
    await t.supervisor.credit('alice', 'USDC', 1_000_000_000n, 1);
    t.take();
    t.sink.gated = true;
    // BTC: 0.1 BTC at 50.00 locks 5 USDC; ETH: 1 ETH at 100.00 locks 100 USDC (price × qty, no fee reserve).
    t.supervisor.send(BTC, limit('alice', 'buy', 50_00, 1_000), 2, () => undefined);
    t.supervisor.send(ETH_USDC.symbol, limit('alice', 'buy', 2_000, 1_000), 3, () => undefined);
    await nextTurn();
    await nextTurn();
    expect(t.sink.waiting).toBe(2);
    expect(t.ledger.balance('alice', 'USDC').locked).toBe(105_000_000n);
    t.sink.release(); // the BTC batch commits; ETH's is still in flight
    await nextTurn();
    expect(on(t.take(), 'balances/alice')).toEqual([
      { op: 'balance', asset: 'USDC', available: '995.000000', locked: '5.000000' },
    ]);
    expect(t.publisher.balances('alice')).toEqual([
      { op: 'balance', asset: 'USDC', available: '995.000000', locked: '5.000000' },
    ]);
    t.sink.release();
    await t.supervisor.idle();
    expect(on(t.take(), 'balances/alice')).toEqual([
      { op: 'balance', asset: 'USDC', available: '895.000000', locked: '105.000000' },
    ]);
  });

  it('archiving publishes the transition, then every open order canceled, the emptied book and the released funds', async () => {
    const t = setup();
    t.addMarket(BTC_USDC);
    await t.activate(BTC);
    await t.supervisor.credit('alice', 'USDC', 1_000_000_000n, 1);
    await t.supervisor.credit('bob', 'BTC', 100_000_000n, 1);
    await t.submit(BTC, limit('alice', 'buy', 99_00, 1_000), 2);
    await t.submit(BTC, limit('bob', 'sell', 101_00, 1_000), 3);
    t.take();
    await t.submit(BTC, { kind: 'lifecycle', event: lifecycleEvent('lifecycle.archive', 900) }, 9);
    const pushes = t.take();
    expectWireSafe(pushes);
    expect(pushes.map((p) => p.topic)).toEqual([
      `lifecycle/${BTC}`,
      'orders/alice',
      'orders/bob',
      `book/${BTC}/10`,
      `book/${BTC}/50`,
      `book/${BTC}/0`,
      'balances/alice',
      'balances/bob',
    ]);
    expect(pushes[0]!.message).toMatchObject({ seq: 5, from: 'active', to: 'archived', ts: 900 });
    expect(pushes[1]!.message).toMatchObject({ status: 'canceled', remainingQty: '0.1000', ts: 9 });
    expect(pushes[3]!.message).toMatchObject({ bids: [['99.00', '0']], asks: [['101.00', '0']], seq: 3 });
    expect(on(pushes, 'balances/alice')).toEqual([
      { op: 'balance', asset: 'USDC', available: '1000.000000', locked: '0.000000' },
    ]);
    expect(t.publisher.lifecycleSnapshot(BTC)).toMatchObject({ seq: 5, to: 'archived', ts: 900 });
    expect(t.publisher.openOrders('alice')).toEqual([]);
  });

  it('refuses nothing silently: an insufficient-funds placement publishes nothing', async () => {
    const t = setup();
    t.addMarket(BTC_USDC);
    await t.activate(BTC);
    t.take();
    const result = await t.supervisor.submit(BTC, limit('carol', 'buy', 100_00, 1_000), 1);
    expect(result.ok).toBe(false);
    expect(t.take()).toEqual([]);
  });
});

describe('recovered state', () => {
  /** bob's 0.5 BTC ask at 100.00 (ts 2), of which alice bought 0.1 (ts 3). */
  async function partlyFilled() {
    const t = setup();
    const actor = t.addMarket(BTC_USDC);
    await t.activate(BTC);
    await t.supervisor.credit('alice', 'USDC', 1_000_000_000n, 1);
    await t.supervisor.credit('bob', 'BTC', 100_000_000n, 1);
    await t.submit(BTC, limit('bob', 'sell', 100_00, 5_000), 2);
    await t.submit(BTC, limit('alice', 'buy', 100_00, 1_000), 3);
    return { t, actor };
  }

  it('finding 4 (seq continuity): a publisher started from the market state continues book seq, order ts and avgPrice', async () => {
    const { t, actor } = await partlyFilled();
    await t.submit(BTC, limit('bob', 'sell', 105_00, 1_000), 4);
    const live = t.publisher.bookSnapshot(BTC, 50)!;

    // A publisher started afterwards, as after a restart, from the committed state alone.
    const restarted = new MarketDataPublisher();
    restarted.addLedger(t.ledger);
    const money = createMarketMoney({ ...BTC_USDC.money, baseDecimals: 8, quoteDecimals: 6 });
    restarted.addMarket({ definition: BTC_USDC, money, baseDecimals: 8, quoteDecimals: 6 }, actor, {
      tradeSeq: 1,
      ts: 99,
    });
    expect(live.seq).toBe(3);
    expect(restarted.bookSnapshot(BTC, 50)).toEqual(live);
    expect(restarted.openOrders('bob')).toEqual(t.publisher.openOrders('bob'));
    expect(restarted.openOrders('bob')).toEqual([
      expect.objectContaining({ status: 'partially_filled', filledQty: '0.1000', avgPrice: '100.00', ts: 3 }),
      expect.objectContaining({ status: 'open', price: '105.00', ts: 4 }),
    ]);
    expect(restarted.balances('bob')).toEqual(t.publisher.balances('bob'));
    expect(restarted.lifecycleSnapshot(BTC)).toMatchObject({ seq: 4, to: 'active', ts: 1 });
  });

  it('from a source without order activity (a legacy snapshot) takes the counters and cannot know earlier fills', async () => {
    const { t, actor } = await partlyFilled();
    const restarted = new MarketDataPublisher();
    restarted.addLedger(t.ledger);
    const money = createMarketMoney({ ...BTC_USDC.money, baseDecimals: 8, quoteDecimals: 6 });
    const legacy = { orderBook: actor.orderBook, currentState: () => actor.currentState() };
    restarted.addMarket({ definition: BTC_USDC, money, baseDecimals: 8, quoteDecimals: 6 }, legacy, {
      bookSeq: 7,
      ts: 99,
    });
    expect(restarted.bookSnapshot(BTC, 50)!.seq).toBe(7);
    expect(restarted.openOrders('bob')).toEqual([
      expect.objectContaining({ status: 'partially_filled', filledQty: '0.1000', ts: 99 }),
    ]);
    expect(restarted.openOrders('bob')[0]).not.toHaveProperty('avgPrice');
  });
});

describe('placementSummary', () => {
  const accepted = (qty: number): BookEvent => ({
    type: 'accepted',
    orderId: 7,
    userId: 'u',
    side: 'buy',
    orderType: 'limit',
    tif: 'GTC',
    qty,
    price: 10,
  });
  const fill = (qty: number, takerRemaining: number): BookEvent => ({
    type: 'fill',
    takerOrderId: 7,
    takerUserId: 'u',
    makerOrderId: 3,
    makerUserId: 'm',
    takerSide: 'buy',
    price: 10,
    qty,
    takerRemaining,
    makerRemaining: 0,
  });

  it('is open, partially filled, filled or canceled with what filled', () => {
    expect(
      placementSummary(
        [accepted(5), { type: 'rested', orderId: 7, side: 'buy', price: 10, remaining: 5 }],
        7,
      ),
    ).toEqual({
      status: 'open',
      filledQty: 0,
      remainingQty: 5,
    });
    expect(
      placementSummary(
        [accepted(5), fill(2, 3), { type: 'rested', orderId: 7, side: 'buy', price: 10, remaining: 3 }],
        7,
      ),
    ).toEqual({ status: 'partially_filled', filledQty: 2, remainingQty: 3 });
    expect(placementSummary([accepted(5), fill(2, 3), fill(3, 0)], 7)).toEqual({
      status: 'filled',
      filledQty: 5,
      remainingQty: 0,
    });
    expect(
      placementSummary(
        [
          accepted(5),
          fill(2, 3),
          { type: 'canceled', orderId: 7, userId: 'u', remaining: 3, reason: 'self_trade' },
        ],
        7,
      ),
    ).toEqual({ status: 'canceled', filledQty: 2, remainingQty: 3 });
    expect(placementSummary([accepted(5)], 8)).toBeUndefined();
  });
});

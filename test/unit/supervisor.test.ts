import { describe, expect, it } from 'vitest';
import type { CommandResult, MarketCommand } from '../../src/actors/market/types.ts';
import type { ActorInspection } from '../../src/actors/supervisor.ts';
import {
  actualLocks,
  balancesOf,
  BTC_USDC,
  createHarness,
  ETH_USDC,
  expectedLocks,
  expectOk,
  GOLD_USDC,
  lifecycle,
  limit,
  listMarket,
  nextTurn,
} from '../support/markets.ts';

/**
 * The supervisor: routing by symbol, bounded mailboxes answering `overloaded`, replies released
 * only after the sink's commit and in order, and recovery of a faulty market while the others trade.
 */

const BTC = BTC_USDC.symbol;
const ETH = ETH_USDC.symbol;
const USERS = ['alice', 'bob', 'carol'];

function codeOf(result: CommandResult): string {
  return result.ok ? 'ok' : result.code;
}

describe('routing', () => {
  it('answers unknown_market at once for a symbol it does not own', () => {
    const { supervisor } = createHarness();
    const replies: CommandResult[] = [];
    supervisor.send('NOPE-USDC', limit('alice', 'buy', 1, 1), 1, (r) => replies.push(r));
    expect(replies.map(codeOf)).toEqual(['unknown_market']);
  });

  it('refuses to list the same symbol twice', async () => {
    const h = createHarness();
    await listMarket(h, BTC_USDC);
    expect(() => h.supervisor.addMarket(BTC_USDC, { baseDecimals: 8, quoteDecimals: 6 })).toThrow(/exists/);
  });

  it('list() shows each market with its state, status, mailbox depth and processed count', async () => {
    const h = createHarness();
    await listMarket(h, BTC_USDC, 'active');
    await listMarket(h, ETH_USDC, 'paused');
    await listMarket(h, GOLD_USDC, 'draft');
    h.ledger.deposit('alice', 'USDC', 10_000_000n);
    for (let i = 0; i < 3; i++) h.supervisor.send(BTC, limit('alice', 'buy', 100_00, 1), 1, () => undefined);
    expect(h.supervisor.list()).toEqual([
      { id: 'm-btc', symbol: BTC, state: 'active', status: 'running', mailboxDepth: 3, processed: 4 },
      { id: 'm-eth', symbol: ETH, state: 'paused', status: 'running', mailboxDepth: 0, processed: 5 },
      { id: 'm-gold', symbol: 'GOLD-USDC', state: 'draft', status: 'running', mailboxDepth: 0, processed: 0 },
    ]);
    await h.supervisor.idle();
    expect(h.supervisor.list()[0]).toMatchObject({ mailboxDepth: 0, processed: 7 });
  });

  it('releases acks only after the commit resolved, in order', async () => {
    const h = createHarness({ batchSize: 2 });
    await listMarket(h, BTC_USDC);
    h.ledger.deposit('alice', 'USDC', 100_000_000n);
    h.sink.gated = true;
    const replies: { i: number; result: CommandResult }[] = [];
    for (let i = 0; i < 5; i++) {
      h.supervisor.send(BTC, limit('alice', 'buy', 90_00 + i, 10), 1, (result) =>
        replies.push({ i, result }),
      );
    }
    // Batches of 2: the first is processed and waits on its commit; nothing is answered.
    await nextTurn();
    await nextTurn();
    expect(h.sink.waiting).toBe(1);
    expect(replies).toEqual([]);
    h.sink.release();
    await nextTurn();
    expect(replies.map((r) => r.i)).toEqual([0, 1]);
    await nextTurn();
    expect(h.sink.waiting).toBe(1);
    expect(replies).toHaveLength(2);
    h.sink.release();
    await nextTurn();
    await nextTurn();
    expect(replies.map((r) => r.i)).toEqual([0, 1, 2, 3]);
    h.sink.release();
    await h.supervisor.idle();
    expect(replies.map((r) => r.i)).toEqual([0, 1, 2, 3, 4]);
    const seqs = replies.map((r) => expectOk(r.result).seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    // The sink saw every command, in the order they were answered.
    const committed = h.sink.batches.flatMap((b) => b.entries).slice(-5);
    expect(committed.map((e) => e.seq)).toEqual(seqs);
  });
});

describe('sink backpressure', () => {
  it('holds batches while the sink is full, so the mailbox fills and answers overloaded, then drains', async () => {
    const h = createHarness({ mailboxSize: 4, batchSize: 2 });
    await listMarket(h, BTC_USDC);
    h.ledger.deposit('alice', 'USDC', 1_000_000_000n);
    const committedBefore = h.sink.batches.length;
    h.sink.full = true;
    const replies: CommandResult[] = [];
    for (let i = 0; i < 6; i++)
      h.supervisor.send(BTC, limit('alice', 'buy', 90_00 + i, 1), 1, (r) => replies.push(r));
    await nextTurn();
    await nextTurn();
    expect(h.sink.batches.length).toBe(committedBefore);
    expect(replies.map(codeOf)).toEqual(['overloaded', 'overloaded']);
    h.sink.full = false;
    await h.supervisor.idle();
    expect(replies.map(codeOf)).toEqual(['overloaded', 'overloaded', 'ok', 'ok', 'ok', 'ok']);
    expect(h.supervisor.actor(BTC)!.orderBook.size).toBe(4);
  });
});

describe('mailbox overflow', () => {
  it('answers overloaded at once for what does not fit and answers every queued command after its commit', async () => {
    const h = createHarness({ mailboxSize: 8, batchSize: 3 });
    await listMarket(h, BTC_USDC);
    await listMarket(h, ETH_USDC);
    for (const user of USERS) {
      h.ledger.deposit(user, 'USDC', 1_000_000_000n);
      h.ledger.deposit(user, 'BTC', 1_000_000_000n);
      h.ledger.deposit(user, 'ETH', 10n ** 21n);
    }
    const replies = new Map<number, CommandResult>();
    const commands: [string, MarketCommand][] = [];
    for (let i = 0; i < 30; i++) {
      const user = USERS[i % 3]!;
      const side = i % 2 === 0 ? 'buy' : 'sell';
      const price = side === 'buy' ? 99_00 + (i % 5) * 50 : 100_00 - (i % 4) * 50;
      commands.push([i % 5 === 4 ? ETH : BTC, limit(user, side, price, 10 + i, { clientOrderId: `c${i}` })]);
    }
    commands.forEach(([symbol, command], i) => {
      h.supervisor.send(symbol, command, 1, (r) => replies.set(i, r));
    });
    // Synchronously: exactly the commands beyond each mailbox's 8 slots were refused.
    const refused = [...replies.values()].map(codeOf);
    expect(refused.every((c) => c === 'overloaded')).toBe(true);
    expect(refused).toHaveLength(30 - 8 - 6);
    await h.supervisor.idle();
    expect(replies.size).toBe(30);
    const accepted = [...replies].filter(([, r]) => r.ok).map(([i]) => i);
    expect(accepted).toHaveLength(14);
    // Every queued command was processed and committed exactly once.
    const committed = h.sink.batches.flatMap((b) => b.entries).filter((e) => e.command.kind === 'place');
    expect(committed).toHaveLength(14);
    expect(h.ledger.checkInvariants()).toEqual([]);
    expect(actualLocks(h.ledger, USERS)).toEqual(expectedLocks(h.supervisor));
  });
});

describe.each([1, 1_000])('a faulty market (checkpoint every %i batches)', (checkpointEvery) => {
  async function setup() {
    const events: ActorInspection[] = [];
    let onFault: () => void = () => undefined;
    const h = createHarness({
      checkpointEvery,
      inspect: (e) => {
        if (e.type === 'xstate') return;
        events.push(e);
        if (e.type === 'market.fault') onFault();
      },
    });
    const btc = await listMarket(h, BTC_USDC, 'active', {
      beforeCommand: (command) => {
        if (command.kind === 'place' && command.clientOrderId === 'boom') throw new Error('injected fault');
      },
    });
    const eth = await listMarket(h, ETH_USDC);
    for (const user of USERS) {
      h.ledger.deposit(user, 'USDC', 1_000_000_000n);
      h.ledger.deposit(user, 'BTC', 1_000_000_000n);
      h.ledger.deposit(user, 'ETH', 10n ** 21n);
    }
    const send = (symbol: string, command: MarketCommand) => h.supervisor.submit(symbol, command, 1);
    expectOk(await send(BTC, limit('bob', 'sell', 101_00, 500, { clientOrderId: 'ask1' })));
    expectOk(await send(BTC, limit('bob', 'sell', 102_00, 500, { clientOrderId: 'ask2' })));
    expectOk(await send(BTC, limit('carol', 'buy', 99_00, 400, { clientOrderId: 'bid1' })));
    expectOk(await send(ETH, limit('bob', 'sell', 2000_00, 50)));
    // The last committed command before the fault moved nothing (it leaves no book input behind).
    expect(codeOf(await send(BTC, limit('dave', 'buy', 99_00, 1)))).toBe('insufficient_funds');
    return { ...h, btc, eth, events, send, setOnFault: (f: () => void) => (onFault = f) };
  }

  it('answers the batch unavailable, restores book, lifecycle and ledger, while another market trades', async () => {
    const h = await setup();
    const { supervisor, ledger, btc } = h;
    const before = btc.currentState();
    const funds = balancesOf(ledger, [...USERS, '@fees']);
    const replies: [string, CommandResult][] = [];
    const record = (tag: string) => (r: CommandResult) => replies.push([tag, r]);
    const whileHalted: CommandResult[] = [];
    h.setOnFault(() => {
      expect(supervisor.list().find((m) => m.symbol === BTC)?.status).toBe('halted');
      supervisor.send(BTC, limit('alice', 'buy', 90_00, 1), 1, (r) => whileHalted.push(r));
      supervisor.send(ETH, limit('carol', 'buy', 1990_00, 3), 1, record('eth-during'));
    });
    // One batch on BTC: a crossing buy (fills, fees), a cancel, a pause, then the fault.
    supervisor.send(BTC, limit('alice', 'buy', 101_50, 700, { clientOrderId: 'x1' }), 1, record('btc'));
    supervisor.send(BTC, { kind: 'cancel', userId: 'carol', clientOrderId: 'bid1' }, 1, record('btc'));
    supervisor.send(BTC, lifecycle('lifecycle.pause'), 1, record('btc'));
    supervisor.send(BTC, limit('alice', 'buy', 100_00, 1, { clientOrderId: 'boom' }), 1, record('btc'));
    supervisor.send(BTC, limit('alice', 'buy', 98_00, 1, { clientOrderId: 'after' }), 1, record('btc'));
    supervisor.send(ETH, limit('alice', 'buy', 2001_00, 20), 1, record('eth'));
    await supervisor.idle();

    expect(whileHalted.map(codeOf)).toEqual(['unavailable']);
    expect(replies.filter(([t]) => t === 'btc').map(([, r]) => codeOf(r))).toEqual(
      Array(5).fill('unavailable'),
    );
    expect(replies.filter(([t]) => t !== 'btc').map(([, r]) => codeOf(r))).toEqual(['ok', 'ok']);
    const ethFill = replies.find(([t]) => t === 'eth')![1];
    expect(expectOk(ethFill).events.some((e) => e.type === 'fill')).toBe(true);
    expect(h.events.map((e) => e.type)).toContain('market.recovered');

    const after = btc.currentState();
    expect(after.book).toEqual(before.book);
    expect(after.lifecycle).toEqual(before.lifecycle);
    expect(after.nextOrderId).toBe(before.nextOrderId);
    expect(after.seq).toBe(before.seq);
    expect(btc.state).toBe('active');
    // The ETH trade moved alice's, bob's and the fee account's funds; BTC's batch moved nothing.
    const now = balancesOf(ledger, [...USERS, '@fees']);
    for (const [key, value] of Object.entries(funds)) if (key.endsWith('/BTC')) expect(now[key]).toBe(value);
    expect(now['carol/USDC']).not.toBe(funds['carol/USDC']);
    expect(ledger.checkInvariants()).toEqual([]);
    expect(actualLocks(ledger, USERS)).toEqual(expectedLocks(supervisor));
    // Nothing of the failed batch reached the sink.
    const btcCommitted = h.sink.batches.filter((b) => b.symbol === BTC).flatMap((b) => b.entries);
    expect(btcCommitted.some((e) => e.command.kind === 'place' && e.command.clientOrderId === 'x1')).toBe(
      false,
    );

    // The market trades normally again, with sequence numbers that never repeat a committed one.
    const retried = expectOk(await h.send(BTC, limit('alice', 'buy', 101_50, 700, { clientOrderId: 'x1' })));
    expect(retried.events.filter((e) => e.type === 'fill').map((e) => e.qty)).toEqual([500]);
    expect(retried.seq).toBeGreaterThan(Math.max(...btcCommitted.map((e) => e.seq)));
    expect(retried.orderId).toBe(before.nextOrderId + 1);
    expect(ledger.checkInvariants()).toEqual([]);
    expect(actualLocks(ledger, USERS)).toEqual(expectedLocks(supervisor));
  });

  it('undoes the funds of earlier commands in the same batch exactly', async () => {
    const h = await setup();
    const { supervisor, ledger, btc } = h;
    const book = btc.orderBook.snapshot();
    const funds = balancesOf(ledger, [...USERS, '@fees']);
    const results: Promise<CommandResult>[] = [
      h.send(BTC, limit('alice', 'buy', 102_00, 800)),
      h.send(BTC, limit('carol', 'sell', 98_00, 100)),
      h.send(BTC, { kind: 'amend', userId: 'bob', clientOrderId: 'ask2', qty: 900 }),
      h.send(BTC, { kind: 'cancel_all', userId: 'bob' }),
      h.send(BTC, limit('carol', 'buy', 50_00, 1, { clientOrderId: 'boom' })),
    ];
    expect((await Promise.all(results)).map(codeOf)).toEqual(Array(5).fill('unavailable'));
    await supervisor.idle();
    expect(btc.orderBook.snapshot()).toEqual(book);
    expect(btc.orderBook.depth('sell', 0)).toEqual([
      [101_00, 500],
      [102_00, 500],
    ]);
    expect(balancesOf(ledger, [...USERS, '@fees'])).toEqual(funds);
    expect(ledger.checkInvariants()).toEqual([]);
    const again = expectOk(await h.send(BTC, limit('alice', 'buy', 102_00, 800)));
    expect(again.events.filter((e) => e.type === 'fill').map((e) => e.qty)).toEqual([500, 300]);
    expect(actualLocks(ledger, USERS)).toEqual(expectedLocks(supervisor));
  });

  it('rolls back a batch whose commit fails and answers it unavailable', async () => {
    const h = await setup();
    const { supervisor, ledger, btc, sink } = h;
    const book = btc.orderBook.snapshot();
    const funds = balancesOf(ledger, [...USERS, '@fees']);
    const seq = btc.currentState().seq;
    const commit = sink.commit.bind(sink);
    sink.commit = (batch) => {
      if (batch.symbol === BTC) {
        sink.commit = commit;
        return Promise.reject(new Error('disk full'));
      }
      return commit(batch);
    };
    const results = [
      h.send(BTC, limit('alice', 'buy', 102_00, 800)),
      h.send(BTC, lifecycle('lifecycle.pause')),
    ];
    expect((await Promise.all(results)).map(codeOf)).toEqual(['unavailable', 'unavailable']);
    await supervisor.idle();
    expect(btc.orderBook.snapshot()).toEqual(book);
    expect(btc.state).toBe('active');
    expect(btc.currentState().seq).toBe(seq);
    expect(balancesOf(ledger, [...USERS, '@fees'])).toEqual(funds);
    expect(ledger.checkInvariants()).toEqual([]);
    expectOk(await h.send(BTC, limit('alice', 'buy', 102_00, 800)));
  });
});

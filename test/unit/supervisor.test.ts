import { describe, expect, it, vi } from 'vitest';
import { Ledger } from '../../src/actors/ledger/index.ts';
import type {
  BatchOutput,
  CommandResult,
  JournalBatch,
  MarketCommand,
} from '../../src/actors/market/types.ts';
import {
  Supervisor,
  type ActorInspection,
  type MarketRebuildRequest,
  type SupervisorOptions,
} from '../../src/actors/supervisor.ts';
import {
  actualLocks,
  ASSET_DECIMALS,
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
  MemorySink,
  nextTurn,
  orderNeed,
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

/**
 * A MemorySink whose commits, while `held`, wait for the test to settle them one by one, in any
 * order; `batches` holds what was committed, in commit order.
 */
class ControlledSink extends MemorySink {
  held = false;
  readonly outstanding: { batch: BatchOutput; commit: () => void; fail: (error: Error) => void }[] = [];

  override commit(batch: BatchOutput): void | Promise<void> {
    if (!this.held) return super.commit(batch);
    return new Promise((resolve, reject) => {
      this.outstanding.push({
        batch,
        commit: () => {
          this.batches.push(batch);
          resolve();
        },
        fail: reject,
      });
    });
  }

  /** Commits the outstanding batch at `index` (0: the oldest). */
  commitAt(index: number): void {
    const [one] = this.outstanding.splice(index, 1);
    if (one === undefined) throw new Error(`no outstanding commit at ${index}`);
    one.commit();
  }

  /** Fails the outstanding commits from `index` on, newest first (as the JournalWriter does). */
  failFrom(index: number, order: 'newest first' | 'oldest first' = 'newest first'): void {
    const failed = this.outstanding.splice(index);
    if (order === 'newest first') failed.reverse();
    for (const f of failed) f.fail(new Error('disk full'));
  }
}

type PipelinedOptions = Omit<SupervisorOptions, 'ledger' | 'sink'>;

/** Like createHarness, with every Supervisor option and a ControlledSink. */
function pipelined(options: PipelinedOptions = {}) {
  const ledger = new Ledger();
  for (const [asset, decimals] of Object.entries(ASSET_DECIMALS)) ledger.defineAsset(asset, decimals);
  const sink = new ControlledSink();
  const supervisor = new Supervisor({ ledger, sink, ...options });
  return { ledger, sink, supervisor };
}

async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await nextTurn();
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

  it('releases acks only after the commit resolved, in order, with at most maxBatchesInFlight batches out', async () => {
    const h = pipelined({ batchSize: 2, maxBatchesInFlight: 2 });
    await listMarket(h, BTC_USDC);
    h.ledger.deposit('alice', 'USDC', 100_000_000n);
    h.sink.gated = true;
    const replies: { i: number; result: CommandResult }[] = [];
    for (let i = 0; i < 7; i++) {
      h.supervisor.send(BTC, limit('alice', 'buy', 90_00 + i, 10), 1, (result) =>
        replies.push({ i, result }),
      );
    }
    // Batches of 2: two are processed and wait on their commits (the bound); nothing is answered.
    for (let t = 0; t < 4; t++) await nextTurn();
    expect(h.sink.waiting).toBe(2);
    expect(h.supervisor.actor(BTC)!.mailbox.size).toBe(3);
    expect(replies).toEqual([]);
    h.sink.release();
    await nextTurn();
    expect(replies.map((r) => r.i)).toEqual([0, 1]);
    // The freed slot takes the next batch.
    await nextTurn();
    expect(h.sink.waiting).toBe(2);
    expect(replies).toHaveLength(2);
    h.sink.release();
    h.sink.release();
    await nextTurn();
    expect(replies.map((r) => r.i)).toEqual([0, 1, 2, 3, 4, 5]);
    await nextTurn();
    h.sink.release();
    await h.supervisor.idle();
    expect(replies.map((r) => r.i)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    const seqs = replies.map((r) => expectOk(r.result).seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    // The sink saw every command, in the order they were answered.
    const committed = h.sink.batches.flatMap((b) => b.entries).slice(-7);
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

describe('pipelined batches', () => {
  /** BTC (faulting on clientOrderId `boom`) and ETH active, funded users, a few resting orders. */
  async function market(options: PipelinedOptions = {}) {
    const h = pipelined({ batchSize: 2, ...options });
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
    expectOk(await h.supervisor.submit(BTC, limit('bob', 'sell', 101_00, 500, { clientOrderId: 'ask1' }), 1));
    expectOk(await h.supervisor.submit(BTC, limit('carol', 'buy', 99_00, 400, { clientOrderId: 'bid1' }), 1));
    return { ...h, btc, eth };
  }

  /** Three batches of two on BTC: a crossing buy and a cancel; two passive orders; a pause and a buy. */
  const BATCHES: readonly (readonly MarketCommand[])[] = [
    [
      limit('alice', 'buy', 101_50, 300, { clientOrderId: 'x1' }),
      { kind: 'cancel', userId: 'carol', clientOrderId: 'bid1' },
    ],
    [limit('carol', 'buy', 98_00, 10, { clientOrderId: 'b2' }), limit('alice', 'sell', 103_00, 7)],
    [lifecycle('lifecycle.pause'), limit('carol', 'buy', 97_00, 5)],
  ];

  /** What the market and the ledger are after the first `n` batches, committed without trouble. */
  async function reference(n: number) {
    const h = await market();
    // The last command is refused (the market is paused by then): refusals are results too. Each
    // batch is sent at once, so it is processed as one (the book seq counts batches).
    for (const batch of BATCHES.slice(0, n)) {
      await Promise.all(batch.map((command) => h.supervisor.submit(BTC, command, 1)));
    }
    return { state: h.btc.currentState(), funds: balancesOf(h.ledger, [...USERS, '@fees']) };
  }

  function sendAll(
    h: Awaited<ReturnType<typeof market>>,
    batches: readonly (readonly MarketCommand[])[] = BATCHES,
  ): string[][] {
    const replies: string[][] = batches.map(() => []);
    batches.forEach((commands, b) => {
      for (const command of commands) h.supervisor.send(BTC, command, 1, (r) => replies[b]!.push(codeOf(r)));
    });
    return replies;
  }

  it('releases replies and publications in batch order when commits resolve out of order', async () => {
    const published: JournalBatch[] = [];
    const h = await market({ publish: (b) => published.push(b) });
    published.length = 0;
    h.sink.held = true;
    const order: number[] = [];
    BATCHES.flat().forEach((command, i) => {
      h.supervisor.send(BTC, command, 1, () => order.push(i));
    });
    await turns(4);
    expect(h.sink.outstanding).toHaveLength(3);
    h.sink.commitAt(2);
    h.sink.commitAt(1);
    await turns(2);
    expect(order).toEqual([]);
    expect(published).toEqual([]);
    h.sink.commitAt(0);
    await h.supervisor.idle();
    expect(order).toEqual([0, 1, 2, 3, 4, 5]);
    const seqs = published.map((b) => b.entries.map((e) => e.seq));
    expect(seqs.flat()).toEqual([...seqs.flat()].sort((a, b) => a - b));
    expect(seqs).toHaveLength(3);
    expect(h.btc.currentState()).toEqual((await reference(3)).state);
  });

  it.each([1, 1_000])(
    'a failed commit undoes that batch and every later one, keeps the committed one, and rebuilds (checkpoint every %i)',
    async (checkpointEvery) => {
      const h = await market({ checkpointEvery });
      h.sink.held = true;
      const replies = sendAll(h);
      await turns(4);
      expect(h.sink.outstanding).toHaveLength(3);
      h.sink.commitAt(0);
      await nextTurn();
      expect(replies[0]).toEqual(['ok', 'ok']);
      // The writer fails a flush and everything behind it, newest first.
      h.sink.failFrom(0);
      await h.supervisor.idle();
      expect(replies).toEqual([
        ['ok', 'ok'],
        ['unavailable', 'unavailable'],
        ['unavailable', 'unavailable'],
      ]);
      const expected = await reference(1);
      expect(h.btc.currentState()).toEqual(expected.state);
      expect(balancesOf(h.ledger, [...USERS, '@fees'])).toEqual(expected.funds);
      expect(h.ledger.checkInvariants()).toEqual([]);
      expect(actualLocks(h.ledger, USERS)).toEqual(expectedLocks(h.supervisor));
      // It trades on, with the same results as if the failed batches had never been processed.
      h.sink.held = false;
      for (const batch of BATCHES.slice(1)) {
        await Promise.all(batch.map((command) => h.supervisor.submit(BTC, command, 1)));
      }
      expect(h.btc.currentState()).toEqual((await reference(3)).state);
    },
  );

  it('undoes the batches of several markets in reverse processing order, so funds moved between them come back', async () => {
    const h = await market();
    // alice has exactly what one BTC bid needs; it rests, committed.
    const bid = limit('alice', 'buy', 100_00, 10, { clientOrderId: 'all-in' });
    const need = orderNeed(BTC_USDC, { side: 'buy', price: 100_00, remaining: 10 }).amount;
    const spare = h.ledger.balance('alice', 'USDC').available - need;
    h.ledger.apply([
      { account: 'alice', asset: 'USDC', bucket: 'available', amount: -spare, kind: 'withdrawal' },
      { account: '@outside', asset: 'USDC', bucket: 'available', amount: spare, kind: 'withdrawal' },
    ]);
    expectOk(await h.supervisor.submit(BTC, bid, 1));
    const before = balancesOf(h.ledger, [...USERS, '@fees']);
    h.sink.held = true;
    // BTC releases alice's funds, then ETH locks them: undoing BTC first would need them back.
    const cancel = h.supervisor.submit(BTC, { kind: 'cancel', userId: 'alice', clientOrderId: 'all-in' }, 1);
    await turns(2);
    const eth = h.supervisor.submit(ETH, limit('alice', 'buy', 1_00, 1), 1);
    await turns(2);
    expect(h.sink.outstanding.map((o) => o.batch.symbol)).toEqual([BTC, ETH]);
    const fatal: Error[] = [];
    h.sink.failFrom(0);
    expect([codeOf(await cancel), codeOf(await eth)]).toEqual(['unavailable', 'unavailable']);
    await h.supervisor.idle();
    expect(fatal).toEqual([]);
    expect(balancesOf(h.ledger, [...USERS, '@fees'])).toEqual(before);
    expect(h.ledger.checkInvariants()).toEqual([]);
    expect(actualLocks(h.ledger, USERS)).toEqual(expectedLocks(h.supervisor));
  });

  it('an actor fault while earlier batches commit: those are answered, the faulty batch undone, the market rebuilt after them', async () => {
    const h = await market();
    h.sink.held = true;
    const batches = [...BATCHES.slice(0, 2), [limit('alice', 'buy', 50_00, 1, { clientOrderId: 'boom' })]];
    const replies = sendAll(h, batches);
    await turns(4);
    // The third batch faulted at once; the two before it are still committing.
    expect(replies[2]).toEqual(['unavailable']);
    expect(h.supervisor.list()[0]!.status).toBe('halted');
    expect(h.sink.outstanding).toHaveLength(2);
    const whileHalted = h.supervisor.submit(BTC, limit('alice', 'buy', 90_00, 1), 1);
    expect(codeOf(await whileHalted)).toBe('unavailable');
    h.sink.commitAt(0);
    h.sink.commitAt(0);
    await h.supervisor.idle();
    expect(replies).toEqual([['ok', 'ok'], ['ok', 'ok'], ['unavailable']]);
    const expected = await reference(2);
    expect(h.btc.currentState()).toEqual(expected.state);
    expect(balancesOf(h.ledger, [...USERS, '@fees'])).toEqual(expected.funds);
    expect(h.supervisor.list()[0]!.status).toBe('running');
  });

  it('an actor fault, then the commit of an earlier batch fails: the market goes back to before it', async () => {
    const h = await market();
    h.sink.held = true;
    const batches = [...BATCHES.slice(0, 2), [limit('alice', 'buy', 50_00, 1, { clientOrderId: 'boom' })]];
    const replies = sendAll(h, batches);
    await turns(4);
    h.sink.commitAt(0);
    h.sink.failFrom(0);
    await h.supervisor.idle();
    expect(replies).toEqual([['ok', 'ok'], ['unavailable', 'unavailable'], ['unavailable']]);
    const expected = await reference(1);
    expect(h.btc.currentState()).toEqual(expected.state);
    expect(balancesOf(h.ledger, [...USERS, '@fees'])).toEqual(expected.funds);
    expect(h.ledger.checkInvariants()).toEqual([]);
  });

  it('is fatal when a sink commits a batch after an earlier one of the market failed', async () => {
    const fatal: Error[] = [];
    const h = await market({ onFatal: (e) => fatal.push(e) });
    h.sink.held = true;
    sendAll(h);
    await turns(4);
    const [second] = h.sink.outstanding.splice(1, 1);
    h.sink.failFrom(0, 'oldest first');
    await nextTurn();
    second!.commit();
    await nextTurn();
    expect(fatal.map((e) => e.message)).toEqual([
      expect.stringMatching(/committed a batch after an earlier/),
    ]);
  });

  describe('rebuildMarket (the durable path)', () => {
    it('is used when given, once every batch has settled, with the committed seq', async () => {
      const requests: MarketRebuildRequest[] = [];
      const { state } = await reference(1);
      const h = await market({
        rebuildMarket: (request) => {
          requests.push(request);
          return Promise.resolve(state);
        },
      });
      const rebuildFrom = vi.spyOn(h.btc, 'rebuildFrom');
      const rebuild = vi.spyOn(h.btc, 'rebuild');
      h.sink.held = true;
      sendAll(h);
      await turns(4);
      h.sink.commitAt(0);
      h.sink.failFrom(0);
      await h.supervisor.idle();
      expect(requests).toEqual([{ definition: BTC_USDC, baseDecimals: 8, quoteDecimals: 6, seq: state.seq }]);
      expect(rebuildFrom).toHaveBeenCalledWith(state);
      expect(rebuild).not.toHaveBeenCalled();
      expect(h.btc.currentState()).toEqual(state);
      h.sink.held = false;
      for (const batch of BATCHES.slice(1)) {
        await Promise.all(batch.map((command) => h.supervisor.submit(BTC, command, 1)));
      }
      expect(h.btc.currentState()).toEqual((await reference(3)).state);
    });

    it('falls back to the in-memory rebuild point when it fails', async () => {
      const h = await market({ rebuildMarket: () => Promise.reject(new Error('connection refused')) });
      h.sink.held = true;
      sendAll(h);
      await turns(4);
      h.sink.commitAt(0);
      h.sink.failFrom(0);
      await h.supervisor.idle();
      expect(h.btc.currentState()).toEqual((await reference(1)).state);
    });

    it('falls back to the in-memory rebuild point when it hangs past rebuildTimeoutMs', async () => {
      const h = await market({ rebuildMarket: () => new Promise(() => undefined), rebuildTimeoutMs: 20 });
      h.sink.held = true;
      sendAll(h);
      await turns(4);
      h.sink.commitAt(0);
      h.sink.failFrom(0);
      await h.supervisor.idle();
      expect(h.btc.currentState()).toEqual((await reference(1)).state);
    });

    it('is fatal, and the market stays halted, when the durable state is not at the committed seq', async () => {
      const fatal: Error[] = [];
      const stale = await reference(0);
      const h = await market({
        rebuildMarket: () => Promise.resolve(stale.state),
        onFatal: (e) => fatal.push(e),
      });
      h.sink.held = true;
      sendAll(h);
      await turns(4);
      h.sink.commitAt(0);
      h.sink.failFrom(0);
      await turns(4);
      expect(fatal.map((e) => e.message)).toEqual([expect.stringMatching(/journal ends at seq/)]);
      expect(h.supervisor.list()[0]!.status).toBe('halted');
    });
  });

  it('atQuiescence holds new batches so it fires under sustained load, at a committed state', async () => {
    const h = await market({ maxBatchesInFlight: 4 });
    // A sink that always has commits outstanding: each settles two turns later, after the next
    // batch was processed, so without holding new batches no instant is quiescent.
    h.sink.commit = (batch) =>
      new Promise((resolve) =>
        setImmediate(() =>
          setImmediate(() => {
            h.sink.batches.push(batch);
            resolve();
          }),
        ),
      );
    let running = true;
    let sent = 0;
    const pump = () => {
      if (!running) return;
      sent++;
      h.supervisor.send(BTC, limit('alice', 'buy', 90_00 + (sent % 50), 1), 1, pump);
    };
    for (let i = 0; i < 40; i++) pump();
    await turns(5);
    const taken = await h.supervisor.atQuiescence((state) => ({
      seq: state.markets[0]!.state.seq,
      committed: h.sink.batches
        .filter((b) => b.symbol === BTC)
        .at(-1)!
        .entries.at(-1)!.seq,
      outstanding: h.supervisor.actor(BTC)!.mailbox.size,
    }));
    expect(taken.seq).toBe(taken.committed);
    expect(taken.outstanding).toBeGreaterThan(0);
    // And trading goes on after it.
    const at = sent;
    await turns(10);
    expect(sent).toBeGreaterThan(at);
    running = false;
    await h.supervisor.idle();
  });
});

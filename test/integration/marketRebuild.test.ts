import { createPool, sql, type DatabasePool } from 'slonik';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { Ledger } from '../../src/actors/ledger/index.ts';
import type { MarketState } from '../../src/actors/market/marketActor.ts';
import type { CommandResult, MarketCommand } from '../../src/actors/market/types.ts';
import { Supervisor, type MarketRebuildRequest } from '../../src/actors/supervisor.ts';
import { JournalWriter } from '../../src/persistence/journalWriter.ts';
import { durableMarketRebuild, rebuildMarketState } from '../../src/persistence/marketRebuild.ts';
import { takeSnapshot } from '../../src/persistence/snapshots.ts';
import { useTestDatabase } from '../support/database.ts';
import {
  actualLocks,
  ASSET_DECIMALS,
  BTC_USDC,
  ETH_USDC,
  expectedLocks,
  expectOk,
  lifecycle,
  limit,
  PATH_TO,
} from '../support/markets.ts';

/**
 * The supervisor's durable rebuild (issue 5 §4): a market that faults, with batches of it still
 * committing, is rebuilt from its latest snapshot plus its committed journal records, and equals its
 * state before the fault; the other market trades on.
 */

const database = useTestDatabase('market_rebuild');
const BTC = BTC_USDC.symbol;
const ETH = ETH_USDC.symbol;
const USERS = ['alice', 'bob', 'carol'];

let pool: DatabasePool;

beforeAll(async () => {
  pool = await createPool(database.get().url, { maximumPoolSize: 3 });
});

afterAll(async () => {
  await pool.end();
});

beforeEach(async () => {
  await pool.query(sql.unsafe`TRUNCATE journal, market_snapshots, ledger_snapshots`);
});

async function exchange() {
  const ledger = new Ledger();
  for (const [asset, decimals] of Object.entries(ASSET_DECIMALS)) ledger.defineAsset(asset, decimals);
  const writer = await JournalWriter.open(pool, { flushIntervalMs: 2 });
  const requests: MarketRebuildRequest[] = [];
  const durable = durableMarketRebuild(pool);
  const supervisor = new Supervisor({
    ledger,
    sink: writer,
    batchSize: 3,
    maxBatchesInFlight: 4,
    rebuildMarket: (request) => {
      requests.push(request);
      return durable(request);
    },
  });
  const btc = supervisor.addMarket(BTC_USDC, {
    baseDecimals: 8,
    quoteDecimals: 6,
    beforeCommand: (command) => {
      if (command.kind === 'place' && command.clientOrderId === 'boom') throw new Error('injected fault');
    },
  });
  supervisor.addMarket(ETH_USDC, { baseDecimals: 18, quoteDecimals: 6 });
  for (const symbol of [BTC, ETH])
    for (const type of PATH_TO.active) expectOk(await supervisor.submit(symbol, lifecycle(type), 1));
  for (const user of USERS) {
    expectOk(await supervisor.credit(user, 'USDC', 1_000_000_000n, 1));
    expectOk(await supervisor.credit(user, 'BTC', 1_000_000_000n, 1));
    expectOk(await supervisor.credit(user, 'ETH', 10n ** 21n, 1));
  }
  return { ledger, writer, supervisor, btc, requests };
}

/** `n` commands on BTC that rest, cross, cancel and amend (deterministic). */
function trading(n: number, from = 0): MarketCommand[] {
  const out: MarketCommand[] = [];
  for (let i = from; i < from + n; i++) {
    const user = USERS[i % 3]!;
    if (i % 7 === 6) out.push({ kind: 'cancel', userId: user, clientOrderId: `c${i - 3}` });
    else if (i % 11 === 10) out.push({ kind: 'amend', userId: user, clientOrderId: `c${i - 1}`, qty: 3 });
    else {
      const side = i % 2 === 0 ? 'buy' : 'sell';
      const price = side === 'buy' ? 99_00 + (i % 9) * 25 : 100_00 + (i % 5) * 25 - 100;
      out.push(limit(user, side, price, 5 + (i % 13), { clientOrderId: `c${i}` }));
    }
  }
  return out;
}

function send(supervisor: Supervisor, symbol: string, commands: readonly MarketCommand[]) {
  return Promise.all(commands.map((c) => supervisor.submit(symbol, c, 2)));
}

const codes = (results: readonly CommandResult[]) => results.map((r) => (r.ok ? 'ok' : r.code));

describe('durable market rebuild', () => {
  it.each([
    ['with a snapshot and records after it', true],
    ['from the journal alone', false],
  ])(
    'a faulted market is rebuilt from the durable path (%s) and equals its committed state',
    async (_, snapshot) => {
      const { ledger, writer, supervisor, btc, requests } = await exchange();
      await send(supervisor, BTC, trading(40));
      await supervisor.idle();
      if (snapshot) expect((await takeSnapshot(pool, { supervisor, writer })).markets).toBe(2);
      await send(supervisor, BTC, trading(40, 40));
      await supervisor.idle();
      const committed = btc.currentState();
      const rebuildFrom = vi.spyOn(btc, 'rebuildFrom');

      // Several batches in flight, then the fault: the batches before it commit and are answered,
      // the faulty one is undone; ETH trades meanwhile.
      const before = send(supervisor, BTC, trading(12, 80));
      const faulty = send(supervisor, BTC, [
        limit('alice', 'buy', 99_50, 2),
        limit('bob', 'sell', 99_00, 4),
        limit('alice', 'buy', 50_00, 1, { clientOrderId: 'boom' }),
      ]);
      const eth = send(supervisor, ETH, [
        limit('bob', 'sell', 2000_00, 5),
        limit('carol', 'buy', 2000_00, 2),
      ]);
      expect(codes(await faulty)).toEqual(['unavailable', 'unavailable', 'unavailable']);
      expect(codes(await before)).not.toContain('unavailable');
      expect(codes(await eth)).toEqual(['ok', 'ok']);
      await supervisor.idle();

      // Rebuilt from the durable path, at the seq of its last committed batch.
      expect(rebuildFrom).toHaveBeenCalledTimes(1);
      // Every command uses a seq, refused or not: the 12 before the faulty batch were committed.
      const expectedSeq = committed.seq + 12;
      expect(requests.map((r) => r.seq)).toEqual([expectedSeq]);
      const rebuilt = btc.currentState();
      expect(rebuilt.seq).toBe(expectedSeq);
      // Equal to what memory held before the fault plus the committed batches: replaying the
      // same commands on a fresh exchange gives the same state.
      const reference = await referenceAfter(trading(92));
      expect(rebuilt).toEqual(reference);
      expect(ledger.checkInvariants()).toEqual([]);
      expect(actualLocks(ledger, USERS)).toEqual(expectedLocks(supervisor));

      // It trades on and the journal stays consistent: a second durable rebuild equals memory.
      await send(supervisor, BTC, trading(20, 92));
      await supervisor.idle();
      const again = await rebuildMarketState(pool, {
        definition: BTC_USDC,
        baseDecimals: 8,
        quoteDecimals: 6,
      });
      expect(again).toEqual(btc.currentState());
      await writer.close();
    },
  );
});

/** The BTC state after `commands` on a fresh exchange, committed one batch at a time in memory. */
async function referenceAfter(commands: readonly MarketCommand[]): Promise<MarketState> {
  const ledger = new Ledger();
  for (const [asset, decimals] of Object.entries(ASSET_DECIMALS)) ledger.defineAsset(asset, decimals);
  const supervisor = new Supervisor({ ledger, sink: { commit: () => undefined }, batchSize: 3 });
  const btc = supervisor.addMarket(BTC_USDC, { baseDecimals: 8, quoteDecimals: 6 });
  for (const type of PATH_TO.active) expectOk(await supervisor.submit(BTC, lifecycle(type), 1));
  for (const user of USERS) {
    ledger.deposit(user, 'USDC', 1_000_000_000n);
    ledger.deposit(user, 'BTC', 1_000_000_000n);
  }
  await send(supervisor, BTC, commands.slice(0, 40));
  await send(supervisor, BTC, commands.slice(40, 80));
  await send(supervisor, BTC, commands.slice(80));
  return btc.currentState();
}

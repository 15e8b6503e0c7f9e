import { createPool, sql, type DatabasePool } from 'slonik';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { CommandResult, MarketCommand, MarketDefinition } from '../../src/actors/market/types.ts';
import { decodeBatch } from '../../src/persistence/journalCodec.ts';
import { recover } from '../../src/persistence/recovery.ts';
import { scheduleSnapshots, takeSnapshot, type SnapshotResult } from '../../src/persistence/snapshots.ts';
import { useTestDatabase } from '../support/database.ts';
import {
  DURABLE_MARKETS,
  openDurableExchange,
  recoverableState,
  registerMarket,
  type DurableExchange,
} from '../support/durable.ts';
import { eventually } from '../support/eventually.ts';
import {
  BTC_USDC,
  ETH_USDC,
  expectOk,
  GOLD_USDC,
  lifecycle,
  limit,
  marketOrder,
  PATH_TO,
} from '../support/markets.ts';

/**
 * Durable snapshots against a real Postgres: snapshots taken between and during trading, then a
 * fresh exchange recovered from the latest one replays only the journal after it and holds the
 * same books, lifecycle states and ledger as the original — and as a recovery of the whole journal.
 */

const database = useTestDatabase('snapshots');
const MARKETS = DURABLE_MARKETS;
const BTC = BTC_USDC.symbol;
const ETH = ETH_USDC.symbol;
const GOLD = GOLD_USDC.symbol;

let pool: DatabasePool;

beforeAll(async () => {
  pool = await createPool(database.get().url, { maximumPoolSize: 3 });
});

afterAll(async () => {
  await pool.end();
});

type Exchange = DurableExchange;

const exchange = (markets: readonly MarketDefinition[] = MARKETS): Promise<Exchange> =>
  openDurableExchange(pool, markets);

const stateOf = (exchange: Exchange) => recoverableState(exchange);

const Count = z.object({ count: z.number() });
const LedgerRecord = z.object({ record: z.instanceof(Buffer) });

async function snapshotRows(): Promise<{ markets: number; ledgers: number }> {
  const markets = await pool.one(sql.type(Count)`SELECT count(*)::int AS count FROM market_snapshots`);
  const ledgers = await pool.one(sql.type(Count)`SELECT count(*)::int AS count FROM ledger_snapshots`);
  return { markets: markets.count, ledgers: ledgers.count };
}

/** A small deterministic generator (mulberry32) for the load phase. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

describe('snapshots', () => {
  it('recovery from the latest snapshot replays only what follows and equals a full replay', async () => {
    // GOLD is registered only after the first snapshots: it has none in the set recovery loads.
    const first = await exchange([BTC_USDC, ETH_USDC]);
    const { supervisor } = first;
    let clock = 1_763_900_000_000;
    const submit = (symbol: string, command: MarketCommand) => supervisor.submit(symbol, command, clock++);
    const run = async (symbol: string, type: (typeof PATH_TO)['active'][number]) =>
      expectOk(await submit(symbol, lifecycle(type)));

    // An empty journal: nothing to snapshot.
    expect(await takeSnapshot(pool, first)).toEqual({ globalSeq: 0, markets: 0, bytes: 0 });

    for (const symbol of [BTC, ETH]) for (const type of PATH_TO.active) await run(symbol, type);
    const users = ['alice', 'bob', 'carol', 'dave'];
    const credits: Promise<CommandResult>[] = [];
    for (const user of users) {
      credits.push(supervisor.credit(user, 'BTC', 10n * 10n ** 8n, clock++));
      credits.push(supervisor.credit(user, 'USDC', 1_000_000n * 10n ** 6n, clock++));
      credits.push(supervisor.credit(user, 'ETH', 50n * 10n ** 18n, clock++));
      credits.push(supervisor.credit(user, 'GOLD', 1_000_00n, clock++));
    }
    for (const result of await Promise.all(credits)) expectOk(result);
    expectOk(await submit(BTC, limit('alice', 'sell', 100_00, 50)));
    expectOk(await submit(BTC, limit('bob', 'buy', 100_00, 20)));
    expectOk(await submit(ETH, limit('bob', 'sell', 2_000_00, 1_500)));
    await supervisor.idle();

    const s1 = await takeSnapshot(pool, first);
    expect(s1.globalSeq).toBe(first.writer.stats().lastGlobalSeq);
    expect(s1.markets).toBe(2);

    // Only BTC moves: ETH keeps its row (same seq, same state), which the next set uses too.
    expectOk(await submit(BTC, limit('carol', 'buy', 99_00, 10, { clientOrderId: 'c-1' })));
    expectOk(await submit(BTC, limit('bob', 'buy', 102_00, 5, { type: 'stop_limit', stopPrice: 101_50 })));
    await run(BTC, 'lifecycle.pause');
    const s2 = await takeSnapshot(pool, first);
    expect(s2.globalSeq).toBeGreaterThan(s1.globalSeq);
    expect(await snapshotRows()).toEqual({ markets: 3, ledgers: 2 });

    // GOLD is listed; then a load phase across the markets, snapshots taken while it runs.
    registerMarket(supervisor, GOLD_USDC);
    for (const type of PATH_TO.active) await run(GOLD, type);
    await run(BTC, 'lifecycle.resume');
    const next = random(5);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!;
    const mids: Record<string, number> = { [BTC]: 100_00, [ETH]: 2_000_00, [GOLD]: 1_900 };
    const load: Promise<CommandResult>[] = [];
    const during: Promise<{ globalSeq: number }>[] = [];
    for (let i = 0; i < 600; i++) {
      const symbol = pick([BTC, ETH, GOLD]);
      const user = pick(users);
      const side = pick(['buy', 'sell'] as const);
      const mid = mids[symbol]!;
      const roll = next();
      let command: MarketCommand;
      if (roll < 0.1) command = marketOrder(user, side, 1 + Math.floor(next() * 5));
      else if (roll < 0.18) command = { kind: 'cancel_all', userId: user };
      else
        command = limit(
          user,
          side,
          mid + Math.floor((next() - 0.5) * 20) * (symbol === GOLD ? 10 : 100),
          1 + Math.floor(next() * 20),
        );
      load.push(supervisor.submit(symbol, command, clock++));
      if (i % 50 === 7) during.push(takeSnapshot(pool, first));
      if (i % 25 === 0) load.push(supervisor.credit(user, 'USDC', BigInt(1 + i), clock++));
      // Pacing, not a wait for something: the load spreads over time so snapshots land inside it.
      if (i % 100 === 99) await new Promise((resolve) => setTimeout(resolve, 3));
    }
    const results = await Promise.all(load);
    expect(results.filter((r) => r.ok).length).toBeGreaterThan(300);
    const taken = await Promise.all(during);
    expect(taken.every((t) => t.globalSeq >= s2.globalSeq)).toBe(true);
    await supervisor.idle();
    const last = await takeSnapshot(pool, first);
    // One taken while orders were still flowing, to recover from below.
    const mid = Math.max(...taken.map((t) => t.globalSeq).filter((g) => g < last.globalSeq));
    expect(mid).toBeGreaterThan(s2.globalSeq);

    // A few records after the last snapshot: GOLD archived (its orders canceled), a credit, an order.
    expectOk(await run(GOLD, 'lifecycle.archive'));
    expectOk(await supervisor.credit('erin', 'USDC', 100_000n * 10n ** 6n, clock++));
    expectOk(await submit(ETH, limit('erin', 'buy', 1_000_00, 1)));
    await supervisor.idle();

    const before = stateOf(first);
    const lastGlobalSeq = first.writer.stats().lastGlobalSeq;
    await first.writer.close();
    expect(first.ledger.checkInvariants()).toEqual([]);

    // From the snapshot: only the records after it are read.
    const second = await exchange();
    const stats = await recover(pool, second, { pageSize: 7 });
    expect(stats).toMatchObject({
      snapshotGlobalSeq: last.globalSeq,
      snapshotMarkets: 3,
      records: lastGlobalSeq - last.globalSeq,
      lastGlobalSeq,
    });
    expect(stats.records).toBeLessThan(10);
    expect(stateOf(second)).toEqual(before);
    expect(second.ledger.checkInvariants()).toEqual([]);
    expect(second.supervisor.list().map((m) => m.state)).toEqual(['active', 'active', 'archived']);

    // It trades on: the `@ledger` sequence and the global sequence continue without a gap.
    const credit = expectOk(await second.supervisor.credit('erin', 'USDC', 5n, clock++));
    expectOk(await second.supervisor.submit(BTC, limit('erin', 'buy', 1_00, 1), clock++));
    await second.supervisor.idle();
    const after = stateOf(second);
    await second.writer.close();
    const ledgerSeqs = (
      await pool.any(
        sql.type(LedgerRecord)`SELECT record FROM journal WHERE market_id = '@ledger' ORDER BY global_seq`,
      )
    ).map((r) => decodeBatch(r.record).entries[0]!.seq);
    expect(ledgerSeqs).toEqual(ledgerSeqs.map((_, i) => i + 1));
    expect(ledgerSeqs.at(-1)).toBe(credit.seq);

    // From the snapshot taken under load: more replayed, the same exchange.
    await pool.query(sql.unsafe`DELETE FROM market_snapshots WHERE global_seq > ${mid}`);
    await pool.query(sql.unsafe`DELETE FROM ledger_snapshots WHERE global_seq > ${mid}`);
    const fromMid = await exchange();
    expect(await recover(pool, fromMid)).toMatchObject({
      snapshotGlobalSeq: mid,
      snapshotMarkets: 3,
      records: lastGlobalSeq + 2 - mid,
    });
    expect(stateOf(fromMid)).toEqual(after);
    await fromMid.writer.close();

    // The same journal without snapshots: the whole of it replayed, the same exchange.
    await pool.query(sql.unsafe`DELETE FROM market_snapshots`);
    await pool.query(sql.unsafe`DELETE FROM ledger_snapshots`);
    const third = await exchange();
    const full = await recover(pool, third);
    expect(full).toMatchObject({
      snapshotGlobalSeq: 0,
      records: lastGlobalSeq + 2,
      lastGlobalSeq: lastGlobalSeq + 2,
    });
    expect(stateOf(third)).toEqual(after);
    await third.writer.close();
  });

  it('takes snapshots periodically once enough records are committed', async () => {
    const running = await exchange();
    await recover(pool, running);
    const results: SnapshotResult[] = [];
    const schedule = scheduleSnapshots(pool, running, {
      everyRecords: 2,
      intervalMs: 60_000,
      checkMs: 5,
      onSnapshot: (result) => results.push(result),
    });
    expectOk(await running.supervisor.credit('frank', 'USDC', 1n, 1));
    // A time window: about ten checks (checkMs 5) see one record, fewer than everyRecords.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(results).toEqual([]);
    expectOk(await running.supervisor.credit('frank', 'USDC', 1n, 2));
    await eventually(() => results.length > 0, {
      what: 'a snapshot after the second record',
      timeoutMs: 2_000,
    });
    await schedule.stop();
    expect(results.map((r) => r.globalSeq)).toEqual([running.writer.stats().lastGlobalSeq]);
    await running.writer.close();
  });

  it('refuses a snapshot of a market that is not registered', async () => {
    const whole = await exchange();
    await recover(pool, whole);
    const { globalSeq } = await takeSnapshot(pool, whole);
    await whole.writer.close();
    expect(globalSeq).toBeGreaterThan(0);
    const partial = await exchange([BTC_USDC, ETH_USDC]);
    await expect(recover(pool, partial)).rejects.toThrow(
      `snapshot at global_seq ${globalSeq}: market m-gold is not registered`,
    );
    await partial.writer.close();
  });
});

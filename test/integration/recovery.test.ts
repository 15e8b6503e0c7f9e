import { createPool, sql, type DatabasePool } from 'slonik';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Ledger } from '../../src/actors/ledger/index.ts';
import type { CommandResult, MarketCommand, MarketDefinition } from '../../src/actors/market/types.ts';
import { decodeBatch } from '../../src/persistence/journalCodec.ts';
import { recover } from '../../src/persistence/recovery.ts';
import { useTestDatabase } from '../support/database.ts';
import {
  DURABLE_MARKETS,
  openDurableExchange,
  recoverableState,
  type DurableExchange,
} from '../support/durable.ts';
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
 * Durable recovery against a real Postgres: an exchange journals credits and trading through the
 * JournalWriter, then a fresh ledger and supervisor rebuilt from the same journal hold the same
 * books, lifecycle states and balances, and keep trading with the global sequence continuing.
 */

const database = useTestDatabase('recovery');
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

const JournalRow = z.object({
  global_seq: z.string(),
  market_id: z.string().nullable(),
  record: z.instanceof(Buffer),
});

async function journal() {
  return pool.any(
    sql.type(
      JournalRow,
    )`SELECT global_seq::text AS global_seq, market_id, record FROM journal ORDER BY journal.global_seq`,
  );
}

describe('recover', () => {
  it('rebuilds books, lifecycle and ledger from the journal, then trades on with no gap', async () => {
    const first = await exchange();
    const { supervisor } = first;
    let clock = 1_763_800_000_000;
    const submit = (symbol: string, command: MarketCommand) => supervisor.submit(symbol, command, clock++);
    const run = async (symbol: string, type: (typeof PATH_TO)['active'][number]) =>
      expectOk(await submit(symbol, lifecycle(type)));

    for (const { symbol } of MARKETS) for (const type of PATH_TO.active) await run(symbol, type);
    const credits: Promise<CommandResult>[] = [];
    for (const user of ['alice', 'bob', 'carol']) {
      credits.push(supervisor.credit(user, 'BTC', 10n * 10n ** 8n, clock++));
      credits.push(supervisor.credit(user, 'USDC', 100_000n * 10n ** 6n, clock++));
      credits.push(supervisor.credit(user, 'ETH', 50n * 10n ** 18n, clock++));
      credits.push(supervisor.credit(user, 'GOLD', 1_000_00n, clock++));
    }
    for (const result of await Promise.all(credits)) expectOk(result);
    expect(await supervisor.credit('alice', 'NOPE', 1n, clock++)).toMatchObject({
      ok: false,
      code: 'bad_request',
    });

    // BTC: resting asks, a partial fill, a stop, an amend, a cancel, refusals before and in the book.
    const ask1 = expectOk(await submit(BTC, limit('alice', 'sell', 100_00, 50))).orderId!;
    const ask2 = expectOk(await submit(BTC, limit('alice', 'sell', 101_00, 30))).orderId!;
    const fills = await Promise.all([
      submit(BTC, limit('bob', 'buy', 100_00, 20)),
      submit(BTC, limit('carol', 'buy', 99_00, 10, { clientOrderId: 'c-bid' })),
      submit(BTC, limit('carol', 'buy', 98_00, 10)),
      submit(BTC, limit('bob', 'buy', 101_00, 1, { postOnly: true })),
      submit(BTC, limit('bob', 'buy', 50_000_00, 100_000)),
      submit(BTC, marketOrder('carol', 'buy', 5)),
      submit(BTC, limit('bob', 'buy', 102_00, 5, { type: 'stop_limit', stopPrice: 101_50 })),
    ]);
    expect(fills.map((r) => (r.ok ? 'ok' : r.code))).toEqual([
      'ok',
      'ok',
      'ok',
      'would_match',
      'insufficient_funds',
      'ok',
      'ok',
    ]);
    const partial = expectOk(fills[0]).events;
    expect(partial.some((e) => e.type === 'fill' && e.makerOrderId === ask1)).toBe(true);
    const bid98 = expectOk(fills[2]).orderId!;
    expectOk(await submit(BTC, { kind: 'amend', userId: 'alice', orderId: ask2, qty: 40 }));
    expectOk(await submit(BTC, { kind: 'cancel', userId: 'carol', clientOrderId: 'c-bid' }));
    expect(await submit(BTC, { kind: 'cancel', userId: 'carol', orderId: 9_999 })).toMatchObject({
      ok: false,
      code: 'not_found',
    });
    await run(BTC, 'lifecycle.pause');
    expect(await submit(BTC, limit('bob', 'buy', 100_00, 1))).toMatchObject({
      ok: false,
      code: 'market_not_active',
    });
    expectOk(await submit(BTC, { kind: 'cancel', userId: 'carol', orderId: bid98 }));
    await run(BTC, 'lifecycle.resume');

    // ETH: 18-decimal amounts, an order left resting; GOLD: orders, then archived (all canceled).
    expectOk(await submit(ETH, limit('bob', 'sell', 2_000_00, 1_500)));
    expectOk(await submit(ETH, limit('carol', 'buy', 1_999_00, 700)));
    expectOk(await submit(GOLD, limit('alice', 'sell', 1_900, 10)));
    expectOk(await submit(GOLD, limit('bob', 'buy', 1_800, 20)));
    const archived = await run(GOLD, 'lifecycle.archive');
    expect(archived.events.filter((e) => e.type === 'canceled')).toHaveLength(2);
    await supervisor.idle();

    const before = stateOf(first);
    const lastGlobalSeq = first.writer.stats().lastGlobalSeq;
    await first.writer.close();
    expect(before.ledger).not.toEqual(new Ledger().snapshot());

    // A market of the journal that is not registered is a clear error.
    const unknown = await exchange([BTC_USDC, ETH_USDC]);
    await expect(recover(pool, unknown)).rejects.toThrow(/market m-gold is not registered/);
    await unknown.writer.close();

    const second = await exchange();
    const stats = await recover(pool, second, { pageSize: 7 });
    expect(stats.lastGlobalSeq).toBe(lastGlobalSeq);
    expect(stats.records).toBe(lastGlobalSeq);
    const after = stateOf(second);
    expect(after).toEqual(before);
    expect(second.ledger.checkInvariants()).toEqual([]);
    expect(second.supervisor.list().map((m) => m.state)).toEqual(['active', 'active', 'archived']);

    // Trading continues: a buy takes the recovered ask, and the journal continues without a gap.
    const taken = expectOk(await second.supervisor.submit(BTC, limit('carol', 'buy', 101_00, 10), clock++));
    expect(taken.events.some((e) => e.type === 'fill' && e.makerOrderId === ask1)).toBe(true);
    const credit = expectOk(await second.supervisor.credit('dave', 'USDC', 5n, clock++));
    await second.supervisor.idle();
    await second.writer.close();
    const rows = await journal();
    expect(rows.map((r) => Number(r.global_seq))).toEqual(rows.map((_, i) => i + 1));
    expect(rows).toHaveLength(lastGlobalSeq + 2);
    const [placed, credited] = rows.slice(-2).map((r) => decodeBatch(r.record));
    expect(placed!.marketId).toBe(BTC_USDC.id);
    expect(placed!.entries[0]!.seq).toBe(before.markets[0]!.market.seq + 1);
    expect(credited!.entries[0]!.seq).toBe(credit.seq);
    const ledgerSeqs = rows
      .filter((r) => r.market_id === '@ledger')
      .map((r) => decodeBatch(r.record).entries[0]!.seq);
    expect(ledgerSeqs).toEqual(ledgerSeqs.map((_, i) => i + 1));
  });
});

import { createPool, sql, type DatabasePool, type QuerySqlToken } from 'slonik';
import { register } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Ledger } from '../../src/actors/ledger/index.ts';
import type { CommandResult, MarketCommand, MarketDefinition } from '../../src/actors/market/types.ts';
import { Supervisor } from '../../src/actors/supervisor.ts';
import { JournalWriter } from '../../src/persistence/journalWriter.ts';
import { Projector, resetProjections } from '../../src/persistence/projector.ts';
import { useTestDatabase } from '../support/database.ts';
import { eventually } from '../support/eventually.ts';
import {
  ASSET_DECIMALS,
  BTC_USDC,
  ETH_USDC,
  expectOk,
  lifecycle,
  limit,
  marketOrder,
  PATH_TO,
} from '../support/markets.ts';

/**
 * The relational projections against a real Postgres: built incrementally while trading goes on,
 * they equal a rebuild from the whole journal, and agree with the in-memory ledger and books.
 */

const database = useTestDatabase('projections');
const MARKETS: readonly MarketDefinition[] = [BTC_USDC, ETH_USDC];
const BTC = BTC_USDC.symbol;
const ETH = ETH_USDC.symbol;

let pool: DatabasePool;

beforeAll(async () => {
  pool = await createPool(database.get().url, { maximumPoolSize: 3 });
});

afterAll(async () => {
  await pool.end();
});

const Row = z.record(z.string(), z.union([z.string(), z.null()]));

/** Every projection table as sorted rows, all values as text (money never through a float). */
async function tables() {
  const read = (query: QuerySqlToken<typeof Row>) => pool.any(query);
  return {
    orders: await read(sql.type(Row)`
      SELECT id, market_id, order_id::text, user_id, client_order_id, side, type, tif, price::text,
        stop_price::text, qty::text, filled_qty::text, remaining::text, status,
        created_global_seq::text, updated_global_seq::text, created_at::text, updated_at::text
      FROM orders ORDER BY id`),
    trades: await read(sql.type(Row)`
      SELECT id, market_id, maker_order_id, taker_order_id, maker_user_id, taker_user_id, taker_side,
        price::text, qty::text, ts::text, global_seq::text
      FROM trades ORDER BY id`),
    postings: await read(sql.type(Row)`
      SELECT global_seq::text, account, asset, market_id, available::text, locked::text, postings, ts::text
      FROM ledger_postings ORDER BY global_seq, account, asset`),
    balances: await read(sql.type(Row)`
      SELECT account, asset, available::text, locked::text FROM balances ORDER BY account, asset`),
    lifecycle: await read(sql.type(Row)`
      SELECT market_id, market_seq::text, lifecycle_seq::text, outcome, from_state, to_state, event_type,
        actor_id, actor_type, reason, error_code, error_message, contract_address, tx_hash, deploy_error,
        ts::text, global_seq::text
      FROM market_lifecycle_events ORDER BY market_id, market_seq`),
    audit: await read(sql.type(Row)`
      SELECT global_seq::text, entry_index::text, ledger_seq::text, kind, account, asset, amount::text,
        ts::text
      FROM audit_log ORDER BY global_seq, entry_index`),
  };
}

describe('Projector', () => {
  it('builds incrementally what a rebuild from the journal builds, in agreement with ledger and books', async () => {
    const ledger = new Ledger();
    for (const [asset, decimals] of Object.entries(ASSET_DECIMALS)) ledger.defineAsset(asset, decimals);
    const writer = await JournalWriter.open(pool, { flushIntervalMs: 2 });
    const supervisor = new Supervisor({ ledger, sink: writer, batchSize: 4 });
    for (const definition of MARKETS) {
      supervisor.addMarket(definition, {
        baseDecimals: ASSET_DECIMALS[definition.baseAsset]!,
        quoteDecimals: ASSET_DECIMALS[definition.quoteAsset]!,
      });
    }
    let clock = 1_763_800_000_000;
    const submit = (symbol: string, command: MarketCommand) => supervisor.submit(symbol, command, clock++);
    const projector = new Projector(pool, { pageSize: 3 });
    let projected = 0;
    const step = async () => {
      await supervisor.idle();
      projected += await projector.runOnce();
      expect(await projector.lag()).toEqual({ records: 0, ms: 0 });
    };

    for (const { symbol } of MARKETS) {
      for (const type of PATH_TO.active) expectOk(await submit(symbol, lifecycle(type)));
    }
    expect(await submit(BTC, lifecycle('lifecycle.approve'))).toMatchObject({
      ok: false,
      code: 'invalid_transition',
    });
    const credits: Promise<CommandResult>[] = [];
    for (const user of ['alice', 'bob', 'carol']) {
      credits.push(supervisor.credit(user, 'BTC', 10n * 10n ** 8n, clock++));
      credits.push(supervisor.credit(user, 'USDC', 100_000n * 10n ** 6n, clock++));
      // Beyond int8 in minor units: 18-decimal amounts must round-trip exactly.
      credits.push(supervisor.credit(user, 'ETH', 50n * 10n ** 18n, clock++));
    }
    for (const result of await Promise.all(credits)) expectOk(result);
    await step();
    expect(projected).toBeGreaterThan(0);

    // Resting asks, a partial fill, a market order, a stop, a refusal.
    const ask1 = expectOk(await submit(BTC, limit('alice', 'sell', 100_00, 50))).orderId!;
    const ask2 = expectOk(await submit(BTC, limit('alice', 'sell', 101_00, 30))).orderId!;
    const placed = await Promise.all([
      submit(BTC, limit('bob', 'buy', 100_00, 20)),
      submit(BTC, limit('carol', 'buy', 99_00, 10, { clientOrderId: 'c-bid' })),
      submit(BTC, limit('carol', 'buy', 98_00, 10)),
      submit(BTC, limit('bob', 'buy', 50_000_00, 100_000)),
      submit(BTC, marketOrder('carol', 'buy', 5)),
      submit(BTC, limit('bob', 'buy', 102_00, 5, { type: 'stop_limit', stopPrice: 101_50 })),
    ]);
    expect(placed.map((r) => (r.ok ? 'ok' : r.code))).toEqual([
      'ok',
      'ok',
      'ok',
      'insufficient_funds',
      'ok',
      'ok',
    ]);
    const bid98 = expectOk(placed[2]).orderId!;
    await step();

    // An amend (priority lost), cancels, a crossing buy that fills the amended ask and triggers the stop.
    expectOk(await submit(BTC, { kind: 'amend', userId: 'alice', orderId: ask2, qty: 40 }));
    expectOk(await submit(BTC, { kind: 'cancel', userId: 'carol', clientOrderId: 'c-bid' }));
    expectOk(await submit(BTC, { kind: 'cancel', userId: 'carol', orderId: bid98 }));
    expectOk(await submit(BTC, limit('carol', 'buy', 101_00, 50)));
    await step();

    // ETH: 18-decimal base, a partial fill, an amend keeping priority, orders left resting.
    expectOk(await submit(ETH, limit('bob', 'sell', 2_000_00, 1_500)));
    expectOk(await submit(ETH, limit('carol', 'buy', 1_999_00, 700)));
    expectOk(await submit(ETH, limit('alice', 'buy', 2_000_00, 300)));
    const ethAsk = expectOk(await submit(ETH, limit('alice', 'sell', 2_010_00, 900))).orderId!;
    expectOk(await submit(ETH, { kind: 'amend', userId: 'alice', orderId: ethAsk, qty: 400 }));
    expectOk(await submit(BTC, limit('alice', 'sell', 100_50, 3)));
    await step();

    // A buy sweeping the asks up to a trade at 101.60 triggers bob's stop, which then rests.
    expectOk(await submit(BTC, limit('alice', 'sell', 101_60, 5)));
    const sweep = expectOk(await submit(BTC, limit('bob', 'buy', 102_00, 30)));
    expect(sweep.events.some((e) => e.type === 'triggered')).toBe(true);
    expect(await supervisor.credit('dave', 'USDC', 123n, clock++)).toMatchObject({ ok: true });
    await step();
    await writer.close();

    // The book and the ledger agree with the projections.
    const status = z.object({ id: z.string(), remaining: z.string(), status: z.string() });
    const openRows = await pool.any(sql.type(status)`
      SELECT id, remaining::text AS remaining, status FROM orders
      WHERE status IN ('open', 'partially_filled', 'pending_trigger') ORDER BY id`);
    const expected: { id: string; remaining: string; status: string }[] = [];
    for (const { id, symbol } of MARKETS) {
      const { resting, stops } = supervisor.actor(symbol)!.orderBook.openOrders();
      for (const o of resting) {
        expected.push({
          id: `${id}:${o.orderId}`,
          remaining: String(o.remaining),
          status: o.remaining < o.qty ? 'partially_filled' : 'open',
        });
      }
      for (const o of stops) {
        expected.push({
          id: `${id}:${o.orderId}`,
          remaining: String(o.remaining),
          status: 'pending_trigger',
        });
      }
    }
    expected.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    expect(openRows).toEqual(expected);
    expect(openRows.some((r) => r.status === 'partially_filled')).toBe(true);
    expect(openRows.some((r) => r.status === 'open')).toBe(true);
    expect(openRows.some((r) => r.id === `${BTC_USDC.id}:${ask1}`)).toBe(false);

    const incremental = await tables();
    const statuses = new Set(incremental.orders.map((o) => o.status));
    for (const expectedStatus of ['open', 'partially_filled', 'filled', 'canceled']) {
      expect(statuses).toContain(expectedStatus);
    }
    expect(incremental.trades.length).toBeGreaterThan(3);

    // Lifecycle: every market's path to active, in order, then a refused transition recorded too.
    for (const { id } of MARKETS) {
      const rows = incremental.lifecycle.filter((r) => r.market_id === id);
      expect(rows.slice(0, 4).map((r) => [r.outcome, r.from_state, r.to_state])).toEqual([
        ['transition', 'draft', 'pending_approval'],
        ['transition', 'pending_approval', 'approved'],
        ['transition', 'approved', 'activating'],
        ['transition', 'activating', 'active'],
      ]);
      expect(rows.slice(0, 4).map((r) => r.lifecycle_seq)).toEqual(['1', '2', '3', '4']);
      expect(rows.every((r) => r.actor_id !== null && r.actor_type !== null)).toBe(true);
    }
    expect(incremental.lifecycle.find((r) => r.to_state === 'active')?.contract_address).toBe('0x1');
    expect(incremental.lifecycle.filter((r) => r.outcome === 'rejected')).toMatchObject([
      {
        market_id: BTC_USDC.id,
        event_type: 'lifecycle.approve',
        error_code: 'invalid_transition',
        from_state: null,
        to_state: null,
      },
    ]);
    // Audit: one row per accepted credit, with the exact amount (beyond int8 for ETH).
    expect(incremental.audit.map((r) => [r.account, r.asset, r.amount])).toEqual([
      ...['alice', 'bob', 'carol'].flatMap((user) => [
        [user, 'BTC', String(10n * 10n ** 8n)],
        [user, 'USDC', String(100_000n * 10n ** 6n)],
        [user, 'ETH', String(50n * 10n ** 18n)],
      ]),
      ['dave', 'USDC', '123'],
    ]);

    const ledgerBalances = ledger
      .snapshot()
      .accounts.flatMap(({ account, balances }) =>
        balances.map(({ asset, available, locked }) => ({ account, asset, available, locked })),
      )
      .filter((b) => b.available !== '0' || b.locked !== '0')
      .sort((a, b) => (`${a.account} ${a.asset}` < `${b.account} ${b.asset}` ? -1 : 1));
    const tableBalances = incremental.balances
      .filter((b) => b.available !== '0' || b.locked !== '0')
      .sort((a, b) => (`${a.account} ${a.asset}` < `${b.account} ${b.asset}` ? -1 : 1));
    expect(tableBalances).toEqual(ledgerBalances);
    expect(tableBalances.some((b) => BigInt(b.available!) > 2n ** 63n)).toBe(true);
    const sums = await pool.any(
      sql.type(
        z.object({ account: z.string(), asset: z.string(), available: z.string(), locked: z.string() }),
      )`
        SELECT account, asset,
          sum(available)::text AS available, sum(locked)::text AS locked
        FROM ledger_postings GROUP BY account, asset ORDER BY account, asset`,
    );
    expect(sums).toEqual(incremental.balances);

    // A rebuild from scratch gives the same tables.
    await resetProjections(pool);
    expect((await projector.lag()).records).toBe(projected);
    const rebuilt = await new Projector(pool, { pageSize: 1_000 }).runOnce();
    expect(rebuilt).toBe(projected);
    expect(await tables()).toEqual(incremental);
    expect(await projector.lag()).toEqual({ records: 0, ms: 0 });
    expect(await projector.runOnce()).toBe(0);
  });

  it('runs continuously with start/stop', async () => {
    await resetProjections(pool);
    const projector = new Projector(pool, { pageSize: 5 });
    expect((await projector.lag()).records).toBeGreaterThan(0);
    projector.start(5);
    await eventually(async () => (await projector.lag()).records === 0, {
      what: 'the projector to catch up',
    });
    await projector.stop();
    expect(await projector.lag()).toEqual({ records: 0, ms: 0 });
  });

  it('keeps its lag in memory for the order-entry path and exposes it as Prometheus metrics', async () => {
    await resetProjections(pool);
    const projector = new Projector(pool, { pageSize: 5 });
    expect(projector.lagRecords()).toBe(0); // nothing read yet
    const behind = (await projector.lag()).records;
    const before = (await register.getSingleMetricAsString('exchange_projected_records_total')).match(
      /_total (\d+)/,
    );
    projector.start(5);
    // The database's cursor first, then the projector's own figure (it moves once the page's
    // COMMIT has answered, a moment after the cursor row shows it).
    await eventually(async () => (await projector.lag()).records === 0 && projector.lagRecords() === 0, {
      what: 'the projector to catch up',
    });
    expect(projector.lagMs()).toBe(0);
    // The writer's last committed global_seq, passed in: lag without a query.
    expect(projector.lagRecords(behind + 3)).toBe(3);
    const metrics = await register.metrics();
    expect(metrics).toMatch(/^exchange_projection_lag_records 0$/m);
    expect(metrics).toMatch(/^exchange_projection_lag_seconds 0$/m);
    const after = /^exchange_projected_records_total (\d+)$/m.exec(metrics);
    expect(Number(after?.[1]) - Number(before?.[1] ?? 0)).toBe(behind);
    projector.noteCommitted(behind + 2);
    expect(projector.lagRecords()).toBe(2);
    expect(await register.getSingleMetricAsString('exchange_projection_lag_records')).toMatch(/ 2$/);
    await projector.stop();
  });
});

import { createPool, sql, type DatabasePool } from 'slonik';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { Posting } from '../../src/actors/ledger/index.ts';
import type { BatchOutput } from '../../src/actors/market/types.ts';
import { claimMarketEpoch } from '../../src/cluster/epochs.ts';
import { JournalFundsError, JournalWriter } from '../../src/persistence/journalWriter.ts';
import { useTestDatabase } from '../support/database.ts';
import { limit } from '../support/markets.ts';

/**
 * The shared writer mode of the journal (issue 22, docs/scale-out.md "Shared journal"): several
 * engine writers on one journal take their global_seq ranges from `journal_head` (gap-free, in
 * commit order), mark their rows, are fenced per market in the INSERT itself, and the debit fence
 * (`cluster_funds`) refuses a flush that spends an available balance below zero.
 */

const database = useTestDatabase('shared_journal');
let pool: DatabasePool;

beforeAll(async () => {
  pool = await createPool(database.get().url, { maximumPoolSize: 4 });
});
afterAll(async () => {
  await pool.end();
});

const Row = z.object({ global_seq: z.string(), market_id: z.string(), writer: z.string().nullable() });

describe('two shared writers on one journal', () => {
  it('interleave into one gap-free global sequence, each row marked with its writer', async () => {
    await claimMarketEpoch(pool, { marketId: 'sj-a', epoch: 1, holder: 'a' });
    await claimMarketEpoch(pool, { marketId: 'sj-b', epoch: 1, holder: 'b' });
    const fence = (ids: readonly string[]) => ids.map((marketId) => ({ marketId, epoch: 1 }));
    const a = await JournalWriter.open(pool, { shared: { writer: 'a', funds: true }, marketFence: fence });
    const b = await JournalWriter.open(pool, { shared: { writer: 'b', funds: true }, marketFence: fence });
    const commits: Promise<void>[] = [];
    for (let seq = 1; seq <= 50; seq++) {
      commits.push(a.commit(batchOf('sj-a', seq)), b.commit(batchOf('sj-b', seq)));
    }
    await Promise.all(commits);
    const rows = await pool.any(
      sql.type(
        Row,
      )`SELECT global_seq::text AS global_seq, market_id, writer FROM journal ORDER BY journal.global_seq`,
    );
    expect(rows.map((r) => Number(r.global_seq))).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(rows.filter((r) => r.writer === 'a').every((r) => r.market_id === 'sj-a')).toBe(true);
    expect(rows.filter((r) => r.writer === 'b')).toHaveLength(50);
    expect(Math.max(a.stats().lastGlobalSeq, b.stats().lastGlobalSeq)).toBe(100);
    await a.close();
    await b.close();
  });

  it('refuses, with nothing written, the flush that spends what the other writer spent', async () => {
    const fence = (ids: readonly string[]) => ids.map((marketId) => ({ marketId, epoch: 1 }));
    const a = await JournalWriter.open(pool, { shared: { writer: 'a2', funds: true }, marketFence: fence });
    const b = await JournalWriter.open(pool, { shared: { writer: 'b2', funds: true }, marketFence: fence });
    // 100 credited, then each writer locks 100 of it for an order in its own market.
    await a.commit(batchOf('sj-a', 51, deposit('u-spend', 100n)));
    await a.commit(batchOf('sj-a', 52, lock('u-spend', 100n)));
    await expect(b.commit(batchOf('sj-b', 51, lock('u-spend', 100n)))).rejects.toThrow(JournalFundsError);
    const funds = await pool.oneFirst(
      sql.type(z.object({ available: z.string() }))`
        SELECT available::text AS available FROM cluster_funds WHERE account = 'u-spend' AND asset = 'USDC'`,
    );
    expect(funds).toBe('0');
    // Not fatal: the writer goes on with batches the funds allow.
    await b.commit(batchOf('sj-b', 51));
    const market = await pool.oneFirst(
      sql.type(z.object({ n: z.number() }))`
        SELECT count(*)::int AS n FROM journal WHERE writer = 'b2' AND market_id = 'sj-b'`,
    );
    expect(market).toBe(1);
    await a.close();
    await b.close();
  });
});

describe('the per-market fence of a shared writer', () => {
  it('refuses, fatally and with the head unmoved, the flush of a market another owner claimed since', async () => {
    await claimMarketEpoch(pool, { marketId: 'sj-c', epoch: 1, holder: 'old' });
    const fatal: Error[] = [];
    const writer = await JournalWriter.open(pool, {
      shared: { writer: 'old', funds: true },
      marketFence: (ids) => ids.map((marketId) => ({ marketId, epoch: 1 })),
      onFatal: (error) => fatal.push(error),
    });
    await writer.commit(batchOf('sj-c', 1));
    const head = () =>
      pool.oneFirst(sql.type(z.object({ seq: z.string() }))`SELECT seq::text AS seq FROM journal_head`);
    const before = await head();
    await claimMarketEpoch(pool, { marketId: 'sj-c', epoch: 2, holder: 'new' });
    await expect(writer.commit(batchOf('sj-c', 2))).rejects.toThrow(/newer owner/);
    expect(fatal).toHaveLength(1);
    expect(await head()).toBe(before);
    await writer.close().catch(() => undefined);
  });
});

function deposit(account: string, amount: bigint): Posting[] {
  return [
    { account, asset: 'USDC', bucket: 'available', amount, kind: 'deposit' },
    { account: '@external', asset: 'USDC', bucket: 'available', amount: -amount, kind: 'deposit' },
  ];
}

function lock(account: string, amount: bigint): Posting[] {
  return [
    { account, asset: 'USDC', bucket: 'available', amount: -amount, kind: 'lock' },
    { account, asset: 'USDC', bucket: 'locked', amount, kind: 'lock' },
  ];
}

function batchOf(marketId: string, seq: number, postings: readonly Posting[] = []): BatchOutput {
  return {
    marketId,
    symbol: `${marketId}-USDC`,
    state: 'active',
    entries: [
      {
        seq,
        ts: 1_763_800_000_000 + seq,
        command: limit('u-1', 'buy', 100, 1),
        result: { ok: true, seq, orderId: seq, events: [] },
        postings,
      },
    ],
  };
}

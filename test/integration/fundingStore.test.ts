import fc from 'fast-check';
import { createPool, sql, type DatabasePool } from 'slonik';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { FundingStore, type Provider } from '../../src/funding/store.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

/*
 * The deposits table as the notification path uses it (issue 15, deposit throughput): a pending
 * deposit is found by its reference from memory (inserted by this store, or listed at start), and
 * row updates arriving together are written in one statement. Real Postgres; the reference is the
 * table itself, read back.
 */

let database: TestDatabase;
let pool: DatabasePool;

beforeAll(async () => {
  database = await createTestDatabase('funding_store');
  pool = await createPool(database.url, { maximumPoolSize: 4 });
});

afterAll(async () => {
  await pool.end();
  await database.drop();
});

const Row = z.object({ id: z.string(), status: z.string(), failure_reason: z.string().nullable() });
const rows = async () =>
  new Map(
    (
      await pool.any(
        sql.type(Row)`SELECT id::text AS id, status, failure_reason FROM deposits ORDER BY created_at`,
      )
    ).map((r) => [r.id, r]),
  );

let counter = 0;
async function insert(store: FundingStore, provider: Provider = 'paystack') {
  const n = ++counter;
  const id = `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
  const row = {
    id,
    userId: `user-${n % 3}`,
    provider,
    reference: `D${n}`,
    asset: 'NGN',
    amount: BigInt(n * 100),
    redirectUrl: `http://stand-in/pay/D${n}`,
    formFields: undefined,
    createdAt: 1_700_000_000_000 + n,
  };
  await store.insertDeposit(row);
  return row;
}

describe('FundingStore, the notification path', () => {
  it('writes concurrent settlements together, each with its own status and reason, pending rows only', async () => {
    const store = new FundingStore(pool);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ fail: fc.boolean(), twice: fc.boolean() }), { minLength: 1, maxLength: 40 }),
        async (plans) => {
          const inserted: Awaited<ReturnType<typeof insert>>[] = [];
          while (inserted.length < plans.length) inserted.push(await insert(store));
          // All at once, some twice (a duplicate notification settling its row again).
          await Promise.all(
            plans.flatMap((plan, i) => {
              const { id } = inserted[i]!;
              const settle = () =>
                plan.fail
                  ? store.settleDeposit(id, 'failed', 1_800_000_000_000, `reason ${i}`)
                  : store.settleDeposit(id, 'completed', 1_800_000_000_000);
              return plan.twice ? [settle(), settle()] : [settle()];
            }),
          );
          const table = await rows();
          plans.forEach((plan, i) => {
            expect(table.get(inserted[i]!.id)).toEqual({
              id: inserted[i]!.id,
              status: plan.fail ? 'failed' : 'completed',
              failure_reason: plan.fail ? `reason ${i}` : null,
            });
          });
        },
      ),
      { numRuns: 15 },
    );
    // A settled row is not settled again (its outcome was decided once).
    const [first] = (await rows()).values();
    await store.settleDeposit(first!.id, first!.status === 'failed' ? 'completed' : 'failed', 0, 'late');
    expect((await rows()).get(first!.id)).toEqual(first);
  });

  it('finds a pending deposit by reference, from memory or the table, and a settled one from the table', async () => {
    const writer = new FundingStore(pool);
    const pending = await insert(writer, 'ozow');
    const settled = await insert(writer, 'payfast');
    await writer.settleDeposit(settled.id, 'completed', 1_800_000_000_000);
    // What the writer inserted, it finds (the same fields the table holds).
    const fromMemory = await writer.depositByReference('ozow', pending.reference);
    // A store started later (a restart) finds it in the table, then lists it at start.
    const restarted = new FundingStore(pool);
    const fromTable = await restarted.depositByReference('ozow', pending.reference);
    expect(fromMemory).toMatchObject({
      id: pending.id,
      userId: pending.userId,
      provider: 'ozow',
      reference: pending.reference,
      asset: 'NGN',
      amount: pending.amount,
      status: 'pending',
    });
    expect(fromTable).toMatchObject({ ...fromMemory, formFields: undefined });
    expect((await restarted.pendingDeposits()).map((d) => d.id)).toContain(pending.id);
    // Settled rows leave memory: read from the table, with their status.
    expect(await writer.depositByReference('payfast', settled.reference)).toMatchObject({
      id: settled.id,
      status: 'completed',
    });
    // Same reference, other provider: not this deposit.
    expect(await writer.depositByReference('paystack', pending.reference)).toBeUndefined();
    expect(await writer.depositByReference('ozow', 'nope')).toBeUndefined();
  });
});

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { connect, type NatsConnection } from 'nats';
import { createPool, sql, type DatabasePool } from 'slonik';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { claimMarketEpoch, marketClaims, marketEpochFence, marketEpochs } from '../../src/cluster/epochs.ts';
import { MarketLeases } from '../../src/cluster/lease.ts';
import type { BatchOutput } from '../../src/actors/market/types.ts';
import { JournalWriteError, JournalWriter } from '../../src/persistence/journalWriter.ts';
import { limit } from '../support/markets.ts';
import { eventually } from '../support/eventually.ts';
import { useTestDatabase } from '../support/database.ts';

/**
 * Issue 22's foundation (docs/scale-out.md, "Leases and fencing"): market leases in the real
 * NATS JetStream server (NATS_URL, which `npm test` provides) held by real processes
 * (test/support/leaseHolder.ts), fenced writes in a real Postgres. Exactly one holder; a kill -9
 * of the holder hands the market over within the lease's TTL plus a renewal; a holder paused with
 * SIGSTOP past its TTL loses the market, and when it resumes its writes commit nothing.
 */

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const natsUrl = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const TTL_MS = 3_000;
const RENEW_MS = 1_000;
/** A lapsed lease is gone TTL after its last renewal; a contender tries every RENEW; plus slack. */
const TAKEOVER_DEADLINE_MS = TTL_MS + RENEW_MS + 3_000;

const database = useTestDatabase('cluster');
let nc: NatsConnection;
let pool: DatabasePool;
const bucket = `lease_test_${randomBytes(4).toString('hex')}`;

const Event = z.object({
  holder: z.string(),
  event: z.string(),
  epoch: z.number().optional(),
  committed: z.boolean().optional(),
  n: z.number().optional(),
  reason: z.string().optional(),
});
type Event = z.infer<typeof Event>;

interface Holder {
  readonly name: string;
  readonly child: ChildProcess;
  readonly events: Event[];
  readonly exited: Promise<unknown>;
}

const holders: Holder[] = [];

function startHolder(name: string, marketId: string): Holder {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/leaseHolder.ts'], {
    cwd: repoRoot,
    env: {
      ...process.env,
      NATS_URL: natsUrl,
      DATABASE_URL: database.get().url,
      MARKET_ID: marketId,
      HOLDER: name,
      LEASE_BUCKET: bucket,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const events: Event[] = [];
  let partial = '';
  child.stdout.on('data', (chunk: Buffer) => {
    partial += chunk.toString('utf8');
    const lines = partial.split('\n');
    partial = lines.pop()!;
    for (const line of lines) if (line.trim() !== '') events.push(Event.parse(JSON.parse(line)));
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const holder = { name, child, events, exited };
  holders.push(holder);
  return holder;
}

function heldBy(holder: Holder): Event | undefined {
  return holder.events.find((e) => e.event === 'held');
}

async function firstHolder(contenders: readonly Holder[]): Promise<Holder> {
  return eventually(() => contenders.find((h) => heldBy(h) !== undefined), {
    timeoutMs: 20_000,
    what: 'a contender to hold the lease',
  });
}

beforeAll(async () => {
  nc = await connect({ servers: natsUrl });
  pool = await createPool(database.get().url, { maximumPoolSize: 4 });
  await pool.query(sql.unsafe`
    CREATE TABLE fence_probe (
      id bigserial PRIMARY KEY, market_id text NOT NULL, epoch int8 NOT NULL, holder text NOT NULL, n int NOT NULL
    )`);
});

afterEach(async () => {
  for (const h of holders.splice(0)) {
    if (h.child.exitCode === null && h.child.signalCode === null) {
      h.child.kill('SIGCONT');
      h.child.kill('SIGKILL');
    }
    await h.exited;
  }
});

afterAll(async () => {
  await nc
    .jetstream()
    .views.kv(bucket)
    .then((kv) => kv.destroy())
    .catch(() => undefined);
  await nc.close();
  await pool.end();
});

function market(): string {
  return `m-${randomBytes(4).toString('hex')}`;
}

describe('market leases across processes', () => {
  it('lets exactly one of two contenders hold a market, and hands it over at once on release', async () => {
    const m = market();
    const a = startHolder('a', m);
    const b = startHolder('b', m);
    const first = await firstHolder([a, b]);
    const second = first === a ? b : a;
    const leases = await MarketLeases.open(nc, { holder: 'observer', bucket });
    // The window is the point here: across three renewals nobody else gets it, NATS names the
    // holder throughout, and its writes are the only ones that land.
    const until = performance.now() + 3 * RENEW_MS;
    while (performance.now() < until) {
      expect(heldBy(second)).toBeUndefined();
      expect((await leases.holderOf(m))?.holder).toBe(first.name);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(first.events.some((e) => e.event === 'write' && e.committed === true)).toBe(true);
    const epoch = heldBy(first)!.epoch!;
    expect((await marketEpochs(pool)).get(m)).toBe(epoch);

    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    // A release deletes the key: the contender's next attempt wins it, without waiting for a TTL.
    const taken = await eventually(() => heldBy(second), { timeoutMs: 5_000, what: 'the release handover' });
    expect(taken.epoch!).toBeGreaterThan(epoch);
  });

  it('hands a market over within TTL + a renewal when its holder is killed with SIGKILL', async () => {
    const m = market();
    const a = startHolder('a', m);
    const b = startHolder('b', m);
    const first = await firstHolder([a, b]);
    const second = first === a ? b : a;
    await eventually(() => first.events.some((e) => e.event === 'write' && e.committed === true));

    const killedAt = performance.now();
    first.child.kill('SIGKILL');
    const taken = await eventually(() => heldBy(second), {
      timeoutMs: TAKEOVER_DEADLINE_MS,
      what: 'the other contender to take the market over',
    });
    const takeoverMs = performance.now() - killedAt;
    // Not before the lease could have lapsed: its last renewal was at most RENEW_MS before the kill.
    expect(takeoverMs).toBeGreaterThan(TTL_MS - RENEW_MS - 500);
    expect(taken.epoch!).toBeGreaterThan(heldBy(first)!.epoch!);
    await eventually(() => second.events.some((e) => e.event === 'write' && e.committed === true));
  });

  it('fences a holder paused with SIGSTOP past its TTL: resumed, it writes nothing and learns it lost', async () => {
    const m = market();
    const a = startHolder('a', m);
    const b = startHolder('b', m);
    const stale = await firstHolder([a, b]);
    const fresh = stale === a ? b : a;
    await eventually(() => stale.events.some((e) => e.event === 'write' && e.committed === true));
    const staleEpoch = heldBy(stale)!.epoch!;

    stale.child.kill('SIGSTOP');
    const taken = await eventually(() => heldBy(fresh), {
      timeoutMs: TAKEOVER_DEADLINE_MS,
      what: 'the other contender to take over from the paused holder',
    });
    expect(taken.epoch!).toBeGreaterThan(staleEpoch);
    await eventually(() => fresh.events.some((e) => e.event === 'write' && e.committed === true));

    const seenBeforeResume = stale.events.length;
    stale.child.kill('SIGCONT');
    // Its write loop goes on as if nothing happened (it ignores the lease on purpose): every write
    // after the resume is refused by the fence, and the lease reports itself lost.
    await eventually(
      () => stale.events.slice(seenBeforeResume).filter((e) => e.event === 'write').length >= 3,
      { what: 'the resumed holder to try writing again' },
    );
    const after = stale.events.slice(seenBeforeResume);
    expect(after.filter((e) => e.event === 'write').every((e) => e.committed === false)).toBe(true);
    await eventually(() => stale.events.some((e) => e.event === 'lost'), { what: 'the lease loss' });

    // In Postgres: no row of the stale epoch after the new owner's first.
    const rows = await pool.any(
      sql.type(z.object({ id: z.string(), epoch: z.string() }))`
        SELECT id::text AS id, epoch::text AS epoch FROM fence_probe WHERE market_id = ${m} ORDER BY id`,
    );
    const firstFresh = rows.findIndex((r) => Number(r.epoch) === taken.epoch);
    expect(firstFresh).toBeGreaterThan(0);
    expect(rows.slice(firstFresh).every((r) => Number(r.epoch) === taken.epoch)).toBe(true);
  });
});

describe('the epoch fence in one Postgres transaction', () => {
  it('never lowers an epoch, and a claim waits for a batch in flight, which then commits first', async () => {
    const m = market();
    expect(await claimMarketEpoch(pool, { marketId: m, epoch: 10, holder: 'x' })).toEqual({
      claimed: true,
      epoch: 10,
    });
    expect(await claimMarketEpoch(pool, { marketId: m, epoch: 7, holder: 'y' })).toEqual({
      claimed: false,
      current: 10,
    });
    // An old owner's batch holds FOR SHARE; the new owner's claim must wait for its commit.
    // (The claim starts outside the transaction's callback: slonik ties queries there to it.)
    let inserted = false;
    let commit!: () => void;
    const committing = new Promise<void>((resolve) => {
      commit = resolve;
    });
    const batch = pool.transaction(async (tx) => {
      const fence = marketEpochFence([{ marketId: m, epoch: 10 }]);
      const result = await tx.query(sql.unsafe`
        WITH ${fence.cte}
        INSERT INTO fence_probe (market_id, epoch, holder, n) SELECT ${m}, 10, 'x', 1 WHERE ${fence.holds}`);
      inserted = result.rowCount === 1;
      await committing;
    });
    await eventually(() => inserted, { what: 'the old owner to insert its batch' });
    let claimDone = false;
    const claim = claimMarketEpoch(pool, { marketId: m, epoch: 11, holder: 'z' }).then((c) => {
      claimDone = true;
      return c;
    });
    // Until the batch's transaction ends the claim waits on its row lock (pg_locks shows it).
    await eventually(
      async () =>
        (await pool.oneFirst(
          sql.type(z.object({ n: z.number() }))`
            SELECT count(*)::int AS n FROM pg_locks WHERE NOT granted AND locktype IN ('transactionid', 'tuple')`,
        )) > 0,
      { what: 'the claim to wait for the batch in flight' },
    );
    expect(claimDone).toBe(false);
    commit();
    await batch;
    expect(await claim).toEqual({ claimed: true, epoch: 11 });
    await eventually(() => claimDone);
    const fence = marketEpochFence([{ marketId: m, epoch: 10 }]);
    const late = await pool.query(sql.unsafe`
      WITH ${fence.cte}
      INSERT INTO fence_probe (market_id, epoch, holder, n) SELECT ${m}, 10, 'x', 2 WHERE ${fence.holds}`);
    expect(late.rowCount).toBe(0);
    expect((await marketEpochs(pool)).get(m)).toBe(11);
  });

  it('refuses a batch of two markets when either has moved on', async () => {
    const [m1, m2] = [market(), market()];
    await claimMarketEpoch(pool, { marketId: m1, epoch: 5, holder: 'x' });
    await claimMarketEpoch(pool, { marketId: m2, epoch: 6, holder: 'x' });
    await claimMarketEpoch(pool, { marketId: m2, epoch: 8, holder: 'y' });
    const fence = marketEpochFence([
      { marketId: m1, epoch: 5 },
      { marketId: m2, epoch: 6 },
    ]);
    const result = await pool.query(sql.unsafe`
      WITH ${fence.cte}
      INSERT INTO fence_probe (market_id, epoch, holder, n)
      SELECT u.m, u.e, 'x', 1 FROM unnest(${sql.array([m1, m2], 'text')}, ${sql.array([5, 6], 'int8')}) AS u(m, e)
      WHERE ${fence.holds}`);
    expect(result.rowCount).toBe(0);
    expect(() =>
      marketEpochFence([
        { marketId: m1, epoch: 5 },
        { marketId: m1, epoch: 6 },
      ]),
    ).toThrow(/two epochs/);
  });
  it('records who claimed each epoch and since when (/admin/cluster ownedSince); a re-claim of the same epoch keeps the time', async () => {
    const m = market();
    const before = Date.now();
    await claimMarketEpoch(pool, { marketId: m, epoch: 4, holder: 'a:1' });
    const first = (await marketClaims(pool)).get(m)!;
    expect(first).toMatchObject({ epoch: 4, holder: 'a:1' });
    expect(first.claimedAt).toBeGreaterThanOrEqual(before - 1_000);
    expect(first.claimedAt).toBeLessThanOrEqual(Date.now() + 1_000);
    // An hour back, so that a time written again is told apart without waiting.
    await pool.query(sql.unsafe`
      UPDATE market_epochs SET claimed_at = claimed_at - interval '1 hour' WHERE market_id = ${m}`);
    const anHourBack = (await marketClaims(pool)).get(m)!.claimedAt;
    expect(await claimMarketEpoch(pool, { marketId: m, epoch: 4, holder: 'a:1' })).toEqual({
      claimed: true,
      epoch: 4,
    });
    expect((await marketClaims(pool)).get(m)).toEqual({ epoch: 4, holder: 'a:1', claimedAt: anHourBack });
    // A stale claim changes nothing either; a newer one takes the row and the time.
    expect(await claimMarketEpoch(pool, { marketId: m, epoch: 3, holder: 'c:3' })).toEqual({
      claimed: false,
      current: 4,
    });
    expect((await marketClaims(pool)).get(m)!.claimedAt).toBe(anHourBack);
    await claimMarketEpoch(pool, { marketId: m, epoch: 9, holder: 'b:2' });
    const taken = (await marketClaims(pool)).get(m)!;
    expect(taken).toMatchObject({ epoch: 9, holder: 'b:2' });
    expect(taken.claimedAt).toBeGreaterThan(anHourBack + 3_000_000);
  });
});

describe('the journal writer with the per-market fence (JournalWriterOptions.marketFence)', () => {
  it('commits while the epoch is current and nothing of a flush once a newer owner claimed the market', async () => {
    const m = market();
    await claimMarketEpoch(pool, { marketId: m, epoch: 3, holder: 'old' });
    const fatal: Error[] = [];
    const writer = await JournalWriter.open(pool, {
      marketFence: (ids) => ids.map((marketId) => ({ marketId, epoch: 3 })),
      onFatal: (error) => fatal.push(error),
    });
    const journaled = () =>
      pool.oneFirst(
        sql.type(z.object({ n: z.number() }))`SELECT count(*)::int AS n FROM journal WHERE market_id = ${m}`,
      );
    await writer.commit(batchOf(m, 1));
    expect(await journaled()).toBe(1);

    expect(await claimMarketEpoch(pool, { marketId: m, epoch: 9, holder: 'new' })).toEqual({
      claimed: true,
      epoch: 9,
    });
    await expect(writer.commit(batchOf(m, 2))).rejects.toThrow(JournalWriteError);
    expect(fatal).toHaveLength(1);
    expect(fatal[0]!.message).toMatch(/newer owner/);
    expect(await journaled()).toBe(1);
    await writer.close().catch(() => undefined);
  });
});

function batchOf(marketId: string, seq: number): BatchOutput {
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
        postings: [],
      },
    ],
  };
}

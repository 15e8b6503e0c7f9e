import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { BackendTerminatedUnexpectedlyError, createPool, sql, type DatabasePool } from 'slonik';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Ledger } from '../../src/actors/ledger/index.ts';
import type {
  BatchOutput,
  CommandResult,
  MarketCommand,
  MarketDefinition,
} from '../../src/actors/market/types.ts';
import { Supervisor } from '../../src/actors/supervisor.ts';
import { decodeBatch, encodeBatch } from '../../src/persistence/journalCodec.ts';
import { durableMarketRebuild, rebuildMarketState } from '../../src/persistence/marketRebuild.ts';
import {
  JournalWriteError,
  JournalWriter,
  type JournalWriterOptions,
} from '../../src/persistence/journalWriter.ts';
import { useTestDatabase } from '../support/database.ts';
import { eventually } from '../support/eventually.ts';
import {
  ASSET_DECIMALS,
  balancesOf,
  BTC_USDC,
  ETH_USDC,
  expectOk,
  lifecycle,
  limit,
  PATH_TO,
} from '../support/markets.ts';

/**
 * The group-commit journal writer against a real Postgres, over real sockets: order and contiguity
 * of the global sequence, one transaction per flush, acks only after commit, the size and time
 * bounds, backpressure, and failure — the writer's connections go through a TCP proxy the test cuts.
 */

const database = useTestDatabase('journal_writer');

/** A TCP proxy to Postgres that the test can cut (live sockets destroyed, new ones refused). */
class CuttableProxy {
  private readonly sockets = new Set<net.Socket>();
  private readonly server: net.Server;
  private refusing = false;
  private port = 0;

  private constructor(private readonly target: { readonly host: string; readonly port: number }) {
    this.server = net.createServer((client) => {
      this.accept(client);
    });
  }

  static async start(databaseUrl: string): Promise<CuttableProxy> {
    const url = new URL(databaseUrl);
    const proxy = new CuttableProxy({ host: url.hostname, port: Number(url.port || 5432) });
    await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', resolve));
    const address = proxy.server.address();
    if (address === null || typeof address === 'string') throw new Error('the proxy has no port');
    proxy.port = address.port;
    return proxy;
  }

  private accept(client: net.Socket): void {
    if (this.refusing) {
      client.destroy();
      return;
    }
    const upstream = net.connect(this.target.port, this.target.host);
    for (const socket of [client, upstream]) {
      this.sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        this.sockets.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  }

  /** Postgres becomes unreachable: open connections die, new ones are refused. */
  cut(): void {
    this.refusing = true;
    for (const s of this.sockets) s.destroy();
  }

  restore(): void {
    this.refusing = false;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => {
      this.server.close(() => {
        resolve();
      });
    });
  }

  /** The same connection string, through the proxy. */
  url(databaseUrl: string): string {
    const url = new URL(databaseUrl);
    url.hostname = '127.0.0.1';
    url.port = String(this.port);
    return url.toString();
  }
}

const JournalRow = z.object({
  global_seq: z.string(),
  market_id: z.string().nullable(),
  seq_from: z.string(),
  seq_to: z.string(),
  flush_id: z.string(),
  tx: z.string(),
  record: z.instanceof(Buffer),
});
type JournalRow = z.infer<typeof JournalRow>;

let observer: DatabasePool;
let lockWatch: DatabasePool;
const pools: DatabasePool[] = [];
const writers: JournalWriter[] = [];

async function rows(): Promise<JournalRow[]> {
  const result = await observer.any(sql.type(JournalRow)`
    SELECT global_seq::text, market_id, seq_from::text, seq_to::text, flush_id::text, xmin::text AS tx, record
    FROM journal ORDER BY journal.global_seq`);
  return [...result];
}

async function pool(url: string): Promise<DatabasePool> {
  const created = await createPool(url, {
    maximumPoolSize: 2,
    connectionRetryLimit: 1,
    connectionTimeout: 2_000,
    statementTimeout: 10_000,
  });
  pools.push(created);
  return created;
}

async function openWriter(on: DatabasePool, options: JournalWriterOptions = {}): Promise<JournalWriter> {
  const writer = await JournalWriter.open(on, options);
  writers.push(writer);
  return writer;
}

/** A batch of `n` placements with lock postings (one 18-decimal amount far past 64 bits). */
function batchOf(marketId: string, seqFrom: number, n = 2): BatchOutput {
  const entries = [];
  for (let seq = seqFrom; seq < seqFrom + n; seq++) {
    const command: MarketCommand = limit(`u-${seq % 3}`, 'buy', 100 + seq, 1, { clientOrderId: `c${seq}` });
    entries.push({
      seq,
      ts: 1_763_800_000_000 + seq,
      command,
      result: { ok: true as const, seq, orderId: seq, events: [] },
      postings: [
        {
          account: `u-${seq % 3}`,
          asset: 'ETH',
          bucket: 'available' as const,
          amount: -(10n ** 30n),
          kind: 'lock' as const,
        },
        {
          account: `u-${seq % 3}`,
          asset: 'ETH',
          bucket: 'locked' as const,
          amount: 10n ** 30n,
          kind: 'lock' as const,
        },
      ],
    });
  }
  return { marketId, symbol: `${marketId}-USDC`, entries, state: 'active' };
}

function expectContiguous(all: readonly JournalRow[]): void {
  expect(all.map((r) => Number(r.global_seq))).toEqual(all.map((_, i) => i + 1));
}

function settled(promise: Promise<unknown>): () => boolean {
  let done = false;
  const mark = () => {
    done = true;
  };
  promise.then(mark, mark);
  return () => done;
}

/**
 * Resolves once some connection waits for a lock on this database's journal: the writer's INSERT
 * has reached Postgres and is held by the test's LOCK TABLE (what a fixed sleep used to hope for).
 */
async function writerBlockedOnJournal(): Promise<void> {
  await eventually(
    async () =>
      (await lockWatch.oneFirst(sql.type(z.object({ n: z.number() }))`
        SELECT count(*)::int AS n FROM pg_locks
        WHERE NOT granted AND relation = 'journal'::regclass
          AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`)) > 0,
    { what: 'the writer to wait on the journal lock' },
  );
}

let dbUrl: string;

beforeAll(async () => {
  dbUrl = database.get().url;
  observer = await createPool(dbUrl, { maximumPoolSize: 3 });
  // Its own connection, asked while a test's transaction holds the lock (slonik refuses that of
  // another pool's connection by default).
  lockWatch = await createPool(dbUrl, { maximumPoolSize: 1, dangerouslyAllowForeignConnections: true });
});

afterAll(async () => {
  await observer.end();
  await lockWatch.end();
});

beforeEach(async () => {
  await observer.query(sql.unsafe`TRUNCATE journal`);
});

async function closeAll(): Promise<void> {
  for (const w of writers.splice(0)) await w.close();
  for (const p of pools.splice(0)) {
    // slonik's end() reports the error of a connection that died mid-query (the cut ones); it has
    // still ended the pool.
    await p.end().catch((error: unknown) => {
      if (!(error instanceof BackendTerminatedUnexpectedlyError)) throw error;
    });
  }
}

afterEach(closeAll);

describe('JournalWriter', () => {
  it('commits every market’s batches in processing order with a contiguous global sequence', async () => {
    const writer = await openWriter(await pool(dbUrl), { maxRecords: 4 });
    const calls: BatchOutput[] = [];
    // Like the supervisor: each market has one batch outstanding and sends the next after the commit.
    const market = async (marketId: string, batches: number) => {
      for (let i = 0; i < batches; i++) {
        const batch = batchOf(marketId, 1 + i * 3, 3);
        calls.push(batch);
        await writer.commit(batch);
      }
    };
    await Promise.all([market('m-a', 12), market('m-b', 9), market('m-c', 15)]);
    const all = await rows();
    expect(all).toHaveLength(36);
    expectContiguous(all);
    // Global order = the order commit() was called in; each row decodes to exactly its batch.
    expect(all.map((r) => decodeBatch(r.record))).toStrictEqual(calls);
    expect(all.map((r) => [r.market_id, Number(r.seq_from), Number(r.seq_to)])).toEqual(
      calls.map((b) => [b.marketId, b.entries[0]!.seq, b.entries.at(-1)!.seq]),
    );
    expect(writer.stats()).toMatchObject({ records: 36, lastGlobalSeq: 36, pending: 0, failedFlushes: 0 });
  });

  it('writes one transaction per flush, and continues the sequence after a restart', async () => {
    const on = await pool(dbUrl);
    const first = await openWriter(on, { maxRecords: 5, flushIntervalMs: 1 });
    await Promise.all(Array.from({ length: 23 }, (_, i) => first.commit(batchOf(`m-${i % 4}`, i + 1, 1))));
    await first.close();
    const second = await openWriter(on);
    await Promise.all(Array.from({ length: 7 }, (_, i) => second.commit(batchOf('m-x', 100 + i, 1))));

    const all = await rows();
    expectContiguous(all);
    expect(all).toHaveLength(30);
    const byFlush = new Map<string, JournalRow[]>();
    for (const r of all) byFlush.set(r.flush_id, [...(byFlush.get(r.flush_id) ?? []), r]);
    // Each flush is exactly one transaction (one xmin), no transaction spans two flushes, no flush
    // is larger than maxRecords, and flushes are numbered in commit order.
    for (const group of byFlush.values()) expect(new Set(group.map((r) => r.tx)).size).toBe(1);
    expect(new Set(all.map((r) => r.tx)).size).toBe(byFlush.size);
    expect(Math.max(...[...byFlush.values()].slice(0, -1).map((g) => g.length))).toBeLessThanOrEqual(5);
    const flushIds = all.map((r) => Number(r.flush_id));
    expect(flushIds).toEqual([...flushIds].sort((a, b) => a - b));
    expect(first.stats().flushes + second.stats().flushes).toBe(byFlush.size);
    expect(first.stats().records + second.stats().records).toBe(30);
  });

  it('resolves a commit only once its row is committed and visible from another connection', async () => {
    const writer = await openWriter(await pool(dbUrl));
    // Hold a lock that blocks the writer's INSERT: the commit cannot resolve while it is held.
    let commit!: Promise<void>;
    let resolvedWhileLocked = true;
    await observer.transaction(async (tx) => {
      await tx.query(sql.unsafe`LOCK TABLE journal IN EXCLUSIVE MODE`);
      commit = writer.commit(batchOf('m-a', 1));
      const done = settled(commit);
      await writerBlockedOnJournal();
      resolvedWhileLocked = done();
      expect(
        await tx.oneFirst(sql.type(z.object({ n: z.number() }))`SELECT count(*)::int AS n FROM journal`),
      ).toBe(0);
    });
    expect(resolvedWhileLocked).toBe(false);
    // Every later commit, too: when its promise resolves, another connection sees the row.
    const seen: number[] = [];
    await Promise.all(
      [commit, ...Array.from({ length: 20 }, (_, i) => writer.commit(batchOf('m-a', 10 + i * 2)))].map(
        (p, i) =>
          p.then(async () => {
            const n = await observer.oneFirst(
              sql.type(
                z.object({ n: z.number() }),
              )`SELECT count(*)::int AS n FROM journal WHERE global_seq = ${i + 1}`,
            );
            seen.push(n);
          }),
      ),
    );
    expect(seen).toEqual(Array.from({ length: 21 }, () => 1));
  });

  it('flushes at maxRecords without waiting for the interval', async () => {
    const writer = await openWriter(await pool(dbUrl), { maxRecords: 5, flushIntervalMs: 60_000 });
    const started = performance.now();
    await Promise.all(Array.from({ length: 5 }, (_, i) => writer.commit(batchOf('m-a', 1 + i * 2))));
    expect(performance.now() - started).toBeLessThan(5_000);
    // Fewer than maxRecords wait for the interval (a minute here).
    const waiting = settled(writer.commit(batchOf('m-a', 20)));
    await sleep(200); // a time window: nothing flushes within it, the interval being a minute
    expect(waiting()).toBe(false);
    expect(writer.stats()).toMatchObject({ flushes: 1, records: 5, lastFlushRecords: 5, pending: 1 });
    const all = await rows();
    expect(all).toHaveLength(5);
    expect(new Set(all.map((r) => r.flush_id)).size).toBe(1);
  });

  it('flushes flushIntervalMs after the first pending record when fewer than maxRecords arrive', async () => {
    const writer = await openWriter(await pool(dbUrl), { maxRecords: 1_000, flushIntervalMs: 80 });
    const started = performance.now();
    const commits = Array.from({ length: 3 }, (_, i) => writer.commit(batchOf('m-a', 1 + i * 2)));
    const done = settled(Promise.all(commits));
    await sleep(30); // a time window: well inside flushIntervalMs (80), nothing is flushed yet
    expect(done()).toBe(false);
    await Promise.all(commits);
    expect(performance.now() - started).toBeGreaterThanOrEqual(75);
    const all = await rows();
    expect(all).toHaveLength(3);
    expect(new Set(all.map((r) => r.flush_id)).size).toBe(1);
    expect(writer.stats()).toMatchObject({ flushes: 1, lastFlushRecords: 3 });
    expect(writer.stats().lastCommitLatencyMs).toBeGreaterThanOrEqual(75);
  });

  it('keeps each flush within maxFlushBytes', async () => {
    const size = encodeBatch(batchOf('m-a', 1)).length;
    const writer = await openWriter(await pool(dbUrl), { maxFlushBytes: size * 3, flushIntervalMs: 60_000 });
    // Three records' worth of bytes start a flush at once, without waiting for the interval.
    await Promise.all(Array.from({ length: 3 }, (_, i) => writer.commit(batchOf('m-a', 1 + i * 2))));
    const more = Array.from({ length: 7 }, (_, i) => writer.commit(batchOf('m-b', 1 + i * 2)));
    await writer.close();
    await Promise.all(more);
    const flushes = new Map<string, number[]>();
    for (const r of await rows())
      flushes.set(r.flush_id, [...(flushes.get(r.flush_id) ?? []), r.record.length]);
    const groups = [...flushes.values()];
    expect(groups.flat()).toHaveLength(10);
    expect(groups[0]).toHaveLength(3);
    for (const g of groups) expect(g.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(size * 3);
    expect(groups.length).toBeGreaterThanOrEqual(4);
  });

  it('canAccept() turns false at maxPending uncommitted records and true again once committed', async () => {
    const writer = await openWriter(await pool(dbUrl), { maxPending: 3, flushIntervalMs: 50 });
    const commits = [writer.commit(batchOf('m-a', 1)), writer.commit(batchOf('m-b', 1))];
    expect(writer.canAccept()).toBe(true);
    commits.push(writer.commit(batchOf('m-c', 1)));
    expect(writer.canAccept()).toBe(false);
    expect(writer.stats().pending).toBe(3);
    const accepting = settled(writer.whenAccepting());
    await sleep(10); // a time window inside flushIntervalMs (50): nothing committed, still full
    expect(accepting()).toBe(false);
    await writer.whenAccepting();
    expect(writer.canAccept()).toBe(true);
    expect(writer.stats().pending).toBe(0);
    await Promise.all(commits);

    const bytes = await openWriter(await pool(dbUrl), { maxPendingBytes: 1, flushIntervalMs: 50 });
    const one = bytes.commit(batchOf('m-a', 10));
    expect(bytes.canAccept()).toBe(false);
    await one;
    expect(bytes.canAccept()).toBe(true);
  });

  it('close() writes what is pending, then refuses commits', async () => {
    const writer = await openWriter(await pool(dbUrl), { flushIntervalMs: 60_000 });
    const commits = Array.from({ length: 4 }, (_, i) => writer.commit(batchOf('m-a', 1 + i * 2)));
    await writer.close();
    await Promise.all(commits);
    expect(await rows()).toHaveLength(4);
    await expect(writer.commit(batchOf('m-a', 50))).rejects.toThrow(JournalWriteError);
  });

  it('turns fatal when the journal holds a record it was told had failed', async () => {
    const fatal: Error[] = [];
    const writer = await openWriter(await pool(dbUrl), { onFatal: (e) => fatal.push(e) });
    await writer.commit(batchOf('m-a', 1));
    // Someone else wrote global_seq 2 (as a COMMIT whose reply was lost would have): this flush fails...
    await observer.query(sql.unsafe`
      INSERT INTO journal (global_seq, market_id, seq_from, seq_to, flush_id, record)
      VALUES (2, 'm-z', 1, 1, 999, ${sql.binary(Buffer.from([0]))})`);
    await expect(writer.commit(batchOf('m-a', 3))).rejects.toThrow(/journal flush \d+ failed/);
    expect(fatal).toEqual([]);
    // ...and the next one finds the journal past its last commit: memory and journal disagree.
    await expect(writer.commit(batchOf('m-a', 3))).rejects.toThrow(/past the last commit/);
    expect(fatal).toHaveLength(1);
    await expect(writer.commit(batchOf('m-a', 5))).rejects.toThrow(/past the last commit/);
    expect((await rows()).map((r) => r.market_id)).toEqual(['m-a', 'm-z']);
  });

  describe('when Postgres becomes unreachable', () => {
    let proxy: CuttableProxy;

    beforeEach(async () => {
      proxy = await CuttableProxy.start(dbUrl);
    });

    afterEach(async () => {
      await closeAll(); // while the proxy still forwards: ending a pool talks to Postgres
      await proxy.close();
    });

    it('rejects the failed flush and everything queued, newest first; resumes with no gap when it is back', async () => {
      const writer = await openWriter(await pool(proxy.url(dbUrl)), { maxRecords: 2, flushIntervalMs: 1 });
      await Promise.all([writer.commit(batchOf('m-a', 1)), writer.commit(batchOf('m-b', 1))]);
      expect(await rows()).toHaveLength(2);

      // A flush in flight (held by a lock), two more records queued behind it; then the cut.
      const rejected: string[] = [];
      let failures: PromiseSettledResult<void>[] = [];
      await observer.transaction(async (tx) => {
        await tx.query(sql.unsafe`LOCK TABLE journal IN EXCLUSIVE MODE`);
        const labels = ['a3', 'b3', 'c1', 'a5'];
        const batches = [batchOf('m-a', 3), batchOf('m-b', 3), batchOf('m-c', 1), batchOf('m-a', 5)];
        const commits = batches.map((b, i) =>
          writer.commit(b).catch((error: unknown) => {
            rejected.push(labels[i]!);
            throw error;
          }),
        );
        await writerBlockedOnJournal();
        expect(writer.stats().pending).toBe(4);
        proxy.cut();
        failures = await Promise.allSettled(commits);
      });
      expect(failures.map((f) => f.status)).toEqual(['rejected', 'rejected', 'rejected', 'rejected']);
      for (const f of failures) {
        if (f.status === 'rejected') expect(f.reason).toBeInstanceOf(JournalWriteError);
      }
      expect(rejected).toEqual(['a5', 'c1', 'b3', 'a3']);
      expect(writer.stats()).toMatchObject({ failedFlushes: 1, pending: 0, lastGlobalSeq: 2 });

      // Still cut: a new commit is tried, and fails on its own.
      await expect(writer.commit(batchOf('m-a', 3))).rejects.toThrow(JournalWriteError);
      expect(await rows()).toHaveLength(2);

      proxy.restore();
      const again = [batchOf('m-a', 3), batchOf('m-b', 3), batchOf('m-c', 1)];
      await Promise.all(again.map((b) => writer.commit(b)));
      const all = await rows();
      expectContiguous(all);
      expect(all.map((r) => decodeBatch(r.record))).toStrictEqual([
        batchOf('m-a', 1),
        batchOf('m-b', 1),
        ...again,
      ]);
      expect(writer.stats()).toMatchObject({ lastGlobalSeq: 5, failedFlushes: 2 });
    });
  });

  describe('behind the Supervisor', () => {
    let proxy: CuttableProxy;

    beforeEach(async () => {
      proxy = await CuttableProxy.start(dbUrl);
    });

    afterEach(async () => {
      await closeAll(); // while the proxy still forwards: ending a pool talks to Postgres
      await proxy.close();
    });

    async function listActive(supervisor: Supervisor, definition: MarketDefinition): Promise<void> {
      supervisor.addMarket(definition, {
        baseDecimals: ASSET_DECIMALS[definition.baseAsset]!,
        quoteDecimals: ASSET_DECIMALS[definition.quoteAsset]!,
      });
      for (const type of PATH_TO.active)
        expectOk(await supervisor.submit(definition.symbol, lifecycle(type), 1));
    }

    it('acks a place only after its journal row exists; answers unavailable and undoes the ledger while cut; resumes after', async () => {
      const writer = await openWriter(await pool(proxy.url(dbUrl)));
      const ledger = new Ledger();
      for (const [asset, decimals] of Object.entries(ASSET_DECIMALS)) ledger.defineAsset(asset, decimals);
      const supervisor = new Supervisor({ ledger, sink: writer });
      await listActive(supervisor, BTC_USDC);
      ledger.deposit('alice', 'USDC', 100_000_000n);
      ledger.deposit('bob', 'BTC', 100_000_000n);
      const BTC = BTC_USDC.symbol;
      const lifecycleRows = (await rows()).length;
      expect(lifecycleRows).toBe(PATH_TO.active.length);

      // The reply waits for the commit: held back while the journal is locked, and the row is
      // there when it arrives.
      let reply: CommandResult | undefined;
      await observer.transaction(async (tx) => {
        await tx.query(sql.unsafe`LOCK TABLE journal IN EXCLUSIVE MODE`);
        supervisor.send(BTC, limit('alice', 'buy', 100_00, 2), 2, (r) => (reply = r));
        await writerBlockedOnJournal();
        expect(reply).toBeUndefined();
      });
      await supervisor.idle();
      const placed = expectOk(reply!);
      const journaled = (await rows()).at(-1)!;
      expect(Number(journaled.seq_to)).toBe(placed.seq);
      expect(decodeBatch(journaled.record).entries.at(-1)!.result).toEqual(placed);

      // Cut: every place is answered `unavailable` and the ledger is as it was.
      const users = ['alice', 'bob'];
      const before = balancesOf(ledger, users);
      proxy.cut();
      const whileCut = await Promise.all([
        supervisor.submit(BTC, limit('bob', 'sell', 100_00, 1), 3),
        supervisor.submit(BTC, limit('alice', 'buy', 101_00, 1), 4),
      ]);
      expect(whileCut.map((r) => (r.ok ? 'ok' : r.code))).toEqual(['unavailable', 'unavailable']);
      await supervisor.idle();
      expect(balancesOf(ledger, users)).toEqual(before);
      expect(supervisor.actor(BTC)!.orderBook.openOrders().resting).toHaveLength(1);
      expect(await rows()).toHaveLength(lifecycleRows + 1);

      // Back: trading resumes without a restart, the journal continues with no gap.
      proxy.restore();
      const sell = expectOk(await supervisor.submit(BTC, limit('bob', 'sell', 100_00, 2), 5));
      expect(sell.events.filter((e) => e.type === 'fill')).toHaveLength(1);
      expect(balancesOf(ledger, users)).not.toEqual(before);
      expect(ledger.balance('bob', 'BTC')).toEqual({ available: 100_000_000n - 2n * 10n ** 4n, locked: 0n });
      const all = await rows();
      expectContiguous(all);
      expect(all).toHaveLength(lifecycleRows + 2);
      expect(decodeBatch(all.at(-1)!.record).entries.map((e) => e.result)).toEqual([sell]);
      expect(ledger.checkInvariants()).toEqual([]);
    });

    it('with several batches of several markets in flight: a cut undoes them all, answers unavailable, and after it nothing is lost or duplicated', async () => {
      const through = await pool(proxy.url(dbUrl));
      const writer = await openWriter(through, { flushIntervalMs: 1 });
      const ledger = new Ledger();
      for (const [asset, decimals] of Object.entries(ASSET_DECIMALS)) ledger.defineAsset(asset, decimals);
      const durable = durableMarketRebuild(through);
      const supervisor = new Supervisor({
        ledger,
        sink: writer,
        batchSize: 2,
        maxBatchesInFlight: 4,
        // Through the proxy: while Postgres is cut it fails (or hangs, waiting for a connection of
        // the pool) and the in-memory rebuild is used.
        rebuildTimeoutMs: 500,
        rebuildMarket: durable,
      });
      await listActive(supervisor, BTC_USDC);
      await listActive(supervisor, ETH_USDC);
      const users = ['alice', 'bob', 'carol'];
      for (const user of users) {
        ledger.deposit(user, 'USDC', 10n ** 12n);
        ledger.deposit(user, 'BTC', 10n ** 12n);
        ledger.deposit(user, 'ETH', 10n ** 22n);
      }
      const acked = new Map<string, number[]>([
        [BTC_USDC.symbol, []],
        [ETH_USDC.symbol, []],
      ]);
      const order = (symbol: string, i: number) => {
        const user = users[i % 3]!;
        const side = i % 2 === 0 ? 'buy' : 'sell';
        const price = symbol === BTC_USDC.symbol ? 100_00 + (i % 5) - 2 : 2000_00 + (i % 5) - 2;
        return limit(user, side, price, 1 + (i % 4));
      };
      const wave = (from: number, n: number) =>
        Promise.all(
          [BTC_USDC.symbol, ETH_USDC.symbol].flatMap((symbol) =>
            Array.from({ length: n }, (_, i) =>
              supervisor.submit(symbol, order(symbol, from + i), from + i).then((r) => {
                if (r.ok) acked.get(symbol)!.push(r.seq);
                return r.ok ? 'ok' : r.code;
              }),
            ),
          ),
        );
      expect(new Set(await wave(0, 10))).toEqual(new Set(['ok']));
      await supervisor.idle();
      const before = balancesOf(ledger, users);
      const books = [BTC_USDC, ETH_USDC].map((d) => supervisor.actor(d.symbol)!.currentState());
      const rowsBefore = (await rows()).length;

      // The journal is locked: each market processes batches up to its bound, all waiting on the
      // writer; then Postgres goes away.
      let whileCut: string[] = [];
      await observer.transaction(async (tx) => {
        await tx.query(sql.unsafe`LOCK TABLE journal IN EXCLUSIVE MODE`);
        const pending = wave(100, 12);
        await writerBlockedOnJournal();
        await eventually(() => writer.stats().pending >= 8, {
          what: `the markets to fill their bound (pending ${writer.stats().pending})`,
        });
        proxy.cut();
        whileCut = await pending;
      });
      expect(new Set(whileCut)).toEqual(new Set(['unavailable']));
      await supervisor.idle();
      expect(balancesOf(ledger, users)).toEqual(before);
      expect([BTC_USDC, ETH_USDC].map((d) => supervisor.actor(d.symbol)!.currentState())).toEqual(books);
      expect(await rows()).toHaveLength(rowsBefore);

      // Back: trading resumes without a restart.
      proxy.restore();
      expect(new Set(await wave(200, 12))).toEqual(new Set(['ok']));
      await supervisor.idle();
      const all = await rows();
      expectContiguous(all);
      // The journal holds exactly the acknowledged commands of each market, once each, in order.
      for (const definition of [BTC_USDC, ETH_USDC]) {
        const journaled = all
          .filter((r) => r.market_id === definition.id)
          .flatMap((r) => decodeBatch(r.record).entries)
          .filter((e) => e.command.kind === 'place')
          .map((e) => e.seq);
        expect(journaled).toEqual(acked.get(definition.symbol));
        // And the durable path rebuilds what memory holds.
        expect(
          await rebuildMarketState(observer, {
            definition,
            baseDecimals: ASSET_DECIMALS[definition.baseAsset]!,
            quoteDecimals: ASSET_DECIMALS[definition.quoteAsset]!,
          }),
        ).toEqual(supervisor.actor(definition.symbol)!.currentState());
      }
      expect(ledger.checkInvariants()).toEqual([]);
    });
  });
});

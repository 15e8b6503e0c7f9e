import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { connect, type NatsConnection } from 'nats';
import type { Logger } from 'pino';
import type { DatabasePool } from 'slonik';
import { LEDGER_JOURNAL_ID, type JournalBatch } from '../../actors/market/types.ts';
import { EngineRegistry } from '../../cluster/engines.ts';
import { MarketLeases } from '../../cluster/lease.ts';
import { clusterMetrics } from '../../cluster/metrics.ts';
import type { Config } from '../../config.ts';
import { natsConnectionOptions } from '../../cluster/config.ts';
import { JournalFollower } from '../../persistence/journalFollower.ts';
import { JournalWriter } from '../../persistence/journalWriter.ts';
import { journalObserver } from '../../persistence/metrics.ts';
import { migrate } from '../../persistence/migrate.ts';
import { createDatabasePool } from '../../persistence/pool.ts';
import { takeSnapshot } from '../../persistence/snapshots.ts';
import { buildCore, type Core } from '../core.ts';
import { holdClusterLock } from './clusterLock.ts';
import { seedClusterFunds } from './clusterFunds.ts';
import { clusterSubjects } from './commands.ts';
import { CatalogSync } from './catalogSync.ts';
import { CommandServer } from './commandServer.ts';
import { serveMetrics } from './metricsServer.ts';
import { OwnedMarkets, OwnershipLoop } from './ownershipLoop.ts';

/*
 * ROLE=engine (docs/scale-out.md, "Engine role"): one process owning the markets placement gives
 * it. Stages, in order:
 *   1. the cluster lock (a shared advisory lock: no ROLE=all beside us), migrations, a pool whose
 *      sessions end an idle transaction before a lease could lapse;
 *   2. the whole exchange state recovered (every market and the whole ledger, src/app/core.ts) and
 *      the shared journal writer, fenced per market with our epochs, debits fenced by cluster_funds;
 *   3. the replica: the journal tail of the other engines applied as it commits (follower.ts);
 *   4. NATS: the engine registry, the leases, the control loop (ownershipPlan every renewal);
 *      a market we take is claimed (epoch), caught up from the journal, then served on
 *      `<cluster>.cmd.<marketId>`.
 * A lost lease or registration, or a refused write, stops the process (fail stop): a restart
 * recovers from the journal. Nothing acknowledged is lost: replies follow commits.
 */

export interface EngineProcess {
  readonly engineId: string;
  /** This process's journal writer id: engine id and a per-start suffix. */
  readonly writerId: string;
  readonly core: Core;
  /** Markets served now (leased, claimed, caught up). */
  owned(): string[];
  close(): Promise<void>;
}

export interface EngineHooks {
  /** The engine cannot go on (lease lost, write refused, replica broken): exit without cleanup. */
  readonly onFatal: (error: Error) => void;
}

export async function startEngine(config: Config, log: Logger, hooks: EngineHooks): Promise<EngineProcess> {
  const databaseUrl = config.DATABASE_URL;
  const natsUrl = config.NATS_URL;
  if (databaseUrl === undefined) throw new Error('ROLE=engine needs DATABASE_URL');
  if (natsUrl === undefined) throw new Error('ROLE=engine needs NATS_URL');
  const engineId = config.ENGINE_ID ?? `${os.hostname()}-${process.pid}`;
  const writerId = `${engineId}:${randomBytes(3).toString('hex')}`;
  const subjects = clusterSubjects(config.CLUSTER_NAME);
  const metrics = clusterMetrics();

  // 1. No ROLE=all on this database while we run (it takes the same lock exclusively).
  const clusterLock = await holdClusterLock(databaseUrl);
  await migrate(databaseUrl);
  // A paused owner's open journal transaction (its FOR SHARE fence lock) ends before its lease lapses.
  const pool = await createDatabasePool(databaseUrl, 10, Math.max(500, config.LEASE_TTL_MS - 1_000));

  // 2. State and the shared writer, its batches fenced with the epochs of the markets we hold.
  const owned = new OwnedMarkets();
  const nc = await connect(natsConnectionOptions(natsUrl, `engine ${engineId}`));
  const fatal = (error: Error) => {
    log.fatal({ err: error, engineId }, 'engine stops');
    hooks.onFatal(error);
  };
  const writer = await JournalWriter.open(pool, {
    shared: { writer: writerId, funds: true },
    marketFence: (ids) =>
      ids
        .filter((id) => id === LEDGER_JOURNAL_ID || !id.startsWith('@'))
        .map((marketId) => ({ marketId, epoch: owned.epoch(marketId) })),
    onCommitted: (seq) => {
      nc.publish(subjects.journal, String(seq));
    },
    observe: journalObserver,
    onFatal: fatal,
  });
  const core = await buildCore(config, log, { pool, writer });
  const { supervisor, ledger } = core;
  // GTD expiries are commands the owner of a market sends itself: only to the markets it serves.
  supervisor.expireOnly((marketId) => owned.serving(marketId));
  const recovered = core.recovered.lastGlobalSeq;
  await seedClusterFunds(pool, core, recovered, log);
  await snapshotRecovered(pool, core, log);
  const commands = new CommandServer(nc, {
    subjects,
    supervisor,
    metrics,
    log,
    serving: (marketId) => owned.serving(marketId),
    committedSeq: () => writer.stats().lastGlobalSeq,
    reach: (globalSeq) => (follower.position >= globalSeq ? undefined : reachBounded(follower, globalSeq)),
  });
  await commands.rememberRecent(pool, recovered);

  // 3. The replica of the other engines' rows (their command ids remembered for redeliveries),
  // and of the listings stored since this start.
  const catalog = new CatalogSync(pool, core, { log });
  const follower = new JournalFollower(pool, {
    unknownMarket: () => catalog.sync(),
    ledger,
    supervisor,
    self: writerId,
    after: recovered,
    publish: (batch: JournalBatch) => {
      for (const entry of batch.entries)
        if (entry.commandId !== undefined) commands.remember(entry.commandId, entry.result);
    },
    settled: () => writerSettled(writer),
    onFatal: fatal,
  });
  follower.start();

  // 4. NATS: the registry, the leases, the control loop.
  const leaseOptions = {
    ttlMs: config.LEASE_TTL_MS,
    renewEveryMs: config.LEASE_RENEW_MS,
    replicas: config.NATS_KV_REPLICAS,
  };
  const registry = await joinWhenFree(nc, engineId, { ...leaseOptions, bucket: subjects.engineBucket });
  registry.registration.onLost((error) => fatal(error));
  const leases = await MarketLeases.open(nc, {
    ...leaseOptions,
    bucket: subjects.leaseBucket,
    holder: engineId,
  });
  const journalNotices = nc.subscribe(subjects.journal, {
    callback: () => {
      follower.poke();
    },
  });
  const listings = nc.subscribe(subjects.catalog, {
    callback: () => {
      catalog.sync().catch((error: unknown) => {
        log.warn({ err: error }, 'the catalog did not load; the next notice or row loads it');
      });
    },
  });
  const loop = new OwnershipLoop(owned, {
    engineId,
    writerId,
    renewEveryMs: config.LEASE_RENEW_MS,
    pool,
    supervisor,
    registry,
    leases,
    follower,
    commands,
    metrics,
    log,
    fatal,
  });
  loop.start();

  const metricsServer = await serveMetrics(config.HOST, config.PORT);
  const address = metricsServer.address();
  log.info(
    {
      engineId,
      writerId,
      recovered: core.recovered,
      port: typeof address === 'object' ? address?.port : undefined,
    },
    'engine started',
  );
  return {
    engineId,
    writerId,
    core,
    owned: () => owned.served(),
    close: async () => {
      await loop.stop();
      supervisor.stopExpiries();
      metricsServer.close();
      await registry.leave().catch(() => undefined);
      journalNotices.unsubscribe();
      listings.unsubscribe();
      await follower.stop();
      await writer.close();
      await nc.drain().catch(() => undefined);
      await pool.end();
      await clusterLock.end();
    },
  };
}

/**
 * The state is exactly the journal up to the recovered row now (no command, no replica yet): the
 * one quiescent instant an engine snapshots at, so the next start replays less. Another engine that
 * recovered to the same row wrote the same set (its rows conflict and are skipped).
 */
async function snapshotRecovered(pool: DatabasePool, core: Core, log: Logger): Promise<void> {
  if (core.recovered.records === 0) return;
  const lastGlobalSeq = core.recovered.lastGlobalSeq;
  await takeSnapshot(pool, {
    supervisor: core.supervisor,
    writer: { stats: () => ({ lastGlobalSeq, pending: 0 }) },
  }).then(
    (result) => {
      log.info(result, 'snapshot taken at the end of recovery');
    },
    (error: unknown) => {
      log.warn({ err: error }, 'no snapshot after recovery; the next start replays more');
    },
  );
}

/**
 * Joins the registry; an id still registered by a predecessor killed a moment ago lapses within the
 * TTL, so a restart under the same ENGINE_ID waits up to twice that.
 */
async function joinWhenFree(
  nc: NatsConnection,
  engineId: string,
  options: { ttlMs: number; renewEveryMs: number; replicas: number; bucket: string },
): Promise<EngineRegistry> {
  const deadline = Date.now() + 2 * options.ttlMs;
  for (;;) {
    try {
      return await EngineRegistry.join(nc, engineId, options);
    } catch (error) {
      if (Date.now() > deadline) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, options.renewEveryMs));
  }
}

/** The replica at `globalSeq`, or 2 s later (the command then runs on what the replica holds). */
async function reachBounded(follower: JournalFollower, globalSeq: number): Promise<void> {
  const bound = new Promise((resolve) => setTimeout(resolve, 2_000).unref());
  await Promise.race([follower.reach(globalSeq).catch(() => undefined), bound]);
}

/** Resolves once the writer holds nothing uncommitted (its failures settled, undone by the supervisor). */
async function writerSettled(writer: JournalWriter): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (writer.stats().pending > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  // The rejection handlers (undo of postings) run on the turns after the failed flush.
  await new Promise((resolve) => setImmediate(resolve));
}

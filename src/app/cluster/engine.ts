import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import os from 'node:os';
import { connect, type NatsConnection, type Subscription } from 'nats';
import pg from 'pg';
import type { Logger } from 'pino';
import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { EXTERNAL_ACCOUNT } from '../../actors/ledger/types.ts';
import type { CommandResult, JournalBatch } from '../../actors/market/types.ts';
import { buildCore, type Core } from '../core.ts';
import type { Config } from '../../config.ts';
import { decodeBatch } from '../../persistence/journalCodec.ts';
import { JournalWriter } from '../../persistence/journalWriter.ts';
import { journalObserver } from '../../persistence/metrics.ts';
import { migrate } from '../../persistence/migrate.ts';
import { OWNER_LOCK_KEY } from '../../persistence/owner.ts';
import { createDatabasePool } from '../../persistence/pool.ts';
import { takeSnapshot } from '../../persistence/snapshots.ts';
import { metricsContentType, renderMetrics } from '../../transport/http/metrics.ts';
import {
  clusterSubjects,
  decodeCommandRequest,
  encodeCommandReply,
  type CommandRequest,
} from './commands.ts';
import { claimMarketEpoch } from '../../cluster/epochs.ts';
import { EngineRegistry, ownershipPlan } from '../../cluster/engines.ts';
import { JournalFollower } from '../../persistence/journalFollower.ts';
import { MarketLeases, type Lease } from '../../cluster/lease.ts';
import { clusterMetrics } from '../../cluster/metrics.ts';

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

const HeadRow = z.object({ seq: z.string(), funds_at: z.string().nullable(), unfunded: z.boolean() });

interface Owned {
  readonly lease: Lease;
  readonly epoch: number;
  serving: boolean;
  subscription: Subscription | undefined;
}

/** Most command ids remembered for redeliveries (a few minutes of orders at bench rates). */
const REMEMBERED_COMMANDS = 200_000;

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

  // 2. State and the shared writer.
  const owned = new Map<string, Owned>();
  const nc = await connect({ servers: natsUrl, name: `engine ${engineId}` });
  const fatal = (error: Error) => {
    log.fatal({ err: error, engineId }, 'engine stops');
    hooks.onFatal(error);
  };
  const writer = await JournalWriter.open(pool, {
    shared: { writer: writerId, funds: true },
    marketFence: (ids) =>
      ids
        .filter((id) => !id.startsWith('@'))
        .map((marketId) => ({ marketId, epoch: owned.get(marketId)?.epoch ?? 0 })),
    onCommitted: (seq) => {
      nc.publish(subjects.journal, String(seq));
    },
    observe: journalObserver,
    onFatal: fatal,
  });
  const core = await buildCore(config, log, { pool, writer });
  const { supervisor, ledger } = core;
  // Expiries are commands the owner of a market sends itself: not built for engines yet.
  supervisor.stopExpiries();
  const recovered = core.recovered.lastGlobalSeq;
  await seedClusterFunds(pool, core, recovered, log);

  // Command ids answered (ours and, from the journal tail, the other owners'): a redelivery after a
  // failover gets the journaled result.
  const answered = new Map<string, CommandResult>();
  const remember = (id: string, result: CommandResult) => {
    answered.set(id, result);
    if (answered.size > REMEMBERED_COMMANDS) answered.delete(answered.keys().next().value!);
  };

  // The state is exactly the journal up to `recovered` now (no command, no replica yet): the one
  // quiescent instant an engine snapshots at, so the next start replays less. Another engine that
  // recovered to the same row wrote the same set (its rows conflict and are skipped).
  if (core.recovered.records > 0) {
    await takeSnapshot(pool, {
      supervisor,
      writer: { stats: () => ({ lastGlobalSeq: recovered, pending: 0 }) },
    }).then(
      (result) => {
        log.info(result, 'snapshot taken at the end of recovery');
      },
      (error: unknown) => {
        log.warn({ err: error }, 'no snapshot after recovery; the next start replays more');
      },
    );
  }

  // A command answered before this start (by a predecessor of ours, or another engine) may be asked
  // again until the gateway's deadline: the ids of the recent journal are remembered too.
  await rememberRecentCommands(pool, recovered, remember);

  // 3. The replica of the other engines' rows.
  const follower = new JournalFollower(pool, {
    ledger,
    supervisor,
    self: writerId,
    after: recovered,
    publish: (batch: JournalBatch) => {
      for (const entry of batch.entries)
        if (entry.commandId !== undefined) remember(entry.commandId, entry.result);
    },
    settled: () => writerSettled(writer),
    onFatal: fatal,
  });
  follower.start();

  // 4. NATS, registry, leases, control loop.
  const leaseOptions = { ttlMs: config.LEASE_TTL_MS, renewEveryMs: config.LEASE_RENEW_MS };
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

  const inFlight = new Map<string, ((result: CommandResult) => void)[]>();
  const serve = (marketId: string, symbol: string): Subscription =>
    nc.subscribe(subjects.command(marketId), {
      callback: (error, msg) => {
        if (error !== null) return;
        let request: CommandRequest;
        try {
          request = decodeCommandRequest(msg.data);
        } catch (parseError) {
          log.warn({ err: parseError, marketId }, 'a command request that does not parse');
          return;
        }
        const respond = (result: CommandResult) => {
          msg.respond(encodeCommandReply(result));
        };
        const market = owned.get(marketId);
        if (market?.serving !== true || !market.lease.held() || request.symbol !== symbol) {
          respond({
            ok: false,
            code: 'unavailable',
            message: `market ${request.symbol} is moving; try again`,
          });
          return;
        }
        const done = answered.get(request.id);
        if (done !== undefined) {
          metrics.redeliveries.inc();
          respond(done);
          return;
        }
        const waiting = inFlight.get(request.id);
        if (waiting !== undefined) {
          metrics.redeliveries.inc();
          waiting.push(respond);
          return;
        }
        inFlight.set(request.id, [respond]);
        supervisor.send(
          symbol,
          request.command,
          request.ts,
          (result) => {
            // Refusals before the journal (busy, not committed) may be asked again and run then.
            if (result.ok || (result.code !== 'overloaded' && result.code !== 'unavailable')) {
              remember(request.id, result);
            }
            const replies = inFlight.get(request.id) ?? [];
            inFlight.delete(request.id);
            for (const reply of replies) reply(result);
          },
          request.id,
        );
      },
    });

  const markets = () => supervisor.list().map((m) => ({ id: m.id, symbol: m.symbol }));
  const take = async (marketId: string, symbol: string) => {
    const lease = await leases.acquire(marketId).catch(() => undefined);
    if (lease === undefined) return;
    log.debug({ marketId, epoch: lease.epoch }, 'lease taken; claiming the epoch');
    const claim = await claimMarketEpoch(pool, { marketId, epoch: lease.epoch, holder: writerId });
    if (!claim.claimed) {
      log.warn({ marketId, epoch: lease.epoch, current: claim.current }, 'a newer owner claimed the market');
      await lease.release();
      return;
    }
    const market: Owned = { lease, epoch: lease.epoch, serving: false, subscription: undefined };
    owned.set(marketId, market);
    lease.onLost((error) => {
      metrics.leaseLosses.inc();
      fatal(error);
    });
    // Every batch of the previous owner is committed or fenced out now: the tail is final.
    log.debug({ marketId, epoch: lease.epoch }, 'epoch claimed; catching up the journal');
    await follower.catchUp();
    supervisor.actor(symbol)?.finishRecovery();
    market.serving = true;
    market.subscription = serve(marketId, symbol);
    metrics.takeovers.inc();
    log.info({ marketId, epoch: lease.epoch, engineId }, 'market taken');
  };
  const hand = async (marketId: string) => {
    const market = owned.get(marketId);
    if (market === undefined) return;
    market.serving = false;
    market.subscription?.unsubscribe();
    // Its commands answered: the next owner's catch-up then sees all of them (a halted market's
    // rebuild is not waited for: the fence refuses what it would write).
    const symbol = supervisor.list().find((m) => m.id === marketId)?.symbol;
    const deadline = Date.now() + 10 * config.LEASE_RENEW_MS;
    while (symbol !== undefined && !supervisor.isMarketIdle(symbol) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    owned.delete(marketId);
    await market.lease.release();
    log.info({ marketId, engineId }, 'market handed over');
  };

  let stopping = false;
  let round: Promise<void> | undefined;
  const control = async () => {
    const live = await registry.live();
    log.debug({ live, owned: [...owned.keys()] }, 'control round');
    const all = markets();
    const plan = ownershipPlan(
      engineId,
      live,
      all.map((m) => m.id),
      new Set(owned.keys()),
    );
    for (const marketId of plan.release) await hand(marketId);
    for (const marketId of plan.acquire) {
      const symbol = all.find((m) => m.id === marketId)?.symbol;
      if (symbol !== undefined && !stopping) await take(marketId, symbol);
    }
    metrics.ownedMarkets.set(owned.size);
    let renewals = 0;
    for (const market of owned.values()) renewals += market.lease.renewed;
    metrics.leaseRenewals.set(renewals);
  };
  const tick = () => {
    if (stopping || round !== undefined) return;
    round = control()
      .catch((error: unknown) => {
        log.warn({ err: error }, 'control round failed; next round retries');
      })
      .finally(() => {
        round = undefined;
      });
  };
  tick();
  const timer = setInterval(tick, config.LEASE_RENEW_MS);

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
    owned: () => [...owned.entries()].filter(([, m]) => m.serving).map(([id]) => id),
    close: async () => {
      stopping = true;
      clearInterval(timer);
      await round;
      for (const marketId of [...owned.keys()]) await hand(marketId);
      metricsServer.close();
      await registry.leave().catch(() => undefined);
      journalNotices.unsubscribe();
      await follower.stop();
      await writer.close();
      await nc.drain().catch(() => undefined);
      await pool.end();
      await clusterLock.end();
    },
  };
}

/** An engine's only HTTP: GET /metrics on HOST:PORT (lease renewals, takeovers, redeliveries, journal). */
function serveMetrics(host: string, port: number): Promise<Server> {
  const server = createServer((request, response) => {
    if (request.method !== 'GET' || request.url !== '/metrics') {
      response.writeHead(404).end();
      return;
    }
    renderMetrics().then(
      (text) => response.writeHead(200, { 'content-type': metricsContentType }).end(text),
      () => response.writeHead(500).end(),
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      resolve(server);
    });
  });
}

/**
 * Joins the registry; an id still registered by a predecessor killed a moment ago lapses within the
 * TTL, so a restart under the same ENGINE_ID waits up to twice that.
 */
async function joinWhenFree(
  nc: NatsConnection,
  engineId: string,
  options: { ttlMs: number; renewEveryMs: number; bucket: string },
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

const RecentRow = z.object({ record: z.instanceof(Buffer) });

/** The command ids (and results) of the journal's rows committed in the last minute, up to `upTo`. */
async function rememberRecentCommands(
  pool: DatabasePool,
  upTo: number,
  remember: (id: string, result: CommandResult) => void,
): Promise<void> {
  const rows = await pool.any(sql.type(RecentRow)`
    SELECT record FROM journal
    WHERE global_seq <= ${upTo} AND global_seq > ${upTo - REMEMBERED_COMMANDS}
      AND committed_at > now() - interval '60 seconds' AND writer IS NOT NULL
    ORDER BY journal.global_seq`);
  for (const row of rows) {
    for (const entry of decodeBatch(row.record).entries) {
      if (entry.commandId !== undefined) remember(entry.commandId, entry.result);
    }
  }
}

/** A connection holding the cluster's shared advisory lock: ROLE=all (exclusive) cannot start. */
export async function holdClusterLock(databaseUrl: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  const locked = await client.query<{ locked: boolean }>(
    'SELECT pg_try_advisory_lock_shared($1, $2) AS locked',
    [...OWNER_LOCK_KEY],
  );
  if (locked.rows[0]?.locked !== true) {
    await client.end();
    throw new Error('a ROLE=all exchange owns this database: cluster roles cannot run beside it');
  }
  client.on('error', () => undefined);
  return client;
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

/**
 * cluster_funds equals the journal's available balances once seeded. The first engine on a
 * database (or the first after a ROLE=all run wrote past the seeded point) seeds it from its
 * recovered ledger, under the head's lock, only if nobody wrote since its recovery.
 */
async function seedClusterFunds(
  pool: DatabasePool,
  core: Core,
  recovered: number,
  log: Logger,
): Promise<void> {
  await pool.transaction(async (tx) => {
    const head = await tx.one(sql.type(HeadRow)`
      SELECT seq::text AS seq, funds_at::text AS funds_at,
        EXISTS (SELECT 1 FROM journal WHERE writer IS NULL AND global_seq > coalesce(funds_at, -1)) AS unfunded
      FROM journal_head WHERE id = 1 FOR UPDATE`);
    if (head.funds_at !== null && !head.unfunded) return;
    if (Number(head.seq) !== recovered) {
      throw new Error(
        `cluster_funds needs seeding at global_seq ${head.seq} but this engine recovered to ${recovered}: start again`,
      );
    }
    const rows: { account: string; asset: string; available: string }[] = [];
    for (const account of core.ledger.snapshot().accounts) {
      if (account.account === EXTERNAL_ACCOUNT) continue;
      for (const b of account.balances)
        rows.push({ account: account.account, asset: b.asset, available: b.available });
    }
    await tx.query(sql.unsafe`DELETE FROM cluster_funds`);
    if (rows.length > 0) {
      await tx.query(sql.unsafe`
        INSERT INTO cluster_funds (account, asset, available)
        SELECT * FROM unnest(
          ${sql.array(
            rows.map((r) => r.account),
            'text',
          )},
          ${sql.array(
            rows.map((r) => r.asset),
            'text',
          )},
          ${sql.array(
            rows.map((r) => r.available),
            'numeric',
          )})`);
    }
    await tx.query(sql.unsafe`UPDATE journal_head SET funds_at = seq WHERE id = 1`);
    log.info({ accounts: rows.length, at: head.seq }, 'cluster_funds seeded from the journal');
  });
}

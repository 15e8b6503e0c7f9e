import type { ChainDeposits } from './funding/chainDeposits.ts';
import type { Funding } from './funding/index.ts';
import type { Logger } from 'pino';
import type { Catalog } from './actors/catalog.ts';
import type { Ledger } from './actors/ledger/index.ts';
import type { Supervisor } from './actors/supervisor.ts';
import type { Server } from 'node:http';
import { startConsumers, type Consumers } from './app/consumers.ts';
import { buildCore, type Core } from './app/core.ts';
import { openJobs, type Jobs } from './app/jobs.ts';
import { rolePlan, unlockedGate, type RolePlan } from './app/roles.ts';
import { buildServices, type Services } from './app/services.ts';
import { serveMetrics } from './app/cluster/metricsServer.ts';
import { ConsumerLocks } from './persistence/consumerLocks.ts';
import { setConsumerLockSource } from './persistence/metrics.ts';
import { openReplicaStorage, openStorage, type DatabaseHold, type Storage } from './app/storage.ts';
import { holdClusterLock } from './app/cluster/clusterLock.ts';
import { startReplica, type Replica } from './app/cluster/replica.ts';
import { buildTransport } from './app/transport.ts';
import type { ChainRuntime } from './chainRuntime.ts';
import type { Config } from './config.ts';
import { Ownership } from './persistence/owner.ts';
import type { RecoveryStats } from './persistence/recovery.ts';
import { takeSnapshot, type SnapshotResult } from './persistence/snapshots.ts';
import type { Admin } from './services/admin.ts';
import type { Issuance } from './services/issuance.ts';
import type { Authenticator } from './transport/auth.ts';
import type { RegisteredRoute } from './transport/http/router.ts';
import { assertPortFree } from './transport/listen.ts';

/*
 * The composition root: builds the exchange from its parts in numbered stages, each a function of
 * the stages before it (src/app/*.ts), no forward references (docs/architecture.md):
 *   1. config (parsed by the caller, src/config.ts) and the ownership lock;
 *   2. storage: migrations, the owned pool, the journal writer (openStorage);
 *   3–4. ledger, catalog, compliance records; the supervisor under the writer; recovery (buildCore);
 *   5. the committed event stream's consumers: publisher, candles, open orders, projector (startConsumers);
 *   6. the job queues (openJobs);
 *   7. the services, then the queues' workers and the integration (buildServices);
 *   8. the transport: gateway, HTTP, web pages, listen (buildTransport).
 * `npm start` (src/main.ts, built into dist/) and the tests both start it this way, on a real
 * Postgres and real sockets.
 */

export interface Exchange {
  /** The port the gateway listens on (PORT, or the one the OS chose for PORT=0). */
  readonly port: number;
  readonly catalog: Catalog;
  readonly supervisor: Supervisor;
  readonly ledger: Ledger;
  readonly admin: Admin;
  readonly auth: Authenticator;
  readonly chain: ChainRuntime;
  readonly issuance: Issuance;
  /** Custody addresses and chain deposits (sync-blockchain runs `sync`; tests call it directly). */
  readonly chainFunding: ChainDeposits;
  /** Settlement on chain and mints (issue 16; tests run `settlement.run` directly). */
  readonly chainSettlement: Pick<Funding, 'settlement' | 'settlementStore' | 'mints'>;
  /** What recovery replayed at this start (the crash test reports it). */
  readonly recovered: RecoveryStats;
  /** The HTTP routes as registered (each described in /api/v1/openapi.json). */
  readonly httpRoutes: readonly RegisteredRoute[];
  /** Stops accepting connections, drains, snapshots, lets the projections catch up, closes. */
  close(): Promise<void>;
}

/** What the process around the exchange hears of (src/main.ts; the crash test kills at snapshots). */
export interface ExchangeHooks {
  /**
   * The connection holding the database's ownership lock is gone: the journal writer refuses
   * every commit from now on (another exchange may own the database already), so the process
   * should exit without a clean shutdown (src/main.ts does). The exchange logs it either way.
   */
  readonly onOwnershipLost?: (error: Error) => void;
  /** A periodic snapshot begins (the state is about to be taken and written). */
  readonly snapshotStarting?: () => void;
  /** A periodic snapshot committed. */
  readonly snapshotTaken?: (result: SnapshotResult) => void;
}

/**
 * Starts the exchange, or throws before changing anything: DatabaseOwnedError (persistence/owner.ts)
 * when another exchange owns the database, PortInUseError (transport/listen.ts) when PORT is taken.
 * The ownership lock comes first, so the migrations too run only in the owner.
 */
export async function startExchange(
  config: Config,
  log: Logger,
  hooks: ExchangeHooks = {},
): Promise<Exchange> {
  const databaseUrl = config.DATABASE_URL;
  if (databaseUrl === undefined) throw new Error('DATABASE_URL is required (npm start provides one)');
  const ownership = await Ownership.acquire(databaseUrl, {
    onChange: (change, detail) => {
      if (change === 'suspended')
        log.warn({ detail }, 'database ownership lock connection lost; regaining it');
      else log.info({ detail }, 'database ownership lock regained');
    },
  });
  try {
    await assertPortFree(config.HOST, config.PORT);
    const owned = { ...config, DATABASE_URL: databaseUrl };
    const parts = await compose(owned, log, hooks, ownership, rolePlan('all'), () =>
      openStorage(owned, log, ownership, hooks.onOwnershipLost),
    );
    return await serveApi(owned, log, parts, ownership);
  } catch (error) {
    await ownership.release();
    throw error;
  }
}

/**
 * ROLE=gateway (docs/scale-out.md): the same exchange minus the writing and the background work: a
 * replica of the engines' shared journal (src/app/cluster/replica.ts) feeds the in-process
 * consumers, commands go to the markets' owners over NATS, credits and funding to the owner of
 * `@ledger`, listings are stored and announced (every engine and gateway loads them), jobs are
 * only enqueued and the durable consumers and the projector run in the workers (src/app/roles.ts).
 * Holds the cluster lock (no ROLE=all beside it); `onOwnershipLost` hears of a broken replica.
 */
export async function startGateway(
  config: Config,
  log: Logger,
  hooks: ExchangeHooks = {},
): Promise<Exchange> {
  const plan = rolePlan('gateway');
  return inCluster(config, async (owned, hold) => {
    await assertPortFree(config.HOST, config.PORT);
    const parts = await compose(owned, log, hooks, hold, plan, () =>
      openReplicaStorage(owned, log, hold, unlockedGate(plan)),
    );
    return serveApi(owned, log, parts, hold);
  });
}

/** ROLE=worker (src/app/roles.ts): what a worker runs, and GET /metrics on HOST:PORT. */
export interface WorkerProcess {
  /** The port of GET /metrics (PORT, or the one the OS chose for PORT=0). */
  readonly port: number;
  /** The consumers whose advisory locks this worker holds now (it runs those). */
  holding(): string[];
  close(): Promise<void>;
}

/**
 * ROLE=worker (docs/scale-out.md, "Roles"): a replica of the shared journal feeding the committed
 * event stream, the BullMQ workers, the durable consumers and the projector, each consumer only
 * while this worker holds its advisory lock (src/persistence/consumerLocks.ts: with several
 * workers one runs it, a standby takes over when it dies). Holds the cluster lock as gateways and
 * engines do; its only HTTP is GET /metrics.
 */
export async function startWorker(
  config: Config,
  log: Logger,
  hooks: ExchangeHooks = {},
): Promise<WorkerProcess> {
  const plan = rolePlan('worker');
  return inCluster(config, async (owned, hold) => {
    const locks = new ConsumerLocks(owned.DATABASE_URL, {
      onChange: (consumer, held) => {
        log.info({ consumer, held }, held ? 'consumer lock taken: running it here' : 'consumer lock lost');
      },
      onError: (error) => {
        log.warn({ err: error }, 'consumer locks not tried; retrying');
      },
    });
    try {
      const parts = await compose(owned, log, hooks, hold, plan, () =>
        openReplicaStorage(owned, log, hold, locks),
      );
      let server: Server;
      try {
        server = await serveMetrics(config.HOST, config.PORT);
      } catch (error) {
        await parts.shutdown(false, () => undefined);
        throw error;
      }
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : config.PORT;
      await locks.settled();
      setConsumerLockSource(locks);
      // `consumers`: those run here; the others stand by (a lock retried every second).
      log.info({ host: config.HOST, port, consumers: locks.holding() }, 'worker started');
      let closing: Promise<void> | undefined;
      return {
        port,
        holding: () => locks.holding(),
        close: () => {
          closing ??= parts
            .shutdown(true, () => {
              server.close();
            })
            .finally(() => locks.close());
          return closing;
        },
      };
    } catch (error) {
      await locks.close();
      throw error;
    }
  });
}

/** A cluster role's start under the cluster lock (a shared advisory lock: no ROLE=all beside it). */
async function inCluster<T>(
  config: Config,
  start: (owned: Config & { readonly DATABASE_URL: string }, hold: DatabaseHold) => Promise<T>,
): Promise<T> {
  const databaseUrl = config.DATABASE_URL;
  if (databaseUrl === undefined) throw new Error('DATABASE_URL is required (npm start provides one)');
  const lock = await holdClusterLock(databaseUrl);
  const hold: DatabaseHold = {
    lost: () => undefined,
    recordPort: () => Promise.resolve(),
    release: () => lock.end(),
  };
  try {
    return await start({ ...config, DATABASE_URL: databaseUrl }, hold);
  } catch (error) {
    await lock.end();
    throw error;
  }
}

/** Stages 2–7 of a role, and how to stop them (`stopServing` first: the transport or metrics). */
interface Composed {
  readonly core: Core;
  readonly consumers: Consumers;
  readonly services: Services;
  readonly jobs: Jobs;
  readonly storage: Storage;
  readonly replica: Replica | undefined;
  shutdown(snapshot: boolean, stopServing: () => void): Promise<void>;
}

async function compose(
  config: Config & { readonly DATABASE_URL: string },
  log: Logger,
  hooks: ExchangeHooks,
  ownership: DatabaseHold,
  plan: RolePlan,
  open: () => Promise<Storage>,
): Promise<Composed> {
  const storage = await open();
  const core = await buildCore(config, log, storage);
  // A cluster's markets run on the engines: no local expiries (and nothing to snapshot).
  if (!plan.ownsMarkets) core.supervisor.stopExpiries();
  const consumers = await startConsumers(config, log, storage, core, hooks);
  const replica: Replica | undefined = plan.followsJournal
    ? await startReplica(
        config,
        log,
        storage,
        core,
        (error) => {
          log.fatal({ err: error }, `the replica of the journal broke: this ${config.ROLE} must restart`);
          hooks.onOwnershipLost?.(error);
        },
        // The consumers' pushes: from the worker that runs them to the gateways' clients.
        plan.runsConsumers
          ? { fanout: consumers.consumerPushes, relay: 'send' }
          : { fanout: consumers.pushes, relay: 'receive' },
        consumers.follow,
      )
    : undefined;
  const jobs = await openJobs(config, log, storage, core, consumers);
  const services = await buildServices(
    config,
    log,
    storage,
    core,
    consumers,
    jobs,
    // A worker's jobs reach the owners too (lifecycle, `@ledger`); it serves no orders itself.
    replica,
  );
  const { pool, writer } = storage;
  const { supervisor } = core;
  const { projector, snapshots } = consumers;

  // Everything this start opened, in reverse; the snapshot only after serving (a start that
  // could not listen leaves the database as recovery found it).
  const shutdown = async (snapshot: boolean, stopServing: () => void): Promise<void> => {
    consumers.stopTimers();
    stopServing();
    await replica?.close();
    // Trend and valuation pulls write through the services: they end (a run in progress finishes) first.
    for (const job of services.trendJobs) await job.close();
    supervisor.stopExpiries();
    await supervisor.idle();
    await snapshots.stop();
    // Not once the ownership is lost: another exchange may own the database by now.
    const owned = ownership.lost() === undefined && plan.writesJournal;
    if (snapshot && owned) {
      // Like the last projection round below: the journal holds everything, a snapshot only
      // shortens the next recovery, so a failure (after one retry) is a warning, not a failed stop.
      const take = () => takeSnapshot(pool, { supervisor, writer });
      await take()
        .catch(take)
        .then(
          (result) => {
            log.info(result, 'snapshot taken at shutdown');
          },
          (error: unknown) => {
            log.warn({ err: error }, 'no snapshot at shutdown; the next start replays the journal');
          },
        );
    }
    await writer.close();
    await consumers.stopSaver();
    await consumers.stopHousekeeping();
    await projector.stop();
    // The last round is a courtesy (the next start catches up anyway): a pooled connection whose
    // backend Postgres ended (an outage just past) fails its first query, so one retry, then a warning.
    if (snapshot && owned) {
      await projector
        .runOnce()
        .catch(() => projector.runOnce())
        .catch((error: unknown) => {
          log.warn({ err: error }, 'projections not caught up at shutdown; the next start catches up');
        });
    }
    await services.notifications.close();
    await services.integration.close();
    await services.funding.close();
    await services.analytics.stop();
    for (const queue of jobs.queues) await queue.close();
    await services.chain.close();
    await pool.end();
    await ownership.release();
  };
  return { core, consumers, services, jobs, storage, replica, shutdown };
}

/** Stage 8: the transport (WebSocket, HTTP, web pages) on the composed exchange, listening. */
async function serveApi(
  config: Config & { readonly DATABASE_URL: string },
  log: Logger,
  parts: Composed,
  ownership: DatabaseHold,
): Promise<Exchange> {
  const { core, consumers, services, jobs, storage, replica } = parts;
  const transport = buildTransport(
    config,
    log,
    core,
    consumers,
    services,
    jobs,
    storage,
    replica === undefined
      ? undefined
      : async () => ({ role: 'gateway' as const, ...(await replica.status()) }),
  );
  const stopServing = () => {
    transport.close();
  };
  let port: number;
  try {
    port = await transport.listen();
  } catch (error) {
    await parts.shutdown(false, stopServing);
    throw error;
  }
  // Only names us to a second exchange: a failure here is the lost ownership's to report.
  await ownership.recordPort(port).catch((error: unknown) => {
    log.warn({ err: error }, 'the owner record has no port');
  });
  log.info({ host: config.HOST, port }, 'gateway listening');

  let closing: Promise<void> | undefined;
  return {
    port,
    catalog: core.catalog,
    supervisor: core.supervisor,
    ledger: core.ledger,
    admin: services.admin,
    auth: transport.auth,
    chain: services.chain,
    issuance: services.issuance,
    chainFunding: services.funding.chain,
    chainSettlement: services.funding,
    recovered: core.recovered,
    httpRoutes: transport.httpRoutes,
    close: () => {
      closing ??= parts.shutdown(true, stopServing);
      return closing;
    },
  };
}

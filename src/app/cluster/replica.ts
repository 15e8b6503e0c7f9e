import { connect, type NatsConnection } from 'nats';
import type { Logger } from 'pino';
import type { DatabasePool } from 'slonik';
import { z } from 'zod/v4';
import type { Core } from '../core.ts';
import type { Fanout } from '../../events/fanout.ts';
import type { Publication } from '../../protocol/topics.ts';
import type { Storage } from '../storage.ts';
import type { Config } from '../../config.ts';
import { natsConnectionOptions } from '../../cluster/config.ts';
import type { CommandRoute } from '../../services/orderEntry.ts';
import type { LedgerEntry } from '../../actors/supervisor.ts';
import type { ClusterStatusBody } from '../../transport/http/cluster.ts';
import { clusterSubjects } from './commands.ts';
import { marketClaims } from '../../cluster/epochs.ts';
import { JournalFollower } from '../../persistence/journalFollower.ts';
import { MarketLeases } from '../../cluster/lease.ts';
import { awaitedRoute, commandRouter, ledgerRoute } from './router.ts';
import { CatalogSync } from './catalogSync.ts';
import type { ListedMarket } from '../../actors/catalog.ts';
import { LEDGER_JOURNAL_ID, type CommandResult, type MarketCommand } from '../../actors/market/types.ts';

/*
 * ROLE=gateway's (and ROLE=worker's) view of the cluster: a replica of the shared journal
 * (follower.ts) feeding the committed event stream, so the gateway's market data, open orders and
 * balances are those of the journal the engines commit (same seq, same checksum as on any other
 * gateway); the command route to the owners (a gateway's); and what /admin/cluster shows.
 */

/** What /admin/cluster shows of a gateway (src/transport/http/cluster.ts names the shape). */
export type ClusterStatus = Omit<ClusterStatusBody, 'role'>;

export interface Replica {
  readonly route: CommandRoute;
  /** Credits and funding commands, to the engine that owns `@ledger`. */
  readonly ledger: LedgerEntry;
  /** A listing's lifecycle commands, answered once this replica holds their commit. */
  readonly submit: (symbol: string, command: MarketCommand, ts: number) => Promise<CommandResult>;
  /** Tells every engine and gateway that the catalog gained rows (after storing a listing). */
  readonly catalogChanged: () => void;
  status(): Promise<ClusterStatus>;
  close(): Promise<void>;
}

/** A relayed push batch, parsed at the boundary (the gateway only forwards it to its subscribers). */
const RelayedPushes = z.array(
  z.object({ topic: z.string().min(1), message: z.record(z.string(), z.unknown()) }),
);

/**
 * `pushes`: the durable consumers' pushes; `relay` says which way they cross NATS: a worker
 * (`send`) publishes those its consumers make, a gateway (`receive`) hands those to its clients.
 */
export async function startReplica(
  config: Config,
  log: Logger,
  storage: Storage,
  core: Core,
  onFatal: (error: Error) => void,
  pushes: { readonly fanout: Fanout<readonly Publication[]>; readonly relay: 'send' | 'receive' },
  onMarketAdded?: (market: ListedMarket) => void,
): Promise<Replica> {
  const natsUrl = config.NATS_URL;
  if (natsUrl === undefined) throw new Error(`ROLE=${config.ROLE} needs NATS_URL`);
  const subjects = clusterSubjects(config.CLUSTER_NAME);
  const catalog = new CatalogSync(storage.pool, core, { log, onMarketAdded });
  /**
   * The last `@ledger` row (a credit, a deposit, a withdrawal's change) this replica applied: sent
   * with every command as its `after`, so funds a client saw credited here are spendable at the
   * owner. Not the whole position: the owner would then wait for its replica on nearly every
   * command of a busy market (its own rows among them).
   */
  let lastLedgerRow = 0;
  const follower = new JournalFollower(storage.pool, {
    unknownMarket: () => catalog.sync(),
    ledger: core.ledger,
    supervisor: core.supervisor,
    after: core.recovered.lastGlobalSeq,
    publish: (batch, globalSeq) => {
      if (batch.marketId === LEDGER_JOURNAL_ID) lastLedgerRow = globalSeq;
      core.committed.publish(batch);
      storage.flushed.emit(globalSeq);
    },
    onFatal,
  });
  const nc: NatsConnection = await connect(natsConnectionOptions(natsUrl, config.ROLE));
  const notices = nc.subscribe(subjects.journal, {
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
  const relay = relayPushes(nc, subjects.pushes, pushes, log);
  follower.start();
  await follower.catchUp();
  // Answered once this replica holds the commit (bounded: past it the answer goes out anyway).
  const applied = async (globalSeq: number) => {
    const timeout = new Promise((resolve) => setTimeout(resolve, 5_000).unref());
    // A broken replica is onFatal's to report: the command itself committed.
    await Promise.race([follower.reach(globalSeq).catch(() => undefined), timeout]);
  };
  const route = commandRouter(nc, {
    cluster: config.CLUSTER_NAME,
    marketIdOf: (symbol) => core.catalog.market(symbol)?.definition.id,
    position: () => lastLedgerRow,
    log,
  });
  const leaseOptions = {
    ttlMs: config.LEASE_TTL_MS,
    renewEveryMs: config.LEASE_RENEW_MS,
    replicas: config.NATS_KV_REPLICAS,
    holder: 'gateway',
  };
  const leases = await MarketLeases.open(nc, { ...leaseOptions, bucket: subjects.leaseBucket });
  const engines = await MarketLeases.open(nc, { ...leaseOptions, bucket: subjects.engineBucket });
  return {
    route,
    ledger: ledgerRoute(nc, { cluster: config.CLUSTER_NAME, log, applied }),
    submit: awaitedRoute(nc, {
      cluster: config.CLUSTER_NAME,
      marketIdOf: (symbol) => core.catalog.market(symbol)?.definition.id,
      position: () => lastLedgerRow,
      log,
      applied,
    }),
    catalogChanged: () => {
      nc.publish(subjects.catalog);
    },
    status: () => clusterStatus(config.CLUSTER_NAME, storage.pool, core, leases, engines, follower.position),
    close: async () => {
      relay();
      notices.unsubscribe();
      listings.unsubscribe();
      await follower.stop();
      await nc.drain().catch(() => undefined);
    },
  };
}

/** Connects the consumers' pushes to NATS; returns the disconnect. Core NATS: at most once (a client reads the rest over HTTP). */
function relayPushes(
  nc: NatsConnection,
  subject: string,
  pushes: { readonly fanout: Fanout<readonly Publication[]>; readonly relay: 'send' | 'receive' },
  log: Logger,
): () => void {
  if (pushes.relay === 'send') {
    return pushes.fanout.subscribe((publications) => {
      if (publications.length > 0) nc.publish(subject, JSON.stringify(publications));
    });
  }
  const subscription = nc.subscribe(subject, {
    callback: (error, message) => {
      if (error !== null) return;
      const parsed = RelayedPushes.safeParse(safeJson(message.string()));
      if (!parsed.success) {
        log.warn({ subject }, 'relayed pushes dropped: not a list of publications');
        return;
      }
      pushes.fanout.emit(parsed.data);
    },
  });
  return () => {
    subscription.unsubscribe();
  };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

async function clusterStatus(
  cluster: string,
  pool: DatabasePool,
  core: Core,
  leases: MarketLeases,
  engines: MarketLeases,
  replicaGlobalSeq: number,
): Promise<ClusterStatus> {
  const fenced = await marketClaims(pool);
  const markets = await Promise.all(
    core.supervisor.list().map(async ({ id, symbol }) => {
      const holder = await leases.holderOf(id).catch(() => undefined);
      return {
        marketId: id,
        symbol,
        owner: holder?.holder,
        leaseEpoch: holder?.epoch,
        fencedEpoch: fenced.get(id)?.epoch,
        ownedSince: fenced.get(id)?.claimedAt,
      };
    }),
  );
  // A listing that a lapsing key held up is asked once more (lease.ts, liveKeys).
  const live = await engines.liveKeys().catch(() => engines.liveKeys());
  return { cluster, engines: live, markets, replicaGlobalSeq };
}

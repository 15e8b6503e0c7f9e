import { connect, type NatsConnection } from 'nats';
import type { Logger } from 'pino';
import type { DatabasePool } from 'slonik';
import type { Core } from '../core.ts';
import type { Storage } from '../storage.ts';
import type { Config } from '../../config.ts';
import { natsConnectionOptions } from '../../cluster/config.ts';
import type { CommandRoute } from '../../services/orderEntry.ts';
import type { ClusterStatusBody } from '../../transport/http/cluster.ts';
import { clusterSubjects } from './commands.ts';
import { marketEpochs } from '../../cluster/epochs.ts';
import { JournalFollower } from '../../persistence/journalFollower.ts';
import { MarketLeases } from '../../cluster/lease.ts';
import { commandRouter } from './router.ts';

/*
 * ROLE=gateway's view of the cluster: a replica of the shared journal (follower.ts) feeding the
 * committed event stream, so the gateway's market data, open orders and balances are those of the
 * journal the engines commit (same seq, same checksum as on any other gateway); the command route
 * to the owners; and what /admin/cluster shows.
 */

/** What /admin/cluster shows of a gateway (src/transport/http/cluster.ts names the shape). */
export type ClusterStatus = Omit<ClusterStatusBody, 'role'>;

export interface Replica {
  readonly route: CommandRoute;
  status(): Promise<ClusterStatus>;
  close(): Promise<void>;
}

export async function startReplica(
  config: Config,
  log: Logger,
  storage: Storage,
  core: Core,
  onFatal: (error: Error) => void,
): Promise<Replica> {
  const natsUrl = config.NATS_URL;
  if (natsUrl === undefined) throw new Error('ROLE=gateway needs NATS_URL');
  const subjects = clusterSubjects(config.CLUSTER_NAME);
  const follower = new JournalFollower(storage.pool, {
    ledger: core.ledger,
    supervisor: core.supervisor,
    after: core.recovered.lastGlobalSeq,
    publish: (batch, globalSeq) => {
      core.committed.publish(batch);
      storage.flushed.emit(globalSeq);
    },
    onFatal,
  });
  const nc: NatsConnection = await connect(natsConnectionOptions(natsUrl, 'gateway'));
  const notices = nc.subscribe(subjects.journal, {
    callback: () => {
      follower.poke();
    },
  });
  follower.start();
  await follower.catchUp();
  const route = commandRouter(nc, {
    cluster: config.CLUSTER_NAME,
    marketIdOf: (symbol) => core.catalog.market(symbol)?.definition.id,
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
    status: () => clusterStatus(config.CLUSTER_NAME, storage.pool, core, leases, engines, follower.position),
    close: async () => {
      notices.unsubscribe();
      await follower.stop();
      await nc.drain().catch(() => undefined);
    },
  };
}

async function clusterStatus(
  cluster: string,
  pool: DatabasePool,
  core: Core,
  leases: MarketLeases,
  engines: MarketLeases,
  replicaGlobalSeq: number,
): Promise<ClusterStatus> {
  const fenced = await marketEpochs(pool);
  const markets = await Promise.all(
    core.supervisor.list().map(async ({ id, symbol }) => {
      const holder = await leases.holderOf(id).catch(() => undefined);
      return {
        marketId: id,
        symbol,
        owner: holder?.holder,
        leaseEpoch: holder?.epoch,
        fencedEpoch: fenced.get(id),
      };
    }),
  );
  // A listing that a lapsing key held up is asked once more (lease.ts, liveKeys).
  const live = await engines.liveKeys().catch(() => engines.liveKeys());
  return { cluster, engines: live, markets, replicaGlobalSeq };
}

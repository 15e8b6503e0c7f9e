import type { ConnectionOptions } from 'nats';
import { z } from 'zod/v4';

/*
 * The environment of the cluster (docs/scale-out.md), as a zod shape for src/config.ts to spread
 * into its schema. ROLE chooses what this process runs; one binary serves every role:
 *
 * - `all` (the default, what `npm start` runs): today's single process, every market, the
 *   gateway, the ledger, the jobs. No NATS needed.
 * - `gateway`: WebSocket + HTTP, stateless; routes each market's commands to its owner over NATS
 *   and serves market data from a replica of the engines' shared journal (src/app/cluster/replica.ts).
 * - `engine` (src/app/cluster/engine.ts): takes the leases of the markets placement gives it (ENGINE_ID,
 *   src/cluster/placement.ts), recovers them from snapshot + journal, runs their actors and their
 *   journal writes, fenced per market (src/cluster/epochs.ts).
 * - `worker` (src/app.ts, startWorker): a replica of the shared journal, the BullMQ workers, the
 *   durable event consumers and the projector, each consumer under its advisory lock
 *   (src/persistence/consumerLocks.ts). A cluster needs at least one: gateways only enqueue.
 */

export const PROCESS_ROLES = ['all', 'gateway', 'engine', 'worker'] as const;
export type ProcessRole = (typeof PROCESS_ROLES)[number];

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);

/** One NATS URL, or several separated by commas (the servers of a NATS cluster). */
const NatsUrls = z
  .string()
  .transform((value) => value.split(',').map((part) => part.trim()))
  .pipe(z.array(z.url()).min(1))
  .transform((urls) => urls.join(','));

/** The servers of NATS_URL for nats.js `connect({ servers })`. */
export function natsServers(natsUrl: string): string[] {
  return natsUrl.split(',').map((part) => part.trim());
}

/**
 * How engines and gateways connect: every server of NATS_URL, and reconnecting for as long as the
 * process lives (nats.js gives up after 10 attempts by default, which would leave a gateway
 * without routing for good after a NATS outage; an engine stops anyway once its leases lapse).
 */
export function natsConnectionOptions(natsUrl: string, name: string): ConnectionOptions {
  return { servers: natsServers(natsUrl), name, maxReconnectAttempts: -1 };
}

export const CLUSTER_ENV = {
  ROLE: z.enum(PROCESS_ROLES).default('all'),
  /**
   * The JetStream server of the leases and commands (`npm start` sets it), or several servers of
   * one NATS cluster separated by commas (the client tries them in turn, and learns the others).
   */
  NATS_URL: NatsUrls.optional(),
  /**
   * Copies of the cluster's KV buckets (leases, engine registry) on a NATS cluster: 1 on a single
   * server; 3 on a 3-node cluster survives one node (odd numbers: a write needs a majority).
   * Applied when a bucket is created, and raised on a bucket that has fewer.
   */
  NATS_KV_REPLICAS: z.coerce.number().int().min(1).max(5).default(1),
  /** This engine's name in placement and on the leases (default: host and pid). */
  ENGINE_ID: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/)
    .optional(),
  /** Namespaces the cluster's NATS subjects and buckets (several clusters on one NATS server). */
  CLUSTER_NAME: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,32}$/)
    .default('exchange'),
  /** A market lease not renewed for this long is gone (the lease bucket's max age), ms. */
  LEASE_TTL_MS: positiveInt(3_000),
  /** Between lease renewals, and between a contender's attempts, ms. */
  LEASE_RENEW_MS: positiveInt(1_000),
};

/** Why a parsed cluster config cannot run (undefined: it can). Called by loadConfig. */
export function clusterConfigProblem(config: {
  readonly ROLE: ProcessRole;
  readonly NATS_URL?: string | undefined;
  readonly LEASE_TTL_MS: number;
  readonly LEASE_RENEW_MS: number;
}): string | undefined {
  if (config.ROLE !== 'all' && config.NATS_URL === undefined) {
    return `ROLE=${config.ROLE} needs NATS_URL (the JetStream server of the leases and commands)`;
  }
  if (config.LEASE_RENEW_MS * 2 > config.LEASE_TTL_MS - 500) {
    return 'LEASE_RENEW_MS must leave room for a missed renewal: 2 × LEASE_RENEW_MS ≤ LEASE_TTL_MS - 500';
  }
  return undefined;
}

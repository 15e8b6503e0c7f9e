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

export const CLUSTER_ENV = {
  ROLE: z.enum(PROCESS_ROLES).default('all'),
  /** The JetStream server of the leases and command streams (`npm start` sets it). */
  NATS_URL: z.url().optional(),
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

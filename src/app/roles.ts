import type { ProcessRole } from '../cluster/config.ts';
import type { JobPlacement } from '../jobs/queue.ts';
import { EVERY_CONSUMER_HERE, NO_CONSUMER_HERE, type ConsumerGate } from '../persistence/consumerLocks.ts';

/*
 * What each ROLE runs (docs/scale-out.md, "Roles"), in one table the composition root reads
 * (src/app.ts) instead of asking the role at each stage. In the cluster roles the background work
 * runs in workers only: a cluster needs at least one ROLE=worker, or nothing is projected, notified
 * or worked off the queues (gateways still enqueue, and their history reads wait for projections).
 * ROLE=engine composes its own stages (src/app/cluster/engine.ts); its row describes what it runs.
 */
export interface RolePlan {
  /** WebSocket + HTTP API (else only GET /metrics). */
  readonly servesApi: boolean;
  /** Appends to the journal (ROLE=all's owned writer; an engine's shared one). */
  readonly writesJournal: boolean;
  /** Follows the shared journal with a replica (src/app/cluster/replica.ts). */
  readonly followsJournal: boolean;
  /** Routes market commands to their owners over NATS. */
  readonly routesCommands: boolean;
  /** Runs the BullMQ workers (else only enqueues). */
  readonly runsJobWorkers: boolean;
  /** Runs the durable consumers and the projector (else reads their cursors). */
  readonly runsConsumers: boolean;
  /** Each durable consumer runs only under its advisory lock (several workers: one runs it). */
  readonly locksConsumers: boolean;
  /** Snapshots the state and runs the markets' expiry timers. */
  readonly ownsMarkets: boolean;
}

const PLANS: Readonly<Record<ProcessRole, RolePlan>> = {
  all: {
    servesApi: true,
    writesJournal: true,
    followsJournal: false,
    routesCommands: false,
    runsJobWorkers: true,
    runsConsumers: true,
    locksConsumers: false,
    ownsMarkets: true,
  },
  gateway: {
    servesApi: true,
    writesJournal: false,
    followsJournal: true,
    routesCommands: true,
    runsJobWorkers: false,
    runsConsumers: false,
    locksConsumers: false,
    ownsMarkets: false,
  },
  engine: {
    servesApi: false,
    writesJournal: true,
    followsJournal: true,
    routesCommands: false,
    runsJobWorkers: false,
    runsConsumers: false,
    locksConsumers: false,
    ownsMarkets: true,
  },
  worker: {
    servesApi: false,
    writesJournal: false,
    followsJournal: true,
    routesCommands: false,
    runsJobWorkers: true,
    runsConsumers: true,
    locksConsumers: true,
    ownsMarkets: false,
  },
};

export function rolePlan(role: ProcessRole): RolePlan {
  return PLANS[role];
}

/**
 * Where this process's job queues run their work. In a cluster the job schedulers are shared by
 * every process of the cluster, so one that closes leaves them to the others (ROLE=all removes
 * its schedules at close).
 */
export function jobPlacement(role: ProcessRole): JobPlacement {
  const plan = rolePlan(role);
  return { runsWorkers: plan.runsJobWorkers, sharedSchedules: role !== 'all' };
}

/**
 * The consumers' gate of a process that does not lock them: every consumer here (ROLE=all) or
 * none (a gateway, an engine). A worker's gate is its ConsumerLocks (consumerLocks.ts).
 */
export function unlockedGate(plan: RolePlan): ConsumerGate {
  return plan.runsConsumers ? EVERY_CONSUMER_HERE : NO_CONSUMER_HERE;
}

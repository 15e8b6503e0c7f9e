/*
 * The admin-only `actors` channel (PROTOCOL.md leaves it to the exchange): its topic and messages,
 * as the inspection feed (src/transport/inspection.ts) publishes them and the visualizer
 * (web/actors) reads them.
 */

export const ACTORS_TOPIC = 'actors';

export interface ActorTransition {
  readonly from: string;
  readonly to: string;
  readonly event: string;
  readonly ts: number;
  /** Replayed while the market was rebuilt after a fault, not a new change. */
  readonly replayed?: boolean;
}

export interface MarketFigures {
  readonly marketId: string;
  readonly symbol: string;
  /** The machine's id (its definition is bundled into the page): `marketLifecycle`. */
  readonly machine: string;
  readonly state: string;
  readonly status: 'running' | 'halted';
  /** Commands waiting when the last committed batch was reported. */
  readonly mailboxDepth: number;
  /**
   * The most commands waiting at once during the window (a batch's size plus what it left queued):
   * a market that keeps up under load drains its mailbox every batch, so the latest depth alone
   * reads 0 while the queue is busy.
   */
  readonly peakMailboxDepth: number;
  /** Commands processed per second over the last window (0 when idle). */
  readonly processedPerSec: number;
  readonly lastBatchSize: number;
  readonly processed: number;
  readonly batches: number;
  readonly faults: number;
  readonly lastFault?: string;
}

export interface MarketUpdate extends MarketFigures {
  /** In an update: the transitions since the previous message; in a snapshot: the latest ones. */
  readonly transitions: readonly ActorTransition[];
  /** Transitions of the window left out of `transitions` (a market flapping faster than the page can show). */
  readonly droppedTransitions?: number;
}

export interface SupervisorFigures {
  readonly markets: number;
  readonly halted: number;
  readonly mailboxDepth: number;
  readonly processedPerSec: number;
  readonly faults: number;
  readonly recoveries: number;
}

/**
 * A withdrawal as an actor (issue 15): its machine (`withdrawal`, machines/withdrawal.ts) and the
 * state its last journaled change left it in, from the committed event stream's
 * `withdrawal.changed`.
 */
export interface WithdrawalActorUpdate {
  readonly withdrawalId: string;
  /** The machine's id (its definition is bundled into the page): `withdrawal`. */
  readonly machine: string;
  readonly state: string;
  /** In a final state (confirmed, rejected, failed): shown for a while, then dropped. */
  readonly final: boolean;
  readonly userId: string;
  readonly asset: string;
  /** A decimal string in the asset's units. */
  readonly amount: string;
  readonly reason?: string;
  /** The last change's time, ms since epoch. */
  readonly ts: number;
  /** In an update: the transitions since the previous message; in a snapshot: those seen so far. */
  readonly transitions: readonly ActorTransition[];
}

export interface ActorsMessage {
  readonly op: 'actors';
  /** `snapshot`: every market (sent after `sub`); `update`: the markets that changed. */
  readonly kind: 'snapshot' | 'update';
  readonly ts: number;
  readonly supervisor: SupervisorFigures;
  readonly markets: readonly MarketUpdate[];
  /**
   * Withdrawals: in a snapshot the open ones and the recently finished; in an update those that
   * changed (absent when none did).
   */
  readonly withdrawals?: readonly WithdrawalActorUpdate[];
  /** Open withdrawals a snapshot left out (it carries at most a bounded number). */
  readonly withdrawalsOmitted?: number;
}

/**
 * One market of a cluster (issue 22, docs/scale-out.md) as GET /admin/cluster and the `cluster`
 * field of the system figures show it.
 */
export interface ClusterMarketFigures {
  readonly marketId: string;
  readonly symbol: string;
  /** The engine holding the market's lease now (absent while nobody does: a takeover). */
  readonly owner?: string;
  /** The lease's epoch (the revision of its JetStream KV create). */
  readonly leaseEpoch?: number;
  /** The epoch fenced in Postgres (`market_epochs`); differs from leaseEpoch during a takeover. */
  readonly fencedEpoch?: number;
  /** When fencedEpoch was claimed, ms since the Unix epoch: the owner's since, once the epochs agree. */
  readonly ownedSince?: number;
}

/**
 * Which engine owns which market, in the `system` figures (GET /admin/system and the `system`
 * pushes of the actors channel): `single` in ROLE=all (one process owns everything); on a
 * gateway, the live engines and each market's owner. `error` says the cluster could not be read
 * (NATS or Postgres): the lists are then empty.
 */
export type ClusterFigures =
  | { readonly mode: 'single' }
  | {
      readonly mode: 'cluster';
      /** CLUSTER_NAME. */
      readonly name: string;
      /** The live engines' ids, sorted. */
      readonly engines: readonly string[];
      readonly markets: readonly ClusterMarketFigures[];
      /** The last journal row this gateway's replica applied. */
      readonly replicaGlobalSeq: number;
      readonly error?: string;
    };

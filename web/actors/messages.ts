/*
 * The `actors` channel's messages as the page reads them: the same shapes as
 * src/transport/actorsChannel.ts (a unit test checks that the server's are assignable to these),
 * declared here because the page's program cannot load the server's modules.
 */

export interface ActorTransition {
  readonly from: string;
  readonly to: string;
  readonly event: string;
  readonly ts: number;
  readonly replayed?: boolean;
}

export interface MarketUpdate {
  readonly marketId: string;
  readonly symbol: string;
  readonly machine: string;
  readonly state: string;
  readonly status: 'running' | 'halted';
  readonly mailboxDepth: number;
  /** The most commands waiting at once during the window (what the page shows as the depth). */
  readonly peakMailboxDepth: number;
  readonly processedPerSec: number;
  readonly lastBatchSize: number;
  readonly processed: number;
  readonly batches: number;
  readonly faults: number;
  readonly lastFault?: string;
  readonly transitions: readonly ActorTransition[];
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

export interface ActorsMessage {
  readonly op: 'actors';
  readonly kind: 'snapshot' | 'update';
  readonly ts: number;
  readonly supervisor: SupervisorFigures;
  readonly markets: readonly MarketUpdate[];
}

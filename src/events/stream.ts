/**
 * The committed event stream: every batch the journal committed, as its ordered domain events
 * (the one fold, fold.ts), handed to consumers in commit order.
 *
 * In-process consumers (the publisher, market data, the open-order index) subscribe to a
 * CommittedEventStream: the supervisor's `publish` hook calls `publish(batch)` once the batch is
 * committed; the batch is folded once and each consumer is called in subscription order, before
 * the next batch.
 *
 * Durable consumers (the projector; next the notifier, settlement, analytics) run through a
 * DurableConsumerRunner (src/persistence/durableConsumers.ts): a name, a cursor row of their own
 * in Postgres (projection_cursors, the table of every durable consumer's cursor: migration
 * 1763800000081), and pages of journal records after it, folded the same way. A page's effects and the cursor's move commit in one
 * transaction, the cursor row locked for it, so each consumer sees every event exactly once, in
 * global_seq order, across restarts and with more than one runner. The projector keeps its own
 * pipelined page scheduler (src/persistence/projection/scheduler.ts) over the same fold and the
 * same cursor table (its row: `relational`).
 */

import type { JournalBatch } from '../actors/market/types.ts';
import type { DomainEvent } from './domain.ts';
import { foldBatch } from './fold.ts';

/** One committed batch and its domain events, in order. */
export interface CommittedBatch {
  readonly batch: JournalBatch;
  readonly events: readonly DomainEvent[];
}

/** A consumer in the exchange's process, called right after each commit (an object, not a closure). */
export interface InProcessConsumer {
  readonly name: string;
  onCommitted(committed: CommittedBatch): void;
}

/** The in-process side of the stream: one fold per committed batch, consumers in order. */
export class CommittedEventStream {
  readonly #consumers: InProcessConsumer[] = [];

  /** Adds a consumer after those subscribed before it (it is called after them, for every batch). */
  subscribe(consumer: InProcessConsumer): void {
    if (this.#consumers.some((c) => c.name === consumer.name)) {
      throw new Error(`a consumer ${consumer.name} is subscribed already`);
    }
    this.#consumers.push(consumer);
  }

  /** A batch the journal committed (the supervisor's `publish` hook): folds it, calls every consumer. */
  publish(batch: JournalBatch): CommittedBatch {
    const committed: CommittedBatch = { batch, events: foldBatch(batch) };
    const consumers = this.#consumers;
    for (let i = 0; i < consumers.length; i++) consumers[i]!.onCommitted(committed);
    return committed;
  }
}

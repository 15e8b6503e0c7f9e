import { Counter, Gauge, Histogram, register } from 'prom-client';
import type { JournalFlush } from './journalWriter.ts';

/**
 * Prometheus metrics of the persistence layer, on prom-client's default registry (the gateway's
 * /metrics serves it). Base units (seconds, bytes), counters end in `_total`. Registration is
 * idempotent: a module loaded twice in one process (tests, tsx and vitest loaders) reuses the
 * metric instead of failing on a duplicate name.
 */

/** What the lag gauges read at scrape time: the running projector's in-memory view. */
export interface ProjectionLagSource {
  lagRecords(): number;
  lagMs(): number;
}

let lagSource: ProjectionLagSource | undefined;

/** The projector that answers the lag gauges (the running one); undefined clears it. */
export function setProjectionLagSource(source: ProjectionLagSource | undefined): void {
  lagSource = source;
}

/** Clears the source only if it is still `source` (a newer projector may have taken over). */
export function clearProjectionLagSource(source: ProjectionLagSource): void {
  if (lagSource === source) lagSource = undefined;
}

function gauge(name: string, help: string, read: (source: ProjectionLagSource) => number): Gauge {
  const existing = register.getSingleMetric(name);
  if (existing instanceof Gauge) return existing;
  return new Gauge({
    name,
    help,
    collect() {
      if (lagSource !== undefined) this.set(read(lagSource));
    },
  });
}

function counter(name: string, help: string): Counter {
  const existing = register.getSingleMetric(name);
  if (existing instanceof Counter) return existing;
  return new Counter({ name, help });
}

function histogram(name: string, help: string, buckets: number[]): Histogram {
  const existing = register.getSingleMetric(name);
  if (existing instanceof Histogram) return existing;
  return new Histogram({ name, help, buckets });
}

export const projectionMetrics = {
  lagRecords: gauge(
    'exchange_projection_lag_records',
    'Committed journal records not yet applied to the relational projections',
    (s) => s.lagRecords(),
  ),
  lagSeconds: gauge(
    'exchange_projection_lag_seconds',
    'Age of the oldest committed journal record not yet projected (0 when caught up)',
    (s) => s.lagMs() / 1000,
  ),
  records: counter(
    'exchange_projected_records_total',
    'Journal records applied to the relational projections',
  ),
  entries: counter(
    'exchange_projected_entries_total',
    'Journal entries (commands: orders, cancels, lifecycle, deposits) applied to the projections',
  ),
  pages: counter('exchange_projection_pages_total', 'Projection transactions committed (one per page)'),
};

/** 0.5 ms to 5 s: a healthy group commit is a few ms; seconds mean Postgres is in trouble. */
const COMMIT_BUCKETS = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

const journal = {
  commitLatency: histogram(
    'exchange_journal_commit_latency_seconds',
    'Per journal flush: from its oldest record being queued to its COMMIT returning (what an ' +
      'acknowledgement waits for the journal)',
    COMMIT_BUCKETS,
  ),
  transaction: histogram(
    'exchange_journal_transaction_duration_seconds',
    'Per journal flush: the write transaction alone, BEGIN to COMMIT',
    COMMIT_BUCKETS,
  ),
  records: counter('exchange_journal_records_total', 'Journal records (market batches) committed'),
  bytes: counter('exchange_journal_bytes_total', 'Bytes of journal records committed'),
  failures: counter('exchange_journal_flush_failures_total', 'Journal flushes that failed'),
};

/** The journal writer's observation hook (JournalWriterOptions.observe), feeding the figures above. */
export const journalObserver = {
  flushed(flush: JournalFlush): void {
    journal.commitLatency.observe(flush.latencySeconds);
    journal.transaction.observe(flush.transactionSeconds);
    journal.records.inc(flush.records);
    journal.bytes.inc(flush.bytes);
  },
  failed(): void {
    journal.failures.inc();
  },
};

/** What the consumer-lock gauge reads at scrape time: a worker's locks (consumerLocks.ts). */
export interface ConsumerLockSource {
  wanted(): string[];
  held(name: string): boolean;
}

let lockSource: ConsumerLockSource | undefined;

/** The worker's locks that answer `exchange_consumer_lock_held` (undefined: none, ROLE=all and gateways). */
export function setConsumerLockSource(source: ConsumerLockSource | undefined): void {
  lockSource = source;
}

const lockHeldName = 'exchange_consumer_lock_held';
const existingLockHeld = register.getSingleMetric(lockHeldName);
if (!(existingLockHeld instanceof Gauge)) {
  new Gauge({
    name: lockHeldName,
    help: 'Per durable consumer a worker runs: 1 while this worker holds its lock (runs it), 0 standing by',
    labelNames: ['consumer'],
    collect() {
      if (lockSource === undefined) return;
      for (const consumer of lockSource.wanted()) this.set({ consumer }, lockSource.held(consumer) ? 1 : 0);
    },
  });
}

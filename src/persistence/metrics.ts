import { Counter, Gauge, register } from 'prom-client';

/**
 * Prometheus metrics of the persistence layer, on prom-client's default registry (the gateway's
 * /metrics serves it). Registration is idempotent: a module loaded twice in one process (tests,
 * tsx and vitest loaders) reuses the metric instead of failing on a duplicate name.
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

export const projectionMetrics = {
  lagRecords: gauge(
    'exchange_projection_lag_records',
    'Committed journal records not yet applied to the relational projections',
    (s) => s.lagRecords(),
  ),
  lagMs: gauge(
    'exchange_projection_lag_ms',
    'Age in ms of the oldest committed journal record not yet projected (0 when caught up)',
    (s) => s.lagMs(),
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

import { Counter, register } from 'prom-client';

/*
 * Metrics of the job workers, on prom-client's default registry (what GET /metrics serves). The
 * queue label takes the names the code gives its queues (a closed set). Registration is idempotent:
 * a module loaded twice in one process (tests, tsx and vitest loaders) reuses the metric.
 */

const NAME = 'exchange_job_payload_rejections_total';

const rejections =
  (register.getSingleMetric(NAME) as Counter<'queue'> | undefined) ??
  new Counter({
    name: NAME,
    help: 'Jobs failed without retry because their payload does not parse, by queue',
    labelNames: ['queue'] as const,
  });

/** A job of `queue` whose payload did not parse (failed at once, not retried). */
export function countPayloadRejection(queue: string): void {
  rejections.inc({ queue });
}

import { collectDefaultMetrics, Counter, Gauge, Histogram, register } from 'prom-client';

/*
 * The gateway's Prometheus metrics, on prom-client's default register (what GET /metrics serves)
 * next to the process defaults. Module state: one gateway per process; a second exchange in the
 * same process (tests) shares the counters and its connection count replaces the first's.
 */

// Another module may already have started the defaults on the same register: registering them
// twice throws.
if (register.getSingleMetric('process_cpu_user_seconds_total') === undefined) collectDefaultMetrics();

export const httpRequests = new Counter({
  name: 'exchange_http_requests_total',
  help: 'HTTP requests answered, by route pattern, method and status',
  labelNames: ['route', 'method', 'status'] as const,
});

export const httpDuration = new Histogram({
  name: 'exchange_http_request_duration_seconds',
  help: 'Time from request to response, by route pattern',
  labelNames: ['route'] as const,
  buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
});

let connectionCount: (() => number) | undefined;

/** Read at scrape time: nothing is paid per connection. */
new Gauge({
  name: 'exchange_ws_connections',
  help: 'Open WebSocket connections',
  collect() {
    this.set(connectionCount?.() ?? 0);
  },
});

/** Where the WebSocket connection gauge reads its value (the gateway's `connections`). */
export function observeConnections(count: () => number): void {
  connectionCount = count;
}

export const metricsContentType = register.contentType;

export function renderMetrics(): Promise<string> {
  return register.metrics();
}

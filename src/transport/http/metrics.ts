import { collectDefaultMetrics, Counter, Gauge, Histogram, register } from 'prom-client';
import type { JournalBatch } from '../../actors/market/types.ts';
import type { SupervisorObserver } from '../../actors/supervisor.ts';
import { HTTP_STATUS, type ErrorCode } from '../../protocol/errors.ts';

/*
 * The exchange's Prometheus metrics, on prom-client's default register (what GET /metrics serves)
 * next to the process defaults and the persistence figures (src/persistence/metrics.ts). Names in
 * base units (seconds, bytes), counters end in `_total`. Every label takes its values from a
 * closed set (known methods, route templates, error codes, order types, listed markets): nothing
 * a client sends can add a series. Module state: one exchange per process; a second exchange in
 * the same process (tests) shares the counters and its sources replace the first's.
 */

// Another module may already have started the defaults on the same register: registering them
// twice throws.
if (register.getSingleMetric('process_cpu_user_seconds_total') === undefined) {
  collectDefaultMetrics();
  // Gauges named like counters (promtool: "non-counter metrics should not have _total suffix");
  // nodejs_active_handles, _requests and _resources carry the same figures by type.
  for (const name of [
    'nodejs_active_handles_total',
    'nodejs_active_requests_total',
    'nodejs_active_resources_total',
  ])
    register.removeSingleMetric(name);
}

/** Value of every label whose input is outside its closed set. */
export const OTHER = 'other';

const METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']);

/** The method label: one of the methods HTTP defines (as sent, case-sensitive), else `other`. */
export function methodLabel(method: string): string {
  return METHODS.has(method) ? method : OTHER;
}

const ERROR_CODES: ReadonlySet<string> = new Set(Object.keys(HTTP_STATUS));

/** The code label: one of the exchange's error codes, else `other`. */
export function codeLabel(code: string): ErrorCode | typeof OTHER {
  return ERROR_CODES.has(code) ? (code as ErrorCode) : OTHER;
}

export const httpRequests = new Counter({
  name: 'exchange_http_requests_total',
  help: 'HTTP requests answered, by route template (other: no route), method and status',
  labelNames: ['route', 'method', 'status'] as const,
});

export const httpDuration = new Histogram({
  name: 'exchange_http_request_duration_seconds',
  help: 'Time from request to response, by route template',
  labelNames: ['route'] as const,
  buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
});

// --- Trading -----------------------------------------------------------------------------------

/*
 * Counts on the order path are kept in nested Maps and handed to prom-client at scrape time:
 * prom-client's inc with labels costs ~535 ns (it hashes and validates the labels), a nested Map
 * ~54 ns (2M increments each, measured on the development machine).
 */
class Tally {
  private readonly counts = new Map<string, Map<string, Map<string, number>>>();

  add(a: string, b: string, c = ''): void {
    let byA = this.counts.get(a);
    if (byA === undefined) this.counts.set(a, (byA = new Map<string, Map<string, number>>()));
    let byB = byA.get(b);
    if (byB === undefined) byA.set(b, (byB = new Map<string, number>()));
    byB.set(c, (byB.get(c) ?? 0) + 1);
  }

  *entries(): Generator<readonly [string, string, string, number]> {
    for (const [a, byA] of this.counts)
      for (const [b, byB] of byA) for (const [c, n] of byB) yield [a, b, c, n];
  }
}

const placed = new Tally();
const refused = new Tally();

/** An order placed (WebSocket or HTTP) and the outcome answered: its status, or `rejected`. */
export function countOrder(type: string, side: string, outcome: string): void {
  placed.add(type, side, outcome);
}

/** An order command answered with an error. */
export function countRejection(op: 'place' | 'amend' | 'cancel' | 'cancel_all', code: ErrorCode): void {
  refused.add(op, code);
}

new Counter({
  name: 'exchange_orders_total',
  help: 'Orders placed (WebSocket and HTTP), by type, side and outcome (status answered, or rejected)',
  labelNames: ['type', 'side', 'outcome'] as const,
  collect() {
    this.reset();
    for (const [type, side, outcome, n] of placed.entries()) this.inc({ type, side, outcome }, n);
  },
});

new Counter({
  name: 'exchange_rejections_total',
  help: 'Order commands answered with an error, by operation and error code',
  labelNames: ['op', 'code'] as const,
  collect() {
    this.reset();
    for (const [op, code, , n] of refused.entries()) this.inc({ op, code }, n);
  },
});

const errors = new Tally();

/** An error answered to a client (a WebSocket error frame, an HTTP error body). */
export function countErrorAnswer(transport: 'ws' | 'http', code: string): void {
  errors.add(transport, codeLabel(code));
}

new Counter({
  name: 'exchange_error_answers_total',
  help: 'Error answers of either surface (WebSocket error frames, HTTP error bodies), by transport and code',
  labelNames: ['transport', 'code'] as const,
  collect() {
    this.reset();
    for (const [transport, code, , n] of errors.entries()) this.inc({ transport, code }, n);
  },
});

const trades = new Counter({
  name: 'exchange_trades_total',
  help: 'Trades (fills) committed, by market',
  labelNames: ['market'] as const,
});

const matching = new Histogram({
  name: 'exchange_matching_batch_duration_seconds',
  help: 'Time a market takes to process one mailbox batch (matching and ledger postings)',
  buckets: [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1],
});

const matchedCommands = new Counter({
  name: 'exchange_matching_commands_total',
  help: 'Commands processed by the markets (in batches)',
});

/** The supervisor's observation hook (SupervisorOptions.observe). */
export const supervisorObserver: SupervisorObserver = {
  batchProcessed(_symbol, commands, seconds) {
    matching.observe(seconds);
    matchedCommands.inc(commands);
  },
};

/** Counts the fills of a committed batch (called from the supervisor's publish hook). */
export function countTrades(batch: JournalBatch): void {
  let fills = 0;
  for (const entry of batch.entries) {
    if (!entry.result.ok) continue;
    for (const event of entry.result.events) if (event.type === 'fill') fills++;
  }
  if (fills > 0) trades.inc({ market: batch.symbol }, fills);
}

// --- Read at scrape time: nothing is paid per event ------------------------------------------

export interface MetricSources {
  /** Open WebSocket connections. */
  readonly connections?: () => number;
  /** Subscriptions held by all connections. */
  readonly subscriptions?: () => number;
  /** Every listed market's mailbox (the supervisor's `list`). */
  readonly markets?: () => readonly { readonly symbol: string; readonly mailboxDepth: number }[];
  /** Job queues by name: jobs per state (waiting, delayed, active, ...). */
  readonly jobQueues?: readonly JobQueueSource[];
}

export interface JobQueueSource {
  readonly name: string;
  counts(): Promise<Readonly<Record<string, number>>>;
}

let sources: MetricSources = {};

/** Where the scrape-time gauges read (a later call replaces what it names). */
export function observe(more: MetricSources): void {
  sources = { ...sources, ...more };
}

new Gauge({
  name: 'exchange_ws_connections',
  help: 'Open WebSocket connections',
  collect() {
    this.set(sources.connections?.() ?? 0);
  },
});

new Gauge({
  name: 'exchange_ws_subscriptions',
  help: 'Channel subscriptions held by the open WebSocket connections',
  collect() {
    this.set(sources.subscriptions?.() ?? 0);
  },
});

new Gauge({
  name: 'exchange_mailbox_depth',
  help: 'Commands waiting in a market actor mailbox',
  labelNames: ['market'] as const,
  collect() {
    // Markets come and go (tests): only those listed now.
    this.reset();
    for (const market of sources.markets?.() ?? []) this.set({ market: market.symbol }, market.mailboxDepth);
  },
});

/** A scrape waits at most this long for Redis: a slow queue must not stall /metrics. */
const JOB_COUNTS_TIMEOUT_MS = 500;
const JOB_STATES = ['waiting', 'delayed', 'active', 'prioritized', 'failed'] as const;

new Gauge({
  name: 'exchange_job_queue_depth',
  help: 'Jobs in a BullMQ queue, by queue and state (absent while Redis does not answer)',
  labelNames: ['queue', 'state'] as const,
  async collect() {
    this.reset();
    const queues = sources.jobQueues ?? [];
    const counted = await Promise.all(queues.map((q) => withTimeout(q.counts(), JOB_COUNTS_TIMEOUT_MS)));
    queues.forEach((queue, i) => {
      const counts = counted[i];
      if (counts === undefined) return;
      for (const state of JOB_STATES) this.set({ queue: queue.name, state }, counts[state] ?? 0);
    });
  },
});

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => {
      resolve(undefined);
    }, ms);
  });
  try {
    return await Promise.race([promise.catch(() => undefined), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export const metricsContentType = register.contentType;

export function renderMetrics(): Promise<string> {
  return register.metrics();
}

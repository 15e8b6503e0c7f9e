import path from 'node:path';
import { z } from 'zod/v4';
import { FUNDING_ENV } from './funding/config.ts';
import { CHAIN_ENV } from './chain/config.ts';
import { ANALYTICS_ENV } from './analytics/config.ts';
import { INTEGRATIONS_ENV } from './integrations/config.ts';
import { MARKETDATA_ENV } from './marketdata/config.ts';
import { NOTIFY_ENV } from './notifications/config.ts';
import { REPO_ROOT } from './repoRoot.ts';
import { TRENDS_ENV } from './trends/config.ts';
import { CLUSTER_ENV, clusterConfigProblem } from './cluster/config.ts';

const DEV_JWT_SECRET = 'development-only-jwt-secret-change-me';
const DEV_WEBHOOK_SECRET = 'development-only-webhook-secret-change-me';

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);

const schema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** `auto`: pretty lines when stdout is a terminal, JSON otherwise (src/logger.ts). */
  LOG_FORMAT: z.enum(['auto', 'json', 'pretty']).default('auto'),
  HOST: z.string().min(1).default('127.0.0.1'),
  /** The built web pages (`npm run build` and `npm run build:web` write them there). */
  WEB_DIR: z
    .string()
    .min(1)
    .default(path.join(REPO_ROOT, 'dist', 'web')),
  PORT: z.coerce.number().int().min(0).max(65_535).default(3000),
  DATABASE_URL: z.url().optional(),
  REDIS_URL: z.url().optional(),
  /** HS256 key of the JWTs clients present (PROTOCOL.md, Tokens). */
  JWT_SECRET: z.string().min(16).default(DEV_JWT_SECRET),
  WEBHOOK_SECRET: z.string().min(16).default(DEV_WEBHOOK_SECRET),
  /** Unset: the exchange starts a local anvil itself, on first use, and stops it on exit. */
  CHAIN_RPC_URL: z.url().optional(),
  CHAIN_ID: z.coerce.number().int().positive().default(31_337),
  CHAIN_PRIVATE_KEY: z
    .string()
    .regex(/^0x[0-9a-fA-F]{64}$/)
    .optional(),
  /** Largest WebSocket frame a client may send, bytes. */
  WS_MAX_FRAME_BYTES: positiveInt(16 * 1024),
  /** Bytes buffered for a connection that does not read before it is dropped. */
  WS_MAX_BACKPRESSURE_BYTES: positiveInt(4 * 1024 * 1024),
  /** Seconds without any frame before a connection is closed (uWS sends pings in between). */
  WS_IDLE_TIMEOUT_S: positiveInt(120),
  WS_MAX_SUBSCRIPTIONS: positiveInt(100),
  /** Every frame a connection sends takes a token of its own bucket: refill per second, burst. */
  WS_RATE_FRAMES_PER_S: positiveInt(4_000),
  WS_RATE_FRAMES_BURST: positiveInt(8_000),
  /** A `sub` also takes a token of the connection's sub bucket (each one answers a snapshot). */
  WS_RATE_SUBS_PER_S: positiveInt(10),
  WS_RATE_SUBS_BURST: positiveInt(50),
  /** And the bytes of the snapshots a connection's subs are answered with (a 4,000-level book is ~100 KB). */
  WS_RATE_SNAPSHOT_BYTES_PER_S: positiveInt(1024 * 1024),
  WS_RATE_SNAPSHOT_BYTES_BURST: positiveInt(1024 * 1024),
  /** Requests of one connection awaiting their answer (places before commit, auth checks). */
  WS_MAX_PENDING_REQUESTS: positiveInt(10_000),
  /** Open WebSocket connections (with upgrades being authenticated): in all, and per address. */
  WS_MAX_CONNECTIONS: positiveInt(10_000),
  WS_MAX_CONNECTIONS_PER_IP: positiveInt(100),
  /** Token bucket of order entry (places, amends, cancels) per user: refill per second and burst. */
  RATE_ORDERS_PER_S: positiveInt(2_000),
  RATE_ORDERS_BURST: positiveInt(4_000),
  MAX_OPEN_ORDERS_PER_USER: positiveInt(10_000),
  /** Past this many unprojected journal records new places answer `overloaded`. */
  PROJECTION_MAX_LAG_RECORDS: positiveInt(50_000),
  /** How often the projector looks for new journal records, ms (a history read also starts a round). */
  PROJECTION_INTERVAL_MS: positiveInt(50),
  /**
   * Longest a history read (GET /orders, /markets/:id/trades) waits for the projections to hold
   * what was committed before it, ms; past it the read answers 503 `unavailable` and /health says
   * `history: "catching_up"`.
   */
  HISTORY_WAIT_MS: positiveInt(2_000),
  /** A snapshot of every market and the ledger after this many journal records, or this long. */
  SNAPSHOT_EVERY_RECORDS: positiveInt(100_000),
  SNAPSHOT_INTERVAL_MS: positiveInt(60_000),
  HTTP_MAX_BODY_BYTES: positiveInt(64 * 1024),
  /** HTTP requests being served at once (bodies being read included); beyond, 503 `overloaded`. */
  HTTP_MAX_PENDING_REQUESTS: positiveInt(1_000),
  /** The same per source address (IPv6: per /64); beyond, 429 `rate_limited`. */
  HTTP_MAX_PENDING_REQUESTS_PER_IP: positiveInt(256),
  /** A request body not received in full within this many ms is answered 408, connection closed. */
  HTTP_BODY_TIMEOUT_MS: positiveInt(10_000),
  /** Commands one market's mailbox holds; beyond it commands answer `overloaded`. */
  MAILBOX_SIZE: positiveInt(10_000),
  /** Deploy-token job: attempts, and the first retry delay in ms (doubling). */
  DEPLOY_ATTEMPTS: positiveInt(5),
  DEPLOY_BACKOFF_MS: positiveInt(2_000),
  // The entity-permissions integration (src/integrations/config.ts).
  ...INTEGRATIONS_ENV,
  // Candles, tickers and reference prices (src/marketdata/config.ts).
  ...MARKETDATA_ENV,
  // Trend markets (src/trends/config.ts).
  ...TRENDS_ENV,
  // Fiat funding: Paystack, PayFast, Ozow, withdrawals (src/funding/config.ts).
  ...FUNDING_ENV,
  // Back-testing and analytics (src/analytics/config.ts).
  ...ANALYTICS_ENV,
  // Custody addresses and chain funding (src/chain/config.ts, issue 16).
  ...CHAIN_ENV,
  // Notifications: email, SMS, push, webhooks (src/notifications/config.ts).
  ...NOTIFY_ENV,
  // Roles, NATS and market leases (src/cluster/config.ts, docs/scale-out.md).
  ...CLUSTER_ENV,
});

export type Config = Readonly<z.infer<typeof schema>>;

/** Parses the environment once at boot; a bad variable stops the process with its name and why. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`invalid environment: ${problems}`);
  }
  const config = parsed.data;
  if (config.ENTITY_PERMISSIONS_POLL && config.ENTITY_PERMISSIONS_URL === undefined) {
    throw new Error('invalid environment: ENTITY_PERMISSIONS_POLL needs ENTITY_PERMISSIONS_URL');
  }
  const cluster = clusterConfigProblem(config);
  if (cluster !== undefined) throw new Error(`invalid environment: ${cluster}`);
  if (config.NODE_ENV === 'production') {
    for (const [key, dev] of [
      ['JWT_SECRET', DEV_JWT_SECRET],
      ['WEBHOOK_SECRET', DEV_WEBHOOK_SECRET],
    ] as const) {
      if (config[key] === dev) throw new Error(`invalid environment: ${key} must be set in production`);
    }
  }
  return Object.freeze(config);
}

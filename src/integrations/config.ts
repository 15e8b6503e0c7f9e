import { z } from 'zod/v4';
import { commaList } from '../envShapes.ts';
import { EntityPermissionsClient, LocalPolicy, type EntityPermissions } from './entityPermissions.ts';
import { SnsVerifier } from './snsSignature.ts';
import type { RefusalLimits } from './webhookRefusals.ts';

/*
 * The environment of the entity-permissions integration, as a zod shape for src/config.ts to
 * spread into its schema (one frozen config object, parsed at boot), and the factories that turn
 * the parsed values into the client and the SNS verifier.
 */

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);
const list = commaList;
const flag = z
  .enum(['true', 'false', '1', '0'])
  .default('false')
  .transform((value) => value === 'true' || value === '1');

export const INTEGRATIONS_ENV = {
  /** Base URL of the entity-permissions service; unset = the local policy by JWT roles, no polling. */
  ENTITY_PERMISSIONS_URL: z.url().optional(),
  ENTITY_PERMISSIONS_API_KEY: z.string().min(1).optional(),
  /** One HTTP attempt. */
  ENTITY_PERMISSIONS_TIMEOUT_MS: positiveInt(1_000),
  /** Attempts after the first, on network errors, timeouts, 5xx and 429. */
  ENTITY_PERMISSIONS_RETRIES: z.coerce.number().int().min(0).max(10).default(2),
  ENTITY_PERMISSIONS_BACKOFF_MS: positiveInt(100),
  /** A whole call, retries included; then `unavailable` (503). */
  ENTITY_PERMISSIONS_DEADLINE_MS: positiveInt(3_000),
  /** The polling fallback of the events API (needs ENTITY_PERMISSIONS_URL). */
  ENTITY_PERMISSIONS_POLL: flag,
  ENTITY_PERMISSIONS_POLL_INTERVAL_MS: positiveInt(10_000),
  ENTITY_PERMISSIONS_POLL_PAGE_SIZE: positiveInt(100),
  /** Hosts SNS signing certificates and SubscribeURLs may come from (`*` = one DNS label). */
  SNS_ALLOWED_HOSTS: list('sns.*.amazonaws.com,sns.*.amazonaws.com.cn'),
  /** SNS topics whose messages are accepted; empty = every SNS message is refused. */
  SNS_TOPIC_ARNS: list(''),
  /**
   * Refused webhook posts (bad signature, malformed): per window of WEBHOOK_REFUSAL_WINDOW_S, an
   * address gets WEBHOOK_REFUSALS_PER_ADDRESS refusals, then 429 until the window ends; at most
   * WEBHOOK_REFUSAL_ROWS_PER_WINDOW are stored, each body cut to WEBHOOK_REFUSAL_BODY_BYTES, the
   * table keeps the newest WEBHOOK_REFUSAL_ROWS_KEPT; one summary log line per window.
   */
  WEBHOOK_REFUSAL_WINDOW_S: positiveInt(60),
  WEBHOOK_REFUSALS_PER_ADDRESS: positiveInt(20),
  WEBHOOK_REFUSAL_ROWS_PER_WINDOW: positiveInt(100),
  WEBHOOK_REFUSAL_BODY_BYTES: positiveInt(1_024),
  WEBHOOK_REFUSAL_ROWS_KEPT: positiveInt(10_000),
};

const IntegrationsEnv = z.object(INTEGRATIONS_ENV);
export type IntegrationsConfig = Readonly<z.infer<typeof IntegrationsEnv>>;

/** For callers that parse the integration's variables on their own (scripts, tests). */
export function loadIntegrationsConfig(env: NodeJS.ProcessEnv = process.env): IntegrationsConfig {
  const parsed = IntegrationsEnv.safeParse(env);
  if (!parsed.success) throw new Error(`invalid environment: ${z.prettifyError(parsed.error)}`);
  if (parsed.data.ENTITY_PERMISSIONS_POLL && parsed.data.ENTITY_PERMISSIONS_URL === undefined) {
    throw new Error('invalid environment: ENTITY_PERMISSIONS_POLL needs ENTITY_PERMISSIONS_URL');
  }
  return Object.freeze(parsed.data);
}

/** The HTTP client when a URL is configured, else the local policy (entityPermissions.ts). */
export function createEntityPermissions(config: IntegrationsConfig): {
  readonly permissions: EntityPermissions;
  readonly client: EntityPermissionsClient | undefined;
} {
  if (config.ENTITY_PERMISSIONS_URL === undefined)
    return { permissions: new LocalPolicy(), client: undefined };
  const client = new EntityPermissionsClient({
    baseUrl: config.ENTITY_PERMISSIONS_URL,
    apiKey: config.ENTITY_PERMISSIONS_API_KEY,
    attemptTimeoutMs: config.ENTITY_PERMISSIONS_TIMEOUT_MS,
    retries: config.ENTITY_PERMISSIONS_RETRIES,
    backoffMs: config.ENTITY_PERMISSIONS_BACKOFF_MS,
    deadlineMs: config.ENTITY_PERMISSIONS_DEADLINE_MS,
  });
  return { permissions: client, client };
}

export function createSnsVerifier(config: IntegrationsConfig): SnsVerifier {
  return new SnsVerifier({ allowedHosts: config.SNS_ALLOWED_HOSTS, allowedTopicArns: config.SNS_TOPIC_ARNS });
}

/** The bounds of refused webhook posts (webhookRefusals.ts). */
export function refusalLimits(config: IntegrationsConfig): RefusalLimits {
  return {
    windowMs: config.WEBHOOK_REFUSAL_WINDOW_S * 1000,
    perAddress: config.WEBHOOK_REFUSALS_PER_ADDRESS,
    rowsPerWindow: config.WEBHOOK_REFUSAL_ROWS_PER_WINDOW,
    bodyBytes: config.WEBHOOK_REFUSAL_BODY_BYTES,
    rowsKept: config.WEBHOOK_REFUSAL_ROWS_KEPT,
  };
}

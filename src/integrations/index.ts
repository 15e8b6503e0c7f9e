import type { Logger } from 'pino';
import type { DatabasePool } from 'slonik';
import {
  createEntityPermissions,
  createSnsVerifier,
  refusalLimits,
  type IntegrationsConfig,
} from './config.ts';
import { DecisionProcessor, type Decide } from './decisionEvents.ts';
import type { EntityPermissions } from './entityPermissions.ts';
import { DecisionPoller } from './polling.ts';
import { WebhookRefusals } from './webhookRefusals.ts';
import { createEntityPermissionsWebhookHandler, type EntityPermissionsWebhookHandler } from './webhooks.ts';

/*
 * The entity-permissions integration wired for the composition root (src/app/services.ts): the
 * authorization client (or local policy), the webhook handler the route calls, and the polling
 * fallback when enabled. All three share one decision path, so a decision is applied once
 * whichever way it arrives first.
 */

export interface EntityPermissionsIntegration {
  readonly permissions: EntityPermissions;
  readonly handleWebhook: EntityPermissionsWebhookHandler;
  /** Present when ENTITY_PERMISSIONS_POLL is on (and started). */
  readonly poller: DecisionPoller | undefined;
  /** Stops the poller (waits for a round in progress). */
  close(): Promise<void>;
}

export interface EntityPermissionsIntegrationDeps {
  readonly config: IntegrationsConfig & { readonly WEBHOOK_SECRET: string };
  readonly pool: DatabasePool;
  readonly decide: Decide;
  readonly log: Logger;
}

export function startEntityPermissionsIntegration(
  deps: EntityPermissionsIntegrationDeps,
): EntityPermissionsIntegration {
  const { config, pool, decide } = deps;
  const log = deps.log.child({ component: 'entity-permissions' });
  const { permissions, client } = createEntityPermissions(config);
  const processor = new DecisionProcessor({ pool, decide, log });
  const refusals = new WebhookRefusals(pool, refusalLimits(config), log);
  const handleWebhook = createEntityPermissionsWebhookHandler({
    pool,
    secret: config.WEBHOOK_SECRET,
    decide,
    sns: createSnsVerifier(config),
    log,
    processor,
    refusals,
  });
  let poller: DecisionPoller | undefined;
  if (config.ENTITY_PERMISSIONS_POLL && client !== undefined) {
    poller = new DecisionPoller({
      pool,
      source: client,
      processor,
      log,
      intervalMs: config.ENTITY_PERMISSIONS_POLL_INTERVAL_MS,
      pageSize: config.ENTITY_PERMISSIONS_POLL_PAGE_SIZE,
    });
    poller.start();
  }
  log.info(
    {
      authorization: client === undefined ? 'local policy (JWT roles)' : config.ENTITY_PERMISSIONS_URL,
      polling: poller === undefined ? 'off' : `every ${config.ENTITY_PERMISSIONS_POLL_INTERVAL_MS} ms`,
    },
    'entity-permissions integration ready',
  );
  return {
    permissions,
    handleWebhook,
    poller,
    close: async () => {
      await poller?.stop();
      await refusals.close();
    },
  };
}

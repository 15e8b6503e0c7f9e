import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod/v4';
import { loadConfig } from '../src/config.ts';
import { startEntityPermissionsStandIn } from './entityPermissions/standIn.ts';
import { helpOnly } from './lib/cli.ts';

export {
  startEntityPermissionsStandIn,
  type DecisionEventPayload,
  type EntityPermissionsStandIn,
  type StandInOptions,
} from './entityPermissions/standIn.ts';

/*
 * `npm run dev:entity-permissions`: the local stand-in of the entity-permissions service
 * (scripts/entityPermissions/standIn.ts has its API). Point the exchange at it with
 * ENTITY_PERMISSIONS_URL=http://127.0.0.1:4100, then approve a registered market with
 *
 *   curl -X POST localhost:4100/decisions -H 'content-type: application/json' \
 *        -d '{"market_id":"<id>","decision":"approved"}'
 *
 * Environment: STANDIN_PORT (4100), STANDIN_WEBHOOK_URL (the local exchange's webhook route on
 * PORT; empty = record only, for the polling fallback), STANDIN_MODE (direct | sns), STANDIN_POLICY
 * (roles | allow | deny), WEBHOOK_SECRET (shared with the exchange; same development default).
 * In sns mode allowlist the stand-in on the exchange: SNS_ALLOWED_HOSTS=127.0.0.1:4100 and
 * SNS_TOPIC_ARNS=arn:aws:sns:local-1:000000000000:entity-permissions.
 */

const Env = z.object({
  STANDIN_PORT: z.coerce.number().int().min(0).max(65_535).default(4100),
  STANDIN_WEBHOOK_URL: z.string().optional(),
  STANDIN_MODE: z.enum(['direct', 'sns']).default('direct'),
  STANDIN_POLICY: z.enum(['roles', 'allow', 'deny']).default('roles'),
});

const USAGE = `usage: npm run dev:entity-permissions

A local stand-in of the entity-permissions service. Point the exchange at it with
ENTITY_PERMISSIONS_URL=http://127.0.0.1:4100, then approve a registered market with
  curl -X POST localhost:4100/decisions -H 'content-type: application/json' \\
       -d '{"market_id":"<id>","decision":"approved"}'

Environment:
  STANDIN_PORT          port (default 4100)
  STANDIN_WEBHOOK_URL   where decisions are posted (default the exchange's webhook route on PORT;
                        empty: record only, for the polling fallback)
  STANDIN_MODE          direct | sns (default direct)
  STANDIN_POLICY        roles | allow | deny (default roles)
  WEBHOOK_SECRET        shared with the exchange (same development default)`;

async function main(): Promise<void> {
  helpOnly('npm run dev:entity-permissions --', USAGE);
  const config = loadConfig();
  const parsed = Env.safeParse(process.env);
  if (!parsed.success) throw new Error(`invalid environment: ${z.prettifyError(parsed.error)}`);
  const env = parsed.data;
  const webhookUrl =
    env.STANDIN_WEBHOOK_URL ?? `http://127.0.0.1:${config.PORT}/api/v1/webhooks/entity-permissions`;
  const standIn = await startEntityPermissionsStandIn({
    port: env.STANDIN_PORT,
    webhookUrl: webhookUrl === '' ? undefined : webhookUrl,
    secret: config.WEBHOOK_SECRET,
    mode: env.STANDIN_MODE,
    policy: env.STANDIN_POLICY,
    log: (message) => {
      console.log(`[entity-permissions] ${message}`);
    },
  });
  console.log(
    `[entity-permissions] stand-in on ${standIn.url} (policy ${env.STANDIN_POLICY}, ${env.STANDIN_MODE} webhooks to ${webhookUrl === '' ? 'nowhere' : webhookUrl}; topic ${standIn.topicArn})`,
  );
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      void standIn.close().then(() => process.exit(0));
    });
  }
}

const entry = process.argv[1];
if (entry !== undefined && realpathSync(entry) === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    console.error(`entity-permissions: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  });
}

import { randomUUID, sign, type KeyObject } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { z } from 'zod/v4';
import {
  decideByRoles,
  ENTITY_ACTIONS,
  type AuthorizationDecision,
} from '../../src/integrations/entityPermissions.ts';
import { signWebhookBody } from '../../src/integrations/webhookSignature.ts';
import { createSigningIdentity, type SigningIdentity } from './selfSignedCertificate.ts';

/*
 * A local stand-in of the external entity-permissions service, over real HTTP, for development
 * (`npm run dev:entity-permissions`) and tests. Its API (what src/integrations/entityPermissions.ts
 * calls):
 *
 *   POST /authorize          {principalId, principalType, entityId, action, context:{roles}} → {allowed, reasons}
 *                            policy `roles` (default: the exchange's local policy), `allow` or `deny`
 *   GET  /events?after=&limit=  → {events:[payload...], next}: the decisions recorded, oldest first;
 *                            the cursor is the sequence number of the last event returned
 *   POST /decisions          {market_id, decision:"approved"|"rejected", reason?, entity_id?, actor_id?, deliver?}
 *                            → 201 {event, delivery}: records the decision as an event and, when a
 *                            webhook URL is configured and deliver is not false, posts it as a signed
 *                            direct webhook or as an SNS-style envelope
 *   GET  /cert.pem           the self-signed certificate SNS-style envelopes are signed with
 *   GET  /sns/confirm?Token= the SubscribeURL of its SubscriptionConfirmation messages
 *
 * SNS-style envelopes follow AWS's format and signing (canonical string below, written separately
 * from the exchange's verifier on purpose so each checks the other), with SigningCertURL pointing
 * at this server's /cert.pem.
 */

export type StandInPolicy = 'roles' | 'allow' | 'deny' | ((request: AuthorizeBody) => AuthorizationDecision);

export interface StandInOptions {
  /** 0 (default) lets the OS choose. */
  readonly port?: number;
  readonly host?: string;
  /** Where decisions are delivered; none = recorded only (the exchange polls). */
  readonly webhookUrl?: string | undefined;
  /** WEBHOOK_SECRET of the exchange (direct mode). */
  readonly secret: string;
  readonly mode: 'direct' | 'sns';
  readonly policy?: StandInPolicy;
  readonly topicArn?: string;
  /** SNS SignatureVersion: '1' (SHA1, SNS's default) or '2' (SHA256). */
  readonly signatureVersion?: '1' | '2';
  readonly log?: (message: string) => void;
}

export interface DecisionEventPayload {
  readonly event_id: string;
  readonly event_type: 'market.approved' | 'market.rejected';
  readonly payload: {
    readonly market_id: string;
    readonly entity_id: string;
    readonly decision: 'approved' | 'rejected';
    readonly reason?: string;
  };
  readonly context: { readonly actor_id: string };
}

export interface DecisionInput {
  readonly marketId: string;
  readonly decision: 'approved' | 'rejected';
  readonly reason?: string | undefined;
  readonly entityId?: string | undefined;
  readonly actorId?: string | undefined;
  /** false: record only (as if the webhook were lost). Default true. */
  readonly deliver?: boolean | undefined;
}

export interface Delivery {
  readonly status: number;
  readonly body: unknown;
}

/** A ready-to-post request, for tests that post it themselves (several times, concurrently, altered). */
export interface PreparedDelivery {
  readonly body: Buffer;
  readonly headers: Record<string, string>;
}

export interface EntityPermissionsStandIn {
  /** Base URL, e.g. http://127.0.0.1:41234 (what ENTITY_PERMISSIONS_URL is set to). */
  readonly url: string;
  /** host:port, to allowlist as the SNS certificate host. */
  readonly host: string;
  readonly certUrl: string;
  readonly topicArn: string;
  readonly events: readonly DecisionEventPayload[];
  /** Requests POST /authorize received (including failed ones). */
  readonly authorizeRequests: number;
  readonly subscriptionConfirmed: boolean;
  setPolicy(policy: StandInPolicy): void;
  /** The next `times` /authorize requests answer `status`, or never answer ('hang'). */
  failAuthorize(times: number, how: number | 'hang'): void;
  /** Records a decision and delivers it (when a webhook URL is set and deliver is not false). */
  decide(input: DecisionInput): Promise<{ event: DecisionEventPayload; delivery: Delivery | undefined }>;
  /** Posts an event (again) to the webhook URL, in the configured mode or the one given. */
  deliver(event: DecisionEventPayload, mode?: 'direct' | 'sns'): Promise<Delivery>;
  prepare(event: DecisionEventPayload, mode?: 'direct' | 'sns'): PreparedDelivery;
  /** Posts a signed SubscriptionConfirmation whose SubscribeURL is `subscribeUrl` (default: ours). */
  sendSubscriptionConfirmation(subscribeUrl?: string): Promise<Delivery>;
  close(): Promise<void>;
}

const AuthorizeBody = z.object({
  principalId: z.string().min(1),
  principalType: z.string().min(1),
  entityId: z.string().min(1),
  action: z.enum(ENTITY_ACTIONS),
  context: z.looseObject({ roles: z.array(z.string()).default([]) }),
});
export type AuthorizeBody = z.infer<typeof AuthorizeBody>;

const DecisionBody = z.object({
  market_id: z.string().min(1),
  decision: z.enum(['approved', 'rejected']),
  reason: z.string().optional(),
  entity_id: z.string().optional(),
  actor_id: z.string().optional(),
  deliver: z.boolean().optional(),
});

const NOTIFICATION_KEYS = ['Message', 'MessageId', 'Subject', 'Timestamp', 'TopicArn', 'Type'];
const CONFIRMATION_KEYS = ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'];

/** AWS's string to sign: `Key\nValue\n` for each key of the type that the message has. */
function stringToSign(message: Readonly<Record<string, string>>): string {
  const keys = message.Type === 'Notification' ? NOTIFICATION_KEYS : CONFIRMATION_KEYS;
  return keys
    .filter((key) => message[key] !== undefined)
    .map((key) => `${key}\n${message[key] ?? ''}\n`)
    .join('');
}

/** One per process: RSA key generation blocks for a noticeable while, and stand-ins may share it. */
let sharedIdentity: SigningIdentity | undefined;

export async function startEntityPermissionsStandIn(
  options: StandInOptions,
): Promise<EntityPermissionsStandIn> {
  const log = options.log ?? (() => undefined);
  const signing = (sharedIdentity ??= createSigningIdentity('entity-permissions stand-in'));
  const topicArn = options.topicArn ?? 'arn:aws:sns:local-1:000000000000:entity-permissions';
  const signatureVersion = options.signatureVersion ?? '1';
  const events: DecisionEventPayload[] = [];
  const confirmationTokens = new Set<string>();
  const sockets = new Set<Socket>();
  let policy: StandInPolicy = options.policy ?? 'roles';
  let failures: { times: number; how: number | 'hang' } = { times: 0, how: 503 };
  let authorizeRequests = 0;
  let subscriptionConfirmed = false;
  let base = '';

  function authorize(body: AuthorizeBody): AuthorizationDecision {
    if (policy === 'allow') return { allowed: true, reasons: ['stand-in policy: allow'] };
    if (policy === 'deny') return { allowed: false, reasons: ['stand-in policy: deny'] };
    if (policy === 'roles') return decideByRoles(body);
    return policy(body);
  }

  function envelope(fields: Record<string, string>, key: KeyObject): Record<string, string> {
    const message: Record<string, string> = {
      MessageId: randomUUID(),
      TopicArn: topicArn,
      Timestamp: new Date().toISOString(),
      SignatureVersion: signatureVersion,
      SigningCertURL: `${base}/cert.pem`,
      ...fields,
    };
    const algorithm = signatureVersion === '1' ? 'sha1' : 'sha256';
    message.Signature = sign(algorithm, Buffer.from(stringToSign(message), 'utf8'), key).toString('base64');
    return message;
  }

  function prepare(event: DecisionEventPayload, mode = options.mode): PreparedDelivery {
    if (mode === 'direct') {
      const body = Buffer.from(JSON.stringify(event));
      const signature = signWebhookBody(options.secret, body, Math.floor(Date.now() / 1000));
      return { body, headers: { 'content-type': 'application/json', 'x-signature': signature } };
    }
    const message = envelope(
      {
        Type: 'Notification',
        Message: JSON.stringify(event),
        UnsubscribeURL: `${base}/sns/unsubscribe`,
      },
      signing.privateKey,
    );
    return {
      body: Buffer.from(JSON.stringify(message)),
      headers: {
        'content-type': 'text/plain; charset=UTF-8',
        'x-amz-sns-message-type': 'Notification',
        'x-amz-sns-message-id': message.MessageId ?? '',
        'x-amz-sns-topic-arn': topicArn,
      },
    };
  }

  async function post(prepared: PreparedDelivery): Promise<Delivery> {
    if (options.webhookUrl === undefined) throw new Error('stand-in: no webhook URL configured');
    const response = await fetch(options.webhookUrl, {
      method: 'POST',
      headers: prepared.headers,
      body: prepared.body,
      signal: AbortSignal.timeout(10_000),
    });
    const text = await response.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON: kept as text
    }
    return { status: response.status, body };
  }

  async function deliver(event: DecisionEventPayload, mode = options.mode): Promise<Delivery> {
    const delivery = await post(prepare(event, mode));
    log(`delivered ${event.event_id} (${mode}): ${delivery.status} ${JSON.stringify(delivery.body)}`);
    return delivery;
  }

  async function decide(input: DecisionInput) {
    const event: DecisionEventPayload = {
      event_id: randomUUID(),
      event_type: input.decision === 'approved' ? 'market.approved' : 'market.rejected',
      payload: {
        market_id: input.marketId,
        entity_id: input.entityId ?? input.marketId,
        decision: input.decision,
        ...(input.reason === undefined ? {} : { reason: input.reason }),
      },
      context: { actor_id: input.actorId ?? 'compliance-officer' },
    };
    events.push(event);
    log(`recorded ${event.event_type} for ${input.marketId} (${event.event_id})`);
    const delivery =
      options.webhookUrl !== undefined && input.deliver !== false
        ? await deliver(event).catch(undeliverable)
        : undefined;
    return { event, delivery };
  }

  function undeliverable(error: unknown): Delivery {
    log(`webhook delivery failed: ${String(error)}`);
    return { status: 0, body: { error: String(error) } };
  }

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', base);
    const route = `${request.method ?? 'GET'} ${url.pathname}`;
    const reply = (status: number, body: unknown) => {
      response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    switch (route) {
      case 'POST /authorize': {
        authorizeRequests++;
        if (failures.times > 0) {
          failures = { ...failures, times: failures.times - 1 };
          if (failures.how === 'hang') return; // the socket is closed by the client's timeout or close()
          reply(failures.how, { error: 'injected failure' });
          return;
        }
        const body = AuthorizeBody.safeParse(await readJson(request));
        if (!body.success) {
          reply(400, { error: z.prettifyError(body.error) });
          return;
        }
        reply(200, authorize(body.data));
        return;
      }
      case 'GET /events': {
        const after = Number(url.searchParams.get('after') ?? '0');
        const limit = Math.min(Math.max(Number(url.searchParams.get('limit') ?? '100'), 1), 1_000);
        if (!Number.isInteger(after) || after < 0 || !Number.isInteger(limit)) {
          reply(400, { error: 'after and limit must be integers' });
          return;
        }
        const page = events.slice(after, after + limit);
        reply(200, { events: page, next: String(after + page.length) });
        return;
      }
      case 'POST /decisions': {
        const body = DecisionBody.safeParse(await readJson(request));
        if (!body.success) {
          reply(400, { error: z.prettifyError(body.error) });
          return;
        }
        const { market_id, decision, reason, entity_id, actor_id, deliver: shouldDeliver } = body.data;
        reply(
          201,
          await decide({
            marketId: market_id,
            decision,
            reason,
            entityId: entity_id,
            actorId: actor_id,
            deliver: shouldDeliver,
          }),
        );
        return;
      }
      case 'GET /cert.pem':
        response.writeHead(200, { 'content-type': 'application/x-pem-file' }).end(signing.certificatePem);
        return;
      case 'GET /sns/confirm': {
        const token = url.searchParams.get('Token') ?? '';
        if (!confirmationTokens.has(token)) {
          reply(404, { error: 'unknown token' });
          return;
        }
        subscriptionConfirmed = true;
        log('SNS subscription confirmed by the exchange');
        reply(200, { confirmed: true });
        return;
      }
      default:
        reply(404, { error: `no route ${route}` });
    }
  }

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (!response.headersSent) response.writeHead(500).end(String(error));
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = `${options.host ?? '127.0.0.1'}:${address.port}`;
  base = `http://${host}`;

  return {
    url: base,
    host,
    certUrl: `${base}/cert.pem`,
    topicArn,
    events,
    get authorizeRequests() {
      return authorizeRequests;
    },
    get subscriptionConfirmed() {
      return subscriptionConfirmed;
    },
    setPolicy(next) {
      policy = next;
    },
    failAuthorize(times, how) {
      failures = { times, how };
    },
    decide,
    deliver,
    prepare,
    async sendSubscriptionConfirmation(subscribeUrl) {
      const token = randomUUID();
      confirmationTokens.add(token);
      const message = envelope(
        {
          Type: 'SubscriptionConfirmation',
          Message: `You have chosen to subscribe to the topic ${topicArn}. To confirm, visit the SubscribeURL.`,
          Token: token,
          SubscribeURL: subscribeUrl ?? `${base}/sns/confirm?Token=${token}`,
        },
        signing.privateKey,
      );
      return post({
        body: Buffer.from(JSON.stringify(message)),
        headers: {
          'content-type': 'text/plain; charset=UTF-8',
          'x-amz-sns-message-type': 'SubscriptionConfirmation',
        },
      });
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function readJson(request: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    return undefined;
  }
}

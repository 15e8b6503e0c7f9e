import type { Logger } from 'pino';
import type { DatabasePool } from 'slonik';
import { z } from 'zod/v4';
import {
  DecisionProcessor,
  type Decide,
  type DecisionOutcome,
  type DecisionSource,
} from './decisionEvents.ts';
import { SnsEnvelope, type SnsVerify } from './snsSignature.ts';
import { checkWebhookSignature } from './webhookSignature.ts';
import { loadIntegrationsConfig, refusalLimits } from './config.ts';
import { WebhookRefusals } from './webhookRefusals.ts';

/*
 * POST /api/v1/webhooks/entity-permissions, without the HTTP framework: the route hands over the
 * raw body and two headers and sends back what this returns.
 *
 *   direct post (X-Signature)       → HMAC check (webhookSignature.ts) → payload → decision path
 *   SNS envelope (x-amz-sns-message-type, or a body that is one)
 *     Notification                  → SNS signature → Message (the payload JSON) → decision path
 *     SubscriptionConfirmation      → SNS signature → GET SubscribeURL if its host is allowlisted
 *     UnsubscribeConfirmation       → SNS signature → logged, ignored
 *
 * Answers: 200 {status:"processed"|"duplicate"} (also {status:"confirmed"|"ignored"} for SNS
 * control messages); 400 bad_request for a malformed body; 401 unauthorized for a missing, wrong or
 * stale signature; 403 forbidden for a SubscribeURL off the allowlist; 409 invalid_transition for an
 * unknown market or a state that does not take the decision; 503 unavailable when Postgres or the
 * issuance service cannot take it now (nothing recorded as processed, so a retry decides).
 * Refusals before an event could be trusted are written to webhook_rejections, within the bounds
 * of webhookRefusals.ts (an address past its refusals of the window is answered 429 rate_limited
 * before anything else); decisions to processed_events (decisionEvents.ts).
 */

export interface WebhookRequest {
  readonly rawBody: Buffer;
  readonly headers: {
    /** X-Signature */
    readonly signature?: string | undefined;
    /** x-amz-sns-message-type */
    readonly snsMessageType?: string | undefined;
  };
  /** The server's clock, ms since the epoch. */
  readonly now: number;
  /** Where the post came from (rateLimit.ts sourceKey of the peer's address). */
  readonly sourceAddress?: string | undefined;
}

export interface WebhookResponse {
  readonly status: number;
  readonly body: object;
}

/** What the handler needs of SNS: signature verification and the host allowlist (SnsVerifier). */
export interface SnsAuthenticator {
  readonly verify: SnsVerify;
  isAllowedUrl(url: string): boolean;
}

export interface EntityPermissionsWebhookDeps {
  readonly pool: DatabasePool;
  /** WEBHOOK_SECRET */
  readonly secret: string;
  /** The issuance service's decision entry point. */
  readonly decide: Decide;
  readonly sns: SnsAuthenticator;
  readonly log: Logger;
  /** Timeout of the SubscribeURL confirmation request; default 5 s. */
  readonly confirmTimeoutMs?: number;
  /** The shared decision path; built from pool, decide and log when omitted. */
  readonly processor?: DecisionProcessor;
  /** Bounds of what refusals cost; the WEBHOOK_REFUSAL* defaults when omitted. */
  readonly refusals?: WebhookRefusals;
}

export type EntityPermissionsWebhookHandler = (request: WebhookRequest) => Promise<WebhookResponse>;

const LooksLikeSns = z.object({ Type: z.string(), SignatureVersion: z.unknown(), Signature: z.unknown() });

export function createEntityPermissionsWebhookHandler(
  deps: EntityPermissionsWebhookDeps,
): EntityPermissionsWebhookHandler {
  const { pool, secret, sns, log } = deps;
  const processor = deps.processor ?? new DecisionProcessor({ pool, decide: deps.decide, log });
  const confirmTimeoutMs = deps.confirmTimeoutMs ?? 5_000;
  const refusals = deps.refusals ?? new WebhookRefusals(pool, refusalLimits(loadIntegrationsConfig({})), log);

  async function refuse(
    request: WebhookRequest,
    source: DecisionSource,
    status: 400 | 401 | 403,
    message: string,
    eventId?: string,
  ): Promise<WebhookResponse> {
    const code = status === 400 ? 'bad_request' : status === 401 ? 'unauthorized' : 'forbidden';
    // Logged as a summary per window (webhookRefusals.ts), not one line per post.
    await refusals.record({
      source,
      address: request.sourceAddress ?? 'unknown',
      status,
      message,
      eventId,
      body: request.rawBody,
    });
    return { status, body: { error: { code, message } } };
  }

  async function decided(request: WebhookRequest, outcome: DecisionOutcome, source: DecisionSource) {
    switch (outcome.kind) {
      case 'processed':
        return { status: 200, body: { status: 'processed' } };
      case 'duplicate':
        return { status: 200, body: { status: 'duplicate' } };
      case 'invalid_transition':
        return { status: 409, body: { error: { code: 'invalid_transition', message: outcome.message } } };
      case 'malformed':
        return refuse(request, source, 400, `malformed event: ${outcome.message}`, outcome.eventId);
      case 'unavailable':
        return { status: 503, body: { error: { code: 'unavailable', message: outcome.message } } };
    }
  }

  async function direct(request: WebhookRequest): Promise<WebhookResponse> {
    const check = checkWebhookSignature(secret, request.headers.signature, request.rawBody, request.now);
    if (!check.ok) return refuse(request, 'direct', 401, check.message);
    const json = parseJson(request.rawBody.toString('utf8'));
    if (json === undefined) return refuse(request, 'direct', 400, 'body is not JSON');
    return decided(request, await processor.process(json.value, 'direct'), 'direct');
  }

  async function confirm(request: WebhookRequest, envelope: SnsEnvelope): Promise<WebhookResponse> {
    const url = envelope.SubscribeURL;
    if (url === undefined)
      return refuse(request, 'sns', 400, 'SubscriptionConfirmation without SubscribeURL');
    if (!sns.isAllowedUrl(url))
      return refuse(request, 'sns', 403, `SubscribeURL host not allowlisted: ${url}`);
    try {
      const response = await fetch(url, { redirect: 'error', signal: AbortSignal.timeout(confirmTimeoutMs) });
      await response.body?.cancel();
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
    } catch (error) {
      log.warn({ err: error, topic: envelope.TopicArn }, 'SNS subscription confirmation failed');
      return {
        status: 503,
        body: { error: { code: 'unavailable', message: 'could not confirm the subscription' } },
      };
    }
    log.info({ topic: envelope.TopicArn }, 'SNS subscription confirmed');
    return { status: 200, body: { status: 'confirmed' } };
  }

  async function viaSns(request: WebhookRequest, json: unknown): Promise<WebhookResponse> {
    const parsed = SnsEnvelope.safeParse(json);
    if (!parsed.success)
      return refuse(request, 'sns', 400, `malformed SNS envelope: ${z.prettifyError(parsed.error)}`);
    const envelope = parsed.data;
    const headerType = request.headers.snsMessageType;
    if (headerType !== undefined && headerType !== envelope.Type) {
      return refuse(
        request,
        'sns',
        400,
        `x-amz-sns-message-type ${headerType} but the envelope is ${envelope.Type}`,
      );
    }
    const verification = await sns.verify(envelope);
    if (!verification.ok) return refuse(request, 'sns', 401, verification.message);
    switch (envelope.Type) {
      case 'SubscriptionConfirmation':
        return confirm(request, envelope);
      case 'UnsubscribeConfirmation':
        log.warn({ topic: envelope.TopicArn }, 'SNS unsubscribe confirmation received; ignored');
        return { status: 200, body: { status: 'ignored' } };
      case 'Notification': {
        const message = parseJson(envelope.Message);
        if (message === undefined) return refuse(request, 'sns', 400, 'SNS Message is not JSON');
        return decided(request, await processor.process(message.value, 'sns'), 'sns');
      }
    }
  }

  return async (request) => {
    if (refusals.limited(request.sourceAddress ?? 'unknown')) {
      return {
        status: 429,
        body: {
          error: { code: 'rate_limited', message: 'too many refused posts from this address; retry later' },
        },
      };
    }
    if (request.headers.snsMessageType !== undefined) {
      const json = parseJson(request.rawBody.toString('utf8'));
      if (json === undefined) return refuse(request, 'sns', 400, 'body is not JSON');
      return viaSns(request, json.value);
    }
    if (request.headers.signature !== undefined) return direct(request);
    // No header at all: an SNS envelope whose headers a proxy dropped, or an unsigned direct post.
    const json = parseJson(request.rawBody.toString('utf8'));
    if (json !== undefined && LooksLikeSns.safeParse(json.value).success) return viaSns(request, json.value);
    return refuse(request, 'direct', 401, 'missing X-Signature');
  };
}

function parseJson(text: string): { value: unknown } | undefined {
  try {
    return { value: JSON.parse(text) as unknown };
  } catch {
    return undefined;
  }
}

import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod/v4';

/*
 * The external entity-permissions service: who may do what to a market (authorize) and the
 * compliance decisions it has taken (events, read by the polling fallback). The HTTP API, as the
 * local stand-in (scripts/entityPermissions/standIn.ts) implements it:
 *
 *   POST /authorize  {principalId, principalType, entityId, action, context}  → 200 {allowed, reasons}
 *   GET  /events?after=<cursor>&limit=<n>  → 200 {events: [payload, ...], next: <cursor>}
 *        events oldest first, each the webhook payload of PROTOCOL.md; `next` is the cursor to pass as
 *        `after` for the following page (equal to `after` when nothing is new); no `after` = from the start.
 *
 * Failures are values: a network error, a timeout or a 5xx/429 is retried with exponential backoff
 * within a total deadline; what is still failing then comes back as `unavailable`, which callers
 * answer with 503 and no change.
 */

export const ENTITY_ACTIONS = [
  'market.register',
  'market.approve',
  'market.reject',
  'market.pause',
  'market.archive',
] as const;
export type EntityAction = (typeof ENTITY_ACTIONS)[number];

export interface AuthorizationRequest {
  readonly principalId: string;
  /** `user` for a JWT holder. */
  readonly principalType: string;
  /** The market id (or, for `market.register`, the id the new market will get). */
  readonly entityId: string;
  readonly action: EntityAction;
  /** At least the principal's JWT roles; anything else is passed through to the service. */
  readonly context: { readonly roles: readonly string[]; readonly [key: string]: unknown };
}

export interface AuthorizationDecision {
  readonly allowed: boolean;
  readonly reasons: readonly string[];
}

export interface Unavailable {
  readonly ok: false;
  readonly code: 'unavailable';
  readonly message: string;
}

export type Reply<T> = { readonly ok: true; readonly value: T } | Unavailable;

export interface EventsPage {
  /** Raw payloads: validated by the decision path, which records the malformed ones. */
  readonly events: readonly unknown[];
  readonly next: string;
}

/** What the issuance routes depend on: the HTTP client, or the local policy when no URL is set. */
export interface EntityPermissions {
  authorize(request: AuthorizationRequest): Promise<Reply<AuthorizationDecision>>;
}

/** Source of decision events for the polling fallback. */
export interface DecisionEventSource {
  events(cursor: string | undefined, limit: number): Promise<Reply<EventsPage>>;
}

/**
 * The local policy, used when ENTITY_PERMISSIONS_URL is not set: the JWT roles decide.
 * `market.register` needs `issuer`; `market.approve`, `market.reject`, `market.pause` and
 * `market.archive` need `admin`. Roles do not include one another (an admin cannot register).
 * The entity is not looked at: any issuer may register, any admin may act on any market.
 */
export const LOCAL_POLICY_ROLES: Readonly<Record<EntityAction, string>> = {
  'market.register': 'issuer',
  'market.approve': 'admin',
  'market.reject': 'admin',
  'market.pause': 'admin',
  'market.archive': 'admin',
};

export function decideByRoles(
  request: Pick<AuthorizationRequest, 'action' | 'context'>,
): AuthorizationDecision {
  const needed = LOCAL_POLICY_ROLES[request.action];
  return request.context.roles.includes(needed)
    ? { allowed: true, reasons: [`role ${needed} grants ${request.action}`] }
    : { allowed: false, reasons: [`${request.action} needs the ${needed} role`] };
}

export class LocalPolicy implements EntityPermissions {
  authorize(request: AuthorizationRequest): Promise<Reply<AuthorizationDecision>> {
    return Promise.resolve({ ok: true, value: decideByRoles(request) });
  }
}

export interface EntityPermissionsClientOptions {
  readonly baseUrl: string;
  /** Time one attempt may take. */
  readonly attemptTimeoutMs: number;
  /** Attempts after the first one (network error, timeout, 5xx or 429). */
  readonly retries: number;
  /** First backoff; doubled per retry, with jitter. */
  readonly backoffMs: number;
  /** Time a whole call (all attempts and backoffs) may take before it answers `unavailable`. */
  readonly deadlineMs: number;
  /** Sent as `Authorization: Bearer` when set. */
  readonly apiKey?: string | undefined;
}

const Decision = z.object({ allowed: z.boolean(), reasons: z.array(z.string()).default([]) });
const Page = z.object({ events: z.array(z.unknown()), next: z.string() });

type Attempt =
  | { readonly kind: 'ok'; readonly body: unknown }
  | { readonly kind: 'retryable'; readonly message: string }
  | { readonly kind: 'fatal'; readonly message: string };

export class EntityPermissionsClient implements EntityPermissions, DecisionEventSource {
  private readonly baseUrl: URL;

  constructor(private readonly options: EntityPermissionsClientOptions) {
    if (options.attemptTimeoutMs <= 0 || options.deadlineMs <= 0 || options.retries < 0) {
      throw new Error('entity-permissions client: timeouts must be positive and retries not negative');
    }
    this.baseUrl = new URL(options.baseUrl.endsWith('/') ? options.baseUrl : `${options.baseUrl}/`);
  }

  async authorize(request: AuthorizationRequest): Promise<Reply<AuthorizationDecision>> {
    const reply = await this.call('authorize', { method: 'POST', body: JSON.stringify(request) });
    if (!reply.ok) return reply;
    const decision = Decision.safeParse(reply.value);
    if (!decision.success) return unavailable('authorize: the service answered an unexpected body');
    return { ok: true, value: decision.data };
  }

  async events(cursor: string | undefined, limit: number): Promise<Reply<EventsPage>> {
    const query = new URLSearchParams({ limit: String(limit) });
    if (cursor !== undefined) query.set('after', cursor);
    const reply = await this.call(`events?${query.toString()}`, { method: 'GET' });
    if (!reply.ok) return reply;
    const page = Page.safeParse(reply.value);
    if (!page.success) return unavailable('events: the service answered an unexpected body');
    return { ok: true, value: page.data };
  }

  private async call(path: string, init: { method: string; body?: string }): Promise<Reply<unknown>> {
    const { attemptTimeoutMs, retries, backoffMs, deadlineMs } = this.options;
    const deadline = Date.now() + deadlineMs;
    const url = new URL(path, this.baseUrl);
    let last = 'no attempt made';
    for (let attempt = 0; attempt <= retries; attempt++) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      const outcome = await this.attempt(url, init, Math.min(attemptTimeoutMs, left));
      if (outcome.kind === 'ok') return { ok: true, value: outcome.body };
      last = outcome.message;
      if (outcome.kind === 'fatal') break;
      if (attempt === retries) break;
      // Full jitter: concurrent callers that failed together do not retry together.
      const pause = Math.min(backoffMs * 2 ** attempt * (0.5 + Math.random() / 2), deadline - Date.now());
      if (pause <= 0) break;
      await sleep(pause);
    }
    return unavailable(`entity-permissions service unavailable (${init.method} /${path}): ${last}`);
  }

  private async attempt(
    url: URL,
    init: { method: string; body?: string },
    timeoutMs: number,
  ): Promise<Attempt> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (init.body !== undefined) headers['content-type'] = 'application/json';
    if (this.options.apiKey !== undefined) headers.authorization = `Bearer ${this.options.apiKey}`;
    try {
      const response = await fetch(url, {
        method: init.method,
        headers,
        body: init.body ?? null,
        signal: AbortSignal.timeout(timeoutMs),
      });
      if (response.status >= 500 || response.status === 429) {
        await response.body?.cancel();
        return { kind: 'retryable', message: `HTTP ${response.status}` };
      }
      if (response.status !== 200) {
        await response.body?.cancel();
        return { kind: 'fatal', message: `HTTP ${response.status}` };
      }
      return { kind: 'ok', body: await response.json() };
    } catch (error) {
      // fetch rejects with TypeError on network errors, DOMException on timeout, SyntaxError on a bad body.
      return {
        kind: 'retryable',
        message: error instanceof Error ? `${error.name}: ${error.message}` : 'error',
      };
    }
  }
}

function unavailable(message: string): Unavailable {
  return { ok: false, code: 'unavailable', message };
}

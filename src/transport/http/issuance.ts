import type { LifecycleActor } from '../../../machines/marketLifecycle.ts';
import type { Catalog, ListedMarket } from '../../actors/catalog.ts';
import type { Supervisor } from '../../actors/supervisor.ts';
import type { Principal } from '../auth.ts';
import type { ErrorCode, Outcome } from '../../protocol/errors.ts';
import type { Authorize, Issuance, IssuanceAction } from '../../services/issuance.ts';
import type { ComplianceAdmin } from '../../services/complianceAdmin.ts';
import {
  ComplianceBody,
  DecisionBody,
  ReasonBody,
  RegisterBody,
  describeIssues,
} from '../../protocol/schemas.ts';
import { unstorableTextAt, unstorableTextMessage } from '../../protocol/text.ts';
import { errorReply, json, type createRouter, type HttpReply } from './router.ts';
import { marketView } from './views.ts';

/*
 * The issuance routes of PROTOCOL.md (HTTP): registration by an issuer, the admin's lifecycle
 * actions, and the reads of a market's registered asset and approval history. Each admin action is
 * also authorized by the entity-permissions service (or the local role policy without one).
 */

export interface IssuanceRouteOptions {
  readonly issuance: Issuance;
  readonly catalog: Catalog;
  readonly supervisor: Supervisor;
  readonly authorize: Authorize;
  /** Waits until history holds what was committed before now: undefined, or the refusal to answer. */
  readonly historyBehind?: () => Promise<{ code: ErrorCode; message: string } | undefined>;
  /** The latest RWA valuation of a market (issue 19), shown on its details. */
  readonly valuation?: (marketId: string) => Promise<object | undefined>;
}

const BASE = '/api/v1';

export function registerIssuanceRoutes(
  route: ReturnType<typeof createRouter>,
  options: IssuanceRouteOptions,
): void {
  const { issuance, catalog, supervisor, authorize } = options;
  const view = (market: ListedMarket) =>
    marketView(
      market,
      supervisor.actor(market.definition.symbol)?.state ?? 'draft',
      issuance.record(market.definition.id),
    );

  route('post', `${BASE}/markets/register`, { role: 'issuer', body: true }, async ({ body, principal }) => {
    const parsed = RegisterBody.safeParse(body);
    if (!parsed.success) return errorReply('bad_request', describeIssues(parsed.error));
    const registered = await issuance.register(principal!, parsed.data);
    return registered.ok
      ? json(201, view(registered.value))
      : errorReply(registered.code, registered.message);
  });

  const admin = (principal: Principal): LifecycleActor => ({ id: principal.userId, type: 'admin' });

  /** Authorizes `action` on the market, runs `act`, answers with the market. */
  async function adminAction(
    principal: Principal,
    idOrSymbol: string,
    action: IssuanceAction,
    act: (market: ListedMarket) => Promise<Outcome<unknown>>,
  ): Promise<HttpReply> {
    const market = catalog.market(idOrSymbol);
    if (market === undefined) return errorReply('unknown_market', `no market ${idOrSymbol}`);
    const allowed = await authorize({ principal, action, entityId: market.definition.id });
    if (!allowed.ok) return errorReply(allowed.code, allowed.message);
    const done = await act(market);
    return done.ok ? json(200, view(market)) : errorReply(done.code, done.message);
  }

  route(
    'post',
    `${BASE}/markets/:id/approve`,
    { role: 'admin', body: true },
    async ({ body, principal, params }) => {
      const parsed = DecisionBody.safeParse(body);
      if (!parsed.success) return errorReply('bad_request', describeIssues(parsed.error));
      const { decision, reason } = parsed.data;
      return adminAction(
        principal!,
        params[0]!,
        decision === 'approved' ? 'market.approve' : 'market.reject',
        (m) => issuance.decide({ marketId: m.definition.id, decision, reason, actor: admin(principal!) }),
      );
    },
  );

  route('post', `${BASE}/markets/:id/activate`, { role: 'admin' }, ({ principal, params }) =>
    adminAction(principal!, params[0]!, 'market.approve', (m) =>
      issuance.activate(m.definition.id, admin(principal!)),
    ),
  );

  for (const [path, action, run] of [
    [
      'pause',
      'market.pause',
      (id: string, actor: LifecycleActor, reason?: string) => issuance.pause(id, actor, reason),
    ],
    [
      'resume',
      'market.pause',
      (id: string, actor: LifecycleActor, reason?: string) => issuance.resume(id, actor, reason),
    ],
    [
      'archive',
      'market.archive',
      (id: string, actor: LifecycleActor, reason?: string) => issuance.archive(id, actor, reason),
    ],
  ] as const) {
    route(
      'post',
      `${BASE}/markets/:id/${path}`,
      { role: 'admin', body: 'raw' },
      async ({ rawBody, principal, params }) => {
        let reason: string | undefined;
        if (rawBody !== undefined && rawBody.length > 0) {
          let parsedJson: unknown;
          try {
            parsedJson = JSON.parse(rawBody.toString('utf8'));
          } catch {
            return errorReply('bad_request', 'the body is not valid JSON');
          }
          const unstorable = unstorableTextAt(parsedJson);
          if (unstorable !== undefined) return errorReply('bad_request', unstorableTextMessage(unstorable));
          const parsed = ReasonBody.safeParse(parsedJson);
          if (!parsed.success) return errorReply('bad_request', describeIssues(parsed.error));
          reason = parsed.data.reason;
        }
        return adminAction(principal!, params[0]!, action, (m) =>
          run(m.definition.id, admin(principal!), reason),
        );
      },
    );
  }

  route('get', `${BASE}/markets/:id/details`, {}, async ({ params }) => {
    const market = catalog.market(params[0]!);
    if (market === undefined) return errorReply('unknown_market', `no market ${params[0]!}`);
    const record = issuance.record(market.definition.id);
    const valuation = record === undefined ? undefined : await options.valuation?.(market.definition.id);
    return json(200, {
      ...view(market),
      asset: record === undefined ? null : { ...record.details },
      ...(valuation === undefined ? {} : { valuation }),
    });
  });

  route('get', `${BASE}/markets/:id/events`, {}, async ({ params }) => {
    const market = catalog.market(params[0]!);
    if (market === undefined) return errorReply('unknown_market', `no market ${params[0]!}`);
    // The transitions come from the projection: answer once it holds every committed one.
    const behind = await options.historyBehind?.();
    if (behind !== undefined) return errorReply(behind.code, behind.message);
    const events = await issuance.events(market.definition.id);
    return json(
      200,
      events.map((e) => ({
        eventType: e.eventType,
        actorId: e.actorId,
        actorType: e.actorType,
        ...(e.decision === undefined ? {} : { decision: e.decision }),
        ...(e.reason === undefined ? {} : { reason: e.reason }),
        ...(e.metadata === undefined ? {} : { metadata: e.metadata }),
        ts: e.ts,
      })),
    );
  });
}

/** Compliance administration routes (admin): set a record, read a user's records. */
export function registerComplianceRoutes(
  route: ReturnType<typeof createRouter>,
  compliance: ComplianceAdmin,
): void {
  route('post', `${BASE}/admin/compliance`, { role: 'admin', body: true }, async ({ body, principal }) => {
    const parsed = ComplianceBody.safeParse(body);
    if (!parsed.success) return errorReply('bad_request', describeIssues(parsed.error));
    const { cancelOpenOrders, ...record } = parsed.data;
    const saved = await compliance.set(record, principal!.userId, { cancelOpenOrders });
    return saved.ok ? json(200, saved.value) : errorReply(saved.code, saved.message);
  });

  route('get', `${BASE}/admin/compliance/:userId`, { role: 'admin' }, ({ params }) =>
    json(200, compliance.records(params[0]!)),
  );
}

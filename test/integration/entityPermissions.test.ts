import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  startEntityPermissionsStandIn,
  type EntityPermissionsStandIn,
} from '../../scripts/entity-permissions.ts';
import { createEntityPermissions, loadIntegrationsConfig } from '../../src/integrations/config.ts';
import {
  ENTITY_ACTIONS,
  EntityPermissionsClient,
  LocalPolicy,
  type AuthorizationRequest,
  type EntityAction,
  type EntityPermissionsClientOptions,
} from '../../src/integrations/entityPermissions.ts';

/*
 * The authorization client against the stand-in service over real HTTP: decisions, retries on 5xx,
 * and giving up within the configured deadline when the service is down or does not answer.
 */

let standIn: EntityPermissionsStandIn;

beforeAll(async () => {
  standIn = await startEntityPermissionsStandIn({ secret: 'unused-in-these-tests-0123', mode: 'direct' });
});

afterAll(async () => {
  await standIn.close();
});

beforeEach(() => {
  standIn.setPolicy('roles');
  standIn.failAuthorize(0, 503);
});

function client(overrides: Partial<EntityPermissionsClientOptions> = {}): EntityPermissionsClient {
  return new EntityPermissionsClient({
    baseUrl: standIn.url,
    attemptTimeoutMs: 3_000,
    retries: 2,
    backoffMs: 20,
    deadlineMs: 10_000,
    ...overrides,
  });
}

function request(action: EntityAction, roles: string[]): AuthorizationRequest {
  return { principalId: 'u-1', principalType: 'user', entityId: 'mkt-1', action, context: { roles } };
}

/** A port nothing listens on: bound, then closed. */
async function closedPort(): Promise<number> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

describe('EntityPermissionsClient over HTTP', () => {
  it('answers allowed with the service reasons', async () => {
    const reply = await client().authorize(request('market.register', ['issuer']));
    expect(reply).toEqual({
      ok: true,
      value: { allowed: true, reasons: ['role issuer grants market.register'] },
    });
  });

  it('answers denied', async () => {
    const reply = await client().authorize(request('market.approve', ['issuer', 'trader']));
    expect(reply).toEqual({
      ok: true,
      value: { allowed: false, reasons: ['market.approve needs the admin role'] },
    });
  });

  it('passes the whole request to the service policy', async () => {
    const seen: unknown[] = [];
    standIn.setPolicy((body) => {
      seen.push(body);
      return { allowed: body.entityId === 'mkt-1', reasons: ['custom'] };
    });
    const asked = { ...request('market.pause', []), context: { roles: [], ip: '10.0.0.1' } };
    expect(await client().authorize(asked)).toEqual({
      ok: true,
      value: { allowed: true, reasons: ['custom'] },
    });
    expect(seen).toEqual([asked]);
  });

  it('retries a 5xx and succeeds', async () => {
    standIn.failAuthorize(2, 503);
    const before = standIn.authorizeRequests;
    const reply = await client({ retries: 2 }).authorize(request('market.archive', ['admin']));
    expect(reply).toMatchObject({ ok: true, value: { allowed: true } });
    expect(standIn.authorizeRequests - before).toBe(3);
  });

  it('gives up after the bounded retries: unavailable', async () => {
    standIn.failAuthorize(100, 500);
    const before = standIn.authorizeRequests;
    const reply = await client({ retries: 3 }).authorize(request('market.archive', ['admin']));
    expect(reply).toMatchObject({ ok: false, code: 'unavailable' });
    expect(!reply.ok && reply.message).toContain('HTTP 500');
    expect(standIn.authorizeRequests - before).toBe(4);
  });

  it('does not retry a 4xx (our request is wrong; retrying will not help)', async () => {
    standIn.failAuthorize(1, 400);
    const before = standIn.authorizeRequests;
    const reply = await client().authorize(request('market.archive', ['admin']));
    expect(reply).toMatchObject({ ok: false, code: 'unavailable' });
    expect(standIn.authorizeRequests - before).toBe(1);
  });

  it('service down (connection refused): unavailable after the retries, well within the deadline', async () => {
    const port = await closedPort();
    const started = performance.now();
    const reply = await client({ baseUrl: `http://127.0.0.1:${port}`, retries: 3, backoffMs: 20 }).authorize(
      request('market.register', ['issuer']),
    );
    const elapsed = performance.now() - started;
    expect(reply).toMatchObject({ ok: false, code: 'unavailable' });
    expect(elapsed).toBeLessThan(1_000);
  });

  it('service hanging: gives up within the configured deadline, attempts bounded', async () => {
    standIn.failAuthorize(100, 'hang');
    const before = standIn.authorizeRequests;
    const deadlineMs = 700;
    const started = performance.now();
    const reply = await client({ attemptTimeoutMs: 200, retries: 10, backoffMs: 10, deadlineMs }).authorize(
      request('market.register', ['issuer']),
    );
    const elapsed = performance.now() - started;
    expect(reply).toMatchObject({ ok: false, code: 'unavailable' });
    expect(!reply.ok && reply.message).toContain('TimeoutError');
    expect(elapsed).toBeGreaterThanOrEqual(deadlineMs - 50);
    // Slack for timers on a loaded machine; measured ~705 ms here.
    expect(elapsed).toBeLessThan(deadlineMs + 500);
    // 200 ms attempts in a 700 ms budget: at most four, never the eleven the retries would allow.
    expect(standIn.authorizeRequests - before).toBeLessThanOrEqual(4);
  });

  it('an unexpected body is unavailable, not a decision', async () => {
    standIn.setPolicy(() => ({ allowed: 'yes' }) as unknown as { allowed: boolean; reasons: string[] });
    const reply = await client().authorize(request('market.register', ['issuer']));
    expect(reply).toMatchObject({ ok: false, code: 'unavailable' });
  });

  it('reads the events API page by page', async () => {
    for (const marketId of ['a', 'b', 'c']) await standIn.decide({ marketId, decision: 'approved' });
    const first = await client().events(undefined, 2);
    expect(first.ok && first.value.events.length).toBe(2);
    expect(first.ok && first.value.next).toBe('2');
    const second = await client().events('2', 2);
    expect(second.ok && second.value).toMatchObject({ events: [{ payload: { market_id: 'c' } }], next: '3' });
    const empty = await client().events('3', 2);
    expect(empty).toEqual({ ok: true, value: { events: [], next: '3' } });
  });
});

describe('LocalPolicy (no ENTITY_PERMISSIONS_URL): JWT roles decide', () => {
  const expected: Record<EntityAction, string> = {
    'market.register': 'issuer',
    'market.approve': 'admin',
    'market.reject': 'admin',
    'market.pause': 'admin',
    'market.archive': 'admin',
  };

  it.each(
    ENTITY_ACTIONS.flatMap((action) => ['trader', 'issuer', 'admin'].map((role) => [action, role] as const)),
  )('%s with role %s', async (action, role) => {
    const reply = await new LocalPolicy().authorize(request(action, [role]));
    expect(reply).toMatchObject({ ok: true, value: { allowed: role === expected[action] } });
    expect(reply.ok && reply.value.reasons.length).toBe(1);
  });

  it('no roles: nothing allowed', async () => {
    for (const action of ENTITY_ACTIONS) {
      expect(await new LocalPolicy().authorize(request(action, []))).toMatchObject({
        value: { allowed: false },
      });
    }
  });

  it('is what the config builds without a URL; the HTTP client with one', () => {
    expect(createEntityPermissions(loadIntegrationsConfig({})).permissions).toBeInstanceOf(LocalPolicy);
    const withUrl = createEntityPermissions(loadIntegrationsConfig({ ENTITY_PERMISSIONS_URL: standIn.url }));
    expect(withUrl.permissions).toBeInstanceOf(EntityPermissionsClient);
  });

  it('config defaults and refusals', () => {
    const config = loadIntegrationsConfig({});
    expect(config).toMatchObject({
      ENTITY_PERMISSIONS_TIMEOUT_MS: 1_000,
      ENTITY_PERMISSIONS_RETRIES: 2,
      ENTITY_PERMISSIONS_DEADLINE_MS: 3_000,
      ENTITY_PERMISSIONS_POLL: false,
      ENTITY_PERMISSIONS_POLL_INTERVAL_MS: 10_000,
      SNS_ALLOWED_HOSTS: ['sns.*.amazonaws.com', 'sns.*.amazonaws.com.cn'],
      SNS_TOPIC_ARNS: [],
    });
    expect(() => loadIntegrationsConfig({ ENTITY_PERMISSIONS_POLL: 'true' })).toThrow(
      /needs ENTITY_PERMISSIONS_URL/,
    );
    expect(() => loadIntegrationsConfig({ ENTITY_PERMISSIONS_RETRIES: '-1' })).toThrow(
      /ENTITY_PERMISSIONS_RETRIES/,
    );
  });
});

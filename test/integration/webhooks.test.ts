import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { createPool, sql, type DatabasePool } from 'slonik';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  startEntityPermissionsStandIn,
  type DecisionEventPayload,
  type EntityPermissionsStandIn,
} from '../../scripts/entity-permissions.ts';
import {
  DecisionProcessor,
  type Decide,
  type MarketDecision,
} from '../../src/integrations/decisionEvents.ts';
import { EntityPermissionsClient } from '../../src/integrations/entityPermissions.ts';
import { DecisionPoller } from '../../src/integrations/polling.ts';
import { SnsVerifier } from '../../src/integrations/snsSignature.ts';
import { signWebhookBody } from '../../src/integrations/webhookSignature.ts';
import {
  createEntityPermissionsWebhookHandler,
  type EntityPermissionsWebhookHandler,
  type WebhookResponse,
} from '../../src/integrations/webhooks.ts';
import { useTestDatabase } from '../support/database.ts';
import { eventually } from '../support/eventually.ts';

/*
 * The entity-permissions webhook and polling fallback against a real Postgres, with the stand-in
 * service over real HTTP. The issuance service is a fake `decide` that keeps market states in a map
 * and refuses what the lifecycle would refuse; the end-to-end test with the real one lives with it.
 */

const SECRET = 'test-webhook-secret-0123456789';
const log = pino({ level: 'silent' });
const database = useTestDatabase('webhooks');

type MarketState = 'pending_approval' | 'approved' | 'rejected' | 'active';

/** Stand-in of the issuance service's decide: pending_approval → approved | rejected, else refused. */
class FakeIssuance {
  readonly markets = new Map<string, MarketState>();
  readonly calls: MarketDecision[] = [];
  /** While set, decisions wait for it: a decision still running when others arrive. */
  hold: Promise<void> | undefined;
  unavailable = false;

  readonly decide: Decide = async (decision) => {
    this.calls.push(decision);
    if (this.hold !== undefined) await this.hold;
    if (this.unavailable) return { ok: false, code: 'unavailable', message: 'journal unavailable' };
    const state = this.markets.get(decision.marketId);
    if (state === undefined)
      return { ok: false, code: 'unknown_market', message: `unknown market ${decision.marketId}` };
    if (state !== 'pending_approval') {
      return { ok: false, code: 'invalid_transition', message: `market is ${state}, not pending_approval` };
    }
    this.markets.set(decision.marketId, decision.decision);
    return { ok: true };
  };

  pending(): string {
    const id = `mkt-${randomUUID().slice(0, 8)}`;
    this.markets.set(id, 'pending_approval');
    return id;
  }
}

let pool: DatabasePool;
let issuance: FakeIssuance;

beforeAll(async () => {
  pool = await createPool(database.get().url, { maximumPoolSize: 4 });
});

afterAll(async () => {
  await pool.end();
});

beforeEach(() => {
  issuance = new FakeIssuance();
});

function event(marketId: string, decision: 'approved' | 'rejected' = 'approved', eventId = randomUUID()) {
  return {
    event_id: eventId,
    event_type: `market.${decision}`,
    payload: {
      market_id: marketId,
      entity_id: marketId,
      decision,
      ...(decision === 'rejected' ? { reason: 'KYB' } : {}),
    },
    context: { actor_id: 'officer-1' },
  } satisfies Omit<DecisionEventPayload, 'event_type'> & { event_type: string };
}

function handlerWith(sns: SnsVerifier = verifierFor(undefined)): EntityPermissionsWebhookHandler {
  return createEntityPermissionsWebhookHandler({ pool, secret: SECRET, decide: issuance.decide, sns, log });
}

function verifierFor(standIn: EntityPermissionsStandIn | undefined, hosts?: string[]): SnsVerifier {
  return new SnsVerifier({
    allowedHosts: hosts ?? (standIn === undefined ? ['sns.*.amazonaws.com'] : [standIn.host]),
    allowedTopicArns: standIn === undefined ? [] : [standIn.topicArn],
  });
}

const NOW = 1_763_800_000_000;

/** A direct post signed at `t` (seconds), handled at NOW. */
function signed(body: unknown, t = NOW / 1000, secret = SECRET) {
  const rawBody = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  return { rawBody, headers: { signature: signWebhookBody(secret, rawBody, t) }, now: NOW };
}

const ProcessedRow = z.object({
  event_id: z.string(),
  status: z.string(),
  source: z.string(),
  error: z.string().nullable(),
  market_id: z.string().nullable(),
  attempts: z.number(),
});

async function processed(eventId: string) {
  return pool.maybeOne(sql.type(ProcessedRow)`
    SELECT event_id, status, source, error, market_id, attempts FROM processed_events WHERE event_id = ${eventId}`);
}

const RejectionRow = z.object({
  source: z.string(),
  status_code: z.number(),
  error: z.string(),
  event_id: z.string().nullable(),
});

async function lastRejection() {
  return pool.maybeOne(sql.type(RejectionRow)`
    SELECT source, status_code, error, event_id FROM webhook_rejections ORDER BY id DESC LIMIT 1`);
}

async function rejectionCount(): Promise<number> {
  return pool.oneFirst(
    sql.type(z.object({ n: z.number() }))`SELECT count(*)::int AS n FROM webhook_rejections`,
  );
}

/** The route's job, as the lead's transport will do it: raw body and two headers in, status and JSON out. */
async function serve(handler: EntityPermissionsWebhookHandler): Promise<{ url: string; server: Server }> {
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const header = (name: string) => {
        const value = request.headers[name];
        return Array.isArray(value) ? value[0] : value;
      };
      void handler({
        rawBody: Buffer.concat(chunks),
        headers: { signature: header('x-signature'), snsMessageType: header('x-amz-sns-message-type') },
        now: Date.now(),
      }).then((answer: WebhookResponse) => {
        response
          .writeHead(answer.status, { 'content-type': 'application/json' })
          .end(JSON.stringify(answer.body));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/api/v1/webhooks/entity-permissions`, server };
}

async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

describe('direct webhook signature (X-Signature, 300 s window)', () => {
  it('processes a correctly signed decision once and records it as success', async () => {
    const market = issuance.pending();
    const body = event(market);
    const answer = await handlerWith()(signed(body));
    expect(answer).toEqual({ status: 200, body: { status: 'processed' } });
    expect(issuance.markets.get(market)).toBe('approved');
    expect(issuance.calls).toEqual([
      {
        marketId: market,
        decision: 'approved',
        actor: { id: 'officer-1', type: 'compliance' },
        eventId: body.event_id,
        metadata: { source: 'direct', entityId: market, eventType: 'market.approved' },
      },
    ]);
    expect(await processed(body.event_id)).toMatchObject({
      status: 'success',
      source: 'direct',
      market_id: market,
    });
  });

  it.each([
    ['missing', undefined, 'missing X-Signature'],
    ['empty', '', 'missing X-Signature'],
    ['not t=,v1=', 'sha256=abcdef', 'malformed X-Signature'],
    ['v1 not hex', `t=${NOW / 1000},v1=zz`, 'malformed X-Signature'],
    ['another secret', undefined, 'does not match'],
  ])('refuses a %s signature with 401, records it, changes nothing', async (label, header, reason) => {
    const market = issuance.pending();
    const body = event(market);
    const request =
      label === 'another secret' ? signed(body, NOW / 1000, 'some-other-secret-9876543210') : signed(body);
    const before = await rejectionCount();
    const answer = await handlerWith()({
      ...request,
      headers: { signature: label === 'another secret' ? request.headers.signature : header },
    });
    expect(answer.status).toBe(401);
    expect(answer.body).toMatchObject({ error: { code: 'unauthorized' } });
    expect(JSON.stringify(answer.body)).toContain(reason);
    expect(issuance.calls).toEqual([]);
    expect(issuance.markets.get(market)).toBe('pending_approval');
    expect(await processed(body.event_id)).toBeNull();
    expect(await rejectionCount()).toBe(before + 1);
    expect(await lastRejection()).toMatchObject({ source: 'direct', status_code: 401 });
  });

  it('refuses a body altered after signing', async () => {
    const market = issuance.pending();
    const request = signed(event(market));
    const tampered = Buffer.from(request.rawBody.toString().replace('approved', 'rejected'));
    const answer = await handlerWith()({ ...request, rawBody: tampered });
    expect(answer.status).toBe(401);
    expect(issuance.calls).toEqual([]);
  });

  it.each([
    [-300, 200],
    [300, 200],
    [-301, 401],
    [301, 401],
    [-86_400, 401],
  ])('t = now %+d s answers %d', async (offset, status) => {
    const market = issuance.pending();
    const answer = await handlerWith()(signed(event(market), NOW / 1000 + offset));
    expect(answer.status).toBe(status);
    expect(issuance.markets.get(market)).toBe(status === 200 ? 'approved' : 'pending_approval');
    if (status === 401) expect(JSON.stringify(answer.body)).toContain('limit 300 s');
  });

  it('checks the window against the server clock, not the signer: a replay 301 s later is refused', async () => {
    const market = issuance.pending();
    const request = signed(event(market));
    const answer = await handlerWith()({ ...request, now: NOW + 301_000 });
    expect(answer.status).toBe(401);
    expect(issuance.calls).toEqual([]);
  });
});

describe('malformed bodies', () => {
  it.each([
    ['not JSON', '{"event_id":'],
    ['JSON but not an object', '[1,2,3]'],
    ['no event_id', JSON.stringify({ ...event('m'), event_id: undefined })],
    ['unknown event_type', JSON.stringify({ ...event('m'), event_type: 'market.deleted' })],
    ['decision disagrees with event_type', JSON.stringify({ ...event('m'), event_type: 'market.rejected' })],
    ['no context', JSON.stringify({ ...event('m'), context: undefined })],
    ['empty market_id', JSON.stringify(event(''))],
    [
      'U+0000 (jsonb cannot store it)',
      JSON.stringify({
        ...event('m', 'rejected'),
        payload: { ...event('m', 'rejected').payload, reason: 'a\u0000b' },
      }),
    ],
  ])('%s: 400 bad_request, recorded, nothing changed', async (_label, body) => {
    const before = await rejectionCount();
    const answer = await handlerWith()(signed(body));
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ error: { code: 'bad_request' } });
    expect(issuance.calls).toEqual([]);
    expect(await rejectionCount()).toBe(before + 1);
    expect(await lastRejection()).toMatchObject({ source: 'direct', status_code: 400 });
  });

  it('a malformed body never claims its event_id: the genuine event is still processed', async () => {
    const market = issuance.pending();
    const genuine = event(market);
    const broken = { ...genuine, event_type: 'market.rejected' };
    expect((await handlerWith()(signed(broken))).status).toBe(400);
    expect(await processed(genuine.event_id)).toBeNull();
    expect((await handlerWith()(signed(genuine))).body).toEqual({ status: 'processed' });
  });
});

describe('out of order and invalid decisions', () => {
  it('a reject after approval answers 409 invalid_transition, recorded as failed, market unchanged', async () => {
    const market = issuance.pending();
    expect((await handlerWith()(signed(event(market, 'approved')))).status).toBe(200);
    const reject = event(market, 'rejected');
    const answer = await handlerWith()(signed(reject));
    expect(answer.status).toBe(409);
    expect(answer.body).toMatchObject({ error: { code: 'invalid_transition' } });
    expect(issuance.markets.get(market)).toBe('approved');
    expect(await processed(reject.event_id)).toMatchObject({
      status: 'failed',
      error: 'invalid_transition: market is approved, not pending_approval',
    });
  });

  it('a decision for an unknown market answers 409 invalid_transition, recorded as failed', async () => {
    const body = event('no-such-market');
    const answer = await handlerWith()(signed(body));
    expect(answer.status).toBe(409);
    expect(answer.body).toMatchObject({
      error: { code: 'invalid_transition', message: 'unknown market no-such-market' },
    });
    expect(await processed(body.event_id)).toMatchObject({ status: 'failed', market_id: 'no-such-market' });
  });

  it('a market not pending approval (already active) is refused', async () => {
    const market = issuance.pending();
    issuance.markets.set(market, 'active');
    const answer = await handlerWith()(signed(event(market)));
    expect(answer.status).toBe(409);
    expect(issuance.markets.get(market)).toBe('active');
  });

  it('finding 4: a refused event is retryable: delivered again once it applies, it is processed, then a duplicate', async () => {
    const body = event('registered-later');
    expect((await handlerWith()(signed(body))).status).toBe(409);
    expect((await handlerWith()(signed(body))).status).toBe(409);
    expect(await processed(body.event_id)).toMatchObject({ status: 'failed', attempts: 2 });
    issuance.markets.set('registered-later', 'pending_approval');
    expect((await handlerWith()(signed(body))).body).toEqual({ status: 'processed' });
    expect(issuance.markets.get('registered-later')).toBe('approved');
    expect(await processed(body.event_id)).toMatchObject({ status: 'success', attempts: 3 });
    expect((await handlerWith()(signed(body))).body).toEqual({ status: 'duplicate' });
  });

  it('when the issuance service is unavailable: 503, the claim is released, a redelivery decides', async () => {
    const market = issuance.pending();
    const body = event(market);
    issuance.unavailable = true;
    const answer = await handlerWith()(signed(body));
    expect(answer).toMatchObject({ status: 503, body: { error: { code: 'unavailable' } } });
    expect(await processed(body.event_id)).toBeNull();
    issuance.unavailable = false;
    expect((await handlerWith()(signed(body))).body).toEqual({ status: 'processed' });
    expect(issuance.markets.get(market)).toBe('approved');
  });
});

describe('idempotency by event_id', () => {
  it('a repeated event answers 200 duplicate and is decided once', async () => {
    const market = issuance.pending();
    const body = event(market);
    const handler = handlerWith();
    expect((await handler(signed(body))).body).toEqual({ status: 'processed' });
    expect((await handler(signed(body, NOW / 1000 - 10))).body).toEqual({ status: 'duplicate' });
    expect((await handler(signed(body))).body).toEqual({ status: 'duplicate' });
    expect(issuance.calls).toHaveLength(1);
    expect(await processed(body.event_id)).toMatchObject({ status: 'success', attempts: 1 });
  });

  it('10 concurrent deliveries of one event over HTTP: one processed, nine duplicates, decided once', async () => {
    const { url, server } = await serve(handlerWith());
    const standIn = await startEntityPermissionsStandIn({ webhookUrl: url, secret: SECRET, mode: 'direct' });
    try {
      const market = issuance.pending();
      let release = (): void => undefined;
      issuance.hold = new Promise((resolve) => (release = resolve));
      const { event: recorded } = await standIn.decide({
        marketId: market,
        decision: 'approved',
        deliver: false,
      });
      let answered = 0;
      const deliveries = Array.from({ length: 10 }, () =>
        standIn.deliver(recorded).finally(() => answered++),
      );
      // The first decision is still running (held) when the nine others are answered.
      await eventually(() => answered === 9 && issuance.calls.length === 1, {
        what: () => `nine deliveries answered while the first decides (${answered} answered)`,
      });
      release();
      issuance.hold = undefined;
      const answers = await Promise.all(deliveries);
      expect(answers.map((a) => a.status)).toEqual(Array.from({ length: 10 }, () => 200));
      const statuses = answers.map((a) => (a.body as { status: string }).status).sort();
      expect(statuses).toEqual(
        ['duplicate', ...Array.from({ length: 8 }, () => 'duplicate'), 'processed'].sort(),
      );
      expect(issuance.calls).toHaveLength(1);
      expect(issuance.markets.get(market)).toBe('approved');
      expect(await processed(recorded.event_id)).toMatchObject({ status: 'success', attempts: 1 });
    } finally {
      await standIn.close();
      await closeServer(server);
    }
  });

  it('a claim abandoned by a crash is taken over after the lease', async () => {
    const market = issuance.pending();
    const body = event(market);
    await pool.query(sql.unsafe`
      INSERT INTO processed_events (event_id, status, source, payload, claimed_at)
      VALUES (${body.event_id}, 'processing', 'direct', '{}'::jsonb, now() - interval '2 minutes')`);
    expect((await handlerWith()(signed(body))).body).toEqual({ status: 'processed' });
    expect(await processed(body.event_id)).toMatchObject({ status: 'success', attempts: 2 });
  });
});

describe('SNS envelopes (signed by the stand-in, certificate served on its own host)', () => {
  let standIn: EntityPermissionsStandIn;
  let receiver: { url: string; server: Server };
  let handler: EntityPermissionsWebhookHandler = () => Promise.reject(new Error('no handler yet'));

  beforeAll(async () => {
    receiver = await serve((request) => handler(request));
    standIn = await startEntityPermissionsStandIn({ webhookUrl: receiver.url, secret: SECRET, mode: 'sns' });
  });

  afterAll(async () => {
    await standIn.close();
    await closeServer(receiver.server);
  });

  it('accepts a Notification verified with the allowlisted certificate host', async () => {
    handler = handlerWith(verifierFor(standIn));
    const market = issuance.pending();
    const { event: recorded, delivery } = await standIn.decide({ marketId: market, decision: 'approved' });
    expect(delivery).toEqual({ status: 200, body: { status: 'processed' } });
    expect(issuance.markets.get(market)).toBe('approved');
    expect(await processed(recorded.event_id)).toMatchObject({ status: 'success', source: 'sns' });
  });

  it('the same event by SNS after a direct post is a duplicate', async () => {
    handler = handlerWith(verifierFor(standIn));
    const market = issuance.pending();
    const { event: recorded } = await standIn.decide({
      marketId: market,
      decision: 'rejected',
      deliver: false,
    });
    expect((await standIn.deliver(recorded, 'direct')).body).toEqual({ status: 'processed' });
    expect((await standIn.deliver(recorded, 'sns')).body).toEqual({ status: 'duplicate' });
    expect(issuance.calls).toHaveLength(1);
    expect(issuance.markets.get(market)).toBe('rejected');
  });

  it('accepts SignatureVersion 2 (SHA256)', async () => {
    const v2 = await startEntityPermissionsStandIn({
      webhookUrl: receiver.url,
      secret: SECRET,
      mode: 'sns',
      signatureVersion: '2',
    });
    try {
      handler = handlerWith(verifierFor(v2));
      const market = issuance.pending();
      const { delivery } = await v2.decide({ marketId: market, decision: 'approved' });
      expect(delivery).toEqual({ status: 200, body: { status: 'processed' } });
    } finally {
      await v2.close();
    }
  });

  it('refuses an envelope whose certificate host is not allowlisted (401, recorded, never fetched)', async () => {
    handler = handlerWith(verifierFor(standIn, ['sns.*.amazonaws.com', '127.0.0.1:1']));
    const market = issuance.pending();
    const { event: recorded, delivery } = await standIn.decide({ marketId: market, decision: 'approved' });
    expect(delivery?.status).toBe(401);
    expect(JSON.stringify(delivery?.body)).toContain('certificate URL not allowlisted');
    expect(issuance.calls).toEqual([]);
    expect(await processed(recorded.event_id)).toBeNull();
    expect(await lastRejection()).toMatchObject({ source: 'sns', status_code: 401 });
  });

  it('refuses a topic that is not allowlisted', async () => {
    handler = handlerWith(
      new SnsVerifier({ allowedHosts: [standIn.host], allowedTopicArns: ['arn:aws:sns:x:1:other'] }),
    );
    const { delivery } = await standIn.decide({ marketId: issuance.pending(), decision: 'approved' });
    expect(delivery?.status).toBe(401);
    expect(JSON.stringify(delivery?.body)).toContain('topic');
  });

  it('refuses a tampered Message (signature no longer matches)', async () => {
    handler = handlerWith(verifierFor(standIn));
    const market = issuance.pending();
    const { event: recorded } = await standIn.decide({
      marketId: market,
      decision: 'approved',
      deliver: false,
    });
    const prepared = standIn.prepare(recorded);
    const envelope = JSON.parse(prepared.body.toString()) as Record<string, string>;
    envelope.Message = JSON.stringify({
      ...recorded,
      payload: { ...recorded.payload, decision: 'rejected' },
      event_type: 'market.rejected',
    });
    const answer = await handler({
      rawBody: Buffer.from(JSON.stringify(envelope)),
      headers: { snsMessageType: 'Notification' },
      now: Date.now(),
    });
    expect(answer.status).toBe(401);
    expect(JSON.stringify(answer.body)).toContain('invalid SNS signature');
    expect(issuance.calls).toEqual([]);
  });

  it('takes an SNS envelope without the SNS headers (a proxy dropped them) as SNS', async () => {
    handler = handlerWith(verifierFor(standIn));
    const market = issuance.pending();
    const { event: recorded } = await standIn.decide({
      marketId: market,
      decision: 'approved',
      deliver: false,
    });
    const answer = await handler({ rawBody: standIn.prepare(recorded).body, headers: {}, now: Date.now() });
    expect(answer.body).toEqual({ status: 'processed' });
  });

  it('malformed envelopes answer 400', async () => {
    handler = handlerWith(verifierFor(standIn));
    for (const rawBody of ['not json', JSON.stringify({ Type: 'Notification' })]) {
      const answer = await handler({
        rawBody: Buffer.from(rawBody),
        headers: { snsMessageType: 'Notification' },
        now: Date.now(),
      });
      expect(answer.status).toBe(400);
    }
  });

  it('confirms a subscription by fetching an allowlisted SubscribeURL', async () => {
    handler = handlerWith(verifierFor(standIn));
    const answer = await standIn.sendSubscriptionConfirmation();
    expect(answer).toEqual({ status: 200, body: { status: 'confirmed' } });
    expect(standIn.subscriptionConfirmed).toBe(true);
  });

  it('refuses to fetch a SubscribeURL off the allowlist: recorded, 403', async () => {
    handler = handlerWith(verifierFor(standIn));
    const answer = await standIn.sendSubscriptionConfirmation('https://attacker.example.com/confirm?Token=x');
    expect(answer.status).toBe(403);
    expect(await lastRejection()).toMatchObject({ source: 'sns', status_code: 403 });
  });
});

describe('polling fallback', () => {
  it('picks up a decision that no webhook delivered, from a persisted cursor, once', async () => {
    const standIn = await startEntityPermissionsStandIn({ secret: SECRET, mode: 'direct' });
    const client = new EntityPermissionsClient({
      baseUrl: standIn.url,
      attemptTimeoutMs: 1_000,
      retries: 1,
      backoffMs: 10,
      deadlineMs: 2_000,
    });
    const processor = new DecisionProcessor({ pool, decide: issuance.decide, log });
    const poller = (cursorName: string) =>
      new DecisionPoller({ pool, source: client, processor, log, pageSize: 2, cursorName, intervalMs: 20 });
    try {
      const markets = [issuance.pending(), issuance.pending(), issuance.pending()];
      for (const market of markets) await standIn.decide({ marketId: market, decision: 'approved' });
      // One delivered by webhook before the poller sees it: the poller counts it a duplicate.
      const first = standIn.events[0]!;
      expect((await handlerWith()(signed(first))).body).toEqual({ status: 'processed' });

      const round = await poller('test.a').pollOnce();
      expect(round).toEqual({
        fetched: 3,
        processed: 2,
        duplicates: 1,
        refused: 0,
        skipped: 0,
        retried: 0,
        complete: true,
      });
      expect(markets.map((m) => issuance.markets.get(m))).toEqual(['approved', 'approved', 'approved']);
      const cursor = await pool.oneFirst(
        sql.type(
          z.object({ cursor: z.string() }),
        )`SELECT cursor FROM integration_cursors WHERE name = 'test.a'`,
      );
      expect(cursor).toBe('3');

      // A new poller (a restart) resumes from the cursor: nothing is fetched again.
      expect((await poller('test.a').pollOnce()).fetched).toBe(0);
      expect(issuance.calls).toHaveLength(3);
      expect(await processed(standIn.events[1]!.event_id)).toMatchObject({
        status: 'success',
        source: 'polling',
      });

      // Started, it finds the next decision by itself.
      const running = poller('test.a');
      running.start();
      const late = issuance.pending();
      await standIn.decide({ marketId: late, decision: 'rejected', reason: 'sanctions' });
      await expect.poll(() => issuance.markets.get(late), { timeout: 2_000 }).toBe('rejected');
      await running.stop();
      expect(issuance.calls.at(-1)).toMatchObject({ marketId: late, reason: 'sanctions' });
    } finally {
      await standIn.close();
    }
  });

  it('does not move the cursor past an event it could not decide; retries it next round', async () => {
    const standIn = await startEntityPermissionsStandIn({ secret: SECRET, mode: 'direct' });
    const client = new EntityPermissionsClient({
      baseUrl: standIn.url,
      attemptTimeoutMs: 500,
      retries: 0,
      backoffMs: 10,
      deadlineMs: 500,
    });
    const processor = new DecisionProcessor({ pool, decide: issuance.decide, log });
    const poller = new DecisionPoller({ pool, source: client, processor, log, cursorName: 'test.b' });
    try {
      const market = issuance.pending();
      await standIn.decide({ marketId: market, decision: 'approved' });
      issuance.unavailable = true;
      expect(await poller.pollOnce()).toMatchObject({ fetched: 1, processed: 0, complete: false });
      issuance.unavailable = false;
      expect(await poller.pollOnce()).toMatchObject({ fetched: 1, processed: 1, complete: true });
      expect(issuance.markets.get(market)).toBe('approved');
    } finally {
      await standIn.close();
    }
  });

  it('finding 4: decides a polled event refused before its market was registered again, each round until it applies', async () => {
    const source = {
      events: (cursor: string | undefined) =>
        Promise.resolve({
          ok: true as const,
          value: { events: cursor === undefined ? [event('polled-early')] : [], next: 'e1' },
        }),
    };
    const processor = new DecisionProcessor({ pool, decide: issuance.decide, log });
    const poller = new DecisionPoller({ pool, source, processor, log, cursorName: 'test.e' });
    expect(await poller.pollOnce()).toMatchObject({ fetched: 1, refused: 1, retried: 0, complete: true });
    // The cursor moved past it; the next round decides it again from processed_events.
    expect(await poller.pollOnce()).toMatchObject({ fetched: 0, refused: 1, retried: 1, complete: true });
    issuance.markets.set('polled-early', 'pending_approval');
    expect(await poller.pollOnce()).toMatchObject({ fetched: 0, processed: 1, retried: 1, complete: true });
    expect(issuance.markets.get('polled-early')).toBe('approved');
    expect(await poller.pollOnce()).toMatchObject({ retried: 0, processed: 0 });
  });

  it('finding 4: a polled event with a lone surrogate is skipped (recorded without its payload), not a stalled round', async () => {
    const bad = { ...event('m'), payload: { ...event('m').payload, reason: 'x\ud800' } };
    const source = {
      events: (cursor: string | undefined) =>
        Promise.resolve({
          ok: true as const,
          value: { events: cursor === undefined ? [bad] : [], next: 's1' },
        }),
    };
    const processor = new DecisionProcessor({ pool, decide: issuance.decide, log });
    const poller = new DecisionPoller({ pool, source, processor, log, cursorName: 'test.s' });
    expect(await poller.pollOnce()).toMatchObject({ fetched: 1, skipped: 1, complete: true });
    expect(await processed(bad.event_id)).toMatchObject({ status: 'skipped' });
  });

  it('records a malformed event as skipped and moves on; an unreachable service is an incomplete round', async () => {
    const source = {
      events: (cursor: string | undefined) =>
        Promise.resolve(
          cursor === undefined
            ? {
                ok: true as const,
                value: {
                  events: [{ event_id: 'bad-1', event_type: 'market.deleted' }, { nope: 1 }],
                  next: 'c1',
                },
              }
            : { ok: false as const, code: 'unavailable' as const, message: 'down' },
        ),
    };
    const processor = new DecisionProcessor({ pool, decide: issuance.decide, log });
    const poller = new DecisionPoller({ pool, source, processor, log, cursorName: 'test.c' });
    expect(await poller.pollOnce()).toMatchObject({ fetched: 2, skipped: 2, complete: true });
    expect(await processed('bad-1')).toMatchObject({ status: 'skipped', source: 'polling' });
    expect(await poller.pollOnce()).toMatchObject({ fetched: 0, complete: false });
  });
});

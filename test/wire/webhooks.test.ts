import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  startEntityPermissionsStandIn,
  type EntityPermissionsStandIn,
} from '../../scripts/entity-permissions.ts';
import { sql } from 'slonik';
import { createDatabasePool } from '../../src/persistence/pool.ts';
import { eventually } from '../support/eventually.ts';
import { runExchange, type RunningExchange } from '../support/exchange.ts';

/*
 * Approval decisions reaching the real exchange from the entity-permissions service stand-in over
 * real HTTP: a signed direct webhook (delivered three times at once: processed once), an SNS
 * envelope, a forged one, a decision for an unknown market, and one that no webhook delivered,
 * picked up by the polling fallback. Authorization of registration goes to the stand-in too.
 */

// HTTP bodies are JSON of many shapes; these tests read them field by field.
/* eslint-disable @typescript-eslint/no-unsafe-member-access */

const SECRET = 'webhook-secret-for-the-wire-tests';
let standIn: EntityPermissionsStandIn;
let running: RunningExchange;
let issuer: string;

beforeAll(async () => {
  standIn = await startEntityPermissionsStandIn({ secret: SECRET, mode: 'direct' });
  running = await runExchange({
    WEBHOOK_SECRET: SECRET,
    ENTITY_PERMISSIONS_URL: standIn.url,
    ENTITY_PERMISSIONS_POLL: 'true',
    ENTITY_PERMISSIONS_POLL_INTERVAL_MS: '200',
    SNS_ALLOWED_HOSTS: standIn.host,
    SNS_TOPIC_ARNS: standIn.topicArn,
  });
  await running.asset('USDC', 6, 'stable');
  issuer = await running.token('issuer-9', ['issuer']);
});

afterAll(async () => {
  await running.stop();
  await standIn.close();
});

async function register(tokenSymbol: string): Promise<string> {
  const registered = await running.request('POST', '/api/v1/markets/register', {
    token: issuer,
    body: {
      name: `${tokenSymbol} carbon credits`,
      assetType: 'carbon_credit',
      tokenSymbol,
      tokenName: `${tokenSymbol} Credit`,
      totalSupply: '500000',
      quoteAsset: 'USDC',
      priceDecimals: 2,
      qtyDecimals: 2,
      tickSize: '0.01',
      lotSize: '0.01',
      minQty: '0.01',
    },
  });
  expect(registered.status).toBe(201);
  return String(registered.body.id);
}

async function post(prepared: { body: Buffer; headers: Record<string, string> }) {
  const response = await fetch(`${running.http}/api/v1/webhooks/entity-permissions`, {
    method: 'POST',
    headers: prepared.headers,
    body: prepared.body,
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function statusOf(id: string): Promise<string> {
  return String((await running.request('GET', `/api/v1/markets/${id}`)).body.status);
}

async function until(check: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  await eventually(check, { what, timeoutMs, everyMs: 100 });
}

describe('entity-permissions decisions', () => {
  it('asks the service to authorize registration', async () => {
    const before = standIn.authorizeRequests;
    await register('CCA');
    expect(standIn.authorizeRequests).toBeGreaterThan(before);
  });

  it('processes a signed direct webhook once, however often it is delivered at once', async () => {
    const id = await register('CCB');
    const { event } = await standIn.decide({ marketId: id, decision: 'approved', deliver: false });
    const prepared = standIn.prepare(event, 'direct');
    const answers = await Promise.all([post(prepared), post(prepared), post(prepared)]);
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);
    expect(answers.filter((a) => a.body.status === 'processed')).toHaveLength(1);
    expect(answers.filter((a) => a.body.status === 'duplicate')).toHaveLength(2);
    await until(async () => (await statusOf(id)) === 'active', 'the market to go active');
    const events = await running.request('GET', `/api/v1/markets/${id}/events`);
    const approvals = (events.body as { eventType: string; actorType: string }[]).filter(
      (e) => e.eventType === 'market.approved',
    );
    expect(approvals).toHaveLength(1);
    // The decision's metadata travels with the journaled lifecycle event (issue 13: no second write).
    expect(approvals[0]).toMatchObject({
      actorType: 'compliance',
      decision: 'approved',
      metadata: { source: 'direct', entityId: id, eventType: 'market.approved' },
    });
    const { metadata } = approvals[0] as { metadata?: { eventId?: unknown } };
    expect(typeof metadata?.eventId).toBe('string');
  });

  it('accepts an SNS envelope verified by its signature, and then treats the direct copy as a duplicate', async () => {
    const id = await register('CCC');
    const { event } = await standIn.decide({
      marketId: id,
      decision: 'rejected',
      reason: 'registry mismatch',
      deliver: false,
    });
    const sns = await post(standIn.prepare(event, 'sns'));
    expect(sns).toMatchObject({ status: 200, body: { status: 'processed' } });
    expect(await statusOf(id)).toBe('rejected');
    expect(await post(standIn.prepare(event, 'direct'))).toMatchObject({
      status: 200,
      body: { status: 'duplicate' },
    });
  });

  it('refuses a forged or stale delivery and an unknown market, changing nothing', async () => {
    const id = await register('CCD');
    // Not recorded in the service's events API, or the poller would approve the market meanwhile.
    const event = {
      event_id: `forged-${id}`,
      event_type: 'market.approved' as const,
      payload: { market_id: id, entity_id: id, decision: 'approved' as const },
      context: { actor_id: 'compliance-officer' },
    };
    const prepared = standIn.prepare(event, 'direct');
    const forged = {
      ...prepared,
      body: Buffer.from(prepared.body.toString('utf8').replace('approved', 'rejected')),
    };
    expect((await post(forged)).status).toBe(401);
    const unsigned = { ...prepared, headers: { 'content-type': 'application/json' } };
    expect((await post(unsigned)).status).toBe(401);
    const stale = {
      ...prepared,
      headers: {
        ...prepared.headers,
        'x-signature': prepared.headers['x-signature']!.replace(/t=\d+/, 't=1000'),
      },
    };
    expect((await post(stale)).status).toBe(401);
    expect(await statusOf(id)).toBe('pending_approval');
    const ghost = {
      ...event,
      event_id: 'ghost-1',
      payload: { ...event.payload, market_id: 'no-such-market' },
    };
    const unknown = await post(standIn.prepare(ghost, 'direct'));
    expect(unknown.status).toBe(409);
    expect(unknown.body).toMatchObject({ error: { code: 'invalid_transition' } });
  });

  it('picks up a decision that no webhook delivered, by polling', async () => {
    const id = await register('CCE');
    await standIn.decide({ marketId: id, decision: 'approved', deliver: false });
    await until(
      async () => ['activating', 'active'].includes(await statusOf(id)),
      'the poller to approve the market',
    );
  });

  it('finding 4: an approval refused for a market not registered yet is processed when delivered again after registration', async () => {
    const event = {
      event_id: 'early-approval-ccf',
      event_type: 'market.approved' as const,
      payload: { market_id: 'CCF-USDC', entity_id: 'CCF', decision: 'approved' as const },
      context: { actor_id: 'compliance-officer' },
    };
    const early = await post(standIn.prepare(event, 'direct'));
    expect(early).toMatchObject({ status: 409, body: { error: { code: 'invalid_transition' } } });
    // Delivered again before it could apply: still refused, still not a duplicate.
    expect((await post(standIn.prepare(event, 'direct'))).status).toBe(409);
    const id = await register('CCF');
    expect(await statusOf(id)).toBe('pending_approval');
    const again = await post(standIn.prepare(event, 'direct'));
    expect(again).toMatchObject({ status: 200, body: { status: 'processed' } });
    await until(async () => ['activating', 'active'].includes(await statusOf(id)), 'the approval to apply');
    // Processed now: only that counts as a duplicate.
    expect(await post(standIn.prepare(event, 'direct'))).toMatchObject({
      status: 200,
      body: { status: 'duplicate' },
    });
  });

  it('finding 4: a polled approval refused before registration is decided again once the market is registered', async () => {
    const { event } = await standIn.decide({ marketId: 'CCG-USDC', decision: 'approved', deliver: false });
    // The poller sees it, and refuses it, before the market exists.
    const pool = await createDatabasePool(running.database.url);
    try {
      await until(async () => {
        const status: unknown = await pool.maybeOneFirst(
          sql.unsafe`SELECT status FROM processed_events WHERE event_id = ${event.event_id}`,
        );
        return status === 'failed';
      }, 'the poller to refuse the early approval');
    } finally {
      await pool.end();
    }
    const id = await register('CCG');
    await until(
      async () => ['activating', 'active'].includes(await statusOf(id)),
      'the poller to decide the refused approval again',
    );
  });

  it('finding 4: NUL or a lone surrogate in a signed webhook reason answers 400, not 503', async () => {
    const id = await register('CCH');
    for (const [n, reason] of [
      [1, 'bad\u0000reason'],
      [2, 'lone \ud800 surrogate'],
    ] as const) {
      const event = {
        event_id: `unstorable-${n}-${id}`,
        event_type: 'market.rejected' as const,
        payload: { market_id: id, entity_id: id, decision: 'rejected' as const, reason },
        context: { actor_id: 'compliance-officer' },
      };
      const answer = await post(standIn.prepare(event, 'direct'));
      expect(answer).toMatchObject({ status: 400, body: { error: { code: 'bad_request' } } });
    }
    expect(await statusOf(id)).toBe('pending_approval');
  });
});

import { request } from 'node:http';
import { createPool, sql, type DatabasePool } from 'slonik';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { PaymentsStandIn, PreparedNotification } from '../../scripts/payments/standIn.ts';
import { eventually } from '../support/eventually.ts';
import { runExchange, type RunningExchange } from '../support/exchange.ts';
import { connect, expectLedgerSound, startStandIn } from '../support/payments.ts';

/*
 * The provider notification routes' rate limit per source address (issue 15): past its burst an
 * address is answered 429 `rate_limited` before anything is read or checked (no refusal recorded,
 * nothing credited), one budget for the three routes; another address is
 * not held back, and the limited one is served again once its bucket refills. Real sockets, two
 * loopback source addresses (127.0.0.1 and 127.0.0.2).
 */

const BURST = 3;

let standIn: PaymentsStandIn;
let running: RunningExchange;
let pool: DatabasePool;
let token: string;

beforeAll(async () => {
  let env: Record<string, string>;
  ({ standIn, env } = await startStandIn());
  running = await runExchange({
    ...env,
    FUNDING_WEBHOOK_RATE_PER_S: '1',
    FUNDING_WEBHOOK_RATE_BURST: String(BURST),
  });
  connect(standIn, running);
  await running.asset('NGN', 2, 'fiat');
  token = await running.token('alice', ['trader']);
  pool = await createPool(running.database.url, { maximumPoolSize: 2 });
}, 60_000);

afterAll(async () => {
  await pool.end();
  await running.stop();
  await standIn.close();
});

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/** POSTs a notification from a chosen loopback source address. */
function deliverFrom(localAddress: string, notification: PreparedNotification): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const outgoing = request(
      notification.url,
      {
        method: 'POST',
        localAddress,
        agent: false,
        headers: { ...notification.headers, 'content-length': Buffer.byteLength(notification.body) },
      },
      (incoming) => {
        const chunks: Buffer[] = [];
        incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
        incoming.on('end', () => {
          resolve({
            status: incoming.statusCode ?? 0,
            headers: incoming.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          });
        });
        incoming.on('error', reject);
      },
    );
    outgoing.on('error', reject);
    outgoing.end(notification.body);
  });
}

const refusalCount = async () =>
  pool.oneFirst(
    sql.type(z.object({ n: z.coerce.number() }))`SELECT count(*)::int AS n FROM deposit_refusals`,
  );

async function available(): Promise<string | undefined> {
  const balances = await running.request('GET', '/api/v1/balances', { token });
  return (balances.body as { asset: string; available: string }[]).find((b) => b.asset === 'NGN')?.available;
}

describe('the provider notification routes rate limited per source address', () => {
  it('answers 429 before doing any work past the burst, per address, and serves again once refilled', async () => {
    const created = await running.request('POST', '/api/v1/deposits', {
      token,
      body: { asset: 'NGN', amount: '40.00', provider: 'paystack', email: 'alice@example.com' },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const { id, reference } = created.body as { id: string; reference: string };
    const real = standIn.prepare(reference);
    const forged = { ...real, headers: { ...real.headers, 'x-paystack-signature': 'ab'.repeat(64) } };

    // The burst: each forged notification is checked and refused (a refusal recorded).
    for (let i = 0; i < BURST; i++) expect((await deliverFrom('127.0.0.1', forged)).status).toBe(401);
    expect(await refusalCount()).toBe(BURST);

    // Past it: 429 before the signature is even looked at, nothing recorded.
    const limited = await deliverFrom('127.0.0.1', forged);
    expect(limited.status).toBe(429);
    expect(limited.headers['retry-after']).toBe('1');
    expect((JSON.parse(limited.body) as { error: { code: string } }).error.code).toBe('rate_limited');
    expect(await refusalCount()).toBe(BURST);
    // One budget for the three routes: PayFast's and Ozow's are closed to this address too.
    for (const provider of ['payfast', 'ozow']) {
      const junk = { url: `${running.http}/api/v1/webhooks/${provider}`, body: 'x=1', headers: {} };
      expect((await deliverFrom('127.0.0.1', junk)).status).toBe(429);
    }
    // A genuine notification from the limited address is not taken either: nothing credited.
    expect((await deliverFrom('127.0.0.1', real)).status).toBe(429);
    expect(await refusalCount()).toBe(BURST);
    expect(await available()).toBeUndefined();
    expect(
      (await running.request('GET', `/api/v1/deposits/${id}`, { token })).body as { status: string },
    ).toMatchObject({ status: 'pending' });

    // Another address is not held back by it.
    const processed = await deliverFrom('127.0.0.2', real);
    expect(processed.status, processed.body).toBe(200);
    expect(JSON.parse(processed.body)).toEqual({ status: 'processed' });
    expect(await available()).toBe('40.00');

    // The limited address is served again once its bucket refills (1 per second): the provider's
    // retry lands, as a duplicate.
    let last: Answer | undefined;
    await eventually(async () => (last = await deliverFrom('127.0.0.1', real)).status !== 429, {
      timeoutMs: 5_000,
      everyMs: 100,
      what: () => `the address served again; last ${JSON.stringify(last)}`,
    });
    expect(last!.status).toBe(200);
    expect(JSON.parse(last!.body)).toEqual({ status: 'duplicate' });
    expect(await available()).toBe('40.00');
    expectLedgerSound(running, 'NGN', 4_000n);
  });
});

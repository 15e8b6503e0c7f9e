/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import type { PaymentsStandIn } from '../../scripts/payments/standIn.ts';
import { runExchange, type RunningExchange } from '../support/exchange.ts';
import { connect, expectLedgerSound, startStandIn } from '../support/payments.ts';

/*
 * Fiat deposits end to end (issue 15): the real exchange on its own Postgres, the loopback
 * stand-ins of Paystack, PayFast and Ozow, every notification over real sockets.
 */

let standIn: PaymentsStandIn;
let env: Record<string, string>;
let running: RunningExchange;
let pool: DatabasePool;
let token: string;
/** What the ledger should hold per asset, in minor units, as the scenarios credit. */
const credited = { NGN: 0n, ZAR: 0n };

beforeAll(async () => {
  ({ standIn, env } = await startStandIn());
  running = await runExchange(env);
  connect(standIn, running);
  await running.asset('NGN', 2, 'fiat');
  await running.asset('ZAR', 2, 'fiat');
  await running.asset('BTC', 8, 'crypto');
  token = await running.token('alice', ['trader']);
  pool = await createPool(running.database.url, { maximumPoolSize: 2 });
}, 60_000);

afterAll(async () => {
  await pool.end();
  await running.stop();
  await standIn.close();
});

async function deposit(body: Record<string, unknown>, as = token) {
  return running.request('POST', '/api/v1/deposits', { token: as, body });
}

async function balance(asset: string, as = token): Promise<string | undefined> {
  const { body } = await running.request('GET', '/api/v1/balances', { token: as });
  return (body as { asset: string; available: string }[]).find((b) => b.asset === asset)?.available;
}

const Refusal = z.object({ reason: z.string(), deposit_id: z.string().nullable() });
async function refusals(reference: string) {
  return pool.any(sql.type(Refusal)`
    SELECT reason, deposit_id::text AS deposit_id FROM deposit_refusals WHERE reference = ${reference} ORDER BY id`);
}

async function paystackDeposit(amount: string) {
  const created = await deposit({ asset: 'NGN', amount, provider: 'paystack', email: 'alice@example.com' });
  expect(created.status).toBe(201);
  // The customer opens the payment page.
  expect((await fetch(created.body.redirectUrl as string)).status).toBe(200);
  return created.body as { id: string; reference: string; redirectUrl: string };
}

describe('POST /deposits', () => {
  it('answers each provider as the contract says', async () => {
    const paystack = await deposit({ asset: 'NGN', amount: '10.00', provider: 'paystack' });
    expect(paystack.status).toBe(201);
    expect(paystack.body).toMatchObject({
      status: 'pending',
      provider: 'paystack',
      asset: 'NGN',
      amount: '10.00',
    });
    expect(paystack.body.redirectUrl).toBe(`${standIn.url}/pay/${paystack.body.reference as string}`);
    expect(standIn.sessions.get(paystack.body.reference as string)).toMatchObject({
      amount: '10.00',
      currency: 'NGN',
    });

    const payfast = await deposit({
      asset: 'ZAR',
      amount: '25.50',
      provider: 'payfast',
      email: 'a@example.com',
    });
    expect(payfast.status).toBe(201);
    expect(payfast.body.redirectUrl).toBe(`${standIn.url}/payfast/eng/process`);
    const fields = payfast.body.formFields as Record<string, string>;
    expect(Object.keys(fields)).toEqual([
      'merchant_id',
      'merchant_key',
      'return_url',
      'cancel_url',
      'notify_url',
      'email_address',
      'm_payment_id',
      'amount',
      'item_name',
      'signature',
    ]);
    expect(fields).toMatchObject({
      amount: '25.50',
      m_payment_id: payfast.body.reference,
      merchant_id: '10000100',
    });
    expect(fields.notify_url).toBe(`${running.http}/api/v1/webhooks/payfast`);

    const ozow = await deposit({ asset: 'ZAR', amount: '7.00', provider: 'ozow' });
    expect(ozow.status).toBe(201);
    const redirect = new URL(ozow.body.redirectUrl as string);
    expect(redirect.searchParams.get('TransactionReference')).toBe(ozow.body.reference);
    expect(redirect.searchParams.get('HashCheck')).toMatch(/^[0-9a-f]{128}$/);
    // The stand-in checks the HashCheck as Ozow does.
    expect((await fetch(redirect)).status).toBe(200);
    redirect.searchParams.set('Amount', '700.00');
    expect((await fetch(redirect)).status).toBe(400);
  });

  it('refuses what it cannot take, changing nothing', async () => {
    expect((await deposit({ asset: 'BTC', amount: '1', provider: 'paystack' })).body.error.code).toBe(
      'bad_request',
    );
    expect((await deposit({ asset: 'XXX', amount: '1', provider: 'paystack' })).body.error.code).toBe(
      'not_found',
    );
    expect((await deposit({ asset: 'NGN', amount: '1.001', provider: 'paystack' })).body.error.code).toBe(
      'bad_request',
    );
    expect((await deposit({ asset: 'NGN', amount: '-1', provider: 'paystack' })).body.error.code).toBe(
      'bad_request',
    );
    expect((await deposit({ asset: 'NGN', amount: '1', provider: 'venmo' })).body.error.code).toBe(
      'bad_request',
    );
    expect((await deposit({ asset: 'NGN', amount: '1', provider: 'ozow' })).body.error.code).toBe(
      'bad_request',
    );
    expect((await deposit({ asset: 'NGN', amount: '1', provider: 'paystack', extra: 1 })).status).toBe(400);
    const anonymous = await running.request('POST', '/api/v1/deposits', {
      body: { asset: 'NGN', amount: '1', provider: 'paystack' },
    });
    expect(anonymous.status).toBe(401);
  });
});

describe('Paystack notifications', () => {
  it('credits a confirmed charge once: the happy path, then a replay', async () => {
    const { id, reference } = await paystackDeposit('150.00');
    const paid = await standIn.pay(reference);
    expect(paid).toMatchObject({ status: 200 });
    expect(JSON.parse(paid.body)).toEqual({ status: 'processed' });
    credited.NGN += 15_000n;
    expect(await balance('NGN')).toBe('150.00');
    const read = await running.request('GET', `/api/v1/deposits/${id}`, { token });
    expect(read.body).toMatchObject({
      id,
      status: 'completed',
      provider: 'paystack',
      reference,
      amount: '150.00',
    });
    expect(read.body.completedAt).toBeGreaterThan(0);

    const replay = await standIn.deliver(standIn.prepare(reference));
    expect(replay.status).toBe(200);
    expect(JSON.parse(replay.body)).toEqual({ status: 'duplicate' });
    expect(await balance('NGN')).toBe('150.00');
    expectLedgerSound(running, 'NGN', credited.NGN);
  });

  it('credits 20 concurrent duplicates of one notification exactly once', async () => {
    const { reference } = await paystackDeposit('20.00');
    const notification = standIn.prepare(reference);
    const answers = await Promise.all(Array.from({ length: 20 }, () => standIn.deliver(notification)));
    expect(answers.map((a) => a.status)).toEqual(Array(20).fill(200));
    const statuses = answers.map((a) => (JSON.parse(a.body) as { status: string }).status);
    expect(statuses.filter((s) => s === 'processed')).toHaveLength(1);
    expect(statuses.filter((s) => s === 'duplicate')).toHaveLength(19);
    credited.NGN += 2_000n;
    expect(await balance('NGN')).toBe('170.00');
    expectLedgerSound(running, 'NGN', credited.NGN);
  });

  it('refuses a bad signature with 401 and records it on the deposit', async () => {
    const { id, reference } = await paystackDeposit('5.00');
    const real = standIn.prepare(reference);
    const forged = { ...real, headers: { ...real.headers, 'x-paystack-signature': 'ab'.repeat(64) } };
    expect((await standIn.deliver(forged)).status).toBe(401);
    const unsigned = { ...real, headers: { 'content-type': 'application/json' } };
    expect((await standIn.deliver(unsigned)).status).toBe(401);
    const read = await running.request('GET', `/api/v1/deposits/${id}`, { token });
    expect(read.body).toMatchObject({ status: 'pending', failureReason: 'bad signature' });
    expect(await refusals(reference)).toEqual([
      { reason: 'bad signature', deposit_id: id },
      { reason: 'bad signature', deposit_id: id },
    ]);
    expect(await balance('NGN')).toBe('170.00');
    // A body it cannot read (signed all the same) is 400.
    expectLedgerSound(running, 'NGN', credited.NGN);
  });

  it('fails a deposit whose confirmed amount does not match, crediting nothing', async () => {
    const { id, reference } = await paystackDeposit('30.00');
    const paid = await standIn.pay(reference, { paidAmount: '3.00' });
    expect(paid.status).toBe(200);
    expect(JSON.parse(paid.body)).toMatchObject({ status: 'refused' });
    const read = await running.request('GET', `/api/v1/deposits/${id}`, { token });
    expect(read.body).toMatchObject({ status: 'failed' });
    expect(read.body.failureReason).toMatch(/amount mismatch/);
    // A later notification does not revive it.
    const again = await standIn.pay(reference);
    expect(JSON.parse(again.body)).toMatchObject({ status: 'refused' });
    expect(await balance('NGN')).toBe('170.00');
    expectLedgerSound(running, 'NGN', credited.NGN);
  });

  it('answers 503 while the verify API is down (Paystack retries), and credits the retry', async () => {
    const { id, reference } = await paystackDeposit('40.00');
    standIn.apiDown = true;
    try {
      const answer = await standIn.pay(reference);
      expect(answer.status).toBe(503);
    } finally {
      standIn.apiDown = false;
    }
    const pending = await running.request('GET', `/api/v1/deposits/${id}`, { token });
    expect(pending.body).toMatchObject({ status: 'pending' });
    expect(pending.body.failureReason).toMatch(/API unavailable/);
    expect(await balance('NGN')).toBe('170.00');
    const retried = await standIn.pay(reference);
    expect(JSON.parse(retried.body)).toEqual({ status: 'processed' });
    credited.NGN += 4_000n;
    expect(await balance('NGN')).toBe('210.00');
    expectLedgerSound(running, 'NGN', credited.NGN);
  });

  it('records a notification of an unknown reference and credits nothing', async () => {
    const reference = `unknown-${Date.now()}`;
    const initialized = await fetch(`${standIn.url}/paystack/transaction/initialize`, {
      method: 'POST',
      headers: { authorization: `Bearer ${env.PAYSTACK_SECRET_KEY!}`, 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'x@example.com', amount: 100, currency: 'NGN', reference }),
    });
    expect(initialized.status).toBe(200);
    const answer = await standIn.pay(reference);
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toMatchObject({ status: 'refused' });
    expect(await refusals(reference)).toEqual([
      { reason: `unknown reference ${reference}`, deposit_id: null },
    ]);
    expectLedgerSound(running, 'NGN', credited.NGN);
  });
});

describe('PayFast ITNs', () => {
  async function payfastDeposit(amount: string) {
    const created = await deposit({ asset: 'ZAR', amount, provider: 'payfast' });
    expect(created.status).toBe(201);
    const fields = created.body.formFields as Record<string, string>;
    // The customer's browser posts the signed form; the stand-in checks it as PayFast does.
    const page = await fetch(created.body.redirectUrl as string, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields).toString(),
    });
    expect(page.status).toBe(200);
    return created.body as { id: string; reference: string };
  }

  it('credits a valid ITN once (signature, source address, amount, validate), replays included', async () => {
    const { id, reference } = await payfastDeposit('99.99');
    const itn = standIn.prepare(reference);
    expect(await standIn.deliver(itn)).toEqual({ status: 200, body: 'OK' });
    credited.ZAR += 9_999n;
    expect(await balance('ZAR')).toBe('99.99');
    expect((await running.request('GET', `/api/v1/deposits/${id}`, { token })).body.status).toBe('completed');
    const answers = await Promise.all(Array.from({ length: 20 }, () => standIn.deliver(itn)));
    expect(answers.every((a) => a.status === 200)).toBe(true);
    expect(await balance('ZAR')).toBe('99.99');
    expectLedgerSound(running, 'ZAR', credited.ZAR);
  });

  it('reads a tampered ITN (200, as PayFast needs) and credits nothing', async () => {
    const { id, reference } = await payfastDeposit('10.00');
    const itn = standIn.prepare(reference);
    const tampered = { ...itn, body: itn.body.replace('amount_gross=10.00', 'amount_gross=1000.00') };
    expect((await standIn.deliver(tampered)).status).toBe(200);
    const read = await running.request('GET', `/api/v1/deposits/${id}`, { token });
    expect(read.body).toMatchObject({ status: 'pending', failureReason: 'bad signature' });
    expect(await balance('ZAR')).toBe('99.99');
    expect((await standIn.deliver({ ...itn, body: 'garbage' })).status).toBe(400);
    expectLedgerSound(running, 'ZAR', credited.ZAR);
  });

  it('fails a deposit whose ITN amount differs, and retries while validate is down', async () => {
    const short = await payfastDeposit('60.00');
    expect((await standIn.pay(short.reference, { paidAmount: '6.00' })).status).toBe(200);
    const failed = await running.request('GET', `/api/v1/deposits/${short.id}`, { token });
    expect(failed.body).toMatchObject({ status: 'failed' });
    expect(failed.body.failureReason).toMatch(/amount mismatch/);

    const later = await payfastDeposit('1.00');
    standIn.apiDown = true;
    try {
      expect((await standIn.pay(later.reference)).status).toBe(503);
    } finally {
      standIn.apiDown = false;
    }
    expect(await balance('ZAR')).toBe('99.99');
    expect((await standIn.pay(later.reference)).status).toBe(200);
    credited.ZAR += 100n;
    expect(await balance('ZAR')).toBe('100.99');
    expectLedgerSound(running, 'ZAR', credited.ZAR);
  });
});

describe('Ozow notifications', () => {
  async function ozowDeposit(amount: string) {
    const created = await deposit({ asset: 'ZAR', amount, provider: 'ozow' });
    expect(created.status).toBe(201);
    expect((await fetch(created.body.redirectUrl as string)).status).toBe(200);
    return created.body as { id: string; reference: string };
  }

  it('credits a Complete notification confirmed by GetTransactionByReference, once', async () => {
    const { id, reference } = await ozowDeposit('12.34');
    const notification = standIn.prepare(reference);
    const answers = await Promise.all(Array.from({ length: 20 }, () => standIn.deliver(notification)));
    expect(answers.map((a) => a.status)).toEqual(Array(20).fill(200));
    const statuses = answers.map((a) => (JSON.parse(a.body) as { status: string }).status);
    expect(statuses.filter((s) => s === 'processed')).toHaveLength(1);
    credited.ZAR += 1_234n;
    expect(await balance('ZAR')).toBe('113.33');
    expect((await running.request('GET', `/api/v1/deposits/${id}`, { token })).body.status).toBe('completed');
    expectLedgerSound(running, 'ZAR', credited.ZAR);
  });

  it('refuses a bad hash (401), a mismatched amount, and retries while the API is down', async () => {
    const { id, reference } = await ozowDeposit('5.00');
    const notification = standIn.prepare(reference);
    const forged = { ...notification, body: notification.body.replace('Amount=5.00', 'Amount=500.00') };
    expect((await standIn.deliver(forged)).status).toBe(401);
    expect((await running.request('GET', `/api/v1/deposits/${id}`, { token })).body).toMatchObject({
      status: 'pending',
      failureReason: 'bad hash',
    });
    standIn.apiDown = true;
    try {
      expect((await standIn.deliver(notification)).status).toBe(503);
    } finally {
      standIn.apiDown = false;
    }
    expect((await standIn.deliver(notification)).status).toBe(200);
    credited.ZAR += 500n;

    const other = await ozowDeposit('8.00');
    const short = await standIn.pay(other.reference, { paidAmount: '0.80' });
    expect(JSON.parse(short.body)).toMatchObject({ status: 'refused' });
    expect((await running.request('GET', `/api/v1/deposits/${other.id}`, { token })).body.status).toBe(
      'failed',
    );
    expect(await balance('ZAR')).toBe('118.33');
    expectLedgerSound(running, 'ZAR', credited.ZAR);
  });
});

describe('a customer who cancels', () => {
  it('fails the deposit once the provider confirms it (Paystack charge.failed, Ozow Cancelled)', async () => {
    const paystack = await paystackDeposit('9.00');
    const answer = await standIn.pay(paystack.reference, { outcome: 'failed' });
    expect(JSON.parse(answer.body)).toMatchObject({ status: 'refused' });
    const read = await running.request('GET', `/api/v1/deposits/${paystack.id}`, { token });
    expect(read.body).toMatchObject({ status: 'failed' });
    expect(read.body.failureReason).toMatch(/paystack says failed/);

    const created = await deposit({ asset: 'ZAR', amount: '4.00', provider: 'ozow' });
    await fetch(created.body.redirectUrl as string);
    expect((await standIn.pay(created.body.reference as string, { outcome: 'failed' })).status).toBe(200);
    expect(
      (await running.request('GET', `/api/v1/deposits/${created.body.id as string}`, { token })).body.status,
    ).toBe('failed');
    expectLedgerSound(running, 'NGN', credited.NGN);
    expectLedgerSound(running, 'ZAR', credited.ZAR);
  });
});

describe('GET /deposits', () => {
  it('pages the own deposits, newest first, with X-Next-Cursor', async () => {
    const bob = await running.token('bob', ['trader']);
    for (const amount of ['1.00', '2.00', '3.00']) {
      expect((await deposit({ asset: 'NGN', amount, provider: 'paystack' }, bob)).status).toBe(201);
    }
    const first = await fetch(`${running.http}/api/v1/deposits?limit=2`, {
      headers: { authorization: `Bearer ${bob}` },
    });
    const page1 = (await first.json()) as { amount: string }[];
    expect(page1.map((d) => d.amount)).toEqual(['3.00', '2.00']);
    const cursor = first.headers.get('x-next-cursor');
    expect(cursor).toBeTruthy();
    const second = await fetch(`${running.http}/api/v1/deposits?limit=2&cursor=${cursor!}`, {
      headers: { authorization: `Bearer ${bob}` },
    });
    expect(((await second.json()) as { amount: string }[]).map((d) => d.amount)).toEqual(['1.00']);
    expect(second.headers.get('x-next-cursor')).toBeNull();
    const alices = (await running.request('GET', '/api/v1/deposits?limit=1000', { token })).body as unknown[];
    expect(alices.length).toBeGreaterThan(5);
    expect((await running.request('GET', '/api/v1/deposits?limit=0', { token })).status).toBe(400);
    expect((await running.request('GET', '/api/v1/deposits?cursor=zzz', { token })).status).toBe(400);
    const notMine = (await running.request('GET', '/api/v1/deposits?limit=1', { token })).body as {
      id: string;
    }[];
    expect((await running.request('GET', `/api/v1/deposits/${notMine[0]!.id}`, { token: bob })).status).toBe(
      404,
    );
  });
});

describe("PayFast's source allowlist", () => {
  it('reads an ITN from an address off the list (200) and credits nothing', async () => {
    const strict = await runExchange({ ...env, PAYFAST_VALID_IPS: '197.97.145.144' });
    try {
      await strict.asset('ZAR', 2, 'fiat');
      const carol = await strict.token('carol', ['trader']);
      const created = await strict.request('POST', '/api/v1/deposits', {
        token: carol,
        body: { asset: 'ZAR', amount: '3.00', provider: 'payfast' },
      });
      expect(created.status).toBe(201);
      await fetch(created.body.redirectUrl as string, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(created.body.formFields as Record<string, string>).toString(),
      });
      expect(await standIn.pay(created.body.reference as string)).toEqual({ status: 200, body: 'OK' });
      const read = await strict.request('GET', `/api/v1/deposits/${created.body.id as string}`, {
        token: carol,
      });
      expect(read.body).toMatchObject({ status: 'pending' });
      expect(read.body.failureReason).toMatch(/source address 127\.0\.0\.1 is not PayFast's/);
      expect(strict.exchange.ledger.balance('carol', 'ZAR')).toEqual({ available: 0n, locked: 0n });
    } finally {
      await strict.stop();
    }
  });
});

describe('a restart', () => {
  it('never credits a deposit twice, however old its notification (recovery and snapshot), and repairs rows', async () => {
    const { reference } = await paystackDeposit('1.50');
    const notification = standIn.prepare(reference);
    expect(JSON.parse((await standIn.deliver(notification)).body)).toEqual({ status: 'processed' });
    credited.NGN += 150n;
    // A credit journaled by a process that died before it updated the row: the start repairs it.
    const orphan = await paystackDeposit('2.50');
    const funded = await running.exchange.supervisor.fund(
      {
        kind: 'deposit_credit',
        depositId: orphan.id,
        userId: 'alice',
        asset: 'NGN',
        amount: 250n,
        provider: 'paystack',
        reference: orphan.reference,
      },
      Date.now(),
    );
    expect(funded.ok).toBe(true);
    credited.NGN += 250n;
    expect((await running.request('GET', `/api/v1/deposits/${orphan.id}`, { token })).body.status).toBe(
      'pending',
    );
    const database = running.database;
    await running.exchange.close(); // takes a snapshot: the register comes back from the journal before it
    running = await runExchange(env, { database });
    connect(standIn, running);
    const replay = await standIn.deliver({
      ...notification,
      url: `${running.http}/api/v1/webhooks/paystack`,
    });
    expect(JSON.parse(replay.body)).toEqual({ status: 'duplicate' });
    const again = await running.token('alice', ['trader']);
    expect(await balance('NGN', again)).toBe('214.00');
    expect(
      (await running.request('GET', `/api/v1/deposits/${orphan.id}`, { token: again })).body.status,
    ).toBe('completed');
    // Its notification, arriving now, is a duplicate.
    expect(JSON.parse((await standIn.pay(orphan.reference)).body)).toEqual({ status: 'duplicate' });
    expect(await balance('NGN', again)).toBe('214.00');
    expectLedgerSound(running, 'NGN', credited.NGN);
  });
});

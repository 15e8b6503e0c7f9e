/* eslint-disable @typescript-eslint/no-unsafe-member-access */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PaymentsStandIn } from '../../scripts/payments/standIn.ts';
import type { FundingMessage } from '../../src/protocol/pushes.ts';
import { createTestDatabase } from '../support/database.ts';
import { eventually } from '../support/eventually.ts';
import { runExchange, type RunningExchange } from '../support/exchange.ts';
import { connect, expectLedgerSound, startStandIn } from '../support/payments.ts';

/*
 * Withdrawals with approval end to end (issue 15): the amount locked at request, admin approval or
 * rejection, the process-withdrawal job (BullMQ on Redis) paying through the Paystack stand-in's
 * transfer API, a payout failing at the provider, and a worker killed mid-payout.
 */

let standIn: PaymentsStandIn;
let env: Record<string, string>;
let running: RunningExchange;
let admin: string;
let alice: string;

beforeAll(async () => {
  ({ standIn, env } = await startStandIn());
  running = await runExchange(env);
  connect(standIn, running);
  await running.asset('NGN', 2, 'fiat');
  await running.credit('alice', 'NGN', '1000.00');
  admin = await running.token('ops-admin', ['admin']);
  alice = await running.token('alice', ['trader']);
}, 60_000);

afterAll(async () => {
  await running.stop();
  await standIn.close();
});

const withdraw = (body: Record<string, unknown>, token = alice) =>
  running.request('POST', '/api/v1/withdrawals', { token, body });
const decide = (id: string, decision: 'approve' | 'reject', body: Record<string, unknown> = {}) =>
  running.request('POST', `/api/v1/admin/withdrawals/${id}/${decision}`, { token: admin, body });
interface Withdrawal {
  readonly id: string;
  readonly status: string;
  readonly reason?: string;
  readonly txHash?: string;
}
const read = async (id: string, token = alice): Promise<Withdrawal> =>
  (await running.request('GET', `/api/v1/withdrawals/${id}`, { token })).body as Withdrawal;
const balance = () => running.exchange.ledger.balance('alice', 'NGN');

describe('withdrawals', () => {
  it('locks at request, pays once approved, debits the lock when confirmed', async () => {
    const created = await withdraw({ asset: 'NGN', amount: '100.00', destination: 'RCP_alice1' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      status: 'pending_approval',
      asset: 'NGN',
      amount: '100.00',
      destination: 'RCP_alice1',
    });
    expect(balance()).toEqual({ available: 90_000n, locked: 10_000n });
    const queue = await running.request('GET', '/api/v1/admin/withdrawals?status=pending_approval', {
      token: admin,
    });
    expect((queue.body as Withdrawal[]).map((w) => w.id)).toContain(created.body.id);

    const approved = await decide(created.body.id as string, 'approve');
    expect(approved.status).toBe(200);
    const done = await eventually(async () => {
      const w = await read(created.body.id as string);
      return w.status === 'confirmed' ? w : undefined;
    });
    expect(done.txHash).toMatch(/^TRF_/);
    const transfer = [...standIn.transfers.values()].find((t) => t.recipient === 'RCP_alice1');
    expect(transfer).toMatchObject({ amount: 10_000, currency: 'NGN', status: 'success' });
    expect(balance()).toEqual({ available: 90_000n, locked: 0n });
    expectLedgerSound(running, 'NGN', 90_000n);
    // Approving again is a transition the machine refuses.
    expect((await decide(created.body.id as string, 'approve')).status).toBe(409);
  });

  it('releases the lock when rejected, with the reason', async () => {
    const created = await withdraw({ asset: 'NGN', amount: '50.00', destination: 'RCP_alice1' });
    expect(balance().locked).toBe(5_000n);
    const rejected = await decide(created.body.id as string, 'reject', { reason: 'documents missing' });
    expect(rejected.body).toMatchObject({ status: 'rejected', reason: 'documents missing' });
    expect(balance()).toEqual({ available: 90_000n, locked: 0n });
    expect((await decide(created.body.id as string, 'approve')).status).toBe(409);
    expectLedgerSound(running, 'NGN', 90_000n);
  });

  it('fails when the provider fails the transfer, releasing the lock with its reason', async () => {
    standIn.failingRecipients.add('RCP_closed');
    const created = await withdraw({ asset: 'NGN', amount: '70.00', destination: 'RCP_closed' });
    await decide(created.body.id as string, 'approve');
    const failed = await eventually(async () => {
      const w = await read(created.body.id as string);
      return w.status === 'failed' ? w : undefined;
    });
    expect(failed.reason).toBe('Recipient account is closed');
    expect(balance()).toEqual({ available: 90_000n, locked: 0n });
    expectLedgerSound(running, 'NGN', 90_000n);
  });

  it('refuses what it cannot take, changing nothing', async () => {
    expect(
      (await withdraw({ asset: 'NGN', amount: '10000.00', destination: 'RCP_alice1' })).body.error.code,
    ).toBe('insufficient_funds');
    expect((await withdraw({ asset: 'NGN', amount: '1.00', destination: '0xabc' })).body.error.code).toBe(
      'bad_request',
    );
    expect((await withdraw({ asset: 'NGN', amount: '0', destination: 'RCP_alice1' })).body.error.code).toBe(
      'bad_request',
    );
    expect((await withdraw({ asset: 'XYZ', amount: '1', destination: 'RCP_alice1' })).body.error.code).toBe(
      'not_found',
    );
    expect((await decide('00000000-0000-4000-8000-000000000000', 'approve')).status).toBe(404);
    const trader = await running.request('POST', '/api/v1/admin/withdrawals/x/approve', {
      token: alice,
      body: {},
    });
    expect(trader.status).toBe(403);
    expect(balance()).toEqual({ available: 90_000n, locked: 0n });
    const mine = await running.request('GET', '/api/v1/withdrawals?limit=2', { token: alice });
    expect(mine.body).toHaveLength(2);
    const bob = await running.token('bob', ['trader']);
    expect(
      (await running.request('GET', `/api/v1/withdrawals/${mine.body[0].id as string}`, { token: bob }))
        .status,
    ).toBe(404);
  });
});

describe('the private funding channel', () => {
  it('pushes every status change of the own deposits and withdrawals', async () => {
    const dave = await running.token('dave', ['trader']);
    const client = await running.client(dave);
    const pushes: FundingMessage[] = [];
    await client.subscribe('funding', {}, (message) => pushes.push(message));
    const created = await running.request('POST', '/api/v1/deposits', {
      token: dave,
      body: { asset: 'NGN', amount: '80.00', provider: 'paystack' },
    });
    expect((await standIn.pay(created.body.reference as string)).status).toBe(200);
    const withdrawal = await withdraw({ asset: 'NGN', amount: '30.00', destination: 'RCP_dave' }, dave);
    await decide(withdrawal.body.id as string, 'approve');
    await eventually(() => pushes.some((p) => p.op === 'withdrawal' && p.status === 'confirmed'));
    expect(pushes.map((p) => `${p.op}:${p.status}`)).toEqual([
      'deposit:completed',
      'withdrawal:pending_approval',
      'withdrawal:approved',
      'withdrawal:submitted',
      'withdrawal:confirmed',
    ]);
    expect(pushes[0]).toMatchObject({ id: created.body.id as string, asset: 'NGN', amount: '80.00' });
    expect(pushes[4]).toMatchObject({ id: withdrawal.body.id as string, amount: '30.00' });
    expect(pushes[4]!.txHash).toMatch(/^TRF_/);
    expect(running.exchange.ledger.balance('dave', 'NGN')).toEqual({ available: 5_000n, locked: 0n });
  });
});

describe('a worker killed mid-payout', () => {
  it('pays at most once: the retried payout finds the transfer made under its reference', async () => {
    const database = await createTestDatabase('killed');
    const childEnv = {
      ...process.env,
      ...env,
      DATABASE_URL: database.url,
      REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/1',
      LOG_LEVEL: 'silent',
    };
    const fixture = fileURLToPath(new URL('./fixtures/exchangeChild.ts', import.meta.url));
    const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', fixture], {
      env: childEnv,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    let restarted: RunningExchange | undefined;
    try {
      const port = await new Promise<number>((resolve, reject) => {
        createInterface({ input: child.stdout! }).once('line', (line) => {
          resolve((JSON.parse(line) as { port: number }).port);
        });
        child.once('exit', (code) => reject(new Error(`the exchange child exited (${String(code)})`)));
      });
      const base = `http://127.0.0.1:${port}/api/v1`;
      // Tokens of the child: same JWT_SECRET (the development default) as this process's exchanges.
      const post = async (path: string, token: string, body: unknown) => {
        const response = await fetch(`${base}${path}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
        return { status: response.status, body: (await response.json()) as Record<string, unknown> };
      };
      const childAdmin = await running.token('test-admin', ['admin']);
      expect((await post('/assets', childAdmin, { symbol: 'NGN', decimals: 2, kind: 'fiat' })).status).toBe(
        201,
      );
      expect(
        (await post('/admin/credit', childAdmin, { userId: 'carol', asset: 'NGN', amount: '500.00' })).status,
      ).toBe(200);
      const carol = await running.token('carol', ['trader']);
      const created = await post('/withdrawals', carol, {
        asset: 'NGN',
        amount: '200.00',
        destination: 'RCP_carol',
      });
      expect(created.status).toBe(201);
      const id = created.body.id as string;

      // The transfer is made at the provider; the worker dies before it hears the answer.
      standIn.onTransfer = async (transfer) => {
        if (transfer.recipient !== 'RCP_carol') return;
        child.kill('SIGKILL');
        await exited;
      };
      expect((await post(`/admin/withdrawals/${id}/approve`, childAdmin, {})).status).toBe(200);
      await exited;
      standIn.onTransfer = undefined;
      const made = [...standIn.transfers.values()].filter((t) => t.recipient === 'RCP_carol');
      expect(made).toHaveLength(1);

      // A new exchange on the same database (and Redis prefix) resumes the payout.
      restarted = await eventually(() => runExchange(env, { database }).catch(() => undefined), {
        timeoutMs: 20_000,
        what: 'the database released by the killed exchange',
      });
      const token = await restarted.token('carol', ['trader']);
      const done = await eventually(async () => {
        const w = (await restarted!.request('GET', `/api/v1/withdrawals/${id}`, { token }))
          .body as Withdrawal;
        return w.status === 'confirmed' ? w : undefined;
      });
      expect(done.txHash).toBe(made[0]!.transferCode);
      expect([...standIn.transfers.values()].filter((t) => t.recipient === 'RCP_carol')).toHaveLength(1);
      expect(restarted.exchange.ledger.balance('carol', 'NGN')).toEqual({ available: 30_000n, locked: 0n });
      expectLedgerSound(restarted, 'NGN', 30_000n);
    } finally {
      standIn.onTransfer = undefined;
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
      await restarted?.stop();
      await database.drop();
    }
  }, 90_000);
});

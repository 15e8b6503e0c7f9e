import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PaymentsStandIn } from '../../scripts/payments/standIn.ts';
import type { ExchangeClient } from '../../src/client/index.ts';
import type { FundingMessage, NotificationMessage } from '../../src/protocol/messages.ts';
import { eventually } from '../support/eventually.ts';
import { runExchange, type RunningExchange } from '../support/exchange.ts';
import { connect, startStandIn } from '../support/payments.ts';

/*
 * The seam between funding (issue 15) and notifications (issue 17), end to end: a deposit paid
 * through the Paystack stand-in and a withdrawal through its approval reach the user as `funding`
 * pushes and as in-app notifications (`deposit_completed`, `withdrawal_status`), both made from the
 * journaled `deposit.changed` / `withdrawal.changed` events of the committed stream, once each.
 */

let standIn: PaymentsStandIn;
let running: RunningExchange;
let client: ExchangeClient;
let token: string;
const funding: FundingMessage[] = [];
const notifications: NotificationMessage[] = [];

beforeAll(async () => {
  const started = await startStandIn();
  standIn = started.standIn;
  running = await runExchange({ ...started.env, NOTIFY_INTERVAL_MS: '20' });
  connect(standIn, running);
  await running.asset('NGN', 2, 'fiat');
  token = await running.token('nia', ['trader']);
  client = await running.client(token);
  await client.subscribe('funding', {}, (m) => funding.push(m));
  await client.subscribe('notifications', {}, (m) => notifications.push(m));
}, 60_000);

afterAll(async () => {
  await running.stop();
  await standIn.close();
});

const ofType = (type: string) => notifications.filter((n) => n.type === type);

describe('funding notifications', () => {
  it('a paid deposit: one funding push and one deposit_completed notification, however often it is notified', async () => {
    const created = await running.request('POST', '/api/v1/deposits', {
      token,
      body: { asset: 'NGN', amount: '42.00', provider: 'paystack', email: 'nia@example.com' },
    });
    expect(created.status).toBe(201);
    const { id, reference } = created.body as { id: string; reference: string };
    expect((await standIn.pay(reference)).status).toBe(200);
    expect((await standIn.deliver(standIn.prepare(reference))).status).toBe(200);

    const note = await eventually(() => ofType('deposit_completed')[0], {
      what: 'the deposit_completed notification',
    });
    expect(note).toMatchObject({
      op: 'notification',
      read: false,
      data: { depositId: id, asset: 'NGN', amount: '42.00', provider: 'paystack', reference },
    });
    expect(funding.filter((m) => m.op === 'deposit')).toMatchObject([
      { op: 'deposit', id, status: 'completed', asset: 'NGN', amount: '42.00' },
    ]);
    const listed = await running.request('GET', '/api/v1/notifications', { token });
    const deposits = (listed.body as { type: string }[]).filter((n) => n.type === 'deposit_completed');
    expect(deposits).toHaveLength(1);
  });

  it('a withdrawal: a notification per status, in order, as approval and payout move it', async () => {
    const created = await running.request('POST', '/api/v1/withdrawals', {
      token,
      body: { asset: 'NGN', amount: '10.00', destination: 'RCP_nia' },
    });
    expect(created.status).toBe(201);
    const id = (created.body as { id: string }).id;
    const admin = await running.token('ops', ['admin']);
    const approved = await running.request('POST', `/api/v1/admin/withdrawals/${id}/approve`, {
      token: admin,
      body: {},
    });
    expect(approved.status).toBe(200);

    const statuses = await eventually(
      () => {
        const seen = ofType('withdrawal_status')
          .filter((n) => n.data.withdrawalId === id)
          .map((n) => n.data.status);
        return seen.includes('confirmed') ? seen : undefined;
      },
      { what: 'the withdrawal confirmed notification' },
    );
    expect(statuses).toEqual(['pending_approval', 'approved', 'submitted', 'confirmed']);
    expect(funding.filter((m) => m.op === 'withdrawal').map((m) => m.status)).toEqual(statuses);
  });
});

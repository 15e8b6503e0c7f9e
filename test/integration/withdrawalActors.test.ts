import { afterAll, describe, expect, it } from 'vitest';
import type { PaymentsStandIn } from '../../scripts/payments/standIn.ts';
import type { WithdrawalActorUpdate } from '../../src/protocol/actors.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { runExchange, type RunningExchange } from '../support/exchange.ts';
import { connect, startStandIn } from '../support/payments.ts';
import { RawSocket } from '../wire/fixtures.ts';

/*
 * Withdrawals on the admin-only `actors` channel across a restart (issue 15): the exchange started
 * again on the same database lists the withdrawal still open (from the funding register rebuilt
 * by recovery) in its first snapshot, not the one that finished before, and its next change comes
 * live from the committed stream with the transition from the state it was listed in.
 */

let standIn: PaymentsStandIn | undefined;
let database: TestDatabase | undefined;
const running: RunningExchange[] = [];

afterAll(async () => {
  for (const r of running) await r.stop();
  await standIn?.close();
  await database?.drop();
});

async function request(exchange: RunningExchange, token: string, amount: string): Promise<string> {
  const created = await exchange.request('POST', '/api/v1/withdrawals', {
    token,
    body: { asset: 'NGN', amount, destination: 'RCP_alice1' },
  });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  return (created.body as { id: string }).id;
}

async function reject(exchange: RunningExchange, id: string): Promise<void> {
  const admin = await exchange.token('ops-admin', ['admin']);
  const answer = await exchange.request('POST', `/api/v1/admin/withdrawals/${id}/reject`, {
    token: admin,
    body: { reason: 'no' },
  });
  expect(answer.status, JSON.stringify(answer.body)).toBe(200);
}

describe('withdrawals on the actors channel across a restart', () => {
  it('lists the open withdrawal after a restart, then shows its next change live', async () => {
    let env: Record<string, string>;
    ({ standIn, env } = await startStandIn());
    database = await createTestDatabase('withdrawal_actors');
    const first = await runExchange(env, { database });
    running.push(first);
    connect(standIn, first);
    await first.asset('NGN', 2, 'fiat');
    await first.credit('alice', 'NGN', '100.00');
    const alice = await first.token('alice', ['trader']);
    const open = await request(first, alice, '10.00');
    const finished = await request(first, alice, '20.00');
    await reject(first, finished);
    await first.stop();
    running.pop();

    const second = await runExchange(env, { database });
    running.push(second);
    connect(standIn, second);
    const socket = await RawSocket.open(`${second.ws}?token=${await second.token('ops', ['admin'])}`);
    try {
      socket.send({ op: 'sub', ch: 'actors', rid: 1 });
      const snapshot = await socket.next((m) => m.op === 'actors' && m.kind === 'snapshot');
      const listed = snapshot.withdrawals as WithdrawalActorUpdate[];
      expect(listed.map((w) => w.withdrawalId)).toEqual([open]);
      expect(listed[0]).toMatchObject({
        machine: 'withdrawal',
        state: 'pending_approval',
        final: false,
        userId: 'alice',
        asset: 'NGN',
        amount: '10.00',
        transitions: [],
      });

      await reject(second, open);
      const update = await socket.next(
        (m) =>
          m.op === 'actors' &&
          m.kind === 'update' &&
          ((m.withdrawals as WithdrawalActorUpdate[] | undefined) ?? []).some((w) => w.withdrawalId === open),
      );
      const changed = (update.withdrawals as WithdrawalActorUpdate[]).find((w) => w.withdrawalId === open);
      expect(changed).toMatchObject({ state: 'rejected', final: true, reason: 'no' });
      expect(changed!.transitions.map((t) => `${t.from}>${t.to}:${t.event}`)).toEqual([
        'pending_approval>rejected:withdrawal.reject',
      ]);
    } finally {
      socket.close();
    }
  });
});

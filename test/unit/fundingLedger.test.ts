import { describe, expect, it } from 'vitest';
import { nextWithdrawalState } from '../../machines/withdrawal.ts';
import type { DepositCreditCommand, FundingCommand } from '../../src/actors/funding/index.ts';
import { Ledger } from '../../src/actors/ledger/index.ts';
import type { BatchSink, JournalBatch } from '../../src/actors/market/types.ts';
import { Supervisor } from '../../src/actors/supervisor.ts';
import { foldBatch } from '../../src/events/fold.ts';
import { decodeBatch, encodeBatch } from '../../src/persistence/journalCodec.ts';

/** Commits in memory; `failNext` makes the next commit fail (a journal that refused the flush). */
class MemorySink implements BatchSink {
  readonly batches: JournalBatch[] = [];
  failNext = false;
  commit(batch: JournalBatch): Promise<void> {
    if (this.failNext) {
      this.failNext = false;
      return Promise.reject(new Error('flush failed'));
    }
    this.batches.push(decodeBatch(encodeBatch(batch)));
    return Promise.resolve();
  }
}

function harness() {
  const ledger = new Ledger();
  ledger.defineAsset('ZAR', 2);
  const sink = new MemorySink();
  const supervisor = new Supervisor({ ledger, sink });
  return { ledger, sink, supervisor };
}

const credit = (depositId: string, amount = 10_000n): DepositCreditCommand => ({
  kind: 'deposit_credit',
  depositId,
  userId: 'u1',
  asset: 'ZAR',
  amount,
  provider: 'paystack',
  reference: `ref-${depositId}`,
});

const withdrawal = (status: Extract<FundingCommand, { kind: 'withdrawal' }>['status'], extra = {}) =>
  ({
    kind: 'withdrawal',
    withdrawalId: 'w1',
    status,
    userId: 'u1',
    asset: 'ZAR',
    amount: 4_000n,
    destination: 'RCP_1',
    ...extra,
  }) as const;

describe('withdrawal machine', () => {
  it('goes pending_approval → approved → submitted → confirmed | failed, or rejected, nothing else', () => {
    expect(nextWithdrawalState('pending_approval', { type: 'withdrawal.approve' })).toBe('approved');
    expect(nextWithdrawalState('pending_approval', { type: 'withdrawal.reject' })).toBe('rejected');
    expect(nextWithdrawalState('approved', { type: 'withdrawal.submit' })).toBe('submitted');
    expect(nextWithdrawalState('submitted', { type: 'withdrawal.confirm' })).toBe('confirmed');
    expect(nextWithdrawalState('submitted', { type: 'withdrawal.fail' })).toBe('failed');
    expect(nextWithdrawalState('pending_approval', { type: 'withdrawal.confirm' })).toBeUndefined();
    expect(nextWithdrawalState('approved', { type: 'withdrawal.reject' })).toBeUndefined();
    expect(nextWithdrawalState('confirmed', { type: 'withdrawal.fail' })).toBeUndefined();
    expect(nextWithdrawalState('rejected', { type: 'withdrawal.approve' })).toBeUndefined();
  });
});

describe('funding commands in the @ledger pseudo-market', () => {
  it('credits a deposit once however many times, concurrently, it is asked for', async () => {
    const { ledger, sink, supervisor } = harness();
    const outcomes = await Promise.all(Array.from({ length: 20 }, () => supervisor.fund(credit('d1'), 1)));
    expect(outcomes.filter((o) => o.ok)).toHaveLength(1);
    expect(outcomes.filter((o) => !o.ok && o.code === 'duplicate')).toHaveLength(19);
    expect(ledger.balance('u1', 'ZAR')).toEqual({ available: 10_000n, locked: 0n });
    expect(sink.batches).toHaveLength(1);
    expect(ledger.checkInvariants()).toEqual([]);
    expect(ledger.totals('ZAR').netDeposits).toBe(10_000n);
  });

  it('undoes a credit whose commit failed, so a retry credits it', async () => {
    const { ledger, sink, supervisor } = harness();
    sink.failNext = true;
    expect(await supervisor.fund(credit('d1'), 1)).toMatchObject({ ok: false, code: 'unavailable' });
    expect(ledger.balance('u1', 'ZAR').available).toBe(0n);
    expect(supervisor.funding.depositStatus('d1')).toBeUndefined();
    expect(await supervisor.fund(credit('d1'), 2)).toMatchObject({ ok: true });
    expect(ledger.balance('u1', 'ZAR').available).toBe(10_000n);
  });

  it('refuses a credit of a failed deposit, and a failure of a credited one', async () => {
    const { supervisor } = harness();
    const fail: FundingCommand = { ...credit('d2'), kind: 'deposit_fail', reason: 'amount mismatch' };
    expect(await supervisor.fund(fail, 1)).toMatchObject({ ok: true });
    expect(await supervisor.fund(credit('d2'), 2)).toMatchObject({ ok: false, code: 'invalid_transition' });
    expect(await supervisor.fund(credit('d3'), 3)).toMatchObject({ ok: true });
    expect(await supervisor.fund({ ...fail, depositId: 'd3' }, 4)).toMatchObject({
      ok: false,
      code: 'invalid_transition',
    });
  });

  it('locks a withdrawal at request, debits the lock when confirmed, releases it when failed', async () => {
    const { ledger, supervisor } = harness();
    expect(await supervisor.fund(withdrawal('pending_approval'), 1)).toMatchObject({
      ok: false,
      code: 'insufficient_funds',
    });
    await supervisor.fund(credit('d1'), 1);
    expect(await supervisor.fund(withdrawal('pending_approval'), 2)).toMatchObject({ ok: true });
    expect(ledger.balance('u1', 'ZAR')).toEqual({ available: 6_000n, locked: 4_000n });
    expect(await supervisor.fund(withdrawal('confirmed'), 3)).toMatchObject({ code: 'invalid_transition' });
    expect(await supervisor.fund(withdrawal('approved'), 3)).toMatchObject({ ok: true });
    expect(await supervisor.fund(withdrawal('approved'), 3)).toMatchObject({ code: 'duplicate' });
    expect(await supervisor.fund(withdrawal('submitted', { txHash: 'TRF_1' }), 4)).toMatchObject({
      ok: true,
    });
    expect(await supervisor.fund(withdrawal('confirmed', { txHash: 'TRF_1' }), 5)).toMatchObject({
      ok: true,
    });
    expect(ledger.balance('u1', 'ZAR')).toEqual({ available: 6_000n, locked: 0n });
    expect(ledger.totals('ZAR').netDeposits).toBe(6_000n);
    expect(ledger.checkInvariants()).toEqual([]);

    const second = { withdrawalId: 'w2' };
    await supervisor.fund(withdrawal('pending_approval', second), 6);
    await supervisor.fund(withdrawal('approved', second), 7);
    await supervisor.fund(withdrawal('failed', { ...second, reason: 'account closed' }), 8);
    expect(ledger.balance('u1', 'ZAR')).toEqual({ available: 6_000n, locked: 0n });
    expect(
      await supervisor.fund(withdrawal('pending_approval', { amount: 6_001n, withdrawalId: 'w3' }), 9),
    ).toMatchObject({
      code: 'insufficient_funds',
    });
  });

  it('journals each command so it decodes and folds into deposit.changed / withdrawal.changed', async () => {
    const { sink, supervisor } = harness();
    await supervisor.fund(credit('d1'), 10);
    await supervisor.fund(withdrawal('pending_approval'), 11);
    await supervisor.fund(withdrawal('rejected', { reason: 'not you' }), 12);
    await supervisor.fund({ ...credit('d9'), kind: 'deposit_fail', reason: 'declined' }, 13);
    const events = sink.batches.flatMap((b) => foldBatch(b)).filter((e) => e.type !== 'balance.changed');
    expect(events.map((e) => e.type)).toEqual([
      'credit',
      'deposit.changed',
      'withdrawal.changed',
      'withdrawal.changed',
      'deposit.changed',
    ]);
    expect(events[1]).toMatchObject({
      status: 'completed',
      depositId: 'd1',
      amount: 10_000n,
      provider: 'paystack',
    });
    expect(events[3]).toMatchObject({
      status: 'rejected',
      reason: 'not you',
      destination: 'RCP_1',
      amount: 4_000n,
    });
    expect(events[4]).toMatchObject({ status: 'failed', reason: 'declined', depositId: 'd9' });
    // Recovery rebuilds the register from the same records.
    const again = harness().supervisor;
    for (const batch of sink.batches) {
      for (const entry of batch.entries) {
        if (entry.command.kind !== 'deposit' && 'depositId' in entry.command)
          again.funding.replay(entry.command);
        else if (entry.command.kind === 'withdrawal') again.funding.replay(entry.command);
      }
    }
    expect(again.funding.depositStatus('d1')).toBe('completed');
    expect(again.funding.withdrawal('w1')?.status).toBe('rejected');
  });
});

import {
  nextWithdrawalState,
  withdrawalEventTo,
  type WithdrawalState,
} from '../../../machines/withdrawal.ts';
import { EXTERNAL_ACCOUNT, type Ledger, type LedgerResult, type Posting } from '../ledger/index.ts';
import type { FundingCommand, WithdrawalCommand } from './commands.ts';

/*
 * What the `@ledger` pseudo-market knows of funding (issue 15), beside the ledger's balances: which
 * deposits were credited or failed, and each withdrawal's status and lock. The supervisor consults
 * it before a funding command touches the ledger, synchronously, so a second credit of one deposit
 * is refused however concurrently it is asked for; recovery rebuilds it from every `@ledger` record
 * of the journal (src/persistence/recovery.ts), so it holds across restarts too. Pure, like the
 * ledger: no clock, no I/O.
 */

export type FundingErrorCode = 'duplicate' | 'invalid_transition' | 'insufficient_funds' | 'bad_request';

export interface FundingRefusal {
  readonly ok: false;
  readonly code: FundingErrorCode;
  readonly message: string;
}

export interface FundingApplied {
  readonly ok: true;
  /** What the command posted to the ledger (reversed by the supervisor when its commit fails). */
  readonly postings: readonly Posting[];
  /** Puts the register back as it was before the command (after a failed commit). */
  undo(): void;
}

export interface WithdrawalRecord {
  readonly userId: string;
  readonly asset: string;
  readonly amount: bigint;
  readonly destination: string;
  readonly status: WithdrawalState;
}

type Planned = { readonly ok: true; readonly apply: () => () => void } | FundingRefusal;

const refuse = (code: FundingErrorCode, message: string): FundingRefusal => ({ ok: false, code, message });

/** Debits a locked amount to the outside world: a withdrawal paid out. */
export function withdrawalPostings(user: string, asset: string, amount: bigint): Posting[] {
  return [
    { account: user, asset, bucket: 'locked', amount: -amount, kind: 'withdrawal' },
    { account: EXTERNAL_ACCOUNT, asset, bucket: 'available', amount, kind: 'withdrawal' },
  ];
}

export class FundingRegister {
  readonly #deposits = new Map<string, 'completed' | 'failed'>();
  readonly #withdrawals = new Map<string, WithdrawalRecord>();

  /** `completed` or `failed` once journaled; undefined while the deposit is pending (or unknown). */
  depositStatus(depositId: string): 'completed' | 'failed' | undefined {
    return this.#deposits.get(depositId);
  }

  withdrawal(withdrawalId: string): WithdrawalRecord | undefined {
    return this.#withdrawals.get(withdrawalId);
  }

  /** Every withdrawal not yet in a final state (a restart resumes their payouts). */
  openWithdrawals(): [string, WithdrawalRecord][] {
    return [...this.#withdrawals].filter(([, w]) => !['confirmed', 'rejected', 'failed'].includes(w.status));
  }

  /** Checks the command, applies its postings to the ledger and records it; a refusal changes nothing. */
  apply(command: FundingCommand, ledger: Ledger): FundingApplied | FundingRefusal {
    const planned = this.#plan(command);
    if (!planned.ok) return planned;
    const posted = this.#post(command, ledger);
    if (!posted.ok) return refuse(posted.code, posted.message);
    const undo = planned.apply();
    return { ok: true, postings: posted.postings, undo };
  }

  /** Recovery: records a journaled command (its postings are the journal's); throws when it does not fit. */
  replay(command: FundingCommand): void {
    const planned = this.#plan(command);
    if (!planned.ok) throw new Error(`funding register: ${planned.message}`);
    planned.apply();
  }

  #post(command: FundingCommand, ledger: Ledger): LedgerResult {
    if (command.kind === 'deposit_credit')
      return ledger.deposit(command.userId, command.asset, command.amount);
    if (command.kind === 'deposit_fail') return { ok: true, postings: [] };
    const { userId, asset, amount } = command;
    switch (command.status) {
      case 'pending_approval':
        return ledger.lock(userId, asset, amount);
      case 'rejected':
      case 'failed':
        return ledger.unlock(userId, asset, amount);
      case 'confirmed':
        return ledger.apply(withdrawalPostings(userId, asset, amount));
      default:
        return { ok: true, postings: [] };
    }
  }

  #plan(command: FundingCommand): Planned {
    if (command.kind === 'withdrawal') return this.#planWithdrawal(command);
    const { depositId } = command;
    const known = this.#deposits.get(depositId);
    const to = command.kind === 'deposit_credit' ? 'completed' : 'failed';
    if (known === to) return refuse('duplicate', `deposit ${depositId} is ${known} already`);
    if (known !== undefined) return refuse('invalid_transition', `deposit ${depositId} is ${known}`);
    if (command.amount <= 0n) return refuse('bad_request', `deposit ${depositId}: amount must be > 0`);
    return {
      ok: true,
      apply: () => {
        this.#deposits.set(depositId, to);
        return () => this.#deposits.delete(depositId);
      },
    };
  }

  #planWithdrawal(command: WithdrawalCommand): Planned {
    const { withdrawalId, status, userId, asset, amount, destination } = command;
    const known = this.#withdrawals.get(withdrawalId);
    const record: WithdrawalRecord = { userId, asset, amount, destination, status };
    if (known === undefined) {
      if (status !== 'pending_approval') return refuse('invalid_transition', `no withdrawal ${withdrawalId}`);
      if (amount <= 0n) return refuse('bad_request', 'a withdrawal amount must be > 0');
    } else {
      if (known.status === status)
        return refuse('duplicate', `withdrawal ${withdrawalId} is ${status} already`);
      if (
        known.userId !== userId ||
        known.asset !== asset ||
        known.amount !== amount ||
        known.destination !== destination
      ) {
        return refuse(
          'bad_request',
          `withdrawal ${withdrawalId} is another user's, asset, amount or destination`,
        );
      }
      const event = withdrawalEventTo(status);
      if (event === undefined || nextWithdrawalState(known.status, event) !== status) {
        return refuse(
          'invalid_transition',
          `withdrawal ${withdrawalId} cannot go from ${known.status} to ${status}`,
        );
      }
    }
    return {
      ok: true,
      apply: () => {
        this.#withdrawals.set(withdrawalId, record);
        return () => {
          if (known === undefined) this.#withdrawals.delete(withdrawalId);
          else this.#withdrawals.set(withdrawalId, known);
        };
      },
    };
  }
}

import type { WithdrawalState } from '../../../machines/withdrawal.ts';

/*
 * The funding commands of the `@ledger` pseudo-market (issue 15): each is one journal entry, applied
 * to the ledger and to the funding register (register.ts) by the supervisor, replayed by recovery.
 * Every command carries the whole fact (user, asset, amount, provider or destination), so the fold
 * (src/events/fold.ts) makes its domain event from the entry alone.
 */

/** A fiat (or chain) deposit confirmed by its provider: credits the user, once per `depositId`. */
export interface DepositCreditCommand {
  readonly kind: 'deposit_credit';
  readonly depositId: string;
  readonly userId: string;
  readonly asset: string;
  readonly amount: bigint;
  /** `paystack`, `payfast`, `ozow`, or `chain`. */
  readonly provider: string;
  /** The provider's reference (or the chain transaction's hash). */
  readonly reference: string;
}

/** A deposit the provider says failed (or that did not match): no postings; final. */
export interface DepositFailCommand {
  readonly kind: 'deposit_fail';
  readonly depositId: string;
  readonly userId: string;
  readonly asset: string;
  readonly amount: bigint;
  readonly provider: string;
  readonly reference: string;
  readonly reason: string;
}

/**
 * A withdrawal's change of status. `pending_approval` is its request (locks the amount);
 * `rejected` and `failed` release the lock; `confirmed` debits it; the others post nothing.
 */
export interface WithdrawalCommand {
  readonly kind: 'withdrawal';
  readonly withdrawalId: string;
  readonly status: WithdrawalState;
  readonly userId: string;
  readonly asset: string;
  readonly amount: bigint;
  readonly destination: string;
  readonly reason?: string | undefined;
  /** The payout's reference (a transfer code, a chain transaction hash), once it has one. */
  readonly txHash?: string | undefined;
}

export type FundingCommand = DepositCreditCommand | DepositFailCommand | WithdrawalCommand;

export const FUNDING_COMMAND_KINDS: readonly FundingCommand['kind'][] = [
  'deposit_credit',
  'deposit_fail',
  'withdrawal',
];

export function isFundingCommand(command: { readonly kind: string }): command is FundingCommand {
  return (FUNDING_COMMAND_KINDS as readonly string[]).includes(command.kind);
}

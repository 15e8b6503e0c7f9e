import { setup, transition } from 'xstate';

/**
 * A withdrawal (PROTOCOL v1.1, Funding; issue 15): requested with its amount locked, reviewed by an
 * admin, paid out by a job, then confirmed or failed.
 *
 *   pending_approval ─approve→ approved ─submit→ submitted ─confirm→ confirmed
 *          │                     │                  └──fail→ failed
 *          └─reject→ rejected    └──fail→ failed (the payout could not even be sent)
 *
 * Pure: what the lock becomes (kept, debited, released) is the ledger's business, decided by the
 * caller from the state this machine reaches. Events carry nothing this machine reads.
 */

export const WITHDRAWAL_STATES = [
  'pending_approval',
  'approved',
  'submitted',
  'confirmed',
  'rejected',
  'failed',
] as const;
export type WithdrawalState = (typeof WITHDRAWAL_STATES)[number];

export const WITHDRAWAL_EVENT_TYPES = [
  'withdrawal.approve',
  'withdrawal.reject',
  'withdrawal.submit',
  'withdrawal.confirm',
  'withdrawal.fail',
] as const;
export type WithdrawalEventType = (typeof WITHDRAWAL_EVENT_TYPES)[number];
export interface WithdrawalEvent {
  readonly type: WithdrawalEventType;
}

/** The states a withdrawal ends in: the lock was debited (confirmed) or released (the others). */
export const FINAL_WITHDRAWAL_STATES: readonly WithdrawalState[] = ['confirmed', 'rejected', 'failed'];

export const withdrawalMachine = setup({
  types: { events: {} as WithdrawalEvent },
}).createMachine({
  id: 'withdrawal',
  initial: 'pending_approval',
  states: {
    pending_approval: {
      on: { 'withdrawal.approve': 'approved', 'withdrawal.reject': 'rejected' },
    },
    approved: {
      on: { 'withdrawal.submit': 'submitted', 'withdrawal.fail': 'failed' },
    },
    submitted: {
      on: { 'withdrawal.confirm': 'confirmed', 'withdrawal.fail': 'failed' },
    },
    confirmed: { type: 'final' },
    rejected: { type: 'final' },
    failed: { type: 'final' },
  },
});

/** The state `event` takes a withdrawal in `from` to, or undefined when the machine refuses it. */
export function nextWithdrawalState(
  from: WithdrawalState,
  event: WithdrawalEvent,
): WithdrawalState | undefined {
  const snapshot = withdrawalMachine.resolveState({ value: from, context: undefined });
  if (!snapshot.can(event)) return undefined;
  const [next] = transition(withdrawalMachine, snapshot, event);
  return next.value;
}

/** The event that takes a withdrawal to `to` (each state is reached by exactly one event type). */
export function withdrawalEventTo(to: WithdrawalState): WithdrawalEvent | undefined {
  const byState: Partial<Record<WithdrawalState, WithdrawalEventType>> = {
    approved: 'withdrawal.approve',
    rejected: 'withdrawal.reject',
    submitted: 'withdrawal.submit',
    confirmed: 'withdrawal.confirm',
    failed: 'withdrawal.fail',
  };
  const type = byState[to];
  return type === undefined ? undefined : { type };
}

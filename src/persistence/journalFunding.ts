import { WITHDRAWAL_STATES, type WithdrawalState } from '../../machines/withdrawal.ts';
import type { FundingCommand } from '../actors/funding/index.ts';
import {
  JournalDecodeError,
  STRING,
  shapeOf,
  unpackAmount,
  type Fields,
  type Shape,
} from './journalShape.ts';

/*
 * The funding commands' layouts in `@ledger` records (issue 15), appended to LEDGER_COMMAND_SHAPES
 * (journalCommands.ts) after `deposit`: tags LEDGER_TAG_BASE + 1.. in this order. Append only.
 * Reference and destination texts are inline (they never recur within a record); ids, users,
 * assets and providers are interned.
 */
const fundingCommand = shapeOf<FundingCommand, 'kind'>();
export const FUNDING_COMMAND_SHAPES: readonly Shape[] = [
  fundingCommand('deposit_credit', [
    ['depositId', STRING],
    ['userId', STRING],
    ['asset', STRING],
    'amount',
    ['provider', STRING],
    'reference',
  ]),
  fundingCommand('deposit_fail', [
    ['depositId', STRING],
    ['userId', STRING],
    ['asset', STRING],
    'amount',
    ['provider', STRING],
    'reference',
    'reason',
  ]),
  fundingCommand('withdrawal', [
    ['withdrawalId', STRING],
    ['status', WITHDRAWAL_STATES],
    ['userId', STRING],
    ['asset', STRING],
    'amount',
    'destination',
    'reason',
    'txHash',
  ]),
];

function text(fields: Fields, name: string): string {
  const value = fields[name];
  if (typeof value !== 'string') throw new JournalDecodeError(`${String(fields.kind)} without ${name}`);
  return value;
}

function optionalText(fields: Fields, name: string): string | undefined {
  const value = fields[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new JournalDecodeError(`${String(fields.kind)}: ${name} is not text`);
  return value;
}

/** A decoded funding command's fields, checked (unpackShape gives plain values). */
export function fundingCommandOf(fields: Fields): FundingCommand {
  const amount = unpackAmount(fields.amount, `${String(fields.kind)} amount`);
  const userId = text(fields, 'userId');
  const asset = text(fields, 'asset');
  if (fields.kind === 'withdrawal') {
    const status = text(fields, 'status');
    if (!(WITHDRAWAL_STATES as readonly string[]).includes(status)) {
      throw new JournalDecodeError(`withdrawal status ${status}`);
    }
    const reason = optionalText(fields, 'reason');
    const txHash = optionalText(fields, 'txHash');
    return {
      kind: 'withdrawal',
      withdrawalId: text(fields, 'withdrawalId'),
      status: status as WithdrawalState,
      userId,
      asset,
      amount,
      destination: text(fields, 'destination'),
      ...(reason === undefined ? {} : { reason }),
      ...(txHash === undefined ? {} : { txHash }),
    };
  }
  const base = {
    depositId: text(fields, 'depositId'),
    userId,
    asset,
    amount,
    provider: text(fields, 'provider'),
    reference: text(fields, 'reference'),
  };
  if (fields.kind === 'deposit_credit') return { kind: 'deposit_credit', ...base };
  if (fields.kind === 'deposit_fail')
    return { kind: 'deposit_fail', ...base, reason: text(fields, 'reason') };
  throw new JournalDecodeError(`unknown funding command ${String(fields.kind)}`);
}

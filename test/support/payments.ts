import { expect } from 'vitest';
import {
  standInEnv,
  startPaymentsStandIn,
  type PaymentsStandIn,
  type PaymentsStandInOptions,
} from '../../scripts/payments/standIn.ts';
import type { RunningExchange } from './exchange.ts';

/** The stand-ins' secrets in tests (shared with the exchange through standInEnv). */
export const STAND_IN_SECRETS: PaymentsStandInOptions = {
  paystack: { secretKey: 'sk_test_funding_secret_key', webhookUrl: 'http://127.0.0.1:1/unset' },
  payfast: { merchantId: '10000100', merchantKey: '46f0cd694581a', passphrase: 'jt7NOE43FZPn' },
  ozow: { siteCode: 'TST-TST-001', privateKey: 'ozow-private-key-for-tests', apiKey: 'ozow-api-key' },
};

export async function startStandIn(): Promise<{ standIn: PaymentsStandIn; env: Record<string, string> }> {
  const standIn = await startPaymentsStandIn(STAND_IN_SECRETS);
  return { standIn, env: { ...standInEnv(standIn, STAND_IN_SECRETS), WITHDRAWAL_BACKOFF_MS: '100' } };
}

/** Points the stand-in's Paystack webhooks at the running exchange. */
export function connect(standIn: PaymentsStandIn, running: RunningExchange): void {
  standIn.paystackWebhookUrl = `${running.http}/api/v1/webhooks/paystack`;
}

/** DESIGN.md principle 6 after every scenario: no negative balance, each asset sums to 0, and the totals add up. */
export function expectLedgerSound(running: RunningExchange, asset: string, netDeposits: bigint): void {
  const { ledger } = running.exchange;
  expect(ledger.checkInvariants()).toEqual([]);
  const totals = ledger.totals(asset);
  expect(totals.netDeposits).toBe(netDeposits);
  expect(totals.available + totals.locked).toBe(netDeposits);
}

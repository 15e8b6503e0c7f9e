import { afterAll, expect, it } from 'vitest';
import type { PaymentsStandIn } from '../../scripts/payments/standIn.ts';
import { fundThroughEachProvider, startDemoPayments } from '../../scripts/demo/funding.ts';
import { runExchange, type RunningExchange } from '../support/exchange.ts';

/** `npm run demo`'s funding (scripts/demo/funding.ts): a user funded through each provider's stand-in. */

let standIn: PaymentsStandIn | undefined;
let running: RunningExchange | undefined;

afterAll(async () => {
  await running?.stop();
  await standIn?.close();
});

it('funds the demo user through Paystack, PayFast and Ozow, as a customer would', async () => {
  const env: NodeJS.ProcessEnv = {};
  standIn = await startDemoPayments(env);
  expect(standIn).toBeDefined();
  running = await runExchange(env as Record<string, string>);
  const exchange = running;
  const lines: string[] = [];
  const statuses = await fundThroughEachProvider({
    http: exchange.http,
    standIn: standIn!,
    mint: (userId, roles) => exchange.exchange.auth.mint(userId, roles),
    log: (line) => lines.push(line),
  });
  expect(statuses).toEqual({ paystack: 'completed', payfast: 'completed', ozow: 'completed' });
  expect(exchange.exchange.ledger.balance('demo-funded', 'NGN').available).toBe(10_000n);
  expect(exchange.exchange.ledger.balance('demo-funded', 'ZAR').available).toBe(20_000n);
  expect(lines).toHaveLength(3);
  expect(await startDemoPayments({ PAYSTACK_SECRET_KEY: 'sk_live_x' })).toBeUndefined();
});

/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Contract, Interface, JsonRpcProvider, Wallet, type JsonFragment } from 'ethers';
import { anvilAccounts } from '../../src/chain/anvil.ts';
import { loadArtifact } from '../../src/chain/artifact.ts';
import { runExchange, type RunningExchange } from '../support/exchange.ts';
import { eventually } from '../support/eventually.ts';
import { expectLedgerSound } from '../support/payments.ts';

/*
 * CHAIN_TEST_USDC (issue 16, development): the exchange starts its own anvil, deploys the test USDC,
 * defines USDC bound to it and follows it; a transfer into a deposit address is credited.
 */

let running: RunningExchange;
let provider: JsonRpcProvider;

beforeAll(async () => {
  running = await runExchange({ CHAIN_TEST_USDC: 'true', CHAIN_SYNC_INTERVAL_MS: '200' });
  provider = new JsonRpcProvider((await running.exchange.chain.endpoint()).rpcUrl, undefined, {
    cacheTimeout: -1,
  });
}, 90_000);

afterAll(async () => {
  provider.destroy();
  await running.stop();
});

describe('CHAIN_TEST_USDC', () => {
  it('deploys a test USDC on its own anvil and credits deposits of it', async () => {
    const usdc = running.exchange.catalog.asset('USDC');
    expect(usdc).toMatchObject({
      decimals: 6,
      kind: 'stable',
      contractAddress: expect.stringMatching(/^0x/),
    });
    const token = await running.token('carol', ['trader']);
    const { body } = await running.request('GET', '/api/v1/funding/address', { token });
    const holder = anvilAccounts()[1]!;
    const chain = await running.exchange.chain.client();
    await chain.mint(usdc!.contractAddress!, holder.address, 50_000_000n);
    const abi = (await loadArtifact('TestUsdc')).abi as JsonFragment[];
    const outside = new Contract(
      usdc!.contractAddress!,
      new Interface(abi),
      new Wallet(holder.privateKey, provider),
    );
    const sent = (await outside.getFunction('transfer')(body.address, 12_500_000n)) as { hash: string };
    await eventually(async () => (await provider.getTransactionReceipt(sent.hash)) ?? undefined);
    await provider.send('anvil_mine', ['0x1']);
    await eventually(
      async () => {
        const balances = (await running.request('GET', '/api/v1/balances', { token })).body as {
          asset: string;
          available: string;
        }[];
        return balances.find((b) => b.asset === 'USDC')?.available === '12.500000';
      },
      { what: 'the test USDC deposit credited', timeoutMs: 20_000 },
    );
    expectLedgerSound(running, 'USDC', 12_500_000n);
  }, 40_000);
});

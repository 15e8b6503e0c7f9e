import { concat, type JsonRpcProvider, Wallet } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadRwaTokenArtifact } from '../../src/chain/artifact.ts';
import { startAnvil, type Anvil, type AnvilAccount } from '../../src/chain/anvil.ts';
import {
  ChainError,
  createChainClient,
  type ChainClient,
  type ChainClientOptions,
} from '../../src/chain/client.ts';
import { pendingLookupOf, providerFor, tokenInterface, watchRpc } from './helpers.ts';

/** Deployment, its idempotency across a worker crash, back-to-back transactions and a chain that is down. */
let anvil: Anvil;
let provider: JsonRpcProvider;
const clients: ChainClient[] = [];

const TOKEN = { name: 'Harbour Tower', symbol: 'HTWR', totalSupply: 1_000n * 10n ** 18n } as const;

beforeAll(async () => {
  anvil = await startAnvil();
  provider = providerFor(anvil.rpcUrl);
});

afterAll(async () => {
  for (const client of clients) client.close();
  provider.destroy();
  await anvil.stop();
});

function clientFor(account: AnvilAccount, options: Partial<ChainClientOptions> = {}): ChainClient {
  const client = createChainClient({
    rpcUrl: anvil.rpcUrl,
    chainId: anvil.chainId,
    privateKey: account.privateKey,
    pollingIntervalMs: 50,
    ...options,
  });
  clients.push(client);
  return client;
}

function account(index: number): AnvilAccount {
  const found = anvil.accounts[index];
  if (found === undefined) throw new Error(`no anvil account ${index}`);
  return found;
}

const nonceOf = (address: string): Promise<number> => provider.getTransactionCount(address, 'latest');

describe('deployRwaToken', () => {
  it('deploys at the returned address, records the hash before broadcasting it', async () => {
    const client = clientFor(account(0));
    const recorded: { hash: string; knownToChain: boolean }[] = [];
    const deployment = await client.deployRwaToken(TOKEN, {
      onSubmitted: async (hash) => {
        recorded.push({ hash, knownToChain: (await provider.getTransaction(hash)) !== null });
      },
    });
    expect(recorded).toEqual([{ hash: deployment.txHash, knownToChain: false }]);
    expect(await provider.getCode(deployment.contractAddress)).not.toBe('0x');
    expect(await client.tokenInfo(deployment.contractAddress)).toEqual({
      name: TOKEN.name,
      symbol: TOKEN.symbol,
      decimals: 18,
      totalSupply: TOKEN.totalSupply,
    });
    const receipt = await provider.getTransactionReceipt(deployment.txHash);
    expect(receipt?.contractAddress).toBe(deployment.contractAddress);
    expect(receipt?.blockNumber).toBe(deployment.blockNumber);
  });

  it('returns the mined deployment of a known tx hash without deploying again', async () => {
    const client = clientFor(account(1));
    const first = await client.deployRwaToken(TOKEN);
    const nonce = await nonceOf(client.address);

    // A retry after a crash, by a new worker process (a new client) as well as by the same one.
    const retried = await clientFor(account(1)).deployRwaToken(TOKEN, { knownTxHash: first.txHash });
    const again = await client.deployRwaToken(TOKEN, {
      knownTxHash: first.txHash,
      onSubmitted: () => Promise.reject(new Error('must not submit')),
    });
    expect(retried).toEqual(first);
    expect(again).toEqual(first);
    expect(await nonceOf(client.address)).toBe(nonce);
  });

  it('waits for a known deployment that is still pending instead of deploying again', async () => {
    const deployer = account(2);
    const nonce = await nonceOf(deployer.address);
    await provider.send('evm_setAutomine', [false]);
    let recorded: string | undefined;
    try {
      // The first worker records the hash, then "dies" waiting (its confirmation times out).
      const crashed = clientFor(deployer, { confirmTimeoutMs: 300 }).deployRwaToken(TOKEN, {
        onSubmitted: (hash) => {
          recorded = hash;
          return Promise.resolve();
        },
      });
      await expect(crashed).rejects.toMatchObject({ name: 'ChainError', code: 'timeout' });
      expect(recorded).toBeDefined();

      // Still pending: broadcast (the timeout came after it), in the mempool, not mined.
      const pending = await provider.getTransaction(recorded!);
      expect(pending).not.toBeNull();
      expect(pending?.blockNumber).toBeNull();

      // The retry's lookup goes through a relay: mined only once it has found the hash pending.
      const relay = await watchRpc(anvil.rpcUrl);
      try {
        const retry = clientFor(deployer, { rpcUrl: relay.url }).deployRwaToken(TOKEN, {
          knownTxHash: recorded,
        });
        await relay.answered(pendingLookupOf(recorded!));
        // Blocks from now on, one a second: a single evm_mine could land between the retry's
        // receipt check and the start of its block polling, which then waits for a next block
        // that never comes with automine off (the test hung for its whole timeout in full runs).
        await provider.send('evm_setIntervalMining', [1]);
        const deployment = await retry;
        expect(deployment.txHash).toBe(recorded);
        expect(await provider.getCode(deployment.contractAddress)).not.toBe('0x');
      } finally {
        await relay.close();
      }
    } finally {
      await provider.send('evm_setIntervalMining', [0]);
      await provider.send('evm_setAutomine', [true]);
    }
    expect(await nonceOf(deployer.address)).toBe(nonce + 1);
  });

  it('deploys anew when the recorded hash never reached the chain, without leaving a nonce gap', async () => {
    const client = clientFor(account(3));
    const nonce = await nonceOf(client.address);
    let recorded: string | undefined;
    const crashed = client.deployRwaToken(TOKEN, {
      onSubmitted: (hash) => {
        recorded = hash;
        return Promise.reject(new Error('worker died after recording'));
      },
    });
    await expect(crashed).rejects.toThrow(/worker died after recording/);
    expect(await nonceOf(client.address)).toBe(nonce);

    // The same nonce and inputs may sign to the very same hash: what counts is one deployment.
    const deployment = await client.deployRwaToken(TOKEN, { knownTxHash: recorded });
    expect(await nonceOf(client.address)).toBe(nonce + 1);
    expect((await client.tokenInfo(deployment.contractAddress)).symbol).toBe(TOKEN.symbol);
  });

  it('deploys anew when the recorded deployment failed on chain', async () => {
    const deployer = account(4);
    const { bytecode } = await loadRwaTokenArtifact();
    const iface = await tokenInterface();
    const args = [TOKEN.name, TOKEN.symbol, 18, TOKEN.totalSupply, deployer.address, deployer.address];
    // Enough gas to be mined, too little to store the code: status 0.
    const data = concat([bytecode, iface.encodeDeploy(args)]);
    const needed = await provider.estimateGas({ from: deployer.address, data });
    const failed = await new Wallet(deployer.privateKey, provider).sendTransaction({
      data,
      gasLimit: needed - 300_000n,
    });
    expect((await failed.wait().catch(() => provider.getTransactionReceipt(failed.hash)))?.status).toBe(0);

    const client = clientFor(deployer);
    const deployment = await client.deployRwaToken(TOKEN, { knownTxHash: failed.hash });
    expect(deployment.txHash).not.toBe(failed.hash);
    expect((await client.tokenInfo(deployment.contractAddress)).totalSupply).toBe(TOKEN.totalSupply);
  });

  it('refuses a known hash that is not a deployment by the platform', async () => {
    const client = clientFor(account(5));
    const { contractAddress } = await client.deployRwaToken(TOKEN);
    const call = await client.setAllowlisted(contractAddress, account(6).address, true);
    await expect(client.deployRwaToken(TOKEN, { knownTxHash: call.txHash })).rejects.toMatchObject({
      code: 'invalid',
    });
  });
});

describe('chain client', () => {
  it('sends back-to-back transactions from one key', async () => {
    const client = clientFor(account(7));
    const { contractAddress } = await client.deployRwaToken(TOKEN);
    const holders = anvil.accounts.map((a) => a.address);
    const results = await Promise.all(holders.map((h) => client.setAllowlisted(contractAddress, h, true)));
    expect(new Set(results.map((r) => r.txHash)).size).toBe(holders.length);
    for (const holder of holders) {
      expect((await client.holderStatus(contractAddress, holder)).allowlisted).toBe(true);
    }
  });

  it('decodes a revert into a ChainError naming the custom error', async () => {
    const client = clientFor(account(8));
    const { contractAddress } = await client.deployRwaToken(TOKEN);
    const error = await client.mint(contractAddress, account(9).address, 1n).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(ChainError);
    expect(error).toMatchObject({
      code: 'reverted',
      revert: { name: 'NotAllowlisted', args: [account(9).address] },
    });
    expect((error as Error).message).toMatch(/^mint on 0x[0-9a-fA-F]{40} reverted: NotAllowlisted\(0x/);
    // The nonce was returned: the next transaction is mined.
    await client.setAllowlisted(contractAddress, account(9).address, true);
    await client.mint(contractAddress, account(9).address, 1n);
  });

  it('reports a chain that is down as unreachable, quickly and without the key', async () => {
    const key = account(0).privateKey;
    const down = createChainClient({
      rpcUrl: 'http://127.0.0.1:9',
      chainId: 31_337,
      privateKey: key,
      rpcTimeoutMs: 2_000,
    });
    clients.push(down);
    const started = Date.now();
    expect(await down.isReachable()).toBe(false);
    const error = await down.deployRwaToken(TOKEN).catch((err: unknown) => err);
    expect(error).toMatchObject({ name: 'ChainError', code: 'unreachable' });
    expect((error as Error).message).not.toContain(key.slice(2));
    expect(JSON.stringify(error)).not.toContain(key.slice(2));
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(await clientFor(account(0)).isReachable()).toBe(true);
  });

  it('rejects a malformed key without echoing it', () => {
    const bad = `0x${'ab'.repeat(31)}zz`;
    expect(() => createChainClient({ rpcUrl: anvil.rpcUrl, chainId: 31_337, privateKey: bad })).toThrow(
      ChainError,
    );
    try {
      createChainClient({ rpcUrl: anvil.rpcUrl, chainId: 31_337, privateKey: bad });
    } catch (err) {
      expect((err as Error).message).not.toContain('abab');
    }
  });

  it('says the chain is down when it answers another chain id', async () => {
    const wrong = clientFor(account(0), { chainId: 1 });
    expect(await wrong.isReachable()).toBe(false);
  });
});

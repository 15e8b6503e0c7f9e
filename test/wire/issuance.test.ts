import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAnvil, anvilAccounts, type Anvil } from '../../src/chain/anvil.ts';
import { createChainClient } from '../../src/chain/client.ts';
import { runExchange, type RunningExchange } from '../support/exchange.ts';
import { RawSocket } from './fixtures.ts';
import { eventually } from '../support/eventually.ts';
import { pendingLookupOf, watchRpc, type RpcWatch } from '../chain/helpers.ts';

// HTTP bodies are JSON of many shapes; these tests read them field by field.
/* eslint-disable @typescript-eslint/no-unsafe-member-access */

/*
 * The primary flow end to end on real components: an issuer registers a real-world asset, an admin
 * approves it, the deploy-token job (BullMQ on Redis) deploys its ERC-20 on a real anvil chain, the
 * market goes active, and two compliant users trade it over the WebSocket while a non-compliant
 * one is refused with `compliance`. Then a deployment against a chain that is down: retries, back
 * to `approved` with the error, and an admin `activate` once the chain is back.
 */

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address === null || typeof address === 'string') reject(new Error('no port'));
        else resolve(address.port);
      });
    });
  });
}

/** Polls `read` (a public read) until `done` holds; answers that value. */
async function until<T>(
  read: () => Promise<T> | T,
  done: (value: T) => boolean,
  what: string,
  timeoutMs = 30_000,
): Promise<T> {
  const seen = await eventually(
    async () => {
      const value = await read();
      return done(value) && { value };
    },
    { what, timeoutMs, everyMs: 100 },
  );
  return seen.value;
}

const registration = (tokenSymbol: string) => ({
  name: 'Luxembourg Apartment 12',
  assetType: 'real_estate',
  tokenSymbol,
  tokenName: `${tokenSymbol} Property Token`,
  totalSupply: '1000000',
  quoteAsset: 'USDC',
  priceDecimals: 2,
  qtyDecimals: 3,
  tickSize: '0.01',
  lotSize: '0.001',
  minQty: '0.001',
  assetDetails: { valuation: '2500000', currency: 'EUR', location: 'Luxembourg' },
});

describe('RWA issuance to a live market', () => {
  let running: RunningExchange;
  let issuer: string;
  let admin: string;

  beforeAll(async () => {
    running = await runExchange({ RATE_ORDERS_PER_S: '10000', RATE_ORDERS_BURST: '10000' });
    issuer = await running.token('issuer-1', ['issuer']);
    admin = await running.token('ops', ['admin']);
    await running.asset('USDC', 6, 'stable');
  });

  afterAll(async () => {
    await running.stop();
  });

  it('registers, approves, deploys on anvil, activates, and lets only compliant users trade', async () => {
    const registered = await running.request('POST', '/api/v1/markets/register', {
      token: issuer,
      body: registration('LUXA'),
    });
    expect(registered.status).toBe(201);
    expect(registered.body).toMatchObject({
      symbol: 'LUXA-USDC',
      status: 'pending_approval',
      tokenSymbol: 'LUXA',
      baseAsset: 'LUXA',
    });
    const id = String(registered.body.id);

    const watcher = await RawSocket.open(running.ws);
    await watcher.request({ op: 'sub', ch: 'lifecycle', market: 'LUXA-USDC' }, 1);
    expect(await watcher.next((m) => m.op === 'lifecycle')).toMatchObject({
      from: null,
      to: 'pending_approval',
    });

    // Trading before activation: not active.
    await running.credit('alice', 'USDC', '100000');
    const alice = await RawSocket.open(`${running.ws}?token=${await running.token('alice', ['trader'])}`);
    expect(
      await alice.request(
        { op: 'place', market: 'LUXA-USDC', side: 'buy', type: 'limit', price: '10.00', qty: '1.000' },
        1,
      ),
    ).toMatchObject({ code: 'market_not_active' });

    // A trader may not approve; an admin may.
    const denied = await running.request('POST', `/api/v1/markets/${id}/approve`, {
      token: await running.token('alice', ['trader']),
      body: { decision: 'approved' },
    });
    expect(denied.status).toBe(403);
    const approved = await running.request('POST', `/api/v1/markets/${id}/approve`, {
      token: admin,
      body: { decision: 'approved' },
    });
    expect(approved.status).toBe(200);
    expect(['activating', 'active']).toContain(approved.body.status);

    const active = await until(
      () => running.request('GET', `/api/v1/markets/${id}`),
      (r) => r.body.status === 'active',
      'the market to go active',
      60_000,
    );
    expect(active.body.contractAddress).toMatch(/^0x[0-9a-fA-F]{40}$/);
    expect(active.body.deploymentTxHash).toMatch(/^0x[0-9a-f]{64}$/);
    expect(typeof active.body.activatedAt).toBe('number');

    // The lifecycle stream showed every transition, in order.
    const transitions: string[] = [];
    for (let i = 0; i < 3; i++) {
      const m = await watcher.next((x) => x.op === 'lifecycle');
      transitions.push(`${String(m.from)}>${String(m.to)}`);
    }
    expect(transitions).toEqual(['pending_approval>approved', 'approved>activating', 'activating>active']);

    // The audit trail, oldest first.
    const events = await running.request('GET', `/api/v1/markets/${id}/events`);
    expect((events.body as { eventType: string }[]).map((e) => e.eventType)).toEqual([
      'market.registered',
      'market.approval_requested',
      'market.approved',
      'market.activation_started',
      'market.activated',
    ]);
    const details = await running.request('GET', `/api/v1/markets/LUXA-USDC/details`);
    expect(details.body).toMatchObject({
      name: 'Luxembourg Apartment 12',
      asset: { location: 'Luxembourg' },
    });

    // The contract exists at the stored address with the right name, symbol and supply.
    const rpc = await running.exchange.chain.endpoint();
    const reader = createChainClient({
      rpcUrl: rpc.rpcUrl,
      chainId: rpc.chainId,
      privateKey: anvilAccounts(2)[1]!.privateKey,
    });
    const info = await reader.tokenInfo(String(active.body.contractAddress));
    // Primary issuance (issue 16): the supply sits at the issuer's deposit address, and the
    // issuer's account holds the same amount in the ledger.
    const asTrader = await running.token('issuer-1', ['trader']);
    const issuerAddress = (await running.request('GET', '/api/v1/funding/address', { token: asTrader })).body
      .address as string;
    const minted = await reader.balanceOf(String(active.body.contractAddress), issuerAddress);
    reader.close();
    expect(info).toMatchObject({
      name: 'LUXA Property Token',
      symbol: 'LUXA',
      totalSupply: 1_000_000n * 10n ** 18n,
    });
    expect(minted).toBe(1_000_000n * 10n ** 18n);
    expect(running.exchange.ledger.balance('issuer-1', 'LUXA')).toEqual({ available: minted, locked: 0n });
    expect(running.exchange.ledger.checkInvariants()).toEqual([]);

    // Compliance: alice and bob are compliant, carol is not.
    for (const user of ['alice', 'bob']) {
      const set = await running.request('POST', '/api/v1/admin/compliance', {
        token: admin,
        body: { userId: user, asset: 'LUXA', kycStatus: 'approved', allowlisted: true, accredited: false },
      });
      expect(set.status).toBe(200);
    }
    await running.credit('bob', 'LUXA', '50');
    await running.credit('carol', 'USDC', '1000');
    const bob = await RawSocket.open(`${running.ws}?token=${await running.token('bob', ['trader'])}`);
    const carol = await RawSocket.open(`${running.ws}?token=${await running.token('carol', ['trader'])}`);
    expect(
      await bob.request(
        { op: 'place', market: 'LUXA-USDC', side: 'sell', type: 'limit', price: '2500.00', qty: '2.000' },
        2,
      ),
    ).toMatchObject({ op: 'accepted', status: 'open' });
    expect(
      await carol.request(
        { op: 'place', market: 'LUXA-USDC', side: 'buy', type: 'limit', price: '2500.00', qty: '0.100' },
        3,
      ),
    ).toMatchObject({ op: 'error', code: 'compliance' });
    expect(
      await alice.request(
        { op: 'place', market: 'LUXA-USDC', side: 'buy', type: 'limit', price: '2500.00', qty: '1.500' },
        4,
      ),
    ).toMatchObject({ op: 'accepted', status: 'filled', filledQty: '1.500' });
    const book = await running.request('GET', '/api/v1/markets/LUXA-USDC/book');
    expect(book.body).toMatchObject({ bids: [], asks: [['2500.00', '0.500']] });
    for (const socket of [watcher, alice, bob, carol]) socket.close();
  });

  it('refuses illegal transitions with 409 and the current state, changing nothing', async () => {
    const registered = await running.request('POST', '/api/v1/markets/register', {
      token: issuer,
      body: registration('ARTX'),
    });
    const id = String(registered.body.id);
    const rejected = await running.request('POST', `/api/v1/markets/${id}/approve`, {
      token: admin,
      body: { decision: 'rejected', reason: 'provenance documents missing' },
    });
    expect(rejected.body).toMatchObject({
      status: 'rejected',
      rejectedReason: 'provenance documents missing',
    });
    const again = await running.request('POST', `/api/v1/markets/${id}/approve`, {
      token: admin,
      body: { decision: 'approved' },
    });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('invalid_transition');
    expect(again.body.error.message).toContain('rejected');
    const pause = await running.request('POST', `/api/v1/markets/${id}/pause`, { token: admin });
    expect(pause.status).toBe(409);
    expect((await running.request('GET', `/api/v1/markets/${id}`)).body.status).toBe('rejected');
  });
});

describe('deployment while the chain is down', () => {
  let running: RunningExchange;
  let anvil: Anvil | undefined;

  afterAll(async () => {
    await running.stop();
    await anvil?.stop();
  });

  it('retries, falls back to approved with the error, and activates once the chain is back', async () => {
    const port = await freePort();
    running = await runExchange({
      CHAIN_RPC_URL: `http://127.0.0.1:${port}`,
      CHAIN_ID: '31337',
      CHAIN_PRIVATE_KEY: anvilAccounts(1)[0]!.privateKey,
      DEPLOY_ATTEMPTS: '2',
      DEPLOY_BACKOFF_MS: '100',
    });
    const admin = await running.token('ops', ['admin']);
    await running.asset('USDC', 6, 'stable');
    const registered = await running.request('POST', '/api/v1/markets/register', {
      token: await running.token('issuer-2', ['issuer']),
      body: registration('GOLDX'),
    });
    const id = String(registered.body.id);
    await running.request('POST', `/api/v1/markets/${id}/approve`, {
      token: admin,
      body: { decision: 'approved' },
    });
    const failed = await until(
      () => running.request('GET', `/api/v1/markets/${id}`),
      (r) => r.body.status === 'approved' && typeof r.body.deployError === 'string',
      'the deployment to fail back to approved',
      60_000,
    );
    expect(String(failed.body.deployError).length).toBeGreaterThan(0);
    // The market reads `approved` once its actor processed the failure, a moment before the
    // transition is committed; the history shows it once committed (it follows the journal).
    await until(
      () => running.request('GET', `/api/v1/markets/${id}/events`),
      (events) =>
        (events.body as { eventType: string }[]).some((e) => e.eventType === 'market.activation_failed'),
      'the failed activation in the history',
      10_000,
    );

    anvil = await startAnvil({ port, chainId: 31337 });
    const retried = await running.request('POST', `/api/v1/markets/${id}/activate`, { token: admin });
    expect(retried.status).toBe(200);
    const active = await until(
      () => running.request('GET', `/api/v1/markets/${id}`),
      (r) => r.body.status === 'active',
      'the market to go active after the chain is back',
      60_000,
    );
    expect(active.body.contractAddress).toMatch(/^0x[0-9a-fA-F]{40}$/);
    expect(active.body.deployError).toBeUndefined();
  });
});

describe('a deployment interrupted mid-way', () => {
  let running: RunningExchange;
  let anvil: Anvil;
  let relay: RpcWatch;

  afterAll(async () => {
    await running.stop();
    await relay.close();
    await anvil.stop();
  });

  it('is picked up by the retry from its recorded tx hash: one contract, never two', async () => {
    anvil = await startAnvil({ chainId: 31337 });
    relay = await watchRpc(anvil.rpcUrl);
    const platform = anvil.accounts[0]!;
    running = await runExchange({
      CHAIN_RPC_URL: relay.url,
      CHAIN_ID: '31337',
      CHAIN_PRIVATE_KEY: platform.privateKey,
    });
    const rpc = (method: string, params: unknown[] = []) =>
      fetch(anvil.rpcUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
      }).then(async (r) => ((await r.json()) as { result: unknown }).result);
    const nonce = async () => Number(await rpc('eth_getTransactionCount', [platform.address, 'latest']));
    const before = await nonce();
    // Transactions stay pending until mined by hand: the first attempt is left waiting.
    await rpc('evm_setAutomine', [false]);
    await running.asset('USDC', 6, 'stable');
    const admin = await running.token('ops', ['admin']);
    const registered = await running.request('POST', '/api/v1/markets/register', {
      token: await running.token('issuer-3', ['issuer']),
      body: registration('BONDX'),
    });
    const id = String(registered.body.id);
    await running.request('POST', `/api/v1/markets/${id}/approve`, {
      token: admin,
      body: { decision: 'approved' },
    });
    const recorded = String(
      (
        await until(
          () => running.request('GET', `/api/v1/markets/${id}`),
          (r) => typeof r.body.deploymentTxHash === 'string',
          'the first attempt to record its tx hash',
        )
      ).body.deploymentTxHash,
    );
    // A second worker runs the job again (as after a crash of the first; no route re-runs a job):
    // it finds the recorded transaction pending and waits for it instead of deploying again. The
    // block is mined once its lookup has been answered "pending", not after a guessed delay.
    const since = relay.count;
    const retry = running.exchange.issuance.runDeployment(id, { final: false });
    await relay.answered(pendingLookupOf(recorded), since);
    await rpc('evm_mine');
    await rpc('evm_setAutomine', [true]);
    await retry;
    const active = await until(
      () => running.request('GET', `/api/v1/markets/${id}`),
      (r) => r.body.status === 'active',
      'the market to go active',
    );
    expect(active.body.deploymentTxHash).toBe(recorded);
    expect(await nonce()).toBe(before + 1);
    const receipt = (await rpc('eth_getTransactionReceipt', [recorded])) as { contractAddress: string };
    expect(String(active.body.contractAddress).toLowerCase()).toBe(receipt.contractAddress.toLowerCase());

    // An allowlist change of a holder with a wallet is mirrored on the token by a job.
    const wallet = anvil.accounts[5]!.address;
    const set = await running.request('POST', '/api/v1/admin/compliance', {
      token: admin,
      body: {
        userId: 'dana',
        asset: 'BONDX',
        kycStatus: 'approved',
        allowlisted: true,
        walletAddress: wallet,
      },
    });
    expect(set.status).toBe(200);
    const reader = createChainClient({
      rpcUrl: anvil.rpcUrl,
      chainId: 31337,
      privateKey: anvil.accounts[1]!.privateKey,
    });
    await until(
      () => reader.holderStatus(String(active.body.contractAddress), wallet),
      (status) => status.allowlisted,
      'the allowlist to be mirrored on chain',
    );
    reader.close();
  });
});

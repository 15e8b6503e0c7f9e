/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-return */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Contract, Interface, JsonRpcProvider, Wallet, ZeroAddress, id, type JsonFragment } from 'ethers';
import { createPool, sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { startAnvil, type Anvil } from '../../src/chain/anvil.ts';
import { loadArtifact } from '../../src/chain/artifact.ts';
import { createChainClient, type ChainClient } from '../../src/chain/client.ts';
import type { SettlementStore } from '../../src/persistence/settlementStore.ts';
import { runExchange, type RunningExchange } from '../support/exchange.ts';
import { eventually } from '../support/eventually.ts';

/*
 * Settlement on chain and minting end to end (issue 16 §3): a real anvil, the compiled RwaToken,
 * TestUsdc and Settlement contracts, the exchange on its own Postgres with its jobs on Redis.
 *
 * An issuer's RWA market quoted in a USDC bound to its ERC-20: the issuer's supply comes from the
 * activation mint, alice's USDC from a chain deposit. Their trades settle in one DvP transaction
 * per round (both tokens' legs, fees to the fee account's address); afterwards every deposit
 * address holds on chain what the ledger says (reconciliation: no drift). A worker killed after
 * recording a settlement settles it once. A trade whose seller holds nothing on chain fails after
 * its retries and is listed for an operator. POST /markets/:id/mint mints once, even when the job
 * dies after recording its transaction, and the issuer is credited once.
 */

let anvil: Anvil;
let running: RunningExchange;
let pool: DatabasePool;
let faucet: ChainClient;
let provider: JsonRpcProvider;
let usdc: string;
let admin: string;
let issuer: string;
let aliceToken: string;
let marketId: string;
let luxa: string;

const USDC = (units: number) => BigInt(units) * 1_000_000n;
const LUXA = (units: number) => BigInt(units) * 10n ** 18n;
const TRANSFER = id('Transfer(address,address,uint256)');

async function mine(blocks = 1): Promise<void> {
  await provider.send('anvil_mine', [`0x${blocks.toString(16)}`]);
}

async function addressOf(token: string): Promise<string> {
  const { body } = await running.request('GET', '/api/v1/funding/address', { token });
  return body.address as string;
}

async function trades(): Promise<{ tradeId: string; settlement?: string; settlementTx?: string }[]> {
  const { body } = await running.request('GET', `/api/v1/markets/${marketId}/trades`);
  return body;
}

/** Polls, mining a block each time (anvil mines only on demand), until `check` holds. */
function settledWhen<T>(check: () => Promise<T | undefined | false>, what: string, timeoutMs = 30_000) {
  return eventually(
    async () => {
      await running.exchange.chainSettlement.settlement!.run();
      await mine();
      return check();
    },
    { what, timeoutMs, everyMs: 100 },
  );
}

async function place(token: string, body: Record<string, unknown>) {
  const placed = await running.request('POST', '/api/v1/orders', {
    token,
    body: { market: 'LUXA-USDC', ...body },
  });
  expect(placed.status, JSON.stringify(placed.body)).toBe(201);
  return placed.body;
}

function expectLedgerSound(): void {
  const { ledger } = running.exchange;
  expect(ledger.checkInvariants()).toEqual([]);
  for (const asset of ['USDC', 'LUXA']) {
    const totals = ledger.totals(asset);
    expect(totals.available + totals.locked).toBe(totals.netDeposits);
  }
}

beforeAll(async () => {
  anvil = await startAnvil();
  const [platform, holder, minter] = anvil.accounts;
  faucet = createChainClient({
    rpcUrl: anvil.rpcUrl,
    chainId: anvil.chainId,
    privateKey: minter!.privateKey,
    pollingIntervalMs: 50,
  });
  usdc = (await faucet.deployTestToken({ name: 'Test USD Coin', symbol: 'USDC', decimals: 6 }))
    .contractAddress;
  await faucet.mint(usdc, holder!.address, USDC(100_000));
  provider = new JsonRpcProvider(anvil.rpcUrl, undefined, { cacheTimeout: -1, pollingInterval: 50 });
  running = await runExchange({
    CHAIN_RPC_URL: anvil.rpcUrl,
    CHAIN_ID: String(anvil.chainId),
    CHAIN_PRIVATE_KEY: platform!.privateKey,
    CHAIN_CONFIRMATIONS: '2',
    CHAIN_SYNC_INTERVAL_MS: '200',
    // The scheduled run is rare: the tests run settlement themselves, between their steps.
    SETTLEMENT_INTERVAL_MS: '3600000',
    SETTLEMENT_ATTEMPTS: '2',
    SETTLEMENT_BACKOFF_MS: '50',
    MINT_BACKOFF_MS: '100',
    RATE_ORDERS_PER_S: '10000',
    RATE_ORDERS_BURST: '10000',
  });
  pool = await createPool(running.database.url, { maximumPoolSize: 2 });
  admin = await running.token('ops', ['admin']);
  issuer = await running.token('issuer-1', ['issuer']);
  aliceToken = await running.token('alice', ['trader']);

  const bound = await running.request('POST', '/api/v1/assets', {
    token: admin,
    body: { symbol: 'USDC', decimals: 6, kind: 'stable', contractAddress: usdc },
  });
  expect(bound.status).toBe(201);
  const registered = await running.request('POST', '/api/v1/markets/register', {
    token: issuer,
    body: {
      name: 'Luxembourg Apartment 12',
      assetType: 'real_estate',
      tokenSymbol: 'LUXA',
      tokenName: 'LUXA Property Token',
      totalSupply: '1000',
      quoteAsset: 'USDC',
      priceDecimals: 2,
      qtyDecimals: 3,
      tickSize: '0.01',
      lotSize: '0.001',
      minQty: '0.001',
      makerFeeBps: 10,
      takerFeeBps: 20,
      assetDetails: { valuation: '2500000', currency: 'EUR', location: 'Luxembourg' },
    },
  });
  expect(registered.status).toBe(201);
  marketId = String(registered.body.id);
  // Deposit addresses first, so the compliance records allowlist them on the token.
  await addressOf(aliceToken);
  await addressOf(await running.token('issuer-1', ['trader']));
  expect(
    (
      await running.request('POST', `/api/v1/markets/${marketId}/approve`, {
        token: admin,
        body: { decision: 'approved' },
      })
    ).status,
  ).toBe(200);
  const active = await eventually(
    async () => {
      const { body } = await running.request('GET', `/api/v1/markets/${marketId}`);
      return body.status === 'active' && body;
    },
    { what: 'the market active', timeoutMs: 60_000, everyMs: 100 },
  );
  luxa = String(active.contractAddress);
  for (const user of ['alice', 'issuer-1', 'bob']) {
    const set = await running.request('POST', '/api/v1/admin/compliance', {
      token: admin,
      body: { userId: user, asset: 'LUXA', kycStatus: 'approved', allowlisted: true, accredited: false },
    });
    expect(set.status).toBe(200);
  }
  // Alice's USDC: a chain deposit from outside, credited after its confirmations.
  const abi = (await loadArtifact('TestUsdc')).abi as JsonFragment[];
  const outside = new Contract(usdc, new Interface(abi), new Wallet(holder!.privateKey, provider));
  const sent = (await outside.getFunction('transfer')(await addressOf(aliceToken), USDC(10_000))) as {
    wait(): Promise<unknown>;
  };
  await sent.wait();
  await eventually(
    async () => {
      await mine();
      return running.exchange.ledger.balance('alice', 'USDC').available === USDC(10_000);
    },
    { what: "alice's chain deposit credited", timeoutMs: 20_000, everyMs: 200 },
  );
}, 120_000);

afterAll(async () => {
  await pool.end();
  await running.stop();
  faucet.close();
  provider.destroy();
  await anvil.stop();
});

describe('execute-blockchain-settlement', () => {
  it('settles the trades in one DvP transaction; on-chain balances then equal the ledger', async () => {
    await place(await running.token('issuer-1', ['trader']), {
      side: 'sell',
      type: 'limit',
      price: '10.00',
      qty: '100.000',
    });
    await place(aliceToken, { side: 'buy', type: 'limit', price: '10.00', qty: '30.000' });
    await place(aliceToken, { side: 'buy', type: 'limit', price: '10.00', qty: '12.500' });
    const traded = await trades();
    expect(traded).toHaveLength(2);
    expect(traded.every((t) => t.settlement === 'pending')).toBe(true);

    const settled = await settledWhen(async () => {
      const list = await trades();
      return list.every((t) => t.settlement === 'settled') && list;
    }, 'the trades settled');
    const hashes = new Set(settled.map((t) => t.settlementTx));
    expect(hashes.size).toBeLessThanOrEqual(2);
    // Delivery versus payment: LUXA and USDC moved in the same transaction.
    for (const hash of hashes) {
      const receipt = await provider.getTransactionReceipt(hash!);
      expect(receipt?.status).toBe(1);
      const tokens = new Set(receipt!.logs.filter((l) => l.topics[0] === TRANSFER).map((l) => l.address));
      expect(tokens).toEqual(new Set([luxa, usdc]));
    }

    // Alice holds on chain what the ledger holds: 42.5 LUXA less the taker/maker fee, USDC less 425.
    const alice = await addressOf(aliceToken);
    const reader = running.exchange.ledger;
    expect(await faucet.balanceOf(luxa, alice)).toBe(reader.balance('alice', 'LUXA').available);
    expect(await faucet.balanceOf(usdc, alice)).toBe(
      reader.balance('alice', 'USDC').available + reader.balance('alice', 'USDC').locked,
    );
    const report = await running.request('GET', '/api/v1/admin/reconciliation', { token: admin });
    expect(report.status).toBe(200);
    expect(report.body.drifted).toBe(0);
    expect(report.body.rows).toContainEqual(
      expect.objectContaining({ userId: '@fees', asset: 'LUXA', drift: '0.000000000000000000' }),
    );
    expect(report.body.rows).toContainEqual(expect.objectContaining({ userId: 'issuer-1', asset: 'USDC' }));
    expectLedgerSound();
  }, 60_000);

  it('settles a round once when the worker dies after recording its transaction', async () => {
    const store: SettlementStore = running.exchange.chainSettlement.settlementStore;
    const original = store.recordRoundTx.bind(store);
    let killed = 0;
    store.recordRoundTx = async (...args) => {
      await original(...args);
      killed++;
      throw new Error('worker killed after recording');
    };
    await place(aliceToken, { side: 'buy', type: 'limit', price: '10.00', qty: '5.000' });
    const settlement = running.exchange.chainSettlement.settlement!;
    try {
      await expect(settlement.run()).rejects.toThrow(/killed/);
    } finally {
      store.recordRoundTx = original;
    }
    expect(killed).toBe(1);
    const Row = z.object({ id: z.string(), status: z.string(), tx_hash: z.string().nullable() });
    const [round] = await pool.any(sql.type(Row)`
      SELECT id::text, status, tx_hash FROM settlement_rounds ORDER BY id DESC LIMIT 1`);
    expect(round!.status).toBe('submitted');
    expect(await provider.getTransaction(round!.tx_hash!)).toBeNull();

    const last = await settledWhen(async () => {
      const list = await trades();
      return list[0]!.settlement === 'settled' && list[0]!;
    }, 'the recorded round settled');
    const RoundAfter = z.object({ status: z.string(), tx_hash: z.string() });
    const after = await pool.one(sql.type(RoundAfter)`
      SELECT status, tx_hash FROM settlement_rounds WHERE id = ${round!.id}`);
    expect(after.status).toBe('settled');
    expect(last.settlementTx).toBe(after.tx_hash);
    // Once: the round id is settled on the contract (which refuses it a second time), and
    // balances still equal the ledger.
    const contract = await running.exchange.chainSettlement.settlement!.contractAddress();
    expect(await faucet.isRoundSettled(contract, BigInt(round!.id))).toBe(true);
    const report = await running.request('GET', '/api/v1/admin/reconciliation', { token: admin });
    expect(report.body.drifted).toBe(0);
    expectLedgerSound();
  }, 60_000);

  it('fails a round the chain refuses after its retries and lists its trades for an operator', async () => {
    // Bob's LUXA exists only in the ledger (an admin credit): nothing to deliver on chain.
    await running.credit('bob', 'LUXA', '5');
    const bob = await running.token('bob', ['trader']);
    await place(bob, { side: 'sell', type: 'limit', price: '9.00', qty: '2.000' });
    await place(aliceToken, { side: 'buy', type: 'limit', price: '9.00', qty: '2.000' });
    const failed = await settledWhen(async () => {
      const list = await trades();
      return list[0]!.settlement === 'failed' && list[0]!;
    }, 'the refused round failed');
    expect(failed.settlementTx).toBeUndefined();
    const listed = await running.request('GET', '/api/v1/admin/settlements?status=failed', { token: admin });
    expect(listed.status).toBe(200);
    expect(listed.body).toEqual([
      expect.objectContaining({
        tradeId: failed.tradeId,
        status: 'failed',
        attempts: 2,
        reason: expect.any(String),
      }),
    ]);
    expect((await running.request('GET', '/api/v1/admin/settlements', { token: aliceToken })).status).toBe(
      403,
    );
    const metrics = (await running.request('GET', '/metrics')).body as string;
    expect(metrics).toMatch(/exchange_settlement_rounds_failed_total 1/);
    expectLedgerSound();
  }, 60_000);
});

describe('POST /markets/:id/mint', () => {
  it('mints once to the issuer and credits it once, even when the job dies after recording', async () => {
    const issuerAddress = await addressOf(await running.token('issuer-1', ['trader']));
    const before = await faucet.balanceOf(luxa, issuerAddress);
    const ledgerBefore = running.exchange.ledger.balance('issuer-1', 'LUXA');
    const supplyBefore = (await faucet.tokenInfo(luxa)).totalSupply;

    const path = `/api/v1/markets/${marketId}/mint`;
    expect((await running.request('POST', path, { token: aliceToken, body: { amount: '1' } })).status).toBe(
      403,
    );
    const other = await running.token('issuer-2', ['issuer']);
    expect((await running.request('POST', path, { token: other, body: { amount: '1' } })).status).toBe(403);
    expect((await running.request('POST', path, { token: issuer, body: { amount: '-1' } })).status).toBe(400);
    expect((await running.request('POST', path, { token: issuer, body: { amount: '1', x: 1 } })).status).toBe(
      400,
    );

    const store: SettlementStore = running.exchange.chainSettlement.settlementStore;
    const original = store.recordMintTx.bind(store);
    let killed = 0;
    store.recordMintTx = async (...args) => {
      await original(...args);
      if (killed++ === 0) throw new Error('worker killed after recording');
    };
    try {
      const asked = await running.request('POST', path, { token: issuer, body: { amount: '250.5' } });
      expect(asked.status).toBe(202);
      expect(asked.body).toMatchObject({
        status: 'pending',
        amount: '250.500000000000000000',
        asset: 'LUXA',
      });
      const mintId = String(asked.body.id);
      const done = await eventually(
        async () => {
          await mine();
          const mint = await running.exchange.chainSettlement.mints.get(mintId);
          return mint?.status === 'credited' && mint;
        },
        { what: 'the mint credited', timeoutMs: 30_000, everyMs: 200 },
      );
      expect(killed).toBeGreaterThanOrEqual(1);
      const minted = LUXA(250) + LUXA(1) / 2n;
      expect(await faucet.balanceOf(luxa, issuerAddress)).toBe(before + minted);
      expect((await faucet.tokenInfo(luxa)).totalSupply).toBe(supplyBefore + minted);
      expect(running.exchange.ledger.balance('issuer-1', 'LUXA').available).toBe(
        ledgerBefore.available + minted,
      );
      // One mint on chain: one Transfer from the zero address to the issuer in the mint's transaction.
      const receipt = await provider.getTransactionReceipt(done.txHash!);
      const mints = receipt!.logs.filter(
        (l) => l.topics[0] === TRANSFER && l.topics[1] === `0x${'0'.repeat(64)}`,
      );
      expect(mints).toHaveLength(1);
      const logs = await provider.getLogs({
        address: luxa,
        topics: [TRANSFER, `0x${ZeroAddress.slice(2).padStart(64, '0')}`],
        fromBlock: 0,
      });
      expect(logs).toHaveLength(2); // the activation mint and this one
      // A second run of the job changes nothing.
      await running.exchange.chainSettlement.mints.run(mintId, { final: false });
      expect(running.exchange.ledger.balance('issuer-1', 'LUXA').available).toBe(
        ledgerBefore.available + minted,
      );
      const market = await running.request('GET', `/api/v1/markets/${marketId}`);
      expect(market.body.totalSupply).toMatch(/^1250\.5/);
    } finally {
      store.recordMintTx = original;
    }
    expectLedgerSound();
  }, 60_000);
});

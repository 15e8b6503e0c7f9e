/**
 * Settlement on chain, measured on anvil (issue 16 §4), as the last part of `npm run bench:funding`
 * (or alone: `tsx bench/chainSettlement.ts [--quick]` with DATABASE_URL and REDIS_URL set). The
 * whole exchange in this process on a fresh database, its jobs on Redis (the
 * execute-blockchain-settlement job every SETTLEMENT_INTERVAL_MS, 250 ms), a real anvil with the
 * compiled RwaToken, TestUsdc and Settlement contracts.
 *
 * An issuer's RWA market quoted in a USDC bound to its ERC-20; B buyers funded by chain deposits
 * (chain_deposits_per_s over that sync window, a small N: bench:chain has the real figure). A
 * warm-up trade per buyer first (each deposit address approves the Settlement contract once: not
 * measured). Then:
 *  (a) steady: 100 trades/s (one buy order per 10 ms, round robin over the buyers, against the
 *      issuer's resting sell) for D seconds. settlement_lag_p50/p99_ms: per trade, its round's
 *      settled_at (mined with CHAIN_CONFIRMATIONS = 2) minus the trade's time. gas_per_trade: the
 *      rounds' gas over their trades.
 *  (b) burst: T orders as fast as 16 HTTP requests in flight place them; settled_trades_per_s is T
 *      over the time from the first trade to the last settled.
 * Anvil mines on demand (each settlement transaction is a block); a background miner adds one
 * block per second so that the last round of a window gets its confirmation. At the end the
 * reconciliation must find no drift.
 */
import { Contract, Interface, JsonRpcProvider, NonceManager, Wallet, type JsonFragment } from 'ethers';
import { pino } from 'pino';
import { createPool, sql } from 'slonik';
import { z } from 'zod';
import { startAnvil } from '../src/chain/anvil.ts';
import { loadArtifact } from '../src/chain/artifact.ts';
import { createChainClient } from '../src/chain/client.ts';
import { startExchange } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { createBenchDatabase, withBenchAdmin } from './lib/database.ts';
import { nearestRank } from './lifecycle/common.ts';
import { progress, round } from './lib/stats.ts';

export interface SettlementBenchResult {
  readonly settled_trades_per_s: number;
  readonly settlement_lag_p50_ms: number;
  readonly settlement_lag_p99_ms: number;
  readonly settlement_lag_max_ms: number;
  readonly gas_per_trade: number;
  readonly settlement_steady_trades: number;
  readonly settlement_steady_offered_per_s: number;
  readonly settlement_rounds: number;
  readonly settlement_burst_trades: number;
  readonly settlement_failed_rounds: number;
  readonly settlement_reconciliation_drifted: number;
  readonly chain_deposits_per_s_small: number;
  readonly target: { readonly settlement_lag_p99_ms: number; readonly met: boolean };
}

const TARGET_LAG_P99_MS = 5_000;

export async function settlementBench(quick: boolean): Promise<SettlementBenchResult> {
  const P = quick ? { buyers: 10, steadyS: 8, burst: 500 } : { buyers: 20, steadyS: 30, burst: 3_000 };
  const redisUrl = process.env.REDIS_URL;
  if (redisUrl === undefined || redisUrl === '')
    throw new Error('REDIS_URL is not set: run through `npm run bench:funding` (scripts/services.ts)');
  const { name, url: dbUrl } = await createBenchDatabase('bench:funding', 'exchange_bench_settle');
  const anvil = await startAnvil();
  const [platform, holder, minter] = anvil.accounts;
  const faucet = createChainClient({
    rpcUrl: anvil.rpcUrl,
    chainId: anvil.chainId,
    privateKey: minter!.privateKey,
  });
  const provider = new JsonRpcProvider(anvil.rpcUrl, undefined, { cacheTimeout: -1, pollingInterval: 50 });
  const exchange = await startExchange(
    loadConfig({
      ...process.env,
      NODE_ENV: 'test',
      LOG_LEVEL: 'warn',
      HOST: '127.0.0.1',
      PORT: '0',
      DATABASE_URL: dbUrl.toString(),
      REDIS_URL: redisUrl,
      CHAIN_RPC_URL: anvil.rpcUrl,
      CHAIN_ID: String(anvil.chainId),
      CHAIN_PRIVATE_KEY: platform!.privateKey,
      CHAIN_SYNC_INTERVAL_MS: '0',
      SETTLEMENT_INTERVAL_MS: '250',
      RATE_ORDERS_PER_S: '100000',
      RATE_ORDERS_BURST: '100000',
      DEPLOY_BACKOFF_MS: '200',
    }),
    pino({ level: 'warn' }, pino.destination(2)),
  );
  const pool = await createPool(dbUrl.toString(), { maximumPoolSize: 2 });
  const base = `http://127.0.0.1:${exchange.port}/api/v1`;
  let miner: NodeJS.Timeout | undefined;
  const call = async (method: string, path: string, token: string, body?: unknown) => {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = (await response.json()) as Record<string, unknown>;
    if (response.status >= 300)
      throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(json)}`);
    return json;
  };
  /** Polls `check` every 50 ms until it holds (a deadline bounds it). */
  const until = async (check: () => Promise<boolean>, what: string, timeoutMs = 120_000) => {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`bench: timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  const Count = z.object({ n: z.string() });
  const unsettled = async () =>
    Number(
      (
        await pool.one(sql.type(Count)`
          SELECT count(*)::text AS n FROM settlement_rounds WHERE status IN ('pending', 'submitted')`)
      ).n,
    );
  const settledTrades = async () =>
    Number(
      (
        await pool.one(sql.type(Count)`
          SELECT COALESCE(sum(trades), 0)::text AS n FROM settlement_rounds WHERE status = 'settled'`)
      ).n,
    );
  try {
    const auth = exchange.auth;
    const admin = await auth.mint('bench-admin', ['admin']);
    const usdc = (await faucet.deployTestToken({ name: 'Test USD Coin', symbol: 'USDC', decimals: 6 }))
      .contractAddress;
    await faucet.mint(usdc, holder!.address, 10n ** 15n);
    await call('POST', '/assets', admin, {
      symbol: 'USDC',
      decimals: 6,
      kind: 'stable',
      contractAddress: usdc,
    });
    const issuerRole = await auth.mint('bench-issuer', ['issuer']);
    const issuer = await auth.mint('bench-issuer', ['trader']);
    const registered = await call('POST', '/markets/register', issuerRole, {
      name: 'Bench Tower',
      assetType: 'real_estate',
      tokenSymbol: 'BTWR',
      tokenName: 'Bench Tower Token',
      totalSupply: '1000000',
      quoteAsset: 'USDC',
      priceDecimals: 2,
      qtyDecimals: 3,
      tickSize: '0.01',
      lotSize: '0.001',
      minQty: '0.001',
      makerFeeBps: 10,
      takerFeeBps: 20,
      assetDetails: { valuation: '1000000', currency: 'USD', location: 'Bench' },
    });
    const marketId = String(registered.id);
    const buyers = await Promise.all(
      Array.from({ length: P.buyers }, (_, i) => auth.mint(`bench-buyer-${i}`, ['trader'])),
    );
    const chain = exchange.chainFunding;
    const addresses: string[] = [];
    for (let i = 0; i < P.buyers; i++) addresses.push((await chain.address(`bench-buyer-${i}`)).address);
    await chain.address('bench-issuer');
    await call('POST', `/markets/${marketId}/approve`, admin, { decision: 'approved' });
    await until(
      async () => (await call('GET', `/markets/${marketId}`, admin)).status === 'active',
      'the market active',
    );
    for (const user of ['bench-issuer', ...addresses.map((_, i) => `bench-buyer-${i}`)])
      await call('POST', '/admin/compliance', admin, {
        userId: user,
        asset: 'BTWR',
        kycStatus: 'approved',
        allowlisted: true,
        accredited: false,
      });

    // The buyers' USDC: one chain deposit each.
    progress(`bench:funding settlement: funding ${P.buyers} buyers by chain deposits`);
    const abi = (await loadArtifact('TestUsdc')).abi as JsonFragment[];
    const outside = new Contract(
      usdc,
      new Interface(abi),
      new NonceManager(new Wallet(holder!.privateKey, provider)),
    );
    let last = '';
    for (const address of addresses)
      last = ((await outside.getFunction('transfer')(address, 10n ** 12n)) as { hash: string }).hash;
    while ((await provider.getTransactionReceipt(last)) === null) await new Promise((r) => setTimeout(r, 20));
    await provider.send('anvil_mine', ['0x1']);
    const syncStart = performance.now();
    let credited = 0;
    for (let runs = 0; credited < P.buyers; runs++) {
      credited += (await chain.sync()).credited;
      if (runs > 100) throw new Error(`only ${credited} deposits credited`);
    }
    const depositsPerS = P.buyers / ((performance.now() - syncStart) / 1000);

    miner = setInterval(() => {
      provider.send('anvil_mine', ['0x1']).catch(() => undefined);
    }, 1_000);
    await call('POST', '/orders', issuer, {
      market: 'BTWR-USDC',
      side: 'sell',
      type: 'limit',
      price: '10.00',
      qty: '900000.000',
    });
    const buy = (i: number) =>
      call('POST', '/orders', buyers[i % buyers.length]!, {
        market: 'BTWR-USDC',
        side: 'buy',
        type: 'limit',
        price: '10.00',
        qty: '0.100',
      });
    // Warm-up: one trade per buyer (their approvals of the Settlement contract), settled.
    progress('bench:funding settlement: warm-up trades');
    for (let i = 0; i < P.buyers; i++) await buy(i);
    await until(
      async () => (await unsettled()) === 0 && (await settledTrades()) >= P.buyers,
      'the warm-up settled',
    );

    // (a) steady 100 trades/s
    progress(`bench:funding settlement: 100 trades/s for ${P.steadyS} s`);
    const steadyFrom = Date.now();
    const total = P.steadyS * 100;
    const t0 = performance.now();
    const inFlight: Promise<unknown>[] = [];
    for (let i = 0; i < total; i++) {
      const due = t0 + i * 10;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      inFlight.push(buy(i));
    }
    await Promise.all(inFlight);
    const offered = total / ((performance.now() - t0) / 1000);
    await until(async () => (await unsettled()) === 0, 'the steady trades settled');
    const lags = await exchange.chainSettlement.settlementStore.lags(steadyFrom);
    const Gas = z.object({ gas: z.string(), trades: z.string(), rounds: z.string() });
    const gas = await pool.one(sql.type(Gas)`
      SELECT COALESCE(sum(gas_used), 0)::text AS gas, COALESCE(sum(trades), 0)::text AS trades,
        count(*)::text AS rounds
      FROM settlement_rounds WHERE status = 'settled' AND gas_used IS NOT NULL
        AND created_at >= to_timestamp(${steadyFrom / 1000})`);
    const lagMs = lags.map((l) => l.settledAt - l.ts);

    // (b) burst
    progress(`bench:funding settlement: a burst of ${P.burst} trades`);
    const burstSettledBefore = await settledTrades();
    const burstStart = Date.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < P.burst) await buy(next++);
      }),
    );
    await until(async () => (await unsettled()) === 0, 'the burst settled', 300_000);
    const Last = z.object({ last: z.string() });
    const lastSettled = Number(
      (
        await pool.one(sql.type(Last)`
          SELECT (extract(epoch FROM max(settled_at)) * 1000)::int8::text AS last FROM settlement_rounds`)
      ).last,
    );
    const burstTrades = (await settledTrades()) - burstSettledBefore;
    const Failed = z.object({ n: z.string() });
    const failed = Number(
      (
        await pool.one(
          sql.type(Failed)`SELECT count(*)::text AS n FROM settlement_rounds WHERE status = 'failed'`,
        )
      ).n,
    );
    const report = await exchange.chainSettlement
      .settlement!.run()
      .then(() => call('GET', '/admin/reconciliation', admin));
    const p99 = nearestRank(lagMs, 99);
    return {
      settled_trades_per_s: round(burstTrades / ((lastSettled - burstStart) / 1000)),
      settlement_lag_p50_ms: round(nearestRank(lagMs, 50)),
      settlement_lag_p99_ms: round(p99),
      settlement_lag_max_ms: round(Math.max(...lagMs)),
      gas_per_trade: round(Number(gas.gas) / Math.max(1, Number(gas.trades))),
      settlement_steady_trades: total,
      settlement_steady_offered_per_s: round(offered, 1),
      settlement_rounds: Number(gas.rounds),
      settlement_burst_trades: burstTrades,
      settlement_failed_rounds: failed,
      settlement_reconciliation_drifted: Number(report.drifted),
      chain_deposits_per_s_small: round(depositsPerS),
      target: { settlement_lag_p99_ms: TARGET_LAG_P99_MS, met: p99 <= TARGET_LAG_P99_MS },
    };
  } finally {
    if (miner !== undefined) clearInterval(miner);
    await pool.end();
    await exchange.close();
    faucet.close();
    provider.destroy();
    await anvil.stop();
    await withBenchAdmin('bench:funding', (admin) =>
      admin.query(sql.unsafe`DROP DATABASE IF EXISTS ${sql.identifier([name])} WITH (FORCE)`),
    );
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await settlementBench(process.argv.includes('--quick'))));
}

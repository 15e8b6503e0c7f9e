/**
 * Chain deposits benchmark (issue 16 §4): `npm run bench:chain`. A real anvil, the compiled test
 * USDC, the whole exchange in this process on a fresh database. N deposit addresses are assigned
 * and paid one transfer each from an outside wallet (anvil mines each at once; not timed), then the
 * confirmation block is mined and sync-blockchain runs (ChainDeposits.sync, as its job does) until
 * every deposit is credited: chain_deposits_per_s is N over that window (read logs, record them
 * final, journal each credit, note it). Load average and CPU steal are recorded. Progress on
 * stderr; the last stdout line is one JSON object (bench/RESULTS.md).
 */
import { cpus } from 'node:os';
import { Contract, Interface, JsonRpcProvider, NonceManager, Wallet, type JsonFragment } from 'ethers';
import { pino } from 'pino';
import { sql } from 'slonik';
import { startAnvil } from '../src/chain/anvil.ts';
import { loadArtifact } from '../src/chain/artifact.ts';
import { createChainClient } from '../src/chain/client.ts';
import { startExchange } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { createBenchDatabase, withBenchAdmin } from './lib/database.ts';
import { loadAvg, machineCpu, machineDelta } from './lifecycle/common.ts';
import { progress, round } from './lib/stats.ts';

const N = process.argv.includes('--quick') ? 100 : 1_000;
const started = Date.now();
const loadBefore = loadAvg();
const cpuAtStart = machineCpu();
const { name, url: dbUrl } = await createBenchDatabase('bench:chain', 'exchange_bench_chain');
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
    REDIS_URL: undefined,
    CHAIN_RPC_URL: anvil.rpcUrl,
    CHAIN_ID: String(anvil.chainId),
    CHAIN_PRIVATE_KEY: platform!.privateKey,
    CHAIN_SYNC_PAGE_BLOCKS: '5000',
  }),
  pino({ level: 'warn' }, pino.destination(2)),
);
try {
  const usdc = (await faucet.deployTestToken({ name: 'Test USD Coin', symbol: 'USDC', decimals: 6 }))
    .contractAddress;
  await faucet.mint(usdc, holder!.address, BigInt(N) * 1_000_000n);
  const bound = await exchange.admin.createAsset({
    symbol: 'USDC',
    decimals: 6,
    kind: 'stable',
    contractAddress: usdc,
  });
  if (!bound.ok) throw new Error(bound.message);
  const chain = exchange.chainFunding;
  const addresses: string[] = [];
  for (let i = 0; i < N; i++) addresses.push((await chain.address(`bench-${i}`)).address);
  progress(`bench:chain: ${N} deposit addresses assigned; paying them`);
  const abi = (await loadArtifact('TestUsdc')).abi as JsonFragment[];
  const outside = new Contract(
    usdc,
    new Interface(abi),
    new NonceManager(new Wallet(holder!.privateKey, provider)),
  );
  let last = '';
  for (const address of addresses)
    last = ((await outside.getFunction('transfer')(address, 1_000_000n)) as { hash: string }).hash;
  while ((await provider.getTransactionReceipt(last)) === null) await new Promise((r) => setTimeout(r, 20));
  await provider.send('anvil_mine', ['0x1']);
  progress('bench:chain: paid and confirmed; syncing');
  const cpuBefore = machineCpu();
  const t0 = performance.now();
  let credited = 0;
  let runs = 0;
  while (credited < N) {
    credited += (await chain.sync()).credited;
    runs++;
    if (runs > 1_000) throw new Error(`only ${credited} of ${N} credited`);
  }
  const seconds = (performance.now() - t0) / 1000;
  const machine = machineDelta(cpuBefore, machineCpu());
  const totals = exchange.ledger.totals('USDC');
  console.log(
    JSON.stringify({
      chain_deposits_per_s: round(N / seconds),
      chain_deposits: N,
      sync_runs: runs,
      credited_once: totals.netDeposits === BigInt(N) * 1_000_000n,
      machine_busy_pct: round(machine.busyPct, 1),
      steal_pct: round(machine.stealPct, 2),
      steal_pct_whole_run: round(machineDelta(cpuAtStart, machineCpu()).stealPct, 2),
      node: process.version,
      cpus: cpus().length,
      load_avg: { before: loadBefore, after: loadAvg() },
      runtime_s: Math.round((Date.now() - started) / 1000),
    }),
  );
} finally {
  await exchange.close();
  faucet.close();
  provider.destroy();
  await anvil.stop();
  await withBenchAdmin('bench:chain', (pool) =>
    pool.query(sql.unsafe`DROP DATABASE IF EXISTS ${sql.identifier([name])} WITH (FORCE)`),
  );
}

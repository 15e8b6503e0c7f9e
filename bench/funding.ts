/**
 * Funding benchmark (issue 15 §3): `npm run bench:funding` (scripts/services.ts provides Postgres
 * and Redis). The exchange runs alone in a child process (bench/funding/server.ts); this process
 * runs the loopback stand-ins of Paystack, PayFast and Ozow and drives it:
 *
 *  (a) deposits: N deposits opened (POST /deposits, round robin over the three providers, not
 *      timed), each paid at its stand-in, then every notification posted with C in flight. Each
 *      notification is timed from its POST to the exchange's 200 `processed` answer, which comes
 *      after the signature check, the confirmation with the provider's API (a loopback call) and
 *      the commit of the journaled credit: notification → credited. deposits_per_s is N over the
 *      window; deposit_p99_ms the nearest-rank p99. Every deposit must be credited once.
 *  (b) withdrawals: W withdrawals requested and approved; timed from the first approval to the
 *      last `confirmed` (Paystack transfer through the process-withdrawal job), as a rate per minute.
 *  (c) settlement on chain (issue 16, bench/chainSettlement.ts, after the exchange above stopped):
 *      an exchange with anvil, trades at 100/s settling in DvP rounds: settlement_lag_p50/p99_ms,
 *      gas_per_trade, and settled_trades_per_s for a burst.
 *
 * Load average and CPU steal (/proc/stat) are recorded. Progress on stderr; the last stdout line is
 * one JSON object. See bench/RESULTS.md (bench:funding).
 */
import { fork } from 'node:child_process';
import { cpus } from 'node:os';
import { parseCommandLine } from '../scripts/lib/cli.ts';
import {
  standInEnv,
  startPaymentsStandIn,
  type PaymentsStandInOptions,
} from '../scripts/payments/standIn.ts';
import { Authenticator } from '../src/transport/auth.ts';
import { loadAvg, machineCpu, machineDelta, nearestRank, processCpuMicros } from './lifecycle/common.ts';
import { progress, round } from './lib/stats.ts';
import { settlementBench } from './chainSettlement.ts';

const { values: flags } = parseCommandLine({
  name: 'npm run bench:funding --',
  usage: `usage: npm run bench:funding -- [--quick]

Fiat deposit notifications per second (signature, provider confirmation, journaled credit) and
their p99 notification → credited, then withdrawals paid per minute, against loopback stand-ins;
then settlement on anvil: lag p50/p99 at 100 trades/s, gas per trade, settled trades/s (a burst).
Progress on stderr; the last stdout line is one JSON object (bench/RESULTS.md).

  --quick       fewer deposits and withdrawals (a smoke run, not a figure)
  -h, --help    this text`,
  options: { quick: { type: 'boolean', default: false } },
});
const P = flags.quick
  ? { deposits: 300, inFlight: 32, withdrawals: 20 }
  : { deposits: 3_000, inFlight: 64, withdrawals: 200 };
const TARGET_DEPOSITS_PER_S = 500;
const JWT_SECRET = 'development-only-jwt-secret-change-me';

const secrets: PaymentsStandInOptions = {
  paystack: { secretKey: 'sk_bench_secret', webhookUrl: '' },
  payfast: { merchantId: '10000100', merchantKey: 'benchmerchantkey', passphrase: 'bench-passphrase' },
  ozow: { siteCode: 'BEN-CH-001', privateKey: 'bench-ozow-private', apiKey: 'bench-ozow-api' },
};

const started = Date.now();
const loadBefore = loadAvg();
const cpuAtStart = machineCpu();
const standIn = await startPaymentsStandIn(secrets);
const child = fork(new URL('./funding/server.ts', import.meta.url), [], {
  // BENCH_SERVER_FLAGS (development aid): more Node flags for the exchange, e.g. --cpu-prof.
  execArgv: ['--import', 'tsx', ...(process.env.BENCH_SERVER_FLAGS ?? '').split(' ').filter((f) => f !== '')],
  // Every notification comes from loopback: the per-address webhook rate limit is lifted.
  env: {
    ...process.env,
    ...standInEnv(standIn, secrets),
    FUNDING_WEBHOOK_RATE_PER_S: '1000000',
    FUNDING_WEBHOOK_RATE_BURST: '1000000',
  },
  stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
});
const ready = await new Promise<{ port: number; pid: number }>((resolve, reject) => {
  child.once('message', (m) => resolve(m as { port: number; pid: number }));
  child.once('exit', (code) => reject(new Error(`the exchange exited (${String(code)})`)));
});
const base = `http://127.0.0.1:${ready.port}/api/v1`;
standIn.paystackWebhookUrl = `${base}/webhooks/paystack`;
const auth = new Authenticator(JWT_SECRET);
const admin = await auth.mint('bench-admin', ['admin']);

async function call(method: string, path: string, token: string, body?: unknown) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = (await response.json()) as Record<string, unknown>;
  if (response.status >= 300)
    throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(json)}`);
  return json;
}

/** Runs `work` over `items` with at most `width` in flight. */
async function pool<T>(items: readonly T[], width: number, work: (item: T) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}

try {
  for (const symbol of ['NGN', 'ZAR'])
    await call('POST', '/assets', admin, { symbol, decimals: 2, kind: 'fiat' });
  const providers = ['paystack', 'payfast', 'ozow'] as const;
  const users = await Promise.all(
    Array.from({ length: 16 }, (_, i) => auth.mint(`bench-user-${i}`, ['trader'])),
  );

  // (a) deposits
  progress(`opening ${P.deposits} deposits`);
  const references: string[] = [];
  await pool(
    Array.from({ length: P.deposits }, (_, i) => i),
    16,
    async (i) => {
      const provider = providers[i % 3]!;
      const created = await call('POST', '/deposits', users[i % users.length]!, {
        asset: provider === 'paystack' ? 'NGN' : 'ZAR',
        amount: '10.00',
        provider,
      });
      const reference = created.reference as string;
      // The customer pays: PayFast's form post and Ozow's redirect open their sessions.
      if (provider === 'payfast') {
        await fetch(created.redirectUrl as string, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams(created.formFields as Record<string, string>).toString(),
        });
      } else if (provider === 'ozow') await fetch(created.redirectUrl as string);
      references.push(reference);
    },
  );
  const notifications = references.map((reference) => standIn.prepare(reference));
  progress(`posting ${notifications.length} notifications, ${P.inFlight} in flight`);
  const latencies: number[] = [];
  const outcomes: Record<string, number> = {};
  const cpuBefore = processCpuMicros(ready.pid);
  const machineBefore = machineCpu();
  const driverBefore = process.cpuUsage();
  const windowStart = performance.now();
  await pool(notifications, P.inFlight, async (notification) => {
    const t0 = performance.now();
    const answer = await standIn.deliver(notification);
    latencies.push(performance.now() - t0);
    // PayFast is answered a bare 200 OK; the credits are counted from the balances below.
    const status =
      answer.status === 200
        ? answer.body.includes('processed') || answer.body === 'OK'
          ? 'processed'
          : 'other'
        : `${answer.status}`;
    outcomes[status] = (outcomes[status] ?? 0) + 1;
  });
  const windowS = (performance.now() - windowStart) / 1000;
  const depositCpuUs = (processCpuMicros(ready.pid) - cpuBefore) / notifications.length;
  const depositMachine = machineDelta(machineBefore, machineCpu());
  const driverCpu = process.cpuUsage(driverBefore);
  const driverCpuUs = (driverCpu.user + driverCpu.system) / notifications.length;
  // Every deposit credited once: the users' balances add up to N × 10.00.
  let creditedMinor = 0n;
  for (const user of users) {
    const balances = (await (
      await fetch(`${base}/balances`, { headers: { authorization: `Bearer ${user}` } })
    ).json()) as {
      available: string;
    }[];
    for (const b of balances) creditedMinor += BigInt(b.available.replace('.', ''));
  }
  const depositsPerS = notifications.length / windowS;

  // (b) withdrawals
  progress(`requesting and approving ${P.withdrawals} withdrawals`);
  const withdrawer = await auth.mint('bench-withdrawer', ['trader']);
  await call('POST', '/admin/credit', admin, {
    userId: 'bench-withdrawer',
    asset: 'NGN',
    amount: '1000000.00',
  });
  const ids: string[] = [];
  for (let i = 0; i < P.withdrawals; i++) {
    const w = await call('POST', '/withdrawals', withdrawer, {
      asset: 'NGN',
      amount: '1.00',
      destination: `RCP_bench${i}`,
    });
    ids.push(w.id as string);
  }
  const approveStart = performance.now();
  await pool(ids, 16, async (id) => {
    await call('POST', `/admin/withdrawals/${id}/approve`, admin, {});
  });
  const deadline = Date.now() + 300_000;
  let confirmed = 0;
  while (confirmed < ids.length && Date.now() < deadline) {
    const listed = (await (
      await fetch(`${base}/admin/withdrawals?status=confirmed&limit=1000`, {
        headers: { authorization: `Bearer ${admin}` },
      })
    ).json()) as unknown[];
    confirmed = listed.length;
    // The polling interval of the watch, bounded by the deadline above.
    if (confirmed < ids.length) await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const withdrawalsS = (performance.now() - approveStart) / 1000;
  const transfers = standIn.transfers.size;

  const fiat = {
    deposits_per_s: round(depositsPerS),
    deposit_p50_ms: round(nearestRank(latencies, 50), 2),
    deposit_p99_ms: round(nearestRank(latencies, 99), 2),
    deposits: notifications.length,
    deposit_outcomes: outcomes,
    deposit_in_flight: P.inFlight,
    deposit_server_cpu_us: round(depositCpuUs),
    deposit_driver_cpu_us: round(driverCpuUs),
    deposit_machine_busy_pct: round(depositMachine.busyPct, 1),
    deposit_steal_pct: round(depositMachine.stealPct, 2),
    deposits_credited_once: creditedMinor === BigInt(notifications.length) * 1000n,
    withdrawals_per_min: round((confirmed / withdrawalsS) * 60),
    withdrawals_confirmed: confirmed,
    withdrawals_requested: ids.length,
    transfers_made: transfers,
    target: { deposits_per_s: TARGET_DEPOSITS_PER_S, met: depositsPerS >= TARGET_DEPOSITS_PER_S },
    steal_pct_whole_run: round(machineDelta(cpuAtStart, machineCpu()).stealPct, 2),
    node: process.version,
    cpus: cpus().length,
    load_avg: { before: loadBefore, after: loadAvg() },
    quick: flags.quick,
  };
  child.send({ type: 'stop' });
  await new Promise((resolve) => child.once('exit', resolve));
  progress('settlement on chain');
  const settlement = await settlementBench(flags.quick);
  const { target: settlementTarget, ...settled } = settlement;
  const result = {
    ...fiat,
    ...settled,
    settlement_target: settlementTarget,
    load_avg: { before: loadBefore, after: loadAvg() },
    steal_pct_whole_run: round(machineDelta(cpuAtStart, machineCpu()).stealPct, 2),
    runtime_s: Math.round((Date.now() - started) / 1000),
  };
  console.log(JSON.stringify(result));
} finally {
  if (child.exitCode === null && child.signalCode === null) {
    child.send({ type: 'stop' });
    await new Promise((resolve) => child.once('exit', resolve));
  }
  await standIn.close();
}

/**
 * Portfolio and analytics route latency for a user with 10,000 fills (issue 18):
 * `npm run bench:portfolio` (scripts/services.ts --test provides Postgres, Redis and the admin URL
 * test databases are made from). A whole exchange on a fresh database: bob rests 10,000 sells of one
 * lot, alice takes them all with one buy (10,000 fills), then each route is called ROUNDS times in
 * sequence. Progress on stderr; the last stdout line is one JSON object.
 */
import { loadavg } from 'node:os';
import { parseCommandLine } from '../scripts/lib/cli.ts';
import { userPositions } from '../src/persistence/portfolioStore.ts';
import { createPool } from 'slonik';
import { runExchange } from '../test/support/exchange.ts';
import { BTC_USDC } from '../test/wire/fixtures.ts';
import { progress, round } from './lib/stats.ts';

parseCommandLine({
  name: 'npm run bench:portfolio --',
  usage: `usage: npm run bench:portfolio

p50/p99 of GET /portfolio, /portfolio/history and /analytics/markets/:id for a user with 10,000
fills, on a whole exchange over HTTP. Progress on stderr; the last stdout line is one JSON object.
No options.`,
  options: {},
});

const FILLS = 10_000;
const ROUNDS = 500;
const CONCURRENCY = 32;
const loadBefore = loadavg()[0]!;

const x = await runExchange({ RATE_ORDERS_PER_S: '1000000', RATE_ORDERS_BURST: '1000000' });
const pool = await createPool(x.database.url, { maximumPoolSize: 2 });
try {
  await x.asset('USDC', 6, 'stable');
  await x.asset('BTC', 8);
  await x.market(BTC_USDC);
  await x.credit('bob', 'BTC', '10');
  await x.credit('alice', 'USDC', '100000000');
  const bob = await x.token('bob', ['trader']);
  const alice = await x.token('alice', ['trader']);

  const started = Date.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < FILLS) {
        const i = next++;
        const r = await x.request('POST', '/api/v1/orders', {
          token: bob,
          body: {
            market: 'BTC-USDC',
            type: 'limit',
            side: 'sell',
            price: (100 + (i % 100) / 100).toFixed(2),
            qty: '0.0001',
          },
        });
        if (r.status !== 201) throw new Error(`resting sell ${i}: ${r.status} ${JSON.stringify(r.body)}`);
        if (i % 2_000 === 0) progress(`resting sells: ${i}`);
      }
    }),
  );
  const take = await x.request('POST', '/api/v1/orders', {
    token: alice,
    body: { market: 'BTC-USDC', type: 'limit', side: 'buy', price: '101.00', qty: '1.0000' },
  });
  if ((take.body as { status?: string }).status !== 'filled')
    throw new Error(`the buy did not fill: ${JSON.stringify(take.body)}`);
  for (;;) {
    const rows = await userPositions(pool, 'alice');
    if (rows[0]?.fills === FILLS) break;
    // Polling the consumer's progress, not a synchronisation of the measurement.
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  progress(`alice has ${FILLS} fills in ${round((Date.now() - started) / 1000, 1)} s`);

  const routes = {
    portfolio: '/api/v1/portfolio?in=USDC',
    portfolio_history: '/api/v1/portfolio/history?in=USDC&interval=1m',
    analytics_market: `/api/v1/analytics/markets/BTC-USDC?interval=1m&from=${started - 60_000}`,
  };
  const results: Record<string, { p50_ms: number; p99_ms: number }> = {};
  for (const [name, path] of Object.entries(routes)) {
    const times: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const t0 = performance.now();
      const r = await x.request('GET', path, { token: alice });
      times.push(performance.now() - t0);
      if (r.status !== 200) throw new Error(`${path}: ${r.status}`);
    }
    times.sort((a, b) => a - b);
    results[name] = {
      p50_ms: round(times[ROUNDS >> 1]!, 2),
      p99_ms: round(times[Math.floor(ROUNDS * 0.99)]!, 2),
    };
    progress(`${name}: p50 ${results[name].p50_ms} ms, p99 ${results[name].p99_ms} ms`);
  }
  console.log(
    JSON.stringify({
      fills: FILLS,
      rounds: ROUNDS,
      ...results,
      load_before: round(loadBefore, 2),
      load_after: round(loadavg()[0]!, 2),
    }),
  );
} finally {
  await pool.end();
  await x.stop();
}

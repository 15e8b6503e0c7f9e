import { createDatabasePool } from '../src/persistence/pool.ts';
import { migrate } from '../src/persistence/migrate.ts';
import { DatabaseOwnedError, Ownership } from '../src/persistence/owner.ts';
import { Projector, resetProjections } from '../src/persistence/projector.ts';
import { TRADES_SERIES } from '../src/persistence/timeSeries.ts';
import { ensureFallbackMonths } from '../src/persistence/monthlyPartitions.ts';
import { helpOnly } from './lib/cli.ts';

/**
 * `npm run rebuild-projections`: empties the relational projections (orders, trades,
 * ledger_postings, balances, market_lifecycle_events, audit_log), resets their cursor and rebuilds
 * them from the whole journal. Last line: a one-line summary.
 */
helpOnly(
  'npm run rebuild-projections --',
  `usage: npm run rebuild-projections

Empties the relational projections (orders, trades, ledger_postings, balances,
market_lifecycle_events, audit_log), resets their cursor and rebuilds them from the whole journal
of DATABASE_URL (npm run sets it). Stop the exchange first. Prints a one-line summary.`,
);
const url = process.env.DATABASE_URL;
if (url === undefined || url === '') {
  console.error(
    'rebuild-projections: DATABASE_URL is not set (run it through `npm run rebuild-projections`)',
  );
  process.exit(2);
}
// Not beside a running exchange, whose projector writes the same rows (src/persistence/owner.ts).
const ownership = await Ownership.acquire(url).catch((error: unknown) => {
  if (!(error instanceof DatabaseOwnedError)) throw error;
  console.error(`rebuild-projections: ${error.message}`);
  process.exit(1);
});
await migrate(url, () => undefined);
const pool = await createDatabasePool(url, 2);
try {
  const started = performance.now();
  await resetProjections(pool);
  const records = await new Projector(pool, { pageSize: 2_000, pageBytes: 2_000_000 }).runOnce();
  // Trades of months without a partition (dropped past retention, or never made) landed in
  // trades_default: each month gets its own (the exchange's housekeeping drops those past retention).
  await ensureFallbackMonths(pool, TRADES_SERIES);
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `rebuild-projections: ${records} journal records projected in ${seconds.toFixed(2)} s ` +
      `(${Math.round(records / Math.max(seconds, 1e-9))} records/s)`,
  );
} finally {
  await pool.end();
  await ownership.release();
}

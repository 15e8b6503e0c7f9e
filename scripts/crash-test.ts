/**
 * The crash test on its own (`npm run crash-test`): three runs of the exchange killed with SIGKILL
 * at random moments under load, restarted, killed again, then checked against the journal (see
 * scripts/crash/harness.ts). Progress goes to stderr; the last line of stdout is one JSON object:
 * {"runs":3,"acked":N,"lost":0,"mismatches":0,...}. Exits 1 when anything was lost or mismatched.
 *
 * Databases are created next to DATABASE_URL's (through its server's `postgres` database, or
 * TEST_DATABASE_ADMIN_URL when set) and dropped afterwards. CRASH_RUNS and CRASH_SEED override.
 */
import { z } from 'zod';
import { runCrashTest } from './crash/harness.ts';
import { helpOnly } from './lib/cli.ts';

helpOnly(
  'npm run crash-test --',
  `usage: npm run crash-test

Runs the exchange under load, kills it with SIGKILL at random moments, restarts it, and checks
every acknowledged order against the journal. Environment: CRASH_RUNS (default 3), CRASH_SEED.
Progress on stderr; the last stdout line is one JSON summary; exit 1 when anything was lost.`,
);

const env = z
  .object({
    DATABASE_URL: z.string().url().optional(),
    TEST_DATABASE_ADMIN_URL: z.string().url().optional(),
    CRASH_RUNS: z.coerce.number().int().min(1).default(3),
    CRASH_SEED: z.coerce.number().int().min(0).optional(),
  })
  .parse(process.env);

let adminUrl = env.TEST_DATABASE_ADMIN_URL;
if (adminUrl === undefined && env.DATABASE_URL !== undefined) {
  const url = new URL(env.DATABASE_URL);
  url.pathname = '/postgres';
  adminUrl = url.toString();
}
if (adminUrl === undefined) {
  console.error('crash-test: DATABASE_URL is not set (run it through `npm run crash-test`, which sets it)');
  process.exit(2);
}

const summary = await runCrashTest({
  adminUrl,
  runs: env.CRASH_RUNS,
  seed: env.CRASH_SEED,
  log: (message) => {
    console.error(message);
  },
});
for (const problem of summary.problems) console.error(`problem: ${problem}`);
const { runs, acked, lost, mismatches, journaled } = summary;
console.log(
  JSON.stringify({ runs, acked, lost, mismatches, journaled, kill_points_ms: summary.killPointsMs }),
);
process.exitCode = lost === 0 && mismatches === 0 ? 0 : 1;

import { describe, expect, it } from 'vitest';
import { runCrashTest } from '../../scripts/crash/harness.ts';

/**
 * The crash test (issue 5 §5, DESIGN.md principle 4): three runs, each on a fresh database, of the
 * exchange (scripts/crash-child.ts, a separate process) under sustained load, killed with SIGKILL at
 * a random moment, restarted on the same database and killed again; then every acknowledged command
 * must be in the journal with the same outcome, the recovered exchange must equal the journal
 * re-executed, and the ledger and its locks must be consistent (scripts/crash/harness.ts).
 * `npm run crash-test` runs the same on its own.
 */

describe('crash test', () => {
  it('loses nothing acknowledged across kill -9 at random points, and recovers exactly the journal', async () => {
    const adminUrl = process.env.TEST_DATABASE_ADMIN_URL;
    if (adminUrl === undefined || adminUrl === '') {
      throw new Error('TEST_DATABASE_ADMIN_URL is not set: run it through `npm test`');
    }
    const summary = await runCrashTest({ adminUrl, runs: 3 });
    const context = `seed ${summary.seed}, kill points ${summary.killPointsMs.join(', ')} ms`;
    expect(summary.problems, context).toEqual([]);
    expect(summary).toMatchObject({ runs: 3, lost: 0, mismatches: 0 });
    expect(summary.acked).toBeGreaterThan(0);
  }, 120_000);
});

import pg from 'pg';

/*
 * Halting a market of a running exchange from outside, for the tests of the `market_status` push
 * (issue 20): the journal refuses the market's records (a trigger raises), so its next commit
 * fails and the supervisor halts it; the rebuild that would resume it waits on market_snapshots,
 * locked by this session, for the supervisor's rebuild bound (5 s) before it rebuilds from
 * memory. `release()` lifts both; the market resumes (at once, or when that bound passes).
 */

export interface MarketHalt {
  release(): Promise<void>;
}

export async function refuseCommits(databaseUrl: string, marketId: string): Promise<MarketHalt> {
  const admin = new pg.Client({ connectionString: databaseUrl });
  const locker = new pg.Client({ connectionString: databaseUrl });
  await Promise.all([admin.connect(), locker.connect()]);
  const literal = `'${marketId.replaceAll("'", "''")}'`;
  await admin.query(`
    CREATE FUNCTION test_refuse_journal() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.market_id = ${literal} THEN RAISE EXCEPTION 'test: the journal refuses this market'; END IF;
      RETURN NEW;
    END $$`);
  await admin.query(`CREATE TRIGGER test_refuse_journal BEFORE INSERT ON journal
    FOR EACH ROW EXECUTE FUNCTION test_refuse_journal()`);
  await locker.query('BEGIN');
  await locker.query('LOCK TABLE market_snapshots IN ACCESS EXCLUSIVE MODE');
  return {
    async release() {
      await admin.query('DROP TRIGGER test_refuse_journal ON journal');
      await admin.query('DROP FUNCTION test_refuse_journal()');
      await locker.query('ROLLBACK');
      await Promise.all([admin.end(), locker.end()]);
    },
  };
}

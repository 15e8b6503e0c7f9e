import pg from 'pg';
import { OWNER_LOCK_KEY } from '../../persistence/owner.ts';

/** A connection holding the cluster's shared advisory lock: ROLE=all (exclusive) cannot start. */
export async function holdClusterLock(databaseUrl: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  const locked = await client.query<{ locked: boolean }>(
    'SELECT pg_try_advisory_lock_shared($1, $2) AS locked',
    [...OWNER_LOCK_KEY],
  );
  if (locked.rows[0]?.locked !== true) {
    await client.end();
    throw new Error('a ROLE=all exchange owns this database: cluster roles cannot run beside it');
  }
  client.on('error', () => undefined);
  return client;
}

import { createPool, type DatabasePool } from 'slonik';

/**
 * The exchange's Postgres pool. Money never travels as `numeric` here: amounts are int8 written
 * from bigint and read back as text → bigint, since slonik's default numeric parser gives a float.
 */
export async function createDatabasePool(databaseUrl: string, maximumPoolSize = 10): Promise<DatabasePool> {
  return createPool(databaseUrl, { maximumPoolSize });
}

import { createPool, type DatabasePool } from 'slonik';

/**
 * The exchange's Postgres pool. Money never travels as `numeric` here: amounts are int8 written
 * from bigint and read back as text → bigint, since slonik's default numeric parser gives a float.
 *
 * No reset on release: slonik's default runs `DISCARD ALL` each time a connection goes back to the
 * pool, a round trip per query or transaction (about 40–120 µs on loopback, measured), and the
 * exchange keeps no session state (no SET, LISTEN, temporary tables or session advisory locks; its
 * advisory locks are transaction-scoped). It also made a committed transaction report a failure
 * when the backend was terminated between COMMIT and the reset, an unhandled rejection in the
 * outage test.
 */
export async function createDatabasePool(
  databaseUrl: string,
  maximumPoolSize = 10,
  /** Postgres ends a session idle inside a transaction this long (slonik's default: 60 s). */
  idleInTransactionSessionTimeout?: number,
): Promise<DatabasePool> {
  return createPool(databaseUrl, {
    maximumPoolSize,
    resetConnection: async () => {},
    ...(idleInTransactionSessionTimeout === undefined ? {} : { idleInTransactionSessionTimeout }),
  });
}

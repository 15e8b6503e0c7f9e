import { fileURLToPath } from 'node:url';
import { runner } from 'node-pg-migrate';

const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations', import.meta.url));

/**
 * Applies every pending migration (SQL files in ./migrations, `-- Up Migration` / `-- Down
 * Migration`), under node-pg-migrate's advisory lock so concurrent starts do not race.
 */
export async function migrate(databaseUrl: string, log: (message: string) => void = () => undefined) {
  const applied = await runner({
    databaseUrl,
    dir: MIGRATIONS_DIR,
    direction: 'up',
    migrationsTable: 'schema_migrations',
    checkOrder: true,
    log,
  });
  return applied.map((m) => m.name);
}

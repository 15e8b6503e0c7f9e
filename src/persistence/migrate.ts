import path from 'node:path';
import { runner } from 'node-pg-migrate';
import { REPO_ROOT } from '../repoRoot.ts';

/** From the repository root: the built exchange (dist/src/main.js) runs these too. */
const MIGRATIONS_DIR = path.join(REPO_ROOT, 'src', 'persistence', 'migrations');

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
    // Cluster roles start together: the later ones wait for the first one's migrations.
    advisoryLockMode: 'wait',
    log,
  });
  return applied.map((m) => m.name);
}

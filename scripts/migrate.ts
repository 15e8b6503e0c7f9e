import { migrate } from '../src/persistence/migrate.ts';
import { helpOnly } from './lib/cli.ts';

helpOnly(
  'npm run migrate --',
  `usage: npm run migrate

Applies the pending database migrations (src/persistence/migrations) to DATABASE_URL, which
npm run sets (the same Postgres npm start uses). The exchange also migrates at every start.`,
);
const url = process.env.DATABASE_URL;
if (url === undefined || url === '') {
  console.error('migrate: DATABASE_URL is not set (run it through `npm run migrate`, which sets it)');
  process.exit(2);
}
const applied = await migrate(url, () => undefined);
console.log(applied.length === 0 ? 'migrate: up to date' : `migrate: applied ${applied.join(', ')}`);

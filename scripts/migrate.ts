import { migrate } from '../src/persistence/migrate.ts';

const url = process.env.DATABASE_URL;
if (url === undefined || url === '') {
  console.error('migrate: DATABASE_URL is not set (run it through `npm run migrate`, which sets it)');
  process.exit(2);
}
const applied = await migrate(url, () => undefined);
console.log(applied.length === 0 ? 'migrate: up to date' : `migrate: applied ${applied.join(', ')}`);

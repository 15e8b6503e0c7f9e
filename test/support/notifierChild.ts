/**
 * A notifier in a process of its own (test/integration/notifierKill.test.ts kills it with SIGKILL
 * mid-stream): one journal record per page, a line `{"cursor":N}` on stdout after each commit.
 */
import { createPool } from 'slonik';
import { DurableConsumerRunner } from '../../src/persistence/durableConsumers.ts';
import { Notifier } from '../../src/notifications/notifier.ts';
import { Templates } from '../../src/notifications/templates.ts';
import { TEST_MAPPING } from './notifierContext.ts';

const url = process.argv[2];
if (url === undefined) throw new Error('usage: notifierChild.ts DATABASE_URL');
const pool = await createPool(url, { maximumPoolSize: 2 });
const notifier = new Notifier({
  templates: new Templates(),
  context: TEST_MAPPING,
});
const runner = new DurableConsumerRunner(
  pool,
  {
    name: notifier.name,
    apply: (tx, page) => notifier.apply(tx, page),
    committed: (page) => {
      notifier.committed();
      process.stdout.write(`${JSON.stringify({ cursor: page.to })}\n`);
    },
  },
  { pageSize: 1 },
);
for (;;) {
  if ((await runner.runOnce()) === 0) break;
}
process.stdout.write(`${JSON.stringify({ done: true })}\n`);
await pool.end();

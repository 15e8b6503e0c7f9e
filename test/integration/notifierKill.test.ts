import { spawn } from 'node:child_process';
import path from 'node:path';
import { createPool, sql, type DatabasePool } from 'slonik';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Notifier, NOTIFIER_CURSOR } from '../../src/notifications/notifier.ts';
import { Templates } from '../../src/notifications/templates.ts';
import { DurableConsumerRunner } from '../../src/persistence/durableConsumers.ts';
import { decodeBatch } from '../../src/persistence/journalCodec.ts';
import { foldBatch } from '../../src/events/fold.ts';
import { Projector } from '../../src/persistence/projector.ts';
import { useTestDatabase } from '../support/database.ts';
import { openDurableExchange } from '../support/durable.ts';
import { eventually } from '../support/eventually.ts';
import { TEST_MAPPING } from '../support/notifierContext.ts';
import { BTC_USDC, expectOk, lifecycle, limit, PATH_TO } from '../support/markets.ts';

/**
 * The notifier killed with SIGKILL mid-stream (a child process, one journal record per
 * transaction) and run again: every notification the journal calls for exists exactly once —
 * none lost, none repeated — because its rows and its cursor commit in one transaction.
 */

const database = useTestDatabase('notifier_kill');
let pool: DatabasePool;

beforeAll(async () => {
  pool = await createPool(database.get().url, { maximumPoolSize: 4 });
});

afterAll(async () => {
  await pool.end();
});

const Row = z.object({ user_id: z.string(), source: z.string() });

/** What the journal calls for: two order_filled per fill, a market_lifecycle per transition and holder. */
async function expectedRows(holders: readonly string[]): Promise<string[]> {
  const records = await pool.any(
    sql.type(z.object({ global_seq: z.string(), record: z.instanceof(Buffer) }))`
      SELECT global_seq::text AS global_seq, record FROM journal ORDER BY global_seq`,
  );
  const out: string[] = [];
  for (const { global_seq, record } of records) {
    for (const event of foldBatch(decodeBatch(record))) {
      if (event.type === 'fill') {
        out.push(`${event.fill.takerUserId}|j:${global_seq}:fill:${event.entry}:${event.n}:taker`);
        out.push(`${event.fill.makerUserId}|j:${global_seq}:fill:${event.entry}:${event.n}:maker`);
      }
      if (event.type === 'lifecycle.transition') {
        for (const user of holders) out.push(`${user}|j:${global_seq}:lifecycle:${event.entry}`);
      }
    }
  }
  return out.sort();
}

describe('the notifier under kill -9', () => {
  it('loses and repeats no notification when killed mid-stream and run again', async () => {
    const { supervisor, writer } = await openDurableExchange(pool, [BTC_USDC]);
    let ts = 1_763_800_000_000;
    const users = ['ann', 'bob', 'cat', 'dan'];
    for (const user of users) {
      expectOk(await supervisor.credit(user, 'BTC', 100n * 10n ** 8n, ts++));
      expectOk(await supervisor.credit(user, 'USDC', 10_000_000n * 10n ** 6n, ts++));
    }
    for (const type of PATH_TO.active)
      expectOk(await supervisor.submit(BTC_USDC.symbol, lifecycle(type), ts++));
    for (let i = 0; i < 150; i++) {
      const seller = users[i % 4]!;
      const buyer = users[(i + 1) % 4]!;
      expectOk(await supervisor.submit(BTC_USDC.symbol, limit(seller, 'sell', 100_00 + (i % 7), 3), ts++));
      expectOk(await supervisor.submit(BTC_USDC.symbol, limit(buyer, 'buy', 100_00 + (i % 7), 3), ts++));
    }
    await supervisor.idle();
    await writer.close();
    // Holders come from the relational projection: it is caught up before the notifier runs.
    const projector = new Projector(pool);
    while ((await projector.runOnce()) > 0);
    const last = Number(
      await pool.oneFirst(
        sql.type(z.object({ m: z.string() }))`SELECT max(global_seq)::text AS m FROM journal`,
      ),
    );

    const child = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(import.meta.dirname, '../support/notifierChild.ts'), database.get().url],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let seen = 0;
    let stderr = '';
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => (stderr += chunk));
    let buffered = '';
    child.stdout.on('data', (chunk: string) => {
      buffered += chunk;
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) {
        const parsed = JSON.parse(line) as { cursor?: number };
        if (parsed.cursor !== undefined) seen = parsed.cursor;
      }
      // Mid-stream: a third of the way in, whatever the child is doing at that instant.
      if (seen >= last / 3 && child.exitCode === null && !child.killed) child.kill('SIGKILL');
    });
    const exit = new Promise<NodeJS.Signals | null>((resolve) =>
      child.on('exit', (_code, signal) => resolve(signal)),
    );
    expect(await exit, stderr).toBe('SIGKILL');
    const runner = new DurableConsumerRunner(
      pool,
      new Notifier({ templates: new Templates(), context: TEST_MAPPING }),
    );
    const killedAt = await runner.cursor();
    expect(killedAt).toBeGreaterThanOrEqual(Math.floor(last / 3));
    expect(killedAt).toBeLessThan(last);
    const before = await pool.oneFirst(
      sql.type(z.object({ n: z.number() }))`SELECT count(*)::int4 AS n FROM notifications`,
    );
    expect(before).toBeGreaterThan(0);

    // Run again (as a restart would) to the end of the journal.
    await eventually(async () => (await runner.runOnce()) === 0 && (await runner.cursor()) === last);
    const rows = await pool.any(sql.type(Row)`SELECT user_id, source FROM notifications`);
    const got = rows.map((r) => `${r.user_id}|${r.source}`).sort();
    expect(got).toEqual(await expectedRows(users));
    expect(new Set(got).size).toBe(got.length);
    expect(got.filter((r) => r.includes(':fill:')).length).toBeGreaterThanOrEqual(300);
    expect(NOTIFIER_CURSOR).toBe('notifier');
  });
});

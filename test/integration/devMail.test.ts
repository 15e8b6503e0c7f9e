import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/eventually.ts';
import { runExchange, type RunningExchange } from '../support/exchange.ts';
import { listMarkets, ORDER_RATES } from '../wire/fixtures.ts';

/**
 * `npm start` without SMTP_URL (NODE_ENV=development): the exchange's embedded SMTP catcher
 * receives its emails, keeps them as .eml files and shows them at GET /dev/mail.
 */

let running: RunningExchange;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'dev-mail-'));
  running = await runExchange({ ...ORDER_RATES, NODE_ENV: 'development', NOTIFY_DEV_MAIL_DIR: dir });
  await listMarkets(running);
});

afterAll(async () => {
  await running.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('the development mail catcher', () => {
  it('catches the exchange’s emails under its directory and lists them at /dev/mail', async () => {
    await running.credit('ora', 'BTC', '1');
    await running.credit('pat', 'USDC', '100000');
    const ora = await running.client(await running.token('ora', ['trader']));
    const patToken = await running.token('pat', ['trader']);
    const put = await running.request('PUT', '/api/v1/notifications/preferences', {
      token: patToken,
      body: { channels: { in_app: { enabled: true }, email: { address: 'pat@example.com', enabled: true } } },
    });
    expect(put.status).toBe(200);
    const pat = await running.client(patToken);
    await ora.place({ market: 'BTC-USDC', side: 'sell', type: 'limit', price: '100.00', qty: '0.1' });
    await pat.place({ market: 'BTC-USDC', side: 'buy', type: 'limit', price: '100.00', qty: '0.1' });
    const [mail] = await eventually(async () => {
      const answer = await running.request('GET', '/dev/mail');
      return answer.status === 200 && (answer.body as unknown[]).length > 0 && (answer.body as object[]);
    });
    expect(mail).toMatchObject({ to: 'pat@example.com', subject: 'Order filled on BTC-USDC' });
    expect((await readdir(dir)).filter((f) => f.endsWith('.eml'))).toHaveLength(1);
  });
});

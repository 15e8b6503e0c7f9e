import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MarketStatusMessage } from '../../src/client/index.ts';
import { ExchangeError } from '../../src/client/index.ts';
import { eventually } from '../support/eventually.ts';
import { runExchange, type RunningExchange } from '../support/exchange.ts';
import { refuseCommits } from '../support/halt.ts';
import { listMarkets } from './fixtures.ts';

/*
 * Issue 20: a market the supervisor halts (here: its commit fails) is announced on the
 * `lifecycle` channel as `market_status` halted, repeated after the lifecycle snapshot of a new
 * `sub` while it lasts, and `running` once the market is rebuilt; its `status` (the lifecycle
 * state) never changes, and trading works again afterwards.
 */

let running: RunningExchange;

beforeAll(async () => {
  running = await runExchange();
  await listMarkets(running);
  await running.credit('alice', 'USDC', '100000');
});

afterAll(async () => {
  await running.stop();
});

describe('issue 20: market_status on the lifecycle channel', () => {
  it('announces a halted market and its recovery', async () => {
    const token = await running.token('alice', ['trader']);
    const watcher = await running.client();
    const heard: MarketStatusMessage[] = [];
    watcher.onMarketStatus((m) => heard.push(m));
    const lifecycles: unknown[] = [];
    await watcher.subscribe('lifecycle', { market: 'BTC-USDC' }, (m) => lifecycles.push(m));
    const alice = await running.client(token);
    const market = (await running.request('GET', '/api/v1/markets/BTC-USDC')).body as { id: string };

    const halt = await refuseCommits(running.database.url, market.id);
    let released = false;
    try {
      const refused = await alice
        .place({ market: 'BTC-USDC', side: 'buy', type: 'limit', price: '20000.00', qty: '0.1000' })
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(refused).toBeInstanceOf(ExchangeError);
      expect((refused as ExchangeError).code).toBe('unavailable');
      await eventually(() => (heard.length > 0 ? true : undefined), { what: 'the halted push' });
      expect(heard[0]).toMatchObject({ op: 'market_status', market: 'BTC-USDC', status: 'halted' });
      expect(typeof heard[0]!.reason).toBe('string');

      // A new subscriber hears it after the lifecycle snapshot, while the rebuild waits.
      const late = await running.client();
      const order: string[] = [];
      late.onMarketStatus((m) => order.push(`${m.op}:${m.status}`));
      await late.subscribe('lifecycle', { market: 'BTC-USDC' }, (m) => order.push(`${m.op}:${m.to}`));
      await eventually(() => (order.length >= 2 ? true : undefined), { what: 'the late snapshot' });
      expect(order.slice(0, 2)).toEqual(['lifecycle:active', 'market_status:halted']);
      // The lifecycle state is untouched.
      expect((await running.request('GET', '/api/v1/markets/BTC-USDC')).body).toMatchObject({
        status: 'active',
      });

      await halt.release();
      released = true;
      await eventually(() => (heard.some((m) => m.status === 'running') ? true : undefined), {
        what: 'the running push',
        timeoutMs: 15_000,
      });
      expect(lifecycles).toHaveLength(1); // the snapshot only: no lifecycle transition happened
      const accepted = await alice.place({
        market: 'BTC-USDC',
        side: 'buy',
        type: 'limit',
        price: '20000.00',
        qty: '0.1000',
      });
      expect(accepted.status).toBe('open');
    } finally {
      if (!released) await halt.release();
    }
  });
});

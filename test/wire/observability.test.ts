import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runExchange, type RunningExchange } from '../support/exchange.ts';
import { listMarkets, RawSocket } from './fixtures.ts';
import { checkMetricNames, parseExposition } from '../support/metrics.ts';

/*
 * What an operator reads (issue 12 §3, §5): /metrics with the trading figures, labels from closed
 * sets only, and a correlation id on every answer. Over real sockets to the real exchange.
 */

let running: RunningExchange;
let rid = 0;
const next = () => ++rid;

beforeAll(async () => {
  running = await runExchange({ RATE_ORDERS_PER_S: '1000', RATE_ORDERS_BURST: '1000' });
  await listMarkets(running);
  await running.credit('alice', 'USDC', '100000');
  await running.credit('bob', 'BTC', '10');
});

afterAll(async () => {
  await running.stop();
});

async function metrics(): Promise<string> {
  const response = await fetch(`${running.http}/metrics`);
  expect(response.status).toBe(200);
  return response.text();
}

/** The value of one series (`name{labels}`), or undefined when absent. */
function sample(text: string, series: string): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  }
  return undefined;
}

/** One raw HTTP/1.1 request with any method token (fetch refuses some). */
function raw(method: string, path: string, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; headers: Record<string, unknown>; body: string }>(
    (resolve, reject) => {
      const url = new URL(running.http);
      const req = httpRequest(
        { host: url.hostname, port: url.port, method, path, headers, agent: false },
        (res) => {
          let body = '';
          res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
          res.on('end', () => {
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
          });
        },
      );
      req.on('error', reject);
      req.end();
    },
  );
}

const LETTERS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
function randomWord(random: () => number, length: number): string {
  let word = '';
  for (let i = 0; i < length; i++) word += LETTERS[Math.floor(random() * LETTERS.length)]!;
  return word;
}

describe('metrics labels', () => {
  it('finding 3.2: invented methods and paths do not grow /metrics', async () => {
    // A warm-up of the same shape first, so the `other` series exist before the measurement.
    await raw('BREW', '/warm/up');
    await raw('GET', '/warm/up');
    const before = await metrics();
    let seed = 12;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const requests: Promise<unknown>[] = [];
    for (let i = 0; i < 2_000; i++) {
      const method = randomWord(random, 3 + Math.floor(random() * 8));
      const path = `/${randomWord(random, 6)}/${i}/${randomWord(random, 4).toLowerCase()}`;
      requests.push(raw(method, i % 2 === 0 ? path : `/api/v1/markets/${randomWord(random, 5)}${path}`));
      if (requests.length === 50) await Promise.all(requests.splice(0));
    }
    await Promise.all(requests);
    const after = await metrics();
    // The same series, only counts changed (a few bytes per line at most).
    expect(after.length - before.length).toBeLessThan(2_000);
    const methods = new Set([...after.matchAll(/method="([^"]*)"/g)].map((m) => m[1]));
    for (const method of methods)
      expect(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'other']).toContain(method);
    const routes = new Set([...after.matchAll(/route="([^"]*)"/g)].map((m) => m[1]!));
    for (const route of routes) expect(route === 'other' || route.startsWith('/')).toBe(true);
    expect([...routes].some((r) => /[A-Z]{6}/.test(r))).toBe(false);
    expect(after).toContain('exchange_http_requests_total{route="other",method="other",status="404"}');
  }, 60_000);
});

describe('trading figures', () => {
  it('finding 5.4: /metrics carries orders, trades, rejections, matching and journal latency, mailboxes, connections, subscriptions, queues and projection lag', async () => {
    const alice = await RawSocket.open(running.ws);
    await alice.request({ op: 'auth', token: await running.token('alice', ['trader']) }, next());
    const bob = await RawSocket.open(running.ws);
    await bob.request({ op: 'auth', token: await running.token('bob', ['trader']) }, next());
    expect(await bob.request({ op: 'sub', ch: 'trades', market: 'BTC-USDC' }, next())).toMatchObject({
      op: 'subbed',
    });
    expect(await bob.request({ op: 'sub', ch: 'orders' }, next())).toMatchObject({ op: 'subbed' });
    const before = await metrics();
    const place = { op: 'place', market: 'BTC-USDC', type: 'limit', qty: '0.5', price: '100' };
    expect(await bob.request({ ...place, side: 'sell' }, next())).toMatchObject({
      op: 'accepted',
      status: 'open',
    });
    expect(await alice.request({ ...place, side: 'buy' }, next())).toMatchObject({
      op: 'accepted',
      status: 'filled',
    });
    expect(await alice.request({ ...place, side: 'buy', price: '100000', qty: '10' }, next())).toMatchObject({
      op: 'error',
      code: 'insufficient_funds',
    });
    const text = await metrics();

    const delta = (series: string) => (sample(text, series) ?? 0) - (sample(before, series) ?? 0);
    expect(delta('exchange_orders_total{type="limit",side="sell",outcome="open"}')).toBe(1);
    expect(delta('exchange_orders_total{type="limit",side="buy",outcome="filled"}')).toBe(1);
    expect(delta('exchange_orders_total{type="limit",side="buy",outcome="rejected"}')).toBe(1);
    expect(delta('exchange_rejections_total{op="place",code="insufficient_funds"}')).toBe(1);
    expect(delta('exchange_error_answers_total{transport="ws",code="insufficient_funds"}')).toBe(1);
    expect(delta('exchange_trades_total{market="BTC-USDC"}')).toBe(1);
    expect(delta('exchange_matching_batch_duration_seconds_count')).toBeGreaterThanOrEqual(3);
    expect(delta('exchange_journal_commit_latency_seconds_count')).toBeGreaterThanOrEqual(1);
    expect(delta('exchange_journal_records_total')).toBeGreaterThanOrEqual(3);
    expect(sample(text, 'exchange_mailbox_depth{market="BTC-USDC"}')).toBe(0);
    expect(sample(text, 'exchange_mailbox_depth{market="ETH-USDC"}')).toBe(0);
    expect(sample(text, 'exchange_ws_connections')).toBeGreaterThanOrEqual(2);
    expect(sample(text, 'exchange_ws_subscriptions')).toBeGreaterThanOrEqual(2);
    expect(sample(text, 'exchange_job_queue_depth{queue="deploy-token",state="waiting"}')).toBe(0);
    expect(sample(text, 'exchange_projection_lag_seconds')).toBeGreaterThanOrEqual(0);
    expect(sample(text, 'exchange_projection_lag_records')).toBeGreaterThanOrEqual(0);
    expect(text).not.toContain('exchange_projection_lag_ms');

    // The subscriptions gauge follows unsub and close.
    const held = sample(text, 'exchange_ws_subscriptions')!;
    await bob.request({ op: 'unsub', ch: 'orders' }, next());
    expect(sample(await metrics(), 'exchange_ws_subscriptions')).toBe(held - 1);
    bob.close();
    alice.close();
    const deadline = Date.now() + 5_000;
    while (sample(await metrics(), 'exchange_ws_subscriptions') !== held - 2) {
      expect(Date.now()).toBeLessThan(deadline);
      await new Promise((resolve) => setImmediate(resolve));
    }
  });

  it('finding 5.4: every metric name follows the Prometheus conventions (base units, _total counters)', async () => {
    const problems = checkMetricNames(parseExposition(await metrics()));
    expect(problems).toEqual([]);
  });

  it('finding 5.4: promtool check metrics finds nothing in a scrape (it found exchange_projection_lag_ms before)', async () => {
    const promtool = process.env.PROMTOOL_PATH ?? '/usr/bin/promtool';
    expect(
      existsSync(promtool),
      `no promtool at ${promtool}: install Debian's prometheus package (npm test does it as root)`,
    ).toBe(true);
    const checked = spawnSync(promtool, ['check', 'metrics'], { input: await metrics(), encoding: 'utf8' });
    expect(`${checked.stdout}${checked.stderr}`.trim()).toBe('');
    expect(checked.status).toBe(0);
  });
});

describe('request ids', () => {
  it("finding 5.3: every HTTP answer carries X-Request-Id, the client's when well formed, and errors echo it", async () => {
    const given = await raw('GET', '/api/v1/markets/NOPE-USDC', { 'x-request-id': 'client.id-42_a' });
    expect(given.status).toBe(404);
    expect(given.headers['x-request-id']).toBe('client.id-42_a');
    expect(JSON.parse(given.body)).toMatchObject({
      error: { code: 'unknown_market', requestId: 'client.id-42_a' },
    });

    const ok = await raw('GET', '/api/v1/markets');
    expect(ok.status).toBe(200);
    expect(ok.headers['x-request-id']).toMatch(/^[A-Za-z0-9._-]{1,64}$/);
    const another = await raw('GET', '/api/v1/markets');
    expect(another.headers['x-request-id']).not.toBe(ok.headers['x-request-id']);

    for (const bad of ['has space', 'x'.repeat(65), 'semi;colon', 'ünicode']) {
      const answered = await raw('GET', '/health', {
        'x-request-id': encodeURI(bad) === bad ? bad : encodeURI(bad),
      });
      const id = answered.headers['x-request-id'];
      expect(id).toMatch(/^[A-Za-z0-9._-]{1,64}$/);
      expect(id).not.toBe(bad);
    }
  });

  it("finding 5.3: WebSocket error answers carry the command's request id (connection id and rid)", async () => {
    const socket = await RawSocket.open(running.ws);
    const first = next();
    const refused = await socket.request(
      { op: 'place', market: 'BTC-USDC', side: 'buy', type: 'limit', qty: '1', price: '100' },
      first,
    );
    expect(refused).toMatchObject({ op: 'error', code: 'unauthorized' });
    expect(refused.requestId).toMatch(new RegExp(`^[A-Za-z0-9._-]+\\.${first}$`));
    const second = await socket.request({ op: 'nope' }, next());
    expect(String(second.requestId).split('.')[0]).toBe(String(refused.requestId).split('.')[0]);
    const other = await RawSocket.open(running.ws);
    const elsewhere = await other.request({ op: 'nope' }, next());
    expect(String(elsewhere.requestId).split('.')[0]).not.toBe(String(refused.requestId).split('.')[0]);
    socket.close();
    other.close();
  });
});

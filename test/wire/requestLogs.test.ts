import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/eventually.ts';
import { runExchange, type RunningExchange } from '../support/exchange.ts';
import { RawSocket } from './fixtures.ts';

/*
 * Issue 12 §5: a correlation id on every line a request causes, carried into the jobs it enqueues.
 * The exchange logs into memory here (debug level: the router's line per request), over real
 * HTTP, with the job queue on the real Redis.
 */

const lines: Record<string, unknown>[] = [];
const sink = new Writable({
  write(chunk: Buffer, _encoding, done) {
    for (const line of chunk.toString('utf8').split('\n'))
      if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
    done();
  },
});

let running: RunningExchange;

beforeAll(async () => {
  running = await runExchange({ LOG_LEVEL: 'debug' }, { log: pino({ level: 'debug' }, sink) });
  await running.asset('USDC', 6, 'stable');
  await running.asset('LUXB', 0, 'rwa');
});

afterAll(async () => {
  await running.stop();
});

async function waitForLine(
  match: (line: Record<string, unknown>) => boolean,
): Promise<Record<string, unknown>> {
  return eventually(() => lines.find(match), {
    what: () => `such a line among ${lines.length}: ${JSON.stringify(lines.slice(-5))}`,
  });
}

describe('request ids in the logs', () => {
  it('finding 5.3: the lines of an HTTP request and of the job it enqueues carry its X-Request-Id', async () => {
    const admin = await running.token('ops-admin', ['admin']);
    const response = await fetch(`${running.http}/api/v1/admin/compliance`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${admin}`,
        'content-type': 'application/json',
        'x-request-id': 'trace-me-1',
      },
      body: JSON.stringify({
        userId: 'alice',
        asset: 'LUXB',
        kycStatus: 'approved',
        allowlisted: true,
        walletAddress: `0x${'ab'.repeat(20)}`,
      }),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('x-request-id')).toBe('trace-me-1');

    const answered = await waitForLine((l) => l.msg === 'http request answered' && l.reqId === 'trace-me-1');
    expect(answered).toMatchObject({ route: '/api/v1/admin/compliance', method: 'POST' });
    // The sync-allowlist job ran on the worker with the request's id.
    const done = await waitForLine((l) => l.msg === 'job done' && l.queue === 'sync-allowlist');
    expect(done.reqId).toBe('trace-me-1');
  });

  it('finding 5.3: a generated id when the client sends none or a malformed one, on the answer and the lines', async () => {
    const response = await fetch(`${running.http}/api/v1/markets`, {
      headers: { 'x-request-id': 'not ok!' },
    });
    const id = response.headers.get('x-request-id');
    expect(id).toMatch(/^[A-Za-z0-9._-]{1,64}$/);
    expect(id).not.toBe('not ok!');
    await waitForLine(
      (l) => l.msg === 'http request answered' && l.reqId === id && l.route === '/api/v1/markets',
    );
  });

  it("finding 5.3: a WebSocket connection's lines carry the id its commands' error answers start with", async () => {
    const socket = await RawSocket.open(running.ws);
    const refused = await socket.request({ op: 'nope' }, 41);
    const [connection, rid] = String(refused.requestId).split('.');
    expect(rid).toBe('41');
    await waitForLine((l) => l.msg === 'ws connection opened' && l.reqId === connection);
    socket.close();
    await waitForLine((l) => l.msg === 'ws connection closed' && l.reqId === connection);
  });
});

import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { createPool, sql, type DatabasePool } from 'slonik';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { decodeMessage, encodeMessage } from '../../src/protocol/codec.ts';
import { eventually } from '../support/eventually.ts';
import { runExchange, type RunningExchange } from '../support/exchange.ts';
import { listMarkets, RawSocket } from './fixtures.ts';

/*
 * What a stranger can make the server hold or do (issue 12 §3), over real sockets: subs and
 * every other frame count in per-connection buckets and answer `rate_limited`; a book snapshot is
 * encoded once per market, depth and seq, whoever asks (WebSocket and HTTP); connections are
 * bounded per address; refused webhook posts are limited per address and what is kept is capped.
 */

const SUB_BURST = 5;
const FRAME_BURST = 500;
const PER_ADDRESS = 4;
const SNAPSHOT_BYTES = 16_000;

let running: RunningExchange;
let pool: DatabasePool;

beforeAll(async () => {
  running = await runExchange({
    RATE_ORDERS_PER_S: '100000',
    RATE_ORDERS_BURST: '100000',
    // Refill slow enough that a test's burst meets the bound; fast enough to wait for it.
    WS_RATE_SUBS_PER_S: '2',
    WS_RATE_SUBS_BURST: String(SUB_BURST),
    WS_RATE_FRAMES_PER_S: '20',
    WS_RATE_FRAMES_BURST: String(FRAME_BURST),
    WS_MAX_CONNECTIONS_PER_IP: String(PER_ADDRESS),
    // Two snapshots of the whole book below (~7 KB each) fit, not three.
    WS_RATE_SNAPSHOT_BYTES_BURST: String(SNAPSHOT_BYTES),
    WS_RATE_SNAPSHOT_BYTES_PER_S: '1000',
    WEBHOOK_REFUSALS_PER_ADDRESS: '5',
    WEBHOOK_REFUSAL_ROWS_PER_WINDOW: '8',
    WEBHOOK_REFUSAL_BODY_BYTES: '256',
    WEBHOOK_REFUSAL_ROWS_KEPT: '6',
    WEBHOOK_REFUSAL_WINDOW_S: '4',
  });
  await listMarkets(running);
  await running.credit('maker', 'USDC', '100000000');
  await running.credit('maker', 'BTC', '1000');
  pool = await createPool(running.database.url, { maximumPoolSize: 1 });
  // A book of 200 levels a side on BTC-USDC.
  const maker = await running.client(await running.token('maker', ['trader']));
  await Promise.all(
    Array.from({ length: 200 }, (_, i) => [
      maker.place({ market: 'BTC-USDC', side: 'buy', type: 'limit', price: `${1000 + i}.00`, qty: '0.0010' }),
      maker.place({
        market: 'BTC-USDC',
        side: 'sell',
        type: 'limit',
        price: `${5000 + i}.00`,
        qty: '0.0010',
      }),
    ]).flat(),
  );
});

afterAll(async () => {
  await pool.end();
  await running.stop();
});

async function until<T>(
  check: () => T | undefined | Promise<T | undefined>,
  what: string,
  timeoutMs = 15_000,
): Promise<T> {
  const seen = await eventually(
    async () => {
      const value = await check();
      return value !== undefined && { value };
    },
    { what, timeoutMs, everyMs: 50 },
  );
  return seen.value;
}

/** A sample of the Prometheus text (0 when the series does not exist yet). */
async function metric(series: string): Promise<number> {
  const text = String((await running.request('GET', '/metrics')).body);
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

const msgpackEncodings = 'exchange_book_snapshot_encodings_total{format="msgpack"}';
const jsonEncodings = 'exchange_book_snapshot_encodings_total{format="json"}';

/** Every rid from `from` to `to` answered: the replies by rid. */
async function answers(
  socket: RawSocket,
  from: number,
  to: number,
): Promise<Map<number, Record<string, unknown>>> {
  const out = new Map<number, Record<string, unknown>>();
  for (let rid = from; rid <= to; rid++) out.set(rid, await socket.next((m) => m.rid === rid, 10_000));
  return out;
}

describe('a connection is bounded in what it may ask', () => {
  it('finding 3.1: sub flood answers rate_limited beyond the sub bucket, the connection stays usable, nothing leaks', async () => {
    const connectionsBefore = await metric('exchange_ws_connections');
    const socket = await RawSocket.open(running.ws);
    const FLOOD = 60;
    for (let rid = 1; rid <= FLOOD; rid++)
      socket.send({ op: 'sub', ch: 'book', market: 'BTC-USDC', depth: 10, rid });
    const replies = [...(await answers(socket, 1, FLOOD)).values()];
    const subbed = replies.filter((r) => r.op === 'subbed').length;
    const limited = replies.filter((r) => r.op === 'error' && r.code === 'rate_limited').length;
    expect(subbed + limited).toBe(FLOOD);
    // The burst, plus what refilled while the flood was read (2/s).
    expect(subbed).toBeGreaterThanOrEqual(SUB_BURST);
    expect(subbed).toBeLessThanOrEqual(SUB_BURST + 2);
    // One snapshot per sub answered, none for the refused ones; one subscription however many.
    const snapshots = await until(() => {
      const n = socket.received.filter((m) => m.op === 'book' && m.kind === 'snapshot').length;
      return n >= subbed ? n : undefined;
    }, 'the snapshots');
    expect(snapshots).toBe(subbed);

    // Still usable: ping answers, and a sub goes through again once the bucket refilled.
    expect(await socket.request({ op: 'ping' }, 100)).toMatchObject({ op: 'pong' });
    let rid = 200;
    const again = await until(async () => {
      const r = await socket.request({ op: 'sub', ch: 'trades', market: 'BTC-USDC' }, rid++);
      return r.op === 'subbed' ? r : undefined;
    }, 'a sub after the refill');
    expect(again).toMatchObject({ op: 'subbed', ch: 'trades' });
    expect(socket.closed).toBe(false);

    socket.close();
    await until(
      async () => ((await metric('exchange_ws_connections')) === connectionsBefore ? true : undefined),
      'the connection to be gone',
    );
  });

  it('finding 3.1: every frame counts in the connection bucket, unauthenticated ping, auth, unsub and bad frames included', async () => {
    const socket = await RawSocket.open(running.ws);
    const N = FRAME_BURST + 50;
    for (let rid = 1; rid <= N; rid++) {
      const kind = rid % 4;
      if (kind === 0) socket.send({ op: 'ping', rid });
      else if (kind === 1) socket.send({ op: 'unsub', ch: 'book', market: 'BTC-USDC', rid });
      else if (kind === 2) socket.send({ op: 'auth', token: 'not-a-token', rid });
      else socket.send({ op: 'no-such-op', rid });
    }
    const replies = [...(await answers(socket, 1, N)).values()];
    const limited = replies.filter((r) => r.code === 'rate_limited').length;
    expect(limited).toBeGreaterThanOrEqual(N - FRAME_BURST - 10);
    expect(limited).toBeLessThanOrEqual(N - FRAME_BURST);
    // The first ones were answered as usual.
    expect(replies[0]).toMatchObject({ op: 'unsubbed' });
    expect(replies[1]).toMatchObject({ code: 'unauthorized' });
    expect(replies[3]).toMatchObject({ op: 'pong' });
    expect(socket.closed).toBe(false);
    socket.close();
  });

  it('finding 3.1: the snapshot bytes a connection asks for are bounded: a deep book costs its size', async () => {
    const socket = await RawSocket.open(running.ws);
    const whole = { op: 'sub', ch: 'book', market: 'BTC-USDC', depth: 0 };
    expect(await socket.request(whole, 1)).toMatchObject({ op: 'subbed' });
    expect(await socket.request(whole, 2)).toMatchObject({ op: 'subbed' });
    expect(await socket.request(whole, 3)).toMatchObject({ op: 'error', code: 'rate_limited' });
    // A small snapshot still fits what is left.
    expect(await socket.request({ ...whole, ch: 'book', depth: 10 }, 4)).toMatchObject({ op: 'subbed' });
    const sizes = socket.received.filter((m) => m.op === 'book' && m.kind === 'snapshot');
    expect(sizes).toHaveLength(3);
    socket.close();
  });

  it('finding 3.4: bounds connections per address, and frees the place of a closed one', async () => {
    // From an address of its own (Linux routes all of 127/8 to lo), so other tests do not count.
    const FROM = '127.0.0.3';
    const open: WebSocket[] = [];
    for (let i = 0; i < PER_ADDRESS; i++) {
      const opened = await openFrom(FROM);
      if (typeof opened === 'number') throw new Error(`connection ${i} refused with ${opened}`);
      open.push(opened);
    }
    expect(await openFrom(FROM)).toBe(429);
    // Another address is not affected.
    const other = await openFrom('127.0.0.5');
    expect(typeof other).not.toBe('number');
    open.pop()!.close();
    const replacement = await until(async () => {
      const opened = await openFrom(FROM);
      return typeof opened === 'number' ? undefined : opened;
    }, 'a place to free');
    for (const ws of [...open, replacement, other]) if (typeof ws !== 'number') ws.close();
  });
});

/** A WebSocket from a chosen local address: open, or the HTTP status it was refused with. */
function openFrom(localAddress: string): Promise<WebSocket | number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(running.ws, { localAddress });
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
    });
    ws.once('open', () => {
      resolve(ws);
    });
    ws.once('error', reject);
  });
}

describe('book snapshots are encoded once per market, depth and seq', () => {
  /** A socket that keeps each message's raw bytes. */
  async function rawSubscriber(): Promise<{ ws: WebSocket; frames: Buffer[] }> {
    const ws = new WebSocket(running.ws, { localAddress: '127.0.0.4' });
    const frames: Buffer[] = [];
    ws.on('message', (data: Buffer) => frames.push(Buffer.from(data)));
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    return { ws, frames };
  }
  const snapshotOf = (frames: readonly Buffer[]) =>
    frames.find((f) => {
      const decoded = decodeMessage(new Uint8Array(f));
      return decoded.ok && decoded.message.op === 'book';
    });

  it('finding 3.1: two subscribers at the same seq get byte-identical snapshots from one encoding, a new one after a change', async () => {
    // A seq no one has asked for yet (the flood above shared the previous one).
    const maker = await running.client(await running.token('maker', ['trader']));
    await maker.place({ market: 'BTC-USDC', side: 'buy', type: 'limit', price: '998.00', qty: '0.0010' });
    const a = await rawSubscriber();
    const b = await rawSubscriber();
    const before = await metric(msgpackEncodings);
    const sub = (s: { ws: WebSocket }, rid: number) => {
      s.ws.send(encodeMessage({ op: 'sub', ch: 'book', market: 'BTC-USDC', depth: 0, rid }), {
        binary: true,
      });
    };
    sub(a, 1);
    const first = await until(() => snapshotOf(a.frames), 'the first snapshot');
    sub(b, 1);
    const second = await until(() => snapshotOf(b.frames), 'the second snapshot');
    expect(second.equals(first)).toBe(true);
    expect((await metric(msgpackEncodings)) - before).toBe(1);

    // The book changes: the next subscriber gets a new snapshot (a later seq), encoded once more.
    await maker.place({ market: 'BTC-USDC', side: 'buy', type: 'limit', price: '999.00', qty: '0.0010' });
    const c = await rawSubscriber();
    sub(c, 1);
    const third = await until(() => snapshotOf(c.frames), 'the third snapshot');
    const seqOf = (frame: Buffer) => {
      const decoded = decodeMessage(new Uint8Array(frame));
      return decoded.ok ? Number(decoded.message.seq) : NaN;
    };
    expect(seqOf(third)).toBeGreaterThan(seqOf(first));
    expect((await metric(msgpackEncodings)) - before).toBe(2);
    for (const s of [a, b, c]) s.ws.close();
  });

  it('finding 3.1: concurrent GET /markets/:id/book reads share one serialized body per seq', async () => {
    const before = await metric(jsonEncodings);
    const reads = await Promise.all(
      Array.from({ length: 50 }, async () => {
        const response = await fetch(`${running.http}/api/v1/markets/BTC-USDC/book?depth=0`);
        return {
          status: response.status,
          type: response.headers.get('content-type'),
          text: await response.text(),
        };
      }),
    );
    expect(reads.every((r) => r.status === 200 && r.type === 'application/json')).toBe(true);
    expect(new Set(reads.map((r) => r.text)).size).toBe(1);
    const book = JSON.parse(reads[0]!.text) as { bids: unknown[]; asks: unknown[] };
    expect(book.asks).toHaveLength(200);
    expect((await metric(jsonEncodings)) - before).toBe(1);
    // A depth past both sides is the whole book: the same body.
    const deep = await (await fetch(`${running.http}/api/v1/markets/BTC-USDC/book?depth=5000`)).text();
    expect(deep).toBe(reads[0]!.text);
    expect((await metric(jsonEncodings)) - before).toBe(1);
  });
});

describe('refused webhook posts', () => {
  /** A POST from a chosen loopback address (Linux routes all of 127/8 to lo). */
  function post(from: string, body: Buffer, headers: Record<string, string> = {}): Promise<number> {
    const url = new URL(`${running.http}/api/v1/webhooks/entity-permissions`);
    return new Promise((resolve, reject) => {
      const req = httpRequest(
        {
          host: url.hostname,
          port: url.port,
          path: url.pathname,
          method: 'POST',
          localAddress: from,
          headers: { 'content-type': 'application/json', 'content-length': body.length, ...headers },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }
  const rows = () =>
    pool.any(
      sql.unsafe`SELECT source_address, octet_length(body) AS bytes, status_code FROM webhook_rejections`,
    ) as Promise<readonly { source_address: string; bytes: number; status_code: number }[]>;

  it('finding 3.3: refused webhook posts are rate limited per address and capped (rows per window, bytes per row, rows kept)', async () => {
    // Unsigned posts of 60 KB, JSON with multi-byte characters (cut on a character boundary).
    const big = Buffer.from(JSON.stringify({ event_id: 'x', pad: 'é'.repeat(30_000) }));
    expect(big.length).toBeGreaterThan(60_000);
    const first = [];
    for (let i = 0; i < 30; i++) first.push(await post('127.0.0.1', big));
    expect(first.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(first.slice(5).every((s) => s === 429)).toBe(true);
    // Another address has refusals of its own; the window's row cap (8) holds for both.
    const second = [];
    for (let i = 0; i < 10; i++) second.push(await post('127.0.0.2', big));
    expect(second.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(second.slice(5).every((s) => s === 429)).toBe(true);
    const stored = await rows();
    expect(stored).toHaveLength(8);
    expect(stored.every((r) => r.bytes <= 256 && r.status_code === 401)).toBe(true);
    expect(new Set(stored.map((r) => r.source_address))).toEqual(new Set(['127.0.0.1', '127.0.0.2']));

    // When the window (4 s) ends the table is pruned to the newest 6 rows, and the address may
    // be refused (401) again rather than limited (429).
    const pruned = await until(async () => ((await rows()).length <= 6 ? true : undefined), 'the pruning');
    expect(pruned).toBe(true);
    const afterWindow = await until(async () => {
      const status = await post('127.0.0.1', big);
      return status === 401 ? status : undefined;
    }, 'a new window');
    expect(afterWindow).toBe(401);
  });
});

describe('HTTP requests held at once', () => {
  it('finding 3.4: bounds the HTTP requests an address has open, and answers a body that trickles in with 408', async () => {
    const limited = await runExchange({
      HTTP_MAX_PENDING_REQUESTS_PER_IP: '2',
      HTTP_BODY_TIMEOUT_MS: '1500',
    });
    try {
      const { port } = new URL(limited.http);
      const FROM = '127.0.0.7';
      /** A POST whose body never completes: 1 of 10 declared bytes. */
      const trickle = () =>
        new Promise<{ answer: Promise<string> }>((resolve, reject) => {
          const socket = connect({ host: '127.0.0.1', port: Number(port), localAddress: FROM }, () => {
            socket.write(
              'POST /api/v1/webhooks/entity-permissions HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n{',
            );
            const answer = new Promise<string>((done) => {
              let text = '';
              socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
              socket.on('close', () => done(text));
            });
            resolve({ answer });
          });
          socket.on('error', reject);
        });
      const slow = [await trickle(), await trickle()];
      const status = (from: string) =>
        new Promise<number>((resolve, reject) => {
          const req = httpRequest(
            { host: '127.0.0.1', port, path: '/api/v1/markets', localAddress: from },
            (res) => {
              res.resume();
              resolve(res.statusCode ?? 0);
            },
          );
          req.on('error', reject);
          req.end();
        });
      // The server has both slow requests once a third one from the address is refused.
      expect(await until(async () => ((await status(FROM)) === 429 ? 429 : undefined), 'the bound')).toBe(
        429,
      );
      expect(await status('127.0.0.8')).toBe(200);
      const answers = await Promise.all(slow.map((s) => s.answer));
      expect(answers.every((a) => a.startsWith('HTTP/1.1 408'))).toBe(true);
      expect(await status(FROM)).toBe(200);
    } finally {
      await limited.stop();
    }
  });
});

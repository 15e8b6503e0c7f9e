/**
 * Fan-out subscribers for bench/ws.ts: `connections` sockets in this process, either to our gateway
 * (raw `ws`, binary MessagePack frames decoded with the shared codec, `sub` book + trades on the
 * benchmark's market) or to the Socket.io peer (socket.io-client 4.8, WebSocket transport only,
 * JSON). Every message is decoded, as a real client would. Counts messages per connection since the
 * last `reset`, checks book `seq` continuity (ours), and takes the delay of every trade push from
 * its `ts` to its receipt (epoch ms, same machine clock).
 */
import { io, type Socket } from 'socket.io-client';
import WebSocket from 'ws';
import { decodeMessage, encodeMessage } from '../../src/protocol/codec.ts';
import {
  epochMs,
  histogram,
  MARKET,
  packHistogram,
  type SubscriberReport,
  type SubscriberRequest,
} from './common.ts';

const reply = (message: SubscriberReport | { type: 'connected' } | { type: 'subscribed' }): void => {
  process.send?.(message);
};

let counts = new Uint32Array(0);
let closed = 0;
let gaps = 0;
let firstAt = NaN;
let lastAt = NaN;
let delays = histogram();
let recording = false;
let recorded: Record<string, unknown>[] = [];

function onMessage(index: number, message: Record<string, unknown>): void {
  const now = epochMs();
  counts[index]!++;
  if (Number.isNaN(firstAt)) firstAt = now;
  lastAt = now;
  if (message.op === 'trade' && typeof message.ts === 'number') {
    delays.recordValue(Math.max(1, Math.round((now - message.ts) * 1000)));
  }
  if (recording && index === 0) recorded.push(message);
}

// ---------------------------------------------------------------- ours

const oursSockets: WebSocket[] = [];
const bookSeq: number[] = [];

async function connectOurs(url: string, index: number): Promise<void> {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => {
      resolve();
    });
    ws.once('error', reject);
  });
  ws.on('error', () => undefined);
  ws.on('close', () => {
    closed++;
  });
  bookSeq[index] = -1;
  ws.on('message', (data: Buffer) => {
    const decoded = decodeMessage(data);
    if (!decoded.ok) return;
    const m = decoded.message;
    if (m.op === 'book') {
      const seq = Number(m.seq);
      if (m.kind === 'delta') {
        if (bookSeq[index] !== -1 && seq !== bookSeq[index]! + 1) gaps++;
        bookSeq[index] = seq;
        onMessage(index, m);
      } else bookSeq[index] = seq;
    } else if (m.op === 'trade') onMessage(index, m);
    else if (m.op === 'subbed') subbedWaiters[index]?.();
  });
  oursSockets[index] = ws;
}

const subbedWaiters: ((() => void) | undefined)[] = [];

async function subscribeOurs(index: number): Promise<void> {
  const ws = oursSockets[index]!;
  let left = 2;
  await new Promise<void>((resolve) => {
    subbedWaiters[index] = () => {
      if (--left === 0) resolve();
    };
    ws.send(encodeMessage({ op: 'sub', rid: 1, ch: 'book', market: MARKET }));
    ws.send(encodeMessage({ op: 'sub', rid: 2, ch: 'trades', market: MARKET }));
  });
  subbedWaiters[index] = undefined;
}

// ---------------------------------------------------------------- Socket.io

const ioSockets: Socket[] = [];

async function connectSocketIo(url: string, index: number): Promise<void> {
  const socket = io(url, { transports: ['websocket'], forceNew: true, reconnection: false });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => {
      resolve();
    });
    socket.once('connect_error', reject);
  });
  socket.on('disconnect', () => {
    closed++;
  });
  socket.on('book', (m: Record<string, unknown>) => {
    onMessage(index, m);
  });
  socket.on('trade', (m: Record<string, unknown>) => {
    onMessage(index, m);
  });
  ioSockets[index] = socket;
}

// ---------------------------------------------------------------- control

async function inBatches(n: number, size: number, run: (i: number) => Promise<void>): Promise<void> {
  for (let i = 0; i < n; i += size) {
    await Promise.all(Array.from({ length: Math.min(size, n - i) }, (_, k) => run(i + k)));
  }
}

let kind: 'ours' | 'socketio' = 'ours';

process.on('message', (request: SubscriberRequest) => {
  void (async () => {
    switch (request.type) {
      case 'connect':
        kind = request.kind;
        counts = new Uint32Array(request.connections);
        await inBatches(request.connections, 25, (i) =>
          kind === 'ours' ? connectOurs(request.url, i) : connectSocketIo(request.url, i),
        );
        reply({ type: 'connected' });
        break;
      case 'subscribe':
        if (kind === 'ours') await inBatches(oursSockets.length, 50, subscribeOurs);
        reply({ type: 'subscribed' });
        break;
      case 'reset':
        counts.fill(0);
        gaps = 0;
        firstAt = NaN;
        lastAt = NaN;
        delays = histogram();
        recording = request.record;
        recorded = [];
        break;
      case 'report': {
        let total = 0;
        let min = Infinity;
        let max = 0;
        for (const c of counts) {
          total += c;
          min = Math.min(min, c);
          max = Math.max(max, c);
        }
        reply({
          type: 'report',
          messages: total,
          perConnectionMin: min,
          perConnectionMax: max,
          firstAt,
          lastAt,
          tradeDelay: packHistogram(delays),
          closedConnections: closed,
          gaps,
          recorded: request.recorded ? recorded : [],
        });
        if (request.recorded) {
          recording = false;
          recorded = [];
        }
        break;
      }
      case 'close':
        for (const ws of oursSockets) ws.close();
        for (const s of ioSockets) s.close();
        setTimeout(() => process.exit(0), 200);
        break;
    }
  })().catch((error: unknown) => {
    process.stderr.write(
      `[subscriber] ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  });
});
process.on('disconnect', () => process.exit(0));

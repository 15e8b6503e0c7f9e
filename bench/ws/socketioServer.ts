/**
 * The fan-out peer of bench/ws.ts: a Socket.io 4.8 server (WebSocket transport only, no
 * compression, JSON as Socket.io sends it) where every connection joins one room, the market's.
 * On `emit` it broadcasts the given messages to the room — the very messages one of our
 * subscribers received in the same run (book deltas and trades, as decoded objects), each as an
 * event named after its `op` — with `ts` of trades restamped at emission, so the receipt delay
 * measures the same thing as ours (publication → receipt). Answers `memory` after a full GC.
 */
import { createServer } from 'node:http';
import { Server } from 'socket.io';
import type { Emitted, ServerMemory, SocketIoReady, SocketIoRequest } from './common.ts';

const ROOM = 'market';
const send = (message: SocketIoReady | Emitted | ServerMemory): void => {
  process.send?.(message);
};

const http = createServer();
const ioServer = new Server(http, {
  transports: ['websocket'],
  serveClient: false,
  perMessageDeflate: false,
  pingInterval: 60_000,
  pingTimeout: 60_000,
  maxHttpBufferSize: 16 * 1024,
});
ioServer.on('connection', (socket) => {
  void socket.join(ROOM);
});

async function emit(request: SocketIoRequest & { type: 'emit' }): Promise<Emitted> {
  const { messages, rate, chunk } = request;
  const startAt = Date.now();
  const t0 = performance.now();
  const room = ioServer.to(ROOM);
  let i = 0;
  while (i < messages.length) {
    const due =
      rate > 0
        ? Math.min(messages.length, Math.floor(((performance.now() - t0) * rate) / 1000) + 1)
        : i + chunk;
    const end = Math.min(messages.length, due);
    for (; i < end; i++) {
      const m = messages[i]!;
      room.emit(String(m.op), m.op === 'trade' ? { ...m, ts: Date.now() } : m);
    }
    // Yield to the event loop so sockets flush, as a server producing over time would.
    if (rate > 0)
      await new Promise((resolve) =>
        setTimeout(resolve, Math.max(0, t0 + ((i + 1) * 1000) / rate - performance.now())),
      );
    else await new Promise((resolve) => setImmediate(resolve));
  }
  return { type: 'emitted', startAt, endAt: Date.now(), messages: messages.length };
}

process.on('message', (request: SocketIoRequest) => {
  switch (request.type) {
    case 'emit':
      void emit(request).then(send);
      break;
    case 'memory': {
      globalThis.gc?.();
      globalThis.gc?.();
      const m = process.memoryUsage();
      send({
        type: 'memory',
        rss: m.rss,
        heapUsed: m.heapUsed,
        external: m.external,
        arrayBuffers: m.arrayBuffers,
      });
      break;
    }
    case 'stop':
      void ioServer.close();
      setTimeout(() => process.exit(0), 200);
      break;
  }
});
process.on('disconnect', () => process.exit(0));

http.listen(0, '127.0.0.1', () => {
  const address = http.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  send({ type: 'ready', port: address.port });
});

/**
 * The `sub` flood of bench/ws.ts's sub-flood round (issue 12 §3): `connections` unauthenticated
 * sockets (raw `ws`, no token) in this process, each keeping `window` subs of one market's whole
 * book (depth 0) outstanding, sending the next on every answer, for `durationMs`: the attack that
 * moved another market's place latency from 13 ms to 5.4 s before subs were rate limited and their
 * snapshots shared. Counts the answers by kind and the snapshot bytes received; reads every frame
 * (small ones decoded, snapshots only measured), as an attacker that keeps its socket drained would.
 */
import WebSocket from 'ws';
import { decodeMessage, encodeMessage } from '../../src/client/codec.ts';
import type { FloodResult, FlooderRequest } from './common.ts';

const reply = (message: FloodResult | { type: 'connected' }): void => {
  process.send?.(message);
};

let sockets: WebSocket[] = [];
/** Frames above this size are book snapshots: counted, not decoded. */
const SMALL = 1024;

async function open(url: string): Promise<WebSocket> {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => {
      resolve();
    });
    ws.once('error', reject);
  });
  ws.on('error', () => undefined);
  return ws;
}

async function flood(request: FlooderRequest & { type: 'flood' }): Promise<FloodResult> {
  const result = {
    type: 'flooded' as const,
    sent: 0,
    subbed: 0,
    rateLimited: 0,
    otherErrors: 0,
    snapshots: 0,
    snapshotBytes: 0,
    closed: 0,
    startAt: request.startAt,
    endAt: 0,
  };
  const end = request.startAt + request.durationMs;
  let outstanding = 0;
  let rid = 0;
  const sub = (ws: WebSocket): void => {
    result.sent++;
    outstanding++;
    ws.send(encodeMessage({ op: 'sub', ch: 'book', market: request.market, depth: 0, rid: ++rid }), {
      binary: true,
    });
  };
  await new Promise<void>((resolve) => {
    const finish = (): void => {
      if (outstanding === 0 || sockets.every((ws) => ws.readyState !== WebSocket.OPEN)) resolve();
    };
    for (const ws of sockets) {
      ws.on('close', () => {
        result.closed++;
        finish();
      });
      ws.on('message', (data: Buffer) => {
        if (data.length > SMALL) {
          result.snapshots++;
          result.snapshotBytes += data.length;
          return;
        }
        const decoded = decodeMessage(data);
        if (!decoded.ok || typeof decoded.message.rid !== 'number') return;
        outstanding--;
        const m = decoded.message;
        if (m.op === 'subbed') result.subbed++;
        else if (m.code === 'rate_limited') result.rateLimited++;
        else result.otherErrors++;
        if (Date.now() < end) sub(ws);
        else finish();
      });
    }
    setTimeout(
      () => {
        for (const ws of sockets) for (let i = 0; i < request.window; i++) sub(ws);
      },
      Math.max(0, request.startAt - Date.now()),
    );
    // Answers lost to a closed socket must not hold the round.
    setTimeout(resolve, request.durationMs + Math.max(0, request.startAt - Date.now()) + 30_000);
  });
  result.endAt = Date.now();
  return result;
}

process.on('message', (request: FlooderRequest) => {
  void (async () => {
    switch (request.type) {
      case 'connect':
        sockets = await Promise.all(Array.from({ length: request.connections }, () => open(request.url)));
        reply({ type: 'connected' });
        break;
      case 'flood':
        reply(await flood(request));
        break;
      case 'close':
        for (const ws of sockets) ws.close();
        process.exit(0);
    }
  })().catch((error: unknown) => {
    process.stderr.write(
      `[flooder] ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  });
});
process.on('disconnect', () => process.exit(0));

/**
 * The `sub` flood of bench/ws.ts's sub-flood round (issue 12 §3): `connections` unauthenticated
 * sockets (raw `ws`, no token) in this process, each sending `window` subs of one market's whole
 * book (depth 0) at once every second for `durationMs`: the finding's attack (three connections,
 * 700 subs each, moved another market's place latency from 13 ms to 5.4 s) repeated each second. Counts the answers by kind and the snapshot bytes received; reads every frame
 * (small ones decoded, snapshots only measured), as an attacker that keeps its socket drained would.
 */
import WebSocket from 'ws';
import { decodeMessage, encodeMessage } from '../../src/protocol/codec.ts';
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
    unanswered: 0,
    snapshots: 0,
    snapshotBytes: 0,
    closed: 0,
    startAt: request.startAt,
    endAt: 0,
  };
  const end = request.startAt + request.durationMs;
  /** Subs sent and not answered yet, per socket (a closed socket's are lost, not waited for). */
  const outstanding = sockets.map(() => 0);
  let rid = 0;
  let wake: () => void = () => undefined;
  const waiting = (): number =>
    sockets.reduce((n, ws, i) => n + (ws.readyState === WebSocket.OPEN ? outstanding[i]! : 0), 0);
  sockets.forEach((ws, i) => {
    ws.on('close', () => {
      result.closed++;
      wake();
    });
    ws.on('message', (data: Buffer) => {
      if (data.length > SMALL) {
        result.snapshots++;
        result.snapshotBytes += data.length;
        return;
      }
      const decoded = decodeMessage(data);
      if (!decoded.ok || typeof decoded.message.rid !== 'number') return;
      outstanding[i]!--;
      const m = decoded.message;
      if (m.op === 'subbed') result.subbed++;
      else if (m.code === 'rate_limited') result.rateLimited++;
      else result.otherErrors++;
      if (Date.now() >= end && waiting() === 0) wake();
    });
  });
  // Each second, `window` subs on every connection at once (the finding's 700 each), as written.
  let bursts = 0;
  await new Promise<void>((resolve) => {
    const burst = (): void => {
      sockets.forEach((ws, i) => {
        if (ws.readyState !== WebSocket.OPEN) return;
        for (let k = 0; k < request.window; k++) {
          result.sent++;
          outstanding[i]!++;
          ws.send(encodeMessage({ op: 'sub', ch: 'book', market: request.market, depth: 0, rid: ++rid }), {
            binary: true,
          });
        }
      });
      bursts++;
      const next = request.startAt + bursts * 1000;
      if (next < end) setTimeout(burst, Math.max(0, next - Date.now()));
      else resolve();
    };
    setTimeout(burst, Math.max(0, request.startAt - Date.now()));
  });
  // The answers of the last burst, or 10 s.
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, Math.max(0, end - Date.now()) + 10_000);
    wake = () => {
      if (Date.now() >= end && waiting() === 0) {
        clearTimeout(timer);
        resolve();
      }
    };
    wake();
  });
  result.unanswered = waiting();
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

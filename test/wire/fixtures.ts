import WebSocket from 'ws';
import { decodeMessage, encodeMessage } from '../../src/protocol/codec.ts';
import type { RunningExchange } from '../support/exchange.ts';
import { BTC_USDC as BTC_USDC_DEFINITION, listingOf } from '../support/markets.ts';

/** BTC-USDC as the actor tests define it (1 tick × 1 lot = 1 USDC minor unit; fees 10/20 bps). */
export const BTC_USDC = listingOf(BTC_USDC_DEFINITION);

/** ETH-USDC of the wire tests: unlike the actor tests' (tick 0.05, fees 5/25), a tick of 0.01 and no fees. */
export const ETH_USDC = {
  symbol: 'ETH-USDC',
  baseAsset: 'ETH',
  quoteAsset: 'USDC',
  priceDecimals: 2,
  qtyDecimals: 3,
  tickSize: '0.01',
  lotSize: '0.001',
  minQty: '0.001',
  maxQty: '1000',
};

/** Order-entry rates no test meets unless it means to (RATE_ORDERS_*). */
export const ORDER_RATES = { RATE_ORDERS_PER_S: '10000', RATE_ORDERS_BURST: '10000' };

/** The assets and markets every wire test starts from. */
export async function listMarkets(running: RunningExchange): Promise<void> {
  await running.asset('USDC', 6, 'stable');
  await running.asset('BTC', 8);
  await running.asset('ETH', 18);
  await running.market(BTC_USDC);
  await running.market(ETH_USDC);
}

/** A trader's raw socket, authenticated at upgrade (`?token=`). */
export async function traderSocket(running: RunningExchange, userId: string): Promise<RawSocket> {
  return RawSocket.open(`${running.ws}?token=${await running.token(userId, ['trader'])}`);
}

/** A user's balances as GET /balances answers them, by asset. */
export async function balancesOf(
  running: RunningExchange,
  userId: string,
): Promise<Map<string, Record<string, unknown>>> {
  const r = await running.request('GET', '/api/v1/balances', {
    token: await running.token(userId, ['trader']),
  });
  return new Map((r.body as Record<string, unknown>[]).map((b) => [String(b.asset), b]));
}

/** A raw socket speaking msgpack, for what the SDK would never send. */
export class RawSocket {
  readonly received: Record<string, unknown>[] = [];
  private waiters: (() => void)[] = [];
  closed = false;
  closeCode: number | undefined;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      const decoded = isBinary ? decodeMessage(new Uint8Array(data)) : { ok: false as const, reason: 'text' };
      this.received.push(decoded.ok ? decoded.message : { op: '<undecodable>', reason: decoded.reason });
      this.wake();
    });
    ws.on('close', (code: number) => {
      this.closed = true;
      this.closeCode = code;
      this.wake();
    });
  }

  static open(url: string): Promise<RawSocket> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      const socket = new RawSocket(ws);
      ws.once('open', () => resolve(socket));
      ws.once('error', reject);
    });
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  send(message: object): void {
    this.ws.send(encodeMessage(message));
  }

  sendRaw(bytes: Uint8Array | string, binary = true): void {
    this.ws.send(bytes, { binary });
  }

  /** Waits for the next message matching `match` after index `from`; returns it. */
  async next(
    match: (m: Record<string, unknown>) => boolean,
    timeoutMs = 5_000,
  ): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      // From the start each time: other waiters may have taken messages out meanwhile.
      const at = this.received.findIndex(match);
      if (at !== -1) return this.received.splice(at, 1)[0]!;
      if (this.closed) throw new Error(`socket closed (${this.closeCode}) while waiting`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out; received ${JSON.stringify(this.received).slice(0, 500)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Sends a request with `rid` and waits for the message echoing it. */
  async request(
    message: Record<string, unknown>,
    rid: number,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>> {
    this.send({ ...message, rid });
    return this.next((m) => m.rid === rid, timeoutMs);
  }

  close(): void {
    this.ws.close();
  }
}

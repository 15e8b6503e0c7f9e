/**
 * Order-entry load generator for bench/ws.ts: raw `ws` sockets (binary frames, the shared codec to
 * decode; places are prebuilt MessagePack templates with the `rid` patched in, so the generator
 * stays cheap), one authenticated connection per token (`?token=` at upgrade).
 *
 * Modes (IPC, see TraderRequest in common.ts):
 * - closed: every connection keeps `window` places outstanding, sending the next on each reply;
 *   counts `accepted` replies that arrive in the measured window.
 * - open: places paced at a fixed rate from a schedule; the latency of each is taken from its
 *   scheduled send time (so a stalled generator or server cannot hide its delay: no coordinated
 *   omission), for the places scheduled in the measured window.
 * - rest / take: the fan-out burst (resting sells of one lot at the mid, then buys that take them,
 *   one trade each); pairs: the paced fan-out source (a resting sell, then a buy that trades with it).
 *
 * Order mix (closed and open): 45% resting GTC limits 1..20 ticks off the mid on their own side
 * (buys below, sells above), 55% crossing IOC limits priced 25 ticks through the mid; 1..5 lots
 * each, random side. Nothing ever rests at or across the mid, so the price stays put, and crossing
 * orders take away about what resting ones add: the book stays bounded.
 */
import WebSocket from 'ws';
import { decodeMessage, encodeMessage } from '../../src/protocol/codec.ts';
import { Prng } from '../lib/prng.ts';
import {
  histogram,
  lots,
  MARKET,
  MID_TICKS,
  packHistogram,
  ticks,
  type PairsResult,
  type StepResult,
  type TraderRequest,
  type TraderResult,
} from './common.ts';

const reply = (message: TraderResult | PairsResult | StepResult | { type: 'connected' }): void => {
  process.send?.(message);
};

// ---------------------------------------------------------------- prebuilt places

/** A place with `rid` as its last key, written as a uint32 so it can be patched in place. */
class Template {
  private readonly bytes: Buffer;
  constructor(order: Record<string, string>) {
    this.bytes = Buffer.from(encodeMessage({ op: 'place', ...order, rid: 0xffff_ffff }));
    const tail = this.bytes.subarray(-5);
    if (tail[0] !== 0xce || tail.readUInt32BE(1) !== 0xffff_ffff)
      throw new Error('template: rid is not last');
  }
  /** A fresh frame with this rid (the socket may keep the buffer until written). */
  frame(rid: number): Buffer {
    const out = Buffer.from(this.bytes);
    out.writeUInt32BE(rid, out.length - 4);
    return out;
  }
}

function mixTemplates(seed: number, count: number): Template[] {
  const random = new Prng(seed);
  return Array.from({ length: count }, () => {
    const buy = random.chance(50);
    const qty = lots(1 + random.int(5));
    if (random.chance(45)) {
      const off = 1 + random.int(20);
      const price = ticks(buy ? MID_TICKS - off : MID_TICKS + off);
      return new Template({
        market: MARKET,
        side: buy ? 'buy' : 'sell',
        type: 'limit',
        price,
        qty,
        tif: 'GTC',
      });
    }
    const price = ticks(buy ? MID_TICKS + 25 : MID_TICKS - 25);
    return new Template({
      market: MARKET,
      side: buy ? 'buy' : 'sell',
      type: 'limit',
      price,
      qty,
      tif: 'IOC',
    });
  });
}

/** The fan-out source's orders: one lot at the mid (nothing else ever rests there). */
const SELL_AT_MID = new Template({
  market: MARKET,
  side: 'sell',
  type: 'limit',
  price: ticks(MID_TICKS),
  qty: lots(1),
});
const BUY_AT_MID = new Template({
  market: MARKET,
  side: 'buy',
  type: 'limit',
  price: ticks(MID_TICKS),
  qty: lots(1),
  tif: 'IOC',
});

/** The i-th order of a ladder of `levels` per side: buys below the mid, then sells above it. */
const ladderOrder =
  (market: string, levels: number) =>
  (i: number): Template => {
    const buy = i < levels;
    const off = 1 + (buy ? i : i - levels);
    return new Template({
      market,
      side: buy ? 'buy' : 'sell',
      type: 'limit',
      price: ticks(buy ? MID_TICKS - off : MID_TICKS + off),
      qty: lots(1),
    });
  };

// ---------------------------------------------------------------- connections

type Reply = { ok: true } | { ok: false; code: string; message: string };

class Conn {
  private rid = 0;
  /** rid → a number the mode chose (send or scheduled time, lane). */
  readonly pending = new Map<number, number>();
  onReply: (tag: number, reply: Reply, rid: number) => void = () => undefined;

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => {
      const decoded = decodeMessage(data);
      if (!decoded.ok) return;
      const m = decoded.message;
      const rid = m.rid;
      if (typeof rid !== 'number') return;
      const tag = this.pending.get(rid);
      if (tag === undefined) return;
      this.pending.delete(rid);
      if (m.op === 'accepted') this.onReply(tag, { ok: true }, rid);
      else this.onReply(tag, { ok: false, code: String(m.code), message: String(m.message) }, rid);
    });
  }

  send(template: Template, tag: number): void {
    const rid = ++this.rid;
    this.pending.set(rid, tag);
    this.ws.send(template.frame(rid), { binary: true });
  }
}

async function connect(url: string, token: string): Promise<Conn> {
  const ws = new WebSocket(`${url}?token=${encodeURIComponent(token)}`, { perMessageDeflate: false });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => {
      resolve();
    });
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => {
      reject(new Error(`upgrade refused: HTTP ${res.statusCode}`));
    });
  });
  ws.on('error', (error) => {
    process.stderr.write(`[trader] socket error: ${error.message}\n`);
  });
  return new Conn(ws);
}

// ---------------------------------------------------------------- modes

let conns: Conn[] = [];
const templates = mixTemplates(Number(process.argv[2] ?? '1'), 4096);
let nextTemplate = 0;
const template = (): Template => templates[nextTemplate++ & 4095]!;
/** performance.now() of an epoch-ms instant. */
const local = (epoch: number): number => epoch - performance.timeOrigin;
const epoch = (perf: number): number => perf + performance.timeOrigin;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

class Tally {
  accepted = 0;
  sent = 0;
  replied = 0;
  errors: Record<string, number> = {};
  firstError: string | undefined;
  readonly latency = histogram();
  readonly sendLag = histogram();
  error(reply: Reply & { ok: false }): void {
    this.errors[reply.code] = (this.errors[reply.code] ?? 0) + 1;
    this.firstError ??= `${reply.code}: ${reply.message}`;
  }
}

/** Waits until nothing is outstanding, or `ms` passed; counts what is left as `no_reply`. */
async function drain(tally: Tally, ms: number): Promise<void> {
  const until = performance.now() + ms;
  while (conns.some((c) => c.pending.size > 0) && performance.now() < until) await sleep(20);
  const left = conns.reduce((n, c) => n + c.pending.size, 0);
  if (left > 0) tally.errors.no_reply = (tally.errors.no_reply ?? 0) + left;
  for (const c of conns) c.pending.clear();
}

async function closedLoop(request: TraderRequest & { type: 'closed' }): Promise<TraderResult> {
  const tally = new Tally();
  const start = local(request.startAt);
  const from = start + request.warmupMs;
  const to = from + request.durationMs;
  for (const conn of conns) {
    conn.onReply = (sentAt, outcome) => {
      const now = performance.now();
      tally.replied++;
      if (now >= from && now < to) {
        if (outcome.ok) {
          tally.accepted++;
          tally.latency.recordValue(Math.max(1, Math.round((now - sentAt) * 1000)));
        } else tally.error(outcome);
      }
      if (now < to) {
        tally.sent++;
        conn.send(template(), now);
      }
    };
  }
  await sleep(start - performance.now());
  const now = performance.now();
  for (const conn of conns) {
    for (let i = 0; i < request.window; i++) {
      tally.sent++;
      conn.send(template(), now);
    }
  }
  await sleep(to - performance.now());
  await drain(tally, 10_000);
  return result(tally, from, to);
}

async function openLoop(request: TraderRequest & { type: 'open' }): Promise<TraderResult> {
  const tally = new Tally();
  const start = local(request.startAt);
  const from = start + request.warmupMs;
  const to = from + request.durationMs;
  const interval = 1000 / request.rate;
  for (const conn of conns) {
    conn.onReply = (scheduled, outcome) => {
      tally.replied++;
      if (scheduled < from || scheduled >= to) return;
      if (outcome.ok) {
        tally.accepted++;
        tally.latency.recordValue(Math.max(1, Math.round((performance.now() - scheduled) * 1000)));
      } else tally.error(outcome);
    };
  }
  let i = 0;
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const now = performance.now();
      for (;;) {
        const scheduled = start + i * interval;
        if (scheduled >= to) {
          resolve();
          return;
        }
        if (scheduled > now) break;
        if (scheduled >= from) tally.sendLag.recordValue(Math.max(1, Math.round((now - scheduled) * 1000)));
        tally.sent++;
        conns[i % conns.length]!.send(template(), scheduled);
        i++;
      }
      // Timers fire no sooner than 1 ms: orders due meanwhile go out together at the next tick,
      // their lateness counted in their latency (measured from the schedule).
      setTimeout(tick, Math.max(0, start + i * interval - performance.now()));
    };
    setTimeout(tick, Math.max(0, start - performance.now()));
  });
  await drain(tally, 10_000);
  return result(tally, from, to);
}

function result(tally: Tally, from: number, to: number): TraderResult {
  return {
    type: 'result',
    accepted: tally.accepted,
    errors: tally.errors,
    firstError: tally.firstError,
    sent: tally.sent,
    replied: tally.replied,
    windowStart: epoch(from),
    windowEnd: epoch(to),
    latency: packHistogram(tally.latency),
    sendLag: packHistogram(tally.sendLag),
  };
}

async function pairs(request: TraderRequest & { type: 'pairs' }): Promise<PairsResult> {
  const [maker, taker] = conns;
  if (maker === undefined || taker === undefined)
    throw new Error('pairs: needs two connections (maker, taker)');
  const sell = SELL_AT_MID;
  const buy = BUY_AT_MID;
  const tally = new Tally();
  let started = 0;
  let done = 0;
  const startAt = Date.now();
  await new Promise<void>((resolve) => {
    const startPair = (): void => {
      started++;
      maker.send(sell, 0);
    };
    maker.onReply = (_tag, outcome) => {
      if (!outcome.ok) tally.error(outcome);
      taker.send(buy, performance.now());
    };
    taker.onReply = (sentAt, outcome) => {
      if (!outcome.ok) tally.error(outcome);
      else tally.latency.recordValue(Math.max(1, Math.round((performance.now() - sentAt) * 1000)));
      done++;
      if (done === request.pairs) resolve();
      else if (request.rate === 0 && started < request.pairs) startPair();
    };
    if (request.rate === 0) {
      for (let l = 0; l < Math.min(request.lanes, request.pairs); l++) startPair();
      return;
    }
    const t0 = performance.now();
    const interval = 1000 / request.rate;
    const tick = (): void => {
      const now = performance.now();
      while (started < request.pairs && t0 + started * interval <= now) startPair();
      if (started < request.pairs) setTimeout(tick, Math.max(0, t0 + started * interval - performance.now()));
    };
    tick();
  });
  return {
    type: 'pairsDone',
    startAt,
    endAt: Date.now(),
    pairs: done,
    errors: tally.errors,
    firstError: tally.firstError,
    takerLatency: packHistogram(tally.latency),
  };
}

/** `count` places of one template (or of the i-th of a function) on one connection, `window` outstanding. */
async function step(
  conn: Conn,
  template: Template | ((i: number) => Template),
  count: number,
  window: number,
): Promise<StepResult> {
  const tally = new Tally();
  const startAt = Date.now();
  const nth = typeof template === 'function' ? template : () => template;
  let sent = 0;
  await new Promise<void>((resolve) => {
    conn.onReply = (_tag, outcome) => {
      tally.replied++;
      if (outcome.ok) tally.accepted++;
      else tally.error(outcome);
      if (tally.replied === count) resolve();
      else if (sent < count) conn.send(nth(sent++), 0);
    };
    for (; sent < Math.min(window, count); sent++) conn.send(nth(sent), 0);
  });
  return {
    type: 'stepDone',
    startAt,
    endAt: Date.now(),
    accepted: tally.accepted,
    errors: tally.errors,
    firstError: tally.firstError,
  };
}

process.on('message', (request: TraderRequest) => {
  void (async () => {
    switch (request.type) {
      case 'connect':
        conns = await Promise.all(request.tokens.map((token) => connect(request.url, token)));
        reply({ type: 'connected' });
        break;
      case 'closed':
        reply(await closedLoop(request));
        break;
      case 'open':
        reply(await openLoop(request));
        break;
      case 'pairs':
        reply(await pairs(request));
        break;
      case 'rest':
        reply(await step(conns[0]!, SELL_AT_MID, request.count, request.window));
        break;
      case 'take':
        reply(await step(conns[1]!, BUY_AT_MID, request.count, request.window));
        break;
      case 'ladder':
        reply(
          await step(
            conns[0]!,
            ladderOrder(request.market, request.levels),
            2 * request.levels,
            request.window,
          ),
        );
        break;
      case 'close':
        for (const c of conns) c.ws.close();
        process.exit(0);
    }
  })().catch((error: unknown) => {
    process.stderr.write(
      `[trader] ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  });
});
process.on('disconnect', () => process.exit(0));

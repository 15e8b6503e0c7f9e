import type { z } from 'zod/v4';
import type { Catalog } from '../actors/catalog.ts';
import type { Outcome } from '../protocol/errors.ts';
import { isPrivateChannel } from '../protocol/messages.ts';
import { topics } from '../protocol/topics.ts';
import type { Channel, SubRequest, UnsubRequest } from '../protocol/schemas.ts';
import { ACTORS_TOPIC } from './actorsChannel.ts';
import { refused } from './limitMetrics.ts';
import { isPrivateKey, type GatewayCounts, type GatewayLimits, type Socket } from './wsConnection.ts';
import { withRid, type Outbox } from './wsOutbox.ts';
import { requireRole, type Sessions } from './wsSession.ts';

const DEPTH_DEFAULT = 50;

/** What subscriptions read for their snapshots (src/marketdata/publisher.ts). */
export interface MarketDataReads {
  bookSnapshot(symbol: string, depth: number): object | undefined;
  lifecycleSnapshot(symbol: string): object | undefined;
  /** A halted market's `market_status`, sent after its lifecycle snapshot (transport/marketStatus.ts). */
  marketStatusSnapshot?(symbol: string): object | undefined;
  tickerSnapshot?(symbol: string): object | undefined;
  candleSnapshot?(symbol: string, interval: string): object | undefined;
  openOrders(userId: string): readonly object[];
  balances(userId: string): readonly object[];
  /**
   * Told which topics have subscribers, so publications nobody would receive are not built
   * (MarketDataPublisher.setAudience).
   */
  setAudience?(hasSubscribers: (topic: string) => boolean): void;
}

export interface SubscriptionSources {
  readonly catalog: Catalog;
  readonly marketData: MarketDataReads;
  /** The admin-only `actors` channel (src/transport/inspection.ts). */
  readonly actors?: { snapshot(): object } | undefined;
}

/**
 * `sub` and `unsub`: a public channel is a uWS topic per market and channel, a private one a topic
 * per user; each sub sends `subbed` and the channel's snapshot, then the stream continues it.
 */
export class Subscriptions {
  constructor(
    private readonly sources: SubscriptionSources,
    private readonly limits: GatewayLimits,
    private readonly counts: GatewayCounts,
    private readonly out: Outbox,
    private readonly sessions: Sessions,
  ) {}

  subscribe(ws: Socket, rid: number | undefined, request: z.infer<typeof SubRequest>): void {
    const { out, limits } = this;
    const conn = ws.getUserData();
    const { ch } = request;
    if (ch === 'actors') return this.#subscribeActors(ws, rid);
    const isPrivate = isPrivateChannel(ch);
    let topic: string;
    let snapshot: readonly object[];
    /** A book snapshot goes out as its shared frame. */
    let frame: Uint8Array | undefined;
    if (isPrivate) {
      const principal = this.sessions.principalOf(ws, conn);
      if (principal === undefined) return out.sendError(ws, rid, 'unauthorized', `channel ${ch} needs auth`);
      topic = topics.private(ch, principal.userId);
      const { marketData } = this.sources;
      snapshot =
        ch === 'orders'
          ? marketData.openOrders(principal.userId)
          : ch === 'balances'
            ? marketData.balances(principal.userId)
            : [];
    } else {
      if (request.market === undefined)
        return out.sendError(ws, rid, 'bad_request', `market is required for ${ch}`);
      const market = this.sources.catalog.market(request.market);
      // Pushes and topics name markets by symbol, whatever the client wrote.
      if (market === undefined)
        return out.sendError(ws, rid, 'unknown_market', `no market ${request.market}`);
      const symbol = market.definition.symbol;
      const found = this.#publicTopic(ch, symbol, request);
      if (!found.ok) return out.sendError(ws, rid, found.code, found.message);
      topic = found.value.topic;
      const message = found.value.snapshot;
      if (ch === 'book' && message !== undefined) frame = out.snapshotFrame(message);
      snapshot = message === undefined || frame !== undefined ? [] : [message];
      const status = ch === 'lifecycle' ? this.sources.marketData.marketStatusSnapshot?.(symbol) : undefined;
      if (status !== undefined) snapshot = [...snapshot, status];
    }
    const key = isPrivate ? ch : `${ch}|${request.market ?? ''}`;
    const previous = conn.subs.get(key);
    if (previous === undefined && conn.subs.size >= limits.maxSubscriptions) {
      return out.sendError(
        ws,
        rid,
        'too_many_subscriptions',
        `at most ${limits.maxSubscriptions} subscriptions`,
      );
    }
    // What the connection may ask the server to write: deep books cost more than shallow ones.
    if (frame !== undefined && !conn.snapshotBytes.take(performance.now(), frame.byteLength)) {
      refused('ws_snapshot_bytes');
      return out.sendError(
        ws,
        rid,
        'rate_limited',
        `at most ${limits.snapshotBytesPerSecond} bytes of snapshots per second`,
      );
    }
    if (previous !== undefined) ws.unsubscribe(previous);
    else this.counts.subscriptions++;
    conn.subs.set(key, topic);
    // subbed, the snapshot and the subscription in one synchronous step: no publication can fall
    // between the snapshot and the stream it continues.
    ws.cork(() => {
      out.send(ws, withRid({ op: 'subbed', ch, ...(isPrivate ? {} : { market: request.market }) }, rid));
      if (frame !== undefined) out.sendFrame(ws, frame);
      for (const message of snapshot) out.send(ws, message);
    });
    ws.subscribe(topic);
  }

  unsubscribe(ws: Socket, rid: number | undefined, request: z.infer<typeof UnsubRequest>): void {
    const conn = ws.getUserData();
    const isPrivate = isPrivateKey(request.ch);
    const key = isPrivate ? request.ch : `${request.ch}|${request.market ?? ''}`;
    const topic = conn.subs.get(key);
    if (topic !== undefined) {
      ws.unsubscribe(topic);
      conn.subs.delete(key);
      this.counts.subscriptions--;
    }
    return this.out.send(
      ws,
      withRid({ op: 'unsubbed', ch: request.ch, ...(isPrivate ? {} : { market: request.market }) }, rid),
    );
  }

  #subscribeActors(ws: Socket, rid: number | undefined): void {
    const { out, limits } = this;
    const conn = ws.getUserData();
    const denied = requireRole(this.sessions.principalOf(ws, conn), 'admin');
    if (denied !== undefined) return out.sendError(ws, rid, denied.code, denied.message);
    const actors = this.sources.actors;
    if (actors === undefined)
      return out.sendError(ws, rid, 'bad_request', 'the actors channel is not enabled');
    if (!conn.subs.has('actors') && conn.subs.size >= limits.maxSubscriptions) {
      return out.sendError(
        ws,
        rid,
        'too_many_subscriptions',
        `at most ${limits.maxSubscriptions} subscriptions`,
      );
    }
    if (!conn.subs.has('actors')) this.counts.subscriptions++;
    conn.subs.set('actors', ACTORS_TOPIC);
    ws.cork(() => {
      out.send(ws, withRid({ op: 'subbed', ch: 'actors' }, rid));
      out.send(ws, actors.snapshot());
    });
    ws.subscribe(ACTORS_TOPIC);
  }

  #publicTopic(
    ch: Channel,
    symbol: string,
    request: z.infer<typeof SubRequest>,
  ): Outcome<{ topic: string; snapshot: object | undefined }> {
    const { marketData } = this.sources;
    switch (ch) {
      case 'book': {
        const depth = request.depth ?? DEPTH_DEFAULT;
        return ok({ topic: topics.book(symbol, depth), snapshot: marketData.bookSnapshot(symbol, depth) });
      }
      case 'trades':
        return ok({ topic: topics.trades(symbol), snapshot: undefined });
      case 'lifecycle':
        return ok({ topic: topics.lifecycle(symbol), snapshot: marketData.lifecycleSnapshot(symbol) });
      case 'ticker':
        return ok({ topic: topics.ticker(symbol), snapshot: marketData.tickerSnapshot?.(symbol) });
      case 'candles': {
        const interval = request.interval ?? '1m';
        return ok({
          topic: topics.candles(symbol, interval),
          snapshot: marketData.candleSnapshot?.(symbol, interval),
        });
      }
      default:
        return { ok: false, code: 'bad_request', message: `${ch} is a private channel` };
    }
  }
}

function ok<T>(value: T): Outcome<T> {
  return { ok: true, value };
}

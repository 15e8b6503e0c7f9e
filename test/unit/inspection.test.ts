import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createActor, type InspectionEvent } from 'xstate';
import { marketLifecycleMachine, type LifecycleEvent } from '../../machines/marketLifecycle.ts';
import type { ActorInspection } from '../../src/actors/supervisor.ts';
import type { Publication } from '../../src/protocol/topics.ts';
import {
  ACTORS_TOPIC,
  createInspectionFeed,
  HISTORY_LIMIT,
  stateName,
  UPDATE_TRANSITIONS_LIMIT,
  type ActorsMessage,
  type InspectionFeedOptions,
} from '../../src/transport/inspection.ts';
import type { ActorsMessage as PageActorsMessage } from '../../web/actors/messages.ts';

/**
 * The `actors` channel's feed: the supervisor's inspection stream folded per market and published
 * at most once per throttle window, with real XState inspection events from the lifecycle machine.
 */

const THROTTLE = 100;
const actor = { id: 'admin-1', type: 'admin' } as const;

function harness(options: Partial<InspectionFeedOptions> = {}) {
  const published: ActorsMessage[] = [];
  const feed = createInspectionFeed({
    throttleMs: THROTTLE,
    now: () => Date.now(),
    publish: (publications: readonly Publication[]) => {
      for (const { topic, message } of publications) {
        expect(topic).toBe(ACTORS_TOPIC);
        published.push(message as ActorsMessage);
      }
    },
    ...options,
  });
  return { feed, published };
}

function batch(marketId: string, processed: number, extra: Partial<ActorInspection> = {}): ActorInspection {
  return {
    type: 'market.batch',
    marketId,
    symbol: `${marketId}-USDC`,
    state: 'active',
    batchSize: 10,
    mailboxDepth: 5,
    processed,
    ...extra,
  } as ActorInspection;
}

/** A real lifecycle actor whose inspection events go to the feed, as the market actor does. */
function lifecycleActor(marketId: string, inspect: (event: ActorInspection) => void) {
  const running = createActor(marketLifecycleMachine, {
    input: { marketId },
    inspect: (event: InspectionEvent) => {
      inspect({ type: 'xstate', marketId, event });
    },
  });
  running.start();
  return {
    send: (type: LifecycleEvent['type'], ts: number) => {
      running.send({ type, actor, ts } as LifecycleEvent);
    },
  };
}

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 });
});

afterEach(() => {
  vi.useRealTimers();
});

describe('inspection feed', () => {
  it('publishes the first change at once, then at most one message per window however hot the market', () => {
    const { feed, published } = harness();
    feed.inspect(batch('m1', 10));
    vi.advanceTimersByTime(0);
    expect(published).toHaveLength(1);

    // 2,000 batches over one second: 10 windows.
    for (let i = 0; i < 2_000; i++) {
      vi.advanceTimersByTime(0.5);
      feed.inspect(batch('m1', 20 + i * 10, { batchSize: i % 7, mailboxDepth: i }));
    }
    vi.advanceTimersByTime(THROTTLE);
    const updates = published.slice(1);
    expect(updates.length).toBeGreaterThanOrEqual(9);
    expect(updates.length).toBeLessThanOrEqual(11);
    for (let i = 1; i < published.length; i++) {
      expect(published[i]!.ts - published[i - 1]!.ts).toBeGreaterThanOrEqual(THROTTLE);
    }
    for (const message of published)
      expect(message.markets.filter((m) => m.marketId === 'm1')).toHaveLength(1);
  });

  it('coalesces a window: latest depth and batch size, processed per second over the window', () => {
    const { feed, published } = harness();
    feed.inspect(batch('m1', 0));
    vi.advanceTimersByTime(0);
    published.length = 0;
    // 500 commands in this window of 100 ms: 5,000/s.
    for (let i = 1; i <= 50; i++) {
      vi.advanceTimersByTime(1);
      feed.inspect(batch('m1', i * 10, { batchSize: i, mailboxDepth: 100 - i }));
    }
    vi.advanceTimersByTime(THROTTLE);
    expect(published).toHaveLength(1);
    const [market] = published[0]!.markets;
    expect(market).toMatchObject({
      marketId: 'm1',
      symbol: 'm1-USDC',
      lastBatchSize: 50,
      mailboxDepth: 50,
      // Each batch drained i commands and left 100 - i: 100 were waiting at once.
      peakMailboxDepth: 100,
      processed: 500,
      batches: 51,
      processedPerSec: 5_000,
    });
    expect(published[0]!.supervisor.processedPerSec).toBe(5_000);
  });

  it('sends one more message when a busy market goes quiet, so its rate falls to 0, then nothing', () => {
    const { feed, published } = harness();
    feed.inspect(batch('m1', 0));
    vi.advanceTimersByTime(0);
    vi.advanceTimersByTime(50);
    feed.inspect(batch('m1', 100));
    vi.advanceTimersByTime(THROTTLE);
    expect(published.at(-1)!.markets[0]!.processedPerSec).toBeGreaterThan(0);
    vi.advanceTimersByTime(THROTTLE);
    expect(published.at(-1)!.markets[0]!.processedPerSec).toBe(0);
    const count = published.length;
    vi.advanceTimersByTime(THROTTLE * 10);
    expect(published).toHaveLength(count);
  });

  it('reports the transitions XState takes, with their events, not the actor starting', () => {
    const { feed, published } = harness({ symbolOf: (id) => (id === 'm1' ? 'LUX-USDC' : undefined) });
    const market = lifecycleActor('m1', feed.inspect);
    vi.advanceTimersByTime(0);
    expect(published[0]!.markets[0]).toMatchObject({
      symbol: 'LUX-USDC',
      machine: 'marketLifecycle',
      state: 'draft',
      transitions: [],
    });

    market.send('lifecycle.submit', 5);
    market.send('lifecycle.approve', 6);
    vi.advanceTimersByTime(THROTTLE);
    const update = published.at(-1)!.markets[0]!;
    expect(update.state).toBe('approved');
    expect(update.transitions).toEqual([
      { from: 'draft', to: 'pending_approval', event: 'lifecycle.submit', ts: 5 },
      { from: 'pending_approval', to: 'approved', event: 'lifecycle.approve', ts: 6 },
    ]);

    market.send('lifecycle.activate', 7);
    vi.advanceTimersByTime(THROTTLE);
    expect(published.at(-1)!.markets[0]!.transitions).toEqual([
      { from: 'approved', to: 'activating', event: 'lifecycle.activate', ts: 7 },
    ]);

    // A new subscriber gets the current state and the history.
    const snapshot = feed.snapshot();
    expect(snapshot.kind).toBe('snapshot');
    expect(snapshot.markets[0]!.state).toBe('activating');
    expect(snapshot.markets[0]!.transitions.map((t) => t.to)).toEqual([
      'pending_approval',
      'approved',
      'activating',
    ]);
  });

  it('keeps the latest transitions of a flapping market and counts the others', () => {
    const { feed, published } = harness();
    const market = lifecycleActor('m1', feed.inspect);
    market.send('lifecycle.submit', 1);
    market.send('lifecycle.approve', 2);
    market.send('lifecycle.activate', 3);
    market.send('lifecycle.deployed', 4);
    vi.advanceTimersByTime(0);
    published.length = 0;
    vi.advanceTimersByTime(1);
    const flips = UPDATE_TRANSITIONS_LIMIT + 10;
    for (let i = 0; i < flips; i++) market.send(i % 2 === 0 ? 'lifecycle.pause' : 'lifecycle.resume', 10 + i);
    vi.advanceTimersByTime(THROTTLE);
    expect(published).toHaveLength(1);
    const update = published[0]!.markets[0]!;
    expect(update.transitions).toHaveLength(UPDATE_TRANSITIONS_LIMIT);
    expect(update.droppedTransitions).toBe(flips - UPDATE_TRANSITIONS_LIMIT);
    expect(update.transitions.at(-1)!.ts).toBe(10 + flips - 1);
  });

  it('marks a faulted market halted, flags transitions replayed while it recovers, counts recoveries', () => {
    const { feed, published } = harness();
    const market = lifecycleActor('m1', feed.inspect);
    market.send('lifecycle.submit', 1);
    vi.advanceTimersByTime(THROTTLE);
    feed.inspect({ type: 'market.fault', marketId: 'm1', symbol: 'M1-USDC', message: 'boom' });
    vi.advanceTimersByTime(THROTTLE);
    expect(published.at(-1)!.markets[0]).toMatchObject({ status: 'halted', faults: 1, lastFault: 'boom' });
    expect(published.at(-1)!.supervisor).toMatchObject({ halted: 1, faults: 1 });

    // The rebuild: a fresh actor restored at an earlier state, then the journal replayed into it.
    const rebuilt = lifecycleActor('m1', feed.inspect);
    rebuilt.send('lifecycle.submit', 1);
    feed.inspect({ type: 'market.recovered', marketId: 'm1', symbol: 'M1-USDC' });
    vi.advanceTimersByTime(THROTTLE);
    const update = published.at(-1)!;
    expect(update.markets[0]!.status).toBe('running');
    expect(update.markets[0]!.transitions).toEqual([
      { from: 'draft', to: 'pending_approval', event: 'lifecycle.submit', ts: 1, replayed: true },
    ]);
    expect(update.supervisor).toMatchObject({ halted: 0, recoveries: 1 });
  });

  it('sends only the markets that changed, and every market in the snapshot', () => {
    const { feed, published } = harness({
      markets: () => [
        { id: 'm1', symbol: 'A-USDC', state: 'active', status: 'running', mailboxDepth: 0, processed: 0 },
        { id: 'm3', symbol: 'C-USDC', state: 'paused', status: 'running', mailboxDepth: 2, processed: 9 },
      ],
    });
    feed.inspect(batch('m1', 1));
    feed.inspect(batch('m2', 1));
    vi.advanceTimersByTime(0);
    expect(published[0]!.markets.map((m) => m.marketId)).toEqual(['m1', 'm2']);
    vi.advanceTimersByTime(THROTTLE * 3);
    published.length = 0;
    feed.inspect(batch('m2', 2));
    vi.advanceTimersByTime(THROTTLE);
    expect(published[0]!.markets.map((m) => m.marketId)).toEqual(['m2']);

    const snapshot = feed.snapshot();
    expect(snapshot.markets.map((m) => [m.marketId, m.state, m.processed])).toEqual([
      ['m1', 'active', 1],
      ['m2', 'active', 2],
      ['m3', 'paused', 9],
    ]);
    expect(snapshot.supervisor.markets).toBe(3);
  });

  it('flush() publishes at once and stop() cancels what is pending', () => {
    const { feed, published } = harness();
    feed.inspect(batch('m1', 1));
    feed.flush();
    expect(published).toHaveLength(1);
    feed.inspect(batch('m1', 2));
    feed.stop();
    vi.advanceTimersByTime(THROTTLE * 5);
    expect(published).toHaveLength(1);
  });

  it("matches the page's reading of the messages", () => {
    const { feed } = harness();
    const forPage: PageActorsMessage = feed.snapshot();
    expect(forPage.op).toBe('actors');
  });

  it('names nested and parallel state values', () => {
    expect(stateName('active')).toBe('active');
    expect(stateName({ trading: 'open' })).toBe('trading.open');
    expect(stateName({ a: 'x', b: { c: 'y' } })).toBe('a.x,b.c.y');
  });

  it('refuses a nonsensical throttle', () => {
    expect(() => createInspectionFeed({ throttleMs: -1 })).toThrow(RangeError);
  });
});

describe('inspection feed ordering', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000 });
  });

  it('keeps the state XState reported when an older batch commits after it (pipelined batches)', () => {
    const { feed, published } = harness();
    const market = lifecycleActor('m1', feed.inspect);
    for (const type of [
      'lifecycle.submit',
      'lifecycle.approve',
      'lifecycle.activate',
      'lifecycle.deployed',
    ] as const) {
      market.send(type, 1);
    }
    // Batch N+1 pauses the market while batch N (processed when active) is still committing.
    market.send('lifecycle.pause', 2);
    feed.inspect(batch('m1', 10, { state: 'active' }));
    market.send('lifecycle.resume', 3);
    feed.inspect(batch('m1', 11, { state: 'active' }));
    vi.advanceTimersByTime(THROTTLE);
    // The last update with transitions (a later one may only bring the window's peak depth down).
    const update = published.findLast((m) => (m.markets[0]?.transitions.length ?? 0) > 0)!.markets[0]!;
    expect(published.at(-1)!.markets[0]!.state).toBe('active');
    expect(update.state).toBe('active');
    expect(update.transitions.slice(-2)).toEqual([
      { from: 'active', to: 'paused', event: 'lifecycle.pause', ts: 2 },
      { from: 'paused', to: 'active', event: 'lifecycle.resume', ts: 3 },
    ]);
  });

  it('takes the state from batches for a market XState has not reported', () => {
    const { feed, published } = harness();
    feed.inspect(batch('m9', 1, { state: 'paused' }));
    vi.advanceTimersByTime(0);
    expect(published[0]!.markets[0]!.state).toBe('paused');
  });
});

describe('seedHistory (finding 4, lifecycle history)', () => {
  it("replaces a market's recent transitions with the journaled ones, the latest HISTORY_LIMIT", () => {
    const { feed } = harness();
    const journaled = Array.from({ length: HISTORY_LIMIT + 3 }, (_, i) => ({
      from: i % 2 === 0 ? 'active' : 'paused',
      to: i % 2 === 0 ? 'paused' : 'active',
      event: i % 2 === 0 ? 'lifecycle.pause' : 'lifecycle.resume',
      ts: 1_000 + i,
    }));
    feed.seedHistory('m1', journaled);
    const market = feed.snapshot().markets.find((m) => m.marketId === 'm1');
    expect(market?.transitions).toEqual(journaled.slice(-HISTORY_LIMIT));
    feed.stop();
  });
});

import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  FINAL_WITHDRAWAL_STATES,
  nextWithdrawalState,
  WITHDRAWAL_EVENT_TYPES,
  type WithdrawalState,
} from '../../machines/withdrawal.ts';
import type { DomainEvent, WithdrawalChanged } from '../../src/events/domain.ts';
import type { CommittedBatch } from '../../src/events/stream.ts';
import type { Publication } from '../../src/protocol/topics.ts';
import { createInspectionFeed, type ActorsMessage } from '../../src/transport/inspection.ts';
import {
  FINISHED_KEEP_MS,
  FINISHED_LIMIT,
  SNAPSHOT_OPEN_LIMIT,
} from '../../src/transport/withdrawalActors.ts';

/**
 * Withdrawals on the `actors` channel (issue 15): the feed folds the committed stream's
 * `withdrawal.changed` into one actor per withdrawal of the `withdrawal` machine, publishes what
 * changed with its throttled messages, and lists the open and recently finished ones in a snapshot.
 */

const THROTTLE = 100;

function harness() {
  const published: ActorsMessage[] = [];
  const feed = createInspectionFeed({
    throttleMs: THROTTLE,
    now: () => Date.now(),
    decimalsOf: (asset) => (asset === 'NGN' ? 2 : undefined),
    publish: (publications: readonly Publication[]) => {
      for (const { message } of publications) published.push(message as ActorsMessage);
    },
  });
  let seq = 0;
  const commit = (...events: DomainEvent[]) => {
    feed.withdrawals.onCommitted({ batch: {}, events } as unknown as CommittedBatch);
  };
  const change = (withdrawalId: string, status: WithdrawalState, extra: Partial<WithdrawalChanged> = {}) =>
    ({
      type: 'withdrawal.changed',
      seq: ++seq,
      ts: Date.now(),
      entry: 0,
      userId: 'alice',
      withdrawalId,
      status,
      asset: 'NGN',
      amount: 12_345n,
      destination: 'RCP_1',
      ...extra,
    }) satisfies WithdrawalChanged;
  return { feed, published, commit, change };
}

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 });
});

afterEach(() => {
  vi.useRealTimers();
});

describe('withdrawals on the actors channel', () => {
  it('publishes each change of a withdrawal with the transition its machine took', () => {
    const { feed, published, commit, change } = harness();
    commit(change('w1', 'pending_approval'));
    vi.advanceTimersByTime(0);
    expect(published).toHaveLength(1);
    expect(published[0]!.withdrawals).toEqual([
      {
        withdrawalId: 'w1',
        machine: 'withdrawal',
        state: 'pending_approval',
        final: false,
        userId: 'alice',
        asset: 'NGN',
        amount: '123.45',
        ts: 1_000_000,
        transitions: [],
      },
    ]);

    vi.advanceTimersByTime(10);
    commit(change('w1', 'approved'));
    vi.advanceTimersByTime(5);
    commit(change('w1', 'submitted'));
    // Throttled: both in one message at the end of the window.
    expect(published).toHaveLength(1);
    vi.advanceTimersByTime(THROTTLE);
    expect(published).toHaveLength(2);
    const [update] = published[1]!.withdrawals!;
    expect(update).toMatchObject({ state: 'submitted', final: false });
    expect(update!.transitions).toEqual([
      { from: 'pending_approval', to: 'approved', event: 'withdrawal.approve', ts: 1_000_010 },
      { from: 'approved', to: 'submitted', event: 'withdrawal.submit', ts: 1_000_015 },
    ]);

    vi.advanceTimersByTime(THROTTLE);
    commit(change('w1', 'failed', { reason: 'provider down' }));
    vi.advanceTimersByTime(THROTTLE);
    expect(published).toHaveLength(3);
    expect(published[2]!.withdrawals![0]).toMatchObject({
      state: 'failed',
      final: true,
      reason: 'provider down',
      transitions: [{ from: 'submitted', to: 'failed', event: 'withdrawal.fail' }],
    });
    // Markets' messages carry no withdrawals when none changed; a repeated change is no change.
    commit(change('w1', 'failed'));
    vi.advanceTimersByTime(THROTTLE * 2);
    expect(published).toHaveLength(3);

    const snapshot = feed.snapshot();
    expect(snapshot.withdrawals).toHaveLength(1);
    expect(snapshot.withdrawals![0]!.transitions.map((t) => `${t.from}>${t.to}`)).toEqual([
      'pending_approval>approved',
      'approved>submitted',
      'submitted>failed',
    ]);
    feed.stop();
  });

  it('lists the withdrawals open at start, and takes their next change from the seeded state', () => {
    const { feed, published, commit, change } = harness();
    feed.seedWithdrawals([
      { withdrawalId: 'w1', userId: 'bob', asset: 'NGN', amount: 500n, status: 'approved' },
      { withdrawalId: 'w2', userId: 'bob', asset: 'USD', amount: 7n, status: 'pending_approval' },
    ]);
    expect(feed.snapshot().withdrawals!.map((w) => [w.withdrawalId, w.state, w.amount])).toEqual([
      ['w1', 'approved', '5.00'],
      // An asset of unknown decimals: 2.
      ['w2', 'pending_approval', '0.07'],
    ]);
    vi.advanceTimersByTime(0);
    expect(published[0]!.withdrawals).toHaveLength(2);
    commit(change('w1', 'submitted'));
    // A withdrawal heard of only in a later state: from `unknown`.
    commit(change('w3', 'approved'));
    vi.advanceTimersByTime(THROTTLE);
    const byId = new Map(published[1]!.withdrawals!.map((w) => [w.withdrawalId, w]));
    expect(byId.get('w1')!.transitions).toMatchObject([{ from: 'approved', to: 'submitted' }]);
    expect(byId.get('w3')!.transitions).toMatchObject([
      { from: 'unknown', to: 'approved', event: 'withdrawal.approve' },
    ]);
    feed.stop();
  });

  it('keeps finished withdrawals a while and a few of them, and bounds a snapshot', () => {
    const { feed, commit, change } = harness();
    for (let i = 0; i < FINISHED_LIMIT + 5; i++) {
      commit(change(`done-${i}`, 'pending_approval'), change(`done-${i}`, 'rejected'));
      vi.advanceTimersByTime(1);
    }
    let finished = feed.snapshot().withdrawals!.filter((w) => w.final);
    expect(finished).toHaveLength(FINISHED_LIMIT);
    // The oldest left first.
    expect(finished.map((w) => w.withdrawalId)).not.toContain('done-0');
    expect(finished.map((w) => w.withdrawalId)).toContain(`done-${FINISHED_LIMIT + 4}`);

    for (let i = 0; i < SNAPSHOT_OPEN_LIMIT + 3; i++) commit(change(`open-${i}`, 'pending_approval'));
    vi.advanceTimersByTime(FINISHED_KEEP_MS + 1);
    const snapshot = feed.snapshot();
    finished = snapshot.withdrawals!.filter((w) => w.final);
    expect(finished).toEqual([]);
    expect(snapshot.withdrawals).toHaveLength(SNAPSHOT_OPEN_LIMIT);
    expect(snapshot.withdrawalsOmitted).toBe(3);
    feed.stop();
  });

  it('shows each withdrawal in the state its last change left it, by transitions its machine allows', () => {
    // Walks of the machine for a few withdrawals, interleaved, with repeats (a retried job's
    // change journaled twice is one state).
    const step = fc.record({
      id: fc.integer({ min: 0, max: 4 }),
      event: fc.constantFrom(...WITHDRAWAL_EVENT_TYPES),
      repeat: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(step, { maxLength: 40 }), (steps) => {
        const { feed, published, commit, change } = harness();
        const reference = new Map<string, WithdrawalState>();
        for (const { id, event, repeat } of steps) {
          const withdrawalId = `w${id}`;
          const from = reference.get(withdrawalId);
          if (from === undefined) {
            reference.set(withdrawalId, 'pending_approval');
            commit(change(withdrawalId, 'pending_approval'));
            continue;
          }
          const to = nextWithdrawalState(from, { type: event });
          if (to === undefined) continue;
          reference.set(withdrawalId, to);
          commit(change(withdrawalId, to));
          if (repeat) commit(change(withdrawalId, to));
          vi.advanceTimersByTime(7);
        }
        vi.advanceTimersByTime(THROTTLE);
        const shown = new Map(feed.snapshot().withdrawals!.map((w) => [w.withdrawalId, w]));
        expect(new Map([...shown].map(([id, w]) => [id, w.state]))).toEqual(reference);
        for (const w of shown.values()) {
          expect(w.final).toBe(FINAL_WITHDRAWAL_STATES.includes(w.state as WithdrawalState));
        }
        // Every transition published is one the machine takes, each state left as it was entered
        // (every withdrawal here starts in pending_approval).
        const seen = new Map<string, string>();
        for (const message of published) {
          for (const w of message.withdrawals ?? []) {
            for (const t of w.transitions) {
              expect(nextWithdrawalState(t.from as WithdrawalState, { type: t.event } as never)).toBe(t.to);
              expect(t.from).toBe(seen.get(w.withdrawalId) ?? 'pending_approval');
              seen.set(w.withdrawalId, t.to);
            }
            if (w.transitions.length === 0) seen.set(w.withdrawalId, w.state);
            expect(seen.get(w.withdrawalId)).toBe(w.state);
          }
        }
        feed.stop();
      }),
      { numRuns: 200 },
    );
  });
});

import { PATH_TO } from '../support/markets.ts';
import { createActor, initialTransition, transition } from 'xstate';
import { describe, expect, it, vi } from 'vitest';
import {
  applyLifecycleEvent,
  LIFECYCLE_EVENT_TYPES,
  LIFECYCLE_STATES,
  lifecycleState,
  marketLifecycleMachine,
  restoreLifecycleSnapshot,
} from '../../machines/marketLifecycle.ts';
import type {
  LifecycleActor,
  LifecycleContext,
  LifecycleEvent,
  LifecycleEventType,
  LifecycleNotice,
  LifecycleSnapshot,
  LifecycleState,
} from '../../machines/marketLifecycle.ts';
import { acceptsOrder, ORDER_ACTIONS, ordersAccepted } from '../../machines/marketLifecyclePolicy.ts';
import type { OrderAction } from '../../machines/marketLifecyclePolicy.ts';
import { MARKET_STATUSES } from '../../src/protocol/messages.ts';

const MARKET_ID = 'mkt-gold-usdc';
const ADMIN: LifecycleActor = { id: 'admin-1', type: 'admin' };
const SYSTEM: LifecycleActor = { id: 'deploy-worker', type: 'system' };
const CONTRACT = '0x5FbDB2315678afecb367f032d93F642f64180aa3';
const TX_HASH = '0x9c2d7c6b0f3a1e8d4b5a6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f';

function lifecycleEvent(type: LifecycleEventType, ts: number, reason?: string): LifecycleEvent {
  const actor = type === 'lifecycle.deployed' || type === 'lifecycle.deploy_failed' ? SYSTEM : ADMIN;
  const base = { actor, ts, ...(reason === undefined ? {} : { reason }) };
  switch (type) {
    case 'lifecycle.deployed':
      return { ...base, type, contractAddress: CONTRACT, txHash: TX_HASH };
    case 'lifecycle.deploy_failed':
      return { ...base, type, error: 'nonce too low after 5 attempts' };
    default:
      return { ...base, type };
  }
}

/** Every legal (state, event) pair and its target; every pair not listed must be rejected. */
const LEGAL: Readonly<Record<LifecycleState, Partial<Record<LifecycleEventType, LifecycleState>>>> = {
  draft: { 'lifecycle.submit': 'pending_approval' },
  pending_approval: { 'lifecycle.approve': 'approved', 'lifecycle.reject': 'rejected' },
  approved: { 'lifecycle.activate': 'activating' },
  rejected: {},
  activating: { 'lifecycle.deployed': 'active', 'lifecycle.deploy_failed': 'approved' },
  active: { 'lifecycle.pause': 'paused', 'lifecycle.archive': 'archived' },
  paused: { 'lifecycle.resume': 'active', 'lifecycle.archive': 'archived' },
  archived: {},
};

const T0 = 1_700_000_000_000;

function initial(): LifecycleSnapshot {
  const [snapshot, actions] = initialTransition(marketLifecycleMachine, { marketId: MARKET_ID });
  expect(actions).toEqual([]);
  return snapshot;
}

function reach(state: LifecycleState): LifecycleSnapshot {
  let snapshot = initial();
  PATH_TO[state].forEach((type, i) => {
    const result = applyLifecycleEvent(snapshot, lifecycleEvent(type, T0 + i * 1000, `step ${i}`));
    if (!result.ok) throw new Error(result.error.message);
    snapshot = result.snapshot;
  });
  expect(lifecycleState(snapshot)).toBe(state);
  return snapshot;
}

/** Value, status and context: what must not move on a rejected event and must match after a rebuild. */
function observable(snapshot: LifecycleSnapshot) {
  return structuredClone({ value: snapshot.value, status: snapshot.status, context: snapshot.context });
}

/** The context fields a transition into `to` by `type` sets, beyond seq and lastTransition. */
function expectedFacts(type: LifecycleEventType, reason: string): Partial<LifecycleContext> {
  switch (type) {
    case 'lifecycle.reject':
      return { rejectedReason: reason };
    case 'lifecycle.deployed':
      return { contractAddress: CONTRACT, deploymentTxHash: TX_HASH, deployError: undefined };
    case 'lifecycle.deploy_failed':
      return { deployError: 'nonce too low after 5 attempts' };
    default:
      return {};
  }
}

describe('market lifecycle: the protocol names its states', () => {
  // The machine imports nothing of src/ and the protocol bundles for browsers without xstate, so
  // each holds the list: this keeps them one list.
  it("MARKET_STATUSES of the protocol are the machine's states, in order", () => {
    expect([...MARKET_STATUSES]).toEqual([...LIFECYCLE_STATES]);
  });
});

describe('market lifecycle: initial snapshot', () => {
  it('starts in draft with seq 0 and no lifecycle facts', () => {
    const snapshot = initial();
    expect(snapshot.value).toBe('draft');
    expect(snapshot.status).toBe('active');
    expect(snapshot.context).toEqual({ marketId: MARKET_ID, seq: 0 });
  });
});

describe('market lifecycle: state × event matrix', () => {
  const cases = LIFECYCLE_STATES.flatMap((state) => LIFECYCLE_EVENT_TYPES.map((type) => ({ state, type })));

  it('covers all 8 states × 9 events, 10 of them legal', () => {
    expect(cases).toHaveLength(72);
    expect(cases.filter(({ state, type }) => LEGAL[state][type] !== undefined)).toHaveLength(10);
  });

  it.each(cases)('$state + $type', ({ state, type }) => {
    const before = reach(state);
    const frozen = observable(before);
    const ts = T0 + 99_000;
    const event = lifecycleEvent(type, ts, 'matrix reason');
    const target = LEGAL[state][type];
    const result = applyLifecycleEvent(before, event);

    expect(observable(before)).toEqual(frozen);

    if (target === undefined) {
      expect(result).toEqual({
        ok: false,
        error: {
          code: 'invalid_transition',
          message: `market ${MARKET_ID} is ${state}: ${type} is not accepted`,
          marketId: MARKET_ID,
          state,
          event: type,
        },
      });
      // The machine itself ignores it too: the gate and the graph agree.
      const [ignored, actions] = transition(marketLifecycleMachine, before, event);
      expect(observable(ignored)).toEqual(frozen);
      expect(actions).toEqual([]);
      return;
    }

    if (!result.ok) throw new Error(result.error.message);
    const lastTransition = {
      from: state,
      to: target,
      event: type,
      ts,
      actor: event.actor,
      reason: 'matrix reason',
    };
    expect(result.snapshot.value).toBe(target);
    expect(result.snapshot.status).toBe(target === 'rejected' || target === 'archived' ? 'done' : 'active');
    expect(result.snapshot.context).toEqual({
      ...frozen.context,
      ...expectedFacts(type, 'matrix reason'),
      seq: frozen.context.seq + 1,
      lastTransition,
    });
    const { lastTransition: recorded, ...facts } = result.snapshot.context;
    expect(recorded).toEqual(lastTransition);
    const notice: LifecycleNotice = { ...facts, ...lastTransition };
    expect(result.actions.map((a) => ({ type: a.type, params: a.params }))).toEqual([
      { type: 'notifyTransition', params: notice },
    ]);
  });
});

describe('market lifecycle: context', () => {
  it('counts every transition in seq and records the last one', () => {
    const archived = reach('archived');
    expect(archived.context.seq).toBe(PATH_TO.archived.length);
    expect(archived.context.lastTransition).toEqual({
      from: 'active',
      to: 'archived',
      event: 'lifecycle.archive',
      ts: T0 + 4000,
      actor: ADMIN,
      reason: 'step 4',
    });
  });

  it('leaves reason out of lastTransition when the event has none', () => {
    const result = applyLifecycleEvent(initial(), lifecycleEvent('lifecycle.submit', T0));
    if (!result.ok) throw new Error(result.error.message);
    expect(result.snapshot.context.lastTransition).toEqual({
      from: 'draft',
      to: 'pending_approval',
      event: 'lifecycle.submit',
      ts: T0,
      actor: ADMIN,
    });
  });

  it('keeps the deploy error through an admin retry and clears it once deployed', () => {
    let snapshot = reach('activating');
    const steps: [LifecycleEventType, LifecycleState, string | undefined][] = [
      ['lifecycle.deploy_failed', 'approved', 'nonce too low after 5 attempts'],
      ['lifecycle.activate', 'activating', 'nonce too low after 5 attempts'],
      ['lifecycle.deployed', 'active', undefined],
    ];
    steps.forEach(([type, state, deployError], i) => {
      const result = applyLifecycleEvent(snapshot, lifecycleEvent(type, T0 + 10_000 + i));
      if (!result.ok) throw new Error(result.error.message);
      snapshot = result.snapshot;
      expect(snapshot.value).toBe(state);
      expect(snapshot.context.deployError).toBe(deployError);
    });
    expect(snapshot.context.seq).toBe(PATH_TO.activating.length + 3);
    expect(snapshot.context.contractAddress).toBe(CONTRACT);
    expect(snapshot.context.deploymentTxHash).toBe(TX_HASH);
  });

  it('is deterministic: the same events give the same snapshot', () => {
    expect(observable(reach('paused'))).toEqual(observable(reach('paused')));
  });
});

describe('market lifecycle: provided notifyTransition', () => {
  it('is called once per transition with the transition details, in order', () => {
    const notices: LifecycleNotice[] = [];
    const notify = vi.fn((_args: unknown, notice: LifecycleNotice) => {
      notices.push(notice);
    });
    const machine = marketLifecycleMachine.provide({ actions: { notifyTransition: notify } });
    const actor = createActor(machine, { input: { marketId: MARKET_ID } }).start();

    PATH_TO.paused.forEach((type, i) => {
      actor.send(lifecycleEvent(type, T0 + i, `why ${i}`));
    });
    actor.send(lifecycleEvent('lifecycle.submit', T0 + 50)); // illegal in paused: no notice
    actor.send(lifecycleEvent('lifecycle.archive', T0 + 60, 'delisted'));

    expect(actor.getSnapshot().value).toBe('archived');
    expect(actor.getSnapshot().status).toBe('done');
    expect(notify).toHaveBeenCalledTimes(6);
    expect(notices.map((n) => [n.seq, n.from, n.to, n.event])).toEqual([
      [1, 'draft', 'pending_approval', 'lifecycle.submit'],
      [2, 'pending_approval', 'approved', 'lifecycle.approve'],
      [3, 'approved', 'activating', 'lifecycle.activate'],
      [4, 'activating', 'active', 'lifecycle.deployed'],
      [5, 'active', 'paused', 'lifecycle.pause'],
      [6, 'paused', 'archived', 'lifecycle.archive'],
    ]);
    expect(notices[3]).toEqual({
      marketId: MARKET_ID,
      seq: 4,
      from: 'activating',
      to: 'active',
      event: 'lifecycle.deployed',
      ts: T0 + 3,
      actor: SYSTEM,
      reason: 'why 3',
      contractAddress: CONTRACT,
      deploymentTxHash: TX_HASH,
    });
    expect(notices[5]).toMatchObject({ seq: 6, ts: T0 + 60, actor: ADMIN, reason: 'delisted' });
  });

  it('is a no-op by default', () => {
    const actor = createActor(marketLifecycleMachine, { input: { marketId: MARKET_ID } }).start();
    actor.send(lifecycleEvent('lifecycle.submit', T0));
    expect(actor.getSnapshot().value).toBe('pending_approval');
  });
});

describe('market lifecycle: order acceptance', () => {
  const EXPECTED: Readonly<Record<LifecycleState, readonly OrderAction[]>> = {
    draft: [],
    pending_approval: [],
    approved: [],
    rejected: [],
    activating: [],
    active: ['place', 'amend', 'cancel', 'cancel_all'],
    paused: ['cancel', 'cancel_all'],
    archived: [],
  };

  it.each(LIFECYCLE_STATES)('%s', (state) => {
    expect(ordersAccepted(state)).toEqual(EXPECTED[state]);
    for (const action of ORDER_ACTIONS) {
      expect(acceptsOrder(state, action)).toBe(EXPECTED[state].includes(action));
    }
  });

  it('answers from the snapshot the machine reached', () => {
    expect(ordersAccepted(lifecycleState(reach('paused')))).toEqual(['cancel', 'cancel_all']);
  });
});

describe('market lifecycle: snapshot rebuilt for recovery', () => {
  it.each(LIFECYCLE_STATES)('a rebuilt %s snapshot behaves like the one reached by events', (state) => {
    const reached = reach(state);
    const persisted = structuredClone({ value: lifecycleState(reached), context: reached.context });
    const rebuilt = restoreLifecycleSnapshot(persisted.value, persisted.context);

    expect(observable(rebuilt)).toEqual(observable(reached));
    for (const type of LIFECYCLE_EVENT_TYPES) {
      const event = lifecycleEvent(type, T0 + 123_000, 'after recovery');
      const fromRebuilt = applyLifecycleEvent(rebuilt, event);
      const fromReached = applyLifecycleEvent(reached, event);
      expect(rebuilt.can(event)).toBe(reached.can(event));
      if (fromRebuilt.ok && fromReached.ok) {
        expect(observable(fromRebuilt.snapshot)).toEqual(observable(fromReached.snapshot));
        expect(fromRebuilt.actions.map((a) => a.params)).toEqual(fromReached.actions.map((a) => a.params));
      } else {
        expect(fromRebuilt).toEqual(fromReached);
      }
    }
  });

  it('resumes a live actor with the provided notify from a rebuilt snapshot', () => {
    const reached = reach('paused');
    const notify = vi.fn((_args: unknown, notice: LifecycleNotice) => notice.seq);
    const machine = marketLifecycleMachine.provide({ actions: { notifyTransition: notify } });
    const snapshot = restoreLifecycleSnapshot('paused', structuredClone(reached.context), machine);
    // The types require input even with a snapshot; XState ignores it when restoring.
    const actor = createActor(machine, { snapshot, input: { marketId: MARKET_ID } }).start();

    actor.send(lifecycleEvent('lifecycle.resume', T0 + 200_000, 'issuer fixed disclosure'));

    expect(actor.getSnapshot().value).toBe('active');
    expect(notify).toHaveBeenCalledTimes(1);
    expect(notify.mock.calls[0]?.[1]).toMatchObject({
      marketId: MARKET_ID,
      seq: reached.context.seq + 1,
      from: 'paused',
      to: 'active',
      event: 'lifecycle.resume',
    });
  });

  it('runs the provided notify through the pure transition when rebuilt with that machine', () => {
    const notify = vi.fn();
    const machine = marketLifecycleMachine.provide({ actions: { notifyTransition: notify } });
    const rebuilt = restoreLifecycleSnapshot('draft', { marketId: MARKET_ID, seq: 0 }, machine);
    const result = applyLifecycleEvent(rebuilt, lifecycleEvent('lifecycle.submit', T0));
    if (!result.ok) throw new Error(result.error.message);
    for (const action of result.actions) action.exec?.(action.info, action.params);
    expect(notify).toHaveBeenCalledTimes(1);
  });
});

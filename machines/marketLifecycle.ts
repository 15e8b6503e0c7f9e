import { assertEvent, assign, setup, transition } from 'xstate';
import type { ExecutableActionsFrom, SnapshotFrom } from 'xstate';

/**
 * Market lifecycle (DESIGN.md "Lifecycle"): what a market is allowed to become next.
 * Pure definition: time, actor and reasons come in with the event; effects (audit rows,
 * `lifecycle` channel) are provided as `notifyTransition` when the market actor is created.
 */

export const LIFECYCLE_STATES = [
  'draft',
  'pending_approval',
  'approved',
  'rejected',
  'activating',
  'active',
  'paused',
  'archived',
] as const;
export type LifecycleState = (typeof LIFECYCLE_STATES)[number];

export const LIFECYCLE_EVENT_TYPES = [
  'lifecycle.submit',
  'lifecycle.approve',
  'lifecycle.reject',
  'lifecycle.activate',
  'lifecycle.deployed',
  'lifecycle.deploy_failed',
  'lifecycle.pause',
  'lifecycle.resume',
  'lifecycle.archive',
] as const;
export type LifecycleEventType = (typeof LIFECYCLE_EVENT_TYPES)[number];

export interface LifecycleActor {
  readonly id: string;
  readonly type: 'admin' | 'issuer' | 'system' | 'compliance';
}

/** Fields every lifecycle event carries; `ts` is epoch ms chosen by the caller, never read here. */
export interface LifecycleEventBase {
  readonly actor: LifecycleActor;
  readonly reason?: string;
  readonly ts: number;
  /**
   * What the caller knows of the decision (a webhook's event id and source, an admin's note):
   * journaled with the event, so the audit trail (GET /markets/:id/events) is read from the
   * journal alone. Plain JSON; never read here.
   */
  readonly metadata?: Readonly<Record<string, unknown>>;
}

export type LifecycleEvent =
  | (LifecycleEventBase & { readonly type: 'lifecycle.submit' })
  | (LifecycleEventBase & { readonly type: 'lifecycle.approve' })
  | (LifecycleEventBase & { readonly type: 'lifecycle.reject' })
  | (LifecycleEventBase & { readonly type: 'lifecycle.activate' })
  | (LifecycleEventBase & {
      readonly type: 'lifecycle.deployed';
      readonly contractAddress: string;
      readonly txHash: string;
    })
  | (LifecycleEventBase & { readonly type: 'lifecycle.deploy_failed'; readonly error: string })
  | (LifecycleEventBase & { readonly type: 'lifecycle.pause' })
  | (LifecycleEventBase & { readonly type: 'lifecycle.resume' })
  | (LifecycleEventBase & { readonly type: 'lifecycle.archive' });

export interface LifecycleTransition {
  readonly from: LifecycleState;
  readonly to: LifecycleState;
  readonly event: LifecycleEventType;
  readonly ts: number;
  readonly actor: LifecycleActor;
  readonly reason?: string;
}

export interface LifecycleContext {
  readonly marketId: string;
  /** Number of transitions taken so far; the audit sequence of the market's lifecycle. */
  readonly seq: number;
  readonly lastTransition?: LifecycleTransition;
  readonly rejectedReason?: string;
  /** Last deployment failure; kept in `approved` and `activating` so the admin sees why, cleared on success. */
  readonly deployError?: string;
  readonly contractAddress?: string;
  readonly deploymentTxHash?: string;
}

export interface LifecycleInput {
  readonly marketId: string;
}

/** What `notifyTransition` receives: one audit row / `lifecycle` channel message. */
export interface LifecycleNotice extends LifecycleTransition {
  readonly marketId: string;
  readonly seq: number;
  readonly rejectedReason?: string;
  readonly deployError?: string;
  readonly contractAddress?: string;
  readonly deploymentTxHash?: string;
}

export interface InvalidTransition {
  readonly code: 'invalid_transition';
  readonly message: string;
  readonly marketId: string;
  readonly state: LifecycleState;
  readonly event: LifecycleEventType;
}

interface TransitionEdge {
  readonly from: LifecycleState;
  readonly to: LifecycleState;
}

function recordedTransition(context: LifecycleContext, event: LifecycleEvent, edge: TransitionEdge) {
  const transition: LifecycleTransition = {
    from: edge.from,
    to: edge.to,
    event: event.type,
    ts: event.ts,
    actor: event.actor,
    ...(event.reason === undefined ? {} : { reason: event.reason }),
  };
  return { seq: context.seq + 1, lastTransition: transition };
}

/** Runs after `recordTransition` in the same transition, so `lastTransition` is the one just taken. */
function transitionNotice({ context }: { context: LifecycleContext }): LifecycleNotice {
  const { marketId, seq, lastTransition, ...facts } = context;
  if (lastTransition === undefined) {
    throw new Error(`market ${marketId}: notifyTransition ran before recordTransition`);
  }
  return { marketId, seq, ...lastTransition, ...facts };
}

/** Default `notifyTransition`: the market actor provides the real effect (publish + audit row). */
const discardNotice: (args: unknown, notice: LifecycleNotice) => void = () => undefined;

export const marketLifecycleMachine = setup({
  types: {
    context: {} as LifecycleContext,
    events: {} as LifecycleEvent,
    input: {} as LifecycleInput,
  },
  actions: {
    recordTransition: assign(({ context, event }, edge: TransitionEdge) =>
      recordedTransition(context, event, edge),
    ),
    storeRejection: assign(({ event }) => ({ rejectedReason: event.reason })),
    storeDeployment: assign(({ event }) => {
      assertEvent(event, 'lifecycle.deployed');
      return {
        contractAddress: event.contractAddress,
        deploymentTxHash: event.txHash,
        deployError: undefined,
      };
    }),
    storeDeployError: assign(({ event }) => {
      assertEvent(event, 'lifecycle.deploy_failed');
      return { deployError: event.error };
    }),
    notifyTransition: discardNotice,
  },
}).createMachine({
  id: 'marketLifecycle',
  initial: 'draft',
  context: ({ input }) => ({ marketId: input.marketId, seq: 0 }),
  states: {
    draft: {
      on: {
        'lifecycle.submit': {
          target: 'pending_approval',
          actions: [
            { type: 'recordTransition', params: { from: 'draft', to: 'pending_approval' } },
            { type: 'notifyTransition', params: transitionNotice },
          ],
        },
      },
    },
    pending_approval: {
      on: {
        'lifecycle.approve': {
          target: 'approved',
          actions: [
            { type: 'recordTransition', params: { from: 'pending_approval', to: 'approved' } },
            { type: 'notifyTransition', params: transitionNotice },
          ],
        },
        'lifecycle.reject': {
          target: 'rejected',
          actions: [
            'storeRejection',
            { type: 'recordTransition', params: { from: 'pending_approval', to: 'rejected' } },
            { type: 'notifyTransition', params: transitionNotice },
          ],
        },
      },
    },
    approved: {
      on: {
        'lifecycle.activate': {
          target: 'activating',
          actions: [
            { type: 'recordTransition', params: { from: 'approved', to: 'activating' } },
            { type: 'notifyTransition', params: transitionNotice },
          ],
        },
      },
    },
    rejected: { type: 'final' },
    activating: {
      on: {
        'lifecycle.deployed': {
          target: 'active',
          actions: [
            'storeDeployment',
            { type: 'recordTransition', params: { from: 'activating', to: 'active' } },
            { type: 'notifyTransition', params: transitionNotice },
          ],
        },
        'lifecycle.deploy_failed': {
          target: 'approved',
          actions: [
            'storeDeployError',
            { type: 'recordTransition', params: { from: 'activating', to: 'approved' } },
            { type: 'notifyTransition', params: transitionNotice },
          ],
        },
      },
    },
    active: {
      on: {
        'lifecycle.pause': {
          target: 'paused',
          actions: [
            { type: 'recordTransition', params: { from: 'active', to: 'paused' } },
            { type: 'notifyTransition', params: transitionNotice },
          ],
        },
        'lifecycle.archive': {
          target: 'archived',
          actions: [
            { type: 'recordTransition', params: { from: 'active', to: 'archived' } },
            { type: 'notifyTransition', params: transitionNotice },
          ],
        },
      },
    },
    paused: {
      on: {
        'lifecycle.resume': {
          target: 'active',
          actions: [
            { type: 'recordTransition', params: { from: 'paused', to: 'active' } },
            { type: 'notifyTransition', params: transitionNotice },
          ],
        },
        'lifecycle.archive': {
          target: 'archived',
          actions: [
            { type: 'recordTransition', params: { from: 'paused', to: 'archived' } },
            { type: 'notifyTransition', params: transitionNotice },
          ],
        },
      },
    },
    archived: { type: 'final' },
  },
});

export type MarketLifecycleMachine = typeof marketLifecycleMachine;
export type LifecycleSnapshot = SnapshotFrom<MarketLifecycleMachine>;
export type LifecycleAction = ExecutableActionsFrom<MarketLifecycleMachine>;

export type LifecycleResult =
  | { readonly ok: true; readonly snapshot: LifecycleSnapshot; readonly actions: readonly LifecycleAction[] }
  | { readonly ok: false; readonly error: InvalidTransition };

/**
 * Rebuilds a snapshot in `state` with `context`, for recovery from a market snapshot. Pass the
 * `.provide()`d machine when the result is fed to `transition()`: a snapshot carries the machine
 * it was resolved with, and `transition()` runs that machine's action implementations.
 */
export function restoreLifecycleSnapshot(
  state: LifecycleState,
  context: LifecycleContext,
  machine: MarketLifecycleMachine = marketLifecycleMachine,
): LifecycleSnapshot {
  return machine.resolveState({ value: state, context });
}

export function lifecycleState(snapshot: LifecycleSnapshot): LifecycleState {
  return snapshot.value;
}

/**
 * The next snapshot and the actions it would run (not executed), or `invalid_transition` with the
 * given snapshot untouched. Runs the machine the snapshot was built with.
 */
export function applyLifecycleEvent(snapshot: LifecycleSnapshot, event: LifecycleEvent): LifecycleResult {
  if (!snapshot.can(event)) {
    const state = snapshot.value;
    const { marketId } = snapshot.context;
    return {
      ok: false,
      error: {
        code: 'invalid_transition',
        message: `market ${marketId} is ${state}: ${event.type} is not accepted`,
        marketId,
        state,
        event: event.type,
      },
    };
  }
  const [next, actions] = transition(snapshot.machine, snapshot, event);
  return { ok: true, snapshot: next, actions };
}

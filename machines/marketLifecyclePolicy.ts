import type { LifecycleState } from './marketLifecycle.ts';

/**
 * What the market actor lets through in each lifecycle state (DESIGN.md principle 1): only
 * `active` matches; `paused` lets owners take liquidity out but not add it; every other state,
 * before activation or after archive, accepts nothing.
 */

export const ORDER_ACTIONS = ['place', 'amend', 'cancel', 'cancel_all'] as const;
export type OrderAction = (typeof ORDER_ACTIONS)[number];

const NOTHING: readonly OrderAction[] = Object.freeze([]);
const ACCEPTED: Readonly<Record<LifecycleState, readonly OrderAction[]>> = Object.freeze({
  draft: NOTHING,
  pending_approval: NOTHING,
  approved: NOTHING,
  rejected: NOTHING,
  activating: NOTHING,
  active: Object.freeze(['place', 'amend', 'cancel', 'cancel_all'] as const),
  paused: Object.freeze(['cancel', 'cancel_all'] as const),
  archived: NOTHING,
});

export function ordersAccepted(state: LifecycleState): readonly OrderAction[] {
  return ACCEPTED[state];
}

export function acceptsOrder(state: LifecycleState, action: OrderAction): boolean {
  return ACCEPTED[state].includes(action);
}

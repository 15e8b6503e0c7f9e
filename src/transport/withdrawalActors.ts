import {
  FINAL_WITHDRAWAL_STATES,
  withdrawalEventTo,
  type WithdrawalState,
} from '../../machines/withdrawal.ts';
import { formatAssetAmount } from '../actors/money.ts';
import type { WithdrawalChanged } from '../events/domain.ts';
import type { ActorTransition, WithdrawalActorUpdate } from './actorsChannel.ts';

/*
 * The withdrawals of the `actors` channel (issue 15): each open withdrawal, and the recently
 * finished ones, as an actor of the `withdrawal` machine (machines/withdrawal.ts), folded from the
 * committed event stream's `withdrawal.changed` (one per journaled change, so the state shown is
 * the committed one). The inspection feed (inspection.ts) publishes what changed with its throttled
 * messages and puts the list into each snapshot.
 *
 * Bounds: open withdrawals are as many as the funding register holds (each one locks a balance);
 * a snapshot carries at most SNAPSHOT_OPEN_LIMIT of them (the newest) and counts the rest. Finished
 * ones are kept FINISHED_KEEP_MS and at most FINISHED_LIMIT of them.
 */

export const SNAPSHOT_OPEN_LIMIT = 200;
export const FINISHED_LIMIT = 20;
export const FINISHED_KEEP_MS = 10 * 60_000;
/** Transitions kept per withdrawal (it takes at most three). */
const TRANSITIONS_KEPT = 5;

/** An open withdrawal as the funding register lists it at start (no transition is known). */
export interface ListedWithdrawal {
  readonly withdrawalId: string;
  readonly userId: string;
  readonly asset: string;
  readonly amount: bigint;
  readonly status: WithdrawalState;
}

interface WithdrawalRecord {
  readonly withdrawalId: string;
  readonly userId: string;
  readonly asset: string;
  readonly amount: string;
  state: string;
  final: boolean;
  reason: string | undefined;
  ts: number;
  readonly history: ActorTransition[];
  pending: ActorTransition[];
}

export class WithdrawalActors {
  readonly #records = new Map<string, WithdrawalRecord>();
  readonly #dirty = new Set<string>();
  readonly #decimalsOf: (asset: string) => number | undefined;
  readonly #now: () => number;

  constructor(decimalsOf: (asset: string) => number | undefined, now: () => number) {
    this.#decimalsOf = decimalsOf;
    this.#now = now;
  }

  get size(): number {
    return this.#records.size;
  }

  /** Open withdrawals known before any event (start, after recovery); known ones are left alone. */
  seed(listed: readonly ListedWithdrawal[]): void {
    const ts = this.#now();
    for (const w of listed) {
      if (this.#records.has(w.withdrawalId)) continue;
      this.#records.set(
        w.withdrawalId,
        this.#record(w.withdrawalId, w.userId, w.asset, w.amount, w.status, ts),
      );
      this.#dirty.add(w.withdrawalId);
    }
  }

  /** Folds one committed change; true when something changed. */
  note(event: WithdrawalChanged): boolean {
    let record = this.#records.get(event.withdrawalId);
    if (record === undefined) {
      record = this.#record(
        event.withdrawalId,
        event.userId,
        event.asset,
        event.amount,
        event.status,
        event.ts,
      );
      this.#records.set(event.withdrawalId, record);
      // Heard of first in a later state (requested before this process started, not seeded): its
      // state is known, not the one it left (the transition is from `unknown`).
      if (event.status !== 'pending_approval') this.#transition(record, event.status, event.ts);
    } else if (record.state !== event.status) {
      this.#transition(record, event.status, event.ts);
    } else {
      return false;
    }
    record.state = event.status;
    record.final = FINAL_WITHDRAWAL_STATES.includes(event.status);
    record.ts = event.ts;
    if (event.reason !== undefined) record.reason = event.reason;
    this.#dirty.add(event.withdrawalId);
    this.#prune();
    return true;
  }

  /** What changed since the previous call (the feed's update), and forgets it. */
  drain(): WithdrawalActorUpdate[] {
    const out: WithdrawalActorUpdate[] = [];
    for (const id of this.#dirty) {
      const record = this.#records.get(id);
      if (record === undefined) continue;
      out.push(this.#view(record, record.pending));
      record.pending = [];
    }
    this.#dirty.clear();
    return out;
  }

  /** The open withdrawals (newest first, bounded) and the recently finished, for a new subscriber. */
  snapshot(): { withdrawals: WithdrawalActorUpdate[]; omitted: number } {
    this.#prune();
    const open: WithdrawalRecord[] = [];
    const finished: WithdrawalRecord[] = [];
    for (const record of this.#records.values()) (record.final ? finished : open).push(record);
    open.sort((a, b) => b.ts - a.ts);
    const shown = [...open.slice(0, SNAPSHOT_OPEN_LIMIT), ...finished];
    return {
      withdrawals: shown.map((record) => this.#view(record, [...record.history])),
      omitted: Math.max(0, open.length - SNAPSHOT_OPEN_LIMIT),
    };
  }

  #record(
    withdrawalId: string,
    userId: string,
    asset: string,
    amount: bigint,
    state: WithdrawalState,
    ts: number,
  ): WithdrawalRecord {
    return {
      withdrawalId,
      userId,
      asset,
      amount: formatAssetAmount(amount, this.#decimalsOf(asset) ?? 2),
      state,
      final: FINAL_WITHDRAWAL_STATES.includes(state),
      reason: undefined,
      ts,
      history: [],
      pending: [],
    };
  }

  #transition(record: WithdrawalRecord, to: WithdrawalState, ts: number): void {
    const from = record.state === to ? 'unknown' : record.state;
    const transition: ActorTransition = { from, to, event: withdrawalEventTo(to)?.type ?? 'unknown', ts };
    record.pending.push(transition);
    record.history.push(transition);
    if (record.history.length > TRANSITIONS_KEPT) record.history.shift();
    if (record.pending.length > TRANSITIONS_KEPT) record.pending.shift();
  }

  /** Drops finished withdrawals older than FINISHED_KEEP_MS, and the oldest beyond FINISHED_LIMIT. */
  #prune(): void {
    const cutoff = this.#now() - FINISHED_KEEP_MS;
    const finished: WithdrawalRecord[] = [];
    for (const record of this.#records.values()) {
      if (!record.final) continue;
      if (record.ts < cutoff) this.#records.delete(record.withdrawalId);
      else finished.push(record);
    }
    if (finished.length <= FINISHED_LIMIT) return;
    finished.sort((a, b) => a.ts - b.ts);
    for (const record of finished.slice(0, finished.length - FINISHED_LIMIT)) {
      this.#records.delete(record.withdrawalId);
    }
  }

  #view(record: WithdrawalRecord, transitions: readonly ActorTransition[]): WithdrawalActorUpdate {
    return {
      withdrawalId: record.withdrawalId,
      machine: 'withdrawal',
      state: record.state,
      final: record.final,
      userId: record.userId,
      asset: record.asset,
      amount: record.amount,
      ...(record.reason === undefined ? {} : { reason: record.reason }),
      ts: record.ts,
      transitions,
    };
  }
}

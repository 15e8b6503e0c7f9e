import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import type { WithdrawalState } from '../../machines/withdrawal.ts';

/*
 * The funding tables (migration 1763800000090_funding.sql). Amounts travel as text (numeric would
 * be parsed to a float), times as ms since the epoch; rows are written at ms precision so a page's
 * keyset (created_at, id) compares exactly.
 */

export type Provider = 'paystack' | 'payfast' | 'ozow';
/** Who a deposit came through: a payment provider, or the exchange's chain (issue 16). */
export type DepositProvider = Provider | 'chain';
export type DepositStatus = 'pending' | 'completed' | 'failed';

export interface DepositRow {
  readonly id: string;
  readonly userId: string;
  readonly provider: DepositProvider;
  readonly reference: string;
  readonly asset: string;
  readonly amount: bigint;
  readonly status: DepositStatus;
  readonly redirectUrl: string;
  readonly formFields: Record<string, string> | undefined;
  readonly failureReason: string | undefined;
  readonly createdAt: number;
  readonly completedAt: number | undefined;
}

export interface WithdrawalRow {
  readonly id: string;
  readonly userId: string;
  readonly asset: string;
  readonly amount: bigint;
  readonly destination: string;
  readonly status: WithdrawalState;
  readonly reason: string | undefined;
  readonly txHash: string | undefined;
  readonly payoutReference: string | undefined;
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** A page's position: the last row of the page before. */
export interface PagePosition {
  readonly t: number;
  readonly id: string;
}

const DepositSql = z.object({
  id: z.string(),
  user_id: z.string(),
  provider: z.enum(['paystack', 'payfast', 'ozow', 'chain']),
  reference: z.string(),
  asset: z.string(),
  amount: z.string(),
  status: z.enum(['pending', 'completed', 'failed']),
  redirect_url: z.string(),
  form_fields: z.record(z.string()).nullable(),
  failure_reason: z.string().nullable(),
  created_ms: z.number(),
  completed_ms: z.number().nullable(),
});

const DEPOSIT_COLUMNS = sql.fragment`id::text AS id, user_id, provider, reference, asset, amount::text AS amount,
  status, redirect_url, form_fields, failure_reason,
  (extract(epoch FROM created_at) * 1000)::float8 AS created_ms,
  (extract(epoch FROM completed_at) * 1000)::float8 AS completed_ms`;

const depositOf = (r: z.infer<typeof DepositSql>): DepositRow => ({
  id: r.id,
  userId: r.user_id,
  provider: r.provider,
  reference: r.reference,
  asset: r.asset,
  amount: BigInt(r.amount),
  status: r.status,
  redirectUrl: r.redirect_url,
  formFields: r.form_fields ?? undefined,
  failureReason: r.failure_reason ?? undefined,
  createdAt: Math.round(r.created_ms),
  completedAt: r.completed_ms === null ? undefined : Math.round(r.completed_ms),
});

const WithdrawalSql = z.object({
  id: z.string(),
  user_id: z.string(),
  asset: z.string(),
  amount: z.string(),
  destination: z.string(),
  status: z.enum(['pending_approval', 'approved', 'submitted', 'confirmed', 'rejected', 'failed']),
  reason: z.string().nullable(),
  tx_hash: z.string().nullable(),
  payout_reference: z.string().nullable(),
  created_ms: z.number(),
  updated_ms: z.number(),
});

const WITHDRAWAL_COLUMNS = sql.fragment`id::text AS id, user_id, asset, amount::text AS amount, destination,
  status, reason, tx_hash, payout_reference,
  (extract(epoch FROM created_at) * 1000)::float8 AS created_ms,
  (extract(epoch FROM updated_at) * 1000)::float8 AS updated_ms`;

const withdrawalOf = (r: z.infer<typeof WithdrawalSql>): WithdrawalRow => ({
  id: r.id,
  userId: r.user_id,
  asset: r.asset,
  amount: BigInt(r.amount),
  destination: r.destination,
  status: r.status,
  reason: r.reason ?? undefined,
  txHash: r.tx_hash ?? undefined,
  payoutReference: r.payout_reference ?? undefined,
  createdAt: Math.round(r.created_ms),
  updatedAt: Math.round(r.updated_ms),
});

const at = (ms: number) => sql.fragment`to_timestamp(${ms}::float8 / 1000)`;
const Count = z.object({ n: z.number() });

/** deposit_refusals keeps the newest this many rows (a stranger can post refusals at will). */
const REFUSALS_KEPT = 100_000;
const PRUNE_EVERY = 1_000;

/** Pending deposits kept in memory for their notifications (beyond, they are read from the table). */
export const PENDING_CACHED_MAX = 100_000;

interface Settlement {
  readonly id: string;
  readonly status: 'completed' | 'failed';
  readonly ts: number;
  readonly reason: string | null;
  readonly done: () => void;
  readonly failed: (error: unknown) => void;
}

export class FundingStore {
  #refusalsSincePrune = 0;
  /**
   * Pending deposits by provider and reference, as this process inserted or listed them: a
   * notification finds its deposit without a round trip. What a notification reads of the row
   * (id, user, asset, amount, provider, reference) never changes; its status is the funding
   * register's, not the row's. Dropped when settled.
   */
  readonly #pending = new Map<string, DepositRow>();
  readonly #pendingKeyById = new Map<string, string>();
  /** Row updates waiting for the one in flight: written together in one statement. */
  #settlements: Settlement[] = [];
  #settling = false;

  constructor(private readonly pool: DatabasePool) {}

  async insertDeposit(d: Omit<DepositRow, 'status' | 'failureReason' | 'completedAt'>): Promise<void> {
    await this.pool.query(sql.unsafe`
      INSERT INTO deposits (id, user_id, provider, reference, asset, amount, redirect_url, form_fields, created_at)
      VALUES (${d.id}, ${d.userId}, ${d.provider}, ${d.reference}, ${d.asset}, ${d.amount.toString()}::numeric,
              ${d.redirectUrl}, ${d.formFields === undefined ? null : sql.jsonb(d.formFields)}, ${at(d.createdAt)})`);
    this.#remember({ ...d, status: 'pending', failureReason: undefined, completedAt: undefined });
  }

  #remember(row: DepositRow): void {
    if (row.status !== 'pending' || this.#pending.size >= PENDING_CACHED_MAX) return;
    const key = `${row.provider}\u0000${row.reference}`;
    this.#pending.set(key, row);
    this.#pendingKeyById.set(row.id, key);
  }

  #forget(id: string): void {
    const key = this.#pendingKeyById.get(id);
    if (key === undefined) return;
    this.#pendingKeyById.delete(id);
    this.#pending.delete(key);
  }

  /**
   * A chain deposit's row, keyed by its id (derived from the log): a second insert of it (a sync
   * run after a crash) does nothing. It is inserted pending and settled after the credit's commit.
   */
  async insertChainDeposit(d: {
    readonly id: string;
    readonly userId: string;
    readonly reference: string;
    readonly asset: string;
    readonly amount: bigint;
    readonly createdAt: number;
  }): Promise<void> {
    await this.pool.query(sql.unsafe`
      INSERT INTO deposits (id, user_id, provider, reference, asset, amount, redirect_url, created_at)
      VALUES (${d.id}, ${d.userId}, 'chain', ${d.reference}, ${d.asset}, ${d.amount.toString()}::numeric, '',
              ${at(d.createdAt)})
      ON CONFLICT (id) DO NOTHING`);
  }

  async pendingDepositCount(userId: string): Promise<number> {
    const row = await this.pool.one(sql.type(Count)`
      SELECT count(*)::int AS n FROM deposits WHERE user_id = ${userId} AND status = 'pending'`);
    return row.n;
  }

  async depositByReference(provider: Provider, reference: string): Promise<DepositRow | undefined> {
    const cached = this.#pending.get(`${provider}\u0000${reference}`);
    if (cached !== undefined) return cached;
    const row = await this.pool.maybeOne(sql.type(DepositSql)`
      SELECT ${DEPOSIT_COLUMNS} FROM deposits WHERE provider = ${provider} AND reference = ${reference}`);
    return row === null ? undefined : depositOf(row);
  }

  async deposit(userId: string, id: string): Promise<DepositRow | undefined> {
    const row = await this.pool.maybeOne(sql.type(DepositSql)`
      SELECT ${DEPOSIT_COLUMNS} FROM deposits WHERE id = ${id}::uuid AND user_id = ${userId}`);
    return row === null ? undefined : depositOf(row);
  }

  async deposits(userId: string, limit: number, after: PagePosition | undefined): Promise<DepositRow[]> {
    const from =
      after === undefined
        ? sql.fragment``
        : sql.fragment`AND (created_at, id) < (${at(after.t)}, ${after.id}::uuid)`;
    const rows = await this.pool.any(sql.type(DepositSql)`
      SELECT ${DEPOSIT_COLUMNS} FROM deposits WHERE user_id = ${userId} ${from}
      ORDER BY created_at DESC, id DESC LIMIT ${limit}`);
    return rows.map(depositOf);
  }

  /** Pending deposits (start: reconciled with the funding register). */
  async pendingDeposits(): Promise<DepositRow[]> {
    const rows = await this.pool.any(sql.type(DepositSql)`
      SELECT ${DEPOSIT_COLUMNS} FROM deposits WHERE status = 'pending' ORDER BY created_at`);
    const deposits = rows.map(depositOf);
    for (const row of deposits) this.#remember(row);
    return deposits;
  }

  /** A journaled outcome, on the row (only from pending: the journal decided it once). */
  async settleDeposit(
    id: string,
    status: 'completed' | 'failed',
    ts: number,
    reason?: string,
  ): Promise<void> {
    this.#forget(id);
    // Group commit: one statement for every update that arrived while the previous one ran (under
    // load, one round trip for many deposits; alone, one for one, at once).
    await new Promise<void>((done, failed) => {
      this.#settlements.push({ id, status, ts, reason: reason ?? null, done, failed });
      if (!this.#settling) void this.#writeSettlements();
    });
  }

  async #writeSettlements(): Promise<void> {
    this.#settling = true;
    while (this.#settlements.length > 0) {
      const batch = this.#settlements;
      this.#settlements = [];
      try {
        await this.pool.query(sql.unsafe`
          UPDATE deposits d SET status = v.status, completed_at = to_timestamp(v.ms / 1000),
            failure_reason = coalesce(v.reason, d.failure_reason)
          FROM unnest(
            ${sql.array(
              batch.map((s) => s.id),
              'uuid',
            )},
            ${sql.array(
              batch.map((s) => s.status),
              'text',
            )},
            ${sql.array(
              batch.map((s) => s.ts),
              'float8',
            )},
            ${sql.array(
              batch.map((s) => s.reason),
              'text',
            )}
          ) AS v(id, status, ms, reason)
          WHERE d.id = v.id AND d.status = 'pending'`);
        for (const s of batch) s.done();
      } catch (error) {
        for (const s of batch) s.failed(error);
      }
    }
    this.#settling = false;
  }

  /** A refused notification: its row (the newest REFUSALS_KEPT are kept), and the reason on the deposit it named. */
  async recordRefusal(r: {
    depositId: string | undefined;
    provider: DepositProvider;
    reference: string | undefined;
    reason: string;
    sourceAddress: string;
  }): Promise<void> {
    const reason = r.reason.slice(0, 500);
    await this.pool.transaction(async (tx) => {
      await tx.query(sql.unsafe`
        INSERT INTO deposit_refusals (deposit_id, provider, reference, reason, source_address)
        VALUES (${r.depositId ?? null}::uuid, ${r.provider}, ${r.reference?.slice(0, 100) ?? null}, ${reason},
                ${r.sourceAddress.slice(0, 64)})`);
      if (r.depositId !== undefined) {
        await tx.query(sql.unsafe`
          UPDATE deposits SET failure_reason = ${reason} WHERE id = ${r.depositId}::uuid AND status = 'pending'`);
      }
    });
    if (++this.#refusalsSincePrune >= PRUNE_EVERY) {
      this.#refusalsSincePrune = 0;
      await this.pruneRefusals(REFUSALS_KEPT);
    }
  }

  /** Keeps the newest `keep` refusals. */
  async pruneRefusals(keep: number): Promise<void> {
    await this.pool.query(sql.unsafe`
      DELETE FROM deposit_refusals WHERE id <= (SELECT max(id) FROM deposit_refusals) - ${keep}`);
  }

  async insertWithdrawal(
    w: Omit<WithdrawalRow, 'reason' | 'txHash' | 'payoutReference' | 'updatedAt'>,
  ): Promise<void> {
    await this.pool.query(sql.unsafe`
      INSERT INTO withdrawals (id, user_id, asset, amount, destination, status, created_at, updated_at)
      VALUES (${w.id}, ${w.userId}, ${w.asset}, ${w.amount.toString()}::numeric, ${w.destination}, ${w.status},
              ${at(w.createdAt)}, ${at(w.createdAt)})
      ON CONFLICT (id) DO NOTHING`);
  }

  async withdrawal(id: string): Promise<WithdrawalRow | undefined> {
    const row = await this.pool.maybeOne(sql.type(WithdrawalSql)`
      SELECT ${WITHDRAWAL_COLUMNS} FROM withdrawals WHERE id = ${id}::uuid`);
    return row === null ? undefined : withdrawalOf(row);
  }

  async withdrawals(
    filter: { userId?: string; status?: WithdrawalState },
    limit: number,
    after: PagePosition | undefined,
  ): Promise<WithdrawalRow[]> {
    const conditions = [sql.fragment`TRUE`];
    if (filter.userId !== undefined) conditions.push(sql.fragment`user_id = ${filter.userId}`);
    if (filter.status !== undefined) conditions.push(sql.fragment`status = ${filter.status}`);
    if (after !== undefined)
      conditions.push(sql.fragment`(created_at, id) < (${at(after.t)}, ${after.id}::uuid)`);
    const rows = await this.pool.any(sql.type(WithdrawalSql)`
      SELECT ${WITHDRAWAL_COLUMNS} FROM withdrawals WHERE ${sql.join(conditions, sql.fragment` AND `)}
      ORDER BY created_at DESC, id DESC LIMIT ${limit}`);
    return rows.map(withdrawalOf);
  }

  /** A journaled change of status, on the row. */
  async updateWithdrawal(
    id: string,
    change: { status: WithdrawalState; reason?: string | undefined; txHash?: string | undefined; ts: number },
  ): Promise<void> {
    await this.pool.query(sql.unsafe`
      UPDATE withdrawals SET status = ${change.status}, updated_at = ${at(change.ts)},
        reason = coalesce(${change.reason ?? null}::text, reason),
        tx_hash = coalesce(${change.txHash ?? null}::text, tx_hash)
      WHERE id = ${id}::uuid`);
  }

  /**
   * The payout's reference, written before the payout is sent: the first writer's stays (a
   * retried job reads it back and asks the rail for that payout instead of sending another).
   */
  async claimPayoutReference(id: string, reference: string): Promise<string> {
    const row = await this.pool.one(sql.type(z.object({ payout_reference: z.string() }))`
      UPDATE withdrawals SET payout_reference = coalesce(payout_reference, ${reference}),
        payout_attempts = payout_attempts + 1
      WHERE id = ${id}::uuid RETURNING payout_reference`);
    return row.payout_reference;
  }
}

import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { z } from 'zod/v4';
import type { WithdrawalState } from '../../machines/withdrawal.ts';
import type { Asset } from '../actors/catalog.ts';
import type { FundingCommand, WithdrawalRecord } from '../actors/funding/index.ts';
import { formatAssetAmount, parseAssetAmount } from '../actors/money.ts';
import type { FundingOutcome } from '../actors/supervisor.ts';
import { errorText, failure, success, type Outcome } from '../protocol/errors.ts';
import type { PayoutRail } from './payouts.ts';
import { ProviderUnavailable } from './providers/http.ts';
import { KeyedSerializer } from './serialize.ts';
import type { FundingStore, PagePosition, WithdrawalRow } from './store.ts';

/*
 * Withdrawals with approval (PROTOCOL v1.1, Funding; machines/withdrawal.ts). Every change of
 * status is a `@ledger` withdrawal command journaled before anything else hears of it: the request
 * locks the amount (`insufficient_funds` otherwise), reject and fail release it, confirm debits it.
 * Approval enqueues `process-withdrawal`, whose run (`process`) pays out through the asset's
 * PayoutRail:
 *   approved  → the payout reference is claimed on the row (durable, first writer wins), the
 *               withdrawal journaled `submitted` with it, then the rail is asked to pay;
 *   submitted → (a retry, or a start after a crash) the rail is asked again under the same
 *               reference, and it reports the payout made before rather than making another.
 * A rail answering `failed` fails the withdrawal (the lock released with its reason); an unknown
 * outcome (rail unreachable) is retried by the job, and after the last attempt a withdrawal that
 * was never submitted fails, while one submitted stays `submitted` for an operator (its payout may
 * have been made: releasing the lock could pay twice).
 */

export const ProcessWithdrawalPayload = z.strictObject({ withdrawalId: z.uuid() });

export interface WithdrawalsOptions {
  readonly store: FundingStore;
  readonly rails: readonly PayoutRail[];
  readonly asset: (symbol: string) => Asset | undefined;
  readonly fund: (command: FundingCommand, ts: number) => Promise<FundingOutcome>;
  /** The funding register's withdrawal (as journaled). */
  readonly journaled: (withdrawalId: string) => WithdrawalRecord | undefined;
  /** Enqueues the `process-withdrawal` job (a duplicate id is a no-op). */
  readonly enqueue: (withdrawalId: string) => Promise<void>;
  readonly log: Logger;
  readonly clock?: () => number;
}

export interface WithdrawalView {
  readonly id: string;
  readonly status: WithdrawalState;
  readonly asset: string;
  readonly amount: string;
  readonly destination: string;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly userId?: string;
  readonly txHash?: string;
  readonly reason?: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export class Withdrawals {
  readonly #steps = new KeyedSerializer();
  /** One payout run at a time per withdrawal (the job and a resume at start may overlap). */
  readonly #payouts = new KeyedSerializer();
  readonly #clock: () => number;

  constructor(private readonly options: WithdrawalsOptions) {
    this.#clock = options.clock ?? Date.now;
  }

  async request(
    userId: string,
    body: { asset: string; amount: string; destination: string },
  ): Promise<Outcome<WithdrawalView>> {
    const { store } = this.options;
    const asset = this.options.asset(body.asset);
    if (asset === undefined) return failure('not_found', `unknown asset ${body.asset}`);
    const rail = this.options.rails.find((r) => r.handles(asset));
    if (rail === undefined)
      return failure('bad_request', `no payout rail pays out ${asset.symbol} on this exchange`);
    const amount = parseAssetAmount(body.amount, asset.decimals);
    if (!amount.ok) return failure('bad_request', amount.message);
    const refused = rail.checkDestination(asset, body.destination);
    if (refused !== undefined) return failure('bad_request', refused);
    let denied: string | undefined;
    try {
      denied = await rail.admit?.(userId, asset, body.destination);
    } catch (error) {
      return failure('unavailable', `the destination could not be checked: ${errorText(error)}`);
    }
    if (denied !== undefined) return failure('compliance', denied);
    const id = randomUUID();
    const ts = this.#clock();
    // The row first: a start finds a row the journal never locked for (and rejects it), never a
    // lock without its row.
    try {
      await store.insertWithdrawal({
        id,
        userId,
        asset: asset.symbol,
        amount: amount.value,
        destination: body.destination,
        status: 'pending_approval',
        createdAt: ts,
      });
    } catch (error) {
      return failure('unavailable', `the withdrawal was not stored: ${errorText(error)}`);
    }
    const locked = await this.options.fund(
      {
        kind: 'withdrawal',
        withdrawalId: id,
        status: 'pending_approval',
        userId,
        asset: asset.symbol,
        amount: amount.value,
        destination: body.destination,
      },
      ts,
    );
    if (!locked.ok) {
      await store.updateWithdrawal(id, { status: 'rejected', reason: `not locked: ${locked.message}`, ts });
      return failure(
        locked.code === 'insufficient_funds' ? 'insufficient_funds' : 'unavailable',
        locked.message,
      );
    }
    const row = await store.withdrawal(id);
    return success(this.view(row!, false));
  }

  async get(id: string, userId: string | undefined): Promise<Outcome<WithdrawalView>> {
    if (!UUID.test(id)) return failure('not_found', `no withdrawal ${id}`);
    const row = await this.options.store.withdrawal(id);
    if (row === undefined || (userId !== undefined && row.userId !== userId)) {
      return failure('not_found', `no withdrawal ${id}`);
    }
    return success(this.view(row, userId === undefined));
  }

  async list(
    filter: { userId?: string; status?: WithdrawalState | undefined },
    limit: number,
    after: PagePosition | undefined,
  ) {
    const rows = await this.options.store.withdrawals(
      {
        ...(filter.userId === undefined ? {} : { userId: filter.userId }),
        ...(filter.status === undefined ? {} : { status: filter.status }),
      },
      limit + 1,
      after,
    );
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return {
      items: page.map((row) => this.view(row, filter.userId === undefined)),
      next: rows.length > limit && last !== undefined ? { t: last.createdAt, id: last.id } : undefined,
    };
  }

  view(row: WithdrawalRow, forAdmin: boolean): WithdrawalView {
    const decimals = this.options.asset(row.asset)?.decimals ?? 2;
    return {
      id: row.id,
      status: row.status,
      asset: row.asset,
      amount: formatAssetAmount(row.amount, decimals),
      destination: row.destination,
      createdAt: row.createdAt,
      updatedAt: row.updatedAt,
      ...(forAdmin ? { userId: row.userId } : {}),
      ...(row.txHash === undefined ? {} : { txHash: row.txHash }),
      ...(row.reason === undefined ? {} : { reason: row.reason }),
    };
  }

  async approve(id: string, adminId: string, reason: string | undefined): Promise<Outcome<WithdrawalView>> {
    const moved = await this.#move(id, 'approved', { reason });
    if (!moved.ok) return moved;
    this.options.log.info({ withdrawalId: id, adminId }, 'withdrawal approved');
    try {
      await this.options.enqueue(id);
    } catch (error) {
      // Approved and journaled: the next start resumes it (resume), so the answer stays a success.
      this.options.log.error({ err: error, withdrawalId: id }, 'process-withdrawal not enqueued');
    }
    return this.get(id, undefined);
  }

  async reject(id: string, adminId: string, reason: string | undefined): Promise<Outcome<WithdrawalView>> {
    const moved = await this.#move(id, 'rejected', { reason: reason ?? 'rejected by an admin' });
    if (!moved.ok) return moved;
    this.options.log.info({ withdrawalId: id, adminId }, 'withdrawal rejected');
    return this.get(id, undefined);
  }

  /** Journals the change (the register checks it against the machine), then the row follows. */
  async #move(
    id: string,
    status: WithdrawalState,
    extra: { reason?: string | undefined; txHash?: string | undefined },
  ): Promise<Outcome<void>> {
    if (!UUID.test(id)) return failure('not_found', `no withdrawal ${id}`);
    return this.#steps.run(id, async () => {
      const known = this.options.journaled(id);
      if (known === undefined) return failure('not_found', `no withdrawal ${id}`);
      const ts = this.#clock();
      const moved = await this.options.fund(
        {
          kind: 'withdrawal',
          withdrawalId: id,
          status,
          userId: known.userId,
          asset: known.asset,
          amount: known.amount,
          destination: known.destination,
          ...(extra.reason === undefined ? {} : { reason: extra.reason }),
          ...(extra.txHash === undefined ? {} : { txHash: extra.txHash }),
        },
        ts,
      );
      if (!moved.ok && moved.code !== 'duplicate') {
        return failure(
          moved.code === 'invalid_transition' ? 'invalid_transition' : 'unavailable',
          moved.message,
        );
      }
      await this.options.store.updateWithdrawal(id, { status, ...extra, ts });
      return success(undefined);
    });
  }

  /**
   * One run of `process-withdrawal`: pays an approved withdrawal out, or finds out what became of
   * a submitted one. Throws to be retried (rail unreachable, payout pending).
   */
  process(id: string, attempt: { readonly final: boolean }): Promise<void> {
    return this.#payouts.run(id, () => this.#process(id, attempt));
  }

  async #process(id: string, attempt: { readonly final: boolean }): Promise<void> {
    const known = this.options.journaled(id);
    if (known === undefined) throw new Error(`no withdrawal ${id} in the journal`);
    if (known.status !== 'approved' && known.status !== 'submitted') return;
    const asset = this.options.asset(known.asset);
    const rail = asset === undefined ? undefined : this.options.rails.find((r) => r.handles(asset));
    if (asset === undefined || rail === undefined) {
      if (known.status === 'approved')
        await this.#move(id, 'failed', { reason: `no payout rail for ${known.asset}` });
      return;
    }
    const reference = await this.options.store.claimPayoutReference(id, `W${id.replaceAll('-', '')}`);
    if (known.status === 'approved') {
      const submitted = await this.#move(id, 'submitted', { txHash: reference });
      if (!submitted.ok) throw new Error(`withdrawal ${id} not submitted: ${submitted.message}`);
    }
    let result;
    try {
      result = await rail.pay({
        reference,
        userId: known.userId,
        asset,
        amount: known.amount,
        destination: known.destination,
      });
    } catch (error) {
      if (!(error instanceof ProviderUnavailable) || !attempt.final) throw error;
      this.options.log.error(
        { err: error, withdrawalId: id, reference },
        'payout outcome unknown after the last attempt: the withdrawal stays submitted for review',
      );
      return;
    }
    if (result.status === 'pending') {
      if (attempt.final) {
        this.options.log.error(
          { withdrawalId: id, reference },
          'payout still pending after the last attempt',
        );
        return;
      }
      throw new Error(`payout ${reference} is pending`);
    }
    const done =
      result.status === 'confirmed'
        ? await this.#move(id, 'confirmed', { txHash: result.txHash })
        : await this.#move(id, 'failed', { reason: result.reason, txHash: result.txHash });
    if (!done.ok) throw new Error(`withdrawal ${id}: ${done.message}`);
  }

  /**
   * At start: rows whose lock was never journaled are rejected; approved and submitted
   * withdrawals are processed again (a worker that died mid-payout; the reference makes it safe).
   */
  async resume(open: readonly [string, WithdrawalRecord][]): Promise<void> {
    const { store, log } = this.options;
    for (const status of ['pending_approval', 'approved', 'submitted'] as const) {
      for (const row of await store.withdrawals({ status }, 10_000, undefined)) {
        const record = this.options.journaled(row.id);
        const ts = this.#clock();
        if (record === undefined) {
          await store.updateWithdrawal(row.id, {
            status: 'rejected',
            reason: 'the lock was never journaled',
            ts,
          });
        } else if (record.status !== row.status) {
          await store.updateWithdrawal(row.id, { status: record.status, ts });
        }
      }
    }
    for (const [id, record] of open) {
      if (record.status !== 'approved' && record.status !== 'submitted') continue;
      await this.process(id, { final: false }).catch((error: unknown) => {
        log.warn({ err: error, withdrawalId: id }, 'resumed payout not finished; the job retries it');
        return this.options.enqueue(id);
      });
    }
  }
}

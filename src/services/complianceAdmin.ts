import type { Catalog } from '../actors/catalog.ts';
import type { ComplianceRecord, ComplianceRegistry } from '../actors/compliance.ts';
import { z } from 'zod/v4';
import { errorText, failure, success, type Outcome } from '../protocol/errors.ts';
import { ComplianceBody } from '../protocol/schemas.ts';

/*
 * Compliance administration: records are stored (with their audit row) before the registry the
 * market actors consult changes; an allowlist change of a holder with a wallet enqueues a job that
 * mirrors it on the asset's token contract.
 */

/** A sync-allowlist job's payload: `syncAllowlist`'s arguments, as the record they come from had them. */
export const SyncAllowlistPayload = z.object({
  asset: ComplianceBody.shape.asset,
  wallet: ComplianceBody.shape.walletAddress.unwrap(),
  allowed: z.boolean(),
});

export interface ComplianceAdminOptions {
  readonly catalog: Catalog;
  readonly registry: ComplianceRegistry;
  readonly save: (record: ComplianceRecord, actorId: string) => Promise<void>;
  /** Mirrors `allowed` for `wallet` on the token of `asset` (a job; idempotent). */
  readonly syncAllowlist: (asset: string, wallet: string, allowed: boolean) => Promise<void>;
  /**
   * Cancels the user's open orders in every market that moves `asset` (journaled cancels); the
   * count canceled. A resting order of a user who lost compliance would otherwise still trade as
   * a maker: the gate covers what adds exposure, this removes what was already there.
   */
  readonly cancelOpenOrders?: (userId: string, asset: string) => Promise<number>;
  /**
   * The user's custodial deposit address when one was assigned (issue 16): allowlisted on the
   * token with the record, and removed from it when the record stops allowlisting.
   */
  readonly custodyAddress?: (userId: string) => Promise<string | undefined>;
}

/** A stored record, and how many open orders its refusal canceled (absent when none were). */
export type ComplianceSetResult = ComplianceRecord & { canceledOrders?: number };

export class ComplianceAdmin {
  constructor(private readonly options: ComplianceAdminOptions) {}

  records(userId: string): ComplianceRecord[] {
    return this.options.registry.forUser(userId);
  }

  async set(
    record: ComplianceRecord,
    actorId: string,
    options: { cancelOpenOrders?: boolean } = {},
  ): Promise<Outcome<ComplianceSetResult>> {
    const { catalog, registry } = this.options;
    const asset = catalog.asset(record.asset);
    if (asset === undefined) return failure('not_found', `unknown asset ${record.asset}`);
    if (asset.kind !== 'rwa')
      return failure('bad_request', `${record.asset} is not a real-world asset: no compliance applies`);
    const before = registry.get(record.userId, record.asset);
    try {
      await this.options.save(record, actorId);
    } catch (error) {
      return failure('unavailable', `the record was not stored: ${errorText(error)}`);
    }
    registry.set(record);
    let canceledOrders = 0;
    const refused = registry.refusal(record.userId, record.asset, false, Date.now()) !== undefined;
    if (refused && options.cancelOpenOrders !== false) {
      canceledOrders = (await this.options.cancelOpenOrders?.(record.userId, record.asset)) ?? 0;
    }
    const wallet = record.walletAddress;
    const changed = before?.allowlisted !== record.allowlisted || before.walletAddress !== wallet;
    try {
      if (wallet !== undefined && changed) {
        await this.options.syncAllowlist(record.asset, wallet, record.allowlisted);
      }
      const custody =
        before?.allowlisted === record.allowlisted
          ? undefined
          : await this.options.custodyAddress?.(record.userId);
      if (custody !== undefined && custody.toLowerCase() !== wallet?.toLowerCase()) {
        await this.options.syncAllowlist(record.asset, custody, record.allowlisted);
      }
    } catch (error) {
      return failure(
        'unavailable',
        `stored, but the on-chain allowlist sync was not queued: ${errorText(error)}`,
      );
    }
    return success(canceledOrders > 0 ? { ...record, canceledOrders } : record);
  }
}

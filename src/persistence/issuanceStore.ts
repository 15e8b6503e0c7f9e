import { sql, type CommonQueryMethods, type DatabasePool, type FragmentSqlToken } from 'slonik';
import { z } from 'zod';
import type { Asset } from '../actors/catalog.ts';
import type { MarketDefinition } from '../actors/market/types.ts';
import { assetInsert, marketInsert } from './catalogStore.ts';

/** The registered asset behind an RWA market (migration 1763800000040_issuance.sql). */
export interface MarketAssetRecord {
  readonly marketId: string;
  readonly name: string;
  readonly assetType: string;
  readonly tokenSymbol: string;
  readonly tokenName: string;
  totalSupply: string;
  readonly issuerId: string;
  readonly details: Record<string, unknown>;
  contractAddress?: string | undefined;
  deploymentTxHash?: string | undefined;
  deployError?: string | undefined;
  rejectedReason?: string | undefined;
  approvedAt?: number | undefined;
  activatedAt?: number | undefined;
}

export interface ApprovalEvent {
  readonly eventType: string;
  readonly actorId: string;
  readonly actorType: 'admin' | 'issuer' | 'system' | 'compliance';
  readonly decision?: 'approved' | 'rejected' | undefined;
  readonly reason?: string | undefined;
  readonly metadata?: Record<string, unknown> | undefined;
  readonly ts: number;
  /** The lifecycle transition it audits (the machine's transition count); none for a registration. */
  readonly lifecycleSeq?: number | undefined;
}

const AssetRow = z.object({
  market_id: z.string(),
  name: z.string(),
  asset_type: z.string(),
  token_symbol: z.string(),
  token_name: z.string(),
  total_supply: z.string(),
  issuer_id: z.string(),
  details: z.record(z.string(), z.unknown()),
  contract_address: z.string().nullable(),
  deployment_tx_hash: z.string().nullable(),
  deploy_error: z.string().nullable(),
  rejected_reason: z.string().nullable(),
  approved_at: z.number().nullable(),
  activated_at: z.number().nullable(),
});

const opt = <T>(v: T | null): T | undefined => (v === null ? undefined : v);

export async function loadMarketAssets(pool: CommonQueryMethods): Promise<MarketAssetRecord[]> {
  const rows = await pool.any(sql.type(AssetRow)`
    SELECT market_id, name, asset_type, token_symbol, token_name, total_supply, issuer_id, details,
           contract_address, deployment_tx_hash, deploy_error, rejected_reason,
           (extract(epoch FROM approved_at) * 1000)::float8 AS approved_at,
           (extract(epoch FROM activated_at) * 1000)::float8 AS activated_at
    FROM market_assets ORDER BY created_at`);
  return rows.map((r) => ({
    marketId: r.market_id,
    name: r.name,
    assetType: r.asset_type,
    tokenSymbol: r.token_symbol,
    tokenName: r.token_name,
    totalSupply: r.total_supply,
    issuerId: r.issuer_id,
    details: r.details,
    contractAddress: opt(r.contract_address),
    deploymentTxHash: opt(r.deployment_tx_hash),
    deployError: opt(r.deploy_error),
    rejectedReason: opt(r.rejected_reason),
    approvedAt: opt(r.approved_at) === undefined ? undefined : Math.round(r.approved_at!),
    activatedAt: opt(r.activated_at) === undefined ? undefined : Math.round(r.activated_at!),
  }));
}

/**
 * Registration: the base asset, the market, its asset record and the registered event, in one
 * statement of data-modifying CTEs (atomic without a transaction: one round trip instead of six;
 * the foreign keys are checked at the statement's end, when every row is there).
 */
export async function insertRegistration(
  pool: DatabasePool,
  asset: Asset,
  market: MarketDefinition,
  record: MarketAssetRecord,
  registered: ApprovalEvent,
): Promise<void> {
  await pool.query(sql.unsafe`
    WITH asset AS (${assetInsert(asset)}),
    market AS (${marketInsert(market)}),
    record AS (
      INSERT INTO market_assets (market_id, name, asset_type, token_symbol, token_name, total_supply,
                                 issuer_id, details)
      VALUES (${record.marketId}, ${record.name}, ${record.assetType}, ${record.tokenSymbol},
              ${record.tokenName}, ${record.totalSupply}, ${record.issuerId},
              ${sql.jsonb(record.details as never)})
    ),
    registered AS (${approvalEventInsert(market.id, registered)})
    SELECT 1`);
}

/** Stores what changed on the asset record (only the fields given). */
export interface AssetRecordChange {
  contractAddress?: string;
  deploymentTxHash?: string;
  deployError?: string | null;
  rejectedReason?: string;
  approvedAt?: number;
  activatedAt?: number;
  /** The token's supply after a mint (POST /markets/:id/mint), a decimal string. */
  totalSupply?: string;
}

export async function updateMarketAsset(
  pool: CommonQueryMethods,
  marketId: string,
  change: AssetRecordChange,
): Promise<void> {
  const sets = [];
  if (change.contractAddress !== undefined)
    sets.push(sql.fragment`contract_address = ${change.contractAddress}`);
  if (change.deploymentTxHash !== undefined) {
    sets.push(sql.fragment`deployment_tx_hash = ${change.deploymentTxHash}`);
  }
  if (change.deployError !== undefined) sets.push(sql.fragment`deploy_error = ${change.deployError}`);
  if (change.rejectedReason !== undefined)
    sets.push(sql.fragment`rejected_reason = ${change.rejectedReason}`);
  if (change.approvedAt !== undefined) {
    sets.push(sql.fragment`approved_at = to_timestamp(${change.approvedAt / 1000})`);
  }
  if (change.activatedAt !== undefined) {
    sets.push(sql.fragment`activated_at = to_timestamp(${change.activatedAt / 1000})`);
  }
  if (change.totalSupply !== undefined) sets.push(sql.fragment`total_supply = ${change.totalSupply}`);
  if (sets.length === 0) return;
  await pool.query(
    sql.unsafe`UPDATE market_assets SET ${sql.join(sets, sql.fragment`, `)} WHERE market_id = ${marketId}`,
  );
}

export async function insertApprovalEvent(pool: CommonQueryMethods, marketId: string, event: ApprovalEvent) {
  await pool.query(sql.unsafe`${approvalEventInsert(marketId, event)}`);
}

/** The INSERT of an approval event, as a fragment (also a data-modifying CTE of a registration). */
function approvalEventInsert(marketId: string, event: ApprovalEvent): FragmentSqlToken {
  return sql.fragment`
    INSERT INTO market_approval_events (market_id, event_type, actor_id, actor_type, decision, reason, metadata, ts,
                                        lifecycle_seq)
    VALUES (${marketId}, ${event.eventType}, ${event.actorId}, ${event.actorType}, ${event.decision ?? null},
            ${event.reason ?? null}, ${event.metadata === undefined ? null : sql.jsonb(event.metadata as never)},
            to_timestamp(${event.ts / 1000}), ${event.lifecycleSeq ?? null})`;
}

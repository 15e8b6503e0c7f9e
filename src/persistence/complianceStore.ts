import { sql, type CommonQueryMethods, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { KYC_STATUSES, type ComplianceRecord } from '../actors/compliance.ts';

const Row = z.object({
  user_id: z.string(),
  asset: z.string(),
  kyc_status: z.enum(KYC_STATUSES),
  allowlisted: z.boolean(),
  accredited: z.boolean(),
  expires_at: z.number().nullable(),
  wallet_address: z.string().nullable(),
});

export async function loadComplianceRecords(pool: CommonQueryMethods): Promise<ComplianceRecord[]> {
  const rows = await pool.any(sql.type(Row)`
    SELECT user_id, asset, kyc_status, allowlisted, accredited,
           (extract(epoch FROM expires_at) * 1000)::float8 AS expires_at, wallet_address
    FROM compliance_records`);
  return rows.map((r) => ({
    userId: r.user_id,
    asset: r.asset,
    kycStatus: r.kyc_status,
    allowlisted: r.allowlisted,
    accredited: r.accredited,
    expiresAt: r.expires_at === null ? undefined : Math.round(r.expires_at),
    walletAddress: r.wallet_address ?? undefined,
  }));
}

/** Upserts the record and audits the change, in one transaction. */
export async function saveComplianceRecord(pool: DatabasePool, record: ComplianceRecord, actorId: string) {
  await pool.transaction(async (tx) => {
    const expires =
      record.expiresAt === undefined ? null : sql.fragment`to_timestamp(${record.expiresAt / 1000})`;
    await tx.query(sql.unsafe`
      INSERT INTO compliance_records (user_id, asset, kyc_status, allowlisted, accredited, expires_at,
                                      wallet_address, updated_at, updated_by)
      VALUES (${record.userId}, ${record.asset}, ${record.kycStatus}, ${record.allowlisted},
              ${record.accredited}, ${expires}, ${record.walletAddress ?? null}, now(), ${actorId})
      ON CONFLICT (user_id, asset) DO UPDATE SET
        kyc_status = EXCLUDED.kyc_status, allowlisted = EXCLUDED.allowlisted,
        accredited = EXCLUDED.accredited, expires_at = EXCLUDED.expires_at,
        wallet_address = EXCLUDED.wallet_address, updated_at = now(), updated_by = EXCLUDED.updated_by`);
    await tx.query(sql.unsafe`
      INSERT INTO compliance_audit (user_id, asset, record, actor_id)
      VALUES (${record.userId}, ${record.asset}, ${sql.jsonb(JSON.parse(JSON.stringify(record)) as never)}, ${actorId})`);
  });
}

/*
 * Who may trade which real-world asset (issue 7, compliance gating): one record per user and asset,
 * set by compliance admins and stored before it is used. Trading a market that moves an RWA (as its
 * base or its quote asset) needs, for each such asset, KYC approved, the holder allowlisted, the
 * record not expired, and accreditation where the asset requires it. The market actor asks for
 * every command that adds exposure: a place, an amend to a new price or a higher qty, and a stop
 * about to execute once triggered (issue 12 §2). The registry answers in O(1) per asset.
 */

/** A real-world asset a market moves, as the compliance gate checks it. */
export interface RwaLeg {
  readonly asset: string;
  readonly requiresAccreditation: boolean;
}

export const KYC_STATUSES = ['pending', 'approved', 'rejected'] as const;
export type KycStatus = (typeof KYC_STATUSES)[number];

export interface ComplianceRecord {
  readonly userId: string;
  readonly asset: string;
  readonly kycStatus: KycStatus;
  readonly allowlisted: boolean;
  readonly accredited: boolean;
  /** Milliseconds since the epoch; undefined: no expiry. */
  readonly expiresAt?: number | undefined;
  /** The holder's wallet, mirrored to the token's allowlist. */
  readonly walletAddress?: string | undefined;
}

const key = (userId: string, asset: string) => `${userId}\u0000${asset}`;

export class ComplianceRegistry {
  private readonly records = new Map<string, ComplianceRecord>();

  constructor(records: readonly ComplianceRecord[] = []) {
    for (const record of records) this.set(record);
  }

  get(userId: string, asset: string): ComplianceRecord | undefined {
    return this.records.get(key(userId, asset));
  }

  set(record: ComplianceRecord): void {
    this.records.set(key(record.userId, record.asset), record);
  }

  forUser(userId: string): ComplianceRecord[] {
    return [...this.records.values()].filter((r) => r.userId === userId);
  }

  /**
   * Why `userId` may not trade a market moving these RWAs now (the first refusal); undefined when
   * they may. A trade delivers one of a market's assets and receives the other, so every RWA of the
   * market is checked whichever side the user takes.
   */
  marketRefusal(userId: string, legs: readonly RwaLeg[], now: number): string | undefined {
    for (const leg of legs) {
      const refusal = this.refusal(userId, leg.asset, leg.requiresAccreditation, now);
      if (refusal !== undefined) return refusal;
    }
    return undefined;
  }

  /** Why `userId` may not trade `asset` now; undefined when they may. */
  refusal(userId: string, asset: string, requiresAccreditation: boolean, now: number): string | undefined {
    const record = this.records.get(key(userId, asset));
    if (record === undefined) return `no compliance record for ${asset}: KYC and allowlisting are required`;
    if (record.kycStatus !== 'approved') return `KYC is ${record.kycStatus} for ${asset}`;
    if (!record.allowlisted) return `not on the ${asset} holder allowlist`;
    if (record.expiresAt !== undefined && record.expiresAt <= now)
      return `compliance for ${asset} has expired`;
    if (requiresAccreditation && !record.accredited) return `${asset} is for accredited investors only`;
    return undefined;
  }
}

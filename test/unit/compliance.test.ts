import { describe, expect, it } from 'vitest';
import { ComplianceRegistry, type ComplianceRecord } from '../../src/actors/compliance.ts';

const NOW = 1_800_000_000_000;
const ok: ComplianceRecord = {
  userId: 'u',
  asset: 'LUX',
  kycStatus: 'approved',
  allowlisted: true,
  accredited: false,
};

describe('ComplianceRegistry', () => {
  it('admits an approved, allowlisted, unexpired holder', () => {
    expect(new ComplianceRegistry([ok]).refusal('u', 'LUX', false, NOW)).toBeUndefined();
    expect(
      new ComplianceRegistry([{ ...ok, expiresAt: NOW + 1 }]).refusal('u', 'LUX', false, NOW),
    ).toBeUndefined();
  });

  it('refuses every missing condition, naming it', () => {
    const cases: [ComplianceRecord | undefined, boolean, RegExp][] = [
      [undefined, false, /no compliance record/],
      [{ ...ok, kycStatus: 'pending' }, false, /KYC is pending/],
      [{ ...ok, kycStatus: 'rejected' }, false, /KYC is rejected/],
      [{ ...ok, allowlisted: false }, false, /allowlist/],
      [{ ...ok, expiresAt: NOW }, false, /expired/],
      [ok, true, /accredited/],
    ];
    for (const [record, accreditation, why] of cases) {
      const registry = new ComplianceRegistry(record === undefined ? [] : [record]);
      expect(registry.refusal('u', 'LUX', accreditation, NOW)).toMatch(why);
    }
    expect(
      new ComplianceRegistry([{ ...ok, accredited: true }]).refusal('u', 'LUX', true, NOW),
    ).toBeUndefined();
  });

  it('keeps records per user and asset, the latest replacing the earlier', () => {
    const registry = new ComplianceRegistry([ok]);
    expect(registry.refusal('u', 'OTHER', false, NOW)).toMatch(/no compliance record/);
    expect(registry.refusal('v', 'LUX', false, NOW)).toMatch(/no compliance record/);
    registry.set({ ...ok, allowlisted: false });
    expect(registry.refusal('u', 'LUX', false, NOW)).toMatch(/allowlist/);
    expect(registry.forUser('u')).toHaveLength(1);
  });
});

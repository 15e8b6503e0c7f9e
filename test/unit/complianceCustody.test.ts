import { describe, expect, it } from 'vitest';
import { Catalog } from '../../src/actors/catalog.ts';
import { ComplianceRegistry, type ComplianceRecord } from '../../src/actors/compliance.ts';
import { ComplianceAdmin } from '../../src/services/complianceAdmin.ts';

/*
 * Issue 16: a user's custodial deposit address follows their compliance on each RWA token through
 * the allowlist job: added when a record starts allowlisting, removed when it stops, untouched when
 * nothing about allowlisting changed; a wallet of the record's own is still synced beside it.
 */

const CUSTODY = '0x00000000000000000000000000000000000000c1';
const WALLET = '0x00000000000000000000000000000000000000a1';

function admin(custody: string | undefined) {
  const catalog = new Catalog();
  catalog.addAsset({ symbol: 'LUX', decimals: 18, kind: 'rwa' });
  const synced: [string, string, boolean][] = [];
  const service = new ComplianceAdmin({
    catalog,
    registry: new ComplianceRegistry(),
    save: () => Promise.resolve(),
    syncAllowlist: (asset, wallet, allowed) => {
      synced.push([asset, wallet, allowed]);
      return Promise.resolve();
    },
    custodyAddress: () => Promise.resolve(custody),
  });
  return { service, synced };
}

const record: ComplianceRecord = {
  userId: 'u',
  asset: 'LUX',
  kycStatus: 'approved',
  allowlisted: true,
  accredited: false,
};

describe('custody addresses on the allowlist', () => {
  it('adds the deposit address on approval and removes it on revocation', async () => {
    const { service, synced } = admin(CUSTODY);
    expect((await service.set(record, 'ops')).ok).toBe(true);
    expect(synced).toEqual([['LUX', CUSTODY, true]]);
    expect((await service.set({ ...record, accredited: true }, 'ops')).ok).toBe(true);
    expect(synced).toHaveLength(1);
    expect((await service.set({ ...record, allowlisted: false }, 'ops')).ok).toBe(true);
    expect(synced).toEqual([
      ['LUX', CUSTODY, true],
      ['LUX', CUSTODY, false],
    ]);
  });

  it('syncs a wallet of the record beside the deposit address, and nothing without an address', async () => {
    const withWallet = admin(CUSTODY);
    await withWallet.service.set({ ...record, walletAddress: WALLET }, 'ops');
    expect(withWallet.synced).toEqual([
      ['LUX', WALLET, true],
      ['LUX', CUSTODY, true],
    ]);
    const none = admin(undefined);
    await none.service.set(record, 'ops');
    expect(none.synced).toEqual([]);
  });
});

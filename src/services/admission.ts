import type { Catalog } from '../actors/catalog.ts';
import type { ComplianceRegistry, RwaLeg } from '../actors/compliance.ts';
import type { MarketDefinition } from '../actors/market/types.ts';
import type { AssetRecords } from './assetRecords.ts';

export interface AdmissionOptions {
  readonly catalog: Catalog;
  readonly compliance: ComplianceRegistry;
  readonly records: AssetRecords;
  readonly clock?: () => number;
}

/**
 * The compliance gate of markets moving an RWA (base or quote): only holders whose compliance for
 * each RWA leg is approved (and accredited where the token's registration requires it) add
 * exposure. The supervisor hands it to each market actor, which consults it for places, amends
 * that reprice or grow, and stops as they trigger. Undefined admits; a string is the refusal.
 */
export function rwaAdmission(options: AdmissionOptions) {
  const { catalog, compliance, records } = options;
  const clock = options.clock ?? Date.now;
  return (market: MarketDefinition, userId: string): string | undefined => {
    const { baseAsset, quoteAsset } = market;
    const legs: RwaLeg[] = [];
    for (const asset of [baseAsset, quoteAsset]) {
      if (catalog.asset(asset)?.kind !== 'rwa') continue;
      legs.push({ asset, requiresAccreditation: requiresAccreditation(records, asset) });
    }
    return legs.length === 0 ? undefined : compliance.marketRefusal(userId, legs, clock());
  };
}

/** Whether the token's registration asks for accredited holders (`attributes.requiresAccreditation`). */
function requiresAccreditation(records: AssetRecords, asset: string): boolean {
  const attributes: unknown = records.ofToken(asset)?.details.attributes;
  return (
    typeof attributes === 'object' &&
    attributes !== null &&
    'requiresAccreditation' in attributes &&
    attributes.requiresAccreditation === true
  );
}

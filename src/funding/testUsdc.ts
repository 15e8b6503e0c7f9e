import type { Logger } from 'pino';
import type { Asset } from '../actors/catalog.ts';
import type { ChainClient } from '../chain/client.ts';
import type { Outcome } from '../protocol/errors.ts';

/*
 * Development and demos (CHAIN_TEST_USDC=true): the exchange deploys its own test USDC on the chain
 * (anvil) and defines the asset USDC bound to it, so chain deposits and payouts work out of the box.
 * An existing USDC is left alone (binding cannot change after the asset is defined).
 */
export async function ensureTestUsdc(deps: {
  readonly chain: () => Promise<ChainClient>;
  readonly asset: (symbol: string) => Asset | undefined;
  readonly createAsset: (asset: Asset) => Promise<Outcome<Asset>>;
  readonly log: Logger;
}): Promise<string | undefined> {
  const existing = deps.asset('USDC');
  if (existing !== undefined) {
    if (existing.contractAddress === undefined)
      deps.log.warn('CHAIN_TEST_USDC: asset USDC exists without a contract; no test USDC deployed');
    return existing.contractAddress;
  }
  const chain = await deps.chain();
  const { contractAddress } = await chain.deployTestToken({
    name: 'Test USD Coin',
    symbol: 'USDC',
    decimals: 6,
  });
  const created = await deps.createAsset({ symbol: 'USDC', decimals: 6, kind: 'stable', contractAddress });
  if (!created.ok) throw new Error(`CHAIN_TEST_USDC: asset USDC not defined: ${created.message}`);
  deps.log.info({ contractAddress, minter: chain.address }, 'test USDC deployed and bound to USDC');
  return contractAddress;
}

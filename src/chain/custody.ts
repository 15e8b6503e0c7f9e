import { HDNodeWallet, Mnemonic } from 'ethers';

/*
 * Custodial deposit addresses (issue 16): one per user, derived from CHAIN_CUSTODY_MNEMONIC at the
 * index Postgres assigned the user (custody_addresses), so the same seed always gives the same
 * address. The account level is 1 (m/44'/60'/1'/0/i): anvil's funded accounts and the usual
 * platform key live at account 0 of the same development phrase, and must never be a user's.
 */

export const CUSTODY_PATH_PREFIX = "m/44'/60'/1'/0";

export interface CustodyKeys {
  /** The address at `index` (checksummed). */
  address(index: number): string;
  /** The signing key at `index` (signed transfers of plain ERC-20s out of a deposit address). */
  privateKey(index: number): string;
}

export function custodyKeys(phrase: string): CustodyKeys {
  const root = HDNodeWallet.fromMnemonic(Mnemonic.fromPhrase(phrase.trim()), CUSTODY_PATH_PREFIX);
  const derived = new Map<number, HDNodeWallet>();
  // Derivation costs ~1 ms; the pool of users asking is bounded by the custody table.
  const at = (index: number): HDNodeWallet => {
    if (!Number.isSafeInteger(index) || index < 0 || index >= 2 ** 31)
      throw new Error(`custody index out of range: ${index}`);
    let wallet = derived.get(index);
    if (wallet === undefined) {
      wallet = root.deriveChild(index);
      derived.set(index, wallet);
    }
    return wallet;
  };
  return {
    address: (index) => at(index).address,
    privateKey: (index) => at(index).privateKey,
  };
}

import { wrapEthersSigner } from '@oasisprotocol/sapphire-ethers-v6';
import type { Signer } from 'ethers';

/** Chain ids of Oasis Sapphire, whose confidential EVM takes encrypted calldata. */
export const SAPPHIRE_CHAIN_IDS = Object.freeze({ mainnet: 23_294, testnet: 23_295, localnet: 23_293 });

const sapphireIds = new Set<number>(Object.values(SAPPHIRE_CHAIN_IDS));

export function isSapphireChain(chainId: number | bigint): boolean {
  return sapphireIds.has(Number(chainId));
}

/**
 * On Sapphire, the signer encrypts calldata of transactions, calls and gas estimates with the
 * runtime's public key; on any other chain (anvil) encryption would only make the node reject the
 * data, so the signer is used as it is.
 */
export function signerForChain<S extends Signer>(signer: S, chainId: number | bigint): S {
  return isSapphireChain(chainId) ? wrapEthersSigner(signer) : signer;
}

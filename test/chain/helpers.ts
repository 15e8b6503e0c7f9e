import { Contract, Interface, JsonRpcProvider, Wallet, type TransactionReceipt } from 'ethers';
import { loadRwaTokenArtifact } from '../../src/chain/artifact.ts';
import { ChainError, toChainError } from '../../src/chain/errors.ts';

export async function tokenInterface(): Promise<Interface> {
  return new Interface((await loadRwaTokenArtifact()).abi);
}

export function providerFor(rpcUrl: string): JsonRpcProvider {
  return new JsonRpcProvider(rpcUrl, undefined, { cacheTimeout: -1, pollingInterval: 50 });
}

/** The token as seen by a holder who signs for itself (not the platform). */
export function tokenAs(
  address: string,
  iface: Interface,
  privateKey: string,
  provider: JsonRpcProvider,
): Contract {
  return new Contract(address, iface, new Wallet(privateKey, provider));
}

/** Runs a holder's transaction; resolves to the receipt, or rejects with a ChainError holding the decoded revert. */
export async function send(
  iface: Interface,
  tx: () => Promise<{ wait(): Promise<TransactionReceipt | null> }>,
): Promise<TransactionReceipt> {
  try {
    const receipt = await (await tx()).wait();
    if (receipt === null) throw new Error('no receipt');
    return receipt;
  } catch (err) {
    throw toChainError('holder transaction', err, iface);
  }
}

/** The name of the custom error a failed call reverted with. */
export async function revertName(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof ChainError) return err.revert?.name ?? `${err.code}: ${err.message}`;
    throw err;
  }
  throw new Error('expected a revert, but the call succeeded');
}

export interface DecodedLog {
  name: string;
  args: unknown[];
}

export async function eventsOf(
  provider: JsonRpcProvider,
  iface: Interface,
  txHash: string,
): Promise<DecodedLog[]> {
  const receipt = await provider.getTransactionReceipt(txHash);
  if (receipt === null) throw new Error(`no receipt for ${txHash}`);
  const events: DecodedLog[] = [];
  for (const log of receipt.logs) {
    const parsed = iface.parseLog(log);
    if (parsed !== null) events.push({ name: parsed.name, args: [...(parsed.args as Iterable<unknown>)] });
  }
  return events;
}

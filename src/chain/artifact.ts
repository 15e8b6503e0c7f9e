import { buildContracts, type ContractArtifact } from './contractBuild.ts';

export type { ContractArtifact } from './contractBuild.ts';

const artifacts = new Map<string, Promise<ContractArtifact>>();

/**
 * A compiled contract of contracts/, built on demand when .data/contracts is missing or older than
 * the sources, so a fresh clone needs no separate build step. Memoized per process and name; a
 * failed build is retried on the next call.
 */
export function loadArtifact(contractName: string): Promise<ContractArtifact> {
  let loading = artifacts.get(contractName);
  if (loading === undefined) {
    loading = buildContracts().then((result) => {
      const artifact = result.artifacts.find((a) => a.contractName === contractName);
      if (artifact === undefined)
        throw new Error(`${contractName} missing from the contract build in ${result.outDir}`);
      return artifact;
    });
    artifacts.set(contractName, loading);
    loading.catch(() => {
      artifacts.delete(contractName);
    });
  }
  return loading;
}

/** The compiled RwaToken (see loadArtifact). */
export function loadRwaTokenArtifact(): Promise<ContractArtifact> {
  return loadArtifact('RwaToken');
}

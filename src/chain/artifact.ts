import { buildContracts, type ContractArtifact } from './contractBuild.ts';

export type { ContractArtifact } from './contractBuild.ts';

let rwaToken: Promise<ContractArtifact> | undefined;

/**
 * The compiled RwaToken, built on demand when .data/contracts is missing or older than the sources,
 * so a fresh clone needs no separate build step. Memoized per process; a failed build is retried
 * on the next call.
 */
export function loadRwaTokenArtifact(): Promise<ContractArtifact> {
  rwaToken ??= buildContracts().then((result) => {
    const artifact = result.artifacts.find((a) => a.contractName === 'RwaToken');
    if (artifact === undefined)
      throw new Error(`RwaToken missing from the contract build in ${result.outDir}`);
    return artifact;
  });
  rwaToken.catch(() => {
    rwaToken = undefined;
  });
  return rwaToken;
}

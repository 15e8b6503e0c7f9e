import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadRwaTokenArtifact } from '../../src/chain/artifact.ts';
import { buildContracts, CONTRACTS_DIR } from '../../src/chain/contractBuild.ts';

const scratch = await mkdtemp(path.join(tmpdir(), 'rwa-contracts-'));
afterAll(() => rm(scratch, { recursive: true, force: true }));

describe('contract build', () => {
  it('compiles once, then answers from the cache until a source changes', async () => {
    const contractsDir = path.join(scratch, 'contracts');
    const outDir = path.join(scratch, 'out');
    await cp(CONTRACTS_DIR, contractsDir, { recursive: true });

    const first = await buildContracts({ contractsDir, outDir });
    expect(first.cacheHit).toBe(false);
    expect(first.artifacts.map((a) => a.contractName)).toEqual(['RwaToken', 'Settlement', 'TestUsdc']);
    const stored = JSON.parse(await readFile(path.join(outDir, 'RwaToken.json'), 'utf8')) as {
      bytecode: string;
    };
    expect(stored.bytecode).toMatch(/^0x[0-9a-f]{100,}$/);

    const second = await buildContracts({ contractsDir, outDir });
    expect(second.cacheHit).toBe(true);
    expect(second.artifacts).toEqual(first.artifacts);

    const source = path.join(contractsDir, 'RwaToken.sol');
    await writeFile(source, `${await readFile(source, 'utf8')}\n// changed\n`);
    expect((await buildContracts({ contractsDir, outDir })).cacheHit).toBe(false);
  });

  it('loads the RwaToken artifact with its abi and bytecode', async () => {
    const artifact = await loadRwaTokenArtifact();
    expect(artifact.contractName).toBe('RwaToken');
    expect(artifact.compiler).toMatch(/^0\.8\.37/);
    const names = artifact.abi.map((entry) => entry.name);
    for (const name of [
      'mint',
      'setAllowlisted',
      'setFrozen',
      'forcedTransfer',
      'pause',
      'NotAllowlisted',
      'AccountFrozen',
    ]) {
      expect(names).toContain(name);
    }
  });
});

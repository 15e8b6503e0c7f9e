/**
 * Compiles contracts/*.sol into .data/contracts/ (cached by a hash of the sources and compiler):
 *   tsx scripts/build-contracts.ts [--force]
 * The app and the tests build on demand too (src/chain/artifact.ts); this is for CI and for seeing
 * compiler warnings.
 */
import { buildContracts } from '../src/chain/contractBuild.ts';

const started = performance.now();
try {
  const result = await buildContracts({ force: process.argv.includes('--force') });
  for (const warning of result.warnings) console.error(warning);
  const names = result.artifacts.map((a) => a.contractName).join(', ');
  const how = result.cacheHit ? 'cached' : 'compiled';
  console.log(`${how} ${names} → ${result.outDir} in ${Math.round(performance.now() - started)} ms`);
} catch (err) {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
}

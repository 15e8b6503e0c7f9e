/**
 * Compiles contracts/*.sol into .data/contracts/ (cached by a hash of the sources and compiler):
 *   tsx scripts/build-contracts.ts [--force]
 * The app and the tests build on demand too (src/chain/artifact.ts); this is for CI and for seeing
 * compiler warnings.
 */
import { buildContracts } from '../src/chain/contractBuild.ts';
import { parseCommandLine } from './lib/cli.ts';

const { values } = parseCommandLine({
  name: 'npm run build:contracts --',
  usage: `usage: npm run build:contracts -- [--force]

Compiles contracts/*.sol with the solc npm package into .data/contracts/ (cached by a hash of the
sources and the compiler) and prints the compiler's warnings. The exchange builds on demand too.

  --force      compile even when the cache is current
  -h, --help   this text`,
  options: { force: { type: 'boolean', default: false } },
});
const started = performance.now();
try {
  const result = await buildContracts({ force: values.force });
  for (const warning of result.warnings) console.error(warning);
  const names = result.artifacts.map((a) => a.contractName).join(', ');
  const how = result.cacheHit ? 'cached' : 'compiled';
  console.log(`${how} ${names} → ${result.outDir} in ${Math.round(performance.now() - started)} ms`);
} catch (err) {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
}

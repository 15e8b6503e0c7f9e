import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseCommandLine, usageError } from './lib/cli.ts';

/*
 * docs/contract.md is the wire contract inside the repository, a verbatim copy of
 * ../shared/PROTOCOL.md (the source, which outside clients are written against). This keeps them
 * in step: `--check` (part of `npm run check`) fails when they differ, `--write` copies the source.
 * A clone without ../shared has nothing to compare against; the copy in docs/ is then the contract.
 */
const USAGE =
  'usage: tsx scripts/contract.ts --check | --write   (docs/contract.md vs ../shared/PROTOCOL.md)';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CONTRACT_COPY = path.join(repoRoot, 'docs', 'contract.md');
const CONTRACT_SOURCE = path.join(repoRoot, '..', 'shared', 'PROTOCOL.md');

function main(): void {
  const { values } = parseCommandLine({
    name: 'npm run contract --',
    usage: USAGE,
    options: { check: { type: 'boolean' }, write: { type: 'boolean' } },
  });
  if (values.check === values.write) usageError('npm run contract --', 'say --check or --write');
  if (!existsSync(CONTRACT_SOURCE)) {
    console.log(`contract: ${CONTRACT_SOURCE} is not here; docs/contract.md stands as the contract`);
    return;
  }
  const source = readFileSync(CONTRACT_SOURCE, 'utf8');
  if (values.write === true) {
    writeFileSync(CONTRACT_COPY, source);
    console.log('contract: docs/contract.md copied from ../shared/PROTOCOL.md');
    return;
  }
  const copy = existsSync(CONTRACT_COPY) ? readFileSync(CONTRACT_COPY, 'utf8') : '';
  if (copy !== source) {
    console.error(
      'contract: docs/contract.md differs from ../shared/PROTOCOL.md; run `npm run contract -- --write`',
    );
    process.exit(1);
  }
  console.log('contract: docs/contract.md is in step with ../shared/PROTOCOL.md');
}

main();

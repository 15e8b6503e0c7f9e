/**
 * Compiles contracts/*.sol with the `solc` npm package (standard JSON, optimizer on) into one
 * artifact per contract (abi + creation bytecode) under .data/contracts/, git-ignored.
 *
 * The cache key hashes the sources, the solc and OpenZeppelin package versions and the compiler
 * settings; it is computed without loading the compiler (loading soljson alone takes ~1 s), so a
 * build whose artifacts are fresh costs a few file reads.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, readFile, readdir, rename, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { z } from 'zod/v4';
import { REPO_ROOT } from '../repoRoot.ts';

const require = createRequire(import.meta.url);

export const CONTRACTS_DIR = path.join(REPO_ROOT, 'contracts');
export const ARTIFACTS_DIR = path.join(REPO_ROOT, '.data', 'contracts');

/**
 * `paris` bytecode (no PUSH0, MCOPY or transient storage) runs on every EVM we target, whatever
 * fork a Sapphire node or anvil implements; the contract needs nothing newer.
 */
const SETTINGS = {
  optimizer: { enabled: true, runs: 200 },
  evmVersion: 'paris',
  outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object'] } },
} as const;

const artifactSchema = z.object({
  contractName: z.string(),
  sourceName: z.string(),
  abi: z.array(z.record(z.string(), z.unknown())),
  bytecode: z.string().regex(/^0x[0-9a-f]+$/),
  compiler: z.string(),
  cacheKey: z.string(),
});

export type ContractArtifact = z.infer<typeof artifactSchema>;

export interface BuildOptions {
  contractsDir?: string;
  outDir?: string;
  /** Compile even when the artifacts are fresh. */
  force?: boolean;
}

export interface BuildResult {
  cacheHit: boolean;
  outDir: string;
  artifacts: ContractArtifact[];
  /** Compiler warnings, formatted (empty on a cache hit). */
  warnings: string[];
}

interface SolcOutput {
  errors?: { severity: 'error' | 'warning' | 'info'; formattedMessage: string }[];
  contracts?: Record<
    string,
    Record<string, { abi: Record<string, unknown>[]; evm: { bytecode: { object: string } } }>
  >;
}

interface Solc {
  version(): string;
  compile(
    input: string,
    callbacks: { import: (importPath: string) => { contents: string } | { error: string } },
  ): string;
}

export class ContractBuildError extends Error {
  override readonly name = 'ContractBuildError';
}

function packageVersion(name: string): string {
  const pkg = require(`${name}/package.json`) as { version?: unknown };
  if (typeof pkg.version !== 'string') throw new ContractBuildError(`${name}/package.json has no version`);
  return pkg.version;
}

async function readSources(contractsDir: string): Promise<Map<string, string>> {
  const names = (await readdir(contractsDir)).filter((name) => name.endsWith('.sol')).sort();
  if (names.length === 0) throw new ContractBuildError(`no .sol files in ${contractsDir}`);
  const sources = new Map<string, string>();
  for (const name of names) {
    sources.set(`contracts/${name}`, await readFile(path.join(contractsDir, name), 'utf8'));
  }
  return sources;
}

function cacheKeyOf(sources: Map<string, string>): string {
  const hash = createHash('sha256');
  hash.update(JSON.stringify(SETTINGS));
  hash.update(
    `solc@${packageVersion('solc')} @openzeppelin/contracts@${packageVersion('@openzeppelin/contracts')}`,
  );
  for (const [name, content] of sources) hash.update(`\0${name}\0${content}`);
  return hash.digest('hex');
}

/** Only OpenZeppelin imports are resolved, from node_modules; anything else is a build error. */
function resolveImport(importPath: string): { contents: string } | { error: string } {
  if (!importPath.startsWith('@openzeppelin/')) return { error: `import not allowed: ${importPath}` };
  try {
    return { contents: readFileSync(require.resolve(importPath), 'utf8') };
  } catch {
    return { error: `import not found in node_modules: ${importPath}` };
  }
}

async function loadCached(
  outDir: string,
  sourceNames: string[],
  cacheKey: string,
): Promise<ContractArtifact[] | undefined> {
  let index: unknown;
  try {
    index = JSON.parse(await readFile(path.join(outDir, 'index.json'), 'utf8'));
  } catch {
    return undefined;
  }
  const parsed = z.object({ cacheKey: z.string(), contracts: z.array(z.string()) }).safeParse(index);
  if (!parsed.success || parsed.data.cacheKey !== cacheKey) return undefined;
  const artifacts: ContractArtifact[] = [];
  for (const name of parsed.data.contracts) {
    const artifact = await readArtifact(outDir, name).catch(() => undefined);
    if (artifact?.cacheKey !== cacheKey || !sourceNames.includes(artifact.sourceName)) return undefined;
    artifacts.push(artifact);
  }
  return artifacts;
}

export async function readArtifact(outDir: string, contractName: string): Promise<ContractArtifact> {
  const text = await readFile(path.join(outDir, `${contractName}.json`), 'utf8');
  return artifactSchema.parse(JSON.parse(text));
}

/** Writes through a temporary file and a rename, so parallel builds never expose a half file. */
async function writeAtomic(file: string, content: string): Promise<void> {
  const temporary = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  await writeFile(temporary, content);
  await rename(temporary, file);
}

async function compile(
  sources: Map<string, string>,
  cacheKey: string,
): Promise<{ artifacts: ContractArtifact[]; warnings: string[] }> {
  const solc = (await import('solc')).default as Solc;
  const input = {
    language: 'Solidity',
    sources: Object.fromEntries([...sources].map(([name, content]) => [name, { content }])),
    settings: SETTINGS,
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input), { import: resolveImport })) as SolcOutput;
  const problems = output.errors ?? [];
  const errors = problems.filter((p) => p.severity === 'error').map((p) => p.formattedMessage);
  if (errors.length > 0) throw new ContractBuildError(`solc failed:\n${errors.join('\n')}`);
  const compiler = solc.version();
  const artifacts: ContractArtifact[] = [];
  for (const sourceName of sources.keys()) {
    for (const [contractName, contract] of Object.entries(output.contracts?.[sourceName] ?? {})) {
      const bytecode = contract.evm.bytecode.object;
      if (bytecode === '') continue; // interfaces and abstract contracts cannot be deployed
      artifacts.push({
        contractName,
        sourceName,
        abi: contract.abi,
        bytecode: `0x${bytecode}`,
        compiler,
        cacheKey,
      });
    }
  }
  const warnings = problems.filter((p) => p.severity === 'warning').map((p) => p.formattedMessage);
  return { artifacts, warnings };
}

/** Builds the contracts unless the artifacts in `outDir` already match the sources. */
export async function buildContracts(options: BuildOptions = {}): Promise<BuildResult> {
  const contractsDir = options.contractsDir ?? CONTRACTS_DIR;
  const outDir = options.outDir ?? ARTIFACTS_DIR;
  const sources = await readSources(contractsDir);
  const cacheKey = cacheKeyOf(sources);
  if (options.force !== true) {
    const cached = await loadCached(outDir, [...sources.keys()], cacheKey);
    if (cached !== undefined) return { cacheHit: true, outDir, artifacts: cached, warnings: [] };
  }
  const { artifacts, warnings } = await compile(sources, cacheKey);
  await mkdir(outDir, { recursive: true });
  for (const artifact of artifacts) {
    await writeAtomic(
      path.join(outDir, `${artifact.contractName}.json`),
      `${JSON.stringify(artifact, null, 2)}\n`,
    );
  }
  // The index is written last: its key vouches for the artifacts written before it.
  const index = { cacheKey, contracts: artifacts.map((a) => a.contractName) };
  await writeAtomic(path.join(outDir, 'index.json'), `${JSON.stringify(index, null, 2)}\n`);
  return { cacheHit: false, outDir, artifacts, warnings };
}

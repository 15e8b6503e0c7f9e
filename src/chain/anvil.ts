/**
 * Starts the anvil binary shipped in @foundry-rs/anvil's platform package as a local chain.
 *
 * The binary is spawned directly: through `npx anvil` it runs under a Node wrapper that survives a
 * kill of its parent, leaving orphan chains behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import path from 'node:path';
import { HDNodeWallet, Mnemonic } from 'ethers';

const require = createRequire(import.meta.url);

/** Anvil's default mnemonic: its accounts are public knowledge, for local chains only. */
export const ANVIL_MNEMONIC = 'test test test test test test test test test test test junk';
const ACCOUNT_COUNT = 10;

export interface AnvilAccount {
  address: string;
  privateKey: string;
}

export interface AnvilOptions {
  /** 0 (the default) picks a free port. */
  port?: number;
  chainId?: number;
  host?: string;
  /** Milliseconds to wait for JSON-RPC to answer. */
  startTimeoutMs?: number;
}

export interface Anvil {
  rpcUrl: string;
  chainId: number;
  /** Anvil's default accounts, funded with 10,000 ETH each; account 0 is the usual deployer. */
  accounts: AnvilAccount[];
  pid: number;
  stop(): Promise<void>;
}

const PLATFORM_PACKAGES: Partial<Record<string, string>> = {
  'linux-x64': '@foundry-rs/anvil-linux-amd64',
  'linux-arm64': '@foundry-rs/anvil-linux-arm64',
  'darwin-x64': '@foundry-rs/anvil-darwin-amd64',
  'darwin-arm64': '@foundry-rs/anvil-darwin-arm64',
  'win32-x64': '@foundry-rs/anvil-win32-amd64',
};

/** Path of the anvil binary for this platform; throws a message that says what is missing. */
export function anvilBinaryPath(): string {
  const platform = `${process.platform}-${process.arch}`;
  const pkg = PLATFORM_PACKAGES[platform];
  if (pkg === undefined) {
    throw new Error(
      `anvil: no @foundry-rs/anvil binary for ${platform}; set CHAIN_RPC_URL to a running chain`,
    );
  }
  const binary = process.platform === 'win32' ? 'anvil.exe' : 'anvil';
  // The platform package is an optional dependency of @foundry-rs/anvil: look next to it as well,
  // in case the package manager did not hoist it.
  const bases = [require];
  try {
    bases.push(createRequire(require.resolve('@foundry-rs/anvil/package.json')));
  } catch {
    // @foundry-rs/anvil itself is missing; the error below says so.
  }
  for (const base of bases) {
    try {
      const file = path.join(path.dirname(base.resolve(`${pkg}/package.json`)), 'bin', binary);
      if (existsSync(file)) return file;
    } catch {
      // try the next base
    }
  }
  throw new Error(
    `anvil: ${pkg} is not installed (npm ci installs it with @foundry-rs/anvil on ${platform})`,
  );
}

export function anvilAccounts(count = ACCOUNT_COUNT): AnvilAccount[] {
  const mnemonic = Mnemonic.fromPhrase(ANVIL_MNEMONIC);
  return Array.from({ length: count }, (_, i) => {
    const wallet = HDNodeWallet.fromMnemonic(mnemonic, `m/44'/60'/0'/0/${i}`);
    return { address: wallet.address, privateKey: wallet.privateKey };
  });
}

function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      server.close(() => {
        if (address !== null && typeof address === 'object') resolve(address.port);
        else reject(new Error('anvil: could not pick a free port'));
      });
    });
  });
}

async function rpcChainId(rpcUrl: string): Promise<number | undefined> {
  try {
    const response = await fetch(rpcUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
      signal: AbortSignal.timeout(1_000),
    });
    const body = (await response.json()) as { result?: unknown };
    return typeof body.result === 'string' ? Number.parseInt(body.result, 16) : undefined;
  } catch {
    return undefined;
  }
}

const running = new Set<ChildProcess>();
let exitHooksInstalled = false;
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

function killAll(): void {
  for (const child of running) child.kill('SIGKILL');
}

/**
 * Node has no parent-death signal, so anvil is killed from here: on 'exit' (which also follows the
 * app's own signal handlers when they call process.exit), and on SIGINT/SIGTERM/SIGHUP. SIGKILL,
 * because 'exit' handlers must be synchronous and anvil holds nothing worth a flush. When nobody
 * else listens to the signal, it is raised again after our handler is removed, so the process still
 * dies of it as it would have without us.
 */
function installExitHooks(): void {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  process.once('exit', killAll);
  for (const signal of SIGNALS) {
    const onSignal = (): void => {
      killAll();
      if (process.listenerCount(signal) === 1) {
        process.off(signal, onSignal);
        process.kill(process.pid, signal);
      }
    };
    process.on(signal, onSignal);
  }
}

function waitForExit(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

export async function startAnvil(options: AnvilOptions = {}): Promise<Anvil> {
  const host = options.host ?? '127.0.0.1';
  const chainId = options.chainId ?? 31_337;
  const port = options.port !== undefined && options.port !== 0 ? options.port : await freePort(host);
  const binary = anvilBinaryPath();
  const child = spawn(
    binary,
    [
      '--host',
      host,
      '--port',
      String(port),
      '--chain-id',
      String(chainId),
      '--accounts',
      String(ACCOUNT_COUNT),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  running.add(child);
  installExitHooks();
  // Output is drained for as long as anvil runs (it logs every transaction; a full pipe would block
  // it); the tail is kept for error messages. "Listening on" proves that this child owns the port,
  // not another chain that answered on it first.
  const seen = { output: '', listening: false };
  const onOutput = (chunk: string): void => {
    seen.output = (seen.output + chunk).slice(-4_000);
    seen.listening ||= seen.output.includes(`Listening on ${host}:${port}`);
  };
  child.stdout.setEncoding('utf8').on('data', onOutput);
  child.stderr.setEncoding('utf8').on('data', onOutput);
  const failure: { spawn?: Error } = {};
  child.once('error', (err) => {
    failure.spawn = err;
  });
  child.once('exit', () => running.delete(child));

  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await waitForExit(child);
  };

  const rpcUrl = `http://${host}:${port}`;
  const deadline = Date.now() + (options.startTimeoutMs ?? 15_000);
  for (;;) {
    if (failure.spawn !== undefined)
      throw new Error(`anvil: could not start ${binary}: ${failure.spawn.message}`);
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(
        `anvil exited (${child.exitCode ?? child.signalCode}) before answering: ${seen.output.trim()}`,
      );
    }
    const answered = seen.listening ? await rpcChainId(rpcUrl) : undefined;
    if (answered === chainId) break;
    if (answered !== undefined) {
      await stop();
      throw new Error(
        `anvil: ${rpcUrl} answers chain id ${answered}, not ${chainId} (port taken by another chain?)`,
      );
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(
        `anvil: no JSON-RPC answer on ${rpcUrl} within the start timeout: ${seen.output.trim()}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { rpcUrl, chainId, accounts: anvilAccounts(), pid: child.pid ?? -1, stop };
}

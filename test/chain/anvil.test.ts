import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { anvilAccounts, anvilBinaryPath, startAnvil } from '../../src/chain/anvil.ts';
import { eventually } from '../support/eventually.ts';

const fixture = fileURLToPath(new URL('./fixtures/anvilChild.ts', import.meta.url));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function gone(pid: number, withinMs = 3_000): Promise<boolean> {
  return eventually(() => !alive(pid), { timeoutMs: withinMs, everyMs: 50 }).catch(() => false);
}

async function chainIdAt(rpcUrl: string): Promise<string | undefined> {
  try {
    const response = await fetch(rpcUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
    });
    return ((await response.json()) as { result?: string }).result;
  } catch {
    return undefined;
  }
}

/** Runs the fixture under tsx and returns the pid of the anvil it started, plus the fixture process. */
async function anvilInChild(mode: 'exit' | 'wait') {
  const child = spawn(process.execPath, ['--import', 'tsx', fixture, mode], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout });
  for await (const line of lines) {
    const { pid } = JSON.parse(line) as { pid: number };
    return { child, pid };
  }
  throw new Error('the fixture printed nothing');
}

describe('startAnvil', () => {
  it('starts the binary directly on a free port, answers JSON-RPC, and stops', async () => {
    expect(anvilBinaryPath()).toMatch(/@foundry-rs\/anvil-[a-z0-9]+-[a-z0-9]+\/bin\/anvil(\.exe)?$/);
    const [a, b] = await Promise.all([startAnvil(), startAnvil({ chainId: 31_338 })]);
    try {
      expect(a.rpcUrl).not.toBe(b.rpcUrl);
      expect(await chainIdAt(a.rpcUrl)).toBe('0x7a69');
      expect(await chainIdAt(b.rpcUrl)).toBe('0x7a6a');
      expect(a.accounts[0]?.address).toBe('0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266');
      expect(a.accounts).toEqual(anvilAccounts());
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
    expect(alive(a.pid)).toBe(false);
    expect(await chainIdAt(a.rpcUrl)).toBeUndefined();
  });

  it('refuses a port another chain already holds', async () => {
    const first = await startAnvil();
    try {
      const port = Number(new URL(first.rpcUrl).port);
      await expect(startAnvil({ port })).rejects.toThrow(/anvil/);
      expect(await chainIdAt(first.rpcUrl)).toBe('0x7a69');
    } finally {
      await first.stop();
    }
  });

  it('does not outlive a parent that exits', async () => {
    const { child, pid } = await anvilInChild('exit');
    await new Promise((resolve) => child.once('exit', resolve));
    expect(await gone(pid)).toBe(true);
  });

  it('does not outlive a parent killed by SIGTERM', async () => {
    const { child, pid } = await anvilInChild('wait');
    expect(alive(pid)).toBe(true);
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      child.once('exit', (_code, signal) => resolve(signal)),
    );
    child.kill('SIGTERM');
    expect(await exited).toBe('SIGTERM');
    expect(await gone(pid)).toBe(true);
  });
});

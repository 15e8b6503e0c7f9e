import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createChainClient, type RecordedTransaction } from '../../src/chain/client.ts';

/*
 * The settlement and mint transactions (issue 16) go through the same Sapphire decision as the
 * deploy and allowlist calls: on a Sapphire chain id the platform's signer is the wrapped one,
 * which fetches the runtime's calldata key (an eth_call to the subcall precompile) before it
 * estimates or signs anything with data; on any other chain the calldata goes out as it is. A
 * JSON-RPC stub that answers only the chain id and nonces records which it was.
 */

const KEY = '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d';
const SUBCALL = '0x0100000000000000000000000000000000000103';
const TOKEN = '0x000000000000000000000000000000000000dEaD';
const HOLDER = '0x000000000000000000000000000000000000bEEF';

interface RpcCall {
  id: number;
  method: string;
  params: { to?: string }[];
}

describe('settlement and mint on Sapphire', () => {
  const methods: string[] = [];
  let server: Server;
  let url: string;
  let chainIdHex = '0x5aff';

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        const parsed = JSON.parse(body) as RpcCall | RpcCall[];
        const calls = [parsed].flat();
        for (const call of calls)
          methods.push(call.method === 'eth_call' ? `eth_call ${call.params[0]?.to}` : call.method);
        const answers = calls.map((c) =>
          c.method === 'eth_chainId'
            ? { jsonrpc: '2.0', id: c.id, result: chainIdHex }
            : c.method === 'eth_getTransactionCount'
              ? { jsonrpc: '2.0', id: c.id, result: '0x0' }
              : { jsonrpc: '2.0', id: c.id, error: { code: -32601, message: 'stub' } },
        );
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(Array.isArray(parsed) ? answers : answers[0]));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  async function attempt(chainId: number): Promise<RecordedTransaction[]> {
    chainIdHex = `0x${chainId.toString(16)}`;
    const client = createChainClient({ rpcUrl: url, chainId, privateKey: KEY, rpcTimeoutMs: 2_000 });
    const recorded: RecordedTransaction[] = [];
    const record = (tx: RecordedTransaction) => {
      recorded.push(tx);
      return Promise.resolve();
    };
    try {
      const legs = [{ token: TOKEN, from: HOLDER, to: client.address, amount: 5n, forced: true }];
      await expect(client.sendSettlement(TOKEN, 1n, legs, record)).rejects.toThrow();
      await expect(client.sendMint(TOKEN, HOLDER, 5n, record)).rejects.toThrow();
    } finally {
      client.close();
    }
    return recorded;
  }

  it('wraps the signer on a Sapphire chain id: the calldata key is fetched first', async () => {
    methods.length = 0;
    expect(await attempt(23_295)).toEqual([]);
    expect(methods.filter((m) => m === `eth_call ${SUBCALL}`).length).toBeGreaterThanOrEqual(2);
  });

  it('sends plain calldata on any other chain', async () => {
    methods.length = 0;
    expect(await attempt(31_337)).toEqual([]);
    expect(methods).toContain('eth_estimateGas');
    expect(methods).not.toContain(`eth_call ${SUBCALL}`);
  });
});

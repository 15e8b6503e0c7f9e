import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { JsonRpcProvider, Network, Wallet, type TransactionRequest } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isSapphireChain, SAPPHIRE_CHAIN_IDS, signerForChain } from '../../src/chain/sapphire.ts';

const KEY = '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d';

describe('isSapphireChain', () => {
  it('is true for Sapphire mainnet, testnet and localnet only', () => {
    expect(SAPPHIRE_CHAIN_IDS).toEqual({ mainnet: 23_294, testnet: 23_295, localnet: 23_293 });
    for (const id of [23_294, 23_295, 23_293, 23_294n]) expect(isSapphireChain(id)).toBe(true);
    for (const id of [1, 31_337, 23_292, 23_296, 42_262, 0]) expect(isSapphireChain(id)).toBe(false);
  });
});

interface RpcCall {
  id: number;
  method: string;
  params: { to?: string }[];
}

/** Sapphire's subcall precompile, through which the wrapper reads the runtime's calldata public key. */
const SUBCALL = '0x0100000000000000000000000000000000000103';

/**
 * The wrapped signer fetches the runtime's calldata public key before it signs anything with data;
 * a JSON-RPC stub of Sapphire testnet that records methods (and answers only eth_chainId) shows whether encryption was attempted.
 */
describe('signerForChain', () => {
  const methods: string[] = [];
  let server: Server;
  let url: string;

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        const calls = [JSON.parse(body) as RpcCall | RpcCall[]].flat();
        for (const call of calls)
          methods.push(call.method === 'eth_call' ? `eth_call ${call.params[0]?.to}` : call.method);
        const answers = calls.map((c) =>
          c.method === 'eth_chainId'
            ? { jsonrpc: '2.0', id: c.id, result: '0x5aff' }
            : { jsonrpc: '2.0', id: c.id, error: { code: -32601, message: 'stub' } },
        );
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(Array.isArray(JSON.parse(body)) ? answers : answers[0]));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  function walletOn(chainId: number): Wallet {
    const network = Network.from(chainId);
    return new Wallet(KEY, new JsonRpcProvider(url, network, { staticNetwork: network }));
  }

  const tx = (chainId: number): TransactionRequest => ({
    to: '0x000000000000000000000000000000000000dEaD',
    data: '0x12345678',
    nonce: 0,
    gasLimit: 50_000,
    gasPrice: 1,
    chainId,
  });

  it('wraps the signer on Sapphire: signing encrypts calldata with the runtime key', async () => {
    methods.length = 0;
    const wallet = walletOn(23_295);
    const wrapped = signerForChain(wallet, 23_295);
    expect(wrapped).not.toBe(wallet);
    expect(wrapped.address).toBe(wallet.address);
    await expect(wrapped.signTransaction(tx(23_295))).rejects.toThrow();
    expect(methods).toContain(`eth_call ${SUBCALL}`);
  });

  it('leaves the signer alone on any other chain: calldata is signed as it is', async () => {
    methods.length = 0;
    const wallet = walletOn(31_337);
    expect(signerForChain(wallet, 31_337)).toBe(wallet);
    const signed = await wallet.signTransaction(tx(31_337));
    expect(signed).toContain('12345678');
    expect(methods).toEqual([]);
  });
});

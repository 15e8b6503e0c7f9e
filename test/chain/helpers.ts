import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Contract, Interface, JsonRpcProvider, Wallet, type TransactionReceipt } from 'ethers';
import { loadRwaTokenArtifact } from '../../src/chain/artifact.ts';
import { ChainError, toChainError } from '../../src/chain/errors.ts';
import { z } from 'zod';

export async function tokenInterface(): Promise<Interface> {
  return new Interface((await loadRwaTokenArtifact()).abi);
}

export function providerFor(rpcUrl: string): JsonRpcProvider {
  return new JsonRpcProvider(rpcUrl, undefined, { cacheTimeout: -1, pollingInterval: 50 });
}

/** The token as seen by a holder who signs for itself (not the platform). */
export function tokenAs(
  address: string,
  iface: Interface,
  privateKey: string,
  provider: JsonRpcProvider,
): Contract {
  return new Contract(address, iface, new Wallet(privateKey, provider));
}

/** Runs a holder's transaction; resolves to the receipt, or rejects with a ChainError holding the decoded revert. */
export async function send(
  iface: Interface,
  tx: () => Promise<{ wait(): Promise<TransactionReceipt | null> }>,
): Promise<TransactionReceipt> {
  try {
    const receipt = await (await tx()).wait();
    if (receipt === null) throw new Error('no receipt');
    return receipt;
  } catch (err) {
    throw toChainError('holder transaction', err, iface);
  }
}

/** The name of the custom error a failed call reverted with. */
export async function revertName(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof ChainError) return err.revert?.name ?? `${err.code}: ${err.message}`;
    throw err;
  }
  throw new Error('expected a revert, but the call succeeded');
}

export interface DecodedLog {
  name: string;
  args: unknown[];
}

export async function eventsOf(
  provider: JsonRpcProvider,
  iface: Interface,
  txHash: string,
): Promise<DecodedLog[]> {
  const receipt = await provider.getTransactionReceipt(txHash);
  if (receipt === null) throw new Error(`no receipt for ${txHash}`);
  const events: DecodedLog[] = [];
  for (const log of receipt.logs) {
    const parsed = iface.parseLog(log);
    if (parsed !== null) events.push({ name: parsed.name, args: [...(parsed.args as Iterable<unknown>)] });
  }
  return events;
}

interface RpcCall {
  readonly method: string;
  readonly params: unknown;
  readonly result: unknown;
}

/** A JSON-RPC relay in front of a node that lets a test wait until some call has been answered. */
export interface RpcWatch {
  readonly url: string;
  /** How many calls have been answered so far. */
  readonly count: number;
  /**
   * Resolves once a call matching `match` is answered, counting answered calls from index `since`;
   * rejects after `timeoutMs` (default 20 s) naming the methods answered meanwhile.
   */
  answered(match: (call: RpcCall) => boolean, since?: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

const RpcMessage = z.object({ id: z.unknown(), method: z.string().optional(), params: z.unknown() });
const RpcReply = z.object({ id: z.unknown(), result: z.unknown() });

/** The JSON-RPC messages of a body (one, or a batch), each parsed alone: a bad one drops only itself. */
function messagesOf<T>(text: string, schema: z.ZodType<T>): T[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return [];
  }
  const messages: T[] = [];
  for (const message of [parsed].flat()) {
    const one = schema.safeParse(message);
    if (one.success) messages.push(one.data);
  }
  return messages;
}

/**
 * Relays every request to `target` and records what each call was answered, batches included, so
 * that a test sees a client reach a step (a lookup answered) instead of sleeping until it might have.
 */
export async function watchRpc(target: string): Promise<RpcWatch> {
  const calls: RpcCall[] = [];
  const waiters: { match: (call: RpcCall) => boolean; resolve: () => void }[] = [];
  const record = (call: RpcCall) => {
    calls.push(call);
    for (const waiter of waiters.filter((w) => w.match(call))) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve();
    }
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      fetch(target, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
        .then(async (answer) => {
          const text = await answer.text();
          res.writeHead(answer.status, { 'content-type': 'application/json' }).end(text);
          const asked = messagesOf(body, RpcMessage);
          for (const reply of messagesOf(text, RpcReply)) {
            const call = asked.find((m) => m.id === reply.id);
            if (call?.method !== undefined)
              record({ method: call.method, params: call.params, result: reply.result });
          }
        })
        .catch(() => {
          // The node did not answer (or cut its answer off): the client sees a failed call.
          if (res.headersSent) res.destroy();
          else res.writeHead(502).end();
        });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${address.port}`,
    get count() {
      return calls.length;
    },
    answered: (match, since = 0, timeoutMs = 20_000) => {
      if (calls.slice(since).some(match)) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const waiter = {
          match,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        };
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(waiter), 1);
          const methods = calls.slice(since).map((c) => c.method);
          reject(new Error(`no such call answered within ${timeoutMs} ms; answered: ${methods.join(', ')}`));
        }, timeoutMs);
        waiters.push(waiter);
      });
    },
    // The client under test keeps its keep-alive connection (and may poll on it): close it too,
    // or server.close() waits for it for ever.
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** An `eth_getTransactionByHash` of `txHash` answered while the transaction was still pending. */
export function pendingLookupOf(txHash: string): (call: RpcCall) => boolean {
  return (call) =>
    call.method === 'eth_getTransactionByHash' &&
    Array.isArray(call.params) &&
    String(call.params[0]).toLowerCase() === txHash.toLowerCase() &&
    typeof call.result === 'object' &&
    call.result !== null &&
    (call.result as { blockNumber?: unknown }).blockNumber === null;
}

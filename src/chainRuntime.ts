import type { Logger } from 'pino';
import { startAnvil, type Anvil } from './chain/anvil.ts';
import { createChainClient, type ChainClient } from './chain/client.ts';
import type { Config } from './config.ts';

/*
 * The exchange's chain connection, made on first use: CHAIN_RPC_URL with CHAIN_PRIVATE_KEY, or,
 * when no URL is set, a local anvil the exchange starts itself (account 0 as the platform key) and
 * stops when it closes. Keys come from the environment only and are never logged.
 */
export interface ChainRuntime {
  client(): Promise<ChainClient>;
  /** Where the chain is (connecting first): for tools and tests reading what the exchange wrote. */
  endpoint(): Promise<{ rpcUrl: string; chainId: number }>;
  /** `ok`, `down`, or `not_started` (anvil not needed yet). Never throws. */
  health(): Promise<'ok' | 'down' | 'not_started'>;
  close(): Promise<void>;
}

export function chainRuntime(config: Config, log: Logger): ChainRuntime {
  let anvil: Anvil | undefined;
  let connecting: Promise<ChainClient> | undefined;
  let where: { rpcUrl: string; chainId: number } | undefined;
  let closed = false;

  const connect = async (): Promise<ChainClient> => {
    let rpcUrl = config.CHAIN_RPC_URL;
    let chainId = config.CHAIN_ID;
    let privateKey = config.CHAIN_PRIVATE_KEY;
    if (rpcUrl === undefined) {
      anvil = await startAnvil({ chainId: config.CHAIN_ID });
      if (closed) {
        await anvil.stop();
        throw new Error('the exchange is closing');
      }
      rpcUrl = anvil.rpcUrl;
      chainId = anvil.chainId;
      privateKey ??= anvil.accounts[0]!.privateKey;
      log.info({ rpcUrl, chainId }, 'started a local anvil chain');
    }
    if (privateKey === undefined) throw new Error('CHAIN_PRIVATE_KEY is required with CHAIN_RPC_URL');
    where = { rpcUrl, chainId };
    return createChainClient({ rpcUrl, chainId, privateKey, log });
  };

  return {
    client() {
      connecting ??= connect();
      connecting.catch(() => {
        connecting = undefined;
      });
      return connecting;
    },
    async endpoint() {
      await this.client();
      return where!;
    },
    async health() {
      if (connecting === undefined)
        return config.CHAIN_RPC_URL === undefined
          ? 'not_started'
          : (await this.client().then(
                (c) => c.isReachable(),
                () => false,
              ))
            ? 'ok'
            : 'down';
      const client = await connecting.catch(() => undefined);
      return client !== undefined && (await client.isReachable()) ? 'ok' : 'down';
    },
    async close() {
      closed = true;
      const client = await connecting?.catch(() => undefined);
      client?.close();
      await anvil?.stop();
    },
  };
}

/**
 * The platform's chain client: deploys RwaToken contracts and runs the platform's (issuer and
 * agent) calls on them, from one key. Used by BullMQ workers, never on the matching path.
 */
import {
  concat,
  dataSlice,
  FetchRequest,
  getAddress,
  Interface,
  JsonRpcProvider,
  keccak256,
  Network,
  NonceManager,
  Wallet,
  toUtf8Bytes,
  type JsonFragment,
  type Provider,
  type TransactionReceipt,
  type TransactionRequest,
} from 'ethers';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadArtifact, loadRwaTokenArtifact } from './artifact.ts';
import { ChainError, toChainError } from './errors.ts';
import { isSapphireChain, signerForChain } from './sapphire.ts';

export { ChainError, type ChainErrorCode, type DecodedRevert } from './errors.ts';
export { isSapphireChain, SAPPHIRE_CHAIN_IDS } from './sapphire.ts';

/** The subset of a pino logger the client uses. */
export interface ChainLog {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
}

export interface ChainClientOptions {
  rpcUrl: string;
  chainId: number;
  /** 0x + 64 hex digits; the platform key (deployer, issuer, agent). Never logged. */
  privateKey: string;
  log?: ChainLog;
  /** Timeout of each JSON-RPC request, ms (default 10 s). */
  rpcTimeoutMs?: number;
  /** Longest wait for a transaction's confirmation, ms (default 120 s). */
  confirmTimeoutMs?: number;
  /** How often new blocks are polled while waiting for a receipt, ms (default 1 s). */
  pollingIntervalMs?: number;
}

export interface DeployRwaTokenParams {
  name: string;
  symbol: string;
  /** Initial supply in base units, minted to the treasury. */
  totalSupply: bigint;
  /** Decimals of the base unit (default 18). */
  decimals?: number;
  /** Holder of the initial supply (default: the platform's address). */
  treasury?: string;
}

export interface DeployOptions {
  /** Hash recorded by an earlier attempt through `onSubmitted`: checked before deploying again. */
  knownTxHash?: string;
  /**
   * Called with the hash of the signed deployment before it is broadcast; once it resolves the
   * transaction is sent. Record the hash durably here: a crash at any later point then leaves a
   * hash that the retry finds on chain.
   */
  onSubmitted?: (txHash: string) => Promise<void>;
}

export interface Deployment {
  contractAddress: string;
  txHash: string;
  blockNumber: number;
}

export interface TxResult {
  txHash: string;
  blockNumber: number;
}

export interface TokenInfo {
  name: string;
  symbol: string;
  decimals: number;
  totalSupply: bigint;
}

export interface HolderStatus {
  allowlisted: boolean;
  frozen: boolean;
  balance: bigint;
}

/** An ERC-20 Transfer log, as eth_getLogs reported it. */
export interface TransferLog {
  /** The token contract (checksummed). */
  readonly token: string;
  readonly from: string;
  readonly to: string;
  readonly amount: bigint;
  readonly txHash: string;
  readonly logIndex: number;
  readonly blockNumber: number;
  readonly blockHash: string;
}

/**
 * A signed transaction as recorded before its broadcast: re-sending `raw` can only ever mine this
 * one transaction (one hash, one nonce), so a payout retried from its record pays at most once.
 */
export interface RecordedTransaction {
  readonly txHash: string;
  readonly raw: string;
  readonly from: string;
  readonly nonce: number;
}

/** What became of a recorded transaction. */
export type RecordedOutcome =
  | {
      readonly state: 'mined';
      readonly success: boolean;
      readonly blockNumber: number;
      /** Gas the transaction used (settlement figures). */
      readonly gasUsed: bigint;
    }
  | { readonly state: 'pending' }
  /** Not on chain, and its nonce is taken by another transaction: it can never be mined. */
  | { readonly state: 'dropped' };

export interface TokenTransfer {
  readonly token: string;
  readonly from: string;
  readonly to: string;
  readonly amount: bigint;
  /**
   * `forced`: the platform's agent moves it (RwaToken.forcedTransfer); otherwise the key of `from`
   * signs an ERC-20 transfer, its gas topped up by the platform first.
   */
  readonly signer: { readonly kind: 'forced' } | { readonly kind: 'holder'; readonly privateKey: string };
}

/** One leg of a settlement round (contracts/Settlement.sol): `forced` through the agent role. */
export interface SettlementLeg {
  readonly token: string;
  readonly from: string;
  readonly to: string;
  readonly amount: bigint;
  /** true: RwaToken.forcedTransfer (the contract is an agent); false: ERC-20 transferFrom (allowance). */
  readonly forced: boolean;
}

export const TRANSFER_TOPIC = keccak256(toUtf8Bytes('Transfer(address,address,uint256)'));

export interface ChainClient {
  /** The platform's address (the key's). */
  readonly address: string;
  readonly chainId: number;
  /** Whether calldata is encrypted (a Sapphire chain). */
  readonly confidential: boolean;
  deployRwaToken(params: DeployRwaTokenParams, options?: DeployOptions): Promise<Deployment>;
  mint(contractAddress: string, to: string, amount: bigint): Promise<TxResult>;
  setAllowlisted(contractAddress: string, holder: string, allowed: boolean): Promise<TxResult>;
  freeze(contractAddress: string, holder: string, frozen: boolean): Promise<TxResult>;
  setPaused(contractAddress: string, paused: boolean): Promise<TxResult>;
  forcedTransfer(contractAddress: string, from: string, to: string, amount: bigint): Promise<TxResult>;
  tokenInfo(contractAddress: string): Promise<TokenInfo>;
  /** ERC-20 balanceOf (any token). */
  balanceOf(contractAddress: string, holder: string): Promise<bigint>;
  /** The latest block's number. */
  blockNumber(): Promise<number>;
  /** Transfer logs of `tokens` in blocks from..to (inclusive), in chain order. */
  transferLogs(tokens: readonly string[], fromBlock: number, toBlock: number): Promise<TransferLog[]>;
  /**
   * Signs the transfer, hands it to `record` (durably, before anything is sent), then broadcasts
   * it; answers without waiting for a receipt. A contract refusal at estimation throws 'reverted'
   * before anything is signed.
   */
  sendTransfer(
    transfer: TokenTransfer,
    record: (tx: RecordedTransaction) => Promise<void>,
  ): Promise<RecordedTransaction>;
  /** Where a recorded transaction is; a pending one is broadcast again (the same bytes). */
  recordedOutcome(tx: RecordedTransaction): Promise<RecordedOutcome>;
  /** Development chains: deploys a plain ERC-20 (contracts/TestUsdc.sol) that `mint` mints. */
  deployTestToken(params: { name: string; symbol: string; decimals: number }): Promise<Deployment>;
  holderStatus(contractAddress: string, holder: string): Promise<HolderStatus>;
  /** Deploys contracts/Settlement.sol with the platform as its admin and operator. */
  deploySettlement(options?: DeployOptions): Promise<Deployment>;
  /** Grants `agent` the AGENT_ROLE of an RwaToken unless it holds it; true when it granted. */
  grantAgent(token: string, agent: string): Promise<boolean>;
  /**
   * The holder (its key) approves `spender` for every unit of an ERC-20 unless its allowance is at
   * least `atLeast` already; the holder's gas is topped up by the platform first. Waits for the
   * approval's receipt; true when it approved.
   */
  ensureAllowance(
    token: string,
    holderPrivateKey: string,
    spender: string,
    atLeast: bigint,
  ): Promise<boolean>;
  /**
   * Signs Settlement.settle(roundId, legs) from the platform, hands it to `record` (durably, before
   * anything is sent), then broadcasts it; answers without waiting for a receipt. A refusal at
   * estimation throws 'reverted' before anything is signed.
   */
  sendSettlement(
    settlement: string,
    roundId: bigint,
    legs: readonly SettlementLeg[],
    record: (tx: RecordedTransaction) => Promise<void>,
  ): Promise<RecordedTransaction>;
  /**
   * Signs RwaToken.mint(to, amount) from the platform (the issuer role), hands it to `record`
   * before broadcasting it; answers without waiting for a receipt (the payout rail's pattern).
   */
  sendMint(
    contractAddress: string,
    to: string,
    amount: bigint,
    record: (tx: RecordedTransaction) => Promise<void>,
  ): Promise<RecordedTransaction>;
  /** Whether the Settlement contract recorded round `roundId` as settled. */
  isRoundSettled(settlement: string, roundId: bigint): Promise<boolean>;
  /** Health: the node answers with the configured chain id. Never throws. */
  isReachable(): Promise<boolean>;
  /** Stops the provider's timers; the client is unusable afterwards. */
  close(): void;
}

const silentLog: ChainLog = { info: () => undefined, warn: () => undefined };

interface TokenContract {
  iface: Interface;
  bytecode: string;
}

let tokenContract: Promise<TokenContract> | undefined;
function loadTokenContract(): Promise<TokenContract> {
  tokenContract ??= loadRwaTokenArtifact().then((artifact) => ({
    iface: new Interface(artifact.abi as JsonFragment[]),
    bytecode: artifact.bytecode,
  }));
  tokenContract.catch(() => {
    tokenContract = undefined;
  });
  return tokenContract;
}

/** Runs tasks one after the other: each transaction takes its nonce only after the previous one is sent. */
function serial(): <T>(task: () => Promise<T>) => Promise<T> {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(task: () => Promise<T>): Promise<T> => {
    const run = tail.then(task, task);
    tail = run.catch(() => undefined);
    return run;
  };
}

interface Decoded {
  string: string;
  bigint: bigint;
  boolean: boolean;
}

/** ABI results arrive untyped; a value of another type means the address holds another contract. */
function typed<K extends keyof Decoded>(type: K, value: unknown): Decoded[K] {
  if (typeof value !== type)
    throw new ChainError('invalid', `unexpected ${typeof value} where a ${type} was due`);
  return value as Decoded[K];
}

function checkedAddress(what: string, value: string): string {
  try {
    return getAddress(value);
  } catch {
    throw new ChainError('invalid', `${what} is not an address: ${JSON.stringify(value)}`);
  }
}

export function createChainClient(options: ChainClientOptions): ChainClient {
  const { chainId } = options;
  const log = options.log ?? silentLog;
  const confirmTimeoutMs = options.confirmTimeoutMs ?? 120_000;
  if (!/^0x[0-9a-fA-F]{64}$/.test(options.privateKey)) {
    throw new ChainError('invalid', 'chain private key must be 0x followed by 64 hex digits');
  }
  let rpcHost: string;
  try {
    rpcHost = new URL(options.rpcUrl).host;
  } catch {
    throw new ChainError('invalid', 'chain RPC URL is not a URL');
  }

  const request = new FetchRequest(options.rpcUrl);
  request.timeout = options.rpcTimeoutMs ?? 10_000;
  // A static network: ethers would otherwise probe the chain id before every first call and, while
  // the node is down, retry that probe forever in the background.
  const network = Network.from(chainId);
  const provider = new JsonRpcProvider(request, network, {
    staticNetwork: network,
    cacheTimeout: -1,
    pollingInterval: options.pollingIntervalMs ?? 1_000,
  });
  const wallet = signerForChain(new Wallet(options.privateKey, provider), chainId);
  const nonces = new NonceManager(wallet);
  // On Sapphire the wrapped signer's provider encrypts calls too.
  const reader: Provider = wallet.provider ?? provider;
  const address = wallet.address;
  const exclusive = serial();

  /**
   * Polls for the receipt itself, from 50 ms up to the polling interval. ethers' waitForTransaction
   * checks for the receipt and then waits for the next block: a transaction mined between the two
   * (anvil's automine mines it at once) waited for a block that a quiet chain never makes.
   */
  async function waitForReceipt(operation: string, txHash: string): Promise<TransactionReceipt> {
    const deadline = Date.now() + confirmTimeoutMs;
    const maxPollMs = options.pollingIntervalMs ?? 1_000;
    for (let pollMs = 50; ; pollMs = Math.min(pollMs * 2, maxPollMs)) {
      const receipt = await provider.getTransactionReceipt(txHash);
      if (receipt !== null) return receipt;
      if (Date.now() >= deadline) throw new ChainError('timeout', `${operation}: ${txHash} not confirmed`);
      await sleep(Math.min(pollMs, Math.max(0, deadline - Date.now())));
    }
  }

  /**
   * Signs, hands the hash to `beforeBroadcast`, broadcasts, then waits for the receipt. Anything
   * failing before the broadcast returns the nonce, so the next transaction does not leave a gap.
   */
  async function submit(
    operation: string,
    tx: TransactionRequest,
    iface: Interface,
    beforeBroadcast?: (txHash: string) => Promise<void>,
  ): Promise<TransactionReceipt> {
    try {
      const txHash = await exclusive(async () => {
        try {
          const nonce = await nonces.getNonce('pending');
          nonces.increment();
          const populated = await wallet.populateTransaction({ ...tx, from: address, nonce, chainId });
          const signed = await wallet.signTransaction(populated);
          const hash = keccak256(signed);
          if (beforeBroadcast !== undefined) await beforeBroadcast(hash);
          await provider.broadcastTransaction(signed);
          return hash;
        } catch (err) {
          nonces.reset();
          throw err;
        }
      });
      log.info({ operation, txHash, to: tx.to ?? null }, 'chain transaction sent');
      const receipt = await waitForReceipt(operation, txHash);
      if (receipt.status !== 1) {
        throw new ChainError('reverted', `${operation} reverted on chain in ${txHash}`);
      }
      return receipt;
    } catch (err) {
      throw toChainError(operation, err, iface);
    }
  }

  async function call(contractAddress: string, fn: string, args: unknown[]): Promise<TxResult> {
    const operation = `${fn} on ${contractAddress}`;
    const { iface } = await loadTokenContract();
    const to = checkedAddress('contract address', contractAddress);
    const receipt = await submit(operation, { to, data: iface.encodeFunctionData(fn, args) }, iface);
    return { txHash: receipt.hash, blockNumber: receipt.blockNumber };
  }

  async function read(contractAddress: string, fn: string, args: unknown[] = []): Promise<unknown> {
    const { iface } = await loadTokenContract();
    const to = checkedAddress('contract address', contractAddress);
    try {
      const data = await reader.call({ to, data: iface.encodeFunctionData(fn, args) });
      if (data === '0x') throw new ChainError('invalid', `no RwaToken at ${to}`);
      const [value] = iface.decodeFunctionResult(fn, data) as Iterable<unknown>;
      return value;
    } catch (err) {
      throw toChainError(`${fn} on ${to}`, err, iface);
    }
  }

  /** The deployment a recorded hash stands for, or undefined when it never made it on chain. */
  async function recordedDeployment(txHash: string): Promise<Deployment | undefined> {
    const operation = `deployment ${txHash}`;
    const tx = await provider.getTransaction(txHash).catch((err: unknown) => {
      throw toChainError(operation, err);
    });
    if (tx === null) {
      log.warn({ txHash }, 'recorded deployment unknown to the chain; deploying anew');
      return undefined;
    }
    if (tx.to !== null || tx.from !== address) {
      throw new ChainError('invalid', `${operation} is not a contract creation sent by the platform`);
    }
    const receipt = await waitForReceipt(operation, txHash).catch((err: unknown) => {
      throw toChainError(operation, err);
    });
    if (receipt.status !== 1 || receipt.contractAddress === null) {
      log.warn({ txHash }, 'recorded deployment failed on chain; deploying anew');
      return undefined;
    }
    return { contractAddress: receipt.contractAddress, txHash, blockNumber: receipt.blockNumber };
  }

  async function deployRwaToken(
    params: DeployRwaTokenParams,
    deploy: DeployOptions = {},
  ): Promise<Deployment> {
    if (deploy.knownTxHash !== undefined) {
      if (!/^0x[0-9a-fA-F]{64}$/.test(deploy.knownTxHash)) {
        throw new ChainError('invalid', `known deployment hash is not a tx hash: ${deploy.knownTxHash}`);
      }
      const existing = await recordedDeployment(deploy.knownTxHash);
      if (existing !== undefined) return existing;
    }
    const decimals = params.decimals ?? 18;
    if (!Number.isInteger(decimals) || decimals < 0 || decimals > 255) {
      throw new ChainError('invalid', `decimals must be an integer in 0..255, got ${decimals}`);
    }
    if (params.totalSupply < 0n) throw new ChainError('invalid', 'totalSupply must not be negative');
    const treasury = checkedAddress('treasury', params.treasury ?? address);
    const { iface, bytecode } = await loadTokenContract();
    const args = [params.name, params.symbol, decimals, params.totalSupply, address, treasury];
    const data = concat([bytecode, iface.encodeDeploy(args)]);
    const receipt = await submit(`deployRwaToken ${params.symbol}`, { data }, iface, deploy.onSubmitted);
    if (receipt.contractAddress === null) {
      throw new ChainError('failed', `deployRwaToken ${params.symbol}: receipt without a contract address`);
    }
    log.info({ contractAddress: receipt.contractAddress, txHash: receipt.hash }, 'RwaToken deployed');
    return {
      contractAddress: receipt.contractAddress,
      txHash: receipt.hash,
      blockNumber: receipt.blockNumber,
    };
  }

  async function tokenInfo(contractAddress: string): Promise<TokenInfo> {
    const [name, symbol, decimals, totalSupply] = await Promise.all([
      read(contractAddress, 'name'),
      read(contractAddress, 'symbol'),
      read(contractAddress, 'decimals'),
      read(contractAddress, 'totalSupply'),
    ]);
    return {
      name: typed('string', name),
      symbol: typed('string', symbol),
      decimals: Number(typed('bigint', decimals)),
      totalSupply: typed('bigint', totalSupply),
    };
  }

  async function holderStatus(contractAddress: string, holder: string): Promise<HolderStatus> {
    const account = checkedAddress('holder', holder);
    const [allowlisted, frozen, balance] = await Promise.all([
      read(contractAddress, 'isAllowlisted', [account]),
      read(contractAddress, 'isFrozen', [account]),
      read(contractAddress, 'balanceOf', [account]),
    ]);
    return {
      allowlisted: typed('boolean', allowlisted),
      frozen: typed('boolean', frozen),
      balance: typed('bigint', balance),
    };
  }

  async function blockNumber(): Promise<number> {
    try {
      return await provider.getBlockNumber();
    } catch (err) {
      throw toChainError('blockNumber', err);
    }
  }

  async function transferLogs(
    tokens: readonly string[],
    fromBlock: number,
    toBlock: number,
  ): Promise<TransferLog[]> {
    if (tokens.length === 0 || toBlock < fromBlock) return [];
    const address = tokens.map((token) => checkedAddress('token', token));
    let logs;
    try {
      logs = await provider.getLogs({ address, topics: [TRANSFER_TOPIC], fromBlock, toBlock });
    } catch (err) {
      throw toChainError(`transfer logs ${fromBlock}..${toBlock}`, err);
    }
    // A Transfer with fewer than three topics (an ERC-721-less oddity, or another event signature
    // hash collision) is not an ERC-20 transfer: skipped.
    return logs
      .filter((log) => log.topics.length === 3 && log.data.length === 66 && !log.removed)
      .map((log) => ({
        token: getAddress(log.address),
        from: getAddress(dataSlice(log.topics[1]!, 12)),
        to: getAddress(dataSlice(log.topics[2]!, 12)),
        amount: BigInt(log.data),
        txHash: log.transactionHash,
        logIndex: log.index,
        blockNumber: log.blockNumber,
        blockHash: log.blockHash,
      }))
      .sort((a, b) => a.blockNumber - b.blockNumber || a.logIndex - b.logIndex);
  }

  async function deployTestToken(params: {
    name: string;
    symbol: string;
    decimals: number;
  }): Promise<Deployment> {
    const artifact = await loadArtifact('TestUsdc');
    const iface = new Interface(artifact.abi);
    const data = concat([
      artifact.bytecode,
      iface.encodeDeploy([params.name, params.symbol, params.decimals]),
    ]);
    const receipt = await submit(`deployTestToken ${params.symbol}`, { data }, iface);
    if (receipt.contractAddress === null)
      throw new ChainError('failed', `deployTestToken ${params.symbol}: no contract address`);
    return {
      contractAddress: receipt.contractAddress,
      txHash: receipt.hash,
      blockNumber: receipt.blockNumber,
    };
  }

  /** Per holder address: one holder-signed transaction at a time takes a nonce. */
  const holderQueues = new Map<string, <T>(task: () => Promise<T>) => Promise<T>>();
  const holderQueue = (holder: string) => {
    let queue = holderQueues.get(holder);
    if (queue === undefined) {
      queue = serial();
      holderQueues.set(holder, queue);
    }
    return queue;
  };
  const GAS_FLOOR = 5_000_000_000_000_000n; // 0.005 ETH: many ERC-20 transfers on any testnet fee
  const GAS_TOP_UP = 10_000_000_000_000_000n;

  async function sendTransfer(
    transfer: TokenTransfer,
    record: (tx: RecordedTransaction) => Promise<void>,
  ): Promise<RecordedTransaction> {
    const { iface } = await loadTokenContract();
    const token = checkedAddress('token', transfer.token);
    const from = checkedAddress('from', transfer.from);
    const to = checkedAddress('to', transfer.to);
    const operation = `transfer ${transfer.amount} of ${token} from ${from}`;
    const signAndSend = async (signer: Wallet, nonce: () => Promise<number>, onFail: () => void) => {
      try {
        const data =
          transfer.signer.kind === 'forced'
            ? iface.encodeFunctionData('forcedTransfer', [from, to, transfer.amount])
            : iface.encodeFunctionData('transfer', [to, transfer.amount]);
        const n = await nonce();
        const populated = await signer.populateTransaction({
          to: token,
          data,
          from: signer.address,
          nonce: n,
          chainId,
        });
        const raw = await signer.signTransaction(populated);
        const recorded = { txHash: keccak256(raw), raw, from: signer.address, nonce: n };
        await record(recorded);
        await provider.broadcastTransaction(raw);
        log.info({ operation, txHash: recorded.txHash }, 'chain transfer sent');
        return recorded;
      } catch (err) {
        onFail();
        throw toChainError(operation, err, iface);
      }
    };
    if (transfer.signer.kind === 'forced') {
      return exclusive(() =>
        signAndSend(
          wallet,
          async () => {
            const n = await nonces.getNonce('pending');
            nonces.increment();
            return n;
          },
          () => nonces.reset(),
        ),
      );
    }
    const holder = signerForChain(new Wallet(transfer.signer.privateKey, provider), chainId);
    if (holder.address !== from) throw new ChainError('invalid', `the key given does not sign for ${from}`);
    return holderQueue(from)(async () => {
      const balance = await provider.getBalance(from).catch((err: unknown) => {
        throw toChainError(`balance of ${from}`, err);
      });
      if (balance < GAS_FLOOR) await submit(`gas for ${from}`, { to: from, value: GAS_TOP_UP }, iface);
      return signAndSend(
        holder,
        () => provider.getTransactionCount(from, 'pending'),
        () => undefined,
      );
    });
  }

  let settlementContract: Promise<Interface> | undefined;
  const settlementIface = (): Promise<Interface> => {
    settlementContract ??= loadArtifact('Settlement').then((a) => new Interface(a.abi as JsonFragment[]));
    settlementContract.catch(() => {
      settlementContract = undefined;
    });
    return settlementContract;
  };

  async function deploySettlement(deploy: DeployOptions = {}): Promise<Deployment> {
    if (deploy.knownTxHash !== undefined) {
      const existing = await recordedDeployment(deploy.knownTxHash);
      if (existing !== undefined) return existing;
    }
    const artifact = await loadArtifact('Settlement');
    const iface = new Interface(artifact.abi);
    const data = concat([artifact.bytecode, iface.encodeDeploy([address])]);
    const receipt = await submit('deploySettlement', { data }, iface, deploy.onSubmitted);
    if (receipt.contractAddress === null)
      throw new ChainError('failed', 'deploySettlement: receipt without a contract address');
    log.info({ contractAddress: receipt.contractAddress, txHash: receipt.hash }, 'Settlement deployed');
    return {
      contractAddress: receipt.contractAddress,
      txHash: receipt.hash,
      blockNumber: receipt.blockNumber,
    };
  }

  async function grantAgent(token: string, agent: string): Promise<boolean> {
    const who = checkedAddress('agent', agent);
    const role = typed('string', await read(token, 'AGENT_ROLE'));
    if (typed('boolean', await read(token, 'hasRole', [role, who]))) return false;
    await call(token, 'grantRole', [role, who]);
    return true;
  }

  async function ensureAllowance(
    token: string,
    holderPrivateKey: string,
    spender: string,
    atLeast: bigint,
  ): Promise<boolean> {
    const { iface } = await loadTokenContract();
    const holder = signerForChain(new Wallet(holderPrivateKey, provider), chainId);
    const owner = holder.address;
    const to = checkedAddress('spender', spender);
    const allowance = typed('bigint', await read(token, 'allowance', [owner, to]));
    if (allowance >= atLeast) return false;
    const operation = `approve ${to} on ${token} for ${owner}`;
    const queue = holderQueue(owner);
    const txHash = await queue(async () => {
      const balance = await provider.getBalance(owner).catch((err: unknown) => {
        throw toChainError(`balance of ${owner}`, err);
      });
      if (balance < GAS_FLOOR) await submit(`gas for ${owner}`, { to: owner, value: GAS_TOP_UP }, iface);
      try {
        const populated = await holder.populateTransaction({
          to: checkedAddress('token', token),
          data: iface.encodeFunctionData('approve', [to, (1n << 256n) - 1n]),
          from: owner,
          nonce: await provider.getTransactionCount(owner, 'pending'),
          chainId,
        });
        const raw = await holder.signTransaction(populated);
        await provider.broadcastTransaction(raw);
        return keccak256(raw);
      } catch (err) {
        throw toChainError(operation, err, iface);
      }
    });
    const receipt = await waitForReceipt(operation, txHash);
    if (receipt.status !== 1) throw new ChainError('reverted', `${operation} reverted in ${txHash}`);
    log.info({ operation, txHash }, 'settlement allowance approved');
    return true;
  }

  async function sendSettlement(
    settlement: string,
    roundId: bigint,
    legs: readonly SettlementLeg[],
    record: (tx: RecordedTransaction) => Promise<void>,
  ): Promise<RecordedTransaction> {
    const iface = await settlementIface();
    const to = checkedAddress('settlement', settlement);
    const operation = `settle round ${roundId}`;
    const data = iface.encodeFunctionData('settle', [
      roundId,
      legs.map((leg) => [
        checkedAddress('token', leg.token),
        checkedAddress('from', leg.from),
        checkedAddress('to', leg.to),
        leg.amount,
        leg.forced,
      ]),
    ]);
    return sendRecorded(operation, to, data, iface, record, { legs: legs.length });
  }

  /** Signs a platform call, hands it to `record` before broadcasting it; no receipt awaited. */
  function sendRecorded(
    operation: string,
    to: string,
    data: string,
    iface: Interface,
    record: (tx: RecordedTransaction) => Promise<void>,
    fields: Record<string, unknown> = {},
  ): Promise<RecordedTransaction> {
    return exclusive(async () => {
      try {
        const nonce = await nonces.getNonce('pending');
        nonces.increment();
        const populated = await wallet.populateTransaction({ to, data, from: address, nonce, chainId });
        const raw = await wallet.signTransaction(populated);
        const recorded = { txHash: keccak256(raw), raw, from: address, nonce };
        await record(recorded);
        await provider.broadcastTransaction(raw);
        log.info({ operation, txHash: recorded.txHash, ...fields }, 'chain transaction sent');
        return recorded;
      } catch (err) {
        nonces.reset();
        throw toChainError(operation, err, iface);
      }
    });
  }

  async function sendMint(
    contractAddress: string,
    to: string,
    amount: bigint,
    record: (tx: RecordedTransaction) => Promise<void>,
  ): Promise<RecordedTransaction> {
    const { iface } = await loadTokenContract();
    const contract = checkedAddress('contract address', contractAddress);
    const data = iface.encodeFunctionData('mint', [checkedAddress('to', to), amount]);
    return sendRecorded(`mint ${amount} on ${contract}`, contract, data, iface, record);
  }

  async function isRoundSettled(settlement: string, roundId: bigint): Promise<boolean> {
    const iface = await settlementIface();
    const to = checkedAddress('settlement', settlement);
    try {
      const data = await reader.call({ to, data: iface.encodeFunctionData('isSettled', [roundId]) });
      if (data === '0x') throw new ChainError('invalid', `no Settlement at ${to}`);
      const [value] = iface.decodeFunctionResult('isSettled', data) as Iterable<unknown>;
      return typed('boolean', value);
    } catch (err) {
      throw toChainError(`isSettled on ${to}`, err, iface);
    }
  }

  async function recordedOutcome(tx: RecordedTransaction): Promise<RecordedOutcome> {
    const operation = `outcome of ${tx.txHash}`;
    try {
      const receipt = await provider.getTransactionReceipt(tx.txHash);
      if (receipt !== null)
        return {
          state: 'mined',
          success: receipt.status === 1,
          blockNumber: receipt.blockNumber,
          gasUsed: receipt.gasUsed,
        };
      const mined = await provider.getTransactionCount(tx.from, 'latest');
      if (mined > tx.nonce) {
        // The nonce is used. Asked again: it may be this very transaction, mined since the first ask.
        const late = await provider.getTransactionReceipt(tx.txHash);
        if (late !== null)
          return {
            state: 'mined',
            success: late.status === 1,
            blockNumber: late.blockNumber,
            gasUsed: late.gasUsed,
          };
        // Used by another transaction: this one can never be mined.
        return { state: 'dropped' };
      }
      if ((await provider.getTransaction(tx.txHash)) === null) {
        await provider.broadcastTransaction(tx.raw).catch((err: unknown) => {
          log.warn({ txHash: tx.txHash, err: toChainError(operation, err).message }, 'rebroadcast refused');
        });
      }
      return { state: 'pending' };
    } catch (err) {
      throw toChainError(operation, err);
    }
  }

  async function isReachable(): Promise<boolean> {
    try {
      const answered = BigInt((await provider.send('eth_chainId', [])) as string);
      if (answered === BigInt(chainId)) return true;
      log.warn({ rpcHost, expected: chainId, answered: Number(answered) }, 'chain answers another chain id');
      return false;
    } catch {
      return false;
    }
  }

  return {
    address,
    chainId,
    confidential: isSapphireChain(chainId),
    deployRwaToken,
    mint: (contract, to, amount) => call(contract, 'mint', [checkedAddress('to', to), amount]),
    setAllowlisted: (contract, holder, allowed) =>
      call(contract, 'setAllowlisted', [checkedAddress('holder', holder), allowed]),
    freeze: (contract, holder, frozen) =>
      call(contract, 'setFrozen', [checkedAddress('holder', holder), frozen]),
    setPaused: (contract, paused) => call(contract, paused ? 'pause' : 'unpause', []),
    forcedTransfer: (contract, from, to, amount) =>
      call(contract, 'forcedTransfer', [checkedAddress('from', from), checkedAddress('to', to), amount]),
    tokenInfo,
    balanceOf: async (contract, holder) =>
      typed('bigint', await read(contract, 'balanceOf', [checkedAddress('holder', holder)])),
    blockNumber,
    transferLogs,
    deployTestToken,
    sendTransfer,
    recordedOutcome,
    holderStatus,
    deploySettlement,
    grantAgent,
    ensureAllowance,
    sendSettlement,
    sendMint,
    isRoundSettled,
    isReachable,
    close: () => provider.destroy(),
  };
}

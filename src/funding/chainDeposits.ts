import type { Logger } from 'pino';
import { Counter, Gauge } from 'prom-client';
import { getAddress, ZeroAddress } from 'ethers';
import { z } from 'zod/v4';
import type { Asset } from '../actors/catalog.ts';
import type { ChainClient, TransferLog } from '../chain/client.ts';
import type { CustodyKeys } from '../chain/custody.ts';
import type { ChainStore, TransferRow } from '../persistence/chainStore.ts';
import { derivedUuid } from './derivedId.ts';
import type { Deposits } from './deposits.ts';

/*
 * Custody addresses and chain deposits (PROTOCOL v1.1, Funding; issue 16).
 *
 * Every user has one deposit address, derived from the custody seed at an index Postgres assigns
 * (`address`). The `sync-blockchain` job (`sync`) follows the Transfer logs of every known token
 * from a persisted cursor, the first block not yet final:
 *   1. it reads the blocks from the cursor to the head in pages (eth_getLogs);
 *   2. each page is recorded in one transaction: the logs read replace the pending ones of those
 *      blocks (a pending log not read again was reorganised away: `orphaned`), logs with
 *      CHAIN_CONFIRMATIONS confirmations become `final`, and the cursor moves past the last final
 *      block. Blocks inside the confirmation window are read again by the next run;
 *   3. a final log into a deposit address from outside (not the zero address, not another deposit
 *      address) is a chain deposit: credited after the page's commit through Deposits.creditChain,
 *      keyed by an id derived from (chain, tx, log index), which the funding register refuses a
 *      second time. A crash between the commit and the credit leaves the log final and uncredited:
 *      the next run credits it first.
 * A reorganisation deeper than the confirmation window (a final block replaced) is not followed:
 * that is what the window is for; reconciliation (balanceOf against the ledger) would show it.
 */

export interface ChainToken {
  readonly asset: string;
  readonly address: string;
  /** The ledger asset's decimals: the token's must be the same (checked once per token). */
  readonly decimals: number;
  /** `rwa`: an RwaToken (allowlist, agent role); `erc20`: a plain token bound to an asset. */
  readonly kind: 'rwa' | 'erc20';
}

/**
 * The tokens on chain: assets bound to an ERC-20 and the deployed RWA tokens (whose ledger asset
 * is the token symbol).
 */
export function knownTokens(
  assets: readonly Asset[],
  rwa: Iterable<{ readonly tokenSymbol: string; readonly contractAddress?: string | undefined }>,
): ChainToken[] {
  const decimals = new Map(assets.map((a) => [a.symbol, a.decimals]));
  const tokens: ChainToken[] = [];
  for (const a of assets)
    if (a.contractAddress !== undefined)
      tokens.push({ asset: a.symbol, address: a.contractAddress, decimals: a.decimals, kind: 'erc20' });
  for (const r of rwa) {
    const d = decimals.get(r.tokenSymbol);
    if (r.contractAddress !== undefined && d !== undefined && r.contractAddress.startsWith('0x'))
      tokens.push({ asset: r.tokenSymbol, address: r.contractAddress, decimals: d, kind: 'rwa' });
  }
  return tokens;
}

export interface ChainDepositsOptions {
  readonly chain: () => Promise<ChainClient>;
  readonly chainId: number;
  readonly store: ChainStore;
  readonly keys: CustodyKeys;
  readonly deposits: Pick<Deposits, 'creditChain'>;
  /** Every token the exchange knows (bound assets and deployed RWA tokens). */
  readonly tokens: () => readonly ChainToken[];
  readonly confirmations: number;
  readonly pageBlocks: number;
  readonly maxPages: number;
  readonly startBlock: number;
  /** A user got a deposit address (the allowlist follows their compliance records). */
  readonly onAddressAssigned?: (userId: string, address: string) => Promise<void>;
  readonly log: Logger;
}

export interface SyncReport {
  readonly head: number;
  readonly nextBlock: number;
  readonly logs: number;
  readonly orphaned: number;
  readonly credited: number;
}

/** Most uncredited final deposits one run credits (a backlog drains over several runs). */
const CREDITS_PER_RUN = 1_000;
/** Credits journaled at once (bench:chain: 73/s one at a time, 679/s at 32; bench/RESULTS.md). */
const CREDITS_IN_FLIGHT = 32;

export class ChainDeposits {
  /** Deposit addresses (lower case) → user; refreshed from Postgres each run (other processes assign too). */
  #owners = new Map<string, string>();
  readonly #checkedTokens = new Map<string, boolean>();
  #tail: Promise<unknown> = Promise.resolve();
  #queued: Promise<SyncReport> | undefined;

  constructor(private readonly options: ChainDepositsOptions) {}

  /** The user's deposit address (GET /funding/address), assigned on first ask. */
  async address(userId: string): Promise<{ address: string; chainId: number }> {
    const { store, keys, chainId } = this.options;
    const known = await store.custody(userId);
    if (known !== undefined) return { address: known.address, chainId };
    const row = await store.allocateCustody(userId, (index) => keys.address(index));
    this.#owners.set(row.address.toLowerCase(), userId);
    // The address is assigned either way; an allowlist sync that could not be queued is logged
    // (an operator re-saves the record to queue it again).
    await this.options.onAddressAssigned?.(userId, row.address).catch((error: unknown) => {
      this.options.log.error({ err: error, userId }, 'deposit address not queued for its allowlists');
    });
    return { address: row.address, chainId };
  }

  /** The user's deposit address when one was assigned (payouts, settlement, allowlisting). */
  async knownAddress(userId: string): Promise<string | undefined> {
    return (await this.options.store.custody(userId))?.address;
  }

  /**
   * One sync-blockchain run that starts after this call (so it sees the chain as it is now). Runs
   * never overlap: calls made while a run waits to start share it.
   */
  sync(): Promise<SyncReport> {
    if (this.#queued !== undefined) return this.#queued;
    const start = () => {
      this.#queued = undefined;
      return this.#sync();
    };
    const run = this.#tail.then(start, start);
    this.#queued = run;
    this.#tail = run.catch(() => undefined);
    return run;
  }

  async #sync(): Promise<SyncReport> {
    const { store, confirmations, pageBlocks, maxPages } = this.options;
    const chain = await this.options.chain();
    this.#owners = new Map((await store.custodyAddresses()).map((r) => [r.address.toLowerCase(), r.userId]));
    let credited = await this.#creditFinal();
    const tokens = await this.#tokens(chain);
    const head = await chain.blockNumber();
    // Blocks up to finalTip have `confirmations` blocks on them, their own included.
    const finalTip = head - (confirmations - 1);
    let from = (await store.cursor())?.nextBlock ?? this.options.startBlock;
    let logs = 0;
    let orphaned = 0;
    for (let page = 0; page < maxPages && from <= head; page++) {
      const to = Math.min(head, from + pageBlocks - 1);
      const read = await chain.transferLogs(
        tokens.map((t) => t.address),
        from,
        to,
      );
      const finalBlock = Math.max(from - 1, Math.min(to, finalTip));
      const recorded = await store.recordPage({
        from,
        to,
        finalBlock,
        head,
        logs: read.map((log) => this.#row(log, tokens)),
      });
      logs += read.length;
      orphaned += recorded.orphaned;
      if (recorded.orphaned > 0) {
        reorganised.inc(recorded.orphaned);
        this.options.log.warn({ from, to, orphaned: recorded.orphaned }, 'transfer logs reorganised away');
      }
      from = finalBlock + 1;
      if (finalBlock < to) break; // the rest is inside the confirmation window: read again next run
    }
    credited += await this.#creditFinal();
    cursorGauge.set(from);
    headGauge.set(head);
    return { head, nextBlock: from, logs, orphaned, credited };
  }

  #row(log: TransferLog, tokens: readonly ChainToken[]): TransferRow {
    const to = this.#owners.get(log.to.toLowerCase());
    const fromOutside = log.from !== ZeroAddress && !this.#owners.has(log.from.toLowerCase());
    const token = tokens.find((t) => t.address === log.token);
    return {
      txHash: log.txHash,
      logIndex: log.logIndex,
      blockNumber: log.blockNumber,
      blockHash: log.blockHash,
      token: log.token,
      from: log.from,
      to: log.to,
      amount: log.amount,
      depositUser: to !== undefined && fromOutside && token !== undefined && log.amount > 0n ? to : undefined,
    };
  }

  /** The tokens to follow: checksummed, and only those whose decimals match their asset's. */
  async #tokens(chain: ChainClient): Promise<ChainToken[]> {
    const usable: ChainToken[] = [];
    for (const token of this.options.tokens()) {
      const address = getAddress(token.address);
      let fit = this.#checkedTokens.get(address);
      if (fit === undefined) {
        const info = await chain.tokenInfo(address);
        fit = info.decimals === token.decimals;
        if (!fit)
          this.options.log.error(
            {
              asset: token.asset,
              token: address,
              tokenDecimals: info.decimals,
              assetDecimals: token.decimals,
            },
            'token decimals differ from the asset: its transfers are not followed',
          );
        this.#checkedTokens.set(address, fit);
      }
      if (fit) usable.push({ ...token, address });
    }
    return usable;
  }

  async #creditFinal(): Promise<number> {
    const { store } = this.options;
    const rows = await store.uncreditedDeposits(CREDITS_PER_RUN);
    let credited = 0;
    // Credits are independent (each keyed by its own id): CREDITS_IN_FLIGHT at once let the
    // journal group-commit them; one at a time, each waits for its own commit.
    for (let i = 0; i < rows.length; i += CREDITS_IN_FLIGHT) {
      const done = await Promise.all(rows.slice(i, i + CREDITS_IN_FLIGHT).map((row) => this.#credit(row)));
      credited += done.filter(Boolean).length;
    }
    return credited;
  }

  /** Credits one final deposit log; true when this call credited it. */
  async #credit(row: TransferRow): Promise<boolean> {
    const { store, deposits, chainId } = this.options;
    const token = this.options.tokens().find((t) => t.address.toLowerCase() === row.token.toLowerCase());
    if (token === undefined || row.depositUser === undefined) return false;
    const depositId = chainDepositId(chainId, row.txHash, row.logIndex);
    const done = await deposits.creditChain({
      depositId,
      userId: row.depositUser,
      asset: token.asset,
      amount: row.amount,
      reference: `${row.txHash}:${row.logIndex}`,
    });
    if (typeof done === 'object') {
      this.options.log.warn({ depositId, reason: done.retry }, 'chain deposit not credited yet');
      return false;
    }
    await store.markCredited(row.txHash, row.logIndex, depositId);
    if (done !== 'credited') return false;
    chainDeposits.inc({ asset: token.asset });
    return true;
  }
}

/** The deposit id of a log: the same in every process and run. */
export function chainDepositId(chainId: number, txHash: string, logIndex: number): string {
  return derivedUuid(`${chainId}:${txHash.toLowerCase()}:${logIndex}`);
}

const chainDeposits = new Counter({
  name: 'exchange_chain_deposits_credited_total',
  help: 'Chain deposits credited to the ledger (final Transfer logs into deposit addresses)',
  labelNames: ['asset'] as const,
});
const reorganised = new Counter({
  name: 'exchange_chain_logs_orphaned_total',
  help: 'Transfer logs inside the confirmation window that a reorganisation removed',
});
const cursorGauge = new Gauge({
  name: 'exchange_chain_sync_next_block',
  help: 'The first block sync-blockchain has not read as final',
});
const headGauge = new Gauge({
  name: 'exchange_chain_sync_head_block',
  help: 'The chain head the last sync run saw',
});

/** The sync-blockchain job's payload: nothing (each run reads from the persisted cursor). */
export const SyncBlockchainPayload = z.object({});

import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { z } from 'zod/v4';
import { parseAssetAmount, formatAssetAmount } from '../actors/money/assetAmount.ts';
import type { FundingCommand } from '../actors/funding/index.ts';
import type { FundingOutcome } from '../actors/supervisor.ts';
import { ChainError, type ChainClient } from '../chain/client.ts';
import { failure, success, type Outcome } from '../protocol/errors.ts';
import type { MintRow, SettlementStore } from '../persistence/settlementStore.ts';
import { derivedUuid } from './derivedId.ts';

/*
 * Minting more of an RWA token (issue 16 §3, PROTOCOL v1.1 Chain): POST /markets/:id/mint
 * {amount} by the market's issuer or an admin records a mint and queues the `mint-token` job. The
 * job mints to the issuer's deposit address from the platform (the token's ISSUER_ROLE), its signed
 * transaction recorded before the broadcast (a retried job re-sends the same bytes, or signs anew
 * only when its nonce went to another transaction: at most one mint on chain), and after
 * CHAIN_CONFIRMATIONS credits the issuer once (a deposit_credit keyed by the mint id, provider
 * `issuance`, which the funding register refuses a second time). The mint comes from the zero
 * address: the chain sync never counts it as a deposit.
 */

/** The most one mint adds, in base units (10^36: 10^18 tokens of 18 decimals). */
export const MINT_MAX_UNITS = 10n ** 36n;

export const MintBody = z.strictObject({ amount: z.string().min(1).max(60) });
export const MintTokenPayload = z.object({ mintId: z.uuid() });

export interface MintMarket {
  readonly marketId: string;
  readonly issuerId: string;
  readonly tokenSymbol: string;
  readonly decimals: number;
  /** The deployed token; undefined before activation. */
  readonly contractAddress: string | undefined;
  readonly active: boolean;
}

export interface MintsOptions {
  readonly chain: () => Promise<ChainClient>;
  readonly store: SettlementStore;
  readonly market: (marketId: string) => MintMarket | undefined;
  /** The issuer's deposit address (assigned when missing). */
  readonly address: (userId: string) => Promise<string>;
  readonly fund: (command: FundingCommand, ts: number) => Promise<FundingOutcome>;
  readonly enqueue: (mintId: string) => Promise<void>;
  /** The token's new totalSupply on chain, after a mint was credited (the market's record follows it). */
  readonly onSupply?: (marketId: string, totalSupply: bigint) => Promise<void>;
  readonly confirmations: number;
  readonly log: Logger;
  readonly clock?: () => number;
}

export interface MintView {
  readonly id: string;
  readonly marketId: string;
  readonly asset: string;
  readonly amount: string;
  readonly status: MintRow['status'];
  readonly txHash?: string;
  readonly reason?: string;
}

export class Mints {
  constructor(private readonly options: MintsOptions) {}

  /** POST /markets/:id/mint: the caller is the market's issuer or an admin (checked here). */
  async request(
    principal: { readonly userId: string; readonly admin: boolean },
    marketId: string,
    body: unknown,
  ): Promise<Outcome<MintView>> {
    const parsed = MintBody.safeParse(body);
    if (!parsed.success) return failure('bad_request', 'the body is {amount} (a decimal string)');
    const market = this.options.market(marketId);
    if (market === undefined) return failure('unknown_market', `no RWA market ${marketId}`);
    if (!principal.admin && principal.userId !== market.issuerId)
      return failure('forbidden', 'only the issuer of this market or an admin mints');
    if (!market.active || market.contractAddress === undefined)
      return failure('market_not_active', 'tokens are minted once the market is active');
    const amount = parseAssetAmount(parsed.data.amount, market.decimals, 'amount');
    if (!amount.ok) return failure('bad_request', amount.message);
    if (amount.value <= 0n || amount.value > MINT_MAX_UNITS)
      return failure('bad_request', 'amount must be above 0 and at most 10^18 tokens');
    const id = randomUUID();
    await this.options.store.insertMint({
      id,
      marketId,
      userId: market.issuerId,
      asset: market.tokenSymbol,
      amount: amount.value,
      requestedBy: principal.userId,
    });
    try {
      await this.options.enqueue(id);
    } catch (error) {
      await this.options.store.mintDone(id, 'failed', 'the mint-token job could not be queued');
      return failure(
        'unavailable',
        `mint not queued: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
    return success(this.#view((await this.options.store.mint(id))!, market.decimals));
  }

  async get(id: string): Promise<MintView | undefined> {
    const row = await this.options.store.mint(id);
    if (row === undefined) return undefined;
    return this.#view(row, this.options.market(row.marketId)?.decimals ?? 18);
  }

  #view(row: MintRow, decimals: number): MintView {
    return {
      id: row.id,
      marketId: row.marketId,
      asset: row.asset,
      amount: formatAssetAmount(row.amount, decimals),
      status: row.status,
      ...(row.tx === undefined ? {} : { txHash: row.tx.txHash }),
      ...(row.error === undefined ? {} : { reason: row.error }),
    };
  }

  /**
   * One attempt of the mint-token job. Throws to be retried (not mined or confirmed yet, the chain
   * unreachable); `final`: the last attempt marks a mint that never mined failed.
   */
  async run(mintId: string, attempt: { readonly final: boolean }): Promise<void> {
    const { store, log } = this.options;
    const row = await store.mint(mintId);
    if (row === undefined || row.status === 'credited' || row.status === 'failed') return;
    const market = this.options.market(row.marketId);
    if (market?.contractAddress === undefined) {
      await store.mintDone(mintId, 'failed', 'the market has no token');
      return;
    }
    const chain = await this.options.chain();
    if (row.tx !== undefined) {
      const outcome = await chain.recordedOutcome(row.tx);
      if (outcome.state === 'mined') {
        if (!outcome.success) {
          await store.mintDone(mintId, 'failed', `the mint reverted on chain in ${row.tx.txHash}`);
          return;
        }
        const depth = (await chain.blockNumber()) - outcome.blockNumber + 1;
        if (depth < this.options.confirmations) throw new Error(`mint ${mintId}: ${depth} confirmations`);
        await this.#credit(row, row.tx.txHash, market, chain);
        return;
      }
      if (outcome.state === 'pending') throw new Error(`mint ${mintId}: ${row.tx.txHash} not mined yet`);
      log.warn({ mintId, txHash: row.tx.txHash }, 'mint dropped; signing anew');
    }
    const to = await this.options.address(row.userId);
    try {
      await chain.sendMint(market.contractAddress, to, row.amount, (tx) =>
        store.recordMintTx(mintId, tx, row.tx?.txHash),
      );
    } catch (error) {
      // Refused at estimation: nothing was signed, and the same mint would be refused again.
      if (error instanceof ChainError && error.code === 'reverted') {
        await store.mintDone(mintId, 'failed', error.message);
        return;
      }
      if (attempt.final) await store.mintDone(mintId, 'failed', String(error));
      throw error;
    }
    throw new Error(`mint ${mintId} sent; waiting for ${this.options.confirmations} confirmations`);
  }

  async #credit(row: MintRow, txHash: string, market: MintMarket, chain: ChainClient): Promise<void> {
    const credited = await this.options.fund(
      {
        kind: 'deposit_credit',
        depositId: derivedUuid(`mint:${row.id}`),
        userId: row.userId,
        asset: row.asset,
        amount: row.amount,
        provider: 'issuance',
        reference: txHash,
      },
      (this.options.clock ?? Date.now)(),
    );
    if (!credited.ok && credited.code !== 'duplicate')
      throw new Error(`mint ${row.id} not credited: ${credited.message}`);
    await this.options.store.mintDone(row.id, 'credited');
    if (this.options.onSupply !== undefined && market.contractAddress !== undefined)
      await this.options.onSupply(row.marketId, (await chain.tokenInfo(market.contractAddress)).totalSupply);
  }
}

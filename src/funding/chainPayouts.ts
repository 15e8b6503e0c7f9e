import type { Asset } from '../actors/catalog.ts';
import { ChainError, type ChainClient, type RecordedTransaction } from '../chain/client.ts';
import type { CustodyKeys } from '../chain/custody.ts';
import type { ChainStore } from '../persistence/chainStore.ts';
import type { Payout, PayoutResult, PayoutRail } from './payouts.ts';
import { ProviderUnavailable } from './providers/http.ts';

/*
 * The chain payout rail (issue 16): a withdrawal of an asset with a token leaves from the user's
 * deposit address, by the platform's agent role (RwaToken.forcedTransfer) for an RWA, by a transfer
 * the deposit address's own key signs (its gas topped up by the platform) for another ERC-20.
 *
 * At most once per payout reference: the signed transaction is recorded (chain_payouts) before it
 * is broadcast. A later call reads the record and asks the chain: mined → confirmed once it has
 * CHAIN_CONFIRMATIONS (failed if it reverted); not mined yet → the same bytes are sent again, which
 * can only ever mine that one transaction; its nonce taken by another transaction → it can never
 * be mined, so a new one is signed (compare-and-set on the record). A worker killed anywhere in
 * between leaves either no record (nothing was sent) or a record the next call resolves.
 */

export interface ChainTokenOf {
  readonly address: string;
  /** `rwa`: an RwaToken (allowlist, agent role); `erc20`: a plain token. */
  readonly kind: 'rwa' | 'erc20';
}

export interface ChainPayoutsOptions {
  readonly chain: () => Promise<ChainClient>;
  readonly store: ChainStore;
  readonly keys: CustodyKeys;
  /** The token of an asset, when it has one on the exchange's chain. */
  readonly token: (asset: Asset) => ChainTokenOf | undefined;
  /** Why the user may not move this RWA now (compliance), or undefined. */
  readonly refusal: (userId: string, asset: string) => string | undefined;
  readonly confirmations: number;
}

const ADDRESS = /^0x[0-9a-fA-F]{40}$/;

export class ChainPayouts implements PayoutRail {
  readonly name = 'chain';

  constructor(private readonly options: ChainPayoutsOptions) {}

  handles(asset: Asset): boolean {
    return this.options.token(asset) !== undefined;
  }

  checkDestination(_asset: Asset, destination: string): string | undefined {
    return ADDRESS.test(destination)
      ? undefined
      : 'an on-chain destination is an address (0x and 40 hex digits)';
  }

  async admit(userId: string, asset: Asset, destination: string): Promise<string | undefined> {
    const token = this.options.token(asset);
    if (token?.kind !== 'rwa') return undefined;
    const refused = this.options.refusal(userId, asset.symbol);
    if (refused !== undefined) return refused;
    const status = await (await this.options.chain()).holderStatus(token.address, destination);
    if (!status.allowlisted) return `${destination} is not on the allowlist of ${asset.symbol}`;
    if (status.frozen) return `${destination} is frozen on ${asset.symbol}`;
    return undefined;
  }

  async pay(payout: Payout): Promise<PayoutResult> {
    try {
      return await this.#pay(payout);
    } catch (error) {
      if (error instanceof ChainError && error.code !== 'reverted')
        throw new ProviderUnavailable(`chain: ${error.message}`);
      throw error;
    }
  }

  async #pay(payout: Payout): Promise<PayoutResult> {
    const { store, confirmations } = this.options;
    const chain = await this.options.chain();
    const recorded = await store.payout(payout.reference);
    if (recorded !== undefined) {
      const outcome = await chain.recordedOutcome(recorded);
      if (outcome.state === 'pending') return { status: 'pending', txHash: recorded.txHash };
      if (outcome.state === 'mined') {
        if (!outcome.success)
          return { status: 'failed', reason: 'the transfer reverted on chain', txHash: recorded.txHash };
        const depth = (await chain.blockNumber()) - outcome.blockNumber + 1;
        return depth >= confirmations
          ? { status: 'confirmed', txHash: recorded.txHash }
          : { status: 'pending', txHash: recorded.txHash };
      }
    }
    const token = this.options.token(payout.asset);
    if (token === undefined) return { status: 'failed', reason: `${payout.asset.symbol} has no token` };
    const custody = await store.custody(payout.userId);
    if (custody === undefined)
      return { status: 'failed', reason: 'the user has no deposit address to pay from' };
    let sent: RecordedTransaction;
    try {
      sent = await chain.sendTransfer(
        {
          token: token.address,
          from: custody.address,
          to: payout.destination,
          amount: payout.amount,
          signer:
            token.kind === 'rwa'
              ? { kind: 'forced' }
              : { kind: 'holder', privateKey: this.options.keys.privateKey(custody.index) },
        },
        (tx) => store.recordPayout(payout.reference, tx, recorded?.txHash),
      );
    } catch (error) {
      // Refused at estimation: nothing was signed or sent, and the same transfer would be refused again.
      if (error instanceof ChainError && error.code === 'reverted')
        return { status: 'failed', reason: error.message };
      throw error;
    }
    return { status: 'pending', txHash: sent.txHash };
  }
}

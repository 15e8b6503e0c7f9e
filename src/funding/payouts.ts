import type { Asset } from '../actors/catalog.ts';
import { ProviderUnavailable } from './providers/http.ts';
import type { PaystackClient } from './providers/paystack.ts';

/*
 * The payout step of a withdrawal (issue 15), as an interface: the fiat rail (Paystack transfers)
 * is here; the on-chain issue plugs a chain rail in (an ERC-20 transfer whose hash is recorded
 * before broadcast) by adding one PayoutRail to the list startFunding is given.
 */

export interface Payout {
  /** Recorded before the first call: the rail must never make two payouts under one reference. */
  readonly reference: string;
  /** Whose withdrawal it is (a chain payout leaves from that user's deposit address). */
  readonly userId: string;
  readonly asset: Asset;
  readonly amount: bigint;
  readonly destination: string;
}

export type PayoutResult =
  | { readonly status: 'confirmed'; readonly txHash: string }
  | { readonly status: 'pending'; readonly txHash: string }
  | { readonly status: 'failed'; readonly reason: string; readonly txHash?: string };

export interface PayoutRail {
  readonly name: string;
  /** Whether this rail pays out the asset. */
  handles(asset: Asset): boolean;
  /** A refusal message when `destination` cannot receive the asset (at request); undefined when it can. */
  checkDestination(asset: Asset, destination: string): string | undefined;
  /**
   * Checks that need I/O, at request before anything is locked (the chain rail: an RWA's
   * destination allowlisted on its token, the user compliant); a refusal message, or undefined.
   */
  admit?(userId: string, asset: Asset, destination: string): Promise<string | undefined>;
  /**
   * Makes the payout named by `payout.reference`, or reports the one made under it before (a
   * retry after a crash): at most one payout per reference, however often it is called. Throws
   * ProviderUnavailable when the outcome is unknown (the caller retries).
   */
  pay(payout: Payout): Promise<PayoutResult>;
}

/** Paystack's transfer API to a recipient code (RCP_...), in the fiat asset's subunits. */
export class PaystackPayouts implements PayoutRail {
  readonly name = 'paystack';

  constructor(private readonly client: PaystackClient) {}

  handles(asset: Asset): boolean {
    return asset.kind === 'fiat';
  }

  checkDestination(_asset: Asset, destination: string): string | undefined {
    return /^RCP_[A-Za-z0-9]{1,64}$/.test(destination)
      ? undefined
      : 'a fiat destination is a Paystack transfer recipient code (RCP_...)';
  }

  async pay(payout: Payout): Promise<PayoutResult> {
    const made =
      (await this.client.verifyTransfer(payout.reference)) ??
      (await this.client.transfer({
        amount: payout.amount,
        currency: payout.asset.symbol,
        recipient: payout.destination,
        reference: payout.reference,
      }));
    const txHash = made.transferCode ?? payout.reference;
    switch (made.status) {
      case 'success':
        return { status: 'confirmed', txHash };
      case 'failed':
      case 'reversed':
      case 'abandoned':
        return { status: 'failed', reason: made.reason ?? `transfer ${made.status}`, txHash };
      case 'pending':
      case 'processing':
      case 'otp':
      case 'queued':
        return { status: 'pending', txHash };
      default:
        throw new ProviderUnavailable(`paystack transfer status ${made.status}`);
    }
  }
}

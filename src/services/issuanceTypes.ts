import { z } from 'zod/v4';
import type { LifecycleActor } from '../../machines/marketLifecycle.ts';
import type { Asset, Catalog, ListedMarket } from '../actors/catalog.ts';
import type { Ledger } from '../actors/ledger/index.ts';
import type { MarketDefinition } from '../actors/market/types.ts';
import type { LedgerEntry, Supervisor } from '../actors/supervisor.ts';
import type { DecideResult } from '../integrations/decisionEvents.ts';
import type { ApprovalEvent, AssetRecordChange, MarketAssetRecord } from '../persistence/issuanceStore.ts';
import type { Outcome } from '../protocol/errors.ts';
import type { AssetRecords } from './assetRecords.ts';
import type { Principal } from './principal.ts';

/* What the issuance service (issuance.ts) is handed and answers: its ports and its requests. */

export type IssuanceAction =
  'market.register' | 'market.approve' | 'market.reject' | 'market.pause' | 'market.archive';

export interface AuthorizeRequest {
  readonly principal: Principal;
  readonly action: IssuanceAction;
  readonly entityId: string;
  readonly context?: Record<string, unknown>;
}

/** The entity-permissions decision: allowed, `forbidden` with reasons, or `unavailable`. */
export type Authorize = (request: AuthorizeRequest) => Promise<Outcome<void>>;

/** Persistence of issuance (src/persistence/issuanceStore.ts), handed in by the composition root. */
export interface IssuanceStore {
  /** The asset, the market, its record and the `registered` audit row, in one transaction. */
  insertRegistration(
    asset: Asset,
    market: MarketDefinition,
    record: MarketAssetRecord,
    registered: ApprovalEvent,
  ): Promise<void>;
  updateMarketAsset(marketId: string, change: AssetRecordChange): Promise<void>;
  /** The market's lifecycle history: its registration and journaled transitions (lifecycleHistory.ts). */
  listMarketEvents(marketId: string): Promise<ApprovalEvent[]>;
}

/** A deploy-token job's payload (the round is in the job's id): the worker runs `runDeployment`. */
export const DeployTokenPayload = z.object({ marketId: z.string().min(1).max(128) });

/** The deploy-token queue (src/jobs): a duplicate enqueue of one market and round is a no-op. */
export interface DeployQueue {
  enqueueDeploy(marketId: string, round: number): Promise<void>;
}

/** Deploys a market's token; idempotent given the tx hash recorded by `onSubmitted`. */
export interface TokenDeployer {
  deploy(
    token: {
      readonly name: string;
      readonly symbol: string;
      readonly totalSupply: bigint;
      /** Receives the supply (the issuer's deposit address); the platform's address when absent. */
      readonly treasury?: string;
    },
    options: {
      readonly knownTxHash?: string | undefined;
      readonly onSubmitted: (txHash: string) => Promise<void>;
    },
  ): Promise<{ readonly contractAddress: string; readonly txHash: string }>;
  /** Puts the wallet on the token's allowlist, or takes it off. */
  setAllowlisted(contract: string, wallet: string, allowed: boolean): Promise<void>;
}

export interface IssuanceOptions {
  readonly catalog: Catalog;
  readonly supervisor: Supervisor;
  /** Where lifecycle commands go (default the supervisor; a gateway's: the market's owner). */
  readonly submit?: Supervisor['submit'];
  /** Where funding commands go (default the supervisor; a gateway's: the `@ledger` owner engine). */
  readonly ledgerEntry?: LedgerEntry;
  readonly ledger: Ledger;
  readonly store: IssuanceStore;
  readonly authorize: Authorize;
  readonly queue: DeployQueue;
  readonly deployer: TokenDeployer;
  /** A market was added to the catalog and the supervisor (the publisher follows it). */
  readonly onMarketAdded: (market: ListedMarket) => void;
  /** The registrations loaded at start, kept here as they change (shared with the compliance gate). */
  readonly records?: AssetRecords;
  readonly clock?: () => number;
  readonly maxOrdersPerMarket?: number;
  /**
   * The issuer's deposit address (assigned on first ask; issue 16): when given, activation mints the
   * supply there and credits the issuer's account with it (primary issuance).
   */
  readonly issuerAddress?: (issuerId: string) => Promise<string>;
}

/** What a delivered decision comes to, as the integration records it. */
export type DeliveredOutcome = DecideResult;

export interface Decision {
  readonly marketId: string;
  readonly decision: 'approved' | 'rejected';
  readonly reason?: string | undefined;
  readonly actor: LifecycleActor;
  readonly metadata?: Record<string, unknown> | undefined;
}

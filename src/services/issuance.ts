import { derivedUuid } from '../funding/derivedId.ts';
import { randomUUID } from 'node:crypto';
import type { LifecycleActor, LifecycleEvent, LifecycleState } from '../../machines/marketLifecycle.ts';
import type { Asset, ListedMarket } from '../actors/catalog.ts';
import { formatAssetAmount, parseAssetAmount } from '../actors/money.ts';
import type { ApprovalEvent, AssetRecordChange, MarketAssetRecord } from '../persistence/issuanceStore.ts';
export type { MarketAssetRecord };
import { AssetRecords } from './assetRecords.ts';
import type { Decision, DeliveredOutcome, IssuanceOptions } from './issuanceTypes.ts';
export * from './issuanceTypes.ts';
import { marketDefinition } from './marketTerms.ts';
import type { Principal } from './principal.ts';
import { errorText, failure, success, type Outcome } from '../protocol/errors.ts';
import type { RegisterBody } from '../protocol/schemas.ts';

/*
 * RWA issuance (issue 7): registration → approval (admin route, webhook or polling) → token
 * deployment by a job → active. Every transition goes through the market's lifecycle machine in its
 * actor (journaled with the decision's metadata, published on the `lifecycle` channel after
 * commit); after the journal has committed it, the asset record follows. The history (`events`)
 * is the journaled transitions themselves, as the projector (a consumer of the committed event
 * stream) writes them, after the registration. An illegal transition answers
 * `invalid_transition` with the current state and changes nothing.
 */

/** Token decimals of every RWA token (and of its ledger asset). */
export const RWA_TOKEN_DECIMALS = 18;

export class Issuance {
  private readonly records: AssetRecords;
  private readonly registering = new Set<string>();
  private readonly clock: () => number;

  constructor(private readonly options: IssuanceOptions) {
    this.records = options.records ?? new AssetRecords();
    this.clock = options.clock ?? Date.now;
  }

  record(marketId: string): MarketAssetRecord | undefined {
    return this.records.get(marketId);
  }

  /** The registration that created the RWA asset `tokenSymbol`, if one did. */
  recordOfToken(tokenSymbol: string): MarketAssetRecord | undefined {
    return this.records.ofToken(tokenSymbol);
  }

  events(marketId: string): Promise<ApprovalEvent[]> {
    return this.options.store.listMarketEvents(marketId);
  }

  /** Creates the RWA asset and its market (draft), then asks for approval (pending_approval). */
  async register(principal: Principal, body: RegisterBody): Promise<Outcome<ListedMarket>> {
    const { catalog, store } = this.options;
    const allowed = await this.options.authorize({
      principal,
      action: 'market.register',
      entityId: body.tokenSymbol,
      context: { assetType: body.assetType, quoteAsset: body.quoteAsset },
    });
    if (!allowed.ok) return allowed;
    const supply = parseAssetAmount(body.totalSupply, RWA_TOKEN_DECIMALS, 'totalSupply');
    if (!supply.ok) return failure('bad_request', supply.message);
    const asset: Asset = { symbol: body.tokenSymbol, decimals: RWA_TOKEN_DECIMALS, kind: 'rwa' };
    const assetChecked = catalog.checkAsset(asset);
    if (!assetChecked.ok) return failure(assetChecked.code, assetChecked.message);
    const definition = marketDefinition(
      {
        id: randomUUID(),
        symbol: `${body.tokenSymbol}-${body.quoteAsset}`,
        baseAsset: body.tokenSymbol,
        quoteAsset: body.quoteAsset,
        maxOrders: this.options.maxOrdersPerMarket ?? 1_000_000,
      },
      body,
      body.totalSupply,
    );
    // The market is checked against the catalog as it will be once the asset exists.
    const marketChecked = catalog.checkMarket(definition, asset);
    if (!marketChecked.ok) return failure(marketChecked.code, marketChecked.message);
    if (this.registering.has(asset.symbol)) return failure('conflict', `${asset.symbol} is being registered`);
    this.registering.add(asset.symbol);
    const record: MarketAssetRecord = {
      marketId: definition.id,
      name: body.name,
      assetType: body.assetType,
      tokenSymbol: body.tokenSymbol,
      tokenName: body.tokenName,
      totalSupply: body.totalSupply,
      issuerId: principal.userId,
      details: body.assetDetails ?? {},
    };
    try {
      await store.insertRegistration(asset, definition, record, {
        eventType: 'market.registered',
        actorId: principal.userId,
        actorType: 'issuer',
        ts: this.clock(),
      });
    } catch (error) {
      return failure('unavailable', `the registration was not stored: ${errorText(error)}`);
    } finally {
      this.registering.delete(asset.symbol);
    }
    catalog.addAsset(asset);
    this.options.ledger.defineAsset(asset.symbol, asset.decimals);
    const listed = catalog.addMarket(definition);
    this.keep(record);
    this.options.supervisor.addMarket(definition, {
      baseDecimals: listed.baseDecimals,
      quoteDecimals: listed.quoteDecimals,
    });
    this.options.onMarketAdded(listed);
    const actor = { id: principal.userId, type: 'issuer' } as const;
    const submitted = await this.transition(listed, { type: 'lifecycle.submit', actor, ts: this.clock() });
    return submitted.ok ? success(listed) : submitted;
  }

  /**
   * A compliance decision delivered by the entity-permissions integration (webhook or polling),
   * answered with the codes the integration records: `invalid_transition` and `unknown_market`
   * are final for the event, anything else is `unavailable` (retried).
   */
  async decideDelivered(decision: Decision & { readonly eventId: string }): Promise<DeliveredOutcome> {
    const decided = await this.decide({
      marketId: decision.marketId,
      decision: decision.decision,
      reason: decision.reason,
      actor: decision.actor,
      metadata: { ...decision.metadata, eventId: decision.eventId },
    });
    if (decided.ok) return { ok: true };
    const code =
      decided.code === 'invalid_transition' || decided.code === 'unknown_market'
        ? decided.code
        : 'unavailable';
    return { ok: false, code, message: decided.message };
  }

  /**
   * One sync-allowlist job: the wallet's place on the allowlist of the RWA token `asset` on chain.
   * A token not deployed yet has nothing to change (its deployment starts from the records).
   */
  async syncAllowlist(job: { asset: string; wallet: string; allowed: boolean }): Promise<void> {
    const market = this.options.catalog.listMarkets().find((m) => m.definition.baseAsset === job.asset);
    const contract = market && this.record(market.definition.id)?.contractAddress;
    if (contract === undefined) return;
    await this.options.deployer.setAllowlisted(contract, job.wallet, job.allowed);
  }

  /** An approval decision, from an admin route, the webhook or the polling fallback. */
  async decide(decision: Decision): Promise<Outcome<LifecycleState>> {
    const market = this.options.catalog.market(decision.marketId);
    if (market === undefined || !this.records.has(market.definition.id)) {
      return failure('unknown_market', `no registered market ${decision.marketId}`);
    }
    const ts = this.clock();
    if (decision.decision === 'rejected') {
      const rejected = await this.transition(market, {
        type: 'lifecycle.reject',
        actor: decision.actor,
        ts,
        reason: decision.reason ?? 'rejected',
        ...(decision.metadata === undefined ? {} : { metadata: decision.metadata }),
      });
      if (!rejected.ok) return rejected;
      await this.remember(market.definition.id, { rejectedReason: decision.reason ?? 'rejected' });
      return success(this.stateOf(market));
    }
    const approved = await this.transition(market, {
      type: 'lifecycle.approve',
      actor: decision.actor,
      ts,
      ...(decision.reason === undefined ? {} : { reason: decision.reason }),
      ...(decision.metadata === undefined ? {} : { metadata: decision.metadata }),
    });
    if (!approved.ok) return approved;
    await this.remember(market.definition.id, { approvedAt: ts });
    return this.startDeployment(market, { id: 'deployer', type: 'system' });
  }

  /** Admin: (re)start the token deployment of an approved market. */
  async activate(marketId: string, actor: LifecycleActor): Promise<Outcome<LifecycleState>> {
    const market = this.options.catalog.market(marketId);
    if (market === undefined) return failure('unknown_market', `no market ${marketId}`);
    if (!this.records.has(market.definition.id)) {
      return failure('invalid_transition', `market ${market.definition.symbol} has no token to deploy`);
    }
    return this.startDeployment(market, actor);
  }

  async pause(marketId: string, actor: LifecycleActor, reason?: string) {
    return this.simple(marketId, {
      type: 'lifecycle.pause',
      actor,
      ts: this.clock(),
      ...(reason === undefined ? {} : { reason }),
    });
  }

  async resume(marketId: string, actor: LifecycleActor, reason?: string) {
    return this.simple(marketId, {
      type: 'lifecycle.resume',
      actor,
      ts: this.clock(),
      ...(reason === undefined ? {} : { reason }),
    });
  }

  async archive(marketId: string, actor: LifecycleActor, reason?: string) {
    return this.simple(marketId, {
      type: 'lifecycle.archive',
      actor,
      ts: this.clock(),
      ...(reason === undefined ? {} : { reason }),
    });
  }

  /**
   * The deploy-token job's work for one attempt. Deploys (or finds the deployment of a recorded
   * tx hash), then `deployed` → active. A failure on the last attempt sends `deploy_failed` (back to
   * approved, the error stored); earlier failures rethrow so the queue retries with backoff.
   */
  async runDeployment(marketId: string, attempt: { readonly final: boolean }): Promise<void> {
    const market = this.options.catalog.market(marketId);
    const record = this.records.get(marketId);
    if (market === undefined || record === undefined) throw new Error(`no registered market ${marketId}`);
    if (this.stateOf(market) !== 'activating') return; // a stale job: nothing to do
    const system: LifecycleActor = { id: 'deployer', type: 'system' };
    let deployed: { contractAddress: string; txHash: string };
    try {
      const supply = parseAssetAmount(record.totalSupply, RWA_TOKEN_DECIMALS, 'totalSupply');
      if (!supply.ok) throw new Error(supply.message);
      const treasury = await this.options.issuerAddress?.(record.issuerId);
      deployed = await this.options.deployer.deploy(
        {
          name: record.tokenName,
          symbol: record.tokenSymbol,
          totalSupply: supply.value,
          ...(treasury === undefined ? {} : { treasury }),
        },
        {
          knownTxHash: record.deploymentTxHash,
          // Recorded before waiting for confirmation: a retry after a crash finds it first.
          onSubmitted: (txHash) => this.remember(marketId, { deploymentTxHash: txHash }),
        },
      );
    } catch (error) {
      if (attempt.final) {
        const message = errorText(error).slice(0, 500);
        await this.remember(marketId, { deployError: message });
        await this.transition(market, {
          type: 'lifecycle.deploy_failed',
          actor: system,
          ts: this.clock(),
          error: message,
        });
      }
      throw error;
    }
    // Another run of the job (a retry after a crash) may have finished this deployment meanwhile.
    if (this.stateOf(market) !== 'activating') return;
    if (this.options.issuerAddress !== undefined) await this.creditIssuance(record, deployed.txHash);
    const ts = this.clock();
    // The record first, so whoever sees `active` also sees the contract and no stale error.
    await this.remember(marketId, {
      contractAddress: deployed.contractAddress,
      deploymentTxHash: deployed.txHash,
      activatedAt: ts,
      deployError: null,
    });
    const done = await this.transition(market, {
      type: 'lifecycle.deployed',
      actor: system,
      ts,
      contractAddress: deployed.contractAddress,
      txHash: deployed.txHash,
    });
    // Lost a race with another run that activated it first: the same deployment, nothing to do.
    if (!done.ok && this.stateOf(market) !== 'active') throw new Error(done.message);
  }

  /**
   * Primary issuance: the supply minted to the issuer's deposit address is credited to the issuer,
   * once (a deposit_credit keyed by the market, which the funding register refuses a second time).
   */
  private async creditIssuance(record: MarketAssetRecord, txHash: string): Promise<void> {
    const supply = parseAssetAmount(record.totalSupply, RWA_TOKEN_DECIMALS, 'totalSupply');
    if (!supply.ok) throw new Error(supply.message);
    if (supply.value === 0n) return;
    const credited = await (this.options.ledgerEntry ?? this.options.supervisor).fund(
      {
        kind: 'deposit_credit',
        depositId: derivedUuid(`issuance:${record.marketId}`),
        userId: record.issuerId,
        asset: record.tokenSymbol,
        amount: supply.value,
        provider: 'issuance',
        reference: txHash,
      },
      this.clock(),
    );
    if (!credited.ok && credited.code !== 'duplicate')
      throw new Error(`primary issuance of ${record.tokenSymbol} not credited: ${credited.message}`);
  }

  private async startDeployment(
    market: ListedMarket,
    actor: LifecycleActor,
  ): Promise<Outcome<LifecycleState>> {
    const started = await this.transition(market, { type: 'lifecycle.activate', actor, ts: this.clock() });
    if (!started.ok) return started;
    const round = this.options.supervisor.actor(market.definition.symbol)!.currentState().lifecycle
      .context.seq;
    try {
      await this.options.queue.enqueueDeploy(market.definition.id, round);
    } catch (error) {
      // The market stays `activating` with no job: an admin `activate` cannot help (it needs
      // `approved`), so send it back there with the reason.
      const message = `could not enqueue the deployment: ${errorText(error)}`;
      await this.transition(market, {
        type: 'lifecycle.deploy_failed',
        actor: { id: 'deployer', type: 'system' },
        ts: this.clock(),
        error: message,
      });
      return failure('unavailable', message);
    }
    return success(this.stateOf(market));
  }

  private async simple(marketId: string, event: LifecycleEvent): Promise<Outcome<LifecycleState>> {
    const market = this.options.catalog.market(marketId);
    if (market === undefined) return failure('unknown_market', `no market ${marketId}`);
    const result = await this.transition(market, event);
    return result.ok ? success(this.stateOf(market)) : result;
  }

  /** Sends the event through the market's actor: the journal holds it, and its audit with it. */
  private async transition(market: ListedMarket, event: LifecycleEvent): Promise<Outcome<void>> {
    const { submit, supervisor } = this.options;
    const result = await (submit ?? supervisor.submit.bind(supervisor))(
      market.definition.symbol,
      { kind: 'lifecycle', event },
      event.ts,
    );
    if (!result.ok) {
      const state = this.stateOf(market);
      return failure(
        result.code === 'invalid_transition' ? 'invalid_transition' : result.code,
        result.code === 'invalid_transition'
          ? `market ${market.definition.symbol} is ${state}: ${result.message}`
          : result.message,
      );
    }
    return success(undefined);
  }

  private keep(record: MarketAssetRecord): void {
    this.records.keep(record);
  }

  private async remember(marketId: string, change: AssetRecordChange): Promise<void> {
    await this.options.store.updateMarketAsset(marketId, change);
    const record = this.records.get(marketId);
    if (record === undefined) return;
    if (change.contractAddress !== undefined) record.contractAddress = change.contractAddress;
    if (change.deploymentTxHash !== undefined) record.deploymentTxHash = change.deploymentTxHash;
    if (change.deployError !== undefined) record.deployError = change.deployError ?? undefined;
    if (change.rejectedReason !== undefined) record.rejectedReason = change.rejectedReason;
    if (change.approvedAt !== undefined) record.approvedAt = change.approvedAt;
    if (change.activatedAt !== undefined) record.activatedAt = change.activatedAt;
    if (change.totalSupply !== undefined) record.totalSupply = change.totalSupply;
  }

  /** A mint-token job raised the token's supply on chain (issue 16): the record shows it. */
  async supplyRaised(marketId: string, totalSupply: bigint): Promise<void> {
    await this.remember(marketId, { totalSupply: formatAssetAmount(totalSupply, RWA_TOKEN_DECIMALS) });
  }

  private stateOf(market: ListedMarket): LifecycleState {
    return this.options.supervisor.actor(market.definition.symbol)!.state;
  }
}

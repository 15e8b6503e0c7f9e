import type { Subscription } from 'nats';
import type { Logger } from 'pino';
import type { DatabasePool } from 'slonik';
import { LEDGER_JOURNAL_ID } from '../../actors/market/types.ts';
import type { Supervisor } from '../../actors/supervisor.ts';
import { claimMarketEpoch } from '../../cluster/epochs.ts';
import { ownershipPlan, type EngineRegistry } from '../../cluster/engines.ts';
import type { Lease, MarketLeases } from '../../cluster/lease.ts';
import type { ClusterMetrics } from '../../cluster/metrics.ts';
import type { JournalFollower } from '../../persistence/journalFollower.ts';
import type { CommandServer } from './commandServer.ts';

interface Owned {
  readonly lease: Lease;
  readonly epoch: number;
  serving: boolean;
  subscription: Subscription | undefined;
}

/**
 * The markets an engine holds: the journal writer's fence reads their epochs, the command server
 * whether each is served, the ownership loop changes them.
 */
export class OwnedMarkets {
  private readonly markets = new Map<string, Owned>();

  /** The epoch our batches for the market are fenced with (0, refused, when we do not hold it). */
  epoch(marketId: string): number {
    return this.markets.get(marketId)?.epoch ?? 0;
  }

  serving(marketId: string): boolean {
    const market = this.markets.get(marketId);
    return market?.serving === true && market.lease.held();
  }

  /** Markets served now (leased, claimed, caught up). */
  served(): string[] {
    return [...this.markets.entries()].filter(([, m]) => m.serving).map(([id]) => id);
  }

  ids(): string[] {
    return [...this.markets.keys()];
  }

  get(marketId: string): Owned | undefined {
    return this.markets.get(marketId);
  }

  add(marketId: string, market: Owned): void {
    this.markets.set(marketId, market);
  }

  delete(marketId: string): void {
    this.markets.delete(marketId);
  }

  get size(): number {
    return this.markets.size;
  }

  renewals(): number {
    let renewals = 0;
    for (const market of this.markets.values()) renewals += market.lease.renewed;
    return renewals;
  }
}

export interface OwnershipLoopOptions {
  readonly engineId: string;
  readonly writerId: string;
  readonly renewEveryMs: number;
  readonly pool: DatabasePool;
  readonly supervisor: Supervisor;
  readonly registry: EngineRegistry;
  readonly leases: MarketLeases;
  readonly follower: JournalFollower;
  readonly commands: CommandServer;
  readonly metrics: ClusterMetrics;
  readonly log: Logger;
  /** A lease lost while held: the engine cannot go on. */
  readonly fatal: (error: Error) => void;
}

/**
 * An engine's control loop (docs/scale-out.md, "Engine role"): every renewal period it reads the
 * live engines, asks the placement which markets are ours (ownershipPlan), hands over the ones
 * that are not and takes the ones that are. Taking a market is: its lease, its epoch claimed in
 * Postgres (the fence: the previous owner's batches commit nothing from now on), the journal caught
 * up to the last batch the previous owner committed, then its command subject served.
 */
export class OwnershipLoop {
  private stopping = false;
  private round: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly owned: OwnedMarkets,
    private readonly options: OwnershipLoopOptions,
  ) {}

  start(): void {
    this.tick();
    this.timer = setInterval(() => {
      this.tick();
    }, this.options.renewEveryMs);
  }

  /** Ends the rounds and hands every market over (its commands answered first). */
  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.timer);
    await this.round;
    for (const marketId of this.owned.ids()) await this.hand(marketId);
  }

  private tick(): void {
    if (this.stopping || this.round !== undefined) return;
    this.round = this.control()
      .catch((error: unknown) => {
        this.options.log.warn({ err: error }, 'control round failed; next round retries');
      })
      .finally(() => {
        this.round = undefined;
      });
  }

  private async control(): Promise<void> {
    const { engineId, registry, supervisor, metrics, log } = this.options;
    const live = await registry.live();
    log.debug({ live, owned: this.owned.ids() }, 'control round');
    // `@ledger` (credits, funding) is placed and leased like a market: one engine journals it.
    const all = [
      ...supervisor.list().map((m) => ({ id: m.id, symbol: m.symbol })),
      { id: LEDGER_JOURNAL_ID, symbol: LEDGER_JOURNAL_ID },
    ];
    const plan = ownershipPlan(
      engineId,
      live,
      all.map((m) => m.id),
      new Set(this.owned.ids()),
    );
    for (const marketId of plan.release) await this.hand(marketId);
    for (const marketId of plan.acquire) {
      const symbol = all.find((m) => m.id === marketId)?.symbol;
      if (symbol !== undefined && !this.stopping) await this.take(marketId, symbol);
    }
    metrics.ownedMarkets.set(this.owned.size);
    metrics.leaseRenewals.set(this.owned.renewals());
  }

  private async take(marketId: string, symbol: string): Promise<void> {
    const { leases, pool, writerId, engineId, follower, supervisor, commands, metrics, log } = this.options;
    const lease = await leases.acquire(marketId).catch(() => undefined);
    if (lease === undefined) return;
    log.debug({ marketId, epoch: lease.epoch }, 'lease taken; claiming the epoch');
    const claim = await claimMarketEpoch(pool, { marketId, epoch: lease.epoch, holder: writerId });
    if (!claim.claimed) {
      log.warn({ marketId, epoch: lease.epoch, current: claim.current }, 'a newer owner claimed the market');
      await lease.release();
      return;
    }
    const market: Owned = { lease, epoch: lease.epoch, serving: false, subscription: undefined };
    this.owned.add(marketId, market);
    lease.onLost((error) => {
      metrics.leaseLosses.inc();
      this.options.fatal(error);
    });
    // Every batch of the previous owner is committed or fenced out now: the tail is final.
    log.debug({ marketId, epoch: lease.epoch }, 'epoch claimed; catching up the journal');
    await follower.catchUp();
    supervisor.actor(symbol)?.finishRecovery();
    market.serving = true;
    market.subscription =
      marketId === LEDGER_JOURNAL_ID ? commands.serveLedger() : commands.serve(marketId, symbol);
    supervisor.armExpiries();
    metrics.takeovers.inc();
    log.info({ marketId, epoch: lease.epoch, engineId }, 'market taken');
  }

  private async hand(marketId: string): Promise<void> {
    const { supervisor, renewEveryMs, engineId, log } = this.options;
    const market = this.owned.get(marketId);
    if (market === undefined) return;
    market.serving = false;
    market.subscription?.unsubscribe();
    supervisor.armExpiries();
    // Its commands answered: the next owner's catch-up then sees all of them (a halted market's
    // rebuild is not waited for: the fence refuses what it would write).
    const symbol = supervisor.list().find((m) => m.id === marketId)?.symbol;
    const deadline = Date.now() + 10 * renewEveryMs;
    while (symbol !== undefined && !supervisor.isMarketIdle(symbol) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    this.owned.delete(marketId);
    await market.lease.release();
    log.info({ marketId, engineId }, 'market handed over');
  }
}

import type { NatsConnection } from 'nats';
import { MarketLeases, type Lease, type LeaseOptions } from './lease.ts';
import { ownerOf } from './placement.ts';

/*
 * Which engines are alive, and what one engine should do about it (docs/scale-out.md,
 * "Placement"). Each engine holds a lease on its own id in a bucket of its own (the same lease as a
 * market's: create, renew at revision, lapse after the TTL), so an engine that dies disappears
 * from `live()` within a TTL and its markets' leases lapse in the same time. `ownershipPlan` is the
 * pure step of the engine's control loop: from the live engines, the markets and the leases it
 * holds, which markets to try to acquire and which to hand over.
 */

export const DEFAULT_ENGINE_BUCKET = 'cluster_engines';

export class EngineRegistry {
  private constructor(
    private readonly leases: MarketLeases,
    private readonly self: Lease,
  ) {}

  /** Registers `engineId` as live; throws if an engine of that id is live already. */
  static async join(
    nc: NatsConnection,
    engineId: string,
    options: Omit<LeaseOptions, 'holder'> = {},
  ): Promise<EngineRegistry> {
    const leases = await MarketLeases.open(nc, {
      bucket: DEFAULT_ENGINE_BUCKET,
      ...options,
      holder: engineId,
    });
    const self = await leases.acquire(engineId);
    if (self === undefined) {
      const holder = await leases.holderOf(engineId);
      throw new Error(
        `engine id ${engineId} is live already (${holder?.holder ?? 'lapsing'}): use another ENGINE_ID`,
      );
    }
    return new EngineRegistry(leases, self);
  }

  /** Our own registration: lost means we must stop owning markets (another may take our id). */
  get registration(): Lease {
    return this.self;
  }

  /** The ids of the engines whose registration is current, sorted. */
  async live(): Promise<string[]> {
    return this.leases.liveKeys();
  }

  /** Leaves the cluster at once (others stop counting us without waiting for the TTL). */
  async leave(): Promise<void> {
    await this.self.release();
  }
}

export interface OwnershipPlan {
  /** Markets placement gives us that we do not hold: try to acquire them. */
  readonly acquire: readonly string[];
  /**
   * Markets we hold that placement gives to another live engine: drain and release them (the
   * other engine is polling for them).
   */
  readonly release: readonly string[];
}

export function ownershipPlan(
  engineId: string,
  live: readonly string[],
  markets: readonly string[],
  held: ReadonlySet<string>,
): OwnershipPlan {
  // We count ourselves live even if the listing missed us (it is read, not locked).
  const engines = live.includes(engineId) ? live : [...live, engineId];
  const acquire: string[] = [];
  const release: string[] = [];
  for (const market of markets) {
    const owner = ownerOf(market, engines);
    if (owner === engineId) {
      if (!held.has(market)) acquire.push(market);
    } else if (held.has(market)) {
      release.push(market);
    }
  }
  return { acquire, release };
}

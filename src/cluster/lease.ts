import { performance } from 'node:perf_hooks';
import { StorageType, type KV, type NatsConnection } from 'nats';
import { z } from 'zod';

/*
 * One owner per market (docs/scale-out.md, "Leases and fencing"): a key per market in a JetStream
 * key-value bucket. Acquire is `create` (fails while someone holds the key), renew is `update`
 * with the revision we last wrote (fails once anyone else wrote it), release is a `delete` at our
 * revision.
 *
 * Expiry is the bucket's max age (`ttl`), not an expiry stored in the value: every renewal writes
 * a new message, the server drops a message `ttlMs` after it was written, and a key whose last
 * message is gone can be `create`d again. So nobody has to compare clocks: the server alone decides
 * that a lease lapsed, by its own clock, and an owner that stopped renewing (killed, paused,
 * partitioned) loses the key `ttlMs` after its last successful renewal. The price: an expiry
 * by max age notifies no watcher, so a contender polls `create` (every `renewEveryMs`) instead of
 * waiting for a delete.
 *
 * The fencing token is the revision of our `create`, the epoch: a revision is the bucket stream's
 * sequence, which only grows, so every later owner of any market has a larger epoch than every
 * earlier one. The token is checked where writes land, in Postgres (epochs.ts): the lease tells an
 * owner promptly that it should stop, the fence makes sure a stale owner cannot write even when it
 * does not know yet (a process resumed after SIGSTOP runs its pending write before its timers).
 * The bucket must therefore never be deleted and recreated (its sequence would restart and every
 * claim below the old epochs would be refused: safe, but no market could be owned until the
 * epochs are reset); it lives on file storage so the sequence survives a NATS restart.
 *
 * Locally a lease counts as held only until `ttlMs - safetyMs` after the start of its last
 * successful renewal (monotonic clock): past that the server may already have dropped it, so
 * `held()` says no and the loss is reported even while NATS cannot be reached to confirm it.
 *
 * On a NATS cluster (docs/scale-out.md, "A 3-node NATS cluster") the bucket has `replicas` copies
 * (R3: a write needs 2 of 3 nodes). Renewals time out after `renewTimeoutMs` instead of
 * JetStream's 5 s, and a failed renewal is tried again after a quarter period, so a request lost
 * with a killed node costs one timeout, not the validity. A renewal whose reply was lost (or came
 * after the timeout) may still have been written: the next one then finds a revision it did not
 * know of, and reads the key before calling the lease taken (a value with our holder and our
 * epoch can only be ours). Acquire keeps JetStream's timeout: its create carries no epoch, so a
 * create whose reply we missed cannot be told from a predecessor's of the same holder name.
 */

export const DEFAULT_LEASE_BUCKET = 'market_leases';

/**
 * A KV key is a subject token: market ids of the catalog (UUIDs) fit; a journal pseudo-market
 * (`@ledger`) is keyed `_ledger` (no catalog id starts with `_`); anything else is refused.
 */
const MarketKey = z
  .string()
  .transform((id) => (id.startsWith('@') ? `_${id.slice(1)}` : id))
  .pipe(z.string().regex(/^[A-Za-z0-9_-]{1,128}$/, 'a market id of letters, digits, - and _'));

/** What a lease key holds; `epoch` is absent in the first write (its revision is the epoch). */
const LeaseValue = z.object({
  holder: z.string(),
  marketId: z.string(),
  epoch: z.number().int().positive().optional(),
});

function parseLeaseValue(text: string): z.infer<typeof LeaseValue> | undefined {
  try {
    const value = LeaseValue.safeParse(JSON.parse(text));
    return value.success ? value.data : undefined;
  } catch {
    return undefined;
  }
}

/** JetStream's "wrong last sequence": the key was written by someone else since our revision. */
const WRONG_LAST_SEQUENCE = 10071;

export interface LeaseOptions {
  /** Who we are in the lease value and on /admin/cluster (engine id, host, pid). */
  readonly holder: string;
  readonly bucket?: string;
  /** The bucket's max age: a lease not renewed for this long is gone (default 3 s). */
  readonly ttlMs?: number;
  /** Between renewals, and between a contender's attempts (default 1 s). */
  readonly renewEveryMs?: number;
  /** Taken off the local validity for clock-rate differences and the renewal's flight (default 500 ms). */
  readonly safetyMs?: number;
  /** Copies of the bucket on a NATS cluster (NATS_KV_REPLICAS; default 1, a single server). */
  readonly replicas?: number;
  /** A renewal (and its check of the key) not answered within this fails (default renewEveryMs). */
  readonly renewTimeoutMs?: number;
}

export type LeaseLoss =
  /** Someone else wrote the key (it expired and another holder created it). */
  | 'taken'
  /** No renewal succeeded for the local validity (NATS unreachable, or we were paused). */
  | 'expired'
  /** release() ran. */
  | 'released';

export class LeaseLostError extends Error {
  constructor(
    readonly marketId: string,
    readonly epoch: number,
    readonly reason: LeaseLoss,
    detail: string,
  ) {
    super(`lost the lease of market ${marketId} (epoch ${epoch}, ${reason}): ${detail}`);
    this.name = 'LeaseLostError';
  }
}

function errorCode(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null || !('api_error' in error)) return undefined;
  const apiError = (error as { api_error?: { err_code?: number } }).api_error;
  return apiError?.err_code;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The bucket of market leases on one NATS connection; `acquire` per market. */
export class MarketLeases {
  private constructor(
    private readonly kv: KV,
    /** The same bucket, bound with the renewal timeout. */
    private readonly renewKv: KV,
    readonly options: Required<LeaseOptions>,
  ) {}

  /**
   * Binds to the bucket, creating it (file storage, history 1, max age ttlMs, `replicas` copies)
   * when missing, and raising its replicas when it has fewer (never lowering them: processes of one
   * cluster that disagree must not scale the bucket down and up again).
   */
  static async open(nc: NatsConnection, options: LeaseOptions): Promise<MarketLeases> {
    const renewEveryMs = options.renewEveryMs ?? 1_000;
    const resolved: Required<LeaseOptions> = {
      holder: options.holder,
      bucket: options.bucket ?? DEFAULT_LEASE_BUCKET,
      ttlMs: options.ttlMs ?? 3_000,
      renewEveryMs,
      safetyMs: options.safetyMs ?? 500,
      replicas: options.replicas ?? 1,
      renewTimeoutMs: options.renewTimeoutMs ?? renewEveryMs,
    };
    if (resolved.renewEveryMs * 2 > resolved.ttlMs - resolved.safetyMs) {
      throw new Error(
        `lease renewEveryMs (${resolved.renewEveryMs}) must leave room for a missed renewal within ` +
          `ttlMs - safetyMs (${resolved.ttlMs - resolved.safetyMs})`,
      );
    }
    // Created with JetStream's own timeout (an R3 stream takes its meta leader a while), then bound
    // twice: with that timeout, and with the renewal's. Bound without direct get: reads go to the
    // stream leader, so holderOf and a renewal's check of its own write never read a replica that
    // is behind.
    // A cluster just formed (or electing) answers 503 "temporarily unavailable" for a while.
    await whileUnavailable(() =>
      nc.jetstream().views.kv(resolved.bucket, {
        history: 1,
        ttl: resolved.ttlMs,
        storage: StorageType.File,
        replicas: resolved.replicas,
      }),
    );
    const jsm = await nc.jetstreamManager();
    const stream = `KV_${resolved.bucket}`;
    const info = await jsm.streams.info(stream);
    if (info.config.num_replicas < resolved.replicas) {
      await jsm.streams.update(stream, { ...info.config, num_replicas: resolved.replicas });
    }
    const bind = { bindOnly: true, allow_direct: false } as const;
    const kv = await nc.jetstream().views.kv(resolved.bucket, bind);
    const renewKv = await nc.jetstream({ timeout: resolved.renewTimeoutMs }).views.kv(resolved.bucket, bind);
    return new MarketLeases(kv, renewKv, resolved);
  }

  /** The lease, or undefined while another holder has it. Throws only when NATS cannot answer. */
  async acquire(marketId: string): Promise<Lease | undefined> {
    const key = MarketKey.parse(marketId);
    const startedAt = performance.now();
    // The epoch is the create's revision, which we only learn from its answer: the value names
    // the holder; /admin/cluster reads the revision next to it.
    let revision: number;
    try {
      revision = await this.kv.create(key, JSON.stringify({ holder: this.options.holder, marketId }));
    } catch (error) {
      if (errorCode(error) === WRONG_LAST_SEQUENCE) return undefined;
      throw error;
    }
    return new Lease(this.renewKv, key, revision, startedAt, this.options);
  }

  /** Tries `acquire` every renewEveryMs until it succeeds or `signal` aborts (undefined then). */
  async acquireWhenFree(marketId: string, signal?: AbortSignal): Promise<Lease | undefined> {
    for (;;) {
      if (signal?.aborted === true) return undefined;
      const lease = await this.acquire(marketId).catch(() => undefined); // NATS away: try again
      if (lease !== undefined) return lease;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.options.renewEveryMs);
        signal?.addEventListener('abort', () => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** The keys held now (lapsed and released ones are gone or deleted), sorted. */
  async liveKeys(): Promise<string[]> {
    const keys: string[] = [];
    // The listing waits for as many keys as the bucket had when it began: a key that lapses (max
    // age) meanwhile never arrives and the iteration would hang for good (seen under kill -9 and
    // SIGSTOP tests). Bounded: past a renewal period it fails, and the caller's next round asks again.
    const listing = await this.kv.keys();
    const bound = { timedOut: false };
    const timer = setTimeout(() => {
      bound.timedOut = true;
      listing.stop();
    }, this.options.renewEveryMs);
    try {
      for await (const key of listing) keys.push(key);
    } finally {
      clearTimeout(timer);
    }
    if (bound.timedOut)
      throw new Error(`listing the keys of ${this.options.bucket} took over ${this.options.renewEveryMs} ms`);
    const live: string[] = [];
    for (const key of keys) {
      const entry = await this.kv.get(key);
      if (entry !== null && entry.operation === 'PUT') live.push(key);
    }
    return live.sort();
  }

  /** Who holds a market now and with which epoch (undefined: nobody, or the lease lapsed). */
  async holderOf(marketId: string): Promise<{ holder: string; epoch: number; revision: number } | undefined> {
    const entry = await this.kv.get(MarketKey.parse(marketId));
    if (entry === null || entry.operation !== 'PUT') return undefined;
    const value = parseLeaseValue(entry.string());
    if (value === undefined) return undefined;
    return { holder: value.holder, epoch: value.epoch ?? entry.revision, revision: entry.revision };
  }
}

/**
 * A held lease: renews itself every renewEveryMs until it is lost or released. `epoch` is the
 * fencing token to claim and write with (epochs.ts); `held()` is the prompt local answer.
 */
export class Lease {
  private revision: number;
  /** performance.now() past which the server may have dropped our last write. */
  private validUntil: number;
  private lostWith: LeaseLostError | undefined;
  private timer: NodeJS.Timeout | undefined;
  private renewing: Promise<void> | undefined;
  private readonly listeners: ((error: LeaseLostError) => void)[] = [];
  private renewals = 0;

  constructor(
    private readonly kv: KV,
    readonly marketId: string,
    readonly epoch: number,
    startedAt: number,
    private readonly options: Required<LeaseOptions>,
  ) {
    this.revision = epoch;
    this.validUntil = startedAt + options.ttlMs - options.safetyMs;
    this.schedule();
  }

  /** Renewals that succeeded (for /metrics). */
  get renewed(): number {
    return this.renewals;
  }

  /** The key's revision as we last wrote it: grows with every renewal, starts at `epoch`. */
  get lastRevision(): number {
    return this.revision;
  }

  /** Whether we may still act as the owner: not lost, and within the local validity. */
  held(): boolean {
    this.checkValidity();
    return this.lostWith === undefined;
  }

  lost(): LeaseLostError | undefined {
    this.checkValidity();
    return this.lostWith;
  }

  /** Called once when the lease is lost (taken, expired), not after release(). */
  onLost(listener: (error: LeaseLostError) => void): void {
    if (this.lostWith !== undefined) {
      if (this.lostWith.reason !== 'released') listener(this.lostWith);
    } else {
      this.listeners.push(listener);
    }
  }

  /** Deletes the key at our revision, so a contender takes over at once instead of after ttlMs. */
  async release(): Promise<void> {
    if (this.lostWith !== undefined) return;
    this.lostWith = new LeaseLostError(this.marketId, this.epoch, 'released', 'released by its holder');
    clearTimeout(this.timer);
    await this.renewing;
    await this.kv.delete(this.marketId, { previousSeq: this.revision }).catch(() => undefined);
  }

  private schedule(afterMs = this.options.renewEveryMs): void {
    this.timer = setTimeout(() => {
      this.renewing = this.renew()
        .catch(() => false)
        .then((renewed) => {
          this.renewing = undefined;
          // A failed renewal is tried again sooner: the validity left is less than a period.
          if (this.lostWith === undefined) this.schedule(renewed ? undefined : this.options.renewEveryMs / 4);
        });
    }, afterMs);
  }

  /** Whether the key now holds a renewal of ours (false: failed, try again, or lost). */
  private async renew(): Promise<boolean> {
    if (!this.held()) return false;
    const startedAt = performance.now();
    try {
      this.revision = await this.kv.update(this.marketId, this.value(), this.revision);
    } catch (error) {
      if (errorCode(error) === WRONG_LAST_SEQUENCE) await this.checkOwnWrite();
      // Anything else (a timeout, no responders while NATS elects a leader or has no quorum): try
      // again soon, until the validity runs out.
      this.checkValidity(describe(error));
      return false;
    }
    if (this.lostWith !== undefined) return false;
    this.validUntil = startedAt + this.options.ttlMs - this.options.safetyMs;
    this.renewals += 1;
    return true;
  }

  private value(): string {
    return JSON.stringify({ holder: this.options.holder, marketId: this.marketId, epoch: this.epoch });
  }

  /**
   * The key moved past our revision: someone else's create after a lapse, or a renewal of ours
   * whose reply was lost (the node we sent it through died after the stream stored it). Only the
   * latter carries our holder and our epoch; we go on from its revision, without extending the
   * validity (we do not know when it was written). A read that fails decides nothing: try again.
   */
  private async checkOwnWrite(): Promise<void> {
    const entry = await this.kv.get(this.marketId).catch(() => undefined);
    if (entry === undefined) return;
    const stored = entry !== null && entry.operation === 'PUT' ? parseLeaseValue(entry.string()) : undefined;
    if (entry !== null && stored?.holder === this.options.holder && stored.epoch === this.epoch) {
      this.revision = entry.revision;
      return;
    }
    this.lose('taken', `the key was written by someone else since revision ${this.revision}`);
  }

  private checkValidity(lastError?: string): void {
    if (this.lostWith !== undefined || performance.now() <= this.validUntil) return;
    const why = lastError === undefined ? '' : ` (last error: ${lastError})`;
    this.lose(
      'expired',
      `no renewal succeeded within ${this.options.ttlMs - this.options.safetyMs} ms${why}`,
    );
  }

  private lose(reason: LeaseLoss, detail: string): void {
    if (this.lostWith !== undefined) return;
    clearTimeout(this.timer);
    this.lostWith = new LeaseLostError(this.marketId, this.epoch, reason, detail);
    for (const listener of this.listeners.splice(0)) listener(this.lostWith);
  }
}

/** Retries `attempt` while a forming or healing JetStream cluster refuses it, for up to `forMs`. */
async function whileUnavailable<T>(attempt: () => Promise<T>, forMs = 15_000): Promise<T> {
  const deadline = Date.now() + forMs;
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      const code = typeof error === 'object' && error !== null && 'code' in error ? error.code : undefined;
      // 503: no meta leader yet; "no suitable peers": a restarted peer not yet seen as current.
      const transient = code === '503' || String(error).includes('no suitable peers');
      if (!transient || Date.now() > deadline) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

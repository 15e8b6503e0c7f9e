/**
 * A lease contender in a process of its own, for test/integration/cluster.test.ts: takes the
 * lease of MARKET_ID (src/cluster/lease.ts) as soon as it is free, claims its epoch in Postgres
 * (src/cluster/epochs.ts), then writes a fenced probe row every 50 ms, whether or not it still
 * holds the lease: the point is to show the fence, not the lease, stopping a stale owner. It prints
 * one JSON line per event on stdout: held, claim_refused, write (committed or not), lost. SIGTERM
 * releases the lease and exits 0.
 *
 * env: NATS_URL, DATABASE_URL, MARKET_ID, HOLDER, LEASE_BUCKET
 */
import { connect } from 'nats';
import { sql } from 'slonik';
import { z } from 'zod';
import { claimMarketEpoch, marketEpochFence } from '../../src/cluster/epochs.ts';
import { MarketLeases, type Lease } from '../../src/cluster/lease.ts';
import { createDatabasePool } from '../../src/persistence/pool.ts';

const env = z
  .object({
    NATS_URL: z.string().min(1),
    DATABASE_URL: z.string().min(1),
    MARKET_ID: z.string().min(1),
    HOLDER: z.string().min(1),
    LEASE_BUCKET: z.string().min(1),
  })
  .parse(process.env);

function say(event: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify({ holder: env.HOLDER, ...event })}\n`);
}

const nc = await connect({ servers: env.NATS_URL });
const pool = await createDatabasePool(env.DATABASE_URL, 2);
const leases = await MarketLeases.open(nc, { holder: env.HOLDER, bucket: env.LEASE_BUCKET });
const stop = new AbortController();
/** Set once the lease is taken; the SIGTERM handler may run before that. */
const state: { lease?: Lease } = {};

process.on('SIGTERM', () => {
  stop.abort();
  void (async () => {
    await state.lease?.release();
    await nc.drain();
    await pool.end();
    process.exit(0);
  })();
});

state.lease = await leases.acquireWhenFree(env.MARKET_ID, stop.signal);
if (state.lease !== undefined) {
  const held = state.lease;
  held.onLost((error) => {
    say({ event: 'lost', epoch: held.epoch, reason: error.reason });
  });
  const claim = await claimMarketEpoch(pool, {
    marketId: env.MARKET_ID,
    epoch: held.epoch,
    holder: env.HOLDER,
  });
  if (!claim.claimed) {
    say({ event: 'claim_refused', epoch: held.epoch, current: claim.current });
  } else {
    say({ event: 'held', epoch: held.epoch });
    let n = 0;
    const write = async (): Promise<void> => {
      n += 1;
      // One statement, no explicit transaction: a SIGSTOP can never leave the row lock held.
      const fence = marketEpochFence([{ marketId: env.MARKET_ID, epoch: held.epoch }]);
      const result = await pool.query(sql.unsafe`
        WITH ${fence.cte}
        INSERT INTO fence_probe (market_id, epoch, holder, n)
        SELECT ${env.MARKET_ID}, ${held.epoch}::int8, ${env.HOLDER}, ${n}
        WHERE ${fence.holds}`);
      say({ event: 'write', epoch: held.epoch, n, committed: result.rowCount === 1, leaseHeld: held.held() });
    };
    const loop = (): void => {
      if (stop.signal.aborted) return;
      write()
        .catch((error: unknown) => {
          say({ event: 'write_error', message: error instanceof Error ? error.message : String(error) });
        })
        .finally(() => setTimeout(loop, 50));
    };
    loop();
  }
}

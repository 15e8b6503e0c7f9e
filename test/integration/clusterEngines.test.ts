import { randomBytes } from 'node:crypto';
import { connect, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EngineRegistry } from '../../src/cluster/engines.ts';
import { MarketLeases } from '../../src/cluster/lease.ts';
import { eventually } from '../support/eventually.ts';

/**
 * The live-engine registry and the lease's own behaviour, on the real NATS of NATS_URL (what
 * `npm test` provides): engines see each other, a second engine of the same id is refused, leaving
 * removes one at once, a lapsed registration (no renewals) disappears after the TTL; a lease taken
 * over reports `taken`.
 */

const natsUrl = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const bucket = `engines_test_${randomBytes(4).toString('hex')}`;
const leaseBucket = `leases_test_${randomBytes(4).toString('hex')}`;
let nc: NatsConnection;
let other: NatsConnection;

beforeAll(async () => {
  nc = await connect({ servers: natsUrl });
  other = await connect({ servers: natsUrl });
});

afterAll(async () => {
  for (const name of [bucket, leaseBucket]) {
    await nc
      .jetstream()
      .views.kv(name)
      .then((kv) => kv.destroy())
      .catch(() => undefined);
  }
  await other.close();
  await nc.close();
});

describe('engine registry', () => {
  it('lists live engines, refuses a duplicate id, and forgets one that leaves or lapses', async () => {
    const a = await EngineRegistry.join(nc, 'engine-a', { bucket });
    const b = await EngineRegistry.join(other, 'engine-b', { bucket });
    expect(await a.live()).toEqual(['engine-a', 'engine-b']);
    await expect(EngineRegistry.join(other, 'engine-a', { bucket })).rejects.toThrow(/live already/);

    await b.leave();
    expect(await a.live()).toEqual(['engine-a']);

    // A registration that stops renewing (its connection closed, as a killed engine's is) lapses.
    const lapsing = await connect({ servers: natsUrl });
    await EngineRegistry.join(lapsing, 'engine-c', { bucket });
    expect(await a.live()).toContain('engine-c');
    await lapsing.close();
    await eventually(async () => !(await a.live()).includes('engine-c'), {
      timeoutMs: 10_000,
      what: 'the lapsed engine to disappear',
    });
    await a.leave();
  });
});

describe('market lease', () => {
  it('reports `taken` to a holder whose key was written by someone else, and refuses a bad market id', async () => {
    const leases = await MarketLeases.open(nc, { holder: 'h1', bucket: leaseBucket });
    const lease = await leases.acquire('m-taken');
    expect(lease).toBeDefined();
    expect(await leases.acquire('m-taken')).toBeUndefined();
    const lost: string[] = [];
    lease!.onLost((error) => lost.push(error.reason));
    // Someone else writes the key (what a new holder's create does after a lapse).
    const kv = await other.jetstream().views.kv(leaseBucket);
    await kv.put('m-taken', JSON.stringify({ holder: 'h2', marketId: 'm-taken' }));
    await eventually(() => lost.length > 0, { what: 'the loss to be reported' });
    expect(lost).toEqual(['taken']);
    expect(lease!.held()).toBe(false);
    await expect(leases.acquire('bad market id')).rejects.toThrow();
  });

  it('goes on from a renewal of its own whose reply it never got (a NATS node died after storing it)', async () => {
    const leases = await MarketLeases.open(nc, { holder: 'h1', bucket: leaseBucket });
    const lease = (await leases.acquire('m-own'))!;
    const lost: string[] = [];
    lease.onLost((error) => lost.push(error.reason));
    await eventually(() => lease.renewed >= 1, { what: 'a first renewal' });
    // The write a renewal makes, stored behind the holder's back: its next update finds a revision
    // it did not know of, reads the key and recognises its holder and epoch.
    const kv = await other.jetstream().views.kv(leaseBucket);
    const unseen = await kv.put(
      'm-own',
      JSON.stringify({ holder: 'h1', marketId: 'm-own', epoch: lease.epoch }),
    );
    const renewed = lease.renewed;
    await eventually(() => lease.renewed >= renewed + 2, { what: 'renewals after the unseen write' });
    expect(lost).toEqual([]);
    expect(lease.lastRevision).toBeGreaterThan(unseen);
    expect(await leases.holderOf('m-own')).toMatchObject({ holder: 'h1', epoch: lease.epoch });
    // The same holder name with another epoch (a restarted process of that engine) is someone else.
    await kv.put('m-own', JSON.stringify({ holder: 'h1', marketId: 'm-own', epoch: lease.epoch + 1000 }));
    await eventually(() => lost.length > 0, { what: 'the loss to be reported' });
    expect(lost).toEqual(['taken']);
  });
});

import { randomBytes } from 'node:crypto';
import { connect, type NatsConnection } from 'nats';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clusterSubjects } from '../../src/app/cluster/commands.ts';
import { ExchangeClient, type ExchangeError } from '../../src/client/index.ts';
import { natsConnectionOptions } from '../../src/cluster/config.ts';
import { MarketLeases, type Lease, type LeaseLoss } from '../../src/cluster/lease.ts';
import { gatewayPort, listLotMarkets, startClusterNode, type ClusterNode } from '../support/clusterNode.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { eventually } from '../support/eventually.ts';
import { runExchange } from '../support/exchange.ts';
import { NatsCluster, type NatsNode } from '../support/natsCluster.ts';

/**
 * The market lease (src/cluster/lease.ts) on a 3-node JetStream cluster of real nats-server
 * processes on loopback (test/support/natsCluster.ts), its bucket on 3 replicas
 * (NATS_KV_REPLICAS=3), for the NATS failure cases of docs/scale-out.md:
 *
 * - one node killed with SIGKILL, the one the holder is connected to and that leads the bucket's
 *   stream: the holder reconnects to another node, its renewals go on once the other two have
 *   elected a leader (4–6 s measured here), its revision only grows, nobody else acquires;
 * - two nodes killed (no quorum): no renewal can succeed, the holder reports the lease lost
 *   (`expired`) within its TTL, nobody acquires while quorum is lost, and once a node is back the
 *   lease is taken again with an epoch above every revision of the first holder.
 *
 * - an engine and a gateway (ROLE=engine, ROLE=gateway, real processes) with NATS_URL listing the
 *   three nodes and NATS_KV_REPLICAS=3 keep accepting orders while the node that leads the market
 *   lease bucket is killed.
 *
 * The TTLs are set for the election: a lease must outlive the bucket's leaderless time to survive
 * its leader's loss (12 s here; the default 3 s would lapse, see the docs).
 */

let cluster: NatsCluster;
const connections: NatsConnection[] = [];

/** A client that tries `first` before the others (nats.js otherwise shuffles the servers). */
async function connectVia(first: NatsNode, name: string): Promise<NatsConnection> {
  const others = cluster.servers.filter((url) => url !== first.url);
  const nc = await connect({
    ...natsConnectionOptions([first.url, ...others].join(','), name),
    noRandomize: true,
  });
  connections.push(nc);
  return nc;
}

/** Who the client talks to now. */
function nodeOf(nc: NatsConnection): string {
  return cluster.nodeOfServer(nc.getServer()).name;
}

/**
 * Calls `acquire` every 200 ms until stopped, keeping what each attempt answered: a lease
 * (which the test must never see while the first holder holds it), none, or an error (no quorum,
 * no leader yet). Acquired leases are released at once so they cannot disturb the next case.
 */
function contend(leases: MarketLeases, marketId: string) {
  const outcomes = { acquired: [] as number[], refused: 0, failed: 0 };
  let running = true;
  const loop = (async () => {
    while (running) {
      try {
        const lease = await leases.acquire(marketId);
        if (lease === undefined) outcomes.refused += 1;
        else {
          outcomes.acquired.push(lease.epoch);
          await lease.release();
        }
      } catch {
        outcomes.failed += 1;
      }
      // The contender's polling period, as acquireWhenFree's.
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  })();
  return {
    outcomes,
    stop: async () => {
      running = false;
      await loop;
      return outcomes;
    },
  };
}

/** Samples a lease's revision every 50 ms: the fencing order must never go back. */
function sampleRevisions(lease: Lease) {
  const revisions = [lease.lastRevision];
  const timer = setInterval(() => revisions.push(lease.lastRevision), 50);
  return {
    revisions,
    stop: () => {
      clearInterval(timer);
      return revisions;
    },
  };
}

function losses(lease: Lease): LeaseLoss[] {
  const reasons: LeaseLoss[] = [];
  lease.onLost((error) => reasons.push(error.reason));
  return reasons;
}

async function replicasOf(nc: NatsConnection, bucket: string): Promise<number> {
  const info = await (await nc.jetstreamManager()).streams.info(`KV_${bucket}`);
  return info.config.num_replicas;
}

async function streamLeader(bucket: string): Promise<string> {
  return eventually(() => cluster.streamLeader(`KV_${bucket}`), {
    timeoutMs: 15_000,
    everyMs: 100,
    what: `a leader for the bucket ${bucket}`,
  });
}

beforeAll(async () => {
  cluster = await NatsCluster.start();
});

afterAll(async () => {
  for (const nc of connections) await nc.close().catch(() => undefined);
  await cluster.stop();
});

describe('market lease on a 3-node NATS cluster, bucket R3', () => {
  it('raises the replicas of a bucket that has fewer, and never lowers them', async () => {
    const admin = await connect({ servers: cluster.servers });
    connections.push(admin);
    const bucket = 'leases_scaled';
    await MarketLeases.open(admin, { holder: 'admin', bucket, replicas: 1 });
    expect(await replicasOf(admin, bucket)).toBe(1);
    await MarketLeases.open(admin, { holder: 'admin', bucket, replicas: 3 });
    expect(await replicasOf(admin, bucket)).toBe(3);
    await MarketLeases.open(admin, { holder: 'admin', bucket, replicas: 1 });
    expect(await replicasOf(admin, bucket)).toBe(3);
  });

  it('keeps renewing through the loss of the node its holder is connected to and that leads the bucket', async () => {
    const bucket = 'leases_one_down';
    const options = { bucket, ttlMs: 12_000, renewEveryMs: 2_000, replicas: 3 };
    const admin = await connect({ servers: cluster.servers });
    connections.push(admin);
    await MarketLeases.open(admin, { ...options, holder: 'admin' });
    expect(await replicasOf(admin, bucket)).toBe(3);

    const leader = await streamLeader(bucket);
    const holderNc = await connectVia(cluster.node(leader), 'holder');
    expect(nodeOf(holderNc)).toBe(leader);
    const survivor = cluster.nodes.find((n) => n.name !== leader)!;
    const contenderNc = await connectVia(survivor, 'contender');
    const holderLeases = await MarketLeases.open(holderNc, { ...options, holder: 'h1' });
    const contenderLeases = await MarketLeases.open(contenderNc, { ...options, holder: 'h2' });

    const lease = (await holderLeases.acquire('m-a'))!;
    expect(lease).toBeDefined();
    const lost = losses(lease);
    await eventually(() => lease.renewed >= 1, { timeoutMs: 10_000, what: 'a first renewal' });
    const samples = sampleRevisions(lease);
    const contender = contend(contenderLeases, 'm-a');

    const before = { renewed: lease.renewed, revision: lease.lastRevision };
    await cluster.kill(leader);
    // Two renewals after the kill: the client moved to a live node, the other two elected a leader.
    await eventually(() => lease.renewed >= before.renewed + 2 || lost.length > 0, {
      timeoutMs: 25_000,
      everyMs: 100,
      what: () =>
        `two renewals after killing ${leader} (renewed ${lease.renewed}, on ${holderNc.getServer()})`,
    });
    const outcomes = await contender.stop();
    const revisions = samples.stop();

    expect(lost).toEqual([]);
    expect(lease.held()).toBe(true);
    expect(nodeOf(holderNc)).not.toBe(leader);
    expect(await streamLeader(bucket)).not.toBe(leader);
    expect(lease.lastRevision).toBeGreaterThan(before.revision);
    expect(revisions).toEqual([...revisions].sort((a, b) => a - b));
    // The contender was refused (or could not reach a leader) every time, never given the lease.
    expect(outcomes.acquired).toEqual([]);
    expect(outcomes.refused).toBeGreaterThan(0);
    expect(await contenderLeases.holderOf('m-a')).toMatchObject({ holder: 'h1', epoch: lease.epoch });

    // Released, the next owner's epoch is above every revision the first one wrote.
    const last = lease.lastRevision;
    await lease.release();
    const next = (await contenderLeases.acquire('m-a'))!;
    expect(next).toBeDefined();
    expect(next.epoch).toBeGreaterThan(last);
    await next.release();
    await cluster.restart(leader);
  });

  it('fails stop without quorum (two nodes killed), gives the lease to nobody, and hands it on with a higher epoch once a node is back', async () => {
    const bucket = 'leases_no_quorum';
    const options = { bucket, ttlMs: 4_000, renewEveryMs: 1_000, replicas: 3 };
    const [first, second, third] = cluster.nodes as [NatsNode, NatsNode, NatsNode];
    const holderNc = await connectVia(first, 'holder');
    const contenderNc = await connectVia(third, 'contender');
    const holderLeases = await MarketLeases.open(holderNc, { ...options, holder: 'h1' });
    const contenderLeases = await MarketLeases.open(contenderNc, { ...options, holder: 'h2' });
    expect(await replicasOf(holderNc, bucket)).toBe(3);

    const lease = (await holderLeases.acquire('m-b'))!;
    expect(lease).toBeDefined();
    const lost = losses(lease);
    await eventually(() => lease.renewed >= 1, { timeoutMs: 10_000, what: 'a first renewal' });
    const contender = contend(contenderLeases, 'm-b');

    // The holder's node and one more: the third is alone, a minority that cannot commit.
    await cluster.kill(first.name);
    await cluster.kill(second.name);
    await eventually(() => lost.length > 0, {
      timeoutMs: options.ttlMs + 2_000,
      everyMs: 50,
      what: 'the holder to report the lease lost',
    });
    expect(lost).toEqual(['expired']);
    expect(lease.held()).toBe(false);
    // Past the TTL nobody holds it on the server either, and still nobody can take it.
    // Each attempt fails fast (no leader) or after JetStream's 5 s timeout (a loaded host).
    await eventually(() => contender.outcomes.failed >= 2, {
      timeoutMs: 30_000,
      what: 'the contender to keep failing without quorum',
    });
    const outcomes = await contender.stop();
    expect(outcomes.acquired).toEqual([]);

    // A node back: quorum again (2 of 3), a leader is elected, the lapsed key can be created.
    await cluster.restart(second.name);
    const abort = AbortSignal.timeout(30_000);
    const next = await contenderLeases.acquireWhenFree('m-b', abort);
    expect(next).toBeDefined();
    expect(next!.epoch).toBeGreaterThan(lease.lastRevision);
    expect(await contenderLeases.holderOf('m-b')).toMatchObject({ holder: 'h2', epoch: next!.epoch });
    await next!.release();
    await cluster.restart(first.name);
  });
});

describe('an engine and a gateway on the 3-node cluster (NATS_KV_REPLICAS=3)', () => {
  let database: TestDatabase | undefined;
  const nodes: ClusterNode[] = [];
  const clients: ExchangeClient[] = [];

  afterAll(async () => {
    for (const c of clients) c.close();
    for (const node of nodes) node.kill('SIGKILL');
    await Promise.all(nodes.map((n) => n.exited));
    await database?.drop();
  });

  it('keep accepting orders while the node leading the lease bucket is killed', async () => {
    database = await createTestDatabase('nats_cluster');
    const seed = await runExchange({}, { database });
    await listLotMarkets(seed, ['BTC'], () => 8);
    await seed.credit('maker', 'BTC', '100000000');
    await seed.credit('taker', 'USDC', '100000000');
    const tokens = {
      maker: await seed.token('maker', ['trader']),
      taker: await seed.token('taker', ['trader']),
    };
    await seed.stop();

    const name = `t${randomBytes(4).toString('hex')}`;
    const env = {
      databaseUrl: database.url,
      natsUrl: cluster.servers.join(','),
      cluster: name,
      ttlMs: 12_000,
      renewMs: 2_000,
    };
    const engine = startClusterNode('e1', 'engine', env, { NATS_KV_REPLICAS: '3' });
    nodes.push(engine);
    // Its market and `@ledger` (credits and funding are leased like a market).
    await engine.waitFor(() => engine.logs.filter((l) => l.msg === 'market taken').length === 2, 60_000);
    const gateway = startClusterNode('gateway', 'gateway', env, { NATS_KV_REPLICAS: '3' });
    nodes.push(gateway);
    const url = `ws://127.0.0.1:${await gatewayPort(gateway)}/ws`;
    const subjects = clusterSubjects(name);
    const admin = await connect({ servers: cluster.servers });
    connections.push(admin);
    expect(await replicasOf(admin, subjects.leaseBucket)).toBe(3);
    expect(await replicasOf(admin, subjects.engineBucket)).toBe(3);

    const trader = async (user: 'maker' | 'taker') => {
      const c = new ExchangeClient({ url, WebSocket, requestTimeoutMs: 30_000 });
      await c.connect();
      clients.push(c);
      await c.auth(tokens[user]);
      return c;
    };
    const [maker, taker] = [await trader('maker'), await trader('taker')];
    let killedAt = Infinity;
    const acked: { sentAt: number }[] = [];
    const refused: string[] = [];
    let running = true;
    const loop = async (c: ExchangeClient, side: 'buy' | 'sell') => {
      for (let n = 0; running; n++) {
        const sentAt = Date.now();
        try {
          await c.place({
            market: 'BTC-USDC',
            side,
            type: 'limit',
            price: '10.00',
            qty: '1',
            clientOrderId: `${side}-${n}`,
          });
          acked.push({ sentAt });
        } catch (error) {
          // Any refusal fails the test below; the loop stops rather than spin on a broken client.
          const { code, message } = error as ExchangeError;
          refused.push(`${code}: ${message}`);
          return;
        }
      }
    };
    const loops = [loop(maker, 'sell'), loop(taker, 'buy')];
    await eventually(() => acked.length >= 10, {
      timeoutMs: 30_000,
      what: 'orders accepted before the kill',
    });

    const victim = await streamLeader(subjects.leaseBucket);
    killedAt = Date.now();
    await cluster.kill(victim);
    // A new bucket leader elected (4–6 s) while the engine's leases lived on, then orders on.
    await eventually(async () => (await streamLeader(subjects.leaseBucket)) !== victim, {
      timeoutMs: 20_000,
      everyMs: 100,
      what: 'a new leader of the lease bucket',
    });
    const electedAt = Date.now();
    await eventually(() => acked.filter((a) => a.sentAt > electedAt).length >= 20, {
      timeoutMs: 30_000,
      what: () =>
        `orders accepted after killing ${victim} (${acked.length} in all, refused ${JSON.stringify(refused)})`,
    });
    running = false;
    await Promise.all(loops);

    expect(acked.filter((a) => a.sentAt > killedAt).length).toBeGreaterThanOrEqual(20);
    expect(refused).toEqual([]);
    expect(engine.exitCode()).toBeUndefined();
    expect(engine.logs.filter((l) => l.msg === 'engine stops')).toEqual([]);
    // Held throughout: each taken once at the start, never lost and taken again.
    expect(engine.logs.filter((l) => l.msg === 'market taken')).toHaveLength(2);
    await cluster.restart(victim);
  });
});

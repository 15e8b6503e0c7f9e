import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { clusterState } from '../../src/app/system.ts';
import { clusterFigures, ClusterFiguresShape } from '../../src/transport/http/cluster.ts';

/*
 * Issue 22: the `cluster` field of the system figures (GET /admin/system, the visualizer's
 * `system` pushes): a single process in ROLE=all, a gateway's /admin/cluster view otherwise, and a
 * cluster that could not be read said so (the other figures still answer).
 */

const log = pino({ level: 'silent' });

const status = {
  role: 'gateway' as const,
  cluster: 'c1',
  engines: ['ea0', 'eb0'],
  markets: [
    { marketId: 'm1', symbol: 'BTC-USDC', owner: 'ea0', leaseEpoch: 7, fencedEpoch: 7, ownedSince: 1_700 },
    { marketId: 'm2', symbol: 'ETH-USDC' },
  ],
  replicaGlobalSeq: 42,
};

describe('the cluster figures', () => {
  it('say single process in ROLE=all', async () => {
    expect(await clusterState(undefined, log)).toEqual({ mode: 'single' });
  });

  it("are a gateway's /admin/cluster view, in the shape the route names", async () => {
    const figures = await clusterState(() => Promise.resolve(clusterFigures(status)), log);
    expect(figures).toEqual({
      mode: 'cluster',
      name: 'c1',
      engines: ['ea0', 'eb0'],
      markets: status.markets,
      replicaGlobalSeq: 42,
    });
    expect(ClusterFiguresShape.parse(figures)).toEqual(figures);
  });

  it('say the cluster was not read when NATS or Postgres fails, with empty lists', async () => {
    const figures = await clusterState(() => Promise.reject(new Error('no responders')), log);
    expect(figures).toEqual({
      mode: 'cluster',
      name: '',
      engines: [],
      markets: [],
      replicaGlobalSeq: 0,
      error: 'unreachable',
    });
    expect(ClusterFiguresShape.safeParse(figures).success).toBe(true);
    expect(ClusterFiguresShape.safeParse({ mode: 'cluster', engines: [] }).success).toBe(false);
  });
});

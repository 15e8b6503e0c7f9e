import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod/v4';
import { ClusterStatusShape } from '../../src/transport/http/cluster.ts';
import { SystemSnapshotShape } from '../../src/transport/http/system.ts';
import { launchChromium, openPage, PAGE_WAIT, screenshot, type WatchedPage } from '../browser/support.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { eventually } from '../support/eventually.ts';
import { runExchange } from '../support/exchange.ts';
import { ASSET_DECIMALS } from '../support/markets.ts';
import {
  gatewayPort,
  listLotMarkets,
  splittingEngineIds,
  startClusterNode,
  testClusterEnv,
  type ClusterEnv,
  type ClusterNode,
} from '../support/clusterNode.ts';

/**
 * Issue 22, "everything observable": which engine owns which market, as the gateway's system
 * figures (GET /admin/system's `cluster`, the visualizer's source) and GET /admin/cluster show it.
 * Two engines and a gateway as real processes on Postgres and NATS: both views name the same
 * owner, lease epoch, fenced epoch and since for every market, and the visualizer's cluster card
 * draws them; after kill -9 of an engine, its markets move to the survivor in both views and on
 * the page, fenced at a newer epoch, owned since after the kill.
 */

const natsUrl = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const MARKETS = ['BTC', 'ETH', 'GOLD'];

let database: TestDatabase;
let env: ClusterEnv;
const nodes: ClusterNode[] = [];
const engines = new Map<string, ClusterNode>();
let engineIds: [string, string];
let gateway: string;
let adminToken: string;
let browser: Browser;
let watched: WatchedPage;
const cleanups: (() => Promise<unknown>)[] = [];

type ClusterStatus = z.infer<typeof ClusterStatusShape>;
type Owners = Map<string, { owner: string; leaseEpoch: number; fencedEpoch: number; ownedSince: number }>;

async function adminGet<T>(path: string, shape: z.ZodType<T>): Promise<T> {
  const response = await fetch(`${gateway}/api/v1${path}`, {
    headers: { authorization: `Bearer ${adminToken}` },
  });
  expect(response.status).toBe(200);
  return shape.parse(await response.json());
}

/** Per symbol: the owner and its epochs and since, when every market is owned by a live engine and fenced. */
function settled(markets: ClusterStatus['markets'], live: readonly string[]): Owners | undefined {
  const owners: Owners = new Map();
  for (const m of markets) {
    if (m.owner === undefined || !live.includes(m.owner)) return undefined;
    if (m.leaseEpoch === undefined || m.leaseEpoch !== m.fencedEpoch || m.ownedSince === undefined) {
      return undefined;
    }
    owners.set(m.symbol, {
      owner: m.owner,
      leaseEpoch: m.leaseEpoch,
      fencedEpoch: m.fencedEpoch,
      ownedSince: m.ownedSince,
    });
  }
  return owners.size === MARKETS.length ? owners : undefined;
}

/**
 * Both views at once, once /admin/cluster has every market settled on `live` engines and the
 * system figures say the same (read again until they do: the two are read at different moments).
 */
async function bothViews(
  live: readonly string[],
  what: string,
): Promise<{ cluster: Owners; system: Owners }> {
  return eventually(
    async () => {
      const status = await adminGet('/admin/cluster', ClusterStatusShape);
      if (status.engines.join() !== [...live].sort().join()) return undefined;
      const cluster = settled(status.markets, live);
      if (cluster === undefined) return undefined;
      const snapshot = await adminGet('/admin/system', SystemSnapshotShape);
      if (snapshot.cluster.mode !== 'cluster') throw new Error('a gateway reports a single process');
      if (snapshot.cluster.engines.join() !== [...live].sort().join()) return undefined;
      const system = settled(snapshot.cluster.markets, live);
      if (system === undefined || JSON.stringify([...system]) !== JSON.stringify([...cluster])) {
        return undefined;
      }
      return { cluster, system };
    },
    { timeoutMs: 30_000, everyMs: 100, what },
  );
}

/** The owner of each market as the visualizer's cluster card draws it, by symbol. */
async function pageOwners(): Promise<Map<string, string>> {
  const rows = watched.page.locator('[data-testid="cluster-market"]');
  const owners = new Map<string, string>();
  for (const row of await rows.all()) {
    owners.set((await row.getAttribute('data-name')) ?? '', (await row.getAttribute('data-owner')) ?? '');
  }
  return owners;
}

beforeAll(async () => {
  database = await createTestDatabase('cluster_visualizer');
  cleanups.push(() => database.drop());
  const seed = await runExchange({}, { database });
  await listLotMarkets(seed, MARKETS, (base) => ASSET_DECIMALS[base]!);
  const marketIds = seed.exchange.catalog.listMarkets().map((m) => m.definition.id);
  adminToken = await seed.token('ops', ['admin']);
  await seed.stop();
  engineIds = splittingEngineIds(marketIds);
  env = testClusterEnv(database.url, natsUrl, 'v');
  for (const id of engineIds) {
    const node = startClusterNode(id, 'engine', env);
    nodes.push(node);
    engines.set(id, node);
  }
  const node = startClusterNode('gateway-0', 'gateway', env);
  nodes.push(node);
  gateway = `http://127.0.0.1:${await gatewayPort(node)}`;
  browser = await launchChromium();
  cleanups.push(() => browser.close());
  watched = await openPage(browser);
  cleanups.push(() => watched.close());
}, 180_000);

afterAll(async () => {
  for (const node of nodes) node.kill('SIGKILL');
  await Promise.all(nodes.map((n) => n.exited));
  for (const cleanup of cleanups.reverse()) await cleanup();
});

describe("the gateway's system figures show which engine owns which market", () => {
  let before: Owners;
  const started = Date.now();

  it('names the same owner, epochs and since as /admin/cluster, and the page draws them', async () => {
    const { cluster, system } = await bothViews(engineIds, 'both views settled on the two engines');
    expect(system).toEqual(cluster);
    expect(new Set([...cluster.values()].map((o) => o.owner))).toEqual(new Set(engineIds));
    for (const o of cluster.values()) {
      expect(o.ownedSince).toBeGreaterThanOrEqual(started - 1_000);
      expect(o.ownedSince).toBeLessThanOrEqual(Date.now() + 1_000);
    }
    before = cluster;

    await watched.page.goto(`${gateway}/dev/actors?token=${encodeURIComponent(adminToken)}`);
    const card = watched.page.getByTestId('cluster');
    await expect.poll(() => card.getAttribute('data-mode'), { timeout: PAGE_WAIT.timeoutMs }).toBe('cluster');
    const expected = new Map([...cluster].map(([symbol, o]) => [symbol, o.owner]));
    await expect.poll(pageOwners, { timeout: PAGE_WAIT.timeoutMs }).toEqual(expected);
    for (const id of engineIds) {
      await watched.page
        .locator(`[data-testid="cluster-engine"][data-name="${id}"]`)
        .waitFor({ timeout: PAGE_WAIT.timeoutMs });
    }
  }, 90_000);

  it('after kill -9 of an engine, shows its markets owned by the survivor, at a newer epoch, since the takeover', async () => {
    const [victimId, survivorId] = engineIds;
    const victimMarkets = [...before].filter(([, o]) => o.owner === victimId).map(([symbol]) => symbol);
    expect(victimMarkets.length).toBeGreaterThan(0);
    const victim = engines.get(victimId)!;
    const killedAt = Date.now();
    victim.kill('SIGKILL');
    await victim.exited;

    const { cluster, system } = await bothViews([survivorId], 'both views settled on the survivor');
    expect(system).toEqual(cluster);
    for (const [symbol, o] of cluster) {
      expect(o.owner, symbol).toBe(survivorId);
      if (victimMarkets.includes(symbol)) {
        expect(o.fencedEpoch).toBeGreaterThan(before.get(symbol)!.fencedEpoch);
        expect(o.ownedSince).toBeGreaterThanOrEqual(killedAt - 1_000);
      } else {
        // The survivor's own markets did not move.
        expect(o).toEqual(before.get(symbol));
      }
    }

    await expect
      .poll(pageOwners, { timeout: PAGE_WAIT.timeoutMs })
      .toEqual(new Map(MARKETS.map((base) => [`${base}-USDC`, survivorId])));
    await expect
      .poll(() => watched.page.locator('[data-testid="cluster-engine"]').count(), {
        timeout: PAGE_WAIT.timeoutMs,
      })
      .toBe(1);
    await screenshot(watched.page, 'actors-cluster');
    const errors = watched.errors.filter((e) => !/status of 404/.test(e));
    expect(errors, watched.console.join('\n')).toEqual([]);
  }, 90_000);
});

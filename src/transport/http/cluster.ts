import { z } from 'zod/v4';
import type { ClusterFigures, ClusterMarketFigures } from '../../protocol/actors.ts';
import { json, type createRouter } from './router.ts';

/*
 * GET /admin/cluster (issue 22, docs/scale-out.md): which engine owns which market, with the
 * lease's epoch and the fence's (and since when), and the live engines. ROLE=all answers its
 * single process. The same view is the `cluster` field of the system figures (ClusterFiguresShape,
 * GET /admin/system and the visualizer's pushes).
 */

const BASE = '/api/v1';

export const ClusterMarketShape = z.object({
  marketId: z.string(),
  symbol: z.string(),
  owner: z.string().optional(),
  leaseEpoch: z.number().int().optional(),
  fencedEpoch: z.number().int().optional(),
  /** When fencedEpoch was claimed (the market_epochs row's claimed_at), ms since the Unix epoch. */
  ownedSince: z.number().int().optional(),
});

export const ClusterStatusShape = z.object({
  role: z.enum(['all', 'gateway']),
  cluster: z.string().optional(),
  engines: z.array(z.string()),
  markets: z.array(ClusterMarketShape),
  replicaGlobalSeq: z.number().int(),
});

export type ClusterStatusBody = z.infer<typeof ClusterStatusShape>;

export const ClusterFiguresShape = z.discriminatedUnion('mode', [
  z.object({ mode: z.literal('single') }),
  z.object({
    mode: z.literal('cluster'),
    name: z.string(),
    engines: z.array(z.string()),
    markets: z.array(ClusterMarketShape),
    replicaGlobalSeq: z.number().int(),
    error: z.string().optional(),
  }),
]);

// What the shapes accept is what the protocol's types (src/protocol/actors.ts) name: a shape that
// drifts from them stops this from compiling.
type Conforms<Shape extends Protocol, Protocol> = [Shape, Protocol];
export type ClusterShapesConform = [
  Conforms<z.infer<typeof ClusterMarketShape>, ClusterMarketFigures>,
  Conforms<z.infer<typeof ClusterFiguresShape>, ClusterFigures>,
];

/** The system figures' `cluster` field of a gateway, from its /admin/cluster status. */
export function clusterFigures(status: ClusterStatusBody): z.infer<typeof ClusterFiguresShape> {
  return {
    mode: 'cluster',
    name: status.cluster ?? '',
    engines: status.engines,
    markets: status.markets,
    replicaGlobalSeq: status.replicaGlobalSeq,
  };
}

export function registerClusterRoute(
  route: ReturnType<typeof createRouter>,
  status: () => Promise<ClusterStatusBody>,
): void {
  route('get', `${BASE}/admin/cluster`, { role: 'admin' }, async () => json(200, await status()));
}

import { z } from 'zod/v4';
import { json, type createRouter } from './router.ts';

/*
 * GET /admin/cluster (issue 22, docs/scale-out.md): which engine owns which market, with the
 * lease's epoch and the fence's, and the live engines. ROLE=all answers its single process.
 */

const BASE = '/api/v1';

export const ClusterStatusShape = z.object({
  role: z.enum(['all', 'gateway']),
  cluster: z.string().optional(),
  engines: z.array(z.string()),
  markets: z.array(
    z.object({
      marketId: z.string(),
      symbol: z.string(),
      owner: z.string().optional(),
      leaseEpoch: z.number().int().optional(),
      fencedEpoch: z.number().int().optional(),
    }),
  ),
  replicaGlobalSeq: z.number().int(),
});

export type ClusterStatusBody = z.infer<typeof ClusterStatusShape>;

export function registerClusterRoute(
  route: ReturnType<typeof createRouter>,
  status: () => Promise<ClusterStatusBody>,
): void {
  route('get', `${BASE}/admin/cluster`, { role: 'admin' }, async () => json(200, await status()));
}

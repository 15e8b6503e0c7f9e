import { z } from 'zod/v4';
import { ClusterFiguresShape } from './cluster.ts';
import { json, type createRouter } from './router.ts';

/*
 * GET /admin/system (issue 20): every actor's figures for the visualizer, read on request. The
 * composition root builds the reader (src/app/system.ts); this file serves it and names its shape.
 */

const BASE = '/api/v1';

export const SystemSnapshotShape = z.object({
  ts: z.number().int(),
  supervisor: z.object({ markets: z.number().int(), running: z.number().int(), halted: z.number().int() }),
  markets: z.array(
    z.object({
      id: z.string(),
      symbol: z.string(),
      state: z.string(),
      status: z.enum(['running', 'halted']),
      mailboxDepth: z.number().int(),
      processed: z.number().int(),
    }),
  ),
  journal: z.object({
    flushes: z.number().int(),
    records: z.number().int(),
    failedFlushes: z.number().int(),
    lastCommitLatencyMs: z.number(),
    lastFlushRecords: z.number().int(),
    pending: z.number().int(),
    pendingBytes: z.number().int(),
    lastGlobalSeq: z.number().int(),
  }),
  consumers: z.array(z.object({ name: z.string(), cursor: z.number().int(), lag: z.number().int() })),
  queues: z.array(
    z.object({ name: z.string(), counts: z.record(z.string(), z.number()), error: z.string().optional() }),
  ),
  chain: z.object({
    status: z.enum(['ok', 'down', 'not_started']),
    address: z.string().optional(),
    chainId: z.number().int().optional(),
    nonce: z.number().int().optional(),
    pendingTransactions: z.number().int().optional(),
  }),
  /** Issue 22: `{mode: "single"}` in ROLE=all; on a gateway, which engine owns which market. */
  cluster: ClusterFiguresShape,
});

export type SystemSnapshot = z.infer<typeof SystemSnapshotShape>;

export function registerSystemRoute(
  route: ReturnType<typeof createRouter>,
  snapshot: () => Promise<SystemSnapshot>,
): void {
  route('get', `${BASE}/admin/system`, { role: 'admin' }, async () => json(200, await snapshot()));
}

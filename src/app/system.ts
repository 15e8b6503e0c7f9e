import type { Logger } from 'pino';
import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import type { Supervisor } from '../actors/supervisor.ts';
import type { ChainRuntime } from '../chainRuntime.ts';
import type { JobQueueSource } from '../transport/http/metrics.ts';
import type { JournalWriter } from '../persistence/journalWriter.ts';
import type { SystemSnapshot } from '../transport/http/system.ts';

/*
 * The figures of every actor of the running system for the visualizer (issue 20, GET
 * /admin/system): the supervisor and its markets (lifecycle, mailbox, batches), the journal
 * writer (flushes, batch sizes, commit latency), every durable consumer of the committed stream
 * by its cursor row (the projector is `relational`) with its lag behind the journal, each BullMQ
 * queue's counts, the chain client (its account's nonce and pending transactions), and in cluster
 * roles which engine owns which market (issue 22; ROLE=all says `single`). Read on
 * request, each part on its own: a part that fails says so and the others still answer.
 */

const CursorRow = z.object({ projection: z.string(), global_seq: z.string() });

export interface SystemSources {
  readonly supervisor: Supervisor;
  readonly writer: JournalWriter;
  readonly pool: DatabasePool;
  readonly queues: readonly JobQueueSource[];
  readonly chain: ChainRuntime;
  /** A gateway's view of the cluster (/admin/cluster's); absent in ROLE=all. */
  readonly cluster?: () => Promise<SystemSnapshot['cluster']>;
  readonly log: Logger;
}

export function systemSnapshot(sources: SystemSources): () => Promise<SystemSnapshot> {
  const { supervisor, writer, pool, queues, chain, cluster, log } = sources;
  return async () => {
    const markets = supervisor.list();
    const journal = writer.stats();
    const [consumers, jobQueues, chainFigures, clusterView] = await Promise.all([
      pool
        .any(
          sql.type(CursorRow)`
          SELECT projection, global_seq::text AS global_seq FROM projection_cursors ORDER BY projection`,
        )
        .then((rows) =>
          rows.map((row) => {
            const cursor = Number(row.global_seq);
            return { name: row.projection, cursor, lag: Math.max(0, journal.lastGlobalSeq - cursor) };
          }),
        )
        .catch((error: unknown) => {
          log.warn({ err: error }, 'system snapshot: consumer cursors not read');
          return [];
        }),
      Promise.all(
        queues.map(async (queue) => {
          try {
            return { name: queue.name, counts: { ...(await queue.counts()) } };
          } catch {
            return { name: queue.name, counts: {}, error: 'unreachable' };
          }
        }),
      ),
      chainState(chain),
      clusterState(cluster, log),
    ]);
    return {
      ts: Date.now(),
      supervisor: {
        markets: markets.length,
        running: markets.filter((m) => m.status === 'running').length,
        halted: markets.filter((m) => m.status === 'halted').length,
      },
      markets: markets.map((m) => ({ ...m })),
      journal: { ...journal },
      consumers,
      queues: jobQueues,
      chain: chainFigures,
      cluster: clusterView,
    };
  };
}

/** The `cluster` figures: ROLE=all is one process; a gateway reads the cluster, and says so when it cannot. */
export async function clusterState(
  cluster: SystemSources['cluster'],
  log: Logger,
): Promise<SystemSnapshot['cluster']> {
  if (cluster === undefined) return { mode: 'single' };
  try {
    return await cluster();
  } catch (error) {
    log.warn({ err: error }, 'system snapshot: the cluster not read');
    return { mode: 'cluster', name: '', engines: [], markets: [], replicaGlobalSeq: 0, error: 'unreachable' };
  }
}

/** The chain client's account: nonce (mined) and pending transactions; never starts a chain. */
async function chainState(chain: ChainRuntime): Promise<SystemSnapshot['chain']> {
  const status = await chain.health();
  if (status !== 'ok') return { status };
  try {
    const client = await chain.client();
    const { rpcUrl } = await chain.endpoint();
    const count = async (tag: 'latest' | 'pending') => {
      const response = await fetch(rpcUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 1,
          method: 'eth_getTransactionCount',
          params: [client.address, tag],
        }),
        signal: AbortSignal.timeout(1_000),
      });
      const body = (await response.json()) as { result?: string };
      return body.result === undefined ? undefined : Number.parseInt(body.result, 16);
    };
    const [latest, pending] = await Promise.all([count('latest'), count('pending')]);
    return {
      status,
      address: client.address,
      chainId: client.chainId,
      ...(latest === undefined ? {} : { nonce: latest }),
      ...(latest === undefined || pending === undefined ? {} : { pendingTransactions: pending - latest }),
    };
  } catch {
    return { status: 'down' };
  }
}

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod/v4';
import { ownerOf } from '../../src/cluster/placement.ts';
import type { RunningExchange } from './exchange.ts';

/**
 * One process of a cluster (ROLE=engine, gateway or worker, src/main.ts) for multi-process tests and
 * bench:cluster: spawned with JSON logs on stdout, which are kept (parsed) so a test waits for
 * what the process said (`gateway listening`, `market taken`) instead of sleeping.
 */

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

const LogLine = z.looseObject({ msg: z.string().optional(), level: z.number().optional() });
export type LogLine = z.infer<typeof LogLine>;

export interface ClusterNode {
  readonly name: string;
  readonly child: ChildProcess;
  readonly logs: LogLine[];
  readonly exited: Promise<number | null>;
  exitCode(): number | null | undefined;
  /** Resolves with the first log line `match` accepts (after `from` lines), or rejects when the process exits first. */
  waitFor(match: (line: LogLine) => boolean, timeoutMs?: number, from?: number): Promise<LogLine>;
  kill(signal?: NodeJS.Signals): void;
}

export interface ClusterEnv {
  readonly databaseUrl: string;
  readonly natsUrl: string;
  readonly cluster: string;
  readonly ttlMs: number;
  readonly renewMs: number;
}

export function startClusterNode(
  name: string,
  role: 'engine' | 'gateway' | 'worker',
  env: ClusterEnv,
  extra: Record<string, string> = {},
  /** More node flags (a profile: `--cpu-prof`). */
  nodeArgs: readonly string[] = [],
): ClusterNode {
  const child = spawn(
    process.execPath,
    [...nodeArgs, '--enable-source-maps', '--import', 'tsx', 'src/main.ts'],
    {
      cwd: repoRoot,
      env: {
        ...process.env,
        NODE_ENV: 'test',
        ROLE: role,
        DATABASE_URL: env.databaseUrl,
        NATS_URL: env.natsUrl,
        CLUSTER_NAME: env.cluster,
        LEASE_TTL_MS: String(env.ttlMs),
        LEASE_RENEW_MS: String(env.renewMs),
        LOG_FORMAT: 'json',
        LOG_LEVEL: process.env.CLUSTER_LOG_LEVEL ?? 'info',
        HOST: '127.0.0.1',
        PORT: '0',
        REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/1',
        SEED_MARKETS: 'false',
        ...(role === 'engine' ? { ENGINE_ID: name } : {}),
        ...extra,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const logs: LogLine[] = [];
  const listeners = new Set<() => void>();
  let partial = '';
  child.stdout.on('data', (chunk: Buffer) => {
    partial += chunk.toString('utf8');
    const lines = partial.split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      if (line.trim() === '') continue;
      try {
        logs.push(LogLine.parse(JSON.parse(line)));
      } catch {
        logs.push({ msg: line });
      }
    }
    for (const listener of listeners) listener();
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-4000);
  });
  let code: number | null | undefined;
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (c) => {
      code = c;
      for (const listener of listeners) listener();
      resolve(c);
    }),
  );
  return {
    name,
    child,
    logs,
    exited,
    exitCode: () => code,
    waitFor(match, timeoutMs = 30_000, from = 0) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = logs.slice(from).find(match);
          if (found !== undefined) {
            done();
            resolve(found);
          } else if (code !== undefined) {
            done();
            reject(new Error(`${name} exited (${String(code)}) first; stderr: ${stderr}`));
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(
            new Error(
              `${name}: timed out after ${timeoutMs} ms; last logs: ${JSON.stringify(logs.slice(-5))}`,
            ),
          );
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        listeners.add(check);
        check();
      });
    },
    kill(signal = 'SIGTERM') {
      if (code === undefined) child.kill(signal);
    },
  };
}

/** The port a gateway listens on, from its `gateway listening` line. */
export async function gatewayPort(node: ClusterNode): Promise<number> {
  const line = await node.waitFor((l) => l.msg === 'gateway listening', 60_000);
  return z.number().int().parse(line.port);
}

/**
 * The cluster's catalog, listed by a ROLE=all exchange before the engines start: USDC and each
 * base as `<base>-USDC`, whole lots at 0.01 ticks, no fees (what test/integration/clusterRoles and
 * bench:cluster trade).
 */
export async function listLotMarkets(
  seed: RunningExchange,
  bases: readonly string[],
  decimalsOf: (base: string) => number,
): Promise<void> {
  await seed.asset('USDC', 6, 'stable');
  for (const base of bases) {
    await seed.asset(base, decimalsOf(base));
    await seed.market(lotMarketBody(base));
  }
}

/** The body of `POST /api/v1/markets` for `${base}-USDC`: ticks of 0.01, whole lots, no fees. */
export function lotMarketBody(base: string): Record<string, unknown> {
  return {
    symbol: `${base}-USDC`,
    baseAsset: base,
    quoteAsset: 'USDC',
    priceDecimals: 2,
    qtyDecimals: 0,
    tickSize: '0.01',
    lotSize: '1',
    minQty: '1',
    maxQty: '1000000',
    makerFeeBps: 0,
    takerFeeBps: 0,
  };
}

/**
 * Two engine ids (`ea<k>`, `eb<k>`, the first k that works) between which placement splits
 * `marketIds`: each engine gets at least one market.
 */
export function splittingEngineIds(marketIds: readonly string[]): [string, string] {
  for (let k = 0; ; k++) {
    const ids: [string, string] = [`ea${k}`, `eb${k}`];
    const first = marketIds.filter((m) => ownerOf(m, ids) === ids[0]).length;
    if (first > 0 && first < marketIds.length) return ids;
  }
}

/** A cluster of its own (a fresh CLUSTER_NAME) on `databaseUrl`, with the tests' short lease (2 s, renewed every 500 ms). */
export function testClusterEnv(databaseUrl: string, natsUrl: string, prefix = 't'): ClusterEnv {
  return {
    databaseUrl,
    natsUrl,
    cluster: `${prefix}${randomBytes(4).toString('hex')}`,
    ttlMs: 2_000,
    renewMs: 500,
  };
}

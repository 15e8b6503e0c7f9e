import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseCommandLine, usageError } from './lib/cli.ts';

/*
 * A local stand-in for the trend and valuation feeds (issue 19; docs/trends.md "Pulled sources",
 * "RWA valuations"), for development and tests. One HTTP server:
 *   GET /trends      {"trends": [item, ...]}: each item a POST /trends body, one per configured
 *                    topic ({topic, region, category?, metrics:{viralityScore, sentiment, velocity,
 *                    engagementRate, volume}, ts}); the pull-trends job's TREND_SOURCES url.
 *   GET /valuations  {"valuations": [{tokenSymbol, value, currency, valuationDate, documentRef}]}:
 *                    one per configured token, dated today (UTC); the update-token-metadata job's
 *                    RWA_VALUATION_SOURCE_URL.
 * Modes (of /trends):
 *   walk     each request moves every topic's metrics by a seeded random walk (scores within
 *            0..100, sentiment −1..1, velocity −100..100 as the contract's ranges)
 *   fixed    the starting metrics every time
 *   garbage  the good items plus items a broken feed might send (no metrics, out-of-range
 *            scores, an empty topic, not an object): the job must ingest the good ones and count
 *            and skip the rest
 *   down     HTTP 503 (both paths)
 * Numbers are written with at most two decimals (sentiment four), as the exchange keeps them.
 *
 *   npm run dev:trend-source -- --port 4200 --mode walk
 *   TREND_SOURCES='[{"name":"dev","url":"http://127.0.0.1:4200/trends"}]' \
 *   RWA_VALUATION_SOURCE_URL=http://127.0.0.1:4200/valuations npm start
 */

export type TrendSourceMode = 'walk' | 'fixed' | 'garbage' | 'down';

export interface StandInTopic {
  readonly topic: string;
  readonly region: string;
  readonly category?: string;
}

export interface TrendSourceOptions {
  readonly host?: string;
  /** 0 (default): any free port. */
  readonly port?: number;
  readonly topics?: readonly StandInTopic[];
  /** Token symbol → the asset's total value (a decimal string), for /valuations. */
  readonly valuations?: Readonly<Record<string, string>>;
  readonly mode?: TrendSourceMode;
  readonly seed?: number;
  /** The clock of `ts` and the valuation date (tests). */
  readonly clock?: () => number;
}

export interface StandInTrendSource {
  /** The server's base URL (`/trends` and `/valuations` below it). */
  readonly url: string;
  setMode(mode: TrendSourceMode): void;
  /** Requests answered so far. */
  readonly requests: number;
  close(): Promise<void>;
}

/** The contract's three examples and a few more (docs/trends.md, the normalizer's table). */
export const DEFAULT_TOPICS: readonly StandInTopic[] = [
  { topic: 'DJ Zinhle dance challenge', region: 'SA' },
  { topic: 'Bitcoin price spike', region: 'SA' },
  { topic: 'Springboks win', region: 'SA' },
  { topic: 'Load shedding stage 6', region: 'SA', category: 'weather' },
  { topic: 'Tyla new single', region: 'SA' },
];

export const GARBAGE_ITEMS: readonly unknown[] = [
  { topic: 'No metrics at all', region: 'SA' },
  { topic: 'Score out of range', region: 'SA', metrics: { viralityScore: 400, sentiment: 0, velocity: 1 } },
  {
    topic: 'Sentiment out of range',
    region: 'SA',
    metrics: { viralityScore: 4, sentiment: -2, velocity: 1 },
  },
  { topic: '', region: 'SA', metrics: { viralityScore: 4, sentiment: 0, velocity: 1 } },
  'not an object',
  null,
];

interface Walk {
  score: number;
  sentiment: number;
  velocity: number;
  engagement: number;
  volume: number;
}

const clamp = (value: number, min: number, max: number) => Math.min(max, Math.max(min, value));
const fixed = (value: number, digits: number) => Number(value.toFixed(digits));

export async function startTrendSource(options: TrendSourceOptions = {}): Promise<StandInTrendSource> {
  let mode: TrendSourceMode = options.mode ?? 'walk';
  const clock = options.clock ?? Date.now;
  const topics = options.topics ?? DEFAULT_TOPICS;
  const valuations = options.valuations ?? { GBAR: '2000000.00' };
  let state = (options.seed ?? 1) >>> 0;
  let requests = 0;
  /** mulberry32: uniform in [0, 1). */
  const random = (): number => {
    state = (state + 0x6d2b79f5) | 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
  const walks: Walk[] = topics.map((_, i) => ({
    score: 20 + ((i * 17) % 60),
    sentiment: 0.1,
    velocity: 5,
    engagement: 0.05,
    volume: 1_000,
  }));
  const start = walks.map((w) => ({ ...w }));

  const trends = (): string => {
    if (mode === 'walk') {
      for (const w of walks) {
        w.score = clamp(w.score + (random() - 0.45) * 6, 0, 100);
        w.sentiment = clamp(w.sentiment + (random() - 0.5) * 0.2, -1, 1);
        w.velocity = clamp(w.velocity + (random() - 0.5) * 10, -100, 100);
        w.engagement = clamp(w.engagement + (random() - 0.5) * 0.01, 0, 1);
        w.volume = Math.max(0, Math.round(w.volume * (0.9 + random() * 0.25)));
      }
    }
    const now = clock();
    const items: unknown[] = topics.map((t, i) => {
      const w = mode === 'fixed' ? start[i]! : walks[i]!;
      return {
        topic: t.topic,
        region: t.region,
        ...(t.category === undefined ? {} : { category: t.category }),
        metrics: {
          viralityScore: fixed(w.score, 2),
          sentiment: fixed(w.sentiment, 4),
          velocity: fixed(w.velocity, 2),
          engagementRate: fixed(w.engagement, 4),
          volume: w.volume,
        },
        ts: now,
      };
    });
    return JSON.stringify({ trends: mode === 'garbage' ? [...items, ...GARBAGE_ITEMS] : items });
  };

  const valuationDocument = (): string => {
    const date = new Date(clock()).toISOString().slice(0, 10);
    return JSON.stringify({
      valuations: Object.entries(valuations).map(([tokenSymbol, value]) => ({
        tokenSymbol,
        value,
        currency: 'USD',
        valuationDate: date,
        documentRef: `stand-in-${tokenSymbol}-${date}`,
      })),
    });
  };

  const server: Server = createServer((request, response) => {
    requests++;
    request.resume();
    const path = new URL(request.url ?? '/', 'http://stand-in').pathname;
    if (mode === 'down') {
      response.writeHead(503, { 'content-type': 'text/plain' }).end('unavailable');
      return;
    }
    const body = path === '/trends' ? trends() : path === '/valuations' ? valuationDocument() : undefined;
    if (body === undefined) {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('GET /trends or /valuations');
      return;
    }
    response.writeHead(200, { 'content-type': 'application/json' }).end(body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      resolve();
    });
  });
  const { address, port } = server.address() as AddressInfo;
  return {
    url: `http://${address}:${port}`,
    setMode(next) {
      mode = next;
    },
    get requests() {
      return requests;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}

const NAME = 'dev:trend-source';
const USAGE = `usage: npm run dev:trend-source -- [--host 127.0.0.1] [--port 4200]
         [--mode walk|fixed|garbage|down] [--tokens GBAR=2000000.00] [--seed 1]

A local stand-in for the trend feed (GET /trends, the pull-trends job's TREND_SOURCES) and the RWA
valuation feed (GET /valuations, RWA_VALUATION_SOURCE_URL). docs/trends.md gives both formats.

  --host, --port   where to listen (default 127.0.0.1:4200; port 0 picks a free one)
  --mode           walk (default: a seeded random walk per request), fixed, garbage (good items
                   and broken ones), down (503)
  --tokens         TOKEN=total value,... for /valuations (default GBAR=2000000.00)
  --seed           the random walk's seed (default 1)
  -h, --help       this text`;
const MODES: readonly TrendSourceMode[] = ['walk', 'fixed', 'garbage', 'down'];

function intOption(name: string, text: string, min: number, max: number): number {
  const value = /^[0-9]{1,10}$/.test(text) ? Number(text) : NaN;
  if (!(value >= min && value <= max)) usageError(NAME, `--${name} must be an integer from ${min} to ${max}`);
  return value;
}

function parseTokens(text: string): Record<string, string> {
  const tokens: Record<string, string> = {};
  for (const entry of text.split(',')) {
    const [symbol, value] = entry.split('=').map((part) => part.trim());
    if (
      symbol === undefined ||
      !/^[A-Z0-9]{1,16}$/.test(symbol) ||
      value === undefined ||
      !/^\d+(\.\d+)?$/.test(value)
    )
      usageError(NAME, `--tokens: bad entry ${JSON.stringify(entry)} (want TOKEN=decimal)`);
    tokens[symbol] = value;
  }
  return tokens;
}

async function main(): Promise<void> {
  const { values } = parseCommandLine({
    name: NAME,
    usage: USAGE,
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: '4200' },
      mode: { type: 'string', default: 'walk' },
      tokens: { type: 'string', default: 'GBAR=2000000.00' },
      seed: { type: 'string', default: '1' },
    },
  });
  const mode = MODES.find((m) => m === values.mode);
  if (mode === undefined) usageError(NAME, `--mode must be one of ${MODES.join(', ')}`);
  const source = await startTrendSource({
    host: values.host,
    port: intOption('port', values.port, 0, 65_535),
    mode,
    valuations: parseTokens(values.tokens),
    seed: intOption('seed', values.seed, 0, 4_294_967_295),
  });
  process.stdout.write(`trend source (${mode}) at ${source.url}/trends and ${source.url}/valuations\n`);
  const stop = () => {
    void source.close().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}

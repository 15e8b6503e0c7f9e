import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseCommandLine, usageError } from './lib/cli.ts';

/*
 * A local stand-in for an external price source (the fetch-external-prices job's
 * PRICE_SOURCE_URL), for development and tests: `GET /` (any path) answers the prices as JSON,
 * either a simple map {"BTC": 67000.5} or CoinGecko's simple-price shape
 * {"bitcoin": {"usd": 67000.5}}. Prices are decimal strings written into the JSON as number tokens
 * (never through a float). Modes:
 *   fixed    the configured prices
 *   drift    each request moves every price by a seeded random walk of up to ±driftBps
 *   garbage  cycles through bodies a real source might send when broken (not JSON, wrong shapes,
 *            negative or non-numeric prices)
 *   down     HTTP 503
 *   hang     never answers (the fetch's timeout must fire)
 *
 *   npm exec tsx scripts/price-source.ts -- --port 4100 --prices BTC=67000.5,ETH=3500 --mode drift
 */

export type PriceSourceMode = 'fixed' | 'drift' | 'garbage' | 'down' | 'hang';

export interface PriceSourceOptions {
  readonly host?: string;
  /** 0 (default): any free port. */
  readonly port?: number;
  /** Key → decimal string, e.g. {BTC: "67000.5"} (map) or {bitcoin: "67000.5"} (coingecko ids). */
  readonly prices: Readonly<Record<string, string>>;
  readonly format?: 'map' | 'coingecko';
  /** `coingecko` only: the currency key under each id. */
  readonly vsCurrency?: string;
  readonly mode?: PriceSourceMode;
  /** Largest move per request in drift mode, basis points (default 50). */
  readonly driftBps?: number;
  readonly seed?: number;
}

export interface StandInPriceSource {
  readonly url: string;
  setMode(mode: PriceSourceMode): void;
  setPrices(prices: Readonly<Record<string, string>>): void;
  /** The prices the last answer carried (drift moves them). */
  prices(): Record<string, string>;
  /** Requests answered so far. */
  readonly requests: number;
  close(): Promise<void>;
}

/** Prices are held as integers at this many decimals for the random walk. */
const SCALE = 8;
const GARBAGE: readonly string[] = [
  '<html><body>502 Bad Gateway</body></html>',
  '{"BTC": "sixty thousand", "bitcoin": {"usd": "n/a"}}',
  '[67000.5, 3500]',
  '{"BTC": -5, "ETH": 0, "bitcoin": {"usd": -1}}',
  'null',
  '{"BTC": {"nested": true}, "bitcoin": 12}',
  '{"BTC": 1e999999, "bitcoin": {"usd": 1e999999}}',
  '{"BTC": 67000.5',
];

function toUnits(decimal: string): bigint {
  const match = /^(0|[1-9][0-9]*)(?:\.([0-9]{1,8}))?$/.exec(decimal);
  if (match === null)
    throw new Error(`price-source: ${JSON.stringify(decimal)} is not a decimal with ≤ 8 decimals`);
  return BigInt(match[1]! + (match[2] ?? '').padEnd(SCALE, '0'));
}

function fromUnits(units: bigint): string {
  const digits = units.toString().padStart(SCALE + 1, '0');
  const whole = digits.slice(0, -SCALE);
  const fraction = digits.slice(-SCALE).replace(/0+$/, '');
  return fraction === '' ? whole : `${whole}.${fraction}`;
}

export async function startPriceSource(options: PriceSourceOptions): Promise<StandInPriceSource> {
  let mode: PriceSourceMode = options.mode ?? 'fixed';
  let units = new Map(Object.entries(options.prices).map(([key, price]) => [key, toUnits(price)]));
  const format = options.format ?? 'map';
  const vs = options.vsCurrency ?? 'usd';
  const driftBps = BigInt(options.driftBps ?? 50);
  let state = (options.seed ?? 1) >>> 0;
  let garbage = 0;
  let requests = 0;
  const hanging = new Set<() => void>();

  const random = (n: number): number => {
    // mulberry32
    state = (state + 0x6d2b79f5) | 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) % n;
  };

  const body = (): string => {
    if (mode === 'drift') {
      for (const [key, value] of units) {
        const bps = BigInt(random(2 * Number(driftBps) + 1)) - driftBps;
        const next = value + (value * bps) / 10_000n;
        units.set(key, next > 0n ? next : value);
      }
    }
    const entries = [...units].map(([key, value]) =>
      format === 'map'
        ? `${JSON.stringify(key)}:${fromUnits(value)}`
        : `${JSON.stringify(key)}:{${JSON.stringify(vs)}:${fromUnits(value)}}`,
    );
    return `{${entries.join(',')}}`;
  };

  const server: Server = createServer((request, response) => {
    requests++;
    request.resume();
    switch (mode) {
      case 'down':
        response.writeHead(503, { 'content-type': 'text/plain' }).end('unavailable');
        return;
      case 'hang': {
        const end = () => response.destroy();
        hanging.add(end);
        response.on('close', () => hanging.delete(end));
        return;
      }
      case 'garbage':
        response
          .writeHead(200, { 'content-type': 'application/json' })
          .end(GARBAGE[garbage++ % GARBAGE.length]);
        return;
      default:
        response.writeHead(200, { 'content-type': 'application/json' }).end(body());
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      resolve();
    });
  });
  const { address, port } = server.address() as AddressInfo;
  return {
    url: `http://${address}:${port}/`,
    setMode(next) {
      mode = next;
    },
    setPrices(prices) {
      units = new Map(Object.entries(prices).map(([key, price]) => [key, toUnits(price)]));
    },
    prices: () => Object.fromEntries([...units].map(([key, value]) => [key, fromUnits(value)])),
    get requests() {
      return requests;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const end of hanging) end();
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}

const NAME = 'price-source';
const USAGE = `usage: npx tsx scripts/price-source.ts [--host 127.0.0.1] [--port 4100]
         [--prices BTC=67000.5,ETH=3500] [--format map|coingecko] [--vs usd]
         [--mode fixed|drift|garbage|down|hang] [--drift-bps 50]

A local stand-in for an external price source (the exchange's PRICE_SOURCE_URL): GET answers the
prices as JSON, a map {"BTC": 67000.5} or CoinGecko's {"bitcoin": {"usd": 67000.5}}.

  --host, --port   where to listen (default 127.0.0.1:4100; port 0 picks a free one)
  --prices         KEY=decimal,... (default BTC=67000.5,ETH=3500,GOLD=2400)
  --format         map (default) or coingecko (keys are CoinGecko ids)
  --vs             coingecko's currency key (default usd)
  --mode           fixed, drift (default: a seeded random walk), garbage (broken bodies),
                   down (503), hang (never answers)
  --drift-bps      largest move per request in drift mode (default 50)
  -h, --help       this text`;
const MODES: readonly PriceSourceMode[] = ['fixed', 'drift', 'garbage', 'down', 'hang'];

function parsePrices(text: string): Record<string, string> {
  const prices: Record<string, string> = {};
  for (const entry of text.split(',')) {
    const [key, price] = entry.split('=');
    if (key === undefined || key.trim() === '' || price === undefined)
      usageError(NAME, `--prices: bad entry ${JSON.stringify(entry)} (want KEY=decimal)`);
    try {
      toUnits(price.trim());
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error);
      usageError(NAME, `--prices: ${why.replace(/^price-source: /, '')}`);
    }
    prices[key.trim()] = price.trim();
  }
  return prices;
}

function intOption(name: string, text: string, min: number, max: number): number {
  const value = /^[0-9]{1,9}$/.test(text) ? Number(text) : NaN;
  if (!(value >= min && value <= max)) usageError(NAME, `--${name} must be an integer from ${min} to ${max}`);
  return value;
}

async function main(): Promise<void> {
  const { values } = parseCommandLine({
    name: NAME,
    usage: USAGE,
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: '4100' },
      prices: { type: 'string', default: 'BTC=67000.5,ETH=3500,GOLD=2400' },
      format: { type: 'string', default: 'map' },
      vs: { type: 'string', default: 'usd' },
      mode: { type: 'string', default: 'drift' },
      'drift-bps': { type: 'string', default: '50' },
    },
  });
  const mode = MODES.find((m) => m === values.mode);
  if (mode === undefined) usageError(NAME, `--mode must be one of ${MODES.join(', ')}`);
  if (values.format !== 'map' && values.format !== 'coingecko')
    usageError(NAME, '--format must be map or coingecko');
  const source = await startPriceSource({
    host: values.host,
    port: intOption('port', values.port, 0, 65_535),
    prices: parsePrices(values.prices),
    format: values.format,
    vsCurrency: values.vs,
    mode,
    driftBps: intOption('drift-bps', values['drift-bps'], 0, 10_000),
  });
  process.stdout.write(`price source (${values.format}, ${mode}) at ${source.url}\n`);
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

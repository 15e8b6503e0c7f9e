import { parseArgs } from 'node:util';
import { startExchange, startGateway, startWorker, type Exchange } from './app.ts';
import { startEngine } from './app/cluster/engine.ts';
import { loadConfig } from './config.ts';
import { createLogger } from './logger.ts';
import { DatabaseOwnedError } from './persistence/owner.ts';
import { PortInUseError } from './transport/listen.ts';
import { isAlive } from './processAlive.ts';

/*
 * `npm start`: the whole exchange on PORT (migrations, recovery, supervisor, journal writer,
 * projections, snapshots, the WebSocket and HTTP gateway). On the very first start (an empty
 * catalog) it lists two plain crypto pairs so that a newcomer has markets to trade; SEED_MARKETS=false
 * skips that. SIGINT/SIGTERM shut it down cleanly: drain, snapshot, flush, projections caught up.
 */
const USAGE = `usage: npm start

Runs the whole exchange: WebSocket on ws://HOST:PORT/ws, HTTP on http://HOST:PORT (PORT default
3000, HOST default 127.0.0.1), Postgres and Redis from DATABASE_URL and REDIS_URL or the local
defaults npm start provides, anvil started on first use unless CHAIN_RPC_URL is set.
SIGINT/SIGTERM shut it down cleanly. Every setting is an environment variable (README.md lists
them all), e.g. LOG_LEVEL (info), LOG_FORMAT (auto: pretty on a terminal, else JSON; json;
pretty), SEED_MARKETS=false (no starter markets on an empty catalog).`;
try {
  const { values } = parseArgs({ options: { help: { type: 'boolean', short: 'h' } } });
  if (values.help === true) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
} catch (error) {
  process.stderr.write(`npm start: ${error instanceof Error ? error.message : String(error)} (see --help)\n`);
  process.exit(2);
}

const config = loadConfig();
const log = createLogger({
  level: config.LOG_LEVEL,
  format: config.LOG_FORMAT,
  base: { svc: config.ROLE === 'all' ? 'exchange' : config.ROLE },
});
if (config.ROLE === 'engine') {
  // An engine serves no API: it owns markets (src/app/cluster/engine.ts) until a signal or a fatal loss.
  stopOnSignal('engine', await startEngine(config, log, { onFatal: () => process.exit(1) }));
} else if (config.ROLE === 'worker') {
  // A worker serves no API: jobs, durable consumers, the projector (src/app.ts, startWorker).
  stopOnSignal('worker', await startWorker(config, log, { onOwnershipLost: () => process.exit(1) }));
} else {
  await runExchange();
}

/** SIGINT/SIGTERM: a clean stop, then exit (0, or 1 when the stop failed). */
function stopOnSignal(role: string, running: { close(): Promise<void> }): void {
  let stopping = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (stopping) return;
      stopping = true;
      running.close().then(
        () => process.exit(0),
        (error: unknown) => {
          log.error({ err: error }, `${role} shutdown failed`);
          process.exit(1);
        },
      );
    });
  }
}

async function runExchange(): Promise<void> {
  const start = config.ROLE === 'gateway' ? startGateway : startExchange;
  const exchange = await start(config, log, {
    // The writer refuses from now on and another exchange may own the database: no clean
    // shutdown (it would snapshot), just leave; nothing acknowledged is lost.
    onOwnershipLost: () => {
      process.exit(1);
    },
  }).catch((error: unknown) => {
    // A second exchange on the same database or port: said in one line, exit 1, nothing changed.
    if (error instanceof DatabaseOwnedError || error instanceof PortInUseError) {
      log.fatal({ code: error.code }, error.message);
      process.exit(1);
    }
    throw error;
  });

  if (
    config.ROLE === 'all' &&
    process.env.SEED_MARKETS !== 'false' &&
    exchange.catalog.listMarkets().length === 0
  ) {
    await seed(exchange);
  }
  log.info(
    { markets: exchange.supervisor.list().map((m) => `${m.symbol} (${m.state})`), port: exchange.port },
    `exchange ready: ws://${config.HOST}:${exchange.port}/ws, http://${config.HOST}:${exchange.port}/health`,
  );

  let stopping = false;
  function shutDown(why: Record<string, unknown>, code: number): void {
    if (stopping) return;
    stopping = true;
    log.info(why, 'shutting down');
    exchange.close().then(
      () => {
        log.info('stopped cleanly');
        process.exit(code);
      },
      (error: unknown) => {
        log.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  }
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      shutDown({ signal }, 0);
    });
  }

  // Started by scripts/services.ts (npm start): we share its process group, so a SIGKILL of the
  // group takes us too; this covers a SIGKILL of the launcher alone, which would orphan us.
  const launcher = Number(process.env.EXCHANGE_LAUNCHER_PID);
  if (Number.isSafeInteger(launcher) && launcher > 1) {
    const watch = setInterval(() => {
      if (isAlive(launcher)) return;
      clearInterval(watch);
      shutDown({ launcher, reason: 'the launcher is gone' }, 1);
    }, 1_000);
    watch.unref();
  }
}

async function seed({ admin }: Exchange): Promise<void> {
  const actor = { id: 'bootstrap', type: 'system' } as const;
  for (const asset of [
    { symbol: 'USDC', decimals: 6, kind: 'stable' },
    { symbol: 'BTC', decimals: 8, kind: 'crypto' },
    { symbol: 'ETH', decimals: 18, kind: 'crypto' },
  ] as const) {
    const created = await admin.createAsset(asset);
    if (!created.ok) throw new Error(`seeding ${asset.symbol}: ${created.message}`);
  }
  for (const market of [
    {
      symbol: 'BTC-USDC',
      baseAsset: 'BTC',
      quoteAsset: 'USDC',
      priceDecimals: 2,
      qtyDecimals: 4,
      tickSize: '0.01',
      lotSize: '0.0001',
      minQty: '0.0001',
      maxQty: '100',
    },
    {
      symbol: 'ETH-USDC',
      baseAsset: 'ETH',
      quoteAsset: 'USDC',
      priceDecimals: 2,
      qtyDecimals: 3,
      tickSize: '0.01',
      lotSize: '0.001',
      minQty: '0.001',
      maxQty: '1000',
    },
  ]) {
    const listed = await admin.listMarket({ ...market, makerFeeBps: 10, takerFeeBps: 20 }, actor);
    if (!listed.ok) throw new Error(`seeding ${market.symbol}: ${listed.message}`);
    log.info({ market: market.symbol }, 'seeded market');
  }
}

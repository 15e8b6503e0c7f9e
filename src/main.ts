import { pino } from 'pino';
import type { LifecycleEvent } from '../machines/marketLifecycle.ts';
import type { BookEvent } from './actors/book/types.ts';
import { Ledger } from './actors/ledger/index.ts';
import type { MarketCommand, MarketDefinition } from './actors/market/types.ts';
import { createMarketMoney } from './actors/money.ts';
import { Supervisor } from './actors/supervisor.ts';
import { loadConfig } from './config.ts';
import { JournalWriter } from './persistence/journalWriter.ts';
import { migrate } from './persistence/migrate.ts';
import { createDatabasePool } from './persistence/pool.ts';
import { recover } from './persistence/recovery.ts';
import { Projector } from './persistence/projector.ts';
import { scheduleSnapshots, takeSnapshot } from './persistence/snapshots.ts';

/*
 * The exchange's entry point. Until the gateway lands it runs a demo market through the real
 * supervisor, market actor, lifecycle machine, book and ledger: decimal strings in at the edge,
 * integers inside, decimal strings out. With DATABASE_URL (always under `npm start`) it applies
 * the migrations, recovers the exchange from the journal and journals everything it does through
 * the JournalWriter (acks after commit), so each run continues the previous one: the market is
 * listed and the demo users credited on the first start only. Recovery starts from the latest
 * snapshot; snapshots are taken periodically and once at a clean shutdown. Without it batches go
 * nowhere.
 */
const config = loadConfig();
const log = pino({ level: config.LOG_LEVEL, base: { svc: 'exchange' } });

if (config.DATABASE_URL !== undefined) {
  const applied = await migrate(config.DATABASE_URL);
  log.info({ applied }, applied.length === 0 ? 'database schema up to date' : 'migrations applied');
}
const pool = config.DATABASE_URL === undefined ? undefined : await createDatabasePool(config.DATABASE_URL);
const writer = pool === undefined ? undefined : await JournalWriter.open(pool);

const ASSETS = { LUXAPT: 18, USDC: 6 } as const;
const market: MarketDefinition = {
  id: 'mkt-luxapt-usdc',
  symbol: 'LUXAPT-USDC',
  baseAsset: 'LUXAPT',
  quoteAsset: 'USDC',
  money: {
    priceDecimals: 2,
    qtyDecimals: 3,
    tickSize: '0.05',
    lotSize: '0.001',
    minQty: '0.001',
    maxQty: '1000',
  },
  makerFeeBps: 10,
  takerFeeBps: 20,
  maxOrders: 100_000,
};
const money = createMarketMoney({ ...market.money, baseDecimals: ASSETS.LUXAPT, quoteDecimals: ASSETS.USDC });

const ledger = new Ledger();
for (const [asset, decimals] of Object.entries(ASSETS)) ledger.defineAsset(asset, decimals);
const supervisor = new Supervisor({ ledger, sink: writer ?? { commit: () => undefined } });
const actor = supervisor.addMarket(market, { baseDecimals: ASSETS.LUXAPT, quoteDecimals: ASSETS.USDC });
if (pool !== undefined) {
  const recovered = await recover(pool, { ledger, supervisor });
  log.info({ ...recovered, market: market.symbol, state: actor.state }, 'recovered from the journal');
}
const snapshots =
  pool === undefined || writer === undefined
    ? undefined
    : scheduleSnapshots(
        pool,
        { supervisor, writer },
        {
          onSnapshot: (result) => {
            log.info(result, 'snapshot taken');
          },
          onError: (error) => {
            log.warn({ err: error }, 'snapshot failed');
          },
        },
      );

// Relational projections (history reads) follow the journal continuously, off the matching path.
const projector =
  pool === undefined
    ? undefined
    : new Projector(pool, {
        onError: (error) => {
          log.warn({ err: error }, 'projection round failed');
        },
      });
projector?.start(50);

let clock = Date.now();
const send = async (command: MarketCommand) => supervisor.submit(market.symbol, command, clock++);
const credit = async (user: string, asset: string, amount: bigint) => {
  const result = await supervisor.credit(user, asset, amount, clock++);
  if (!result.ok) throw new Error(`credit refused: ${result.message}`);
};

const admin = { id: 'admin', type: 'admin' } as const;
const listing: LifecycleEvent[] = [
  { type: 'lifecycle.submit', actor: admin, ts: clock },
  { type: 'lifecycle.approve', actor: { id: 'compliance', type: 'compliance' }, ts: clock },
  { type: 'lifecycle.activate', actor: admin, ts: clock },
  {
    type: 'lifecycle.deployed',
    actor: { id: 'deployer', type: 'system' },
    ts: clock,
    contractAddress: '0x0',
    txHash: '0x0',
  },
];
// First start: the market does not exist yet (a recovered one is past draft).
if (actor.state === 'draft') {
  for (const event of listing) {
    const result = await send({ kind: 'lifecycle', event });
    if (!result.ok) throw new Error(`listing refused: ${result.message}`);
    log.info(
      { market: market.symbol, from: result.transition?.from, to: result.transition?.to },
      'lifecycle',
    );
  }
  await credit('maker-1', 'LUXAPT', 10n * 10n ** 18n);
  await credit('maker-2', 'USDC', 10_000_000_000n);
  for (const taker of ['taker-1', 'taker-2', 'taker-3']) {
    await credit(taker, 'USDC', 5_000_000_000n);
    await credit(taker, 'LUXAPT', 2n * 10n ** 18n);
  }
}

interface DemoOrder {
  user: string;
  side: 'buy' | 'sell';
  type: 'limit' | 'market' | 'stop_limit';
  qty: string;
  price?: string;
  stopPrice?: string;
}

const demo: DemoOrder[] = [
  { user: 'maker-1', side: 'sell', type: 'limit', qty: '2.500', price: '1000.50' },
  { user: 'maker-1', side: 'sell', type: 'limit', qty: '1.000', price: '1001.00' },
  { user: 'maker-2', side: 'buy', type: 'limit', qty: '3.000', price: '999.95' },
  { user: 'taker-3', side: 'buy', type: 'stop_limit', qty: '0.500', stopPrice: '1000.50', price: '1001.00' },
  { user: 'taker-1', side: 'buy', type: 'limit', qty: '2.750', price: '1001.00' },
  { user: 'taker-2', side: 'sell', type: 'market', qty: '1.000' },
  { user: 'taker-3', side: 'buy', type: 'limit', qty: '1.000', price: '1000.03' },
];

for (const order of demo) {
  const qty = money.parseQty(order.qty);
  const price = order.price === undefined ? undefined : money.parsePrice(order.price);
  const stopPrice =
    order.stopPrice === undefined ? undefined : money.parsePrice(order.stopPrice, 'stopPrice');
  const failures = [qty, price, stopPrice].flatMap((r) => (r === undefined || r.ok ? [] : [r]));
  if (failures[0] !== undefined || !qty.ok) {
    const failure = failures[0];
    log.warn(
      { market: market.symbol, order, code: failure?.code, reason: failure?.reason },
      failure?.message,
    );
    continue;
  }
  const result = await send({
    kind: 'place',
    userId: order.user,
    side: order.side,
    type: order.type,
    qty: qty.value,
    price: price?.ok ? price.value : undefined,
    stopPrice: stopPrice?.ok ? stopPrice.value : undefined,
    tif: 'GTC',
    postOnly: false,
    stp: 'cancel_taker',
  });
  if (!result.ok) {
    log.warn({ market: market.symbol, order, code: result.code }, result.message);
    continue;
  }
  for (const event of result.events) log.info({ market: market.symbol, ...present(event) }, event.type);
}

const book = supervisor.actor(market.symbol)!.orderBook;
const levels = (side: 'buy' | 'sell') =>
  book.depth(side, 10).map(([p, q]) => [money.formatPrice(p), money.formatQty(q)]);
log.info({ market: market.symbol, bids: levels('buy'), asks: levels('sell') }, 'book');
for (const account of ['maker-1', 'maker-2', 'taker-1', 'taker-2', 'taker-3', '@fees']) {
  const balances = ledger
    .balancesOf(account)
    .map((b) => ({ ...b, available: `${b.available}`, locked: `${b.locked}` }));
  log.info({ account, balances }, 'balances (minor units)');
}
log.info({ invariants: ledger.checkInvariants(), markets: supervisor.list() }, 'demo done');
await supervisor.idle();
if (pool !== undefined && writer !== undefined) {
  await snapshots?.stop();
  log.info(await takeSnapshot(pool, { supervisor, writer }), 'snapshot taken at shutdown');
  await writer.close();
  log.info({ journal: writer.stats() }, 'journal closed');
}
if (projector !== undefined) {
  await projector.stop();
  const caughtUp = await projector.runOnce();
  log.info({ caughtUp, lag: await projector.lag() }, 'projections caught up');
}
await pool?.end();

/** An event with its integer prices and quantities written as the market's decimal strings. */
function present(event: BookEvent): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(event)) {
    if (typeof value !== 'number') out[key] = value;
    else if (/price/i.test(key)) out[key] = money.formatPrice(value);
    else if (/qty|remaining/i.test(key)) out[key] = money.formatQty(value);
    else out[key] = value;
  }
  return out;
}

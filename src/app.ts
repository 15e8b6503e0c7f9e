import type { Logger } from 'pino';
import uWS from 'uWebSockets.js';
import { Catalog, type ListedMarket } from './actors/catalog.ts';
import { Ledger } from './actors/ledger/index.ts';
import type { JournalBatch } from './actors/market/types.ts';
import { Supervisor } from './actors/supervisor.ts';
import type { Config } from './config.ts';
import { MarketDataPublisher } from './marketdata/publisher.ts';
import { insertAsset, insertMarket, loadCatalog } from './persistence/catalogStore.ts';
import { JournalWriter } from './persistence/journalWriter.ts';
import { migrate } from './persistence/migrate.ts';
import { createDatabasePool } from './persistence/pool.ts';
import { tradeCounts } from './persistence/history.ts';
import { Projector } from './persistence/projector.ts';
import { recover } from './persistence/recovery.ts';
import { scheduleSnapshots, takeSnapshot } from './persistence/snapshots.ts';
import { Admin } from './transport/admin.ts';
import { Authenticator, type Principal } from './transport/auth.ts';
import { failure } from './transport/errors.ts';
import { registerWebSocket, type Publication } from './transport/gateway.ts';
import { registerHttp } from './transport/http.ts';
import { OrderEntry, wireOrderId } from './transport/orderEntry.ts';
import { RateLimiter } from './transport/rateLimit.ts';
import { UserOrders } from './transport/userOrders.ts';

/*
 * The composition root: builds the exchange from its parts and wires the sinks (DESIGN.md): the
 * journal writer under the supervisor, publication after commit, persistence handed to the actors
 * and the transport as functions. `npm start` (src/main.ts) and the tests both start it this way,
 * on a real Postgres and real sockets.
 */

export interface Exchange {
  /** The port the gateway listens on (PORT, or the one the OS chose for PORT=0). */
  readonly port: number;
  readonly catalog: Catalog;
  readonly supervisor: Supervisor;
  readonly ledger: Ledger;
  readonly admin: Admin;
  readonly auth: Authenticator;
  /** Stops accepting connections, drains, snapshots, lets the projections catch up, closes. */
  close(): Promise<void>;
}

export async function startExchange(config: Config, log: Logger): Promise<Exchange> {
  const databaseUrl = config.DATABASE_URL;
  if (databaseUrl === undefined) throw new Error('DATABASE_URL is required (npm start provides one)');
  const applied = await migrate(databaseUrl);
  log.info({ applied }, applied.length === 0 ? 'database schema up to date' : 'migrations applied');
  const pool = await createDatabasePool(databaseUrl);
  const writer = await JournalWriter.open(pool);

  let publish: (publications: readonly Publication[]) => void = () => undefined;
  const publisher = new MarketDataPublisher({
    onOrderClosed: (userId, marketId, orderId) => {
      userOrders.closed(userId, wireOrderId(marketId, orderId));
    },
  });
  const ledger = new Ledger();
  const supervisor = new Supervisor({
    ledger,
    sink: writer,
    mailboxSize: config.MAILBOX_SIZE,
    publish: (batch: JournalBatch) => {
      publish(publisher.publish(batch));
    },
  });
  const catalog = new Catalog();
  const stored = await loadCatalog(pool);
  for (const asset of stored.assets) {
    catalog.addAsset(asset);
    ledger.defineAsset(asset.symbol, asset.decimals);
  }
  for (const definition of stored.markets) {
    const listed = catalog.addMarket(definition);
    supervisor.addMarket(definition, {
      baseDecimals: listed.baseDecimals,
      quoteDecimals: listed.quoteDecimals,
    });
  }
  const recovered = await recover(pool, { ledger, supervisor });
  log.info({ ...recovered, markets: stored.markets.length }, 'recovered from the journal');

  // The projections catch up before the gateway opens: trade seqs continue from them.
  const projector = new Projector(pool, {
    onError: (error) => {
      log.warn({ err: error }, 'projection round failed');
    },
  });
  while ((await projector.runOnce()) > 0);
  const trades = await tradeCounts(pool);

  const userOrders = new UserOrders(config.MAX_OPEN_ORDERS_PER_USER);
  const follow = (listed: ListedMarket) => {
    const actor = supervisor.actor(listed.definition.symbol)!;
    publisher.addMarket(listed, actor, { tradeSeq: trades.get(listed.definition.id) ?? 0, ts: Date.now() });
    const { resting, stops } = actor.orderBook.openOrders();
    for (const order of [...resting, ...stops]) {
      userOrders.add(order.userId, wireOrderId(listed.definition.id, order.orderId), order.clientOrderId);
    }
  };
  for (const listed of catalog.listMarkets()) follow(listed);
  publisher.addLedger(ledger, (asset) => catalog.asset(asset)?.decimals);

  const snapshots = scheduleSnapshots(
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
  projector.start(50);

  const auth = new Authenticator(config.JWT_SECRET);
  const maxLag = config.PROJECTION_MAX_LAG_RECORDS;
  const orders = new OrderEntry({
    catalog,
    supervisor,
    userOrders,
    // History reads come from the projections: past the bound, new places wait for them.
    admission: () => {
      const lag = projector.lagRecords(writer.stats().lastGlobalSeq);
      return lag <= maxLag
        ? undefined
        : failure('overloaded', `projections trail the journal by ${lag} records; try again shortly`);
    },
    limiter: new RateLimiter(config.RATE_ORDERS_PER_S, config.RATE_ORDERS_BURST),
  });
  const admin = new Admin({
    catalog,
    supervisor,
    ledger,
    store: {
      insertAsset: (asset) => insertAsset(pool, asset),
      insertMarket: (market) => insertMarket(pool, market),
    },
    onMarketAdded: follow,
  });

  const app = uWS.App();
  const ws = registerWebSocket(app, {
    auth,
    orders,
    catalog,
    marketData: publisher,
    limits: {
      maxFrameBytes: config.WS_MAX_FRAME_BYTES,
      maxBackpressureBytes: config.WS_MAX_BACKPRESSURE_BYTES,
      idleTimeoutSeconds: config.WS_IDLE_TIMEOUT_S,
      maxSubscriptions: config.WS_MAX_SUBSCRIPTIONS,
    },
    log,
    cancelOnDisconnect: (principal: Principal, placed) => {
      for (const [orderId, market] of placed) {
        if (!userOrders.isOpen(principal.userId, orderId)) continue;
        orders.cancel(principal, { market, orderId }, (outcome) => {
          if (!outcome.ok && outcome.code !== 'not_found') {
            log.warn({ orderId, code: outcome.code }, 'cancel on disconnect failed');
          }
        });
      }
    },
  });
  publish = (publications) => {
    ws.publish(publications);
  };
  registerHttp(app, {
    auth,
    orders,
    admin,
    catalog,
    supervisor,
    ledger,
    marketData: publisher,
    pool,
    maxBodyBytes: config.HTTP_MAX_BODY_BYTES,
    connections: ws.connections,
    log,
  });

  const listenSocket = await new Promise<uWS.us_listen_socket>((resolve, reject) => {
    app.listen(config.HOST, config.PORT, (socket) => {
      if (socket === false) reject(new Error(`cannot listen on ${config.HOST}:${config.PORT}`));
      else resolve(socket);
    });
  });
  const port = uWS.us_socket_local_port(listenSocket);
  log.info({ host: config.HOST, port }, 'gateway listening');

  let closing: Promise<void> | undefined;
  return {
    port,
    catalog,
    supervisor,
    ledger,
    admin,
    auth,
    close: () => {
      closing ??= (async () => {
        uWS.us_listen_socket_close(listenSocket);
        app.close();
        await supervisor.idle();
        await snapshots.stop();
        log.info(await takeSnapshot(pool, { supervisor, writer }), 'snapshot taken at shutdown');
        await writer.close();
        await projector.stop();
        await projector.runOnce();
        await pool.end();
      })();
      return closing;
    },
  };
}

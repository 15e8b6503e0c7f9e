import { pino } from 'pino';
import { OrderBook } from './actors/book/orderBook.ts';
import { createMarketMoney } from './actors/money.ts';
import type { BookEvent, PlaceCommand } from './actors/book/types.ts';
import { loadConfig } from './config.ts';

/*
 * The exchange's entry point. Until the market actors, persistence and the gateway land (issues 4–6)
 * it runs the matching engine on a demo market: decimal strings in at the edge, integer ticks and
 * lots in the book, decimal strings out in the log.
 */
const config = loadConfig();
const log = pino({ level: config.LOG_LEVEL, base: { svc: 'exchange' } });

const market = 'LUXAPT-USDC';
const money = createMarketMoney({
  priceDecimals: 2,
  qtyDecimals: 3,
  tickSize: '0.05',
  lotSize: '0.001',
  minQty: '0.001',
  maxQty: '1000.000',
  baseDecimals: 18,
  quoteDecimals: 6,
});
const book = new OrderBook({ maxOrders: 100_000, maxQty: money.maxLots });

interface DemoOrder {
  user: string;
  side: 'buy' | 'sell';
  type: PlaceCommand['type'];
  qty: string;
  price?: string;
  stopPrice?: string;
}

const demo: DemoOrder[] = [
  { user: 'maker-1', side: 'sell', type: 'limit', qty: '2.500', price: '1000.50' },
  { user: 'maker-1', side: 'sell', type: 'limit', qty: '1.000', price: '1001.00' },
  { user: 'maker-2', side: 'buy', type: 'limit', qty: '3.000', price: '999.95' },
  { user: 'stopper', side: 'buy', type: 'stop_market', qty: '0.500', stopPrice: '1000.50' },
  { user: 'taker-1', side: 'buy', type: 'limit', qty: '2.750', price: '1001.00' },
  { user: 'taker-2', side: 'sell', type: 'market', qty: '1.000' },
  { user: 'taker-3', side: 'buy', type: 'limit', qty: '1.000', price: '1000.03' },
];

let orderId = 0;
for (const order of demo) {
  const qty = money.parseQty(order.qty);
  const price = order.price === undefined ? undefined : money.parsePrice(order.price);
  const stopPrice =
    order.stopPrice === undefined ? undefined : money.parsePrice(order.stopPrice, 'stopPrice');
  const failures = [qty, price, stopPrice].flatMap((r) => (r === undefined || r.ok ? [] : [r]));
  if (failures[0] !== undefined) {
    const { code, reason, message } = failures[0];
    log.warn({ market, order, code, reason }, message);
    continue;
  }
  const events = book.place({
    kind: 'place',
    orderId: ++orderId,
    userId: order.user,
    side: order.side,
    type: order.type,
    qty: qty.ok ? qty.value : 0,
    price: price?.ok ? price.value : undefined,
    stopPrice: stopPrice?.ok ? stopPrice.value : undefined,
    tif: 'GTC',
    postOnly: false,
    stp: 'cancel_taker',
  });
  for (const event of events) log.info({ market, ...present(event) }, event.type);
}

const levels = (side: 'buy' | 'sell') =>
  book.depth(side, 10).map(([price, qty]) => [money.formatPrice(price), money.formatQty(qty)]);
log.info(
  {
    market,
    bids: levels('buy'),
    asks: levels('sell'),
    last: book.lastPrice === null ? null : money.formatPrice(book.lastPrice),
  },
  'book',
);
log.info('engine demo done; the gateway, persistence and chain arrive with the next issues');

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

/**
 * The process the crash test kills (scripts/crash/harness.ts): the real exchange (src/app.ts's
 * startExchange: migrations, recovery from snapshot + journal, the projector caught up, periodic
 * snapshots, the HTTP and WebSocket gateway on an OS-chosen port). On the first start it lists the
 * crash markets and credits the users (whatever part of that a previous life committed is not
 * repeated); then, unless CRASH_LOAD=off, it drives sustained seeded random load from the users on
 * both markets with many commands in flight, from the moment a line `go` arrives on stdin until
 * it is killed (by the checker, or by itself at a snapshot when armed to). It never exits otherwise.
 *
 *   DATABASE_URL=... CRASH_SEED=42 node --import tsx scripts/crash-child.ts
 *
 * Env: CRASH_USERS (how many), CRASH_SNAPSHOT_MS (snapshot interval), CRASH_PROJECTOR_MS (the
 * projector's tick: large keeps history behind the journal), JWT_SECRET (the checker mints tokens).
 *
 * stdout: one JSON line per event (scripts/crash/exchange.ts ChildLine): `ready` once the gateway
 * listens, `snapshot` when a periodic snapshot starts and when it committed, one `ack` per
 * acknowledged (ok) command, written only after its reply arrived, i.e. after its batch committed.
 */
import { pino } from 'pino';
import { sql } from 'slonik';
import { z } from 'zod';
import type { LifecycleEventType } from '../machines/marketLifecycle.ts';
import { LEDGER_JOURNAL_ID, type CommandResult, type MarketCommand } from '../src/actors/market/types.ts';
import { startExchange } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { decodeBatch } from '../src/persistence/journalCodec.ts';
import { createDatabasePool } from '../src/persistence/pool.ts';
import { lifecycleEvent, PATH_TO } from '../test/support/markets.ts';
import {
  CRASH_ASSETS,
  CRASH_CREDITS,
  CRASH_MARKETS,
  crashUsers,
  random,
  type AckedEvent,
  type ChildLine,
} from './crash/exchange.ts';
import { helpOnly } from './lib/cli.ts';

helpOnly(
  'crash-child',
  `usage: DATABASE_URL=... CRASH_SEED=42 node --import tsx scripts/crash-child.ts

The process npm run crash-test kills: boots on the durable path, then drives seeded load until it
is killed. stdout: one "ready" JSON line, then one "ack" line per acknowledged command.`,
);

const env = z
  .object({
    DATABASE_URL: z.string().min(1),
    CRASH_SEED: z.coerce.number().int().default(1),
    CRASH_USERS: z.coerce.number().int().min(1).default(6),
    CRASH_LOAD: z.enum(['on', 'off']).default('on'),
    CRASH_SNAPSHOT_MS: z.coerce.number().int().positive().default(60_000),
    CRASH_PROJECTOR_MS: z.coerce.number().int().positive().default(50),
    JWT_SECRET: z.string().min(16),
  })
  .parse(process.env);

/** Commands sent and not yet answered, across both markets. */
const IN_FLIGHT = 256;

// Output: lines of one turn go out in one write, after the replies they report arrived.
let out: string[] = [];
const flush = () => {
  const lines = out;
  out = [];
  process.stdout.write(lines.join(''));
};
const print = (line: ChildLine) => {
  if (out.length === 0) queueMicrotask(flush);
  out.push(`${JSON.stringify(line)}\n`);
};

const config = loadConfig({
  NODE_ENV: 'test',
  LOG_LEVEL: 'silent',
  HOST: '127.0.0.1',
  PORT: '0',
  DATABASE_URL: env.DATABASE_URL,
  JWT_SECRET: env.JWT_SECRET,
  SNAPSHOT_INTERVAL_MS: String(env.CRASH_SNAPSHOT_MS),
  PROJECTION_INTERVAL_MS: String(env.CRASH_PROJECTOR_MS),
  // The load goes to the supervisor directly; HTTP reads of the checker must not be refused.
  HISTORY_WAIT_MS: '10000',
});
/**
 * Armed by the checker (`kill-in-snapshot` or `kill-after-snapshot` on stdin): the next periodic
 * snapshot kills this process with SIGKILL, a random 0–3 ms after it began (its state being taken
 * or written) or at once when it committed. Done here because the checker, busy reading
 * acknowledgements, would see the moment too late.
 */
let armed: 'kill-in-snapshot' | 'kill-after-snapshot' | undefined;
const die = () => process.kill(process.pid, 'SIGKILL');
const exchange = await startExchange(config, pino({ level: 'silent' }), {
  snapshotStarting: () => {
    print({ type: 'snapshot', phase: 'start' });
    if (armed === 'kill-in-snapshot') {
      flush();
      // 0: as soon as the snapshot's first statement is on its way; else 1–3 ms into it.
      const ms = Math.floor(Math.random() * 4);
      if (ms === 0) setImmediate(die);
      else setTimeout(die, ms);
    }
  },
  snapshotTaken: (result) => {
    print({ type: 'snapshot', phase: 'done', globalSeq: result.globalSeq });
    if (armed === 'kill-after-snapshot') {
      flush();
      die();
    }
  },
});
const { admin, catalog, supervisor } = exchange;
let clock = Date.now();

// Listing: what a previous life did not finish (assets, markets, the path to `active`).
const actor = { id: 'crash-test', type: 'system' } as const;
for (const asset of CRASH_ASSETS) {
  if (catalog.asset(asset.symbol) !== undefined) continue;
  const created = await admin.createAsset(asset);
  if (!created.ok) throw new Error(`asset ${asset.symbol}: ${created.message}`);
}
for (const market of CRASH_MARKETS) {
  if (catalog.market(market.symbol) !== undefined) continue;
  const listed = await admin.listMarket(market, actor);
  if (!listed.ok) throw new Error(`market ${market.symbol}: ${listed.message}`);
}
for (const { symbol } of CRASH_MARKETS) {
  const market = supervisor.actor(symbol)!;
  const done = PATH_TO[market.state];
  const path: readonly LifecycleEventType[] = PATH_TO.active;
  if (done.some((type, i) => path[i] !== type)) {
    throw new Error(`${symbol} is ${market.state}, not on the way to active`);
  }
  for (const type of path.slice(done.length)) {
    const result = await supervisor.submit(
      symbol,
      { kind: 'lifecycle', event: lifecycleEvent(type, clock) },
      clock++,
    );
    if (!result.ok) throw new Error(`${symbol}: ${type} refused: ${result.message}`);
  }
}

// Credits: each user and asset once, skipping those a previous life journaled.
const users = crashUsers(env.CRASH_USERS);
const pool = await createDatabasePool(env.DATABASE_URL);
const Row = z.object({ record: z.instanceof(Buffer) });
const credited = new Set<string>();
for (const row of await pool.any(
  sql.type(Row)`SELECT record FROM journal WHERE market_id = ${LEDGER_JOURNAL_ID} ORDER BY global_seq`,
)) {
  for (const { command } of decodeBatch(row.record).entries) {
    if (command.kind === 'deposit') credited.add(`${command.userId}/${command.asset}`);
  }
}
await pool.end();
const credits: Promise<unknown>[] = [];
for (const user of users) {
  for (const [asset, amount] of Object.entries(CRASH_CREDITS)) {
    if (credited.has(`${user}/${asset}`)) continue;
    credits.push(
      admin.credit(user, asset, amount).then((result) => {
        if (!result.ok) throw new Error(`credit refused: ${result.message}`);
      }),
    );
  }
}
await Promise.all(credits);

print({
  type: 'ready',
  port: exchange.port,
  recoveredRecords: exchange.recovered.records,
  snapshotGlobalSeq: exchange.recovered.snapshotGlobalSeq,
  markets: CRASH_MARKETS.map(({ symbol }) => {
    const listed = catalog.market(symbol)!;
    const { qtyDecimals, lotSize } = listed.definition.money;
    return { id: listed.definition.id, symbol, qtyDecimals, lotSize };
  }),
});

// Load: every answer sends the next command, so IN_FLIGHT commands are always outstanding.
const rand = random(env.CRASH_SEED);
const int = (min: number, max: number) => min + Math.floor(rand() * (max - min + 1));
const pick = <T>(items: readonly T[]): T => items[Math.floor(rand() * items.length)]!;
const MID: Readonly<Record<string, number>> = { 'BTC-USDC': 100_00, 'ETH-USDC': 40_000 };
const STPS = ['cancel_taker', 'cancel_maker', 'cancel_both'] as const;

/** Open orders per market (order id → user), from the recovered books and the acks since. */
const open = new Map<string, Map<number, string>>();
for (const { symbol } of CRASH_MARKETS) {
  const { resting } = supervisor.actor(symbol)!.orderBook.openOrders();
  open.set(symbol, new Map(resting.map((o) => [o.orderId, o.userId])));
}

function nextCommand(symbol: string): MarketCommand {
  const user = pick(users);
  const side = rand() < 0.5 ? 'buy' : 'sell';
  const mid = MID[symbol]!;
  const roll = rand();
  const mine = [...open.get(symbol)!].filter(([, owner]) => owner === user);
  if (roll < 0.3 && mine.length > 0) {
    return { kind: 'cancel', userId: user, orderId: pick(mine)[0] };
  }
  if (roll < 0.32) return { kind: 'cancel_all', userId: user };
  if (roll < 0.42) {
    const budget = side === 'buy' && rand() < 0.5 ? { quoteBudget: mid * int(1, 30) } : {};
    return {
      kind: 'place',
      userId: user,
      side,
      type: 'market',
      qty: int(1, 30),
      tif: 'IOC',
      postOnly: false,
      stp: pick(STPS),
      ...budget,
    };
  }
  // Limits: buys mostly below the mid and sells above (they rest), some across it (they trade).
  const price = side === 'buy' ? mid + int(-10, 3) : mid + int(-3, 10);
  const tif = rand() < 0.1 ? 'IOC' : 'GTC';
  return {
    kind: 'place',
    userId: user,
    side,
    type: 'limit',
    price,
    qty: int(1, 40),
    tif,
    postOnly: tif === 'GTC' && rand() < 0.1,
    stp: pick(STPS),
  };
}

function sendOne(): void {
  const { symbol } = pick(CRASH_MARKETS);
  const command = nextCommand(symbol);
  supervisor.send(symbol, command, clock++, (result) => {
    if (result.ok) acked(symbol, command, result);
    setImmediate(sendOne);
  });
}

function acked(symbol: string, command: MarketCommand, result: Extract<CommandResult, { ok: true }>): void {
  const orders = open.get(symbol)!;
  const events: AckedEvent[] = [];
  for (const event of result.events) {
    if (event.type === 'level') continue;
    events.push(event);
    if (event.type === 'rested' && command.kind === 'place') orders.set(event.orderId, command.userId);
    else if (event.type === 'canceled') orders.delete(event.orderId);
    else if (event.type === 'fill' && event.makerRemaining === 0) orders.delete(event.makerOrderId);
  }
  print({
    type: 'ack',
    market: symbol,
    seq: result.seq,
    orderId: result.orderId ?? null,
    kind: command.kind,
    events,
  });
}

// Orders from the checker on stdin: `go` starts the load (after its look-ups of the restarted
// state), `kill-in-snapshot` and `kill-after-snapshot` arm the next snapshot.
process.stdin.setEncoding('utf8');
let said = '';
process.stdin.on('data', (chunk: string) => {
  said += chunk;
  const lines = said.split('\n');
  said = lines.pop()!;
  for (const line of lines) {
    if (line === 'go' && env.CRASH_LOAD === 'on') for (let i = 0; i < IN_FLIGHT; i++) sendOne();
    else if (line === 'kill-in-snapshot' || line === 'kill-after-snapshot') armed = line;
  }
});

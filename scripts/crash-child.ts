/**
 * The process the crash test kills (scripts/crash/harness.ts). Boots like src/main.ts on the
 * durable path — migrations, pool, JournalWriter, Supervisor with two markets, recovery from the
 * journal — finishes the listing and the credits of a first start (whatever part of them a
 * previous life committed is not repeated), then drives sustained seeded random load from several
 * users on both markets with many commands in flight, until it is killed. It never exits by itself.
 *
 *   DATABASE_URL=... CRASH_SEED=42 node --import tsx scripts/crash-child.ts
 *
 * stdout: one JSON line `{"type":"ready",...}` once booted, then one `{"type":"ack",...}` line per
 * acknowledged (ok) command, written only after its reply arrived, i.e. after its batch committed.
 */
import { sql } from 'slonik';
import { z } from 'zod';
import type { LifecycleEventType } from '../machines/marketLifecycle.ts';
import { LEDGER_JOURNAL_ID, type CommandResult, type MarketCommand } from '../src/actors/market/types.ts';
import { decodeBatch } from '../src/persistence/journalCodec.ts';
import { JournalWriter } from '../src/persistence/journalWriter.ts';
import { migrate } from '../src/persistence/migrate.ts';
import { createDatabasePool } from '../src/persistence/pool.ts';
import { recover } from '../src/persistence/recovery.ts';
import { lifecycleEvent, PATH_TO } from '../test/support/markets.ts';
import {
  buildExchange,
  CRASH_CREDITS,
  CRASH_MARKETS,
  CRASH_USERS,
  random,
  type AckLine,
  type ReadyLine,
} from './crash/exchange.ts';
import { helpOnly } from './lib/cli.ts';

helpOnly(
  'crash-child',
  `usage: DATABASE_URL=... CRASH_SEED=42 node --import tsx scripts/crash-child.ts

The process npm run crash-test kills: boots on the durable path, then drives seeded load until it
is killed. stdout: one "ready" JSON line, then one "ack" line per acknowledged command.`,
);

const env = z
  .object({ DATABASE_URL: z.string().min(1), CRASH_SEED: z.coerce.number().int().default(1) })
  .parse(process.env);

/** Commands sent and not yet answered, across both markets. */
const IN_FLIGHT = 256;

await migrate(env.DATABASE_URL);
const pool = await createDatabasePool(env.DATABASE_URL);
const writer = await JournalWriter.open(pool);
const { ledger, supervisor } = buildExchange(writer);
const recovered = await recover(pool, { ledger, supervisor });
let clock = Date.now();

// Listing: the rest of the path to `active` (a previous life may have committed part of it).
for (const definition of CRASH_MARKETS) {
  const actor = supervisor.actor(definition.symbol)!;
  const done = PATH_TO[actor.state];
  const path: readonly LifecycleEventType[] = PATH_TO.active;
  if (done.some((type, i) => path[i] !== type)) {
    throw new Error(`${definition.symbol} is ${actor.state}, not on the way to active`);
  }
  for (const type of path.slice(done.length)) {
    const result = await supervisor.submit(
      definition.symbol,
      { kind: 'lifecycle', event: lifecycleEvent(type, clock) },
      clock++,
    );
    if (!result.ok) throw new Error(`${definition.symbol}: ${type} refused: ${result.message}`);
  }
}

// Credits: each user and asset once, skipping those a previous life journaled.
const Row = z.object({ record: z.instanceof(Buffer) });
const credited = new Set<string>();
for (const row of await pool.any(
  sql.type(Row)`SELECT record FROM journal WHERE market_id = ${LEDGER_JOURNAL_ID} ORDER BY global_seq`,
)) {
  for (const { command } of decodeBatch(row.record).entries) {
    if (command.kind === 'deposit') credited.add(`${command.userId}/${command.asset}`);
  }
}
const credits: Promise<CommandResult>[] = [];
for (const user of CRASH_USERS) {
  for (const [asset, amount] of Object.entries(CRASH_CREDITS)) {
    if (!credited.has(`${user}/${asset}`)) credits.push(supervisor.credit(user, asset, amount, clock++));
  }
}
for (const result of await Promise.all(credits)) {
  if (!result.ok) throw new Error(`credit refused: ${result.message}`);
}

// Output: lines of one turn of replies go out in one write, after those replies arrived.
let out: string[] = [];
const flush = () => {
  const lines = out;
  out = [];
  process.stdout.write(lines.join(''));
};
const print = (line: ReadyLine | AckLine) => {
  if (out.length === 0) queueMicrotask(flush);
  out.push(`${JSON.stringify(line)}\n`);
};
print({ type: 'ready', recoveredEntries: recovered.entries });

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
  const user = pick(CRASH_USERS);
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
  const fills: AckLine['fills'][number][] = [];
  for (const event of result.events) {
    if (event.type === 'rested' && command.kind === 'place') orders.set(event.orderId, command.userId);
    else if (event.type === 'canceled') orders.delete(event.orderId);
    else if (event.type === 'fill') {
      fills.push({
        maker: event.makerOrderId,
        taker: event.takerOrderId,
        qty: event.qty,
        price: event.price,
      });
      if (event.makerRemaining === 0) orders.delete(event.makerOrderId);
    }
  }
  print({
    type: 'ack',
    market: symbol,
    seq: result.seq,
    orderId: result.orderId ?? null,
    kind: command.kind,
    events: result.events.map((e) => e.type),
    fills,
  });
}

for (let i = 0; i < IN_FLIGHT; i++) sendOne();

/**
 * Actor-path benchmark: `npm run bench:actors` (node --expose-gc --import tsx bench/actors.ts).
 *
 * Orders go supervisor.send → mailbox → lifecycle gate → book → ledger (locks, settlement, fees) →
 * sink (in memory, commit does nothing) → reply, and are compared with the bare engine
 * (OrderBook.execute) on the same stream, in the same process. Progress on stderr; the last stdout
 * line is one JSON object with the results. See bench/RESULTS.md.
 */
import { cpus, loadavg } from 'node:os';
import { Ledger } from '../src/actors/ledger/index.ts';
import type { LifecycleEvent } from '../machines/marketLifecycle.ts';
import type { CommandResult, MarketCommand } from '../src/actors/market/types.ts';
import { Supervisor, type ActorInspection } from '../src/actors/supervisor.ts';
import type { OrderBook } from '../src/actors/book/orderBook.ts';
import { actorCommands, BENCH_QUOTE, benchMarket, type ActorCommands } from './lib/actorStream.ts';
import { profiled } from './lib/cpuProfile.ts';
import { fullGc, measure, median, progress, round, type Rate } from './lib/stats.ts';
import { mixedStream, prefilledBook, users, type BookShape, type Stream } from './lib/stream.ts';
import { parseCommandLine } from '../scripts/lib/cli.ts';

parseCommandLine({
  name: 'npm run bench:actors --',
  usage: `usage: npm run bench:actors

The actor path (supervisor → mailbox → book → ledger → in-memory sink → reply) against the bare
engine on the same seeded stream, in one process. Progress on stderr; the last stdout line is one
JSON object (bench/RESULTS.md). No options.`,
  options: {},
});

const SEED = 20240611;
const ROUNDS = 7;
const MULTI_ROUNDS = 3;
const TARGET_ORDERS_PER_S = 500_000;
/** The Supervisor's defaults, stated here so the report names them. */
const MAILBOX_SIZE = 10_000;
const BATCH_SIZE = 512;
/** Commands in flight per market (sent, not yet replied): never more than the mailbox holds. */
const WINDOW = MAILBOX_SIZE;
/** The engine benchmark's headline shape (mixed/deep): half the passive orders on the 10 nearest ticks. */
const DEEP: BookShape = { deepPercent: 50, deepTicks: 10, wideTicks: 290 };
const USERS = 1000;
/** Headline: one market, the engine benchmark's mixed/deep stream (same seed, same size). */
const SINGLE = { markets: 1, prefill: 20_000, ops: 50_000 };
/** Informative: several markets on one supervisor and ledger, each with its own stream. */
const MULTI = { markets: 4, prefill: 5_000, ops: 25_000 };
/** Generous: no order ever runs out (1e9 USDC and 1e7 of each base per user), yet every lock is real. */
const QUOTE_DEPOSIT = 10n ** 15n;
const BASE_DEPOSIT = 10n ** 15n;
const QUOTE = BENCH_QUOTE;
const QUOTE_DECIMALS = 6;
const BASE_DECIMALS = 8;
const TS = 1_700_000_000_000;
const ADMIN = { id: 'bench-admin', type: 'admin' } as const;

let checksum = 0;
const loadBefore = loadavg();

interface MarketPlan {
  readonly symbol: string;
  readonly baseAsset: string;
  readonly stream: Stream;
  readonly commands: ActorCommands;
}

function plans(markets: number, prefill: number, ops: number, seed: number): MarketPlan[] {
  return Array.from({ length: markets }, (_, m) => {
    const baseAsset = `RWA${m}`;
    const stream = mixedStream({ seed: seed + m, shape: DEEP, users: USERS, prefill, ops });
    return { symbol: `${baseAsset}-${QUOTE}`, baseAsset, stream, commands: actorCommands(stream) };
  });
}

interface Tally {
  events: number;
  failures: number;
  mismatches: number;
  firstProblem: string | undefined;
}

/**
 * Sends every market's commands through the supervisor, keeping at most WINDOW in flight per market
 * (so the mailbox never refuses), refilling whenever a batch of replies comes back. Each reply is
 * checked: ok, and the orderId the stream expects. Resolves once every command is answered.
 */
async function feed(
  sup: Supervisor,
  lanes: readonly { symbol: string; commands: readonly MarketCommand[]; ids: Int32Array }[],
  tally: Tally,
): Promise<void> {
  let wake: (() => void) | undefined;
  const state = lanes.map((lane) => {
    const s = { sent: 0, replied: 0 };
    const reply = (result: CommandResult): void => {
      const i = s.replied++;
      if (result.ok) {
        tally.events += result.events.length;
        if (result.orderId !== lane.ids[i]) {
          tally.mismatches++;
          tally.firstProblem ??= `${lane.symbol} command ${i}: orderId ${result.orderId} != ${lane.ids[i]}`;
        }
      } else {
        tally.failures++;
        tally.firstProblem ??= `${lane.symbol} command ${i}: ${result.code}: ${result.message}`;
      }
      if (wake !== undefined) {
        const w = wake;
        wake = undefined;
        w();
      }
    };
    return Object.assign(s, { reply });
  });
  for (;;) {
    let pending = false;
    for (let m = 0; m < lanes.length; m++) {
      const lane = lanes[m]!;
      const s = state[m]!;
      const limit = Math.min(lane.commands.length, s.replied + WINDOW);
      while (s.sent < limit) sup.send(lane.symbol, lane.commands[s.sent++]!, TS, s.reply);
      if (s.replied < lane.commands.length) pending = true;
    }
    if (!pending) return;
    await new Promise<void>((resolve) => (wake = resolve));
  }
}

interface ActorRun {
  readonly rate: Rate;
  readonly batches: number;
  readonly commandsInBatches: number;
  readonly maxMailboxDepth: number;
  readonly tally: Tally;
  readonly ledger: Ledger;
  readonly sup: Supervisor;
}

/**
 * A fresh ledger and supervisor; markets driven to `active` through lifecycle events; deposits; the
 * prefill sent through the actors (untimed); then the timed ops, from the first send to the last reply.
 */
async function runActors(markets: readonly MarketPlan[]): Promise<ActorRun> {
  const ledger = new Ledger();
  ledger.defineAsset(QUOTE, QUOTE_DECIMALS);
  let timing = false;
  let batches = 0;
  let commandsInBatches = 0;
  let maxMailboxDepth = 0;
  const inspect = (e: ActorInspection): void => {
    if (e.type === 'market.batch' && timing) {
      batches++;
      commandsInBatches += e.batchSize;
      if (e.mailboxDepth > maxMailboxDepth) maxMailboxDepth = e.mailboxDepth;
    } else if (e.type === 'market.fault') {
      throw new Error(`unexpected fault: ${e.message}`);
    }
  };
  const sup = new Supervisor({
    ledger,
    sink: { commit: () => undefined },
    mailboxSize: MAILBOX_SIZE,
    batchSize: BATCH_SIZE,
    inspect,
  });
  for (const [m, plan] of markets.entries()) {
    ledger.defineAsset(plan.baseAsset, BASE_DECIMALS);
    sup.addMarket(benchMarket(m, plan.baseAsset), {
      baseDecimals: BASE_DECIMALS,
      quoteDecimals: QUOTE_DECIMALS,
    });
    const events: LifecycleEvent[] = [
      { type: 'lifecycle.submit', actor: ADMIN, ts: TS },
      { type: 'lifecycle.approve', actor: ADMIN, ts: TS },
      { type: 'lifecycle.activate', actor: ADMIN, ts: TS },
      { type: 'lifecycle.deployed', actor: ADMIN, ts: TS, contractAddress: '0xbench', txHash: '0xbench' },
    ];
    for (const event of events) {
      const result = await sup.submit(plan.symbol, { kind: 'lifecycle', event }, TS);
      if (!result.ok) throw new Error(`${plan.symbol} ${event.type}: ${result.message}`);
    }
    if (sup.actor(plan.symbol)?.state !== 'active') throw new Error(`${plan.symbol} is not active`);
  }
  for (const user of users(USERS)) {
    ledger.deposit(user, QUOTE, QUOTE_DEPOSIT);
    for (const plan of markets) ledger.deposit(user, plan.baseAsset, BASE_DEPOSIT);
  }
  const tally: Tally = { events: 0, failures: 0, mismatches: 0, firstProblem: undefined };
  const lane = (plan: MarketPlan, prefill: boolean) => ({
    symbol: plan.symbol,
    commands: prefill ? plan.commands.prefill : plan.commands.ops,
    ids: prefill ? plan.commands.prefillIds : plan.commands.opsIds,
  });
  await feed(
    sup,
    markets.map((p) => lane(p, true)),
    tally,
  );
  tally.events = 0;
  const ops = markets.reduce((n, p) => n + p.commands.ops.length, 0);
  const opsLanes = markets.map((p) => lane(p, false));
  fullGc();
  timing = true;
  const cpu0 = process.cpuUsage();
  const start = process.hrtime.bigint();
  await feed(sup, opsLanes, tally);
  const ns = Number(process.hrtime.bigint() - start);
  const cpu = process.cpuUsage(cpu0);
  timing = false;
  await sup.idle();
  checksum += tally.events;
  const rate = { wall: (ops * 1e9) / ns, cpu: (ops * 1e6) / (cpu.user + cpu.system) };
  return { rate, batches, commandsInBatches, maxMailboxDepth, tally, ledger, sup };
}

function runEngine(books: readonly OrderBook[], markets: readonly MarketPlan[]): number {
  let n = 0;
  for (let m = 0; m < markets.length; m++) {
    const book = books[m]!;
    for (const cmd of markets[m]!.stream.ops) n += book.execute(cmd).length;
  }
  return n;
}

const engineBooks = (markets: readonly MarketPlan[]): OrderBook[] =>
  markets.map((p) => prefilledBook(p.stream));

/**
 * The checks that make the comparison like for like: every command answered ok with the expected
 * orderId, each actor's book equal to the engine's level by level, the ledger's invariants hold and
 * what is locked equals what the open orders need (so locks and settlement really happened).
 */
function verify(run: ActorRun, markets: readonly MarketPlan[], books: readonly OrderBook[]): string[] {
  const problems: string[] = [];
  if (run.tally.failures + run.tally.mismatches > 0) {
    problems.push(
      `${run.tally.failures} refused, ${run.tally.mismatches} wrong orderId; first: ${run.tally.firstProblem}`,
    );
  }
  let quoteNeed = 0n;
  for (const [m, plan] of markets.entries()) {
    const actor = run.sup.actor(plan.symbol)!;
    const ours = actor.orderBook;
    const book = books[m]!;
    for (const side of ['buy', 'sell'] as const) {
      if (JSON.stringify(ours.depth(side, 0)) !== JSON.stringify(book.depth(side, 0)))
        problems.push(`${plan.symbol}: ${side} depth differs from the engine's`);
    }
    let baseNeed = 0n;
    for (const o of ours.openOrders().resting) {
      // One tick × lot is one quote minor unit; a lot is 10^4 base minor units; a buy locks price × qty.
      const notional = BigInt(o.price ?? 0) * BigInt(o.remaining);
      if (o.side === 'buy') quoteNeed += notional;
      else baseNeed += BigInt(o.remaining) * 10_000n;
    }
    let baseLocked = 0n;
    for (const user of users(USERS)) baseLocked += run.ledger.balance(user, plan.baseAsset).locked;
    if (baseLocked !== baseNeed)
      problems.push(`${plan.symbol}: ${baseLocked} base locked, open sells need ${baseNeed}`);
  }
  let quoteLocked = 0n;
  for (const user of users(USERS)) quoteLocked += run.ledger.balance(user, QUOTE).locked;
  if (quoteLocked !== quoteNeed) problems.push(`${quoteLocked} ${QUOTE} locked, open buys need ${quoteNeed}`);
  problems.push(...run.ledger.checkInvariants());
  const fees = run.ledger.balancesOf('@fees');
  if (fees.length === 0) problems.push('no fees collected: did any trade settle?');
  return problems;
}

const fmt = (rate: Rate): string => `${round(rate.wall)} orders/s (${round(rate.cpu)} per CPU-s)`;
const wall = (rates: readonly Rate[]): number => median(rates.map((r) => r.wall));
const cpu = (rates: readonly Rate[]): number => median(rates.map((r) => r.cpu));

interface Phase {
  readonly markets: readonly MarketPlan[];
  readonly actor: Rate[];
  readonly engine: Rate[];
  readonly meanBatch: number;
  readonly maxMailboxDepth: number;
  readonly problems: string[];
  readonly eventsPerOp: number;
}

async function phase(label: string, markets: readonly MarketPlan[], rounds: number): Promise<Phase> {
  const ops = markets.reduce((n, p) => n + p.stream.ops.length, 0);
  progress(`${label}: warm-up run of each, then verify the actor path against the engine`);
  const books = engineBooks(markets);
  checksum += runEngine(books, markets);
  const warm = await runActors(markets);
  const problems = verify(warm, markets, books);
  progress(
    `${label}: ${problems.length === 0 ? 'verified (ids, books, locks, ledger invariants)' : `PROBLEMS: ${problems.join('; ')}`}`,
  );
  const eventsPerOp = warm.tally.events / ops;
  for (let i = 0; i < 2; i++) checksum += runEngine(engineBooks(markets), markets);
  const actor: Rate[] = [];
  const engine: Rate[] = [];
  let batches = 0;
  let inBatches = 0;
  let maxMailboxDepth = 0;
  for (let r = 0; r < rounds; r++) {
    const timeActor = async (): Promise<void> => {
      const run = await runActors(markets);
      if (run.tally.failures + run.tally.mismatches > 0) throw new Error(run.tally.firstProblem);
      actor.push(run.rate);
      batches += run.batches;
      inBatches += run.commandsInBatches;
      maxMailboxDepth = Math.max(maxMailboxDepth, run.maxMailboxDepth);
    };
    const timeEngine = (): void => {
      const books = engineBooks(markets);
      engine.push(measure(ops, () => (checksum += runEngine(books, markets))));
    };
    if (r % 2 === 0) {
      await timeActor();
      timeEngine();
    } else {
      timeEngine();
      await timeActor();
    }
    progress(
      `${label} round ${r + 1}/${rounds} (${r % 2 === 0 ? 'actor first' : 'engine first'}): ` +
        `actor ${fmt(actor[r]!)}, engine ${fmt(engine[r]!)}, ratio ${round(engine[r]!.wall / actor[r]!.wall, 2)}`,
    );
  }
  return {
    markets,
    actor,
    engine,
    meanBatch: inBatches / batches,
    maxMailboxDepth,
    problems,
    eventsPerOp,
  };
}

progress(
  `single market: generating mixed/deep stream (prefill ${SINGLE.prefill}, ops ${SINGLE.ops}, seed ${SEED})`,
);
const single = await phase('single market', plans(SINGLE.markets, SINGLE.prefill, SINGLE.ops, SEED), ROUNDS);
progress(
  `multi market: generating ${MULTI.markets} streams (prefill ${MULTI.prefill}, ops ${MULTI.ops} each, seeds ${SEED + 100}..)`,
);
const multi = await phase(
  `${MULTI.markets} markets`,
  plans(MULTI.markets, MULTI.prefill, MULTI.ops, SEED + 100),
  MULTI_ROUNDS,
);

// cpu_profile_top (issue 21): one more single-market actor run under the CPU profiler (its
// stream generated before the profiler starts).
const profiledPlans = plans(SINGLE.markets, SINGLE.prefill, SINGLE.ops, SEED);
const { top: cpuProfileTop } = await profiled(() => runActors(profiledPlans));
const actorWall = wall(single.actor);
const engineWall = wall(single.engine);
const stream = single.markets[0]!.stream;
const result = {
  actor_orders_per_s: round(actorWall),
  cpu_profile_top: cpuProfileTop,
  engine_orders_per_s: round(engineWall),
  overhead_ratio: round(engineWall / actorWall, 2),
  actor_orders_per_cpu_s: round(cpu(single.actor)),
  engine_orders_per_cpu_s: round(cpu(single.engine)),
  overhead_ratio_cpu: round(cpu(single.engine) / cpu(single.actor), 2),
  /** Median of the per-round ratios (each round runs both back to back, so load shifts cancel out more). */
  overhead_ratio_per_round_median: round(
    median(single.engine.map((e, r) => e.wall / single.actor[r]!.wall)),
    2,
  ),
  target_orders_per_s: TARGET_ORDERS_PER_S,
  target_met: actorWall >= TARGET_ORDERS_PER_S,
  markets: SINGLE.markets,
  ops: stream.ops.length,
  prefill: stream.prefill.length,
  rounds: ROUNDS,
  batch_size: BATCH_SIZE,
  mailbox_size: MAILBOX_SIZE,
  in_flight_window: WINDOW,
  mean_batch: round(single.meanBatch, 1),
  max_mailbox_depth: single.maxMailboxDepth,
  actor_rounds: single.actor.map((r) => round(r.wall)),
  engine_rounds: single.engine.map((r) => round(r.wall)),
  mix: stream.mix,
  trading_ops_pct: stream.tradingOpsPercent,
  events_per_op: round(single.eventsPerOp, 2),
  verified: single.problems.length === 0 && multi.problems.length === 0,
  problems: [...single.problems, ...multi.problems],
  multi_markets: MULTI.markets,
  multi_ops: multi.markets.reduce((n, p) => n + p.stream.ops.length, 0),
  multi_rounds: MULTI_ROUNDS,
  multi_actor_orders_per_s: round(wall(multi.actor)),
  multi_engine_orders_per_s: round(wall(multi.engine)),
  multi_overhead_ratio: round(wall(multi.engine) / wall(multi.actor), 2),
  multi_actor_orders_per_cpu_s: round(cpu(multi.actor)),
  multi_mean_batch: round(multi.meanBatch, 1),
  seed: SEED,
  node: process.version,
  cpus: cpus().length,
  load_avg: { before: loadBefore.map((x) => round(x, 2)), after: loadavg().map((x) => round(x, 2)) },
  runtime_s: round(performance.now() / 1000),
  checksum,
};
progress('done');
process.stdout.write(`${JSON.stringify(result)}\n`);

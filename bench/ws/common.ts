import { readFileSync } from 'node:fs';
import {
  build,
  decodeFromCompressedBase64,
  encodeIntoCompressedBase64,
  type Histogram,
} from 'hdr-histogram-js';

/*
 * Shared by the WebSocket benchmark's processes (bench/ws.ts and the children in bench/ws/): the
 * market every process agrees on, the IPC messages, /proc readers and histogram transport.
 */

export const BASE = 'LUXAPT';
export const QUOTE = 'USDC';
export const MARKET = `${BASE}-${QUOTE}`;
/** The sub-flood round's deep book (same decimals as MARKET): flooded while MARKET trades. */
export const FLOOD_BASE = 'DEEPAPT';
export const FLOOD_MARKET = `${FLOOD_BASE}-${QUOTE}`;
/** Price and qty of the market, in ticks and lots (priceDecimals 2, tick 0.01; qtyDecimals 2, lot 0.01). */
export const PRICE_DECIMALS = 2;
export const QTY_DECIMALS = 2;
/** The mid price in ticks (100.00): resting buys sit below it, resting sells above it. */
export const MID_TICKS = 10_000;

export const ticks = (t: number): string => (t / 10 ** PRICE_DECIMALS).toFixed(PRICE_DECIMALS);
export const lots = (l: number): string => (l / 10 ** QTY_DECIMALS).toFixed(QTY_DECIMALS);

/** Milliseconds since the Unix epoch with sub-millisecond resolution, comparable across processes. */
export const epochMs = (): number => performance.timeOrigin + performance.now();

// ---------------------------------------------------------------- histograms (µs values)

export function histogram(): Histogram {
  return build({
    useWebAssembly: false,
    numberOfSignificantValueDigits: 3,
    highestTrackableValue: 3_600_000_000,
  });
}

export const packHistogram = (h: Histogram): string => encodeIntoCompressedBase64(h);

export function mergeHistograms(packed: readonly string[]): Histogram {
  const total = histogram();
  for (const p of packed) {
    if (p === '') continue;
    total.add(decodeFromCompressedBase64(p, 32, false));
  }
  return total;
}

export interface Percentiles {
  readonly count: number;
  readonly p50_ms: number;
  readonly p99_ms: number;
  readonly p999_ms: number;
  readonly max_ms: number;
}

export function percentiles(h: Histogram): Percentiles {
  const ms = (us: number): number => Math.round(us) / 1000;
  return {
    count: h.totalCount,
    p50_ms: ms(h.getValueAtPercentile(50)),
    p99_ms: ms(h.getValueAtPercentile(99)),
    p999_ms: ms(h.getValueAtPercentile(99.9)),
    max_ms: ms(h.maxValue),
  };
}

// ---------------------------------------------------------------- /proc

/** user + system CPU of a process (all its threads), in microseconds. */
export function processCpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state): utime is field 14, stime field 15.
  const clockTicks = Number(fields[11]) + Number(fields[12]);
  return (clockTicks * 1_000_000) / CLOCK_TICKS;
}

/** Resident set size of a process, bytes (VmRSS). */
export function processRssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+) kB/m.exec(status);
  if (match === null) throw new Error(`no VmRSS for ${pid}`);
  return Number(match[1]) * 1024;
}

/** USER_HZ: the unit of /proc/<pid>/stat times and /proc/stat; 100 on Linux x86-64. */
export const CLOCK_TICKS = 100;

export interface CpuTimes {
  readonly total: number;
  readonly idle: number;
  readonly steal: number;
}

/** The aggregate `cpu` line of /proc/stat, in clock ticks. */
export function machineCpu(): CpuTimes {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal guest guest_nice (guest time is inside user)
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
  return { total, idle: v[3]! + v[4]!, steal: v[7]! };
}

export interface MachineDelta {
  /** Share of all CPU time stolen by the hypervisor, percent. */
  readonly stealPct: number;
  /** CPU time spent busy (not idle, not stolen) on the whole machine, µs. */
  readonly busyMicros: number;
}

export function machineDelta(before: CpuTimes, after: CpuTimes): MachineDelta {
  const total = after.total - before.total;
  const steal = after.steal - before.steal;
  const idle = after.idle - before.idle;
  return {
    stealPct: total > 0 ? (steal * 100) / total : 0,
    busyMicros: ((total - idle - steal) * 1_000_000) / CLOCK_TICKS,
  };
}

// ---------------------------------------------------------------- IPC

/** The exchange child (bench/ws/server.ts) → parent once it listens. */
export interface ServerReady {
  readonly type: 'ready';
  readonly port: number;
  readonly database: string;
  readonly traderTokens: readonly string[];
  readonly makerToken: string;
  readonly takerToken: string;
}

/** Memory of a server child after a full GC (process.memoryUsage()). */
export interface ServerMemory {
  readonly type: 'memory';
  readonly rss: number;
  readonly heapUsed: number;
  readonly external: number;
  readonly arrayBuffers: number;
}

/** Parent → server child. */
export type ServerRequest =
  | { readonly type: 'memory' }
  | { readonly type: 'loop' }
  | { readonly type: 'profile'; readonly action: 'start' | 'stop' }
  | { readonly type: 'stop' };

/** The CPU profile's top self times between `profile` start and stop (empty for start). */
export interface ServerProfile {
  readonly type: 'profile';
  readonly top: readonly { readonly fn: string; readonly self_ms: number; readonly pct: number }[];
}

/**
 * The server's event loop since the previous `loop` request (issue 21's tail trace):
 * perf_hooks.monitorEventLoopDelay (1 ms resolution) and the GC pauses a PerformanceObserver saw.
 */
export interface ServerLoop {
  readonly type: 'loop';
  readonly delay_p50_ms: number;
  readonly delay_p99_ms: number;
  readonly delay_p999_ms: number;
  readonly delay_max_ms: number;
  /** Periodic snapshots taken (SNAPSHOT_INTERVAL_MS, _EVERY_RECORDS): count, ms from start to commit, bytes. */
  readonly snapshots: {
    readonly count: number;
    readonly total_ms: number;
    readonly max_ms: number;
    readonly bytes: number;
  };
  /** Journal flushes: count, records, and ms from the oldest record queued to COMMIT (and the transaction alone). */
  readonly flushes: {
    readonly count: number;
    readonly records: number;
    readonly commit_latency_ms: { readonly p50: number; readonly p99: number; readonly max: number };
    readonly transaction_ms: { readonly p50: number; readonly p99: number; readonly max: number };
  };
  /** GC pauses by kind (minor = scavenge, major = mark-compact, incremental, weakcb): count, total and longest ms. */
  readonly gc: Record<string, { readonly count: number; readonly total_ms: number; readonly max_ms: number }>;
}

/** Parent → trader child (bench/ws/trader.ts). */
export type TraderRequest =
  | { readonly type: 'connect'; readonly url: string; readonly tokens: readonly string[] }
  | {
      readonly type: 'closed';
      /** Outstanding places per connection. */
      readonly window: number;
      /** Epoch ms: start sending; measure from startAt + warmupMs for durationMs. */
      readonly startAt: number;
      readonly warmupMs: number;
      readonly durationMs: number;
    }
  | {
      readonly type: 'open';
      /** Orders/s this process offers (spread over its connections round-robin). */
      readonly rate: number;
      readonly startAt: number;
      readonly warmupMs: number;
      readonly durationMs: number;
    }
  | {
      /**
       * Fan-out source, on two connections (maker, taker): `pairs` times a resting sell of one lot
       * at the mid, then a buy IOC of one lot at the mid that trades with it. `lanes` pairs run
       * concurrently; `rate` > 0 paces pair starts (pairs/s), 0 runs them as fast as they go.
       */
      readonly type: 'pairs';
      readonly pairs: number;
      readonly lanes: number;
      readonly rate: number;
    }
  /** Fan-out burst, step 1: the maker rests `count` sells of one lot at the mid, `window` outstanding. */
  | { readonly type: 'rest'; readonly count: number; readonly window: number }
  /** Step 2: the taker sends `count` buys IOC of one lot at the mid, `window` outstanding: one trade each. */
  | { readonly type: 'take'; readonly count: number; readonly window: number }
  /**
   * A deep book: `levels` resting buys of one lot at the mid − 1..levels ticks and as many sells
   * at the mid + 1..levels ticks, on `market`, `window` outstanding (answered with `stepDone`).
   */
  | { readonly type: 'ladder'; readonly market: string; readonly levels: number; readonly window: number }
  | { readonly type: 'close' };

export interface TraderResult {
  readonly type: 'result';
  /** Places answered `accepted` whose reply arrived inside the measured window (closed) / were scheduled in it (open). */
  readonly accepted: number;
  /** Places answered with an error in the window, by code. */
  readonly errors: Record<string, number>;
  readonly firstError: string | undefined;
  /** Places sent in total (warm-up included) and replies received. */
  readonly sent: number;
  readonly replied: number;
  /** Measured window, epoch ms. */
  readonly windowStart: number;
  readonly windowEnd: number;
  /** place → accepted, µs (closed: from the send; open: from the scheduled send time). */
  readonly latency: string;
  /** Open loop: how late the generator sent, µs (scheduled → actual send). */
  readonly sendLag: string;
}

export interface PairsResult {
  readonly type: 'pairsDone';
  readonly startAt: number;
  readonly endAt: number;
  readonly pairs: number;
  readonly errors: Record<string, number>;
  readonly firstError: string | undefined;
  /** The taker's place → `accepted` (includes the durable commit), µs. */
  readonly takerLatency: string;
}

/** Answer to `rest` and `take`. */
export interface StepResult {
  readonly type: 'stepDone';
  readonly startAt: number;
  readonly endAt: number;
  readonly accepted: number;
  readonly errors: Record<string, number>;
  readonly firstError: string | undefined;
}

/** Parent → subscriber child (bench/ws/subscriber.ts). */
export type SubscriberRequest =
  | {
      readonly type: 'connect';
      readonly kind: 'ours' | 'socketio';
      readonly url: string;
      readonly connections: number;
    }
  | { readonly type: 'subscribe' }
  | { readonly type: 'reset'; readonly record: boolean }
  /** `recorded`: also send (and stop) what connection 0 recorded since the reset. */
  | { readonly type: 'report'; readonly recorded: boolean }
  | { readonly type: 'close' };

export interface SubscriberReport {
  readonly type: 'report';
  /** Messages received since the last reset, all connections. */
  readonly messages: number;
  readonly perConnectionMin: number;
  readonly perConnectionMax: number;
  /** Epoch ms of the first and last message received since the reset (NaN when none). */
  readonly firstAt: number;
  readonly lastAt: number;
  /** Trade pushes: receipt − the push's `ts`, µs. */
  readonly tradeDelay: string;
  readonly closedConnections: number;
  readonly gaps: number;
  /** Messages of connection 0 since the reset, when asked to record (decoded objects). */
  readonly recorded: readonly Record<string, unknown>[];
}

/** Parent → Socket.io server child (bench/ws/socketioServer.ts). */
export type SocketIoRequest =
  | {
      readonly type: 'emit';
      readonly messages: readonly Record<string, unknown>[];
      /** Messages/s; 0 = as fast as the server goes (chunks of `chunk`, yielding between them). */
      readonly rate: number;
      readonly chunk: number;
    }
  | { readonly type: 'memory' }
  | { readonly type: 'stop' };

export interface SocketIoReady {
  readonly type: 'ready';
  readonly port: number;
}

export interface Emitted {
  readonly type: 'emitted';
  readonly startAt: number;
  readonly endAt: number;
  readonly messages: number;
}

/** Parent → flooder child (bench/ws/flooder.ts). */
export type FlooderRequest =
  | { readonly type: 'connect'; readonly url: string; readonly connections: number }
  | {
      readonly type: 'flood';
      readonly market: string;
      /** Subs each connection sends at once, every second. */
      readonly window: number;
      readonly startAt: number;
      readonly durationMs: number;
    }
  | { readonly type: 'close' };

export interface FloodResult {
  readonly type: 'flooded';
  readonly sent: number;
  readonly subbed: number;
  readonly rateLimited: number;
  readonly otherErrors: number;
  /** Subs of open connections still unanswered 10 s after the flood ended. */
  readonly unanswered: number;
  readonly snapshots: number;
  readonly snapshotBytes: number;
  readonly closed: number;
  readonly startAt: number;
  readonly endAt: number;
}

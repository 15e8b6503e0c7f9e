import { readFileSync } from 'node:fs';
import { build, type Histogram } from 'hdr-histogram-js';

/*
 * Shared by the issuance benchmark's two processes (bench/lifecycle.ts and bench/lifecycle/server.ts):
 * the IPC messages, /proc readers and histogram helpers. Kept apart from bench/ws/common.ts so the
 * two benchmarks can change independently.
 */

export const QUOTE = 'USDC';

/** The exchange child → parent once it listens. */
export interface ServerReady {
  readonly type: 'ready';
  readonly port: number;
  readonly database: string;
  readonly issuerToken: string;
  readonly adminToken: string;
}

/** Markets the exchange knows, by lifecycle state (a check that every 201 really registered one). */
export interface ServerCount {
  readonly type: 'count';
  readonly markets: number;
  readonly byStatus: Record<string, number>;
}

export type ServerRequest = { readonly type: 'count' } | { readonly type: 'stop' };

// ---------------------------------------------------------------- histograms (µs values)

export function histogram(): Histogram {
  return build({
    useWebAssembly: false,
    numberOfSignificantValueDigits: 3,
    highestTrackableValue: 3_600_000_000,
  });
}

export const msOf = (us: number): number => Math.round(us) / 1000;

/**
 * Nearest-rank percentile of a small sample (ms). With 20 samples p50 is the 10th smallest and p99
 * the largest: the figures are order statistics, not estimates of a distribution's tail.
 */
export function nearestRank(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1]!;
}

// ---------------------------------------------------------------- /proc

/** USER_HZ: the unit of /proc/<pid>/stat times and /proc/stat; 100 on Linux x86-64. */
const CLOCK_TICKS = 100;

/** user + system CPU of a process (all its threads), in microseconds. */
export function processCpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state): utime is field 14, stime field 15.
  return ((Number(fields[11]) + Number(fields[12])) * 1_000_000) / CLOCK_TICKS;
}

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

/** Steal and busy shares of all CPU time between two readings, percent. */
export function machineDelta(before: CpuTimes, after: CpuTimes): { stealPct: number; busyPct: number } {
  const total = after.total - before.total;
  if (total <= 0) return { stealPct: 0, busyPct: 0 };
  const steal = after.steal - before.steal;
  const idle = after.idle - before.idle;
  return { stealPct: (steal * 100) / total, busyPct: ((total - idle - steal) * 100) / total };
}

/** The first three fields of /proc/loadavg (1, 5 and 15 minutes). */
export function loadAvg(): [number, number, number] {
  const [a, b, c] = readFileSync('/proc/loadavg', 'utf8').trim().split(/\s+/).map(Number);
  return [a!, b!, c!];
}

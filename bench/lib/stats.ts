/** Progress goes to stderr so stdout ends with exactly one JSON line. */
export function progress(message: string): void {
  process.stderr.write(`[bench ${(performance.now() / 1000).toFixed(1)}s] ${message}\n`);
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function fullGc(): void {
  const gc = globalThis.gc;
  if (gc === undefined) throw new Error('run with node --expose-gc (npm run bench:engine does)');
  gc();
  gc();
}

export interface Rate {
  /** Operations per wall-clock second: the headline figure. */
  readonly wall: number;
  /**
   * Operations per second of process CPU time (user + system, all threads, so GC helper threads
   * count): closer to what an idle machine would show when other processes compete for the cores.
   */
  readonly cpu: number;
}

/** Runs `fn` once after a full GC and times it. */
export function measure(ops: number, fn: () => void): Rate {
  fullGc();
  const cpu0 = process.cpuUsage();
  const start = process.hrtime.bigint();
  fn();
  const ns = Number(process.hrtime.bigint() - start);
  const cpu = process.cpuUsage(cpu0);
  return { wall: (ops * 1e9) / ns, cpu: (ops * 1e6) / (cpu.user + cpu.system) };
}

export const round = (n: number, digits = 0): number => {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
};

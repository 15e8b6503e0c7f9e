import { relative } from 'node:path';

/*
 * `cpu_profile_top` (issue 21): the functions with the most self time of a V8 CPU profile (a
 * `.cpuprofile` file as `node --cpu-prof` writes it, or the object the inspector's
 * Profiler.stop returns), so a benchmark's JSON line says where its time went.
 */

interface ProfileNode {
  readonly id: number;
  readonly callFrame: {
    readonly functionName: string;
    readonly url: string;
    readonly lineNumber: number;
  };
}

export interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples?: readonly number[];
  readonly timeDeltas?: readonly number[];
}

export interface SelfTime {
  /** `name file:line` (the file relative to the repository; `(program)`, `(garbage collector)` as V8 names them). */
  readonly fn: string;
  readonly self_ms: number;
  /** Of the busy sampled time (`(idle)` left out). */
  readonly pct: number;
}

const ROOT = new URL('../../', import.meta.url).pathname;

function label(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const name = functionName === '' ? '(anonymous)' : functionName;
  if (url === '') return name;
  const path = url.startsWith('file://') ? new URL(url).pathname : url;
  const shown = path.startsWith(ROOT) ? relative(ROOT, path) : path.replace(/^.*node_modules\//, '');
  return `${name} ${shown}:${lineNumber + 1}`;
}

/**
 * The `top` entries by self time, summed over the nodes of one function (same name, file and
 * line). `(idle)` is left out, of the list and of the total the percentages are of.
 */
export function topSelfTime(profile: CpuProfile, top = 10): SelfTime[] {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  const self = new Map<string, number>();
  let total = 0;
  for (let i = 0; i < samples.length; i++) {
    const node = byId.get(samples[i]!);
    // A sample's time is the delta to the next sample (V8's own attribution).
    const dt = Math.max(0, deltas[i + 1] ?? 0);
    if (node === undefined) continue;
    const key = label(node);
    if (key !== '(idle)') total += dt;
    self.set(key, (self.get(key) ?? 0) + dt);
  }
  return [...self]
    .filter(([fn]) => fn !== '(idle)')
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([fn, us]) => ({
      fn,
      self_ms: Math.round(us / 100) / 10,
      pct: total === 0 ? 0 : Math.round((us * 1000) / total) / 10,
    }));
}

/**
 * The V8 CPU profiler (what --cpu-prof runs) on this process around `run` only, so start-up is
 * not in it: run a benchmark's measured step once more under it, after the timed rounds (the
 * profiler's own cost stays out of the figures). Resolves with `run`'s result and the top.
 */
export async function profiled<T>(run: () => Promise<T>, top = 10): Promise<{ result: T; top: SelfTime[] }> {
  const { Session } = await import('node:inspector');
  const session = new Session();
  session.connect();
  const post = <R>(method: string, params: object = {}): Promise<R> =>
    new Promise((resolve, reject) => {
      session.post(method, params, (error, value) => {
        if (error === null) resolve(value as R);
        else reject(error);
      });
    });
  try {
    await post('Profiler.enable');
    await post('Profiler.setSamplingInterval', { interval: 500 });
    await post('Profiler.start');
    const result = await run();
    const { profile } = await post<{ profile: CpuProfile }>('Profiler.stop');
    return { result, top: topSelfTime(profile, top) };
  } finally {
    session.disconnect();
  }
}

import { describe, expect, it } from 'vitest';
import { topSelfTime, type CpuProfile } from '../../bench/lib/cpuProfile.ts';

/*
 * bench/lib/cpuProfile.ts: `cpu_profile_top` sums each function's self time from a profile's
 * samples (a sample's time is the delta to the next), leaves `(idle)` out of the list and of the
 * total, and names a function by its name, file (relative to the repository) and 1-based line.
 */

const ROOT = new URL('../../', import.meta.url).href;

const frame = (functionName: string, url = '', lineNumber = 0) => ({ functionName, url, lineNumber });

const profile: CpuProfile = {
  nodes: [
    { id: 1, callFrame: frame('(root)') },
    { id: 2, callFrame: frame('(idle)') },
    { id: 3, callFrame: frame('fold', `${ROOT}src/persistence/projection/fold.ts`, 9) },
    { id: 4, callFrame: frame('(garbage collector)') },
    // The same function reached by two call paths: one entry.
    { id: 5, callFrame: frame('fold', `${ROOT}src/persistence/projection/fold.ts`, 9) },
    { id: 6, callFrame: frame('', 'file:///x/node_modules/msgpackr/pack.js', 471) },
  ],
  startTime: 0,
  endTime: 1_000,
  samples: [3, 2, 4, 5, 6, 3],
  // µs; sample i lasts until the next one: timeDeltas[i + 1] (the last sample, 0).
  timeDeltas: [0, 100, 500, 250, 100, 50, 0],
};

describe('topSelfTime', () => {
  it('ranks functions by self time, idle left out of the list and the percentages', () => {
    // Busy: fold 100 + 100 + 0 (two call paths, one entry), GC 250, msgpackr 50; idle 500.
    expect(topSelfTime(profile, 10)).toEqual([
      { fn: '(garbage collector)', self_ms: 0.3, pct: 50 },
      { fn: 'fold src/persistence/projection/fold.ts:10', self_ms: 0.2, pct: 40 },
      { fn: '(anonymous) msgpackr/pack.js:472', self_ms: 0.1, pct: 10 },
    ]);
  });

  it('keeps only the first `top` entries', () => {
    expect(topSelfTime(profile, 1)).toHaveLength(1);
  });
});

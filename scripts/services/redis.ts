import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { errorMessage, log } from './log.ts';
import { aptInstall, startGuarded } from './guarded.ts';
import { usersDir } from './users.ts';

export const SYSTEM_REDIS_PORT = 6379;
export const OWN_REDIS_PORT = 63790;

export type PingResult = { ok: true } | { ok: false; reason: string };

/** Sends a RESP PING over a plain TCP socket and waits for +PONG. */
export function ping(host: string, port: number, timeoutMs = 500): Promise<PingResult> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    let reply = '';
    const done = (result: PingResult): void => {
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(timeoutMs, () => {
      done({ ok: false, reason: 'timed out' });
    });
    socket.once('connect', () => {
      socket.write('*1\r\n$4\r\nPING\r\n');
    });
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString('latin1');
      const end = reply.indexOf('\r\n');
      if (end === -1) return;
      const line = reply.slice(0, end);
      done(line === '+PONG' ? { ok: true } : { ok: false, reason: `answered ${JSON.stringify(line)}` });
    });
    socket.once('error', (err) => {
      done({ ok: false, reason: errorMessage(err) });
    });
    socket.once('close', () => {
      done({ ok: false, reason: 'connection closed' });
    });
  });
}

export interface RunningRedis {
  url: string;
  /** Only for a server started here: stops it. */
  stop?: () => Promise<void>;
}

function onPath(binary: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${binary}`], { stdio: 'ignore' }).status === 0;
}

/**
 * Starts `redis-server` on 127.0.0.1:port with no persistence (`--save "" --appendonly no`), working
 * directory and log under dir, under its guard (server-guard.ts) in a session of its own so a
 * terminal Ctrl-C reaches only the app; the guard stops it when we do, or when we are gone and no
 * other launcher in `users` uses it. Resolves once it answers PING.
 */
export async function startRedisServer(options: {
  port: number;
  dir: string;
  users: string;
  binary?: string;
  timeoutMs?: number;
}): Promise<Required<RunningRedis>> {
  const { port, dir, users, binary = 'redis-server', timeoutMs = 15_000 } = options;
  fs.mkdirSync(dir, { recursive: true });
  const logFile = path.join(dir, 'redis.log');
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  args.push('--dir', dir, '--logfile', logFile);
  return startGuarded({
    name: 'redis-server',
    key: `redis:${port}`,
    users,
    binary,
    args,
    logFile,
    url: `redis://127.0.0.1:${port}`,
    ready: async () => (await ping('127.0.0.1', port, 300)).ok,
    timeoutMs,
  });
}

export interface RedisOptions {
  redisUrl: string | undefined;
  ignoreSystem: boolean;
  dataRoot: string;
  /** Where our own redis-server listens (default OWN_REDIS_PORT). */
  ownPort?: number;
}

/**
 * REDIS_URL, else a server answering PING on 127.0.0.1:6379, else `redis-server` from PATH on 63790
 * (installed with apt-get first on Debian when we are root), else an error saying what to install.
 */
export async function ensureRedis(options: RedisOptions): Promise<RunningRedis> {
  const ownPort = options.ownPort ?? OWN_REDIS_PORT;
  if (options.redisUrl !== undefined) {
    log('redis: using REDIS_URL');
    return { url: options.redisUrl };
  }
  if (!options.ignoreSystem) {
    const system = await ping('127.0.0.1', SYSTEM_REDIS_PORT);
    if (system.ok) {
      log(`redis: using the server on 127.0.0.1:${SYSTEM_REDIS_PORT}`);
      return { url: `redis://127.0.0.1:${SYSTEM_REDIS_PORT}` };
    }
    if (system.reason.startsWith('answered')) {
      log(`redis: server on 127.0.0.1:${SYSTEM_REDIS_PORT} ${system.reason} to PING; starting our own`);
    }
  }
  const own = await ping('127.0.0.1', ownPort);
  if (own.ok) {
    log(`redis: reusing redis-server already running on 127.0.0.1:${ownPort}`);
    return { url: `redis://127.0.0.1:${ownPort}` };
  }

  if (!onPath('redis-server')) {
    const debianRoot = fs.existsSync('/etc/debian_version') && process.getuid?.() === 0;
    if (!debianRoot) {
      throw new Error(
        'redis: no Redis found; install redis-server (e.g. `sudo apt-get install redis-server` or ' +
          '`brew install redis`) or set REDIS_URL',
      );
    }
    log('redis: redis-server not found; installing it with apt-get (Debian, root)');
    if (!aptInstall('redis-server', 'redis') || !onPath('redis-server')) {
      throw new Error('redis: `apt-get install -y redis-server` failed; install Redis or set REDIS_URL');
    }
  }

  const dir = path.join(options.dataRoot, 'redis');
  log(`redis: starting redis-server on 127.0.0.1:${ownPort} (dir ${dir})`);
  const server = await startRedisServer({ port: ownPort, dir, users: usersDir(options.dataRoot) });
  return {
    url: server.url,
    stop: async () => {
      log('redis: stopping redis-server');
      await server.stop();
    },
  };
}

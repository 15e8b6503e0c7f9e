import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { errorMessage, log } from './log.ts';
import { aptInstall, startGuarded } from './guarded.ts';
import { usersDir } from './users.ts';

/*
 * NATS with JetStream for the cluster (src/cluster/, docs/scale-out.md), found or started the way
 * redis.ts does it for Redis: NATS_URL, else a server on 127.0.0.1:4222, else our own
 * `nats-server -js` on OWN_NATS_PORT (store under .data/nats), installed with apt-get first when
 * we are root on Debian, else an error saying what to install.
 */

export const SYSTEM_NATS_PORT = 4222;
export const OWN_NATS_PORT = 42220;
/** Debian's package installs the binary here (not always on a non-root PATH). */
const DEBIAN_NATS_SERVER = '/usr/sbin/nats-server';

export type NatsProbe = { ok: true } | { ok: false; reason: string };

/**
 * A NATS server greets every connection with `INFO {json}`; we need it to say `"jetstream":true`
 * (a server without -js cannot hold the leases). No client library: nothing is sent.
 */
export function probeNats(host: string, port: number, timeoutMs = 500): Promise<NatsProbe> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    let greeting = '';
    const done = (result: NatsProbe): void => {
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(timeoutMs, () => {
      done({ ok: false, reason: 'timed out' });
    });
    socket.on('data', (chunk: Buffer) => {
      greeting += chunk.toString('utf8');
      const end = greeting.indexOf('\r\n');
      if (end === -1) return;
      const line = greeting.slice(0, end);
      if (!line.startsWith('INFO ')) {
        done({ ok: false, reason: `answered ${JSON.stringify(line.slice(0, 40))}` });
        return;
      }
      let info: unknown;
      try {
        info = JSON.parse(line.slice('INFO '.length));
      } catch {
        done({ ok: false, reason: 'answered an INFO that is not JSON' });
        return;
      }
      const jetstream = typeof info === 'object' && info !== null && 'jetstream' in info && info.jetstream;
      done(jetstream === true ? { ok: true } : { ok: false, reason: 'answered without JetStream (-js)' });
    });
    socket.once('error', (err) => {
      done({ ok: false, reason: errorMessage(err) });
    });
    socket.once('close', () => {
      done({ ok: false, reason: 'connection closed' });
    });
  });
}

export interface RunningNats {
  url: string;
  /** Only for a server started here: stops it. */
  stop?: () => Promise<void>;
}

/** `nats-server` on PATH, else Debian's /usr/sbin/nats-server, else undefined. */
function findBinary(): string | undefined {
  if (spawnSync('sh', ['-c', 'command -v nats-server'], { stdio: 'ignore' }).status === 0)
    return 'nats-server';
  return fs.existsSync(DEBIAN_NATS_SERVER) ? DEBIAN_NATS_SERVER : undefined;
}

/**
 * Starts `nats-server -js` on 127.0.0.1:port with its JetStream store and log under dir, under the
 * guard (server-guard.ts) in a session of its own; resolves once it greets with JetStream on.
 */
export async function startNatsServer(options: {
  port: number;
  dir: string;
  users: string;
  binary: string;
  timeoutMs?: number;
}): Promise<Required<RunningNats>> {
  const { port, dir, users, binary, timeoutMs = 15_000 } = options;
  fs.mkdirSync(dir, { recursive: true });
  const logFile = path.join(dir, 'nats.log');
  const args = ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dir, '-l', logFile];
  return startGuarded({
    name: 'nats-server',
    key: `nats:${port}`,
    users,
    binary,
    args,
    logFile,
    url: `nats://127.0.0.1:${port}`,
    ready: async () => (await probeNats('127.0.0.1', port, 300)).ok,
    timeoutMs,
  });
}

export interface NatsOptions {
  natsUrl: string | undefined;
  ignoreSystem: boolean;
  dataRoot: string;
  /** Where our own nats-server listens (default OWN_NATS_PORT). */
  ownPort?: number;
}

/**
 * NATS_URL, else a JetStream server on 127.0.0.1:4222, else `nats-server -js` on 42220 (installed
 * with apt-get first on Debian when we are root), else an error saying what to install.
 */
export async function ensureNats(options: NatsOptions): Promise<RunningNats> {
  const ownPort = options.ownPort ?? OWN_NATS_PORT;
  if (options.natsUrl !== undefined) {
    log('nats: using NATS_URL');
    return { url: options.natsUrl };
  }
  if (!options.ignoreSystem) {
    const system = await probeNats('127.0.0.1', SYSTEM_NATS_PORT);
    if (system.ok) {
      log(`nats: using the server on 127.0.0.1:${SYSTEM_NATS_PORT}`);
      return { url: `nats://127.0.0.1:${SYSTEM_NATS_PORT}` };
    }
    if (system.reason.startsWith('answered')) {
      log(`nats: server on 127.0.0.1:${SYSTEM_NATS_PORT} ${system.reason}; starting our own`);
    }
  }
  const own = await probeNats('127.0.0.1', ownPort);
  if (own.ok) {
    log(`nats: reusing nats-server already running on 127.0.0.1:${ownPort}`);
    return { url: `nats://127.0.0.1:${ownPort}` };
  }

  let binary = findBinary();
  if (binary === undefined) {
    const debianRoot = fs.existsSync('/etc/debian_version') && process.getuid?.() === 0;
    if (!debianRoot) {
      throw new Error(
        'nats: no NATS server with JetStream found; install nats-server (e.g. `sudo apt-get install ' +
          'nats-server` or `brew install nats-server`) or set NATS_URL',
      );
    }
    log('nats: nats-server not found; installing it with apt-get (Debian, root)');
    binary = aptInstall('nats-server', 'nats') ? findBinary() : undefined;
    if (binary === undefined) {
      throw new Error('nats: `apt-get install -y nats-server` failed; install nats-server or set NATS_URL');
    }
  }

  const dir = path.join(options.dataRoot, 'nats');
  log(`nats: starting ${binary} -js on 127.0.0.1:${ownPort} (store ${dir})`);
  const server = await startNatsServer({ port: ownPort, dir, users: usersDir(options.dataRoot), binary });
  return {
    url: server.url,
    stop: async () => {
      log('nats: stopping nats-server');
      await server.stop();
    },
  };
}

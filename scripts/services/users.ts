import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { isAlive } from '../../src/processAlive.ts';

/*
 * Who uses the servers that launchers (scripts/services.ts) start under .data: one file per running
 * launcher, named by its pid, holding its start time (so a pid reused after a crash does not
 * count) and the servers it uses, as `postgres:<port>` / `redis:<port>`. A launcher that started a
 * server stops it only when no other launcher uses it; otherwise the server's guard keeps it for
 * them and stops it once the last one is gone (postgres-daemon.ts, server-guard.ts).
 */

export function usersDir(dataRoot: string): string {
  return path.join(dataRoot, 'users');
}

const UserFile = z.object({ start: z.string(), uses: z.array(z.string()) });

export interface Registration {
  /** Replaces the servers this launcher says it uses. */
  uses(servers: readonly string[]): void;
  unregister(): void;
}

/** Registers this process as a user of `servers`. */
export function registerUser(dir: string, servers: readonly string[], pid = process.pid): Registration {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, String(pid));
  const start = startTimeOf(pid) ?? '';
  const write = (uses: readonly string[]) => {
    fs.writeFileSync(file, JSON.stringify({ start, uses }));
  };
  write(servers);
  return {
    uses: write,
    unregister: () => {
      fs.rmSync(file, { force: true });
    },
  };
}

/** The pids of the live launchers other than `self` that use `server`; dead ones' files are removed. */
export function otherUsers(dir: string, server: string, self = process.pid): number[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const users: number[] = [];
  for (const name of names) {
    const pid = Number(name);
    if (!Number.isSafeInteger(pid) || pid <= 0 || pid === self) continue;
    const file = path.join(dir, name);
    let recorded: z.infer<typeof UserFile>;
    try {
      recorded = UserFile.parse(JSON.parse(fs.readFileSync(file, 'utf8')));
    } catch {
      continue; // being written, or not ours
    }
    const now = startTimeOf(pid);
    if (now === undefined || (now !== '' && recorded.start !== '' && now !== recorded.start)) {
      fs.rmSync(file, { force: true });
    } else if (recorded.uses.includes(server)) {
      users.push(pid);
    }
  }
  return users;
}

/**
 * Calls `stop` once no other launcher uses `server` (checked now, then every second): what a
 * server's guard does when the launcher that started it is gone.
 */
export function stopWhenUnused(dir: string, server: string, stop: () => void, everyMs = 1_000): void {
  if (otherUsers(dir, server).length === 0) {
    stop();
    return;
  }
  const timer = setInterval(() => {
    if (otherUsers(dir, server).length > 0) return;
    clearInterval(timer);
    stop();
  }, everyMs);
}

/**
 * The process's start time as the kernel counts it (Linux); '' when it is alive but /proc is not
 * there to say when it started; undefined when it is not alive.
 */
function startTimeOf(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The fields after the command name (which may hold spaces): state is field 3, starttime 22.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z') return undefined; // dead, not reaped yet
    return fields[19] ?? '';
  } catch {
    if (fs.existsSync('/proc/self/stat')) return undefined;
    return isAlive(pid) ? '' : undefined;
  }
}

import fs from 'node:fs';
import path from 'node:path';

/*
 * Who uses the services under .data: one file per running launcher (scripts/services.ts), named
 * by its pid and holding its start time, so that a pid reused by an unrelated process after a
 * crash does not count. A launcher that started a server stops it only when no other launcher is
 * registered; otherwise the server's guard keeps it for them and stops it when the last one is
 * gone (postgres-daemon.ts, redis-guard.ts).
 */

export function usersDir(dataRoot: string): string {
  return path.join(dataRoot, 'users');
}

/**
 * The process's start time as the kernel counts it (Linux); '' when it is alive but /proc is not
 * there to say when it started; undefined when it is not alive.
 */
function startTimeOf(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces); starttime is field 22.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? '';
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' && fs.existsSync('/proc/self/stat'))
      return undefined;
    return isAlive(pid) ? '' : undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Registers this process as a user; the function returned unregisters it. */
export function registerUser(dir: string, pid = process.pid): () => void {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, String(pid));
  fs.writeFileSync(file, startTimeOf(pid) ?? '');
  return () => {
    fs.rmSync(file, { force: true });
  };
}

/** The pids of the live users other than `self`; files of dead ones are removed. */
export function otherUsers(dir: string, self = process.pid): number[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const alive: number[] = [];
  for (const name of names) {
    const pid = Number(name);
    if (!Number.isSafeInteger(pid) || pid <= 0 || pid === self) continue;
    const file = path.join(dir, name);
    let recorded: string;
    try {
      recorded = fs.readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    const now = startTimeOf(pid);
    if (now !== undefined && (recorded === '' || now === '' || now === recorded)) alive.push(pid);
    else fs.rmSync(file, { force: true });
  }
  return alive;
}

/**
 * Calls `stop` once no other launcher is registered (checked now, then every second): what a
 * server's guard does when the launcher that started it is gone.
 */
export function stopWhenUnused(dir: string, stop: () => void, everyMs = 1_000): void {
  if (otherUsers(dir).length === 0) {
    stop();
    return;
  }
  const timer = setInterval(() => {
    if (otherUsers(dir).length > 0) return;
    clearInterval(timer);
    stop();
  }, everyMs);
}

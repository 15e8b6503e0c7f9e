/**
 * Runs a server binary of our own (`redis-server` for redis.ts, `nats-server` for nats.ts, through
 * guarded.ts) for scripts/services.ts and stops it when told, or when its launcher is gone: started detached (a session of its own, so a terminal Ctrl-C reaches the app
 * and not its queues), it has an IPC channel to the launcher. 'stop' over the channel, SIGTERM or
 * SIGINT stop the server at once; the channel closing without 'stop' (the launcher left while other
 * launchers use the server, or was killed) stops it once no other launcher is registered in
 * <usersDir> (users.ts). We exit when the server does, with its code.
 *
 * argv: <usersDir> <server key, e.g. redis:63790> <server binary> [its arguments...]
 */
import { spawn } from 'node:child_process';
import { stopWhenUnused } from './users.ts';

const [users, server, binary, ...args] = process.argv.slice(2);
if (users === undefined || server === undefined || binary === undefined) {
  process.stderr.write('usage: server-guard.ts <usersDir> <server key> <server binary> [args...]\n');
  process.exit(2);
}

const child = spawn(binary, args, { stdio: 'ignore' });
child.once('error', (err) => {
  process.stderr.write(`server-guard: ${err.message}\n`);
  process.exit(1);
});
child.once('exit', (code, signal) => {
  process.exit(code ?? (signal === 'SIGTERM' ? 0 : 1));
});

let stopping = false;
function stop(): void {
  if (stopping) return;
  stopping = true;
  child.kill('SIGTERM');
  setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
}

for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(signal, stop);
process.on('message', (message: unknown) => {
  if (message === 'stop') stop();
});
process.on('disconnect', () => {
  stopWhenUnused(users, server, stop);
});

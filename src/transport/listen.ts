import net from 'node:net';
import type * as UWS from 'uWebSockets.js';
import uWS from './uws.ts';

/*
 * The gateway listens exclusively (PROTOCOL v1.1, "One exchange per database"): without it uWS
 * sets SO_REUSEPORT, a second exchange binds the same port beside the first and the kernel splits
 * the connections between them. The typings declare the flag only in an enum that does not exist
 * at run time, and no (host, port, options) overload; the addon exports the constant and takes
 * that form.
 */
const EXCLUSIVE_PORT: unknown = (uWS as unknown as Record<string, unknown>).LIBUS_LISTEN_EXCLUSIVE_PORT;
if (typeof EXCLUSIVE_PORT !== 'number')
  throw new Error('uWebSockets.js exports no LIBUS_LISTEN_EXCLUSIVE_PORT');
const LIBUS_LISTEN_EXCLUSIVE_PORT = EXCLUSIVE_PORT;

type ListenWithOptions = (
  host: string,
  port: number,
  options: number,
  callback: (socket: UWS.us_listen_socket | false) => void,
) => UWS.TemplatedApp;

/** The port cannot be bound: nothing was changed. */
export class PortInUseError extends Error {
  readonly code = 'port_in_use';
  constructor(
    readonly host: string,
    readonly port: number,
    reason: string,
  ) {
    super(
      `port ${port} on ${host} is not available (${reason}): another exchange or program listens there; stop it or set PORT`,
    );
    this.name = 'PortInUseError';
  }
}

/**
 * Binds host:port once with a plain exclusive socket and closes it: the check made before the
 * exchange touches its database, so a port in use stops it before anything changed. PORT=0 (the
 * OS picks) always passes. The gateway's own exclusive listen still decides (another process may
 * take the port in between).
 */
export async function assertPortFree(host: string, port: number): Promise<void> {
  if (port === 0) return;
  const reason = await bindError(host, port);
  if (reason !== undefined) throw new PortInUseError(host, port, reason);
}

/** Listens on host:port without SO_REUSEPORT; throws PortInUseError when that fails. */
export async function listenExclusive(
  app: UWS.TemplatedApp,
  host: string,
  port: number,
): Promise<UWS.us_listen_socket> {
  const listen = app.listen.bind(app) as unknown as ListenWithOptions;
  const socket = await new Promise<UWS.us_listen_socket | false>((resolve) => {
    listen(host, port, LIBUS_LISTEN_EXCLUSIVE_PORT, resolve);
  });
  if (socket !== false) return socket;
  // uWS says only "false": a plain bind tells why.
  throw new PortInUseError(host, port, (await bindError(host, port)) ?? 'the gateway could not listen');
}

function bindError(host: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', (error: NodeJS.ErrnoException) => {
      resolve(error.code === 'EADDRINUSE' ? 'in use' : (error.code ?? error.message));
    });
    server.listen({ host, port, exclusive: true }, () => {
      server.close(() => {
        resolve(undefined);
      });
    });
  });
}

import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { connect } from 'nats';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureNats, probeNats } from '../../scripts/services/nats.ts';
import { eventually } from '../support/eventually.ts';

/**
 * The services script's NATS (scripts/services/nats.ts): with the system server skipped it
 * starts its own `nats-server -js` (the binary of this machine), a real client uses JetStream on
 * it, and stop() takes it down. A plain TCP server that is not NATS is not mistaken for one.
 */

const dataRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'nats-services-'));

afterAll(() => {
  fs.rmSync(dataRoot, { recursive: true, force: true });
});

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

describe('services: NATS', () => {
  it('starts nats-server with JetStream when none is reachable, and stops it', async () => {
    const port = await freePort();
    const running = await ensureNats({ natsUrl: undefined, ignoreSystem: true, dataRoot, ownPort: port });
    expect(running.url).toBe(`nats://127.0.0.1:${port}`);
    expect(running.stop).toBeDefined();
    const nc = await connect({ servers: running.url });
    const kv = await nc.jetstream().views.kv('services_probe', { history: 1 });
    expect(await kv.create('k', 'v')).toBeGreaterThan(0);
    await nc.close();
    expect(fs.existsSync(path.join(dataRoot, 'nats', 'jetstream'))).toBe(true);

    // A second launcher finds it and uses it without owning it.
    const again = await ensureNats({ natsUrl: undefined, ignoreSystem: true, dataRoot, ownPort: port });
    expect(again).toEqual({ url: running.url });

    await running.stop!();
    await eventually(async () => !(await probeNats('127.0.0.1', port)).ok, { what: 'nats-server to stop' });
  });

  it('uses NATS_URL as given, and tells a server that is not NATS from one that is', async () => {
    expect(await ensureNats({ natsUrl: 'nats://nats.example:4222', ignoreSystem: false, dataRoot })).toEqual({
      url: 'nats://nats.example:4222',
    });
    const impostor = net.createServer((socket) => socket.end('+PONG\r\n'));
    await new Promise<void>((resolve) => impostor.listen(0, '127.0.0.1', resolve));
    const address = impostor.address() as net.AddressInfo;
    const probe = await probeNats('127.0.0.1', address.port);
    impostor.close();
    expect(probe).toEqual({ ok: false, reason: 'answered "+PONG"' });
  });
});

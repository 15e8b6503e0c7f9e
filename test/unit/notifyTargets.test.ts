import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPublicAddress, refusalOf, sendToTarget, TargetRefused } from '../../src/notifications/targets.ts';

/** The SSRF guard of users' URLs: address ranges, DNS answers, and redirects hop by hop. */

let server: http.Server;
let port = 0;

beforeAll(async () => {
  // A loopback server redirecting to itself and to the metadata address.
  server = http.createServer((req, res) => {
    if (req.url === '/loop') res.writeHead(307, { location: '/loop' }).end();
    else res.writeHead(200).end('ok');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

describe('the SSRF guard', () => {
  it('tells public addresses from loopback, private, link-local and reserved ones (v4, v6, mapped)', () => {
    for (const ip of ['93.184.215.14', '8.8.8.8', '2606:4700::1111'])
      expect(isPublicAddress(ip), ip).toBe(true);
    for (const ip of [
      '127.0.0.1',
      '10.1.2.3',
      '172.16.0.1',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      '224.0.0.1',
      '::1',
      '::',
      'fe80::1',
      'fd00::1',
      '::ffff:127.0.0.1',
      '::ffff:10.0.0.1',
      'not-an-ip',
    ]) {
      expect(isPublicAddress(ip), ip).toBe(false);
    }
  });

  it('refuses URLs whose host is or resolves to a private address, unless allowed', async () => {
    expect(await refusalOf('http://127.0.0.1/x', false)).toMatch(/private or reserved/);
    expect(await refusalOf('http://localhost/x', false)).toMatch(/private or reserved/);
    expect(await refusalOf('http://[::1]/x', false)).toMatch(/private or reserved/);
    expect(await refusalOf('ftp://example.com/x', false)).toMatch(/only http/);
    expect(await refusalOf('http://user:pw@93.184.215.14/', false)).toMatch(/credentials/);
    expect(await refusalOf('https://93.184.215.14/hook', false)).toBeUndefined();
    expect(await refusalOf('http://127.0.0.1/x', true)).toBeUndefined();
  });

  it('refuses at connection time and on every redirect hop', async () => {
    const post = (path: string, allowPrivate: boolean) =>
      sendToTarget(
        { url: `http://127.0.0.1:${port}${path}`, method: 'POST', headers: {}, body: '{}' },
        { allowPrivate, timeoutMs: 2_000 },
      );
    // A literal address, and a name that resolves to loopback (refused by the connection's lookup).
    await expect(post('/ok', false)).rejects.toBeInstanceOf(TargetRefused);
    await expect(
      sendToTarget(
        { url: `http://localhost:${port}/ok`, method: 'POST', headers: {}, body: '{}' },
        { allowPrivate: false, timeoutMs: 2_000 },
      ),
    ).rejects.toThrow(/private or reserved/);
    await expect(post('/ok', true)).resolves.toMatchObject({ status: 200, body: 'ok' });
    // Each hop is a new guarded request, and the hops are bounded.
    await expect(post('/loop', true)).rejects.toThrow(/redirects/);
  });
});

/**
 * Users' URLs (webhooks, Slack/Discord hooks, push endpoints) are requests the server makes on a
 * stranger's behalf: guarded against server-side request forgery. A target whose host is, or
 * resolves to, a loopback, private, link-local, shared, multicast or reserved address is refused
 * (unless NOTIFY_ALLOW_PRIVATE_TARGETS), checked when the user sets it (PUT preferences answers 400)
 * and again at every connection (the resolver is the guard, so a DNS answer that changed after the
 * check, a rebinding, is refused too), on every redirect hop, each hop a new connection.
 */

import dns from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';

const blocked = new net.BlockList();
for (const [address, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  blocked.addSubnet(address, prefix, 'ipv4');
}
for (const [address, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['64:ff9b::', 96],
  ['100::', 64],
  ['2001:db8::', 32],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const) {
  blocked.addSubnet(address, prefix, 'ipv6');
}

/** Whether an IP address is one the exchange may connect to for a user (a public unicast address). */
export function isPublicAddress(ip: string): boolean {
  const family = net.isIP(ip);
  if (family === 0) return false;
  if (family === 6) {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
    if (mapped !== null) return isPublicAddress(mapped[1]!);
    return !blocked.check(ip, 'ipv6');
  }
  return !blocked.check(ip, 'ipv4');
}

/** Whether `url` is on `origin` exactly (the development webhook receiver of `npm start`, allowed though on loopback). */
export function isDevOrigin(url: string, origin: string | undefined): boolean {
  if (origin === undefined) return false;
  try {
    return new URL(url).origin === origin;
  } catch {
    return false;
  }
}

export class TargetRefused extends Error {
  override readonly name = 'TargetRefused';
}

/** Resolves a host the way a connection will, refusing non-public answers unless allowed. */
async function resolve(host: string, allowPrivate: boolean): Promise<{ address: string; family: number }[]> {
  const bare = host.startsWith('[') ? host.slice(1, -1) : host;
  const addresses =
    net.isIP(bare) !== 0
      ? [{ address: bare, family: net.isIP(bare) }]
      : await dns.promises.lookup(bare, { all: true, verbatim: true });
  if (!allowPrivate) {
    const refused = addresses.find((a) => !isPublicAddress(a.address));
    if (refused !== undefined) {
      throw new TargetRefused(`${bare} resolves to ${refused.address}, a private or reserved address`);
    }
  }
  return addresses;
}

/**
 * Checks a user's URL at the time it is set: http(s), no credentials, a host that resolves to
 * public addresses only. Answers the refusal's reason, or undefined when it may be used.
 */
export async function refusalOf(url: string, allowPrivate: boolean): Promise<string | undefined> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'not a URL';
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') return 'only http and https URLs';
  if (parsed.username !== '' || parsed.password !== '') return 'a URL with credentials is refused';
  try {
    await resolve(parsed.hostname, allowPrivate);
    return undefined;
  } catch (error) {
    return error instanceof TargetRefused ? error.message : `${parsed.hostname} does not resolve`;
  }
}

export interface TargetRequest {
  readonly url: string;
  readonly method: 'POST';
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer | string;
}

export interface TargetResponse {
  readonly status: number;
  readonly body: string;
}

export interface SendOptions {
  readonly allowPrivate: boolean;
  readonly timeoutMs: number;
  /** Redirects followed (each hop checked again); default 3. */
  readonly maxRedirects?: number;
}

/** Largest response body read (the rest is discarded): a receiver cannot make the server hold more. */
const MAX_RESPONSE_BYTES = 64 * 1024;

/** POSTs to a user's URL through the guarded resolver; redirects re-checked hop by hop. */
export async function sendToTarget(request: TargetRequest, options: SendOptions): Promise<TargetResponse> {
  let url = new URL(request.url);
  for (let hop = 0; ; hop++) {
    // An IP literal is connected to without a lookup: checked here; a name in the lookup below.
    const bare = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    if (net.isIP(bare) !== 0) await resolve(bare, options.allowPrivate);
    const response = await once(url, request, options);
    if (response.status >= 300 && response.status < 400 && response.location !== undefined) {
      if (hop >= (options.maxRedirects ?? 3)) throw new TargetRefused(`more than ${hop} redirects`);
      url = new URL(response.location, url);
      if (url.protocol !== 'https:' && url.protocol !== 'http:')
        throw new TargetRefused('redirect off http(s)');
      continue;
    }
    return { status: response.status, body: response.body };
  }
}

function once(
  url: URL,
  request: TargetRequest,
  options: SendOptions,
): Promise<TargetResponse & { location: string | undefined }> {
  const lookup: net.LookupFunction = (hostname, _opts, callback) => {
    resolve(hostname, options.allowPrivate).then(
      (addresses) => {
        const first = addresses[0]!;
        // Node 20 asks for all addresses when autoSelectFamily is on.
        if (_opts.all === true) callback(null, addresses);
        else callback(null, first.address, first.family);
      },
      (error: unknown) => {
        callback(error as NodeJS.ErrnoException, '', 0);
      },
    );
  };
  const client = url.protocol === 'https:' ? https : http;
  return new Promise((resolvePromise, reject) => {
    const req = client.request(
      url,
      { method: request.method, headers: request.headers, lookup, timeout: options.timeoutMs },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          if (size < MAX_RESPONSE_BYTES) chunks.push(chunk);
          size += chunk.length;
        });
        res.on('end', () => {
          const location = res.headers.location;
          resolvePromise({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).subarray(0, MAX_RESPONSE_BYTES).toString('utf8'),
            location: typeof location === 'string' ? location : undefined,
          });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => {
      req.destroy(new Error(`no answer from ${url.host} within ${options.timeoutMs} ms`));
    });
    req.on('error', reject);
    req.end(request.body);
  });
}

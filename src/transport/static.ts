import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { brotliCompressSync, constants as zlib, gzipSync } from 'node:zlib';
import type uWS from 'uWebSockets.js';

/*
 * Serves the built web pages (scripts/build-web.ts) from the uWS app. Only the files the build's
 * manifest lists exist here: they are read and compressed once, at registration (a few hundred
 * KiB), so a request is a map lookup and one corked write, and no request path ever reaches the
 * file system. Caching: hashed assets are immutable for a year; HTML is `no-cache` with an ETag,
 * so a new build is picked up on the next load and an unchanged page costs a 304.
 *
 * `/dev/actors` (the actor-state visualizer) is a development page: served unless `devOnly` says
 * otherwise (the composition root disables it when NODE_ENV is production). Its data never depends
 * on this: the `actors` channel answers admins only, whatever serves the page.
 */

export interface StaticOptions {
  /** The build's output directory, holding manifest.json. */
  readonly root: string;
  /** Page path → HTML file relative to `root`, e.g. `{ '/': 'dashboard/index.html' }`. */
  readonly routes: Readonly<Record<string, string>>;
  /** Page paths served only when `enabled` (development pages). */
  readonly devOnly?: { readonly paths: readonly string[]; readonly enabled: boolean };
}

/** The representation of one file, ready to write. */
export interface StaticFile {
  readonly path: string;
  readonly contentType: string;
  readonly cacheControl: string;
  readonly etag: string;
  readonly body: Buffer;
  readonly gzip?: Buffer;
  readonly br?: Buffer;
}

export interface StaticResponse {
  readonly status: '200 OK' | '304 Not Modified' | '404 Not Found' | '503 Service Unavailable';
  readonly headers: readonly (readonly [string, string])[];
  readonly body: Buffer | string;
}

interface Manifest {
  readonly files: Readonly<Record<string, { readonly immutable: boolean }>>;
}

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
};

export const IMMUTABLE_CACHE = 'public, max-age=31536000, immutable';
export const REVALIDATE_CACHE = 'no-cache';
/** Below this, compression costs more than it saves. */
const COMPRESS_MIN_BYTES = 1024;

/**
 * Same-origin scripts and sockets only. Inline styles are allowed because the chart library sets
 * style attributes; no inline script runs.
 */
const PAGE_SECURITY: readonly (readonly [string, string])[] = [
  [
    'content-security-policy',
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
      "connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  ],
  ['x-frame-options', 'DENY'],
];
const COMMON_SECURITY: readonly (readonly [string, string])[] = [
  ['x-content-type-options', 'nosniff'],
  // The visualizer may carry an admin token in its query string: never leak it in a Referer.
  ['referrer-policy', 'no-referrer'],
];

export function contentTypeOf(path: string): string {
  return CONTENT_TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream';
}

/** Hashed build outputs never change under their name; everything else must be revalidated. */
export function cacheControlOf(immutable: boolean): string {
  return immutable ? IMMUTABLE_CACHE : REVALIDATE_CACHE;
}

/** A weak validator: it names the content, whatever encoding carries it. */
export function etagOf(body: Buffer): string {
  return `W/"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
}

/** Whether an `If-None-Match` header matches the ETag (weak comparison, lists and `*`). */
export function etagMatches(ifNoneMatch: string, etag: string): boolean {
  if (ifNoneMatch === '') return false;
  if (ifNoneMatch.trim() === '*') return true;
  const opaque = (tag: string) => tag.trim().replace(/^W\//, '');
  const wanted = opaque(etag);
  return ifNoneMatch.split(',').some((tag) => opaque(tag) === wanted);
}

/** The best encoding the client accepts among those prepared (`br` over `gzip`), honouring q=0. */
export function chooseEncoding(
  acceptEncoding: string,
  available: { br: boolean; gzip: boolean },
): 'br' | 'gzip' | undefined {
  const accepted = new Map<string, number>();
  for (const part of acceptEncoding.toLowerCase().split(',')) {
    const [name, ...params] = part.trim().split(';');
    if (name === undefined || name === '') continue;
    const q = params.map((p) => /^\s*q=([0-9.]+)\s*$/.exec(p)?.[1]).find((v) => v !== undefined);
    accepted.set(name, q === undefined ? 1 : Number(q));
  }
  const weight = (name: string) => accepted.get(name) ?? accepted.get('*') ?? 0;
  if (available.br && weight('br') > 0) return 'br';
  if (available.gzip && weight('gzip') > 0) return 'gzip';
  return undefined;
}

/** Prepares one file: type, caching, validator, and compressed forms for text. */
export function prepareFile(path: string, body: Buffer, immutable: boolean): StaticFile {
  const contentType = contentTypeOf(path);
  const file = { path, contentType, cacheControl: cacheControlOf(immutable), etag: etagOf(body), body };
  // Source maps are fetched only by open developer tools: not worth compressing at every start.
  const compressible = /^(text\/|application\/json|image\/svg)/.test(contentType) && !path.endsWith('.map');
  if (!compressible || body.length < COMPRESS_MIN_BYTES) return file;
  return {
    ...file,
    gzip: gzipSync(body, { level: 9 }),
    // Quality 6: the whole build compresses in ~70 ms at start against ~250 ms at 9, for 1% more bytes.
    br: brotliCompressSync(body, {
      params: { [zlib.BROTLI_PARAM_QUALITY]: 6, [zlib.BROTLI_PARAM_SIZE_HINT]: body.length },
    }),
  };
}

/** The response to a GET of `file` (undefined: not found), given the request's headers. */
export function respond(
  file: StaticFile | undefined,
  request: { readonly ifNoneMatch: string; readonly acceptEncoding: string },
): StaticResponse {
  if (file === undefined) {
    return {
      status: '404 Not Found',
      headers: [
        ['content-type', 'text/plain; charset=utf-8'],
        ['cache-control', 'no-store'],
        ...COMMON_SECURITY,
      ],
      body: 'not found\n',
    };
  }
  const headers: (readonly [string, string])[] = [
    ['cache-control', file.cacheControl],
    ['etag', file.etag],
    ['vary', 'accept-encoding'],
    ...COMMON_SECURITY,
  ];
  if (file.contentType.startsWith('text/html')) headers.push(...PAGE_SECURITY);
  if (etagMatches(request.ifNoneMatch, file.etag)) return { status: '304 Not Modified', headers, body: '' };
  const encoding = chooseEncoding(request.acceptEncoding, {
    br: file.br !== undefined,
    gzip: file.gzip !== undefined,
  });
  headers.push(['content-type', file.contentType]);
  if (encoding !== undefined) headers.push(['content-encoding', encoding]);
  const body = encoding === 'br' ? file.br! : encoding === 'gzip' ? file.gzip! : file.body;
  return { status: '200 OK', headers, body };
}

/** Loads every file of the manifest in `root`; throws when the build is missing or incomplete. */
export function loadBuild(root: string): Map<string, StaticFile> {
  const manifest = JSON.parse(readFileSync(join(root, 'manifest.json'), 'utf8')) as Manifest;
  const files = new Map<string, StaticFile>();
  for (const [path, { immutable }] of Object.entries(manifest.files)) {
    files.set(path, prepareFile(path, readFileSync(join(root, path)), immutable));
  }
  return files;
}

/** Which pages to register: dev-only pages drop out unless enabled. */
export function servedRoutes(options: Pick<StaticOptions, 'routes' | 'devOnly'>): [string, string][] {
  const hidden = new Set(options.devOnly?.enabled === false ? options.devOnly.paths : []);
  return Object.entries(options.routes).filter(([path]) => !hidden.has(path));
}

/** Whether development pages are served: not in production, unless explicitly enabled. */
export function devPagesEnabled(nodeEnv: string | undefined, override?: boolean): boolean {
  return override ?? nodeEnv !== 'production';
}

export interface StaticSite {
  /** Files loaded from the build; 0 when it was missing (pages then answer 503). */
  readonly files: number;
  /** Re-reads the build (after buildWeb() rebuilt it). */
  reload(): void;
}

/**
 * Registers GET/HEAD for each page path (also with a trailing slash) and for `/assets/*`. Register
 * it before the HTTP routes' catch-all or after: uWS prefers the more specific pattern.
 */
export function registerStatic(app: uWS.TemplatedApp, options: StaticOptions): StaticSite {
  let files = new Map<string, StaticFile>();
  let problem: string | undefined;
  const load = (): void => {
    try {
      files = loadBuild(options.root);
      problem = undefined;
    } catch (error) {
      files = new Map();
      problem = `the web pages are not built (${error instanceof Error ? error.message : String(error)}): run \`tsx scripts/build-web.ts\``;
    }
  };
  load();

  const serve = (res: uWS.HttpResponse, req: uWS.HttpRequest, path: string, head: boolean): void => {
    const answer: StaticResponse =
      problem === undefined
        ? respond(files.get(path), {
            ifNoneMatch: req.getHeader('if-none-match'),
            acceptEncoding: req.getHeader('accept-encoding'),
          })
        : {
            status: '503 Service Unavailable',
            headers: [
              ['content-type', 'text/plain; charset=utf-8'],
              ['cache-control', 'no-store'],
            ],
            body: `${problem}\n`,
          };
    res.cork(() => {
      res.writeStatus(answer.status);
      for (const [name, value] of answer.headers) res.writeHeader(name, value);
      // uWS 20 aborts the process when endWithoutBody() is given a length: HEAD goes without one.
      if (head) res.endWithoutBody();
      else res.end(answer.body);
    });
  };

  for (const [page, file] of servedRoutes(options)) {
    const patterns = page === '/' ? ['/'] : [page, `${page.replace(/\/+$/, '')}/`];
    for (const pattern of patterns) {
      app.get(pattern, (res, req) => {
        serve(res, req, file, false);
      });
      app.head(pattern, (res, req) => {
        serve(res, req, file, true);
      });
    }
  }
  const asset = (req: uWS.HttpRequest) => req.getUrl().slice(1); // '/assets/x.js' → 'assets/x.js'
  app.get('/assets/*', (res, req) => {
    serve(res, req, asset(req), false);
  });
  app.head('/assets/*', (res, req) => {
    serve(res, req, asset(req), true);
  });

  return {
    get files() {
      return files.size;
    },
    reload: load,
  };
}

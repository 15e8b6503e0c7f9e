import { describe, expect, it } from 'vitest';
import {
  cacheControlOf,
  chooseEncoding,
  contentTypeOf,
  devPagesEnabled,
  etagMatches,
  IMMUTABLE_CACHE,
  prepareFile,
  respond,
  REVALIDATE_CACHE,
  servedRoutes,
  type StaticResponse,
} from '../../src/transport/static.ts';

/** The static server's decisions: content types, caching, validators, encodings, dev-only pages. */

const header = (response: StaticResponse, name: string) => response.headers.find(([n]) => n === name)?.[1];
const big = Buffer.from('console.log("hello");\n'.repeat(200));
const plain = { ifNoneMatch: '', acceptEncoding: '' };

describe('static serving', () => {
  it('gives each kind of file its content type', () => {
    expect(contentTypeOf('dashboard/index.html')).toBe('text/html; charset=utf-8');
    expect(contentTypeOf('assets/dashboard-ABCD1234.js')).toBe('text/javascript; charset=utf-8');
    expect(contentTypeOf('assets/dashboard-ABCD1234.css')).toBe('text/css; charset=utf-8');
    expect(contentTypeOf('assets/dashboard-ABCD1234.js.map')).toBe('application/json; charset=utf-8');
    expect(contentTypeOf('assets/logo.SVG')).toBe('image/svg+xml');
    expect(contentTypeOf('assets/unknown.bin')).toBe('application/octet-stream');
  });

  it('caches hashed assets for a year and makes HTML revalidate', () => {
    expect(cacheControlOf(true)).toBe(IMMUTABLE_CACHE);
    expect(cacheControlOf(false)).toBe(REVALIDATE_CACHE);
    const asset = respond(prepareFile('assets/a-X.js', big, true), plain);
    expect(asset.status).toBe('200 OK');
    expect(header(asset, 'cache-control')).toBe('public, max-age=31536000, immutable');
    expect(header(asset, 'content-type')).toBe('text/javascript; charset=utf-8');
    expect(header(asset, 'x-content-type-options')).toBe('nosniff');
    expect(header(asset, 'content-security-policy')).toBeUndefined();

    const page = respond(prepareFile('dashboard/index.html', Buffer.from('<!doctype html>'), false), plain);
    expect(header(page, 'cache-control')).toBe('no-cache');
    expect(header(page, 'etag')).toMatch(/^W\/"[A-Za-z0-9_-]+"$/);
    expect(header(page, 'content-security-policy')).toContain("script-src 'self'");
    expect(header(page, 'referrer-policy')).toBe('no-referrer');
  });

  it('answers 304 to a matching If-None-Match, whatever its form', () => {
    const file = prepareFile('dashboard/index.html', Buffer.from('<p>hi</p>'), false);
    const opaque = file.etag.slice(2);
    for (const ifNoneMatch of [file.etag, opaque, `"other", ${file.etag}`, '*']) {
      const response = respond(file, { ifNoneMatch, acceptEncoding: 'gzip' });
      expect(response.status).toBe('304 Not Modified');
      expect(response.body).toBe('');
      expect(header(response, 'etag')).toBe(file.etag);
    }
    expect(respond(file, { ifNoneMatch: '"stale"', acceptEncoding: '' }).status).toBe('200 OK');
    expect(etagMatches('', file.etag)).toBe(false);
  });

  it('changes the ETag with the content', () => {
    const a = prepareFile('x.html', Buffer.from('a'), false);
    const b = prepareFile('x.html', Buffer.from('b'), false);
    expect(a.etag).not.toBe(b.etag);
    expect(prepareFile('x.html', Buffer.from('a'), false).etag).toBe(a.etag);
  });

  it('compresses text worth compressing and picks the best encoding the client accepts', () => {
    const file = prepareFile('assets/a-X.js', big, true);
    expect(file.br!.length).toBeLessThan(big.length);
    expect(file.gzip!.length).toBeLessThan(big.length);
    const br = respond(file, { ifNoneMatch: '', acceptEncoding: 'gzip, deflate, br' });
    expect(header(br, 'content-encoding')).toBe('br');
    expect(br.body).toBe(file.br);
    expect(header(br, 'vary')).toBe('accept-encoding');
    const gzip = respond(file, { ifNoneMatch: '', acceptEncoding: 'gzip, br;q=0' });
    expect(header(gzip, 'content-encoding')).toBe('gzip');
    const identity = respond(file, plain);
    expect(header(identity, 'content-encoding')).toBeUndefined();
    expect(identity.body).toBe(big);

    expect(prepareFile('small.js', Buffer.from('1'), true).gzip).toBeUndefined();
    expect(prepareFile('image.png', big, true).br).toBeUndefined();
    expect(chooseEncoding('*', { br: true, gzip: true })).toBe('br');
    expect(chooseEncoding('*;q=0', { br: true, gzip: true })).toBeUndefined();
    expect(chooseEncoding('identity', { br: true, gzip: true })).toBeUndefined();
  });

  it('answers 404 for a file the build does not have, never cached', () => {
    const missing = respond(undefined, plain);
    expect(missing.status).toBe('404 Not Found');
    expect(header(missing, 'cache-control')).toBe('no-store');
    expect(header(missing, 'content-type')).toBe('text/plain; charset=utf-8');
  });

  it('serves development pages only when enabled; not in production unless asked', () => {
    const routes = { '/': 'dashboard/index.html', '/dev/actors': 'actors/index.html' };
    const devOnly = (enabled: boolean) => ({ paths: ['/dev/actors'], enabled });
    expect(servedRoutes({ routes, devOnly: devOnly(true) }).map(([p]) => p)).toEqual(['/', '/dev/actors']);
    expect(servedRoutes({ routes, devOnly: devOnly(false) }).map(([p]) => p)).toEqual(['/']);
    expect(servedRoutes({ routes }).map(([p]) => p)).toEqual(['/', '/dev/actors']);
    expect(devPagesEnabled('development')).toBe(true);
    expect(devPagesEnabled('test')).toBe(true);
    expect(devPagesEnabled('production')).toBe(false);
    expect(devPagesEnabled('production', true)).toBe(true);
    expect(devPagesEnabled(undefined)).toBe(true);
  });
});

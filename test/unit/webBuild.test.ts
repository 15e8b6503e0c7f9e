import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildWeb, type BuildWebResult } from '../../scripts/build-web.ts';
import { loadBuild } from '../../src/transport/static.ts';

/** The web build: hashed bundles, HTML pointing at them, a manifest the server loads, rebuilds only when stale. */

let dir: string;
let first: BuildWebResult;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'web-build-'));
  first = await buildWeb({ outDir: join(dir, 'web') });
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('web build', () => {
  it('bundles every page with content-hashed assets and fills them into its HTML', async () => {
    expect(first.built).toBe(true);
    expect(first.manifest.pages).toEqual({
      actors: 'actors/index.html',
      admin: 'admin/index.html',
      dashboard: 'dashboard/index.html',
      issuer: 'issuer/index.html',
    });
    for (const page of ['dashboard', 'actors', 'issuer', 'admin']) {
      const html = await readFile(join(first.outDir, page, 'index.html'), 'utf8');
      const script = /<script type="module" src="\/(assets\/[^"]+\.js)"><\/script>/.exec(html)?.[1];
      const style = /<link rel="stylesheet" href="\/(assets\/[^"]+\.css)">/.exec(html)?.[1];
      expect(script).toMatch(new RegExp(`^assets/${page}-[A-Z0-9]{8}\\.js$`));
      expect(style).toMatch(new RegExp(`^assets/${page}-[A-Z0-9]{8}\\.css$`));
      expect(first.manifest.files[script!]).toEqual({ immutable: true });
      expect(first.manifest.files[style!]).toEqual({ immutable: true });
      expect(html).not.toContain('build:');
    }
    expect(first.manifest.files['dashboard/index.html']).toEqual({ immutable: false });
    expect(first.manifest.inputs).toContain('machines/marketLifecycle.ts');
    expect(first.manifest.inputs).toContain('src/client/localBook.ts');
    expect(first.manifest.inputs.some((i) => i.includes('lightweight-charts'))).toBe(true);
  });

  it('bundles for browsers: no Node built-ins in the output', async () => {
    for (const file of Object.keys(first.manifest.files).filter((f) => f.endsWith('.js'))) {
      const code = await readFile(join(first.outDir, file), 'utf8');
      expect(code).not.toMatch(/from\s*["']node:/);
      expect(code).not.toMatch(/require\(["'](fs|path|crypto|module)["']\)/);
    }
  });

  it('does nothing when the output is current, rebuilds when forced', async () => {
    const again = await buildWeb({ outDir: first.outDir });
    expect(again.built).toBe(false);
    expect(again.manifest.inputsHash).toBe(first.manifest.inputsHash);
    const forced = await buildWeb({ outDir: first.outDir, force: true });
    expect(forced.built).toBe(true);
    expect(forced.manifest.files).toEqual(first.manifest.files);
  });

  it('shares one build between concurrent callers', async () => {
    const [a, b] = await Promise.all([
      buildWeb({ outDir: first.outDir, force: true }),
      buildWeb({ outDir: first.outDir, force: true }),
    ]);
    expect(a).toBe(b);
    expect(loadBuild(first.outDir).size).toBe(Object.keys(first.manifest.files).length);
  });

  it('produces what the static server loads', () => {
    const files = loadBuild(first.outDir);
    expect([...files.keys()].sort()).toEqual(Object.keys(first.manifest.files).sort());
    const page = files.get('dashboard/index.html')!;
    expect(page.contentType).toBe('text/html; charset=utf-8');
    expect(page.cacheControl).toBe('no-cache');
  });
});

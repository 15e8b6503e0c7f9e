import { createHash, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';
import { parseCommandLine } from './lib/cli.ts';

/*
 * Builds the web pages (web/<page>/index.html + main.ts + style.css) into `outDir`: one ESM bundle
 * and one stylesheet per page under `assets/`, content-hashed so the server can cache them for a
 * year, shared code split into hashed chunks, linked source maps, and each page's HTML with the
 * hashed names filled in. `manifest.json` lists every file (src/transport/static.ts serves only
 * those) and the inputs the build read with their combined hash: a later call rebuilds only when
 * one of them changed or a page was added. The output replaces the previous one in one rename, so a
 * server reading it never sees half a build.
 */

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const DEFAULT_WEB_OUT_DIR = join(REPO_ROOT, 'dist', 'web');
const WEB_DIR = join(REPO_ROOT, 'web');
const MANIFEST = 'manifest.json';
const MANIFEST_VERSION = 1;

export interface WebManifestFile {
  /** Content-hashed name: the server may let browsers cache it for ever. */
  readonly immutable: boolean;
}

export interface WebManifest {
  readonly version: typeof MANIFEST_VERSION;
  readonly builtAt: number;
  /** sha256 over every input's path and content (`inputs`). */
  readonly inputsHash: string;
  /** Paths relative to the repository root: sources, packages' files, HTML, this script. */
  readonly inputs: readonly string[];
  /** Output paths relative to `outDir`, with `/` separators. */
  readonly files: Readonly<Record<string, WebManifestFile>>;
  /** Page name → its HTML file (relative to `outDir`). */
  readonly pages: Readonly<Record<string, string>>;
}

export interface BuildWebOptions {
  /** Default dist/web in the repository. */
  readonly outDir?: string;
  /** Rebuild even when the inputs did not change. */
  readonly force?: boolean;
}

export interface BuildWebResult {
  readonly built: boolean;
  readonly outDir: string;
  readonly ms: number;
  readonly manifest: WebManifest;
}

/** Builds in progress in this process, by output directory: concurrent callers share one. */
const building = new Map<string, Promise<BuildWebResult>>();

/**
 * Builds the pages when the output is missing or stale (or `force`); cheap when it is current
 * (~50 ms: it hashes the inputs of the previous build). Safe to call concurrently, also from
 * several processes (test workers): each builds aside and moves its result in whole.
 */
export function buildWeb(options: BuildWebOptions = {}): Promise<BuildWebResult> {
  const outDir = resolve(options.outDir ?? DEFAULT_WEB_OUT_DIR);
  const running = building.get(outDir);
  if (running !== undefined) return running;
  const build = buildOnce(outDir, options.force === true).finally(() => building.delete(outDir));
  building.set(outDir, build);
  return build;
}

async function buildOnce(outDir: string, force: boolean): Promise<BuildWebResult> {
  const started = performance.now();
  const pages = await findPages();
  if (!force) {
    const current = await currentManifest(outDir, pages);
    if (current !== undefined) {
      return { built: false, outDir, ms: performance.now() - started, manifest: current };
    }
  }
  const staging = `${outDir}.staging-${uniqueSuffix()}`;
  try {
    const manifest = await buildInto(staging, pages);
    await swapIn(staging, outDir);
    return { built: true, outDir, ms: performance.now() - started, manifest };
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/** The pages: every directory of web/ holding an index.html and a main.ts. */
async function findPages(): Promise<string[]> {
  const entries = await readdir(WEB_DIR, { withFileTypes: true });
  return entries
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .filter(
      (name) => existsSync(join(WEB_DIR, name, 'index.html')) && existsSync(join(WEB_DIR, name, 'main.ts')),
    )
    .sort();
}

/** The manifest of `outDir` when it was built from exactly the inputs there are now. */
async function currentManifest(outDir: string, pages: readonly string[]): Promise<WebManifest | undefined> {
  let manifest: WebManifest;
  try {
    manifest = JSON.parse(await readFile(join(outDir, MANIFEST), 'utf8')) as WebManifest;
  } catch {
    return undefined;
  }
  // Written by another version of this script: its shape may differ.
  if ((manifest.version as number) !== MANIFEST_VERSION) return undefined;
  if (Object.keys(manifest.pages).sort().join('\n') !== pages.join('\n')) return undefined;
  for (const file of Object.keys(manifest.files)) if (!existsSync(join(outDir, file))) return undefined;
  const hash = await hashInputs(manifest.inputs);
  return hash === manifest.inputsHash ? manifest : undefined;
}

async function hashInputs(inputs: readonly string[]): Promise<string | undefined> {
  const hash = createHash('sha256');
  for (const input of inputs) {
    let content: Buffer;
    try {
      content = await readFile(join(REPO_ROOT, input));
    } catch {
      return undefined; // an input is gone: stale
    }
    hash.update(input).update('\0').update(content).update('\0');
  }
  return hash.digest('hex');
}

async function buildInto(dir: string, pages: readonly string[]): Promise<WebManifest> {
  const entryPoints: { in: string; out: string }[] = [];
  for (const page of pages) {
    entryPoints.push({ in: join(WEB_DIR, page, 'main.ts'), out: page });
    if (existsSync(join(WEB_DIR, page, 'style.css'))) {
      entryPoints.push({ in: join(WEB_DIR, page, 'style.css'), out: page });
    }
  }
  const result = await esbuild.build({
    absWorkingDir: REPO_ROOT,
    entryPoints,
    outdir: join(dir, 'assets'),
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022', 'chrome109', 'firefox115', 'safari16'],
    minify: true,
    sourcemap: 'linked',
    entryNames: '[name]-[hash]',
    chunkNames: 'chunk-[hash]',
    assetNames: '[name]-[hash]',
    publicPath: '/assets/',
    metafile: true,
    logLevel: 'silent',
    define: { 'process.env.NODE_ENV': '"production"' },
  });

  const files: Record<string, WebManifestFile> = {};
  const pageAssets = new Map<string, { js?: string; css?: string }>();
  for (const [output, meta] of Object.entries(result.metafile.outputs)) {
    const rel = toPosix(relative(dir, join(REPO_ROOT, output)));
    files[rel] = { immutable: true };
    if (meta.entryPoint === undefined) continue;
    const page = pages.find((p) => resolve(REPO_ROOT, meta.entryPoint!).startsWith(join(WEB_DIR, p) + sep));
    if (page === undefined) continue;
    const assets = pageAssets.get(page) ?? {};
    if (rel.endsWith('.js')) assets.js = rel;
    else if (rel.endsWith('.css')) assets.css = rel;
    pageAssets.set(page, assets);
  }

  const inputs = new Set(Object.keys(result.metafile.inputs).filter((input) => !input.includes(':')));
  inputs.add(toPosix(relative(REPO_ROOT, fileURLToPath(import.meta.url))));
  const pageFiles: Record<string, string> = {};
  for (const page of pages) {
    const source = join(WEB_DIR, page, 'index.html');
    inputs.add(toPosix(relative(REPO_ROOT, source)));
    const assets = pageAssets.get(page);
    if (assets?.js === undefined) throw new Error(`web build: no bundle for page ${page}`);
    const html = fillHtml(await readFile(source, 'utf8'), assets.js, assets.css, page);
    const rel = `${page}/index.html`;
    await mkdir(join(dir, page), { recursive: true });
    await writeFile(join(dir, rel), html);
    files[rel] = { immutable: false };
    pageFiles[page] = rel;
  }

  const sortedInputs = [...inputs].map(toPosix).sort();
  const inputsHash = await hashInputs(sortedInputs);
  if (inputsHash === undefined) throw new Error('web build: an input vanished during the build');
  const manifest: WebManifest = {
    version: MANIFEST_VERSION,
    builtAt: Date.now(),
    inputsHash,
    inputs: sortedInputs,
    files,
    pages: pageFiles,
  };
  await writeFile(join(dir, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

/** Replaces the `<!-- build:css -->` and `<!-- build:js -->` markers with the hashed assets. */
function fillHtml(html: string, js: string, css: string | undefined, page: string): string {
  const markers = ['<!-- build:css -->', '<!-- build:js -->'];
  for (const marker of markers) {
    if (!html.includes(marker)) throw new Error(`web/${page}/index.html lacks the ${marker} marker`);
  }
  return html
    .replace(markers[0]!, css === undefined ? '' : `<link rel="stylesheet" href="/${css}">`)
    .replace(markers[1]!, `<script type="module" src="/${js}"></script>`);
}

/**
 * Moves the fresh build into place: the previous output is moved aside first (rename is atomic,
 * and it refuses to replace a non-empty directory) and removed after. When another process moved
 * its build in between, this tries again; either result will do, both come from the same inputs.
 */
async function swapIn(staging: string, outDir: string): Promise<void> {
  await mkdir(dirname(outDir), { recursive: true });
  for (let attempt = 0; attempt < 3; attempt++) {
    const old = `${outDir}.old-${uniqueSuffix()}`;
    try {
      await rename(outDir, old);
    } catch (error) {
      if (!isCode(error, 'ENOENT')) throw error;
    }
    try {
      await rename(staging, outDir);
      return;
    } catch (error) {
      if (!isCode(error, 'ENOTEMPTY') && !isCode(error, 'EEXIST')) throw error;
    } finally {
      await rm(old, { recursive: true, force: true });
    }
  }
}

function isCode(error: unknown, code: string): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === code;
}

function uniqueSuffix(): string {
  return `${process.pid}-${randomUUID().slice(0, 8)}`;
}

function toPosix(path: string): string {
  return path.split(sep).join('/');
}

// `tsx scripts/build-web.ts [--force] [--out DIR]`
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const { values } = parseCommandLine({
    name: 'npm run build:web --',
    usage: `usage: npm run build:web -- [--force] [--out DIR]

Builds the web pages (web/<page>/) with esbuild into content-hashed bundles and a manifest
(default dist/web); npm run build (what npm start runs first) builds them too.

  --force      rebuild even when the inputs did not change
  --out DIR    output directory (default dist/web)
  -h, --help   this text`,
    options: { force: { type: 'boolean', default: false }, out: { type: 'string' } },
  });
  const result = await buildWeb({ outDir: values.out, force: values.force });
  const files = Object.keys(result.manifest.files).length;
  console.log(
    `${result.built ? 'built' : 'up to date:'} ${result.outDir} (${files} files) in ${Math.round(result.ms)} ms`,
  );
}

/**
 * `npm run build`, what `npm start` runs first: the exchange and the web pages, into dist/.
 *
 *   dist/src/main.js   src/main.ts and everything of src/ and machines/ it imports, bundled by
 *                      esbuild into one ES module (plus main.js.map); the packages stay imports,
 *                      resolved from node_modules at run time. No type check: `npm run check` does that.
 *   dist/web/          the web pages (scripts/build-web.ts; rebuilt only when an input changed).
 *
 * The bundle reads its run-time files from the repository root (src/repoRoot.ts): the migrations,
 * contracts/, .data/contracts and dist/web, so it runs from dist/ in the checkout it was built in.
 */
import { rename, mkdir, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';
import { buildWeb, REPO_ROOT } from './build-web.ts';
import { parseCommandLine } from './lib/cli.ts';

export const SERVER_ENTRY = join(REPO_ROOT, 'src', 'main.ts');
export const SERVER_OUT = join(REPO_ROOT, 'dist', 'src', 'main.js');
/** Worker-thread entries bundled beside main.js (each runs in a thread of its own). */
const THREAD_ENTRIES = [join(REPO_ROOT, 'src', 'analytics', 'backtestThread.ts')];

/** Bundles the exchange into `outfile`; each file is written aside and renamed into place. */
export async function buildServer(outfile = SERVER_OUT): Promise<void> {
  await bundle(SERVER_ENTRY, outfile);
  for (const entry of THREAD_ENTRIES)
    await bundle(entry, join(dirname(outfile), `${basename(entry, '.ts')}.js`));
}

async function bundle(entry: string, outfile: string): Promise<void> {
  const result = await esbuild.build({
    absWorkingDir: REPO_ROOT,
    entryPoints: [entry],
    outfile,
    bundle: true,
    packages: 'external',
    platform: 'node',
    format: 'esm',
    target: 'node20.9',
    sourcemap: 'linked',
    // Classes and functions keep their names (stack traces, error names) where the bundle would
    // rename one that clashes with another module's.
    keepNames: true,
    write: false,
    logLevel: 'warning',
  });
  await mkdir(dirname(outfile), { recursive: true });
  for (const file of result.outputFiles) {
    const aside = `${file.path}.${process.pid}.tmp`;
    await writeFile(aside, file.contents);
    await rename(aside, file.path);
  }
}

// `tsx scripts/build.ts [--force-web]`
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const { values } = parseCommandLine({
    name: 'npm run build --',
    usage: `usage: npm run build -- [--force-web]

Builds what npm start runs: the exchange bundled by esbuild into dist/src/main.js (src/ and
machines/, no type check: npm run check does that) and the web pages into dist/web (only when
their inputs changed).

  --force-web  rebuild the web pages even when their inputs did not change
  -h, --help   this text`,
    options: { 'force-web': { type: 'boolean', default: false } },
  });
  const started = performance.now();
  await buildServer();
  const server = Math.round(performance.now() - started);
  const web = await buildWeb({ force: values['force-web'] });
  console.log(
    `built ${relative(REPO_ROOT, SERVER_OUT)} in ${server} ms; web ${web.built ? 'built' : 'up to date'}: ${relative(REPO_ROOT, web.outDir)} in ${Math.round(web.ms)} ms`,
  );
}

import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The repository root: the nearest directory above this module that holds a package.json. Found,
 * not fixed, because this code runs both from its sources (src/, under tsx and vitest) and from the
 * bundle `npm run build` writes (dist/src/main.js, what `npm start` runs), where `import.meta.url`
 * is the bundle's. The files the exchange reads at run time (the migrations, contracts/, the
 * compiled contracts in .data/contracts, the built web pages in dist/web) are looked up from here.
 */
export const REPO_ROOT = findRoot(path.dirname(fileURLToPath(import.meta.url)));

function findRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

import { ensureDebianTool } from './debianTool.ts';

/** Where the browser tests look for Chromium (Debian's package; a browser is never downloaded). */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Where the metrics test finds `promtool` (Debian's prometheus package). */
export const PROMTOOL_PATH = process.env.PROMTOOL_PATH ?? '/usr/bin/promtool';

/** For `npm test`: the browser tests drive Debian's Chromium with playwright-core. */
export function ensureChromium(): string {
  return ensureDebianTool({
    name: 'chromium',
    path: CHROMIUM_PATH,
    debianPackage: 'chromium',
    env: 'CHROMIUM_PATH',
  });
}

/** For `npm test`: /metrics is checked with `promtool check metrics` (Prometheus's own linter). */
export function ensurePromtool(): string {
  return ensureDebianTool({
    name: 'promtool',
    path: PROMTOOL_PATH,
    debianPackage: 'prometheus',
    env: 'PROMTOOL_PATH',
  });
}

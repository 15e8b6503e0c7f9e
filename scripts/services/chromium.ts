import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { log } from './log.ts';

/** Where the browser tests look for Chromium (Debian's package; a browser is never downloaded). */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

function aptInstall(): boolean {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = (): boolean =>
    spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'chromium'], {
      env,
      stdio: ['ignore', 'inherit', 'inherit'],
    }).status === 0;
  if (install()) return true;
  log('chromium: apt-get install failed; running apt-get update and retrying');
  spawnSync('apt-get', ['update'], { env, stdio: ['ignore', 'inherit', 'inherit'] });
  return install();
}

/**
 * For `npm test`: the browser tests drive Debian's Chromium with playwright-core. Installed with
 * apt-get when missing (Debian, as root); otherwise the tests that need it fail with a message
 * saying what to install. Returns the path for CHROMIUM_PATH.
 */
export function ensureChromium(): string {
  if (fs.existsSync(CHROMIUM_PATH)) return CHROMIUM_PATH;
  const debianRoot = fs.existsSync('/etc/debian_version') && process.getuid?.() === 0;
  if (!debianRoot) {
    log(
      `chromium: not found at ${CHROMIUM_PATH}; install Debian's chromium (sudo apt-get install chromium) or set CHROMIUM_PATH`,
    );
    return CHROMIUM_PATH;
  }
  log("chromium: not found; installing Debian's chromium with apt-get");
  if (!aptInstall()) log('chromium: apt-get install chromium failed; the browser tests will fail');
  return CHROMIUM_PATH;
}

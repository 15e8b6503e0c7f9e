import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { log } from './log.ts';

/**
 * A program the tests drive, from a Debian package (nothing is downloaded from elsewhere): found at
 * its path, else installed with apt-get when we are root on Debian, else a message saying what to
 * install (the tests that need it then fail and say so too). Returns the path to hand to the tests.
 */
export function ensureDebianTool(tool: {
  name: string;
  path: string;
  debianPackage: string;
  env: string;
}): string {
  if (fs.existsSync(tool.path)) return tool.path;
  const debianRoot = fs.existsSync('/etc/debian_version') && process.getuid?.() === 0;
  if (!debianRoot) {
    log(
      `${tool.name}: not found at ${tool.path}; install Debian's ${tool.debianPackage} (sudo apt-get install ${tool.debianPackage}) or set ${tool.env}`,
    );
    return tool.path;
  }
  log(`${tool.name}: not found; installing Debian's ${tool.debianPackage} with apt-get`);
  if (!aptInstall(tool.debianPackage)) {
    log(`${tool.name}: apt-get install ${tool.debianPackage} failed; the tests that need it will fail`);
  }
  return tool.path;
}

function aptInstall(debianPackage: string): boolean {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = (): boolean =>
    spawnSync('apt-get', ['install', '-y', '--no-install-recommends', debianPackage], {
      env,
      stdio: ['ignore', 'inherit', 'inherit'],
    }).status === 0;
  if (install()) return true;
  log(`${debianPackage}: apt-get install failed; running apt-get update and retrying`);
  spawnSync('apt-get', ['update'], { env, stdio: ['ignore', 'inherit', 'inherit'] });
  return install();
}

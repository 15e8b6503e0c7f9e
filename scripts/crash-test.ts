/**
 * The crash test on its own (`npm run crash-test -- [options]`): see scripts/crash/harness.ts.
 * Progress goes to stderr; the last line of stdout is one JSON object (the summary). Exits 1 when
 * anything acknowledged was lost, mismatched or not readable through the API after a restart.
 *
 * Databases are created next to DATABASE_URL's (through its server's `postgres` database, or
 * TEST_DATABASE_ADMIN_URL when set) and dropped afterwards.
 */
import { z } from 'zod';
import { KILL_MODES, runCrashTest, type KillMode } from './crash/harness.ts';
import { parseCommandLine, usageError } from './lib/cli.ts';

const USAGE = `usage: npm run crash-test -- [options]

Runs the exchange (src/app.ts) under load on a fresh database, kills it with SIGKILL at moments
that stress recovery, restarts it, and after every restart looks up every acknowledged order
through GET /api/v1/orders; at the end checks the journal against every acknowledgement and
against recovery.

options:
  --runs N           runs, each on a fresh database (default 3; env CRASH_RUNS)
  --lives N          killed lives per run, before a last life that only checks (default 4)
  --modes LIST       kill modes of the lives, in turn, comma-separated (default all):
                     ${KILL_MODES.join(', ')}
  --users N          users of the load (default 24; with few users each has more than 1,000
                     closed orders per market and GET /orders cannot list them all)
  --kill-after A-B   load before a kill, ms, uniformly random in A..B (default 300-1500)
  --seed N           seed of the loads and kill points (default random; env CRASH_SEED)
  --keep             keep each run's database (its URL is printed) to look into a failure
  -h, --help         this text
`;

function fail(message: string): never {
  usageError('npm run crash-test --', message);
}

const args = parseCommandLine({
  name: 'npm run crash-test --',
  usage: USAGE,
  options: {
    runs: { type: 'string' },
    lives: { type: 'string' },
    modes: { type: 'string' },
    users: { type: 'string' },
    'kill-after': { type: 'string' },
    seed: { type: 'string' },
    keep: { type: 'boolean' },
  },
});

const count = z.coerce.number().int().min(1);
const env = z
  .object({
    DATABASE_URL: z.string().url().optional(),
    TEST_DATABASE_ADMIN_URL: z.string().url().optional(),
    CRASH_RUNS: count.optional(),
    CRASH_SEED: z.coerce.number().int().min(0).optional(),
  })
  .safeParse(process.env);
if (!env.success)
  fail(`bad environment: ${env.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);

function option<T>(
  name: string,
  text: string | undefined,
  schema: z.ZodType<T, z.ZodTypeDef, unknown>,
): T | undefined {
  if (text === undefined) return undefined;
  const parsed = schema.safeParse(text);
  if (!parsed.success) fail(`--${name} ${text}: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  return parsed.data;
}
const { values } = args;
const modes = option<KillMode[]>(
  'modes',
  values.modes,
  z
    .string()
    .transform((text) => text.split(','))
    .pipe(z.array(z.enum(KILL_MODES)).min(1)),
);
const window = option<[number, number]>(
  'kill-after',
  values['kill-after'],
  z
    .string()
    .regex(/^[0-9]+-[0-9]+$/, 'expected A-B (ms)')
    .transform((text) => text.split('-').map(Number) as [number, number])
    .refine(([a, b]) => a <= b, 'A must not exceed B'),
);

let adminUrl = env.data.TEST_DATABASE_ADMIN_URL;
if (adminUrl === undefined && env.data.DATABASE_URL !== undefined) {
  const url = new URL(env.data.DATABASE_URL);
  url.pathname = '/postgres';
  adminUrl = url.toString();
}
if (adminUrl === undefined) {
  fail('DATABASE_URL is not set (run it through `npm run crash-test`, which sets it)');
}

const summary = await runCrashTest({
  adminUrl,
  runs: option('runs', values.runs, count) ?? env.data.CRASH_RUNS,
  lives: option('lives', values.lives, count),
  modes,
  users: option('users', values.users, count),
  killAfterMs: window,
  keepDatabases: values.keep,
  seed: option('seed', values.seed, z.coerce.number().int().min(0)) ?? env.data.CRASH_SEED,
  log: (message) => {
    console.error(message);
  },
});
for (const problem of summary.problems) console.error(`problem: ${problem}`);
const { kills, problems, ...figures } = summary;
console.log(JSON.stringify({ ...figures, kills: kills.map((k) => `${k.mode}: ${k.note}`) }));
const clean = summary.lost + summary.mismatches + summary.missing + summary.truncated === 0;
process.exitCode = clean && problems.length === 0 ? 0 : 1;

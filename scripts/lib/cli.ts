import { parseArgs, type ParseArgsConfig } from 'node:util';

/*
 * Command lines of the scripts and benchmarks: node:util's parseArgs plus `--help` / `-h`.
 * `--help` prints the usage on stdout and exits 0; a bad argument prints one line on stderr
 * (what was wrong, and where the usage is) and exits 2. Never a stack trace: these are the first
 * commands a newcomer types.
 */

type Options = NonNullable<ParseArgsConfig['options']>;

export interface CommandLine<O extends Options> {
  /** The command as a newcomer types it, e.g. `npm run token --`. */
  readonly name: string;
  /** The usage text (first line `usage: ...`), printed by `--help`. */
  readonly usage: string;
  readonly options: O;
  readonly allowPositionals?: boolean;
  /** Default process.argv.slice(2). */
  readonly args?: readonly string[];
}

const HELP = { help: { type: 'boolean', short: 'h' } } as const;

export function parseCommandLine<O extends Options>(spec: CommandLine<O>) {
  const args = [...(spec.args ?? process.argv.slice(2))];
  // Before parsing: `--help` answers even beside arguments that would not parse.
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(spec.usage.endsWith('\n') ? spec.usage : `${spec.usage}\n`);
    process.exit(0);
  }
  try {
    return parseArgs({
      args,
      options: { ...spec.options, ...HELP },
      allowPositionals: spec.allowPositionals ?? false,
      strict: true,
    });
  } catch (error) {
    usageError(spec.name, error instanceof Error ? error.message : String(error));
  }
}

/** One line on stderr, naming the command and pointing at `--help`; exit status 2. */
export function usageError(name: string, message: string): never {
  const line = message.split('\n')[0]!.replace(/\s*To specify .*$/, '');
  process.stderr.write(`${name}: ${line} (see --help)\n`);
  process.exit(2);
}

/** Answers `--help` for an entry point that takes no arguments besides environment variables. */
export function helpOnly(name: string, usage: string): void {
  parseCommandLine({ name, usage, options: {} });
}

import { pino, type Logger } from 'pino';
import { PinoPretty } from 'pino-pretty';

/*
 * The process's logger. JSON lines (pino's own format, what log shippers read) unless stdout is a
 * terminal, where the lines are pretty-printed in this process (pino-pretty as a stream, not a
 * worker transport: a terminal is read by a person, at a person's rate). LOG_FORMAT overrides
 * the guess either way. Lines a request causes carry its `reqId` (src/transport/requestId.ts).
 */

export type LogFormat = 'auto' | 'json' | 'pretty';

export interface LoggerOptions {
  readonly level: string;
  readonly format: LogFormat;
  /** Fields on every line (e.g. `{ svc: 'exchange' }`). */
  readonly base?: Record<string, unknown>;
  /** Default process.stdout; `isTTY` decides `auto`. */
  readonly destination?: NodeJS.WritableStream & { readonly isTTY?: boolean };
}

export function createLogger(options: LoggerOptions): Logger {
  const destination = options.destination ?? process.stdout;
  const pretty = options.format === 'pretty' || (options.format === 'auto' && destination.isTTY === true);
  const settings = { level: options.level, base: options.base ?? {} };
  if (!pretty) return pino(settings, destination);
  return pino(
    settings,
    PinoPretty({
      destination,
      colorize: destination.isTTY === true,
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: 'pid,hostname,svc,reqId',
      // The correlation id leads the line, where the eye finds it.
      messageFormat: '{if reqId}[{reqId}] {end}{msg}',
      // An error's stack stays readable: pino-pretty prints `err` over several lines.
      errorLikeObjectKeys: ['err', 'error'],
      sync: true,
    }),
  );
}

import { z } from 'zod/v4';

/*
 * Shapes of environment values that several config modules parse (each module's env is a zod
 * shape that src/config.ts spreads into its one schema).
 */

/** A comma-separated list; blanks dropped. */
export const commaList = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((text) =>
      text
        .split(',')
        .map((entry) => entry.trim())
        .filter((entry) => entry !== ''),
    );

/** A JSON array of `item`, 1 to `max` long; `what` names the item in the message of bad JSON. */
export const jsonArrayEnv = <T extends z.ZodType>(item: T, what: string, max = 16) =>
  z
    .string()
    .transform((text, ctx) => {
      try {
        return JSON.parse(text) as unknown;
      } catch {
        ctx.addIssue({ code: 'custom', message: `must be a JSON array of ${what}` });
        return z.NEVER;
      }
    })
    .pipe(z.array(item).min(1).max(max));

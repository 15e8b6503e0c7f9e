import type { Logger } from 'pino';
import { ACTORS_TOPIC } from '../protocol/actors.ts';
import type { Publication } from '../protocol/topics.ts';
import type { SystemSnapshot } from './http/system.ts';

/*
 * The visualizer's system figures pushed on the admin-only `actors` channel (issue 20) instead of
 * the page polling GET /admin/system every second: `{op:"system", ...}` (the route's object)
 * every `everyMs` while the channel has a subscriber, never while nobody listens, and never two
 * reads at once (the read asks Redis for queue counts; a slow one skips ticks rather than piling
 * up). The route stays: a page reads it once at start, and outside tools use it.
 */

export interface SystemPushOptions {
  readonly snapshot: () => Promise<SystemSnapshot>;
  readonly publish: (publications: readonly Publication[]) => void;
  /** Whether the `actors` topic has subscribers now (uWS numSubscribers). */
  readonly listened: () => boolean;
  readonly everyMs: number;
  readonly log: Logger;
}

export function startSystemPush(options: SystemPushOptions): { stop(): void } {
  let reading = false;
  const timer = setInterval(() => {
    if (reading || !options.listened()) return;
    reading = true;
    options
      .snapshot()
      .then(
        (snapshot) => {
          options.publish([{ topic: ACTORS_TOPIC, message: { op: 'system', ...snapshot } }]);
        },
        (error: unknown) => {
          options.log.warn({ err: error }, 'system figures not pushed');
        },
      )
      .finally(() => {
        reading = false;
      });
  }, options.everyMs);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
    },
  };
}

import type { Logger } from 'pino';
import { Counter } from 'prom-client';
import { sql, type DatabasePool } from 'slonik';
import type { DecisionSource } from './decisionEvents.ts';

/*
 * What a refused webhook post may cost (issue 12 §3: 6,000 unsigned 60 KB posts in 6 s left a
 * 17 MB webhook_rejections table and as many warnings). Per window of `windowMs`, started by the
 * first refusal after a quiet spell:
 * - each source address (WebhookRefusals.sourceKey of the caller) gets `perAddress` refusals;
 *   after that its posts are answered 429 before anything else is done, until the window ends;
 * - at most `rowsPerWindow` refusals are stored, each cut to `bodyBytes` of body (and short
 *   error and event id texts); the others are only counted;
 * - one summary line is logged when the window ends, and the table is pruned to the newest
 *   `rowsKept` rows then.
 */

export interface RefusalLimits {
  readonly windowMs: number;
  readonly perAddress: number;
  readonly rowsPerWindow: number;
  readonly bodyBytes: number;
  readonly rowsKept: number;
}

export interface Refusal {
  readonly source: DecisionSource;
  readonly address: string;
  readonly status: number;
  readonly message: string;
  readonly eventId: string | undefined;
  readonly body: Buffer;
}

/** Addresses counted per window; past it, new ones share one count (and its limit). */
const MAX_ADDRESSES = 10_000;
const OVERFLOW = '*';
const ERROR_CHARS = 512;
const EVENT_ID_CHARS = 128;

const refusals = new Counter({
  name: 'exchange_webhook_refusals_total',
  help: 'Refused webhook posts: stored, counted only (window row cap), or answered 429 (address over its refusals)',
  labelNames: ['outcome'] as const,
});

interface Window {
  readonly byAddress: Map<string, number>;
  refused: number;
  stored: number;
  limited: number;
  readonly timer: NodeJS.Timeout;
}

export class WebhookRefusals {
  #window: Window | undefined;
  readonly #pool: Pick<DatabasePool, 'query'>;
  readonly #limits: RefusalLimits;
  readonly #log: Logger;

  constructor(pool: Pick<DatabasePool, 'query'>, limits: RefusalLimits, log: Logger) {
    this.#pool = pool;
    this.#limits = limits;
    this.#log = log;
  }

  /** True when `address` used its refusals of this window: answer 429 and do nothing else. */
  limited(address: string): boolean {
    const window = this.#window;
    if (window === undefined) return false;
    const used = window.byAddress.get(this.#key(window, address)) ?? 0;
    if (used < this.#limits.perAddress) return false;
    window.limited++;
    refusals.inc({ outcome: 'rate_limited' });
    return true;
  }

  /** Counts one refusal, and stores it while the window has rows left. Never throws. */
  async record(refusal: Refusal): Promise<void> {
    const window = (this.#window ??= this.#open());
    const key = this.#key(window, refusal.address);
    window.byAddress.set(key, (window.byAddress.get(key) ?? 0) + 1);
    window.refused++;
    if (window.stored >= this.#limits.rowsPerWindow) {
      refusals.inc({ outcome: 'not_stored' });
      return;
    }
    window.stored++;
    refusals.inc({ outcome: 'stored' });
    try {
      await this.#pool.query(sql.unsafe`
        INSERT INTO webhook_rejections (source, status_code, error, event_id, body, source_address)
        VALUES (${refusal.source}, ${refusal.status}, ${clean(refusal.message, ERROR_CHARS)},
                ${refusal.eventId === undefined ? null : clean(refusal.eventId, EVENT_ID_CHARS)},
                ${utf8Prefix(refusal.body, this.#limits.bodyBytes)}, ${clean(refusal.address, 64)})`);
    } catch (error) {
      // The refusal stands without its record; a flood of bad posts must not turn into 503s.
      this.#log.error({ err: error }, 'webhook: could not record a refusal');
    }
  }

  /** Ends the current window now (its summary logged, the table pruned). */
  async close(): Promise<void> {
    const window = this.#window;
    if (window === undefined) return;
    clearTimeout(window.timer);
    await this.#end(window);
  }

  #open(): Window {
    const timer = setTimeout(() => {
      if (this.#window !== undefined) void this.#end(this.#window);
    }, this.#limits.windowMs);
    timer.unref();
    return { byAddress: new Map(), refused: 0, stored: 0, limited: 0, timer };
  }

  #key(window: Window, address: string): string {
    return window.byAddress.has(address) || window.byAddress.size < MAX_ADDRESSES ? address : OVERFLOW;
  }

  async #end(window: Window): Promise<void> {
    if (this.#window === window) this.#window = undefined;
    let top: [string, number] | undefined;
    for (const entry of window.byAddress) if (top === undefined || entry[1] > top[1]) top = entry;
    this.#log.warn(
      {
        windowS: this.#limits.windowMs / 1000,
        refused: window.refused,
        stored: window.stored,
        rateLimited: window.limited,
        addresses: window.byAddress.size,
        topAddress: top?.[0],
        topAddressRefused: top?.[1],
      },
      'webhook posts refused in the last window',
    );
    try {
      await this.#pool.query(sql.unsafe`
        DELETE FROM webhook_rejections
        WHERE id <= (SELECT id FROM webhook_rejections ORDER BY id DESC
                     OFFSET ${this.#limits.rowsKept} LIMIT 1)`);
    } catch (error) {
      this.#log.error({ err: error }, 'webhook: could not prune the refusals table');
    }
  }
}

/** The longest prefix of `bytes` of at most `max` bytes that ends on a character boundary. */
export function utf8Prefix(bytes: Buffer, max: number): string {
  let end = Math.min(bytes.length, max);
  // Back off continuation bytes (10xxxxxx) so a character is never cut in two.
  if (end < bytes.length) while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end--;
  const text = clean(bytes.toString('utf8', 0, end), max);
  // Invalid bytes decode to U+FFFD (3 bytes each): cut again, now from valid UTF-8.
  return Buffer.byteLength(text) <= max ? text : utf8Prefix(Buffer.from(text), max);
}

/** Text Postgres takes (no U+0000, no lone surrogate), at most `max` UTF-16 units. */
function clean(text: string, max: number): string {
  return text.slice(0, max).replaceAll('\u0000', '').replace(LONE_SURROGATE, '\uFFFD');
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

import { timingSafeEqual } from 'node:crypto';
import type { z } from 'zod/v4';

/** A provider's API could not be reached or answered something unreadable: try again later. */
export class ProviderUnavailable extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ProviderUnavailable';
  }
}

export interface ProviderResponse {
  readonly status: number;
  readonly text: string;
}

/** One HTTP call to a provider, bounded by `timeoutMs`; a network error or timeout is ProviderUnavailable. */
export async function call(
  url: string,
  init: { method: 'GET' | 'POST'; headers?: Record<string, string>; body?: string },
  timeoutMs: number,
): Promise<ProviderResponse> {
  try {
    const response = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
    // Bounded: a provider's answer is small; anything past 1 MB is not one.
    const text = await response.text();
    if (text.length > 1_000_000)
      throw new ProviderUnavailable(`${url}: an answer of ${text.length} characters`);
    return { status: response.status, text };
  } catch (error) {
    if (error instanceof ProviderUnavailable) throw error;
    throw new ProviderUnavailable(
      `${new URL(url).host}: ${error instanceof Error ? error.message : String(error)}`,
      {
        cause: error,
      },
    );
  }
}

/** The JSON answer parsed with `schema`; 5xx, 429 and unreadable answers are ProviderUnavailable. */
export function parseAnswer<S extends z.ZodType>(
  response: ProviderResponse,
  schema: S,
  what: string,
): z.infer<S> {
  if (response.status >= 500 || response.status === 429) {
    throw new ProviderUnavailable(`${what}: HTTP ${response.status}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(response.text);
  } catch {
    throw new ProviderUnavailable(`${what}: HTTP ${response.status}, not JSON`);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw new ProviderUnavailable(`${what}: HTTP ${response.status}, unexpected shape`);
  return parsed.data;
}

/** Two hex digests compared in constant time (lower-cased first; unequal lengths are unequal). */
export function sameHex(expected: string, given: string): boolean {
  const a = Buffer.from(expected.toLowerCase(), 'utf8');
  const b = Buffer.from(given.toLowerCase(), 'utf8');
  if (a.length !== b.length) {
    // Compare against itself so an unequal length costs what an equal one does.
    timingSafeEqual(a, a);
    return false;
  }
  return timingSafeEqual(a, b);
}

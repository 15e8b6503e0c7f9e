import { createRequire } from 'node:module';
import type * as uWSModule from 'uWebSockets.js';

/*
 * uWebSockets.js, loaded after its HTTP header limit is set. uWS reads UWS_HTTP_MAX_HEADERS_SIZE
 * once, when the native module loads, so every value import of uWS goes through this file.
 *
 * Why the limit matters: the uWS build in use parses at most 100 header lines (a compile-time
 * constant, UWS_HTTP_MAX_HEADERS_COUNT) and takes a request with more for one still arriving: it
 * waits for the rest until its 10 s idle timeout. It answers 431 as soon as the bytes it holds for
 * an incomplete request reach UWS_HTTP_MAX_HEADERS_SIZE (uWS's default 4096). At 2048, a request
 * with too many headers is answered 431 at once unless its header lines average under ~20 bytes;
 * the cost is that a request whose headers exceed 2 KiB *and* arrive in more than one read (split
 * across TCP segments) is answered 431 too. A request read whole is not limited by it.
 */

/** The default of UWS_HTTP_MAX_HEADERS_SIZE when the environment does not set it. */
export const DEFAULT_MAX_HEADERS_BYTES = 2048;

const configured = process.env.UWS_HTTP_MAX_HEADERS_SIZE;
if (configured === undefined || configured === '') {
  process.env.UWS_HTTP_MAX_HEADERS_SIZE = String(DEFAULT_MAX_HEADERS_BYTES);
} else if (!/^[1-9][0-9]{2,6}$/.test(configured)) {
  // uWS would read anything else with atoi: 0 refuses every request split across reads.
  throw new Error(
    `UWS_HTTP_MAX_HEADERS_SIZE must be a whole number of bytes from 100 to 9999999, got ${JSON.stringify(configured)}`,
  );
}

const require = createRequire(import.meta.url);
const uWS = require('uWebSockets.js') as typeof uWSModule;

export default uWS;

import { Packr, Unpackr, type Options } from 'msgpackr';
import { plainMsgpackProblem } from './plainMsgpack.ts';

/*
 * The wire encoding of PROTOCOL.md: one plain MessagePack map per binary frame, readable by any
 * MessagePack library. No msgpackr records or extensions; optional fields that are undefined are
 * left out (never nil); every integer is a MessagePack integer, also above 2^32 where a plain packer
 * would write float64 (timestamps are such integers). Shared by the server and the client SDK, so
 * both sides agree byte for byte; it has no Node-only imports and runs in browsers.
 */

/** msgpackr 2.1.3 implements `skipValues` and `int64AsType: 'auto'`; its typings lack them. */
type RuntimeOptions = Omit<Options, 'int64AsType'> & {
  skipValues?: unknown[];
  int64AsType?: Options['int64AsType'] | 'auto';
};

const packr = new Packr({ useRecords: false, skipValues: [undefined] } as RuntimeOptions as Options);
const unpackr = new Unpackr({
  useRecords: false,
  mapsAsObjects: true,
  int64AsType: 'auto',
} as RuntimeOptions as Options);

const UINT32_LIMIT = 0x1_0000_0000;

/** Integers outside 32 bits become BigInt so msgpackr writes int64/uint64 rather than float64. */
function integersExact(value: unknown): unknown {
  if (typeof value === 'number') {
    return Number.isSafeInteger(value) && (value >= UINT32_LIMIT || value < -0x8000_0000)
      ? BigInt(value)
      : value;
  }
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      const converted = integersExact(item);
      if (converted !== item) {
        out ??= value.slice();
        out[i] = converted;
      }
    }
    return out ?? value;
  }
  if (value !== null && typeof value === 'object' && !ArrayBuffer.isView(value)) {
    let out: Record<string, unknown> | undefined;
    for (const [key, item] of Object.entries(value)) {
      const converted = integersExact(item);
      if (converted !== item) {
        out ??= { ...value };
        out[key] = converted;
      }
    }
    return out ?? value;
  }
  return value;
}

/**
 * Whether integersExact would change anything: a walk that allocates nothing, so the common
 * message (no integer beyond 32 bits) is packed as it is. integersExact's Object.entries() per
 * object was a visible share of the gateway's allocations (bench:ws).
 */
function hasWideIntegers(value: unknown): boolean {
  if (typeof value === 'number') {
    return Number.isSafeInteger(value) && (value >= UINT32_LIMIT || value < -0x8000_0000);
  }
  if (value === null || typeof value !== 'object' || ArrayBuffer.isView(value)) return false;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (hasWideIntegers(value[i])) return true;
    return false;
  }
  const fields = value as Record<string, unknown>;
  for (const key in fields) {
    if (Object.hasOwn(fields, key) && hasWideIntegers(fields[key])) return true;
  }
  return false;
}

/** Encodes one message (a plain object) as a MessagePack map. */
export function encodeMessage(message: object): Uint8Array {
  return packr.pack(hasWideIntegers(message) ? integersExact(message) : message);
}

export type DecodeResult =
  | { readonly ok: true; readonly message: Record<string, unknown> }
  | { readonly ok: false; readonly reason: string };

/**
 * Decodes one frame that must hold exactly one MessagePack map. Never throws: undecodable bytes,
 * trailing bytes, or a value that is not a map give a reason instead. Integers beyond 2^53 decode
 * as BigInt (callers' schemas reject them where a safe integer is expected).
 */
export function decodeMessage(frame: Uint8Array): DecodeResult {
  if (frame.byteLength === 0) return { ok: false, reason: 'empty frame' };
  const problem = plainMsgpackProblem(frame);
  if (problem !== undefined) return { ok: false, reason: problem };
  let values: unknown[];
  try {
    values = unpackr.unpackMultiple(frame) as unknown[];
  } catch (error) {
    return {
      ok: false,
      reason: `not MessagePack: ${error instanceof Error ? error.message : String(error)}`,
    };
  }
  if (values.length !== 1) return { ok: false, reason: 'a frame must hold exactly one MessagePack value' };
  const value = values[0];
  if (value === null || typeof value !== 'object' || Array.isArray(value) || ArrayBuffer.isView(value)) {
    return { ok: false, reason: 'a frame must hold a MessagePack map' };
  }
  if (Object.getPrototypeOf(value) !== Object.prototype) {
    return { ok: false, reason: 'a frame must hold a plain MessagePack map' };
  }
  return { ok: true, message: value as Record<string, unknown> };
}

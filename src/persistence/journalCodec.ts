// Over ~400 lines as one concept: the record format. Its shapes, encoder and decoder change together
// (a layout change bumps JOURNAL_RECORD_VERSION), so they stay in one file.
import { Packr } from 'msgpackr';
import { LIFECYCLE_STATES } from '../../machines/marketLifecycle.ts';
import type { BookEvent } from '../actors/book/types.ts';
import type { Posting } from '../actors/ledger/index.ts';
import type {
  BatchEntry,
  CommandResult,
  DepositCommand,
  JournalBatch,
  JournalCommand,
  MarketCommand,
} from '../actors/market/types.ts';

/**
 * The journal's record format: one BatchOutput as plain MessagePack (no msgpackr records or
 * extensions, so any MessagePack reader can decode it), laid out compactly.
 *
 *   record  = [VERSION, marketId, symbol, state, strings, entries]        (version 2)
 *   entry   = [seq − previous seq, ts − previous ts, command, result, postings]
 *   command = [kind, ...fields]         (order commands; lifecycle: [kind, event as a map];
 *                                        deposit: [5, userId, asset, amount])
 *   result  = [1, seq − entry seq, orderId, events, transition] | [0, code, message]
 *   event   = [type, ...fields]
 *   posting = [account, asset, bucket, amount, kind]
 *
 * Tags and enum values (side, tif, cancel reason...) are small integers (their index in the lists
 * below; a value missing from a list is written as its string). An absent optional field is nil,
 * and trailing nils are left out. Deltas are 0 or small for consecutive commands; a delta that
 * would not add back exactly (non-integers) is written as [absolute]. Amounts are bigints, written
 * explicitly: a safe integer as an integer, anything larger as its decimal string — never as
 * MessagePack int64, so 18-decimal amounts of any size round-trip exactly. Lifecycle commands and
 * transitions are rare and kept as maps (undefined fields dropped).
 *
 * Version 2 interns identifiers: user ids, client order ids, accounts and assets are written once
 * per record in `strings` and referred to by their index there (marked `STRING` in the shapes).
 * A user's id otherwise recurs in its command, its events and every posting: measured on the
 * persistence benchmark's stream, records shrink from 224 to ~125 bytes per command, and recovery
 * parses and decodes that much less. Version 1 records (the same layout without `strings`, every
 * identifier inline) still decode.
 *
 * The lists are part of the format: append only; a change of layout bumps VERSION. The `deposit`
 * command (tag 5, in records of the `@ledger` pseudo-market) was appended within version 1: records
 * written before it decode as they always did.
 */
export const JOURNAL_RECORD_VERSION = 2;
/** The first version, without the string table: still decoded. */
const JOURNAL_RECORD_V1 = 1;

const packr = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true, int64AsType: 'number' });

/** Marks a field written as an index into the record's string table (version 2). */
const STRING = 'string';

type FieldSpec<T> = (keyof T & string) | readonly [keyof T & string, readonly string[] | typeof STRING];
type FieldName<S> = S extends readonly [infer N, unknown] ? N : S;
/** Fields of T a shape forgot: they make a third argument required (a compile error), so none is dropped. */
type Missing<T, K extends string, F extends readonly unknown[]> = Exclude<keyof T, FieldName<F[number]> | K>;
type Variant<U, K extends keyof U & string, Tag> = Extract<U, { readonly [P in K]: Tag }>;

const PLAIN = 0;
const ENUM = 1;
const INTERNED = 2;

/** One variant's positional layout, with its fields' kinds precomputed for the decoder's loop. */
interface Shape {
  readonly tag: string;
  readonly names: readonly string[];
  readonly kinds: readonly number[];
  /** The value list of each ENUM field (undefined for the others). */
  readonly enums: readonly (readonly string[] | undefined)[];
}

/** Declares the positional layout of one variant of the union U (tag key K); every field must be listed. */
type ShapeOf<U, K extends keyof U & string> = <
  Tag extends U[K] & string,
  const F extends readonly FieldSpec<Variant<U, K, Tag>>[],
>(
  tag: Tag,
  fields: F,
  ...complete: [Missing<Variant<U, K, Tag>, K, F>] extends [never]
    ? []
    : [missing: Missing<Variant<U, K, Tag>, K, F>]
) => Shape;

function shapeOf<U, K extends keyof U & string>(): ShapeOf<U, K> {
  return (
    ...[tag, fields]: [
      string,
      readonly (string | readonly [string, readonly string[] | typeof STRING])[],
      ...unknown[],
    ]
  ) => ({
    tag,
    names: fields.map((f) => (typeof f === 'string' ? f : f[0])),
    kinds: fields.map((f) => (typeof f === 'string' ? PLAIN : f[1] === STRING ? INTERNED : ENUM)),
    enums: fields.map((f) => (typeof f === 'string' || f[1] === STRING ? undefined : f[1])),
  });
}

const SIDES = ['buy', 'sell'] as const;
const ORDER_TYPES = ['limit', 'market', 'stop_limit', 'stop_market'] as const;
const TIFS = ['GTC', 'IOC', 'FOK', 'GTD'] as const;
const STPS = ['cancel_taker', 'cancel_maker', 'cancel_both', 'decrement'] as const;
const COMMAND_KINDS = ['place', 'cancel', 'amend', 'cancel_all'] as const;
const REJECT_CODES = [
  'bad_request',
  'duplicate_client_order_id',
  'overloaded',
  'would_match',
  'fok_unfilled',
  'not_found',
] as const;
const CANCEL_REASONS = ['user', 'unfilled', 'self_trade', 'would_match', 'fok_unfilled'] as const;
const ERROR_CODES = [
  'bad_request',
  'market_not_active',
  'insufficient_funds',
  'duplicate_client_order_id',
  'would_match',
  'fok_unfilled',
  'not_found',
  'overloaded',
  'invalid_transition',
  'unavailable',
  'unknown_market',
] as const;
const BUCKETS = ['available', 'locked'] as const;
const POSTING_KINDS = ['deposit', 'withdrawal', 'lock', 'unlock', 'trade', 'fee'] as const;

type OrderCommand = Exclude<MarketCommand, { kind: 'lifecycle' }>;
const command = shapeOf<OrderCommand, 'kind'>();
/** Order commands by tag index; tag 4 (LIFECYCLE_TAG) is a lifecycle command. */
const COMMAND_SHAPES: readonly Shape[] = [
  command('place', [
    ['userId', STRING],
    ['clientOrderId', STRING],
    ['side', SIDES],
    ['type', ORDER_TYPES],
    'qty',
    'price',
    'stopPrice',
    ['tif', TIFS],
    'postOnly',
    ['stp', STPS],
    'quoteBudget',
    // Issue 14, appended: absent (a trailing nil, left out) in every record written before it.
    'expireAt',
  ]),
  command('cancel', [['userId', STRING], 'orderId', ['clientOrderId', STRING]]),
  command('amend', [['userId', STRING], 'orderId', ['clientOrderId', STRING], 'qty', 'price']),
  command('cancel_all', [['userId', STRING]]),
];
const LIFECYCLE_TAG = COMMAND_SHAPES.length;

const ledgerCommand = shapeOf<DepositCommand, 'kind'>();
/** Ledger commands by tag index − LEDGER_TAG_BASE (after the lifecycle tag; append only). */
const LEDGER_COMMAND_SHAPES: readonly Shape[] = [
  ledgerCommand('deposit', [['userId', STRING], ['asset', STRING], 'amount']),
];
const LEDGER_TAG_BASE = LIFECYCLE_TAG + 1;
/**
 * The `expire` command (issue 14, GTD): [EXPIRE_TAG, now]. Kept clear of the tags above, which grow
 * by appending (order commands before the lifecycle tag cannot, ledger commands after it can).
 */
const EXPIRE_TAG = 16;

const event = shapeOf<BookEvent, 'type'>();
const EVENT_SHAPES: readonly Shape[] = [
  event('accepted', [
    'orderId',
    ['userId', STRING],
    ['clientOrderId', STRING],
    ['side', SIDES],
    ['orderType', ORDER_TYPES],
    ['tif', TIFS],
    'qty',
    'price',
    'stopPrice',
    'quoteBudget',
  ]),
  event('rejected', [['command', COMMAND_KINDS], 'orderId', ['code', REJECT_CODES], 'message']),
  event('fill', [
    'takerOrderId',
    ['takerUserId', STRING],
    'makerOrderId',
    ['makerUserId', STRING],
    ['takerSide', SIDES],
    'price',
    'qty',
    'takerRemaining',
    'makerRemaining',
  ]),
  event('rested', ['orderId', ['side', SIDES], 'price', 'remaining']),
  event('pending', ['orderId', ['side', SIDES], 'stopPrice']),
  event('triggered', ['orderId', 'stopPrice', 'lastPrice']),
  event('canceled', ['orderId', ['userId', STRING], 'remaining', ['reason', CANCEL_REASONS]]),
  event('amended', ['orderId', 'price', 'qty', 'remaining', 'priorityKept']),
  event('level', [['side', SIDES], 'price', 'qty']),
  // Issue 14, appended within version 2: records written before it have no such tag.
  event('decremented', ['orderId', ['userId', STRING], 'qty', 'remaining']),
];

/** What msgpackr gives back for our records: plain values, arrays and string-keyed maps. */
type Packed = unknown;
type Fields = Record<string, unknown>;

function indexTags(shapes: readonly Shape[]): Map<string, number> {
  return new Map(shapes.map((s, i) => [s.tag, i]));
}
const COMMAND_TAGS = indexTags(COMMAND_SHAPES);
const EVENT_TAGS = indexTags(EVENT_SHAPES);

export class JournalDecodeError extends Error {
  constructor(message: string) {
    super(`journal record: ${message}`);
    this.name = 'JournalDecodeError';
  }
}

/** A record's identifiers while it is encoded: each distinct string once, in first-use order. */
class StringTable {
  readonly list: string[] = [];
  readonly #index = new Map<string, number>();

  ref(value: unknown, what: string): number {
    if (typeof value !== 'string') throw new Error(`journal: ${what} is not a string`);
    let i = this.#index.get(value);
    if (i === undefined) {
      i = this.list.length;
      this.list.push(value);
      this.#index.set(value, i);
    }
    return i;
  }
}

/**
 * A string field as decoded: an index into the record's table (version 2) or, in a version 1 record
 * (no table), the string itself.
 */
function unpackString(packed: unknown, strings: readonly string[] | undefined, what: string): string {
  if (strings !== undefined) {
    const value = typeof packed === 'number' ? strings[packed] : undefined;
    if (value === undefined) throw new JournalDecodeError(`${what}: no string ${String(packed)}`);
    return value;
  }
  if (typeof packed !== 'string') throw new JournalDecodeError(`${what} is not a string`);
  return packed;
}

function trimNils(out: Packed[]): Packed[] {
  let end = out.length;
  while (end > 0 && out[end - 1] === null) end--;
  out.length = end;
  return out;
}

function packShape(tag: number, shape: Shape, value: Fields, strings: StringTable): Packed[] {
  const out: Packed[] = [tag];
  const { names, kinds, enums } = shape;
  for (let i = 0; i < names.length; i++) {
    const v = value[names[i]!];
    if (v === undefined) out.push(null);
    else if (kinds[i] === INTERNED) out.push(strings.ref(v, `${shape.tag}.${names[i]!}`));
    else if (kinds[i] === ENUM) {
      const e = typeof v === 'string' ? enums[i]!.indexOf(v) : -1;
      out.push(e >= 0 ? e : v);
    } else out.push(v);
  }
  return trimNils(out);
}

function unpackShape(
  shapes: readonly Shape[],
  packed: Packed,
  strings: readonly string[] | undefined,
  what: string,
): Fields {
  if (!Array.isArray(packed)) throw new JournalDecodeError(`${what} is not an array`);
  const tag: unknown = packed[0];
  const shape = typeof tag === 'number' ? shapes[tag] : undefined;
  if (shape === undefined) throw new JournalDecodeError(`unknown ${what} tag ${String(tag)}`);
  // A literal per tag key, not a computed key: V8 keeps these objects in fast mode.
  const out: Fields = what === 'event' ? { type: shape.tag } : { kind: shape.tag };
  const { names, kinds, enums } = shape;
  const n = Math.min(names.length, packed.length - 1);
  for (let i = 0; i < n; i++) {
    const v: unknown = packed[i + 1];
    if (v === undefined || v === null) continue;
    const kind = kinds[i];
    if (kind === PLAIN) out[names[i]!] = v;
    else if (kind === INTERNED)
      out[names[i]!] = unpackString(v, strings, `${what} ${shape.tag}.${names[i]!}`);
    else if (typeof v === 'number') {
      const name = enums[i]![v];
      if (name === undefined)
        throw new JournalDecodeError(`${what} ${shape.tag}.${names[i]!}: no value ${v}`);
      out[names[i]!] = name;
    } else out[names[i]!] = v;
  }
  return out;
}

function packEnum(values: readonly string[], value: string): number | string {
  const i = values.indexOf(value);
  return i >= 0 ? i : value;
}

function unpackEnum(values: readonly string[], packed: unknown, what: string): string {
  if (typeof packed === 'string') return packed;
  const value = typeof packed === 'number' ? values[packed] : undefined;
  if (value === undefined) throw new JournalDecodeError(`bad ${what} ${String(packed)}`);
  return value;
}

/** A deep copy without undefined fields (maps only hold what is present). */
function withoutUndefined(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutUndefined);
  if (value !== null && typeof value === 'object') {
    const out: Fields = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = withoutUndefined(v);
    return out;
  }
  return value;
}

function packDelta(value: number, previous: number): Packed {
  const delta = value - previous;
  return Number.isSafeInteger(delta) && previous + delta === value ? delta : [value];
}

function unpackDelta(packed: Packed, previous: number, what: string): number {
  if (typeof packed === 'number') return previous + packed;
  if (Array.isArray(packed) && typeof packed[0] === 'number') return packed[0];
  throw new JournalDecodeError(`bad ${what}`);
}

function packCommand(cmd: JournalCommand, strings: StringTable): Packed[] {
  if (cmd.kind === 'lifecycle') return [LIFECYCLE_TAG, withoutUndefined(cmd.event)];
  if (cmd.kind === 'deposit') {
    const fields = { userId: cmd.userId, asset: cmd.asset, amount: packAmount(cmd.amount) };
    return packShape(LEDGER_TAG_BASE, LEDGER_COMMAND_SHAPES[0]!, fields, strings);
  }
  if (cmd.kind === 'expire') return [EXPIRE_TAG, cmd.now];
  const tag = COMMAND_TAGS.get(cmd.kind);
  if (tag === undefined) throw new Error(`journal: unknown command kind ${cmd.kind}`);
  return packShape(tag, COMMAND_SHAPES[tag]!, cmd as unknown as Fields, strings);
}

function unpackCommand(packed: Packed, strings: readonly string[] | undefined): JournalCommand {
  const ledgerTag = Array.isArray(packed) && typeof packed[0] === 'number' ? packed[0] - LEDGER_TAG_BASE : -1;
  if (ledgerTag >= 0 && ledgerTag < LEDGER_COMMAND_SHAPES.length) {
    const shifted = [ledgerTag, ...(packed as Packed[]).slice(1)];
    const { userId, asset, amount } = unpackShape(LEDGER_COMMAND_SHAPES, shifted, strings, 'command');
    if (typeof userId !== 'string' || typeof asset !== 'string') {
      throw new JournalDecodeError('deposit without user or asset');
    }
    return { kind: 'deposit', userId, asset, amount: unpackAmount(amount, 'deposit amount') };
  }
  if (Array.isArray(packed) && packed[0] === EXPIRE_TAG) {
    if (typeof packed[1] !== 'number') throw new JournalDecodeError('expire command without its time');
    return { kind: 'expire', now: packed[1] };
  }
  if (Array.isArray(packed) && packed[0] === LIFECYCLE_TAG) {
    const lifecycleEvent: unknown = packed[1];
    if (lifecycleEvent === null || typeof lifecycleEvent !== 'object') {
      throw new JournalDecodeError('lifecycle command without its event');
    }
    return { kind: 'lifecycle', event: lifecycleEvent } as MarketCommand;
  }
  return unpackShape(COMMAND_SHAPES, packed, strings, 'command') as unknown as MarketCommand;
}

function packEvent(e: BookEvent, strings: StringTable): Packed[] {
  const tag = EVENT_TAGS.get(e.type);
  if (tag === undefined) throw new Error(`journal: unknown event type ${e.type}`);
  return packShape(tag, EVENT_SHAPES[tag]!, e as unknown as Fields, strings);
}

function packResult(result: CommandResult, entrySeq: number, strings: StringTable): Packed[] {
  if (!result.ok) return [0, packEnum(ERROR_CODES, result.code), result.message];
  return trimNils([
    1,
    packDelta(result.seq, entrySeq),
    result.orderId ?? null,
    result.events.map((e) => packEvent(e, strings)),
    result.transition === undefined ? null : withoutUndefined(result.transition),
  ]);
}

function unpackResult(
  packed: Packed,
  entrySeq: number,
  strings: readonly string[] | undefined,
): CommandResult {
  if (!Array.isArray(packed)) throw new JournalDecodeError('result is not an array');
  if (packed[0] === 0) {
    const message: unknown = packed[2];
    if (typeof message !== 'string') throw new JournalDecodeError('error result without a message');
    return {
      ok: false,
      code: unpackEnum(ERROR_CODES, packed[1], 'error code') as (typeof ERROR_CODES)[number],
      message,
    };
  }
  if (packed[0] !== 1) throw new JournalDecodeError(`bad result tag ${String(packed[0])}`);
  const [, seq, orderId, packedEvents, transition] = packed as Packed[];
  if (packedEvents !== undefined && packedEvents !== null && !Array.isArray(packedEvents)) {
    throw new JournalDecodeError('result events are not an array');
  }
  const events: Fields[] = [];
  if (packedEvents != null) {
    for (const e of packedEvents as Packed[]) events.push(unpackShape(EVENT_SHAPES, e, strings, 'event'));
  }
  const out: { -readonly [K in keyof Extract<CommandResult, { ok: true }>]: unknown } = {
    ok: true,
    seq: unpackDelta(seq, entrySeq, 'result seq'),
    events,
  };
  if (orderId !== undefined && orderId !== null) out.orderId = orderId;
  if (transition !== undefined && transition !== null) out.transition = transition;
  return out as CommandResult;
}

/** A bigint as a safe integer, or as its decimal string beyond that. */
function packAmount(amount: bigint): number | string {
  const small = amount >= BigInt(Number.MIN_SAFE_INTEGER) && amount <= BigInt(Number.MAX_SAFE_INTEGER);
  return small ? Number(amount) : amount.toString();
}

function unpackAmount(packed: unknown, what: string): bigint {
  if (typeof packed !== 'string' && typeof packed !== 'number') {
    throw new JournalDecodeError(`${what} is neither an integer nor a decimal string`);
  }
  return BigInt(packed);
}

function packPosting(p: Posting, strings: StringTable): Packed[] {
  return [
    strings.ref(p.account, 'posting account'),
    strings.ref(p.asset, 'posting asset'),
    packEnum(BUCKETS, p.bucket),
    packAmount(p.amount),
    packEnum(POSTING_KINDS, p.kind),
  ];
}

function unpackPosting(packed: Packed, strings: readonly string[] | undefined): Posting {
  if (!Array.isArray(packed)) throw new JournalDecodeError('posting is not an array');
  return {
    account: unpackString(packed[0], strings, 'posting account'),
    asset: unpackString(packed[1], strings, 'posting asset'),
    bucket: unpackEnum(BUCKETS, packed[2], 'posting bucket') as Posting['bucket'],
    amount: unpackAmount(packed[3], 'posting amount'),
    kind: unpackEnum(POSTING_KINDS, packed[4], 'posting kind') as Posting['kind'],
  };
}

/** The MessagePack-ready form of a batch (exposed for tests and size measurements). */
export function packBatch(batch: JournalBatch): Packed[] {
  const strings = new StringTable();
  let seq = 0;
  let ts = 0;
  const entries = batch.entries.map((entry): Packed[] => {
    const packed = [
      packDelta(entry.seq, seq),
      packDelta(entry.ts, ts),
      packCommand(entry.command, strings),
      packResult(entry.result, entry.seq, strings),
      entry.postings.map((p) => packPosting(p, strings)),
    ];
    seq = entry.seq;
    ts = entry.ts;
    return packed;
  });
  return [
    JOURNAL_RECORD_VERSION,
    batch.marketId,
    batch.symbol,
    packEnum(LIFECYCLE_STATES, batch.state),
    strings.list,
    entries,
  ];
}

/** One batch as a journal record. Throws on a value it cannot represent (a non-finite amount...). */
export function encodeBatch(batch: JournalBatch): Buffer {
  return packr.pack(packBatch(batch));
}

/** The batch a journal record (version 1 or 2) holds: deep-equal to what was encoded (undefined fields absent). */
export function decodeBatch(bytes: Uint8Array): JournalBatch {
  const packed: unknown = packr.unpack(bytes);
  if (!Array.isArray(packed)) throw new JournalDecodeError('not an array');
  const version: unknown = packed[0];
  let marketId: unknown, symbol: unknown, state: unknown, table: unknown, entries: unknown;
  if (version === JOURNAL_RECORD_VERSION) [, marketId, symbol, state, table, entries] = packed as Packed[];
  else if (version === JOURNAL_RECORD_V1) [, marketId, symbol, state, entries] = packed as Packed[];
  else {
    throw new JournalDecodeError(
      `unknown version ${String(version)} (this build reads versions ${JOURNAL_RECORD_V1} and ${JOURNAL_RECORD_VERSION})`,
    );
  }
  if (typeof marketId !== 'string' || typeof symbol !== 'string' || !Array.isArray(entries)) {
    throw new JournalDecodeError('bad header');
  }
  let strings: readonly string[] | undefined;
  if (version === JOURNAL_RECORD_VERSION) {
    if (!Array.isArray(table) || !table.every((s) => typeof s === 'string')) {
      throw new JournalDecodeError('bad string table');
    }
    strings = table;
  }
  let seq = 0;
  let ts = 0;
  const out: BatchEntry<JournalCommand>[] = new Array<BatchEntry<JournalCommand>>(entries.length);
  for (let i = 0; i < entries.length; i++) {
    const e: unknown = entries[i];
    if (!Array.isArray(e)) throw new JournalDecodeError('entry is not an array');
    const [seqDelta, tsDelta, cmd, result, packedPostings] = e as Packed[];
    if (!Array.isArray(packedPostings)) throw new JournalDecodeError('entry postings are not an array');
    seq = unpackDelta(seqDelta, seq, 'entry seq');
    ts = unpackDelta(tsDelta, ts, 'entry ts');
    const postings: Posting[] = new Array<Posting>(packedPostings.length);
    for (let p = 0; p < packedPostings.length; p++) postings[p] = unpackPosting(packedPostings[p], strings);
    out[i] = {
      seq,
      ts,
      command: unpackCommand(cmd, strings),
      result: unpackResult(result, seq, strings),
      postings,
    };
  }
  return {
    marketId,
    symbol,
    entries: out,
    state: unpackEnum(LIFECYCLE_STATES, state, 'state') as JournalBatch['state'],
  };
}

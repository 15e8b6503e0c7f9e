import type { BookEvent } from '../actors/book/types.ts';
import type { CommandResult } from '../actors/market/types.ts';
import {
  CANCEL_REASONS,
  COMMAND_KINDS,
  ERROR_CODES,
  ORDER_TYPES,
  REJECT_CODES,
  SIDES,
  TIFS,
} from './journalLists.ts';
import {
  indexTags,
  JournalDecodeError,
  packDelta,
  packEnum,
  packShape,
  shapeOf,
  STRING,
  trimNils,
  unpackDelta,
  unpackEnum,
  unpackShape,
  withoutUndefined,
  type Fields,
  type Packed,
  type Shape,
  type StringTable,
} from './journalShape.ts';

/**
 * An entry's result in a journal record (journalCodec.ts): `[1, seq − entry seq, orderId, events,
 * transition] | [0, code, message]`, each book event `[type, ...fields]`.
 */

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
  // Issue 14 (trailing stops), appended the same way.
  event('trailed', ['orderId', 'stopPrice', 'price']),
];
const EVENT_TAGS = indexTags(EVENT_SHAPES);

function packEvent(e: BookEvent, strings: StringTable): Packed[] {
  const tag = EVENT_TAGS.get(e.type);
  if (tag === undefined) throw new Error(`journal: unknown event type ${e.type}`);
  return packShape(tag, EVENT_SHAPES[tag]!, e as unknown as Fields, strings);
}

export function packResult(result: CommandResult, entrySeq: number, strings: StringTable): Packed[] {
  if (!result.ok) return [0, packEnum(ERROR_CODES, result.code), result.message];
  return trimNils([
    1,
    packDelta(result.seq, entrySeq),
    result.orderId ?? null,
    result.events.map((e) => packEvent(e, strings)),
    result.transition === undefined ? null : withoutUndefined(result.transition),
  ]);
}

export function unpackResult(
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

import type {
  DepositCommand,
  JournalCommand,
  MarketCommand,
  TrendSignalCommand,
} from '../actors/market/types.ts';
import { FUNDING_COMMAND_SHAPES, fundingCommandOf } from './journalFunding.ts';
import { ORDER_TYPES, SIDES, STPS, TIFS } from './journalLists.ts';
import {
  indexTags,
  JournalDecodeError,
  packAmount,
  packShape,
  shapeOf,
  STRING,
  unpackAmount,
  unpackShape,
  withoutUndefined,
  type Fields,
  type Packed,
  type Shape,
  type StringTable,
} from './journalShape.ts';

/** An entry's command in a journal record (journalCodec.ts): `[kind, ...fields]`. */

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
    // Issue 14 (iceberg, trailing stops), appended the same way.
    'displayQty',
    'trailingOffset',
    'trailingBps',
    'limitOffset',
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
  // Issue 15, funding (journalFunding.ts): deposit_credit, deposit_fail, withdrawal.
  ...FUNDING_COMMAND_SHAPES,
];
const LEDGER_TAGS = indexTags(LEDGER_COMMAND_SHAPES);
const LEDGER_TAG_BASE = LIFECYCLE_TAG + 1;
/**
 * The `expire` command (issue 14, GTD): [EXPIRE_TAG, now]. Kept clear of the tags above, which grow
 * by appending (order commands before the lifecycle tag cannot, ledger commands after it can).
 */
const EXPIRE_TAG = 16;

/**
 * Trend signals (issue 19, records of `@trends`): tags TREND_TAG_BASE + index, 20 and 21 (22 kept
 * for the next); clear of the tags above as EXPIRE_TAG is.
 */
const TREND_TAG_BASE = 20;
const trendCommand = shapeOf<TrendSignalCommand, 'kind'>();
const TREND_COMMAND_SHAPES: readonly Shape[] = [
  trendCommand('trend_detected', [
    ['symbol', STRING],
    'topic',
    ['marketId', STRING],
    'scoreCenti',
    'sentimentBp',
  ]),
  trendCommand('market_breakout', [
    ['marketId', STRING],
    ['symbol', STRING],
    ['direction', ['up', 'down']],
    'price',
  ]),
];
const TREND_TAGS = indexTags(TREND_COMMAND_SHAPES);

/**
 * OCO placements (issue 14): tags OCO_TAG_BASE + index, 17 (18 and 19 kept for the next); clear of
 * the tags above as EXPIRE_TAG is. The legs' ids are not journaled: the result's orderId is the
 * limit leg's, the stop leg's the next (MarketActor).
 */
const OCO_TAG_BASE = 17;
type OcoCommand = Extract<MarketCommand, { kind: 'place_oco' }>;
const ocoCommand = shapeOf<OcoCommand, 'kind'>();
const OCO_COMMAND_SHAPES: readonly Shape[] = [
  ocoCommand('place_oco', [
    ['userId', STRING],
    ['clientOrderId', STRING],
    ['side', SIDES],
    'qty',
    'price',
    'stopPrice',
    'stopLimitPrice',
    ['stp', STPS],
  ]),
];
const OCO_TAGS = indexTags(OCO_COMMAND_SHAPES);

const COMMAND_TAGS = indexTags(COMMAND_SHAPES);

export function packCommand(cmd: JournalCommand, strings: StringTable): Packed[] {
  if (cmd.kind === 'lifecycle') return [LIFECYCLE_TAG, withoutUndefined(cmd.event)];
  if (cmd.kind === 'deposit') {
    const fields = { userId: cmd.userId, asset: cmd.asset, amount: packAmount(cmd.amount) };
    return packShape(LEDGER_TAG_BASE, LEDGER_COMMAND_SHAPES[0]!, fields, strings);
  }
  if (cmd.kind === 'expire') return [EXPIRE_TAG, cmd.now];
  const ocoTag = OCO_TAGS.get(cmd.kind);
  if (ocoTag !== undefined) {
    return packShape(OCO_TAG_BASE + ocoTag, OCO_COMMAND_SHAPES[ocoTag]!, cmd as unknown as Fields, strings);
  }
  const trendTag = TREND_TAGS.get(cmd.kind);
  if (trendTag !== undefined) {
    return packShape(
      TREND_TAG_BASE + trendTag,
      TREND_COMMAND_SHAPES[trendTag]!,
      cmd as unknown as Fields,
      strings,
    );
  }
  const ledgerTag = LEDGER_TAGS.get(cmd.kind);
  if (ledgerTag !== undefined) {
    const fields = { ...(cmd as unknown as Fields), amount: packAmount((cmd as { amount: bigint }).amount) };
    return packShape(LEDGER_TAG_BASE + ledgerTag, LEDGER_COMMAND_SHAPES[ledgerTag]!, fields, strings);
  }
  const tag = COMMAND_TAGS.get(cmd.kind);
  if (tag === undefined) throw new Error(`journal: unknown command kind ${cmd.kind}`);
  return packShape(tag, COMMAND_SHAPES[tag]!, cmd as unknown as Fields, strings);
}

export function unpackCommand(packed: Packed, strings: readonly string[] | undefined): JournalCommand {
  const ledgerTag = Array.isArray(packed) && typeof packed[0] === 'number' ? packed[0] - LEDGER_TAG_BASE : -1;
  if (ledgerTag >= 0 && ledgerTag < LEDGER_COMMAND_SHAPES.length) {
    const shifted = [ledgerTag, ...(packed as Packed[]).slice(1)];
    const fields = unpackShape(LEDGER_COMMAND_SHAPES, shifted, strings, 'command');
    if (fields.kind !== 'deposit') return fundingCommandOf(fields);
    const { userId, asset, amount } = fields;
    if (typeof userId !== 'string' || typeof asset !== 'string') {
      throw new JournalDecodeError('deposit without user or asset');
    }
    return { kind: 'deposit', userId, asset, amount: unpackAmount(amount, 'deposit amount') };
  }
  const trendTag = Array.isArray(packed) && typeof packed[0] === 'number' ? packed[0] - TREND_TAG_BASE : -1;
  if (trendTag >= 0 && trendTag < TREND_COMMAND_SHAPES.length) {
    const shifted = [trendTag, ...(packed as Packed[]).slice(1)];
    return unpackShape(TREND_COMMAND_SHAPES, shifted, strings, 'command') as unknown as TrendSignalCommand;
  }
  const ocoTag = Array.isArray(packed) && typeof packed[0] === 'number' ? packed[0] - OCO_TAG_BASE : -1;
  if (ocoTag >= 0 && ocoTag < OCO_COMMAND_SHAPES.length) {
    const shifted = [ocoTag, ...(packed as Packed[]).slice(1)];
    return unpackShape(OCO_COMMAND_SHAPES, shifted, strings, 'command') as unknown as MarketCommand;
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

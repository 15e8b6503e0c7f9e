import { Packr } from 'msgpackr';
import { LIFECYCLE_STATES } from '../../machines/marketLifecycle.ts';
import type { Posting } from '../actors/ledger/index.ts';
import type { BatchEntry, JournalBatch, JournalCommand } from '../actors/market/types.ts';
import { packCommand, unpackCommand } from './journalCommands.ts';
import { BUCKETS, POSTING_KINDS } from './journalLists.ts';
import { packResult, unpackResult } from './journalResults.ts';
import {
  JournalDecodeError,
  packAmount,
  packDelta,
  packEnum,
  StringTable,
  unpackAmount,
  unpackDelta,
  unpackEnum,
  unpackString,
  type Packed,
} from './journalShape.ts';

export { JournalDecodeError } from './journalShape.ts';

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
 * of journalLists.ts; a value missing from a list is written as its string). An absent optional field is nil,
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
 * The shapes (journalCommands.ts, journalResults.ts) and lists are part of the format: append only;
 * a change of layout bumps VERSION. The `deposit`
 * command (tag 5, in records of the `@ledger` pseudo-market) was appended within version 1: records
 * written before it decode as they always did.
 */
export const JOURNAL_RECORD_VERSION = 2;
/** The first version, without the string table: still decoded. */
const JOURNAL_RECORD_V1 = 1;

const packr = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true, int64AsType: 'number' });

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
    // Optional sixth element (ROLE=engine): records of ROLE=all are unchanged.
    if (entry.commandId !== undefined) packed.push(entry.commandId);
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
    const [seqDelta, tsDelta, cmd, result, packedPostings, commandId] = e as Packed[];
    if (commandId !== undefined && typeof commandId !== 'string') {
      throw new JournalDecodeError('entry command id is not a string');
    }
    if (!Array.isArray(packedPostings)) throw new JournalDecodeError('entry postings are not an array');
    seq = unpackDelta(seqDelta, seq, 'entry seq');
    ts = unpackDelta(tsDelta, ts, 'entry ts');
    const postings: Posting[] = new Array<Posting>(packedPostings.length);
    for (let p = 0; p < packedPostings.length; p++) postings[p] = unpackPosting(packedPostings[p], strings);
    const entry: BatchEntry<JournalCommand> = {
      seq,
      ts,
      command: unpackCommand(cmd, strings),
      result: unpackResult(result, seq, strings),
      postings,
    };
    out[i] = commandId === undefined ? entry : { ...entry, commandId };
  }
  return {
    marketId,
    symbol,
    entries: out,
    state: unpackEnum(LIFECYCLE_STATES, state, 'state') as JournalBatch['state'],
  };
}

import { describe, expect, it } from 'vitest';
import { TRENDS_JOURNAL_ID, type JournalBatch } from '../../src/actors/market/types.ts';
import { foldBatch } from '../../src/events/fold.ts';
import { decodeBatch, encodeBatch, packBatch } from '../../src/persistence/journalCodec.ts';
import { breakout, DEFAULT_THRESHOLDS, SignalDetector, SignalJournal } from '../../src/trends/signals.ts';

const record: JournalBatch = {
  marketId: TRENDS_JOURNAL_ID,
  symbol: TRENDS_JOURNAL_ID,
  state: 'active',
  entries: [
    {
      seq: 7,
      ts: 1_763_800_000_000,
      command: {
        kind: 'trend_detected',
        symbol: 'VIRAL/SA_X_001',
        topic: 'X ✨',
        scoreCenti: 7_250,
        sentimentBp: -1_500,
      },
      result: { ok: true, seq: 7, events: [] },
      postings: [],
    },
    {
      seq: 8,
      ts: 1_763_800_000_000,
      command: {
        kind: 'market_breakout',
        marketId: 'm1',
        symbol: 'VIRAL/SA_X_001',
        direction: 'down',
        price: 950,
      },
      result: { ok: true, seq: 8, events: [] },
      postings: [],
    },
  ],
};

describe('@trends journal records (issue 19)', () => {
  it('round-trip through the journal codec with tags 20 and 21', () => {
    expect(decodeBatch(encodeBatch(record))).toEqual(record);
    const [, , , , , entries] = packBatch(record) as unknown[][];
    expect((entries as unknown[][]).map((e) => (e[2] as unknown[])[0])).toEqual([20, 21]);
  });

  it('fold into trend.detected and market.breakout', () => {
    expect(foldBatch(record)).toEqual([
      {
        type: 'trend.detected',
        seq: 7,
        ts: 1_763_800_000_000,
        entry: 0,
        symbol: 'VIRAL/SA_X_001',
        topic: 'X ✨',
        viralityScore: 72.5,
        sentiment: -0.15,
      },
      {
        type: 'market.breakout',
        seq: 8,
        ts: 1_763_800_000_000,
        entry: 1,
        marketId: 'm1',
        symbol: 'VIRAL/SA_X_001',
        direction: 'down',
        price: 950,
      },
    ]);
  });

  it('journals through the sink, then publishes; numbers continue from the last seq', async () => {
    const committed: JournalBatch[] = [];
    const published: JournalBatch[] = [];
    const journal = new SignalJournal({
      sink: { commit: (b) => void committed.push(b) },
      publish: (b) => published.push(b),
      lastSeq: 41,
    });
    await journal.record([], 1);
    expect(committed).toEqual([]);
    await journal.record([record.entries[0]!.command as never], 5);
    expect(committed[0]!.entries[0]!.seq).toBe(42);
    expect(published).toEqual(committed);
    const failing = new SignalJournal({
      sink: { commit: () => Promise.reject(new Error('down')) },
      publish: (b) => published.push(b),
      lastSeq: 0,
    });
    await expect(failing.record([record.entries[1]!.command as never], 5)).rejects.toThrow('down');
    expect(published).toHaveLength(1);
  });
});

describe('the signal detector (documented thresholds)', () => {
  const update = (scoreCenti: number, velocityCenti = 100, priceTicks?: number) => ({
    symbol: 'VIRAL/SA_X_001',
    topic: 'X',
    marketId: priceTicks === undefined ? undefined : 'm1',
    scoreCenti,
    sentimentBp: 0,
    velocityCenti,
    priceTicks,
  });

  it('detects a crossing of the score threshold once, with positive velocity, and re-arms below the hysteresis', () => {
    const d = new SignalDetector();
    expect(d.observe(update(6_999))).toEqual([]);
    expect(d.observe(update(7_000, 0))).toEqual([]); // not rising
    expect(d.observe(update(7_000)).map((s) => s.kind)).toEqual(['trend_detected']);
    expect(d.observe(update(9_000))).toEqual([]);
    expect(d.observe(update(6_500))).toEqual([]); // above 70 − 10: still detected
    expect(d.observe(update(7_500))).toEqual([]);
    expect(d.observe(update(5_999))).toEqual([]); // re-armed
    expect(d.observe(update(7_100)).map((s) => s.kind)).toEqual(['trend_detected']);
    const seeded = new SignalDetector();
    seeded.seed('VIRAL/SA_X_001', 8_000);
    expect(seeded.observe(update(8_500))).toEqual([]);
  });

  it('reports a breakout beyond the window by more than the band, after enough history', () => {
    const d = new SignalDetector();
    for (let i = 0; i < DEFAULT_THRESHOLDS.breakoutMinHistory; i++)
      expect(d.observe(update(100, 0, 1_000 + i))).toEqual([]);
    expect(d.observe(update(100, 0, 1_054))).toEqual([]); // 1004 × 1.05 = 1054.2
    expect(d.observe(update(100, 0, 1_200))).toEqual([
      { kind: 'market_breakout', marketId: 'm1', symbol: 'VIRAL/SA_X_001', direction: 'up', price: 1_200 },
    ]);
    expect(d.observe(update(100, 0, 900)).map((s) => s.kind === 'market_breakout' && s.direction)).toEqual([
      'down',
    ]);
    expect(breakout([100, 100], 105, 500)).toBeUndefined();
    expect(breakout([100, 100], 106, 500)).toBe('up');
    expect(breakout([100, 100], 95, 500)).toBeUndefined();
    expect(breakout([100, 100], 94, 500)).toBe('down');
  });
});

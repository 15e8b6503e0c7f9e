import {
  TRENDS_JOURNAL_ID,
  type BatchSink,
  type JournalBatch,
  type TrendSignalCommand,
} from '../actors/market/types.ts';

/*
 * Trend signals (docs/trends.md "Signals"): `trend.detected` and `market.breakout` on the
 * committed event stream. The detector is pure state fed with every metrics update; what it
 * finds is journaled as a record of the pseudo-market `@trends` (through the journal writer, like
 * a `@ledger` credit), then published in process; the fold (src/events/fold.ts) turns the record's
 * commands into the domain events, so durable consumers (the notifier) read them from the journal.
 *
 * Thresholds (defaults; config TREND_DETECT_SCORE, TREND_BREAKOUT_BPS):
 * - trend.detected: the score reaches `detectScoreCenti` (70 points) while its velocity is
 *   positive; once per crossing: it re-arms when the score falls below the threshold less
 *   `rearmCenti` (10 points). A symbol whose last stored score is above the threshold at start is
 *   not detected again until it re-arms.
 * - market.breakout: a trend market's new index price is above the highest (up) or below the
 *   lowest (down) of its previous `breakoutWindow` (20) index prices by more than `breakoutBps`
 *   (5 %) of that extreme, with at least `breakoutMinHistory` (5) prices seen.
 */

export interface SignalThresholds {
  readonly detectScoreCenti: number;
  readonly rearmCenti: number;
  readonly breakoutBps: number;
  readonly breakoutWindow: number;
  readonly breakoutMinHistory: number;
}

export const DEFAULT_THRESHOLDS: SignalThresholds = {
  detectScoreCenti: 7_000,
  rearmCenti: 1_000,
  breakoutBps: 500,
  breakoutWindow: 20,
  breakoutMinHistory: 5,
};

export interface SignalInput {
  readonly symbol: string;
  readonly topic: string;
  readonly marketId?: string | undefined;
  readonly scoreCenti: number;
  readonly sentimentBp: number;
  readonly velocityCenti: number;
  /** The trend market's new index price (ticks), when it has a market. */
  readonly priceTicks?: number | undefined;
}

/** Per-symbol detection state; `observe` answers the signals an update raises (pure). */
export class SignalDetector {
  readonly #armed = new Map<string, boolean>();
  readonly #prices = new Map<string, number[]>();

  constructor(readonly thresholds: SignalThresholds = DEFAULT_THRESHOLDS) {}

  /** A stored score at start: above the threshold means detected already. */
  seed(symbol: string, scoreCenti: number): void {
    this.#armed.set(symbol, scoreCenti < this.thresholds.detectScoreCenti);
  }

  observe(input: SignalInput): TrendSignalCommand[] {
    const t = this.thresholds;
    const out: TrendSignalCommand[] = [];
    const armed = this.#armed.get(input.symbol) ?? true;
    if (armed && input.scoreCenti >= t.detectScoreCenti && input.velocityCenti > 0) {
      this.#armed.set(input.symbol, false);
      out.push({
        kind: 'trend_detected',
        symbol: input.symbol,
        topic: input.topic,
        ...(input.marketId === undefined ? {} : { marketId: input.marketId }),
        scoreCenti: input.scoreCenti,
        sentimentBp: input.sentimentBp,
      });
    } else if (!armed && input.scoreCenti < t.detectScoreCenti - t.rearmCenti) {
      this.#armed.set(input.symbol, true);
    }
    if (input.marketId !== undefined && input.priceTicks !== undefined) {
      const prices = this.#prices.get(input.marketId) ?? [];
      this.#prices.set(input.marketId, prices);
      if (prices.length >= t.breakoutMinHistory) {
        const direction = breakout(prices, input.priceTicks, t.breakoutBps);
        if (direction !== undefined) {
          out.push({
            kind: 'market_breakout',
            marketId: input.marketId,
            symbol: input.symbol,
            direction,
            price: input.priceTicks,
          });
        }
      }
      prices.push(input.priceTicks);
      if (prices.length > t.breakoutWindow) prices.shift();
    }
    return out;
  }
}

/** `up` / `down` when `price` leaves [min, max] of `window` by more than `bps` of the extreme. */
export function breakout(window: readonly number[], price: number, bps: number): 'up' | 'down' | undefined {
  const high = Math.max(...window);
  const low = Math.min(...window);
  // Integer comparison: price × 10000 against extreme × (10000 ± bps).
  if (BigInt(price) * 10_000n > BigInt(high) * BigInt(10_000 + bps)) return 'up';
  if (BigInt(price) * 10_000n < BigInt(low) * BigInt(10_000 - bps)) return 'down';
  return undefined;
}

export interface SignalJournalOptions {
  /** The journal writer (the supervisor's sink). */
  readonly sink: BatchSink;
  /** The committed event stream's in-process side (CommittedEventStream.publish). */
  readonly publish: (batch: JournalBatch) => void;
  /** The last `@trends` seq in the journal (journal.seq_to), continued from here. */
  readonly lastSeq: number;
}

/** Journals signals as `@trends` records and publishes them once committed. */
export class SignalJournal {
  #seq: number;

  constructor(private readonly options: SignalJournalOptions) {
    this.#seq = options.lastSeq;
  }

  /** One record of the signals (nothing for none); resolves once committed and published. */
  async record(signals: readonly TrendSignalCommand[], ts: number): Promise<void> {
    if (signals.length === 0) return;
    const batch: JournalBatch = {
      marketId: TRENDS_JOURNAL_ID,
      symbol: TRENDS_JOURNAL_ID,
      state: 'active',
      // A failed commit leaves a gap in the seq, as `@ledger` allows: the numbers are not reused.
      entries: signals.map((command) => {
        const seq = ++this.#seq;
        return { seq, ts, command, result: { ok: true, seq, events: [] }, postings: [] };
      }),
    };
    await this.options.sink.commit(batch);
    this.options.publish(batch);
  }
}

import type { BookEvent } from './types.ts';

/**
 * What LevelChanges reads and marks of a price level (priceLadder.ts `Level` is one): declared here
 * so that the ladder, which notes its levels here, is the only one of the two importing the other.
 */
export interface Level {
  readonly price: number;
  readonly total: number;
  readonly ladder: { readonly isSell: boolean; level(price: number): { readonly total: number } | undefined };
  notedIn: number;
  totalBefore: number;
  batchNotedIn: number;
  batchBefore: number;
}

/**
 * Collects the levels a command touches, with their totals before it, so the command can end with
 * one `level` event per level whose total really changed. Noting is O(1): a level remembers the
 * command that last noted it.
 *
 * Optionally also over a batch of commands (beginBatch … endBatch): whether any level's total
 * differs from before the batch, which is what steps the published book seq (PROTOCOL: one step
 * per committed batch that changed the book; a level that went 5 → 0 → 5 within it did not change).
 */
export class LevelChanges {
  private command = 0;
  /** Levels noted in this command (a fresh array per command: cheaper in V8 than truncating one). */
  private notes: Level[] = [];
  /** Numbers batches; a level remembers the batch that first noted it. */
  private batch = 0;
  private inBatch = false;
  /** Levels first noted in this batch, in noting order. */
  private batchNotes: Level[] = [];

  /** Starts tracking a batch: endBatch() then says whether it changed any level. */
  beginBatch(): void {
    this.batch++;
    this.inBatch = true;
    this.batchNotes = [];
  }

  /**
   * Whether any level's total now differs from its total when the batch began (false when no
   * batch was begun), and stops tracking. A price whose level vanished and came back within the
   * batch is compared from its first level object (the one there before the batch, or a new one
   * that started at 0) to what is at that price now.
   */
  endBatch(): boolean {
    const notes = this.batchNotes;
    const tracked = this.inBatch;
    this.inBatch = false;
    this.batchNotes = [];
    if (!tracked || notes.length === 0) return false;
    const firsts = new Map<string, Level>();
    for (const level of notes) {
      const key = `${level.ladder.isSell ? 's' : 'b'}${level.price}`;
      if (!firsts.has(key)) firsts.set(key, level);
    }
    for (const level of firsts.values()) {
      if ((level.ladder.level(level.price)?.total ?? 0) !== level.batchBefore) return true;
    }
    return false;
  }

  begin(): void {
    this.command++;
    // flush() leaves it empty; only a command that threw midway leaves notes behind.
    if (this.notes.length !== 0) this.notes = [];
  }

  /** Call before changing the level's total. */
  note(level: Level): void {
    if (this.inBatch && level.batchNotedIn !== this.batch) {
      level.batchNotedIn = this.batch;
      level.batchBefore = level.total;
      this.batchNotes.push(level);
    }
    if (level.notedIn === this.command) return;
    level.notedIn = this.command;
    level.totalBefore = level.total;
    this.notes.push(level);
  }

  /** Appends the level events: buys first by price descending, then sells by price ascending. */
  flush(events: BookEvent[]): void {
    const notes = this.notes;
    if (notes.length === 0) return;
    // Stable sort: when a level vanished and came back within the command, its first note holds
    // the total from before the command. Commands touch one to three levels as a rule, where an
    // insertion sort costs a fraction of Array#sort with a comparator (19% of CPU on the
    // exchange-core mix before this, bench/RESULTS.md).
    if (notes.length > 16) notes.sort(byPriority);
    else insertionSort(notes);
    for (let i = 0; i < notes.length; i++) {
      const first = notes[i]!;
      // A level object is never reused: once dropped its total stays 0. When the price came back
      // within the command, the last note of the run holds the level that is there now.
      while (i + 1 < notes.length && sameLevel(notes[i + 1]!, first)) i++;
      const now = notes[i]!.total;
      if (now !== first.totalBefore) {
        const side = first.ladder.isSell ? 'sell' : 'buy';
        events.push({ type: 'level', side, price: first.price, qty: now });
      }
    }
    this.notes = [];
  }
}

const sameLevel = (a: Level, b: Level): boolean => a.ladder === b.ladder && a.price === b.price;

function insertionSort(notes: Level[]): void {
  for (let i = 1; i < notes.length; i++) {
    const note = notes[i]!;
    let j = i - 1;
    while (j >= 0 && byPriority(notes[j]!, note) > 0) {
      notes[j + 1] = notes[j]!;
      j--;
    }
    notes[j + 1] = note;
  }
}

function byPriority(a: Level, b: Level): number {
  const aSells = a.ladder.isSell;
  if (aSells !== b.ladder.isSell) return aSells ? 1 : -1;
  return aSells ? a.price - b.price : b.price - a.price;
}

import type { Level, PriceLadder } from './priceLadder.ts';
import type { BookEvent } from './types.ts';

interface Note {
  readonly isSell: boolean;
  readonly price: number;
  readonly before: number;
}

/**
 * Collects the levels a command touches, with their totals before it, so the command can end with
 * one `level` event per level whose total really changed. Noting is O(1): a level remembers the
 * command that last noted it.
 */
export class LevelChanges {
  private command = 0;
  private notes: Note[] = [];

  begin(): void {
    this.command++;
    if (this.notes.length > 0) this.notes = [];
  }

  /** Call before changing the level's total. */
  note(level: Level): void {
    if (level.notedIn === this.command) return;
    level.notedIn = this.command;
    this.notes.push({ isSell: level.ladder.isSell, price: level.price, before: level.total });
  }

  /** Appends the level events: buys first by price descending, then sells by price ascending. */
  flush(events: BookEvent[], bids: PriceLadder, asks: PriceLadder): void {
    const notes = this.notes;
    if (notes.length === 0) return;
    // Stable sort: when a level vanished and came back within the command, its first note holds
    // the total from before the command.
    if (notes.length > 1) notes.sort(byPriority);
    for (let i = 0; i < notes.length; i++) {
      const note = notes[i]!;
      const previous = notes[i - 1];
      if (previous !== undefined && previous.isSell === note.isSell && previous.price === note.price)
        continue;
      const now = (note.isSell ? asks : bids).level(note.price)?.total ?? 0;
      if (now !== note.before) {
        events.push({ type: 'level', side: note.isSell ? 'sell' : 'buy', price: note.price, qty: now });
      }
    }
    this.notes = [];
  }
}

function byPriority(a: Note, b: Note): number {
  if (a.isSell !== b.isSell) return a.isSell ? 1 : -1;
  return a.isSell ? a.price - b.price : b.price - a.price;
}

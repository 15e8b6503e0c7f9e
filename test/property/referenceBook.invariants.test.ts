import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { BookEvent, BookSnapshot } from '../../src/actors/book/types.ts';
import {
  checkInvariants,
  checkLevelEventsMatchDepth,
  checkQuantityConservation,
} from '../reference/invariants.ts';
import { ReferenceBook } from '../reference/referenceBook.ts';
import { configArb, intentsArb, toCommands } from './bookCommands.ts';

/**
 * The reference model alone against the invariants, so it is checked even where the engine agrees
 * with it, and so this file runs before the engine exists.
 */
describe('ReferenceBook invariants', () => {
  it('holds the book invariants after every command and conserves quantity', () => {
    fc.assert(
      fc.property(configArb, intentsArb, (config, intents) => {
        const book = new ReferenceBook(config);
        const stream: BookEvent[] = [];
        for (const command of toCommands(intents, config)) {
          stream.push(...book.execute(command));
          checkInvariants(book);
          checkQuantityConservation(stream, book);
        }
        checkLevelEventsMatchDepth(stream, book);
      }),
      { numRuns: 1000 },
    );
  });

  it('continues identically from its own JSON snapshot', () => {
    fc.assert(
      fc.property(configArb, intentsArb, fc.nat(), (config, intents, cut) => {
        const commands = toCommands(intents, config);
        const split = cut % (commands.length + 1);
        const original = new ReferenceBook(config);
        for (const command of commands.slice(0, split)) original.execute(command);
        const restored = ReferenceBook.restore(
          JSON.parse(JSON.stringify(original.snapshot())) as BookSnapshot,
        );
        for (const command of commands.slice(split)) {
          expect(restored.execute(command)).toEqual(original.execute(command));
          expect(restored.snapshot()).toEqual(original.snapshot());
        }
      }),
      { numRuns: 500 },
    );
  });
});

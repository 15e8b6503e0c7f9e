import { describe, expect, it } from 'vitest';
import { Mailbox } from '../../src/actors/mailbox.ts';

describe('Mailbox', () => {
  it('hands items back first in, first out', () => {
    const box = new Mailbox<number>(8);
    for (let i = 1; i <= 5; i++) expect(box.offer(i)).toBe(true);
    expect(box.size).toBe(5);
    expect(box.take(10)).toEqual([1, 2, 3, 4, 5]);
    expect(box.size).toBe(0);
    expect(box.take(3)).toEqual([]);
  });

  it('is bounded: offer answers false when full and keeps what it holds', () => {
    const box = new Mailbox<string>(3);
    expect(['a', 'b', 'c'].map((s) => box.offer(s))).toEqual([true, true, true]);
    expect(box.offer('d')).toBe(false);
    expect(box.size).toBe(3);
    expect(box.take(1)).toEqual(['a']);
    expect(box.offer('e')).toBe(true);
    expect(box.offer('f')).toBe(false);
    expect(box.drainAll()).toEqual(['b', 'c', 'e']);
  });

  it('take(max) removes at most max items, oldest first, across the wrap of the ring', () => {
    const box = new Mailbox<number>(4);
    let next = 0;
    const expected: number[] = [];
    // Many rounds of partial fills and partial takes move the head all around the ring.
    for (let round = 0; round < 50; round++) {
      const fill = 1 + (round % 4);
      for (let i = 0; i < fill; i++) {
        if (box.offer(next)) expected.push(next);
        next++;
      }
      const max = round % 3;
      const taken = box.take(max);
      expect(taken).toEqual(expected.splice(0, max));
      expect(box.size).toBe(expected.length);
    }
    expect(box.drainAll()).toEqual(expected);
  });

  it('refuses a capacity that is not a positive integer', () => {
    expect(() => new Mailbox(0)).toThrow(/capacity/);
    expect(() => new Mailbox(1.5)).toThrow(/capacity/);
  });
});

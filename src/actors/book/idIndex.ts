/** An empty bucket. Buckets hold slot + 1 so that a zeroed table is empty. */
const EMPTY = 0;

/**
 * Order id → store slot, as an open-addressing hash table (linear probing, backward-shift deletion)
 * over one Int32Array. It stores only slots: the key of a bucket is read from the store's orderId
 * column, so an entry costs 4–8 bytes instead of a Map entry's ~40. Kept at most half full. The
 * column is read through its holder (the store replaces it when it grows), not through a closure:
 * one closure per book made every probe a call whose target changed from book to book.
 */
export class IdIndex {
  private table = new Int32Array(1024);
  private mask = 1023;
  /** 32 − log2(table length): the home bucket is the top bits of a multiplicative hash. */
  private shift = 22;
  private count = 0;

  constructor(private readonly ids: { readonly orderId: ArrayLike<number> }) {}

  get size(): number {
    return this.count;
  }

  get(orderId: number): number | undefined {
    const table = this.table;
    for (let i = this.home(orderId); ; i = (i + 1) & this.mask) {
      const entry = table[i]!;
      if (entry === EMPTY) return undefined;
      if (this.ids.orderId[entry - 1] === orderId) return entry - 1;
    }
  }

  /** Adds the slot under `orderId`; false (and nothing changes) when the id is already there. */
  add(orderId: number, slot: number): boolean {
    if ((this.count + 1) * 2 > this.table.length) this.resize(this.table.length * 2);
    const table = this.table;
    let i = this.home(orderId);
    for (; table[i] !== EMPTY; i = (i + 1) & this.mask) {
      if (this.ids.orderId[table[i]! - 1] === orderId) return false;
    }
    table[i] = slot + 1;
    this.count++;
    return true;
  }

  delete(orderId: number): void {
    const table = this.table;
    const mask = this.mask;
    let i = this.home(orderId);
    for (; ; i = (i + 1) & mask) {
      const entry = table[i]!;
      if (entry === EMPTY) return;
      if (this.ids.orderId[entry - 1] === orderId) break;
    }
    // Backward shift: pull later entries of the probe run into the hole so lookups never stop early.
    for (let j = (i + 1) & mask; table[j] !== EMPTY; j = (j + 1) & mask) {
      const home = this.home(this.ids.orderId[table[j]! - 1]!);
      const movable = i <= j ? home <= i || home > j : home <= i && home > j;
      if (movable) {
        table[i] = table[j]!;
        i = j;
      }
    }
    table[i] = EMPTY;
    this.count--;
  }

  private home(orderId: number): number {
    // Mix both 32-bit halves: ids are safe integers, often sequential.
    const low = orderId >>> 0;
    const high = Math.floor(orderId / 4294967296) >>> 0;
    return (Math.imul(low ^ Math.imul(high, 0x9e3779b1), 0x9e3779b1) >>> this.shift) & this.mask;
  }

  private resize(length: number): void {
    const old = this.table;
    this.table = new Int32Array(length);
    this.mask = length - 1;
    this.shift = 32 - (31 - Math.clz32(length));
    this.count = 0;
    for (const entry of old) if (entry !== EMPTY) this.add(this.ids.orderId[entry - 1]!, entry - 1);
  }
}

/**
 * GTD orders by expiry: a binary min-heap of (expireAt, orderId), earliest first, ties by id.
 * Entries are never removed when their order ends otherwise (filled, canceled): the book checks an
 * entry against its open orders when it comes to the top, which keeps fills and cancels free of
 * heap work; a stale entry lives at most until its time passes.
 */
export class Expiries {
  private readonly at: number[] = [];
  private readonly ids: number[] = [];

  get size(): number {
    return this.at.length;
  }

  /** The earliest entry's expireAt; undefined when empty. */
  get nextAt(): number | undefined {
    return this.at[0];
  }

  /** The earliest entry's order id; undefined when empty. */
  get nextId(): number | undefined {
    return this.ids[0];
  }

  push(expireAt: number, orderId: number): void {
    const { at, ids } = this;
    let i = at.length;
    at.push(expireAt);
    ids.push(orderId);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(i, parent)) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  /** Drops the earliest entry. */
  pop(): void {
    const { at, ids } = this;
    const lastAt = at.pop();
    const lastId = ids.pop();
    if (at.length === 0 || lastAt === undefined || lastId === undefined) return;
    at[0] = lastAt;
    ids[0] = lastId;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let first = i;
      if (left < at.length && this.before(left, first)) first = left;
      if (right < at.length && this.before(right, first)) first = right;
      if (first === i) return;
      this.swap(i, first);
      i = first;
    }
  }

  clear(): void {
    this.at.length = 0;
    this.ids.length = 0;
  }

  private before(a: number, b: number): boolean {
    const { at, ids } = this;
    return at[a]! < at[b]! || (at[a] === at[b] && ids[a]! < ids[b]!);
  }

  private swap(a: number, b: number): void {
    const { at, ids } = this;
    [at[a], at[b]] = [at[b]!, at[a]!];
    [ids[a], ids[b]] = [ids[b]!, ids[a]!];
  }
}

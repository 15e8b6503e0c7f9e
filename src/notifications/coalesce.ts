/**
 * Concurrent calls made one statement: while a batch runs, calls queue, and the queue goes as the
 * next batch (at most `max` calls each) when it ends. The channels' workers run many jobs at once;
 * each job's read of its delivery and its write of the outcome were a round trip each (and a
 * pool checkout with its reset), which held email near 250/s (bench/RESULTS.md, issue 17). The
 * batch grows with the load: one call alone still goes at once (after the current tick's calls).
 */

export type BatchRun<K, V> = (keys: readonly K[]) => Promise<readonly V[]>;

export class Coalescer<K, V> {
  readonly #run: BatchRun<K, V>;
  readonly #max: number;
  #queued: { key: K; resolve: (value: V) => void; reject: (error: unknown) => void }[] = [];
  #running = false;

  /** `run` answers one value per key, in the keys' order. */
  constructor(run: BatchRun<K, V>, max = 500) {
    if (!Number.isSafeInteger(max) || max < 1) throw new RangeError('max must be a positive integer');
    this.#run = run;
    this.#max = max;
  }

  call(key: K): Promise<V> {
    return new Promise<V>((resolve, reject) => {
      this.#queued.push({ key, resolve, reject });
      this.#kick();
    });
  }

  #kick(): void {
    if (this.#running || this.#queued.length === 0) return;
    this.#running = true;
    // After this tick: the calls made in it go together.
    setImmediate(() => {
      void this.#flush();
    });
  }

  async #flush(): Promise<void> {
    const batch = this.#queued.splice(0, this.#max);
    try {
      const values = await this.#run(batch.map((b) => b.key));
      if (values.length !== batch.length) {
        throw new Error(`a batch of ${batch.length} answered ${values.length} values`);
      }
      batch.forEach((b, i) => {
        b.resolve(values[i]!);
      });
    } catch (error) {
      for (const b of batch) b.reject(error);
    } finally {
      this.#running = false;
      this.#kick();
    }
  }
}

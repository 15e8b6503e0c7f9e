/**
 * The rounds of a catch-up loop (the projector, a durable consumer): one round at a time in this
 * process (a tick and a caller share it; a second caller waits for it, then runs again so it sees
 * everything committed before it was called), repeated every interval from start() to stop().
 */
export class Rounds {
  readonly #round: () => Promise<number>;
  readonly #onError: (error: unknown) => void;
  /** Told true when stop() begins (a round in progress ends after its current page), false after. */
  readonly #halt: (halting: boolean) => void;
  #running: Promise<number> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #stopped = true;

  constructor(
    round: () => Promise<number>,
    onError: (error: unknown) => void,
    halt: (halting: boolean) => void,
  ) {
    this.#round = round;
    this.#onError = onError;
    this.#halt = halt;
  }

  /** A round is running now. */
  get busy(): boolean {
    return this.#running !== undefined;
  }

  /** A round after the one running (if any); resolves with what it applied. */
  runOnce(): Promise<number> {
    const previous = this.#running ?? Promise.resolve(0);
    const run = previous.catch(() => 0).then(() => this.#round());
    this.#running = run;
    void run
      .finally(() => {
        if (this.#running === run) this.#running = undefined;
      })
      .catch(() => undefined);
    return run;
  }

  /**
   * Runs a round every intervalMs until stop(); false when started already. A tick for which
   * `idle` answers true runs no round (a caller's runOnce always does).
   */
  start(intervalMs: number, idle?: () => boolean): boolean {
    if (!this.#stopped) return false;
    this.#stopped = false;
    const tick = () => {
      if (this.#stopped) return;
      (idle?.() === true ? Promise.resolve(0) : this.runOnce())
        .catch((error: unknown) => {
          this.#onError(error);
        })
        .finally(() => {
          if (!this.#stopped) this.#timer = setTimeout(tick, intervalMs);
        });
    };
    tick();
    return true;
  }

  /** Stops the loop; resolves once a round in flight has finished. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#halt(true);
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    try {
      await this.#running?.catch(() => undefined);
    } finally {
      this.#halt(false);
    }
  }
}

/*
 * Overlapping reads of one view (a sign-in, a push, a click each start one): answers may come back
 * in any order, and only the newest read's answer may draw, or a stale list would overwrite a
 * newer one. Each read takes a ticket first and draws only while its ticket is still current.
 */
export class LatestOnly {
  #issued = 0;

  /** A ticket for a read starting now; it supersedes every earlier one. */
  take(): number {
    return ++this.#issued;
  }

  /** Whether the read of `ticket` is still the newest (so its answer may draw). */
  current(ticket: number): boolean {
    return ticket === this.#issued;
  }
}

/**
 * One producer, its subscribers called in the order they subscribed, synchronously: how the
 * composition root connects a producer built early (the supervisor's committed batches and
 * inspection events, the publishers' pushes) to consumers built in a later stage, without a
 * forward reference. A subscriber that throws stops the emit (as a direct call would).
 */
export class Fanout<T> {
  #subscribers: ((value: T) => void)[] = [];

  subscribe(subscriber: (value: T) => void): () => void {
    this.#subscribers = [...this.#subscribers, subscriber];
    return () => {
      this.#subscribers = this.#subscribers.filter((s) => s !== subscriber);
    };
  }

  readonly emit = (value: T): void => {
    for (const subscriber of this.#subscribers) subscriber(value);
  };
}

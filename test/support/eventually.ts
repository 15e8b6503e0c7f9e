/**
 * Polls `check` until it answers something other than `undefined` or `false`, and returns that.
 * The way a test waits for a state it cannot be told about (a read of the public API, a process
 * gone): a deadline, never a fixed sleep. Throws after `timeoutMs` with `what`; a function `what`
 * is called then, so the message can show the last value the check read.
 */
export async function eventually<T>(
  check: () => T | undefined | false | Promise<T | undefined | false>,
  options: {
    readonly timeoutMs?: number;
    readonly everyMs?: number;
    readonly what?: string | (() => string);
  } = {},
): Promise<T> {
  const { timeoutMs = 10_000, everyMs = 20, what = 'the condition' } = options;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${typeof what === 'string' ? what : what()}`,
      );
    }
    // The polling interval, not a wait for something: the deadline above bounds the wait.
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

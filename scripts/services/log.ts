/** Progress lines for the service runner: concise, on stderr, prefixed so they stand out from the app's own output. */
export function log(message: string): void {
  process.stderr.write(`[services] ${message}\n`);
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/** What the parts of the relational projections share: their cursor's name and their error. */

/** The projection_cursors row of the relational projections. */
export const RELATIONAL_PROJECTION = 'relational';

export class ProjectionError extends Error {
  constructor(message: string) {
    super(`projector: ${message}`);
    this.name = 'ProjectionError';
  }
}

export function safeInteger(text: string, what: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value)) throw new ProjectionError(`${what} ${text} is not a safe integer`);
  return value;
}

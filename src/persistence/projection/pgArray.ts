import { sql } from 'slonik';

/** Element types of the projector's array parameters. */
export type ArrayType = 'text' | 'int4' | 'int8' | 'float8' | 'numeric' | 'timestamptz';

/**
 * An array parameter as one Postgres array literal, built here: `sql.array` leaves the conversion
 * to pg, whose per-element prepareValue and two regex escapes were ~4% of the server's CPU in
 * bench:ws (the projector sends ~100 array elements per order), and whose concatenation was most
 * of the bytes allocated per order. The usual array (no null, nothing to escape) is one join().
 */
export function pgArray(values: readonly (string | number | null)[], type: ArrayType) {
  return sql.fragment`${arrayLiteral(values)}::${sql.identifier([type])}[]`;
}

/**
 * Every string element is quoted (so "NULL", empty strings, commas and braces stay plain text),
 * with `"` and `\` escaped; null is NULL.
 */
function arrayLiteral(values: readonly (string | number | null)[]): string {
  let plain = true;
  let strings = false;
  for (let i = 0; i < values.length && plain; i++) {
    const value = values[i];
    if (value === null || value === undefined) plain = false;
    else if (typeof value === 'string') {
      strings = true;
      if (value.includes('"') || value.includes('\\')) plain = false;
    }
  }
  if (plain) return strings ? `{"${values.join('","')}"}` : `{${values.join(',')}}`;
  return `{${values.map(arrayElement).join(',')}}`;
}

function arrayElement(value: string | number | null): string {
  if (value === null) return 'NULL';
  if (typeof value === 'number') return String(value);
  return `"${value.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;
}

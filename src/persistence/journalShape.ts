/*
 * The journal record's building blocks (format in journalCodec.ts): a variant's positional layout
 * (a Shape, checked at compile time to list every field), the record's string table, enum values as
 * list indices, deltas, bigint amounts, and the error every decoder throws.
 */

/** Marks a field written as an index into the record's string table (version 2). */
export const STRING = 'string';

type FieldSpec<T> = (keyof T & string) | readonly [keyof T & string, readonly string[] | typeof STRING];
type FieldName<S> = S extends readonly [infer N, unknown] ? N : S;
/** Fields of T a shape forgot: they make a third argument required (a compile error), so none is dropped. */
type Missing<T, K extends string, F extends readonly unknown[]> = Exclude<keyof T, FieldName<F[number]> | K>;
type Variant<U, K extends keyof U & string, Tag> = Extract<U, { readonly [P in K]: Tag }>;

const PLAIN = 0;
const ENUM = 1;
const INTERNED = 2;

/** One variant's positional layout, with its fields' kinds precomputed for the decoder's loop. */
export interface Shape {
  readonly tag: string;
  readonly names: readonly string[];
  readonly kinds: readonly number[];
  /** The value list of each ENUM field (undefined for the others). */
  readonly enums: readonly (readonly string[] | undefined)[];
}

/** Declares the positional layout of one variant of the union U (tag key K); every field must be listed. */
type ShapeOf<U, K extends keyof U & string> = <
  Tag extends U[K] & string,
  const F extends readonly FieldSpec<Variant<U, K, Tag>>[],
>(
  tag: Tag,
  fields: F,
  ...complete: [Missing<Variant<U, K, Tag>, K, F>] extends [never]
    ? []
    : [missing: Missing<Variant<U, K, Tag>, K, F>]
) => Shape;

export function shapeOf<U, K extends keyof U & string>(): ShapeOf<U, K> {
  return (
    ...[tag, fields]: [
      string,
      readonly (string | readonly [string, readonly string[] | typeof STRING])[],
      ...unknown[],
    ]
  ) => ({
    tag,
    names: fields.map((f) => (typeof f === 'string' ? f : f[0])),
    kinds: fields.map((f) => (typeof f === 'string' ? PLAIN : f[1] === STRING ? INTERNED : ENUM)),
    enums: fields.map((f) => (typeof f === 'string' || f[1] === STRING ? undefined : f[1])),
  });
}

/** What msgpackr gives back for our records: plain values, arrays and string-keyed maps. */
export type Packed = unknown;
export type Fields = Record<string, unknown>;

export function indexTags(shapes: readonly Shape[]): Map<string, number> {
  return new Map(shapes.map((s, i) => [s.tag, i]));
}

export class JournalDecodeError extends Error {
  constructor(message: string) {
    super(`journal record: ${message}`);
    this.name = 'JournalDecodeError';
  }
}

/** A record's identifiers while it is encoded: each distinct string once, in first-use order. */
export class StringTable {
  readonly list: string[] = [];
  readonly #index = new Map<string, number>();

  ref(value: unknown, what: string): number {
    if (typeof value !== 'string') throw new Error(`journal: ${what} is not a string`);
    let i = this.#index.get(value);
    if (i === undefined) {
      i = this.list.length;
      this.list.push(value);
      this.#index.set(value, i);
    }
    return i;
  }
}

/**
 * A string field as decoded: an index into the record's table (version 2) or, in a version 1 record
 * (no table), the string itself.
 */
export function unpackString(packed: unknown, strings: readonly string[] | undefined, what: string): string {
  if (strings !== undefined) {
    const value = typeof packed === 'number' ? strings[packed] : undefined;
    if (value === undefined) throw new JournalDecodeError(`${what}: no string ${String(packed)}`);
    return value;
  }
  if (typeof packed !== 'string') throw new JournalDecodeError(`${what} is not a string`);
  return packed;
}

export function trimNils(out: Packed[]): Packed[] {
  let end = out.length;
  while (end > 0 && out[end - 1] === null) end--;
  out.length = end;
  return out;
}

export function packShape(tag: number, shape: Shape, value: Fields, strings: StringTable): Packed[] {
  const out: Packed[] = [tag];
  const { names, kinds, enums } = shape;
  for (let i = 0; i < names.length; i++) {
    const v = value[names[i]!];
    if (v === undefined) out.push(null);
    else if (kinds[i] === INTERNED) out.push(strings.ref(v, `${shape.tag}.${names[i]!}`));
    else if (kinds[i] === ENUM) {
      const e = typeof v === 'string' ? enums[i]!.indexOf(v) : -1;
      out.push(e >= 0 ? e : v);
    } else out.push(v);
  }
  return trimNils(out);
}

export function unpackShape(
  shapes: readonly Shape[],
  packed: Packed,
  strings: readonly string[] | undefined,
  what: string,
): Fields {
  if (!Array.isArray(packed)) throw new JournalDecodeError(`${what} is not an array`);
  const tag: unknown = packed[0];
  const shape = typeof tag === 'number' ? shapes[tag] : undefined;
  if (shape === undefined) throw new JournalDecodeError(`unknown ${what} tag ${String(tag)}`);
  // A literal per tag key, not a computed key: V8 keeps these objects in fast mode.
  const out: Fields = what === 'event' ? { type: shape.tag } : { kind: shape.tag };
  const { names, kinds, enums } = shape;
  const n = Math.min(names.length, packed.length - 1);
  for (let i = 0; i < n; i++) {
    const v: unknown = packed[i + 1];
    if (v === undefined || v === null) continue;
    const kind = kinds[i];
    if (kind === PLAIN) out[names[i]!] = v;
    else if (kind === INTERNED)
      out[names[i]!] = unpackString(v, strings, `${what} ${shape.tag}.${names[i]!}`);
    else if (typeof v === 'number') {
      const name = enums[i]![v];
      if (name === undefined)
        throw new JournalDecodeError(`${what} ${shape.tag}.${names[i]!}: no value ${v}`);
      out[names[i]!] = name;
    } else out[names[i]!] = v;
  }
  return out;
}

export function packEnum(values: readonly string[], value: string): number | string {
  const i = values.indexOf(value);
  return i >= 0 ? i : value;
}

export function unpackEnum(values: readonly string[], packed: unknown, what: string): string {
  if (typeof packed === 'string') return packed;
  const value = typeof packed === 'number' ? values[packed] : undefined;
  if (value === undefined) throw new JournalDecodeError(`bad ${what} ${String(packed)}`);
  return value;
}

/** A deep copy without undefined fields (maps only hold what is present). */
export function withoutUndefined(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutUndefined);
  if (value !== null && typeof value === 'object') {
    const out: Fields = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = withoutUndefined(v);
    return out;
  }
  return value;
}

export function packDelta(value: number, previous: number): Packed {
  const delta = value - previous;
  return Number.isSafeInteger(delta) && previous + delta === value ? delta : [value];
}

export function unpackDelta(packed: Packed, previous: number, what: string): number {
  if (typeof packed === 'number') return previous + packed;
  if (Array.isArray(packed) && typeof packed[0] === 'number') return packed[0];
  throw new JournalDecodeError(`bad ${what}`);
}

/** A bigint as a safe integer, or as its decimal string beyond that. */
export function packAmount(amount: bigint): number | string {
  const small = amount >= BigInt(Number.MIN_SAFE_INTEGER) && amount <= BigInt(Number.MAX_SAFE_INTEGER);
  return small ? Number(amount) : amount.toString();
}

export function unpackAmount(packed: unknown, what: string): bigint {
  if (typeof packed !== 'string' && typeof packed !== 'number') {
    throw new JournalDecodeError(`${what} is neither an integer nor a decimal string`);
  }
  return BigInt(packed);
}

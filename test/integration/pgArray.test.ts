import fc from 'fast-check';
import { createPool, sql, type DatabasePool } from 'slonik';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { pgArray } from '../../src/persistence/projection/pgArray.ts';
import { useTestDatabase } from '../support/database.ts';

/*
 * pgArray builds the projector's array parameters as literals itself (a speed path, see its
 * comment): whatever the elements, Postgres must read back exactly the array that was passed.
 */

const database = useTestDatabase('pgarray');
let pool: DatabasePool;

beforeAll(async () => {
  pool = await createPool(database.get().url, { maximumPoolSize: 1 });
});

afterAll(async () => {
  await pool.end();
});

const AsText = z.object({ a: z.array(z.string().nullable()) });

/** Strings that mean something in an array literal, mixed with arbitrary text (Postgres text holds no NUL). */
const element = fc.oneof(
  fc.constantFrom('', '"', '\\', '\\"', 'NULL', 'null', ',', '{', '}', '{}', ' padded ', 'a,b', 'ü€𝄞'),
  fc.string({ unit: 'grapheme', maxLength: 12 }).map((text) => text.replaceAll('\u0000', '')),
);

describe('pgArray', () => {
  it('a text array of any strings and nulls reaches Postgres unchanged', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.option(element, { nil: null }), { maxLength: 8 }), async (values) => {
        const row = await pool.one(sql.type(AsText)`SELECT ${pgArray(values, 'text')} AS a`);
        expect(row.a).toEqual(values);
      }),
      { numRuns: 200 },
    );
  });

  it('an int8 array of any safe integers and nulls reaches Postgres unchanged', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.option(fc.maxSafeInteger(), { nil: null }), {
          maxLength: 8,
        }),
        async (values) => {
          const row = await pool.one(sql.type(AsText)`SELECT (${pgArray(values, 'int8')})::text[] AS a`);
          expect(row.a).toEqual(values.map((value) => (value === null ? null : String(value))));
        },
      ),
      { numRuns: 100 },
    );
  });
});

// Small differences between SQLite and PostgreSQL, in one place.
import { sql, type RawBuilder } from 'kysely';
import type { Dialect } from './database.js';

/** Byte-wise ordering of a text column (the spec's lexical order), whatever the locale. */
export function lexical(dialect: Dialect, column: string): RawBuilder<unknown> {
  return dialect === 'postgres' ? sql`${sql.ref(column)} collate "C"` : sql`${sql.ref(column)}`;
}

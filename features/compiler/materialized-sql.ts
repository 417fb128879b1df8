/**
 * JSON fields of events kept as columns of their own: each `properties.*`, `traits.*` or
 * `context.*` path an events feature reads becomes a MATERIALIZED column of `events`, which
 * ClickHouse computes once when a row is inserted, instead of every run parsing the JSON again
 * (parsing is most of a full run's scan). Pure: what the columns are and the DDL that keeps them.
 *
 * A column is named after a hash of its expression, so a changed extraction is a new column, never
 * a stale one. Values are always right, materialized or not: in a part written before the column
 * existed, ClickHouse computes it from the expression when it is read (until `MATERIALIZE COLUMN`
 * has written it there; a mutation that a crash interrupted goes on when the server is back).
 */
import { createHash } from 'node:crypto';
import { fieldsRead, type FeatureSet, type FieldRef } from '../feature-model.ts';
import { fieldSql } from './source-sql.ts';
import { CLICKHOUSE_TYPE, ident, str } from './sql.ts';

export const MATERIALIZED_PREFIX = '_mat_';

export interface MaterializedField {
  /** The column of `events`. */
  column: string;
  /** Its ClickHouse type and MATERIALIZED expression (fieldSql's, so values are the same). */
  type: string;
  expr: string;
  /** The path it holds, as declared (`properties.category`), with its type. */
  comment: string;
}

/** The column a JSON field of events is kept in. */
export function materializedField(ref: FieldRef): MaterializedField {
  const type = `Nullable(${CLICKHOUSE_TYPE[ref.type]})`;
  const expr = fieldSql(ref);
  const hash = createHash('sha256').update(`${type}\n${expr}`).digest('hex').slice(0, 16);
  return { column: `${MATERIALIZED_PREFIX}${hash}`, type, expr, comment: `${[ref.column, ...(ref.jsonKeys ?? [])].join('.')} (${ref.type}), read by features` };
}

/** The JSON fields the events features of a set read, as columns (each once, in a stable order). */
export function materializedFields(set: FeatureSet): MaterializedField[] {
  const fields = new Map<string, MaterializedField>();
  for (const f of set.features) {
    if (f.kind !== 'aggregate' || f.source.kind !== 'events') continue;
    for (const m of fieldsRead(f).filter((r) => r.jsonKeys).map(materializedField)) fields.set(m.column, m);
  }
  return [...fields.values()].sort((a, b) => a.column.localeCompare(b.column));
}

export interface MaterializedChanges {
  /** Statements to run in order; empty when `existing` is what `wanted` needs. */
  statements: string[];
  added: string[];
  dropped: string[];
}

/**
 * DDL bringing the materialized columns of `table` (`existing`: the names it has with the prefix)
 * to `wanted`: new ones added and written into the existing parts by the same statement, which
 * waits for that mutation (one parse of the old rows, cheaper than a run parsing them while the
 * mutation does too); ones no feature reads any more dropped (each costs every insert a parse).
 */
export function materializedChangesSql(table: string, wanted: readonly MaterializedField[], existing: readonly string[]): MaterializedChanges {
  const have = new Set(existing);
  const want = new Set(wanted.map((m) => m.column));
  const add = wanted.filter((m) => !have.has(m.column));
  const dropped = existing.filter((c) => c.startsWith(MATERIALIZED_PREFIX) && !want.has(c));
  const statements: string[] = [];
  if (add.length) {
    const columns = add.map((m) => `ADD COLUMN IF NOT EXISTS ${ident(m.column)} ${m.type} MATERIALIZED ${m.expr} COMMENT ${str(m.comment)}`);
    statements.push(`ALTER TABLE ${table} ${[...columns, ...add.map((m) => `MATERIALIZE COLUMN ${ident(m.column)}`)].join(', ')} SETTINGS mutations_sync = 2`);
  }
  if (dropped.length) statements.push(`ALTER TABLE ${table} ${dropped.map((c) => `DROP COLUMN IF EXISTS ${ident(c)}`).join(', ')}`);
  return { statements, added: add.map((m) => m.column), dropped };
}

/** Keeps the materialized columns of `events` to the JSON fields a feature set reads (compiler/materialized-sql.ts). */
import type { Clickhouse } from '../src/clients/clickhouse.ts';
import { MATERIALIZED_PREFIX, materializedChangesSql, materializedFields, type MaterializedChanges } from './compiler/materialized-sql.ts';
import type { FeatureSet } from './feature-model.ts';

export interface MaterializedSync extends Pick<MaterializedChanges, 'added' | 'dropped'> {
  /** The columns a run reads instead of parsing JSON. */
  columns: ReadonlySet<string>;
}

/**
 * Adds the columns `set` reads and drops those it no longer does. Idempotent, and safe beside
 * another run: the statements are IF [NOT] EXISTS, and a column's values are right before it is
 * materialized in old parts.
 */
export async function syncMaterializedFields(ch: Clickhouse, set: FeatureSet): Promise<MaterializedSync> {
  const wanted = materializedFields(set);
  const existing = await ch.query<{ name: string }>(
    `SELECT name FROM system.columns WHERE database = {db:String} AND table = 'events' AND startsWith(name, {prefix:String}) ORDER BY name`,
    { db: ch.database, prefix: MATERIALIZED_PREFIX },
  );
  const changes = materializedChangesSql(ch.table('events'), wanted, existing.map((c) => c.name));
  for (const statement of changes.statements) await ch.command(statement);
  return { columns: new Set(wanted.map((m) => m.column)), added: changes.added, dropped: changes.dropped };
}

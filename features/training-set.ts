/**
 * Point-in-time training sets: for each entity row (identifier, time), every feature as it was at
 * that time. Rows reach profiles through today's identity map; then only source data from before
 * the row's time counts: events by timestamp, CDC rows as they were then (their latest change by
 * then in the changelog, absent if it deleted them), CRM records as their latest version by then.
 * Windows and clock-reading features are relative to the row's time. Nothing later can leak in.
 */
import { randomInt } from 'node:crypto';
import type { Clickhouse } from '../src/clients/clickhouse.ts';
import { compileTrainingSet, type CompileContext } from './compiler/compile.ts';
import { ENTITY } from './compiler/group-sql.ts';
import type { EntityRow } from './entity-rows.ts';
import type { FeatureSet } from './feature-model.ts';
import { FEATURE_QUERY_SETTINGS } from './feature-settings.ts';

export interface TrainingSet {
  /** `identifier`, `timestamp`, `profile_id`, then the features. */
  columns: string[];
  rows: Record<string, unknown>[];
}

/** ClickHouse DateTime64 text → ISO-8601. */
const toIso = (v: unknown) => (typeof v === 'string' && /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d/.test(v) ? `${v.replace(' ', 'T')}Z` : v);

export async function buildTrainingSet(ch: Clickhouse, set: FeatureSet, ctx: CompileContext, entities: EntityRow[]): Promise<TrainingSet> {
  // Not the runs' scratch prefix: a run starting meanwhile clears those.
  const name = (what: string) => `_training_${Date.now()}_${randomInt(1_000_000)}_${what}`;
  const rawName = name('input');
  const [raw, table] = [ch.table(rawName), ch.table(name('entities'))];
  try {
    await ch.command(`CREATE TABLE ${raw} (row UInt64, identifier String, id_type String, id_value String, as_of DateTime64(3, 'UTC')) ENGINE = MergeTree ORDER BY row`);
    await ch.insert(
      rawName,
      entities.map((e, row) => ({ row, identifier: e.identifier, id_type: e.type, id_value: e.value, as_of: e.timestampMs })),
    );
    await ch.command(
      `CREATE TABLE ${table} (${ENTITY.rowId} UInt64, ${ENTITY.profileId} String, ${ENTITY.asOf} DateTime64(3, 'UTC'), identifier String) ENGINE = MergeTree ORDER BY ${ENTITY.rowId}`,
    );
    await ch.command(
      `INSERT INTO ${table} SELECT r.row, ifNull(m.profile_id, ''), r.as_of, r.identifier FROM ${raw} AS r
       LEFT JOIN (SELECT id_type, id_value, profile_id FROM ${ctx.identityMap} WHERE (id_type, id_value) IN (SELECT id_type, id_value FROM ${raw})) AS m
       ON m.id_type = r.id_type AND m.id_value = r.id_value ${FEATURE_QUERY_SETTINGS}`,
    );
    const sql = compileTrainingSet(set, ctx, table, ['identifier']);
    const rows = await ch.query<Record<string, unknown>>(
      `SELECT t.identifier AS identifier, t.${ENTITY.asOf} AS timestamp, nullIf(e.${ENTITY.profileId}, '') AS profile_id, t.* EXCEPT (${ENTITY.rowId}, ${ENTITY.asOf}, identifier)
       FROM (${sql}) AS t INNER JOIN ${table} AS e ON e.${ENTITY.rowId} = t.${ENTITY.rowId}
       ORDER BY t.${ENTITY.rowId} ${FEATURE_QUERY_SETTINGS}`,
    );
    const columns = ['identifier', 'timestamp', 'profile_id', ...set.features.map((f) => f.name)];
    return { columns, rows: rows.map((r) => Object.fromEntries(columns.map((c) => [c, toIso(r[c])]))) };
  } finally {
    await ch.command(`DROP TABLE IF EXISTS ${raw}`).catch(() => {});
    await ch.command(`DROP TABLE IF EXISTS ${table}`).catch(() => {});
  }
}

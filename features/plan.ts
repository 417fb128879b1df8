/** What `tessera features plan` shows: the SQL of a full run now, per source group. Pure. */
import { allProfilesSql, compileRun, groupTableSql, type CompileContext } from './compiler/compile.ts';
import { materializedChangesSql, materializedFields } from './compiler/materialized-sql.ts';
import { createProfilesTableSql } from './compiler/profile-sql.ts';
import type { FeatureSet } from './feature-model.ts';
import { FEATURE_QUERY_SETTINGS } from './feature-settings.ts';

export interface PlanQuery {
  /** The source group (`events`, `cdc:<source>:<table>`, `crm:<source>`). */
  group: string;
  label: string;
  features: string[];
  sql: string;
}

export interface Plan {
  /** The columns of `events` that keep the JSON fields the features read, with the DDL that adds them to a table without them. */
  materialized: { columns: { column: string; holds: string }[]; sql: string[] };
  /** One query per source group. */
  queries: PlanQuery[];
  /** The table a full run creates (`versionTable` names it) and the statement that fills it. */
  createTable: string;
  insert: string;
}

/** A run reads the materialized columns of the set's JSON fields (a run adds them to `events` first). */
export function buildPlan(set: FeatureSet, ctx: CompileContext, asOfMs: number, versionTable: string, scratch: (what: string) => string): Plan {
  const fields = materializedFields(set);
  const runCtx: CompileContext = { ...ctx, materialized: new Set(fields.map((m) => m.column)) };
  const run = compileRun(set, runCtx, asOfMs, { kind: 'all' }, allProfilesSql(runCtx), scratch);
  const lookups = run.lookups.map((l) => `${l.sql};\n`).join('');
  return {
    materialized: { columns: fields.map((m) => ({ column: m.column, holds: m.comment })), sql: materializedChangesSql(ctx.table('events'), fields, []).statements },
    queries: run.queries.map(({ group, features, sql, table }, i) => ({
      group: group.key,
      label: group.label,
      features: features.map((f) => f.name),
      sql: run.direct
        ? `${lookups}-- a single source group: its query writes the rows of the new version directly (below)`
        : `${i === 0 ? lookups : ''}${groupTableSql(table, sql)}\n${FEATURE_QUERY_SETTINGS}`,
    })),
    createTable: createProfilesTableSql(versionTable, set, run.states),
    insert: run.direct
      ? `INSERT INTO ${versionTable}\n${run.direct.rows}\n${FEATURE_QUERY_SETTINGS};\nINSERT INTO ${versionTable}\n${run.direct.missing(versionTable)}\n${FEATURE_QUERY_SETTINGS}`
      : `INSERT INTO ${versionTable}\n${run.select}\n${FEATURE_QUERY_SETTINGS}`,
  };
}

/** What `tessera features plan` shows: the SQL of a full run now, per source group. Pure. */
import { allProfilesSql, compileRun, type CompileContext } from './compiler/compile.ts';
import { createProfilesTableSql } from './compiler/profile-sql.ts';
import type { FeatureSet } from './feature-model.ts';
import { FEATURE_QUERY_SETTINGS } from './feature-settings.ts';

export interface PlanGroup {
  key: string;
  label: string;
  features: string[];
  sql: string;
}

export interface Plan {
  groups: PlanGroup[];
  /** The table a full run creates (`versionTable` names it) and the statement that fills it. */
  createTable: string;
  insert: string;
}

export function buildPlan(set: FeatureSet, ctx: CompileContext, asOfMs: number, versionTable: string): Plan {
  const run = compileRun(set, ctx, asOfMs, { kind: 'all' }, allProfilesSql(ctx));
  return {
    groups: run.groups.map(({ group, sql }) => ({ key: group.key, label: group.label, features: group.features.map((f) => f.name), sql: `${sql}\n${FEATURE_QUERY_SETTINGS}` })),
    createTable: createProfilesTableSql(versionTable, set),
    insert: `INSERT INTO ${versionTable}\n${run.select}\n${FEATURE_QUERY_SETTINGS}`,
  };
}

/**
 * The compiler's entry points: a validated feature set to the SQL of a run (one query per source
 * group, assembled into the rows of the `profiles` table) or of a training set. Pure: the same
 * set, context and time always give the same SQL.
 */
import { createHash } from 'node:crypto';
import type { AggregateFeature, FeatureSet } from '../feature-model.ts';
import { ENTITY, groupFeatures, groupQuery, lookupTableSql, trainingGroupSql, type GroupQuery, type IdentityLookup, type RunScope } from './group-sql.ts';
import { assemblySql, defaultRowsSql, directRowsSql } from './profile-sql.ts';
import type { CompileContext } from './source-sql.ts';
import { timeLiteral } from './sql.ts';

export type { CompileContext } from './source-sql.ts';
export type { FeatureGroup, GroupQuery, IdentityLookup, RunScope } from './group-sql.ts';

export interface CompiledRun {
  /** The identifier lookups the queries read, each with the statement that fills it (run first). */
  lookups: (IdentityLookup & { sql: string })[];
  /** One query per source group (see groupQuery), each with the table its rows go to before they are assembled. */
  queries: (GroupQuery & { table: string })[];
  /** One row per profile of the scope (`profile_id` and every feature), from the group tables. */
  select: string;
  /**
   * With a single source group, the rows can go straight into the table instead: `rows` (the
   * profiles with source rows, from the group's query), then `missing(table)` (the profiles of the
   * base not in the table yet, every feature at its default). Saves a copy and a join of every row.
   */
  direct?: { rows: string; missing: (table: string) => string };
}

const aggregates = (set: FeatureSet) => set.features.filter((f): f is AggregateFeature => f.kind === 'aggregate');

/**
 * A run at `asOfMs` over `scope`. `base` lists the profiles to output (a query with `profile_id`):
 * all of the identity map for a full run, the touched ones that still exist for an incremental one.
 * Scratch tables are named by `scratch(what)`: each query fills its own (`group<i>`) first, and the
 * tables are then joined to the base; identifier lookups are `lookup<i>`.
 */
export function compileRun(set: FeatureSet, ctx: CompileContext, asOfMs: number, scope: RunScope, base: string, scratch: (what: string) => string): CompiledRun {
  const asOf = timeLiteral(asOfMs);
  const lookups: IdentityLookup[] = [];
  const lookup = (identityMap: string, type: string): string => {
    let found = lookups.find((l) => l.identityMap === identityMap && l.type === type);
    if (!found) lookups.push((found = { table: scratch(`lookup${lookups.length}`), identityMap, type }));
    return found.table;
  };
  const queries = groupFeatures(aggregates(set)).map((group, i) => ({ ...groupQuery(group, ctx, asOf, scope, lookup), table: scratch(`group${i}`) }));
  const only = queries.length === 1 ? queries[0] : undefined;
  return {
    lookups: lookups.map((l) => ({ ...l, sql: lookupTableSql(l) })),
    queries,
    select: assemblySql({ set, parts: queries.map((q) => ({ features: q.features, from: q.table })), base, key: 'profile_id', asOf }),
    ...(only && {
      direct: {
        rows: directRowsSql(set, only.sql, asOf),
        missing: (table: string) => defaultRowsSql(set, `SELECT DISTINCT profile_id FROM (\n${base}\n) WHERE profile_id NOT IN (SELECT profile_id FROM ${table})`, asOf),
      },
    }),
  };
}

/** The profiles of a full run: every profile of the identity map. */
export function allProfilesSql(ctx: CompileContext): string {
  return `SELECT DISTINCT profile_id FROM ${ctx.identityMap}`;
}

/**
 * A training set: `entities` is a table of (_row_id, _profile_id, _as_of, plus `keep` columns);
 * the result has one row per entity row with every feature as it was at `_as_of`.
 */
export function compileTrainingSet(set: FeatureSet, ctx: CompileContext, entities: string, keep: string[]): string {
  const parts = groupFeatures(aggregates(set)).map((group) => ({ features: group.features, from: `(\n${trainingGroupSql(group, ctx, entities)}\n)` }));
  return assemblySql({
    set,
    parts,
    base: `SELECT * FROM ${entities}`,
    key: ENTITY.rowId,
    keep: [ENTITY.asOf, ...keep],
    asOf: `_base.${ENTITY.asOf}`,
  });
}

/**
 * What the stored table depends on: names, types, defaults and how each feature is computed (not
 * descriptions, owners or tags). An incremental run needs the previous table to have the same.
 */
export function featureSetSignature(set: FeatureSet): string {
  const computed = set.features.map(({ description: _d, owner: _o, tags: _t, file: _f, ...rest }) => rest);
  return createHash('sha256').update(JSON.stringify(computed)).digest('hex').slice(0, 16);
}

/** The statement that fills a group's table with its query (settings appended by the caller). */
export function groupTableSql(table: string, sql: string): string {
  return `CREATE TABLE ${table} ENGINE = Memory AS\n${sql}`;
}

/**
 * The compiler's entry points: a validated feature set to the SQL of a run (one query per source
 * group, assembled into the rows of the `profiles` table) or of a training set. Pure: the same
 * set, context and time always give the same SQL.
 */
import { createHash } from 'node:crypto';
import type { AggregateFeature, FeatureSet } from '../feature-model.ts';
import { featureState, partColumn } from './aggregation-sql.ts';
import { ENTITY, dropsLeftRows, groupFeatures, groupQuery, lookupTableSql, minusColumn, plusColumn, trainingGroupSql, type Delta, type GroupQuery, type IdentityLookup, type RunScope } from './group-sql.ts';
import { assemblySql, defaultRowsSql, directRowsSql, type States } from './profile-sql.ts';
import { sourceSql, type CompileContext } from './source-sql.ts';
import { ident, indent, timeLiteral } from './sql.ts';

export type { CompileContext } from './source-sql.ts';
export type { Delta, FeatureGroup, GroupQuery, IdentityLookup, RunScope } from './group-sql.ts';

export interface CompiledRun {
  /** The states of the aggregate features (their hidden columns are part of the table). */
  states: States;
  /** The identifier lookups the queries read, each with the statement that fills it (run first). */
  lookups: (IdentityLookup & { sql: string })[];
  /** One query per source group (see groupQuery), each with the table its rows go to before they are assembled (and a staged query's table of rows). */
  queries: (GroupQuery & { table: string; rowsTable: string })[];
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

/** The states of a set's aggregate features (their parts and how they give values). */
export function featureStates(set: FeatureSet, ctx: CompileContext, asOf: string): States {
  return new Map(aggregates(set).map((f) => [f.name, featureState(f, sourceSql(f.source, ctx), asOf)]));
}

/**
 * A run at `asOfMs` over `scope`. `base` lists the profiles to output (a query with `profile_id`):
 * all of the identity map for a full run, the touched ones that still exist for an incremental one.
 * Scratch tables are named by `scratch(what)`: each query fills its own (`group<i>`) first, and the
 * tables are then joined to the base; identifier lookups are `lookup<i>`.
 */
export function compileRun(set: FeatureSet, ctx: CompileContext, asOfMs: number, scope: RunScope, base: string, scratch: (what: string) => string, delta?: Delta): CompiledRun {
  const asOf = timeLiteral(asOfMs);
  const states = featureStates(set, ctx, asOf);
  const lookups: IdentityLookup[] = [];
  const lookup = (identityMap: string, type: string): string => {
    let found = lookups.find((l) => l.identityMap === identityMap && l.type === type);
    if (!found) lookups.push((found = { table: scratch(`lookup${lookups.length}`), identityMap, type }));
    return found.table;
  };
  // An incremental run's scope names the groups it reads (a fold only those with a delta).
  const groups = groupFeatures(aggregates(set)).filter((g) => scope.kind === 'all' || g.key in scope.groups);
  const queries = groups.map((group, i) => ({ ...groupQuery(group, ctx, asOf, scope, lookup, delta), table: scratch(`group${i}`), rowsTable: scratch(`staged${i}`) }));
  const only = queries.length === 1 ? queries[0] : undefined;
  return {
    states,
    lookups: lookups.map((l) => ({ ...l, sql: lookupTableSql(l) })),
    queries,
    select: assemblySql({ set, states, parts: queries.map((q) => ({ features: q.features, from: q.table })), base, key: 'profile_id', asOf, withStates: true }),
    ...(only && {
      direct: {
        rows: directRowsSql(set, states, only.sql, asOf),
        missing: (table: string) => defaultRowsSql(set, states, `SELECT DISTINCT profile_id FROM (\n${base}\n) WHERE profile_id NOT IN (SELECT profile_id FROM ${table})`, asOf),
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
    states: featureStates(set, ctx, `_base.${ENTITY.asOf}`),
    withStates: false,
    parts,
    base: `SELECT * FROM ${entities}`,
    key: ENTITY.rowId,
    keep: [ENTITY.asOf, ...keep],
    asOf: `_base.${ENTITY.asOf}`,
  });
}

/**
 * An incremental run's rows of the profiles in `profiles` (a table with `profile_id`): their rows
 * in `previous` (a version of the table) with the delta of each group folded into the features'
 * states. `deltas` are tables of delta queries (compileRun with a delta), by group.
 */
export function foldedRowsSql(set: FeatureSet, ctx: CompileContext, asOfMs: number, previous: string, profiles: string, deltas: { features: AggregateFeature[]; table: string }[]): string {
  const asOf = timeLiteral(asOfMs);
  const states = featureStates(set, ctx, asOf);
  const deltaOf = new Map<string, string>();
  deltas.forEach(({ features }, i) => features.forEach((f) => deltaOf.set(f.name, `_d${i}`)));
  const merged = [...states.values()].flatMap((s) => {
    const old = s.parts.map((p) => `_o.${partColumn(p)}`);
    const d = deltaOf.get(s.feature.name);
    const delta = (column: (c: string) => string) => s.parts.map((p) => `${d}.${ident(column(p.column))}`);
    const parts = d ? s.merge(old, delta(plusColumn), dropsLeftRows(s) ? delta(minusColumn) : undefined) : old;
    return s.parts.map((p, i) => `${parts[i]} AS ${partColumn(p)}`);
  });
  const folded = [
    `SELECT\n${indent(['_o.`profile_id` AS `profile_id`', ...merged].join(',\n'))}`,
    `FROM (SELECT * FROM ${previous} WHERE profile_id IN (SELECT profile_id FROM ${profiles})) AS _o`,
    ...deltas.map(({ table }, i) => `LEFT JOIN ${table} AS _d${i} ON _d${i}.profile_id = _o.profile_id`),
  ].join('\n');
  return directRowsSql(set, states, folded, asOf);
}

/** How versions of the table store feature states; a change makes the next run full. */
const STATE_FORMAT = 1;

/**
 * What the stored table depends on: names, types, defaults and how each feature is computed (not
 * descriptions, owners or tags). An incremental run needs the previous table to have the same.
 */
export function featureSetSignature(set: FeatureSet): string {
  const computed = set.features.map(({ description: _d, owner: _o, tags: _t, file: _f, ...rest }) => rest);
  return createHash('sha256').update(JSON.stringify({ states: STATE_FORMAT, computed })).digest('hex').slice(0, 16);
}

/** The statement that fills a group's table with its query (settings appended by the caller). */
export function groupTableSql(table: string, sql: string): string {
  return `CREATE TABLE ${table} ENGINE = Memory AS\n${sql}`;
}

/**
 * The queries of a feature group (all features of one source): the source rows joined to profiles
 * through the identity map and aggregated per profile. "Most frequent" is counted per (profile,
 * value) and the top value kept: exact, and far cheaper than `topK` over millions of groups. Pure.
 *
 * Training sets join rows to the entity rows (profile, time) instead and aggregate per entity row,
 * with every window and filter relative to that row's time.
 */
import type { AggregateFeature, SourceRef, TypedExpr } from '../feature-model.ts';
import { orderField, timeField } from '../source-fields.ts';
import { describeSource, sourceKey } from '../feature-model.ts';
import { aggregateCall, plainSql } from './aggregation-sql.ts';
import { normaliseSql, selectionSql, sourceSql, type CompileContext, type IdentifierKey, type SourceSql } from './source-sql.ts';
import { ident, indent, str } from './sql.ts';

export interface FeatureGroup {
  /** `events`, `cdc:<source>:<table>`, `crm:<source>`. */
  key: string;
  label: string;
  source: SourceRef;
  features: AggregateFeature[];
}

/** Aggregate features grouped by source, in order of first appearance. */
export function groupFeatures(features: AggregateFeature[]): FeatureGroup[] {
  const groups = new Map<string, FeatureGroup>();
  for (const f of features) {
    const key = sourceKey(f.source);
    let g = groups.get(key);
    if (!g) {
      g = { key, label: f.source.kind === 'events' ? 'events' : describeSource(f.source), source: f.source, features: [] };
      groups.set(key, g);
    }
    g.features.push(f);
  }
  return [...groups.values()];
}

/** Which profiles a run computes. */
export type RunScope =
  | { kind: 'all' }
  | {
      kind: 'touched';
      /** Table with the `profile_id`s to compute. */
      profiles: string;
      /**
       * Per group (key): `rows`, the group's rows that carry an identifier of those profiles
       * (touchedRowsSql), and `map`, the identity map of the identifiers in those rows
       * (touchedMapSql). Both are small, so an incremental run scans each source once.
       */
      groups: Record<string, { rows: string; map: string }>;
    };

/** The rows a group reads: the selections of its features (when every feature has one). */
function scanFilter(group: FeatureGroup): string[] {
  const selections = group.features.map((f) => selectionSql(f.source));
  if (selections.some((s) => s === undefined)) return [];
  const distinct = [...new Set(selections as string[])];
  return [distinct.length === 1 ? distinct[0]! : `(${distinct.join(' OR ')})`];
}

/** LEFT JOINs of identifier keys (columns `${alias}._k<i>`) to an identity map, and the profile they give. */
function mapJoins(keys: IdentifierKey[], alias: string, ctx: CompileContext, identityMap = ctx.identityMap): { joins: string; profile: string } {
  const joins = keys.map(
    (k, i) =>
      `LEFT JOIN (SELECT id_value, profile_id FROM ${identityMap} WHERE id_type = ${str(k.type)}) AS _m${i} ON ${normaliseSql(k.type, `${alias}._k${i}`, ctx)} = _m${i}.id_value`,
  );
  const ids = keys.map((_, i) => `_m${i}.profile_id`);
  return { joins: joins.join('\n'), profile: ids.length === 1 ? ids[0]! : `coalesce(${ids.join(', ')})` };
}

/** Rows whose identifiers belong to the given (id_type, id_value) set. */
function identifierFilter(keys: IdentifierKey[], identifiers: string, ctx: CompileContext): string {
  return `(${keys.map((k) => `${normaliseSql(k.type, k.expr, ctx)} IN (SELECT id_value FROM ${identifiers} WHERE id_type = ${str(k.type)})`).join(' OR ')})`;
}

const keyColumns = (keys: IdentifierKey[]) => keys.map((k, i) => `${k.expr} AS _k${i}`);
const where = (conditions: string[]) => (conditions.length ? `WHERE ${conditions.join('\n  AND ')}` : '');

/** The rows of a group up to `asOf`. */
function scanConditions(group: FeatureGroup, src: SourceSql, asOf: string): string[] {
  const conditions = scanFilter(group);
  if (src.time) conditions.push(`${src.time} <= ${asOf}`);
  return conditions;
}

/** Where a group's queries read rows, and through which identity map they reach profiles. */
function input(group: FeatureGroup, src: SourceSql, asOf: string, scope: RunScope, ctx: CompileContext): { from: string; conditions: string[]; identityMap: string } {
  if (scope.kind === 'all') return { from: src.from(asOf), conditions: scanConditions(group, src, asOf), identityMap: ctx.identityMap };
  const { rows, map } = scope.groups[group.key]!;
  return { from: rows, conditions: [], identityMap: map };
}

/** A group's rows up to `asOf` that carry one of the `identifiers` (id_type, id_value). */
export function touchedRowsSql(group: FeatureGroup, ctx: CompileContext, asOf: string, identifiers: string): string {
  const src = sourceSql(group.source, ctx);
  const mine = identifierFilter(src.keys, identifiers, ctx);
  // Only the columns the features and the keys read: the others would be read from every granule.
  const columns = [...new Set([...usedColumns(group, group.features), ...src.keys.map((k) => k.column)])].map(ident).join(', ');
  if (src.finalTable) return `SELECT ${columns} FROM ${src.finalTable} FINAL PREWHERE ${mine} ${where(scanConditions(group, src, asOf))}`;
  return `SELECT ${columns} FROM ${src.from(asOf)} ${where([...scanConditions(group, src, asOf), mine])}`;
}

/** The identity map of the identifiers that occur in `rows` (a table of touchedRowsSql). */
export function touchedMapSql(group: FeatureGroup, ctx: CompileContext, rows: string): string {
  const src = sourceSql(group.source, ctx);
  const lookups = src.keys.map((k) => `(id_type = ${str(k.type)} AND id_value IN (SELECT ${normaliseSql(k.type, k.expr, ctx)} FROM ${rows}))`);
  return `SELECT id_type, id_value, profile_id FROM ${ctx.identityMap} WHERE ${lookups.join(' OR ')}`;
}

/** The profile a run's row belongs to, as a column name no source table of Tessera's has. */
const PID = '_pid';

function profileConditions(scope: RunScope): string[] {
  return [`${PID} IS NOT NULL`, ...(scope.kind === 'touched' ? [`${PID} IN (SELECT profile_id FROM ${scope.profiles})`] : [])];
}

/**
 * The columns a group's features read: fields, event selection, time. Only these cross the join
 * (carrying every column of a wide table through it costs more than the aggregation).
 */
function usedColumns(group: FeatureGroup, features: AggregateFeature[]): string[] {
  const columns = new Set<string>();
  const visit = (e: TypedExpr | undefined): void => {
    if (e?.kind === 'field') columns.add(e.field.column);
    if (e?.kind === 'call') e.args.forEach(visit);
  };
  for (const f of features) {
    visit(f.aggregation.of);
    visit(f.where);
  }
  if (group.source.kind === 'events') ['type', 'event', 'name'].forEach((c) => columns.add(c));
  const time = timeField(group.source);
  if (time) columns.add(time.column);
  columns.add(orderField(group.source).column);
  return [...columns].sort();
}

/**
 * A group's rows (of the scope, meeting `extra` too) with the columns `features` read, each with
 * the profile it belongs to as `_pid`.
 */
function profileRowsSql(group: FeatureGroup, features: AggregateFeature[], src: SourceSql, asOf: string, scope: RunScope, ctx: CompileContext, extra: string[] = []): string {
  const { from, conditions, identityMap } = input(group, src, asOf, scope, ctx);
  const { joins, profile } = mapJoins(src.keys, '_r', ctx, identityMap);
  const rows = [`SELECT ${[...usedColumns(group, features).map(ident), ...keyColumns(src.keys)].join(', ')}`, `FROM ${from}`, where([...conditions, ...extra])].join('\n');
  return [`SELECT ${profile} AS ${PID}, _r.*`, `FROM (\n${indent(rows)}\n) AS _r`, joins].join('\n');
}

/** A query of a run: one row per profile with a column per feature (before defaults). */
export interface GroupQuery {
  group: FeatureGroup;
  features: AggregateFeature[];
  sql: string;
}

/**
 * The query of one group for a run: the group's rows joined to their profiles and aggregated per
 * profile in one pass, all features at once. It fills its own table: as subqueries of one
 * statement ClickHouse would run the groups with far less parallelism.
 *
 * Joining every row and aggregating once per profile measured faster than folding rows per
 * identifier key first (-State) and merging per profile: with a million profiles the per-key
 * aggregation has nearly three times as many groups, each state written twice.
 */
export function groupQuery(group: FeatureGroup, ctx: CompileContext, asOf: string, scope: RunScope): GroupQuery {
  const src = sourceSql(group.source, ctx);
  const sql = [
    `SELECT ${[`${PID} AS profile_id`, ...group.features.map((f) => `${plainSql(aggregateCall(f, src, asOf))} AS ${ident(f.name)}`)].join(',\n  ')}`,
    `FROM (\n${indent(profileRowsSql(group, group.features, src, asOf, scope, ctx))}\n)`,
    where(profileConditions(scope)),
    `GROUP BY ${PID}`,
  ].join('\n');
  return { group, features: group.features, sql };
}

// ---- training sets ------------------------------------------------------------------------------

/** Names of the entity table's columns (prefixed so they never meet a source column). */
export const ENTITY = { rowId: '_row_id', profileId: '_profile_id', asOf: '_as_of' } as const;
const AS_OF = `_e.${ENTITY.asOf}`;

/**
 * The source rows of the entity rows' profiles, each joined to every entity row of its profile and
 * kept only if it existed at that row's time: one row per (entity row, source row). A source with
 * a history gives each row's latest version by then, and no row when that version deleted it.
 */
function trainingRowsSql(group: FeatureGroup, src: SourceSql, entities: string, ctx: CompileContext): string {
  const history = src.history;
  const keys = history?.keys ?? src.keys;
  const ids = `(SELECT id_type, id_value FROM ${ctx.identityMap} WHERE profile_id IN (SELECT ${ENTITY.profileId} FROM ${entities}))`;
  const rows = [
    `SELECT *, ${keyColumns(keys).join(', ')}`,
    // A source without a history has current rows only (immutable events).
    `FROM ${history?.from ?? src.from(AS_OF)}`,
    where([...scanFilter(group), identifierFilter(keys, ids, ctx)]),
  ].join('\n');
  const { joins, profile } = mapJoins(keys, '_r', ctx);
  const rowTime = (asOf: string) => (src.time ? [`${src.time} <= ${asOf}`] : []);
  const joined = [
    `SELECT _e.${ENTITY.rowId} AS ${ENTITY.rowId}, _e.${ENTITY.asOf} AS ${ENTITY.asOf}, _rows.*`,
    'FROM (',
    indent([`SELECT ${profile} AS _rp, _r.*`, `FROM (\n${indent(rows)}\n) AS _r`, joins].join('\n')),
    ') AS _rows',
    `INNER JOIN ${entities} AS _e ON _e.${ENTITY.profileId} = _rows._rp`,
    where(history ? [`${history.versionTime} <= ${AS_OF}`] : rowTime(AS_OF)),
  ].join('\n');
  if (!history) return joined;
  const latest = `SELECT * FROM (\n${indent(joined)}\n)\nORDER BY ${history.versionOrder} DESC\nLIMIT 1 BY ${ENTITY.rowId}, ${history.rowKey}`;
  return [`SELECT * FROM (\n${indent(latest)}\n)`, where([...(history.deleted ? [`NOT (${history.deleted})`] : []), ...rowTime(ENTITY.asOf)])].join('\n');
}

/**
 * The query of one group for a training set: one row per entity row (of `entities`: _row_id,
 * _profile_id, _as_of) that has source rows by its time, with a column per feature.
 */
export function trainingGroupSql(group: FeatureGroup, ctx: CompileContext, entities: string): string {
  const src = sourceSql(group.source, ctx);
  return [
    `SELECT ${[ENTITY.rowId, ...group.features.map((f) => `${plainSql(aggregateCall(f, src, ENTITY.asOf))} AS ${ident(f.name)}`)].join(',\n  ')}`,
    `FROM (\n${indent(trainingRowsSql(group, src, entities, ctx))}\n)`,
    `GROUP BY ${ENTITY.rowId}`,
  ].join('\n');
}

// ---- incremental runs ---------------------------------------------------------------------------

/**
 * The profiles of a group's rows that meet `condition` (rows ingested since the last run, rows
 * whose time crossed a window edge), read from where every version and deletion is kept. Only the
 * identifiers of those rows are looked up in the identity map.
 */
export function touchedProfilesSql(group: FeatureGroup, ctx: CompileContext, condition: string): string {
  const src = sourceSql(group.source, ctx);
  const { from, keys } = src.changes;
  const keyed = `SELECT DISTINCT ${keyColumns(keys).join(', ')} FROM ${from} WHERE ${condition}`;
  const joins = keys.map(
    (k, i) =>
      `LEFT JOIN (SELECT id_value, profile_id FROM ${ctx.identityMap} WHERE id_type = ${str(k.type)} AND id_value IN (SELECT ${normaliseSql(k.type, `_k${i}`, ctx)} FROM (${keyed}))) AS _m${i} ON ${normaliseSql(k.type, `_keyed._k${i}`, ctx)} = _m${i}.id_value`,
  );
  const ids = keys.map((_, i) => `_m${i}.profile_id`);
  return [
    `SELECT DISTINCT profile_id FROM (`,
    indent([`SELECT ${ids.length === 1 ? ids[0] : `coalesce(${ids.join(', ')})`} AS profile_id`, `FROM (${keyed}) AS _keyed`, ...joins].join('\n')),
    ') WHERE profile_id IS NOT NULL',
  ].join('\n');
}

/** The condition on a group's change rows' time: in any of the (from, to] ranges. */
export function timeBandsCondition(group: FeatureGroup, ctx: CompileContext, bands: { fromMs: number; toMs: number }[]): string | undefined {
  const src = sourceSql(group.source, ctx);
  if (!src.time || bands.length === 0) return undefined;
  const time = src.time;
  return bands.map((b) => `(${time} > fromUnixTimestamp64Milli(toInt64(${Math.trunc(b.fromMs)}), 'UTC') AND ${time} <= fromUnixTimestamp64Milli(toInt64(${Math.trunc(b.toMs)}), 'UTC'))`).join(' OR ');
}

/** The windows (ms) of a group's features, 0 standing for the as-of edge every timed row crosses. */
export function groupWindows(group: FeatureGroup): number[] {
  return [...new Set([0, ...group.features.flatMap((f) => (f.window ? [f.window.ms] : []))])];
}

/**
 * The queries of a feature group (all features of one source): the source rows joined to profiles
 * through the identity map and aggregated per profile. "Most frequent" is counted per (profile,
 * value) and the top value kept: exact, and far cheaper than `topK` over millions of groups. Pure.
 *
 * Training sets join rows to the entity rows (profile, time) instead and aggregate per entity row,
 * with every window and filter relative to that row's time.
 */
import type { AggregateFeature, FieldRef, SourceRef } from '../feature-model.ts';
import { orderField, timeField } from '../source-fields.ts';
import { describeSource, fieldsRead, sourceKey } from '../feature-model.ts';
import { featureState, isInvertible, partColumn, type FeatureState, type FieldReader } from './aggregation-sql.ts';
import { materializedField } from './materialized-sql.ts';
import { fieldSql, normaliseSql, selectionSql, sourceSql, type CompileContext, type IdentifierKey, type SourceSql } from './source-sql.ts';
import { CLICKHOUSE_TYPE, ident, indent, str, timeLiteral } from './sql.ts';

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

/** Where a group's queries read rows, and the identity map through which they reach profiles. */
function input(group: FeatureGroup, src: SourceSql, asOf: string, scope: RunScope, ctx: CompileContext): { from: string; conditions: string[]; identityMap: string } {
  if (scope.kind === 'all') return { from: src.from(asOf), conditions: scanConditions(group, src, asOf), identityMap: ctx.identityMap };
  const { rows, map } = scope.groups[group.key]!;
  return { from: rows, conditions: [], identityMap: map };
}

/** The identity map a group's query reads (the whole map, or the touched rows' part of it). */
export function groupIdentityMap(group: FeatureGroup, scope: RunScope, ctx: CompileContext): string {
  return scope.kind === 'all' ? ctx.identityMap : scope.groups[group.key]!.map;
}

/**
 * A lookup of one identifier type: a Join-engine table (id_value → profile_id) of an identity map,
 * read with `joinGetOrNull`. Cheaper than joining every row: the lookup of a lower-priority
 * identifier runs only on rows whose higher-priority ones are not mapped, and no row is copied.
 */
export interface IdentityLookup {
  table: string;
  identityMap: string;
  type: string;
}

/** The statement that fills a lookup (a scratch table, dropped after the run). */
export function lookupTableSql(lookup: IdentityLookup): string {
  return `CREATE TABLE ${lookup.table} ENGINE = Join(ANY, LEFT, id_value) SETTINGS persistent = 0 AS SELECT id_value, profile_id FROM ${lookup.identityMap} WHERE id_type = ${str(lookup.type)}`;
}

/** The lookups a group's query needs, by identifier type. */
export type LookupOf = (identityMap: string, type: string) => string;

/**
 * The profile of a row: that of its first identifier (in priority order) the lookups know. Empty
 * values are never identifiers (identity rejects them) and are not looked up.
 */
function profileSql(keys: IdentifierKey[], alias: string, identityMap: string, lookup: LookupOf, ctx: CompileContext): string {
  const lookups = keys.map((k) => lookup(identityMap, k.type));
  const one = (k: IdentifierKey, i: number) => {
    const value = normaliseSql(k.type, `${alias}._k${i}`, ctx);
    return `if(${value} = '', NULL, joinGetOrNull(${lookups[i]}, 'profile_id', ${value}))`;
  };
  // Nested ifs evaluate a lookup only where the ones before it found nothing.
  return keys.reduceRight((rest: string | undefined, k, i) => (rest === undefined ? one(k, i) : `if(isNotNull(${one(k, i)}), ${one(k, i)}, ${rest})`), undefined) ?? 'NULL';
}

/** Only the columns the features and the keys read: the others would be read from every granule. */
function rowColumns(group: FeatureGroup, src: SourceSql, ctx: CompileContext): string[] {
  return [...new Set([...usedColumns(group, ctx), ...src.keys.map((k) => k.column)])].map(ident);
}

/** A group's rows up to `asOf` that carry one of the `identifiers` (id_type, id_value). */
export function touchedRowsSql(group: FeatureGroup, ctx: CompileContext, asOf: string, identifiers: string): string {
  const src = sourceSql(group.source, ctx);
  const mine = identifierFilter(src.keys, identifiers, ctx);
  const columns = rowColumns(group, src, ctx).join(', ');
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

/** The materialized column that holds a JSON field of the group's source, when its table has one. */
function materializedColumn(group: FeatureGroup, ref: FieldRef, materialized: ReadonlySet<string> | undefined): string | undefined {
  if (group.source.kind !== 'events' || !ref.jsonKeys || !materialized) return undefined;
  const { column } = materializedField(ref);
  return materialized.has(column) ? column : undefined;
}

/**
 * The columns a group's features read: fields (a JSON field's materialized column where there is
 * one), event selection, time. Only these cross the join (carrying every column of a wide table
 * through it costs more than the aggregation).
 */
function usedColumns(group: FeatureGroup, ctx: CompileContext): string[] {
  const columns = new Set<string>();
  for (const field of group.features.flatMap(fieldsRead)) columns.add(materializedColumn(group, field, ctx.materialized) ?? field.column);
  if (group.source.kind === 'events') ['type', 'event', 'name'].forEach((c) => columns.add(c));
  const time = timeField(group.source);
  if (time) columns.add(time.column);
  columns.add(orderField(group.source).column);
  return [...columns].sort();
}

/** JSON values a tuple can hold, read the same way as one path at a time (see scanFields). */
const TUPLE_TYPES = new Set<FieldRef['type']>(['string', 'int', 'float', 'bool']);
const TUPLE_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;
const fieldKey = (f: FieldRef) => JSON.stringify([f.column, f.jsonKeys ?? [], f.type]);

/** The JSON fields a group's features read, extracted once per row by the scan. */
export interface ScanFields {
  /** Columns the scan adds (`<sql> AS _f<i>`, `<sql> AS _j<i>`). */
  columns: string[];
  /** How the aggregates read a field: the scan's column for JSON fields, else fieldSql. */
  field: FieldReader;
}

/**
 * The scan extracts every JSON field the group's features read, once per row, on the rows of the
 * features that read it (parsing JSON is most of a scan's cost), unless the table keeps the field
 * in a materialized column. Top-level scalar keys of one JSON column are extracted together with
 * one parse into a named tuple; a row that is not a JSON object (a tuple would read an array by
 * position) is read path by path, as are nested paths and other types. Values are the same as
 * fieldSql's.
 */
export function scanFields(group: FeatureGroup, materialized?: ReadonlySet<string>): ScanFields {
  const uses = new Map<string, { ref: FieldRef; selections: Set<string | undefined> }>();
  const names = new Map<string, string>();
  for (const f of group.features) {
    const selection = selectionSql(f.source);
    for (const field of fieldsRead(f).filter((r) => r.jsonKeys)) {
      const key = fieldKey(field);
      const column = materializedColumn(group, field, materialized);
      if (column) names.set(key, ident(column));
      else uses.set(key, { ref: field, selections: (uses.get(key)?.selections ?? new Set()).add(selection) });
    }
  }
  /** Rows any of the selections reads (undefined: all rows). */
  const rowsOf = (selections: Iterable<string | undefined>): string | undefined => {
    const list = [...new Set(selections)];
    if (list.includes(undefined)) return undefined;
    return list.length === 1 ? list[0] : `(${list.join(' OR ')})`;
  };
  const columns: string[] = [];
  let extracted = 0;
  const add = (sql: string, key: string) => {
    const name = `_f${extracted++}`;
    columns.push(`${sql} AS ${name}`);
    names.set(key, name);
  };
  const tupled = new Map<string, { key: string; ref: FieldRef; selections: Set<string | undefined> }[]>();
  for (const [key, use] of uses) {
    const [k] = use.ref.jsonKeys!;
    const list = tupled.get(use.ref.column) ?? [];
    if (use.ref.jsonKeys!.length === 1 && TUPLE_TYPES.has(use.ref.type) && TUPLE_KEY.test(k!) && !list.some((e) => e.ref.jsonKeys![0] === k)) {
      list.push({ key, ...use });
      tupled.set(use.ref.column, list);
    }
  }
  let tuples = 0;
  for (const [column, list] of tupled) {
    if (list.length < 2) continue;
    const type = `Tuple(${list.map((e) => `${e.ref.jsonKeys![0]} Nullable(${CLICKHOUSE_TYPE[e.ref.type]})`).join(', ')})`;
    const rows = rowsOf(list.flatMap((e) => [...e.selections]));
    const object = `startsWith(${ident(column)}, '{')`;
    const tuple = `_j${tuples++}`;
    columns.push(`if(${rows ? `${rows} AND ` : ''}${object}, JSONExtract(${ident(column)}, ${str(type)}), CAST(tuple(${list.map(() => 'NULL').join(', ')}), ${str(type)})) AS ${tuple}`);
    list.forEach((e, i) => {
      const alone = rows ? `if(${rows}, ${fieldSql(e.ref)}, NULL)` : fieldSql(e.ref);
      add(`if(${object}, tupleElement(${tuple}, ${i + 1}), ${alone})`, e.key);
      uses.delete(e.key);
    });
  }
  for (const [key, use] of uses) {
    const rows = rowsOf(use.selections);
    add(rows ? `if(${rows}, ${fieldSql(use.ref)}, NULL)` : fieldSql(use.ref), key);
  }
  return { columns, field: (f) => names.get(fieldKey(f)) ?? fieldSql(f) };
}

/**
 * A group's rows of the scope, with the columns its features read, the JSON fields they read
 * (scanFields), and the profile each row belongs to as `_pid`.
 */
function profileRowsSql(group: FeatureGroup, src: SourceSql, asOf: string, scope: RunScope, ctx: CompileContext, fields: ScanFields, lookup: LookupOf, delta: boolean): string {
  const { from, conditions, identityMap } = input(group, src, asOf, scope, ctx);
  const rows = [`SELECT ${[...usedColumns(group, ctx).map(ident), ...(delta ? ['_delta'] : []), ...keyColumns(src.keys), ...fields.columns].join(', ')}`, `FROM ${from}`, where(conditions)].join('\n');
  return [`SELECT ${profileSql(src.keys, '_r', identityMap, lookup, ctx)} AS ${PID}, _r.*`, `FROM (\n${indent(rows)}\n) AS _r`].join('\n');
}

/** A query of a run: one row per profile with the state parts of its features (columns named after the parts). */
export interface GroupQuery {
  group: FeatureGroup;
  features: AggregateFeature[];
  sql: string;
  /**
   * A delta's query in two steps: its rows (few) into a table, then `aggregate(table)`. Measured
   * faster than the one statement at 50,000 rows (0.14-0.19 s against 0.27-0.33 s).
   */
  staged?: { rows: string; aggregate: (rows: string) => string };
}

/**
 * An incremental run's delta of a group: rows that count now and did not at the previous run
 * (`_delta` = 1: new rows, rows the as-of edge reached) and rows a window left (`_delta` = -1).
 */
export interface Delta {
  previousAsOfMs: number;
  asOfMs: number;
}

/** Names of a delta query's columns: the parts of the rows added and of the rows removed. */
export const plusColumn = (column: string) => `_plus_${column}`;
export const minusColumn = (column: string) => `_minus_${column}`;

/** The rows of a feature a window left between two runs: they counted at the previous one, no longer. */
export function leftWindowSql(time: string, windowMs: number, delta: Delta): string {
  return `${time} > ${timeLiteral(delta.previousAsOfMs - windowMs)} AND ${time} <= ${timeLiteral(Math.min(delta.asOfMs - windowMs, delta.previousAsOfMs))}`;
}

/** A delta query has the parts of the rows a feature's window left: the feature has a window and its state can drop rows. */
export const dropsLeftRows = (s: FeatureState) => s.feature.window !== undefined && s.invertible;

/** A feature's columns in a group query: its parts, or in a delta query, the parts of the rows added and removed. */
function stateColumns(s: FeatureState, src: SourceSql, delta: Delta | undefined): string[] {
  if (!delta) return s.parts.map((p) => `${p.aggregate(s.condition)} AS ${partColumn(p)}`);
  const plus = s.parts.map((p) => `${p.aggregate(`_delta = 1 AND ${s.condition}`)} AS ${ident(plusColumn(p.column))}`);
  if (!dropsLeftRows(s)) return plus;
  const left = `_delta = -1 AND ${s.rowCondition} AND ${leftWindowSql(src.time!, s.feature.window!.ms, delta)}`;
  return [...plus, ...s.parts.map((p) => `${p.aggregate(left)} AS ${ident(minusColumn(p.column))}`)];
}

/**
 * The query of one group for a run: the group's rows, each with its profile, aggregated per
 * profile in one pass, all features at once. Run one after the other, each query has every core.
 * With `delta`, the scope's rows are an incremental run's delta (with `_delta`).
 *
 * Aggregating every row once per profile measured faster than folding rows per identifier key
 * first (-State) and merging per profile: with a million profiles the per-key aggregation has
 * nearly three times as many groups, each state written twice.
 */
export function groupQuery(group: FeatureGroup, ctx: CompileContext, asOf: string, scope: RunScope, lookup: LookupOf, delta?: Delta): GroupQuery {
  const src = sourceSql(group.source, ctx);
  const fields = scanFields(group, ctx.materialized);
  const columns = group.features.flatMap((f) => stateColumns(featureState(f, src, asOf, fields.field), src, delta));
  const aggregate = (from: string) =>
    [`SELECT ${[`assumeNotNull(${PID}) AS profile_id`, ...columns].join(',\n  ')}`, `FROM ${from}`, where(profileConditions(scope)), `GROUP BY ${PID}`].join('\n');
  const rows = profileRowsSql(group, src, asOf, scope, ctx, fields, lookup, delta !== undefined);
  return { group, features: group.features, sql: aggregate(`(\n${indent(rows)}\n)`), ...(delta && { staged: { rows, aggregate } }) };
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
    `SELECT ${[ENTITY.rowId, ...group.features.flatMap((f) => stateColumns(featureState(f, src, ENTITY.asOf), src, undefined))].join(',\n  ')}`,
    `FROM (\n${indent(trainingRowsSql(group, src, entities, ctx))}\n)`,
    `GROUP BY ${ENTITY.rowId}`,
  ].join('\n');
}

// ---- incremental runs ---------------------------------------------------------------------------

/**
 * The identifier keys (`_k<i>`) of a group's rows that meet `condition` (rows ingested since the
 * last run, rows whose time crossed a window edge), read from where every version and deletion is
 * kept. Kept in a table, so that the source is scanned once.
 */
export function touchedKeysSql(group: FeatureGroup, ctx: CompileContext, condition: string): string {
  const { from, keys } = sourceSql(group.source, ctx).changes;
  return `SELECT DISTINCT ${keyColumns(keys).join(', ')} FROM ${from} WHERE ${condition}`;
}

/** The profiles of the keys in `keyed` (a table of touchedKeysSql): only those identifiers are looked up in the identity map. */
export function touchedProfilesSql(group: FeatureGroup, ctx: CompileContext, keyed: string): string {
  const { keys } = sourceSql(group.source, ctx).changes;
  const joins = keys.map(
    (k, i) =>
      `LEFT JOIN (SELECT id_value, profile_id FROM ${ctx.identityMap} WHERE id_type = ${str(k.type)} AND id_value IN (SELECT ${normaliseSql(k.type, `_k${i}`, ctx)} FROM ${keyed})) AS _m${i} ON ${normaliseSql(k.type, `_keyed._k${i}`, ctx)} = _m${i}.id_value`,
  );
  const ids = keys.map((_, i) => `_m${i}.profile_id`);
  return [
    `SELECT DISTINCT profile_id FROM (`,
    indent([`SELECT ${ids.length === 1 ? ids[0] : `coalesce(${ids.join(', ')})`} AS profile_id`, `FROM ${keyed} AS _keyed`, ...joins].join('\n')),
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

// ---- folding new rows into stored states ----------------------------------------------------------

/** The window sizes (ms) of a group's features whose state can (or cannot) drop the rows a window left. */
export function foldWindows(group: FeatureGroup, invertible: boolean): number[] {
  return [...new Set(group.features.filter((f) => f.window && isInvertible(f) === invertible).map((f) => f.window!.ms))];
}

/** The runs a delta lies between: their times and ingestion cursors (ms). */
export interface DeltaSpan extends Delta {
  previousIngestedMs: number;
  ingestedMs: number;
}

/**
 * The candidate rows of an append-only group's delta, with the columns its features and keys read,
 * the message (`_row`), its ingestion time (`_ingested`) and `_delta`: rows ingested since the last
 * run, and older rows the as-of edge reached (+1) or a window of an invertible feature left (-1).
 * A candidate counts only if it is its message's one copy (see deltaCopiesSql).
 */
export function deltaCandidatesSql(group: FeatureGroup, ctx: CompileContext, span: DeltaSpan): string {
  const src = sourceSql(group.source, ctx);
  const { rowKey } = src.appendOnly!;
  const ingested = src.changes.ingestedAt;
  const time = src.time ?? src.order;
  const columns = rowColumns(group, src, ctx);
  const entered = `${time} > ${timeLiteral(span.previousAsOfMs)} AND ${time} <= ${timeLiteral(span.asOfMs)}`;
  const left = foldWindows(group, true).map((w) => `(${leftWindowSql(time, w, span)})`);
  const isNew = `${ingested} > ${timeLiteral(span.previousIngestedMs)}`;
  const select = (delta: string, condition: string) =>
    [`SELECT ${[...columns, `${rowKey} AS _row`, `${ingested} AS _ingested`, `toInt8(${delta}) AS _delta`].join(', ')}`, `FROM ${src.appendOnly!.table}`, `WHERE ${condition}`].join('\n');
  // Two scans: the new rows' (the ingestion-time index skips the older parts) and the older rows
  // an edge crossed (every row's time is read); one scan for both could skip nothing.
  return [
    select('1', `${isNew} AND ${ingested} <= ${timeLiteral(span.ingestedMs)} AND ${time} <= ${timeLiteral(span.asOfMs)}`),
    'UNION ALL',
    select(`if(${entered}, 1, -1)`, `NOT ${isNew} AND ((${entered})${left.map((l) => ` OR ${l}`).join('')})`),
  ].join('\n');
}

/** Every copy of the candidates' messages: how many there are, and when the first was ingested. */
export function deltaCopiesSql(group: FeatureGroup, ctx: CompileContext, candidates: string): string {
  const src = sourceSql(group.source, ctx);
  const { table, rowKey } = src.appendOnly!;
  return `SELECT ${rowKey} AS _row, count() AS _copies, min(${src.changes.ingestedAt}) AS _first FROM ${table} WHERE ${rowKey} IN (SELECT _row FROM ${candidates}) GROUP BY ${rowKey}`;
}

/**
 * The candidates of a kind: `fold`, the one copy of their message (the delta's rows); `recompute`,
 * copies of a message with several, unless it was counted before (a later copy of such a message
 * changes nothing): which copy counts is settled by reading the profile's rows as a full run does.
 */
export function deltaRowsSql(candidates: string, copies: string, previousIngestedMs: number, kind: 'fold' | 'recompute'): string {
  const single = `_row IN (SELECT _row FROM ${copies} WHERE _copies = 1)`;
  if (kind === 'fold') return `SELECT * FROM ${candidates} WHERE ${single}`;
  const countedBefore = `_row IN (SELECT _row FROM ${copies} WHERE _first <= ${timeLiteral(previousIngestedMs)})`;
  return `SELECT * FROM ${candidates} WHERE NOT ${single} AND NOT (_ingested > ${timeLiteral(previousIngestedMs)} AND ${countedBefore})`;
}

/** The identifier keys (`_k<i>`) of a group's rows in `rows` (a table with the source's key columns). */
export function rowKeysSql(group: FeatureGroup, ctx: CompileContext, rows: string): string {
  return `SELECT DISTINCT ${keyColumns(sourceSql(group.source, ctx).keys).join(', ')} FROM ${rows}`;
}

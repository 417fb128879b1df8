/**
 * The wide `profiles` table: its columns (one per feature, typed as declared, then the hidden
 * columns of the features' states), the query that assembles it from the group queries (defaults,
 * derived features), and the update of derived features that read the clock. Pure.
 */
import { readsClock, type AggregateFeature, type DerivedFeature, type Feature, type FeatureSet } from '../feature-model.ts';
import { effectiveDefault, hiddenColumns, partColumn, type FeatureState } from './aggregation-sql.ts';
import { exprSql } from './expression-sql.ts';
import { CLICKHOUSE_TYPE, ident, indent, literalSql } from './sql.ts';

/** The ClickHouse type of a feature's column: Nullable unless it has a default. */
export function columnType(f: Feature): string {
  const type = CLICKHOUSE_TYPE[f.type];
  return effectiveDefault(f) === null ? `Nullable(${type})` : type;
}

/** The aggregate features' states, by feature name (featureState). */
export type States = ReadonlyMap<string, FeatureState>;

/** A version of the table: a column per feature, then the hidden columns of the features' states. */
export function createProfilesTableSql(table: string, set: FeatureSet, states: States): string {
  const columns = [
    '`profile_id` String',
    ...set.features.map((f) => `${ident(f.name)} ${columnType(f)}`),
    ...hiddenColumns([...states.values()]).map((c) => `${ident(c.column)} ${c.type}`),
  ];
  return `CREATE TABLE ${table} (\n${indent(columns.join(',\n'))}\n) ENGINE = MergeTree ORDER BY profile_id`;
}

/** The columns readers see (the `profiles` view): the profile id and the features. */
export function visibleColumns(set: FeatureSet): string[] {
  return ['profile_id', ...set.features.map((f) => f.name)];
}

function finalSql(raw: string, f: Feature): string {
  const d = effectiveDefault(f);
  return d === null ? `CAST(${raw} AS ${columnType(f)})` : `CAST(coalesce(${raw}, ${literalSql(d, f.type)}) AS ${columnType(f)})`;
}

/** How a query's row reads a feature's state parts (SQL per part). */
type PartsOf = (s: FeatureState) => string[];

/** Every feature's final SQL: aggregates from their parts, derived features inlined over them. */
function featureSqls(set: FeatureSet, states: States, parts: PartsOf, asOf: string): Map<string, string> {
  const sql = new Map<string, string>();
  for (const f of set.features) {
    if (f.kind === 'aggregate') {
      const state = states.get(f.name)!;
      sql.set(f.name, finalSql(state.value(parts(state)), f));
    } else sql.set(f.name, finalSql(exprSql(f.derive, { feature: (n) => sql.get(n)!, asOf }), f));
  }
  return sql;
}

/** The feature columns, then (for the table, not training sets) the hidden state columns, read through `parts`. */
function outputColumns(set: FeatureSet, states: States, parts: PartsOf, asOf: string, withStates: boolean): string[] {
  const sqls = featureSqls(set, states, parts, asOf);
  const hidden = withStates
    ? [...states.values()].flatMap((s) => {
        const sql = parts(s);
        return s.parts.flatMap((p, i) => (p.type ? [`${sql[i]} AS ${partColumn(p)}`] : []));
      })
    : [];
  return [...set.features.map((f) => `${sqls.get(f.name)} AS ${ident(f.name)}`), ...hidden];
}

/** Rows of `from` (with `profile_id` and the parts of every aggregate feature) as rows of the table. */
function rowsFrom(set: FeatureSet, states: States, from: string, parts: PartsOf, asOf: string): string {
  const columns = ['_g.`profile_id` AS `profile_id`', ...outputColumns(set, states, parts, asOf, true)];
  return [`SELECT\n${indent(columns.join(',\n'))}`, `FROM (\n${indent(from)}\n) AS _g`].join('\n');
}

/** Reads the parts from columns named after them (`alias.<column>`). */
const partsIn = (alias: string): PartsOf => (s) => s.parts.map((p) => `${alias}.${partColumn(p)}`);

/**
 * The rows of a query giving every aggregate feature's parts (a single group's, or an incremental
 * run's folded states): defaults applied, derived features computed.
 */
export function directRowsSql(set: FeatureSet, states: States, query: string, asOf: string): string {
  return rowsFrom(set, states, query, partsIn('_g'), asOf);
}

/** A row for each profile of `profiles` (a query with `profile_id`) that has no source rows: every feature at its default. */
export function defaultRowsSql(set: FeatureSet, states: States, profiles: string, asOf: string): string {
  return rowsFrom(set, states, profiles, (s) => s.parts.map((p) => (p.type?.startsWith('Array') ? '[]' : 'NULL')), asOf);
}

export interface AssemblyInput {
  set: FeatureSet;
  states: States;
  /** Rows with features' parts (keyed by `key`): a table, or a parenthesised query. */
  parts: { features: AggregateFeature[]; from: string }[];
  /** A subquery with one row per output row, with column `key`. */
  base: string;
  /** `profile_id` for runs, the entity row id for training sets. */
  key: string;
  /** Extra columns of the base to keep (training sets: the identifier and time). */
  keep?: string[];
  asOf: string;
  /** Output the hidden state columns too (a version of the table). */
  withStates: boolean;
}

/** One row per base row, every feature a column: the group results joined, defaults applied, derived features computed. */
export function assemblySql(input: AssemblyInput): string {
  const alias = new Map<string, string>();
  input.parts.forEach(({ features }, i) => features.forEach((f) => alias.set(f.name, `_g${i}`)));
  const parts: PartsOf = (s) => partsIn(alias.get(s.feature.name)!)(s);
  const columns = [
    `_base.${ident(input.key)} AS ${ident(input.key)}`,
    ...(input.keep ?? []).map((c) => `_base.${ident(c)} AS ${ident(c)}`),
    ...outputColumns(input.set, input.states, parts, input.asOf, input.withStates),
  ];
  return [
    `SELECT\n${indent(columns.join(',\n'))}`,
    `FROM (\n${indent(input.base)}\n) AS _base`,
    ...input.parts.map(({ from }, i) => `LEFT JOIN ${from} AS _g${i} ON _g${i}.${ident(input.key)} = _base.${ident(input.key)}`),
  ].join('\n');
}

/** Derived features that read the clock, directly or through another derived feature. */
export function clockFeatures(set: FeatureSet): DerivedFeature[] {
  const clock = new Set<string>();
  const out: DerivedFeature[] = [];
  for (const f of set.features) {
    if (f.kind !== 'derived') continue;
    if (readsClock(f.derive) || f.dependsOn.some((d) => clock.has(d))) {
      clock.add(f.name);
      out.push(f);
    }
  }
  return out;
}

/**
 * Recomputes the derived features that read the clock on every row of a profiles table at a new
 * time (an incremental run leaves the other rows as they were); undefined when there are none.
 */
export function clockUpdateSql(table: string, set: FeatureSet, asOf: string): string | undefined {
  const clock = clockFeatures(set);
  if (clock.length === 0) return undefined;
  const names = new Set(clock.map((f) => f.name));
  const sql = new Map<string, string>();
  for (const f of clock) sql.set(f.name, finalSql(exprSql(f.derive, { feature: (n) => (names.has(n) ? sql.get(n)! : ident(n)), asOf }), f));
  return `ALTER TABLE ${table} UPDATE ${clock.map((f) => `${ident(f.name)} = ${sql.get(f.name)}`).join(', ')} WHERE true`;
}

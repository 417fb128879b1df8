/**
 * The wide `profiles` table: its columns (one per feature, typed as declared), the query that
 * assembles it from the group queries (defaults, derived features), and the update of derived
 * features that read the clock. Pure.
 */
import type { Literal } from '../declarations.ts';
import { readsClock, type AggregateFeature, type DerivedFeature, type Feature, type FeatureSet } from '../feature-model.ts';
import { exprSql } from './expression-sql.ts';
import { CLICKHOUSE_TYPE, ident, indent, literalSql } from './sql.ts';

/** The declared default; counts are 0 and `exists` false without one. */
export function effectiveDefault(f: Feature): Literal | null {
  if (f.default !== null) return f.default;
  if (f.kind === 'aggregate' && (f.aggregation.fn === 'count' || f.aggregation.fn === 'distinctCount')) return 0;
  if (f.kind === 'aggregate' && f.aggregation.fn === 'exists') return false;
  return null;
}

/** The ClickHouse type of a feature's column: Nullable unless it has a default. */
export function columnType(f: Feature): string {
  const type = CLICKHOUSE_TYPE[f.type];
  return effectiveDefault(f) === null ? `Nullable(${type})` : type;
}

export function createProfilesTableSql(table: string, set: FeatureSet): string {
  const columns = ['`profile_id` String', ...set.features.map((f) => `${ident(f.name)} ${columnType(f)}`)];
  return `CREATE TABLE ${table} (\n${indent(columns.join(',\n'))}\n) ENGINE = MergeTree ORDER BY profile_id`;
}

function finalSql(raw: string, f: Feature): string {
  const d = effectiveDefault(f);
  return d === null ? `CAST(${raw} AS ${columnType(f)})` : `CAST(coalesce(${raw}, ${literalSql(d, f.type)}) AS ${columnType(f)})`;
}

/** Every feature's final SQL: aggregates from their raw value (`raw(name)`), derived features inlined over them. */
function featureSqls(set: FeatureSet, raw: (name: string) => string, asOf: string): Map<string, string> {
  const sql = new Map<string, string>();
  for (const f of set.features) {
    if (f.kind === 'aggregate') sql.set(f.name, finalSql(raw(f.name), f));
    else sql.set(f.name, finalSql(exprSql(f.derive, { feature: (n) => sql.get(n)!, asOf }), f));
  }
  return sql;
}

/** Rows of `from` (with `profile_id` and every aggregate feature, raw) as rows of the table. */
function rowsFrom(set: FeatureSet, from: string, raw: (name: string) => string, asOf: string): string {
  const sqls = featureSqls(set, raw, asOf);
  const columns = ['_g.`profile_id` AS `profile_id`', ...set.features.map((f) => `${sqls.get(f.name)} AS ${ident(f.name)}`)];
  return [`SELECT\n${indent(columns.join(',\n'))}`, `FROM (\n${indent(from)}\n) AS _g`].join('\n');
}

/** The rows of a query giving every aggregate feature (a single group's): defaults applied, derived features computed. */
export function directRowsSql(set: FeatureSet, query: string, asOf: string): string {
  return rowsFrom(set, query, (n) => `_g.${ident(n)}`, asOf);
}

/** A row for each profile of `profiles` (a query with `profile_id`) that has no source rows: every feature at its default. */
export function defaultRowsSql(set: FeatureSet, profiles: string, asOf: string): string {
  return rowsFrom(set, profiles, () => 'NULL', asOf);
}

export interface AssemblyInput {
  set: FeatureSet;
  /** Rows with features (keyed by `key`): a table, or a parenthesised query. */
  parts: { features: AggregateFeature[]; from: string }[];
  /** A subquery with one row per output row, with column `key`. */
  base: string;
  /** `profile_id` for runs, the entity row id for training sets. */
  key: string;
  /** Extra columns of the base to keep (training sets: the identifier and time). */
  keep?: string[];
  asOf: string;
}

/** One row per base row, every feature a column: the group results joined, defaults applied, derived features computed. */
export function assemblySql(input: AssemblyInput): string {
  const alias = new Map<string, string>();
  input.parts.forEach(({ features }, i) => features.forEach((f) => alias.set(f.name, `_g${i}`)));
  const sqls = featureSqls(input.set, (n) => `${alias.get(n)}.${ident(n)}`, input.asOf);
  const columns = [
    `_base.${ident(input.key)} AS ${ident(input.key)}`,
    ...(input.keep ?? []).map((c) => `_base.${ident(c)} AS ${ident(c)}`),
    ...input.set.features.map((f) => `${sqls.get(f.name)} AS ${ident(f.name)}`),
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

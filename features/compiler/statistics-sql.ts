/**
 * The statistics of a profiles table in one scan: per feature, nulls, min / max / mean (numbers,
 * booleans as 0/1, times as epoch milliseconds), a distinct count (`uniqCombined`: exact for small
 * sets, then HyperLogLog; more exact than `uniq`, and no slower on 1M profiles); and the newest
 * source row behind each group. Pure.
 */
import type { Feature } from '../feature-model.ts';
import type { FeatureGroup } from './group-sql.ts';
import { sourceSql, type CompileContext } from './source-sql.ts';
import { ident } from './sql.ts';

/** SQL turning a column's value into a number for min / max / mean, or undefined (strings). */
function numeric(f: Feature, column: string): string | undefined {
  switch (f.type) {
    case 'int':
    case 'float':
      return `toFloat64(${column})`;
    case 'bool':
      return `toFloat64(toUInt8(${column}))`;
    case 'timestamp':
      return `toFloat64(toUnixTimestamp64Milli(${column}))`;
    case 'date':
      return `toFloat64(toUnixTimestamp64Milli(toDateTime64(${column}, 3, 'UTC')))`;
    case 'string':
      return undefined;
  }
}

/** Columns: rows, and per feature i: n<i>, min<i>, max<i>, mean<i>, d<i>. */
export function statisticsSql(table: string, features: Feature[]): string {
  const columns = ['count() AS rows'];
  features.forEach((f, i) => {
    const c = ident(f.name);
    const n = numeric(f, c);
    columns.push(
      `countIf(isNull(${c})) AS n${i}`,
      n ? `min(${n}) AS min${i}` : `CAST(NULL AS Nullable(Float64)) AS min${i}`,
      n ? `max(${n}) AS max${i}` : `CAST(NULL AS Nullable(Float64)) AS max${i}`,
      n ? `avg(${n}) AS mean${i}` : `CAST(NULL AS Nullable(Float64)) AS mean${i}`,
      `uniqCombined(${c}) AS d${i}`,
    );
  });
  return `SELECT ${columns.join(', ')} FROM ${table}`;
}

/** The time of the newest row of a group's source at or before `asOf` (its last change when it has no time). */
export function freshestSql(group: FeatureGroup, ctx: CompileContext, asOf: string): string {
  const src = sourceSql(group.source, ctx);
  const time = src.time ?? src.order;
  return `SELECT max(${time}) AS t FROM ${src.changes.from} WHERE ${time} <= ${asOf}`;
}

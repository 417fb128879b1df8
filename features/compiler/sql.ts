/** SQL text helpers for the feature compiler: quoting, literals, ClickHouse types. Pure. */
import type { FeatureType, Literal, ValueType } from '../declarations.ts';

/** A backtick-quoted identifier. */
export function ident(name: string): string {
  return `\`${name.replaceAll('\\', '\\\\').replaceAll('`', '\\`')}\``;
}

/** A single-quoted string literal. */
export function str(value: string): string {
  return `'${value.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
}

/** A point in time (epoch ms) as a DateTime64(3, 'UTC') constant. */
export function timeLiteral(ms: number): string {
  return `fromUnixTimestamp64Milli(toInt64(${Math.trunc(ms)}), 'UTC')`;
}

/** ClickHouse types of feature columns (and of values read from sources). */
export const CLICKHOUSE_TYPE: Readonly<Record<FeatureType | ValueType, string>> = {
  int: 'Int64',
  float: 'Float64',
  bool: 'Bool',
  string: 'String',
  timestamp: "DateTime64(3, 'UTC')",
  date: 'Date32',
  json: 'String',
};

/** A literal of a given type (times are ISO-8601 text in declarations). */
export function literalSql(value: Literal, type: FeatureType | ValueType | 'null'): string {
  if (value === null) return 'NULL';
  if (type === 'timestamp' && typeof value === 'string') return `parseDateTime64BestEffort(${str(value)}, 3, 'UTC')`;
  if (type === 'date' && typeof value === 'string') return `toDate32(parseDateTime64BestEffort(${str(value)}, 3, 'UTC'))`;
  if (typeof value === 'string') return str(value);
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  return Number.isInteger(value) && type === 'float' ? `${value}.0` : String(value);
}

/** Indents every line of a block of SQL. */
export function indent(sql: string, by = 2): string {
  const pad = ' '.repeat(by);
  return sql
    .split('\n')
    .map((l) => (l ? pad + l : l))
    .join('\n');
}

/**
 * Aggregations to ClickHouse aggregate functions with the `-If` combinator, so every feature of a
 * source shares one scan. Pure.
 */
import type { AggregateFeature, FieldRef } from '../feature-model.ts';
import { exprSql } from './expression-sql.ts';
import { fieldSql, selectionSql, type SourceSql } from './source-sql.ts';

export interface AggregateCall {
  /** The aggregate function with -If, e.g. `sumIf`. */
  fn: string;
  args: string[];
  /** Applied to the aggregate's result. */
  finish?: (x: string) => string;
}

/** How a field of a row is read: extracted from the row (fieldSql), or a column the scan extracted it into. */
export type FieldReader = (f: FieldRef) => string;

/** The row conditions of a feature: its selection and filter (`rows`), then its window. */
function conditions(f: AggregateFeature, src: SourceSql, asOf: string, field: FieldReader): { rows: string[]; window: string[] } {
  const rows: string[] = [];
  const selection = selectionSql(f.source);
  if (selection) rows.push(selection);
  if (f.where) rows.push(`ifNull(${exprSql(f.where, { field, asOf })}, false)`);
  return { rows, window: f.window ? [`${src.time!} > ${asOf} - toIntervalMillisecond(${f.window.ms})`] : [] };
}

/** The condition a source row must meet to count for a feature: its selection, filter and window. */
function conditionSql(f: AggregateFeature, src: SourceSql, asOf: string, field: FieldReader): string {
  const { rows, window } = conditions(f, src, asOf, field);
  return rows.length + window.length ? [...rows, ...window].join(' AND ') : 'true';
}

export function aggregateCall(f: AggregateFeature, src: SourceSql, asOf: string, field: FieldReader = fieldSql): AggregateCall {
  const cond = conditionSql(f, src, asOf, field);
  const { rows } = conditions(f, src, asOf, field);
  const raw = f.aggregation.of ? exprSql(f.aggregation.of, { field, asOf }) : '';
  // Only rows the feature selects need the value (JSON parsing is the cost of a scan): `if`
  // evaluates it on those alone. Features with the same selection and filter share it.
  const value = raw && rows.length ? `if(${rows.join(' AND ')}, ${raw}, NULL)` : raw;
  switch (f.aggregation.fn) {
    case 'count':
      return { fn: 'countIf', args: [cond] };
    case 'exists':
      return { fn: 'countIf', args: [cond], finish: (x) => `(${x} > 0)` };
    case 'sum':
    case 'min':
    case 'max':
    case 'avg':
      return { fn: `${f.aggregation.fn}If`, args: [value, cond] };
    case 'distinctCount':
      // Distinct 64-bit hashes: exact unless two of one profile's values collide (uniqExact of
      // strings hashes them too). Collected per profile and counted once at the end: cheaper
      // than a hash set per profile (uniqExact), with a few values per profile.
      return { fn: 'groupArrayIf', args: [`cityHash64(${value})`, `${cond} AND isNotNull(${value})`], finish: (hashes) => `arrayUniq(${hashes})` };
    case 'first':
      return { fn: 'argMinIf', args: [value, orderKey(src.order, value), cond] };
    case 'last':
    case 'latest':
      return { fn: 'argMaxIf', args: [value, orderKey(src.order, value), cond] };
    case 'mostFrequent':
      return mostFrequent(value, src.order, cond);
  }
}

/**
 * The most frequent value, exactly, in the same pass as the other features: each profile's
 * (value, time) pairs are collected, then sorted; in sorted order `arrayEnumerateUniq` numbers
 * each value's occurrences, so a value's last pair holds its count and its latest time, and the
 * greatest (count, latest time, value) is the answer. O(n log n) per profile, on plain arrays.
 */
function mostFrequent(value: string, order: string, cond: string): AggregateCall {
  return {
    fn: 'groupArrayIf',
    args: [`(assumeNotNull(${value}), toUnixTimestamp64Milli(${order}))`, `${cond} AND isNotNull(${value})`],
    finish: (pairs) =>
      `if(empty(${pairs}), NULL, arrayMax(arrayMap((p, n) -> (n, p.2, p.1), arraySort(${pairs}), arrayEnumerateUniq(arraySort(${pairs}).1))).3)`,
  };
}

export function plainSql(c: AggregateCall): string {
  const sql = `${c.fn}(${c.args.join(', ')})`;
  return c.finish ? c.finish(sql) : sql;
}

/**
 * The order of rows for first / last: their time (ms), ties broken by a hash of the value, so the
 * answer never depends on the order rows are read. Packed into one UInt128: comparing a
 * (time, string) tuple per row costs twice as much.
 */
function orderKey(time: string, value: string): string {
  return `bitOr(bitShiftLeft(toUInt128(toUnixTimestamp64Milli(${time}) + 4611686018427387904), 64), cityHash64(${value}))`;
}

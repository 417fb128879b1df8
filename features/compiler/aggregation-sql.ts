/**
 * Aggregations to ClickHouse aggregate functions with the `-If` combinator, so every feature of a
 * source shares one scan. Pure.
 */
import type { AggregateFeature } from '../feature-model.ts';
import { exprSql } from './expression-sql.ts';
import { fieldSql, selectionSql, type SourceSql } from './source-sql.ts';

export interface AggregateCall {
  /** The aggregate function with -If, e.g. `sumIf`. */
  fn: string;
  args: string[];
  /** Applied to the aggregate's result. */
  finish?: (x: string) => string;
}

/** The row conditions of a feature: its selection and filter (`rows`), then its window. */
function conditions(f: AggregateFeature, src: SourceSql, asOf: string): { rows: string[]; window: string[] } {
  const rows: string[] = [];
  const selection = selectionSql(f.source);
  if (selection) rows.push(selection);
  if (f.where) rows.push(`ifNull(${exprSql(f.where, { field: fieldSql, asOf })}, false)`);
  return { rows, window: f.window ? [`${src.time!} > ${asOf} - toIntervalMillisecond(${f.window.ms})`] : [] };
}

/** The condition a source row must meet to count for a feature: its selection, filter and window. */
function conditionSql(f: AggregateFeature, src: SourceSql, asOf: string): string {
  const { rows, window } = conditions(f, src, asOf);
  return rows.length + window.length ? [...rows, ...window].join(' AND ') : 'true';
}

export function aggregateCall(f: AggregateFeature, src: SourceSql, asOf: string): AggregateCall {
  const cond = conditionSql(f, src, asOf);
  const { rows } = conditions(f, src, asOf);
  const raw = f.aggregation.of ? exprSql(f.aggregation.of, { field: fieldSql, asOf }) : '';
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
      // strings hashes them too), and sets of numbers are far cheaper than sets of strings.
      return { fn: 'uniqExactIf', args: [`cityHash64(${value})`, `${cond} AND isNotNull(${value})`] };
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
 * (value, time) pairs are collected, counted and timed per value (sumMap / maxMap over the
 * array: O(n log n), however many values), and the top (count, latest time, value) kept.
 */
function mostFrequent(value: string, order: string, cond: string): AggregateCall {
  return {
    fn: 'groupArrayIf',
    args: [`(assumeNotNull(${value}), toUnixTimestamp64Milli(${order}))`, `${cond} AND isNotNull(${value})`],
    finish: (pairs) => {
      const keys = `arrayMap(x -> [x], ${pairs}.1)`;
      const counts = `arrayReduce('sumMap', ${keys}, arrayMap(x -> [toUInt64(1)], ${pairs}.1))`;
      const latest = `arrayReduce('maxMap', ${keys}, arrayMap(t -> [t], ${pairs}.2))`;
      return `if(empty(${pairs}), NULL, arrayReduce('argMax', ${counts}.1, arrayZip(${counts}.2, ${latest}.2, ${counts}.1)))`;
    },
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

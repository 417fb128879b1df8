/**
 * Aggregations to ClickHouse aggregate functions with the `-If` combinator, so every feature of a
 * source shares one scan. Each can run plainly, or in two steps (`-State` per identifier key, then
 * `-Merge` per profile) so that rows are joined to profiles after they are folded. Pure.
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

/** The most frequent value is computed at a finer grain (key, value); see `group-sql.ts`. */
export interface MostFrequentCall {
  value: string;
  condition: string;
}

/** The condition a source row must meet to count for a feature: its selection, filter and window. */
export function conditionSql(f: AggregateFeature, src: SourceSql, asOf: string): string {
  const parts: string[] = [];
  const selection = selectionSql(f.source);
  if (selection) parts.push(selection);
  if (f.where) parts.push(`ifNull(${exprSql(f.where, { field: fieldSql, asOf })}, false)`);
  if (f.window) parts.push(`${src.time!} > ${asOf} - toIntervalMillisecond(${f.window.ms})`);
  return parts.length ? parts.join(' AND ') : 'true';
}

export function aggregateCall(f: AggregateFeature, src: SourceSql, asOf: string): AggregateCall | MostFrequentCall {
  const cond = conditionSql(f, src, asOf);
  const value = f.aggregation.of ? exprSql(f.aggregation.of, { field: fieldSql, asOf }) : '';
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
      return { fn: 'uniqExactIf', args: [value, cond] };
    // Ties in time go to the greater value, so the answer never depends on the order rows are read.
    case 'first':
      return { fn: 'argMinIf', args: [value, `(${src.order}, ${value})`, cond] };
    case 'last':
    case 'latest':
      return { fn: 'argMaxIf', args: [value, `(${src.order}, ${value})`, cond] };
    case 'mostFrequent':
      return { value, condition: cond };
  }
}

export function isMostFrequent(call: AggregateCall | MostFrequentCall): call is MostFrequentCall {
  return 'value' in call;
}

export const plainSql = (c: AggregateCall): string => finish(c, `${c.fn}(${c.args.join(', ')})`);
export const stateSql = (c: AggregateCall): string => `${c.fn}State(${c.args.join(', ')})`;
export const mergeSql = (c: AggregateCall, column: string): string => finish(c, `${c.fn}Merge(${column})`);

function finish(c: AggregateCall, sql: string): string {
  return c.finish ? c.finish(sql) : sql;
}

/**
 * Aggregations to ClickHouse, as per-profile states. Every aggregate feature is one or more state
 * parts, each an aggregate function with the `-If` combinator (so every feature of a source shares
 * one scan), and its value is computed from them. A version of the `profiles` table stores the
 * parts beside the values, so an incremental run can fold a profile's new rows into them instead
 * of reading all its old rows again; a window moves by subtracting the rows that left it, where
 * the parts allow it (counts and sums). Pure.
 */
import type { Literal } from '../declarations.ts';
import type { AggregateFeature, Feature, FieldRef } from '../feature-model.ts';
import { exprSql } from './expression-sql.ts';
import { fieldSql, selectionSql, type SourceSql } from './source-sql.ts';
import { CLICKHOUSE_TYPE, ident } from './sql.ts';

/** How a field of a row is read: extracted from the row (fieldSql), or a column the scan extracted it into. */
export type FieldReader = (f: FieldRef) => string;

/** One part of a feature's state. */
export interface StatePart {
  /** Its column: the feature's own one when the stored value is the part itself, else a hidden one. */
  column: string;
  /** The ClickHouse type of a hidden column (undefined: the feature's column). */
  type?: string;
  /** The part over the rows that meet `cond`. */
  aggregate(cond: string): string;
}

export interface FeatureState {
  feature: AggregateFeature;
  parts: StatePart[];
  /** The condition a row must meet to count: selection, filter and window. */
  condition: string;
  /** The same without the window. */
  rowCondition: string;
  /** The feature's value (before its default) from its parts' SQL, in part order. */
  value(parts: string[]): string;
  /**
   * The parts after rows were added (`plus`, the parts of those rows) and, for a window that
   * moved, removed (`minus`). Every argument may be NULL (or an empty array): no such rows.
   */
  merge(old: string[], plus: string[], minus?: string[]): string[];
  /** Rows can be removed (minus): the state is made of counts and sums. */
  invertible: boolean;
}

/** The declared default; counts are 0 and `exists` false without one. */
export function effectiveDefault(f: Feature): Literal | null {
  if (f.default !== null) return f.default;
  if (f.kind === 'aggregate' && (f.aggregation.fn === 'count' || f.aggregation.fn === 'distinctCount')) return 0;
  if (f.kind === 'aggregate' && f.aggregation.fn === 'exists') return false;
  return null;
}

/** Rows can be removed from the feature's state (it is made of counts and sums): a window moves by subtraction. */
export function isInvertible(f: AggregateFeature): boolean {
  return ['count', 'exists', 'sum', 'avg'].includes(f.aggregation.fn);
}

/** Hidden columns of the `profiles` versions are named `_state_<feature>_<part>`. */
export const HIDDEN_PREFIX = '_state_';
const hidden = (f: AggregateFeature, part: string, type: string) => ({ column: `${HIDDEN_PREFIX}${f.name}_${part}`, type });

/** The row conditions of a feature: its selection and filter (`rows`), then its window. */
function conditions(f: AggregateFeature, src: SourceSql, asOf: string, field: FieldReader): { rows: string[]; window: string[] } {
  const rows: string[] = [];
  const selection = selectionSql(f.source);
  if (selection) rows.push(selection);
  if (f.where) rows.push(`ifNull(${exprSql(f.where, { field, asOf })}, false)`);
  return { rows, window: f.window ? [`${src.time!} > ${asOf} - toIntervalMillisecond(${f.window.ms})`] : [] };
}

const and = (conds: string[]) => (conds.length ? conds.join(' AND ') : 'true');
const nullable = (type: string) => `Nullable(${type})`;
/** a + b - c, where NULL counts as 0. */
const add = (a: string, b: string, c?: string) => `coalesce(${a}, 0) + coalesce(${b}, 0)${c ? ` - coalesce(${c}, 0)` : ''}`;
/** `pick(a, b)` where both are set, else whichever is. */
const eitherOr = (a: string, b: string, pick: (a: string, b: string) => string) => `if(isNull(${a}), ${b}, if(isNull(${b}), ${a}, ${pick(a, b)}))`;

/**
 * A feature's state. A part is stored as the feature's own column where that column holds exactly
 * the part: the value is the part, and the default is what the part is without rows (none, or 0
 * for counts and sums).
 */
export function featureState(f: AggregateFeature, src: SourceSql, asOf: string, field: FieldReader = fieldSql): FeatureState {
  const { rows, window } = conditions(f, src, asOf, field);
  const condition = and([...rows, ...window]);
  const raw = f.aggregation.of ? exprSql(f.aggregation.of, { field, asOf }) : '';
  // Only rows the feature selects need the value (JSON parsing is the cost of a scan): `if`
  // evaluates it on those alone. Features with the same selection and filter share it.
  const value = raw && rows.length ? `if(${and(rows)}, ${raw}, NULL)` : raw;
  const withValue = (cond: string) => `${cond} AND isNotNull(${value})`;
  const type = CLICKHOUSE_TYPE[f.type];
  const d = effectiveDefault(f);
  /** The feature's column holds the part: the value is the part, and without rows the default is the part's. */
  const own = (neutral: unknown) => d === null || d === neutral;
  const base = { feature: f, condition, rowCondition: and(rows), invertible: isInvertible(f) };
  const one = (part: StatePart, merge: (o: string, p: string, m?: string) => string, valueOf = (x: string) => x): FeatureState => ({
    ...base,
    parts: [part],
    value: ([x]) => valueOf(x!),
    merge: ([o], [p], m) => [merge(o!, p!, m?.[0])],
  });
  switch (f.aggregation.fn) {
    case 'count':
      return one({ ...(d === 0 ? { column: f.name } : hidden(f, 'n', nullable('Int64'))), aggregate: (c) => `toInt64(countIf(${c}))` }, add);
    case 'exists':
      return one({ ...hidden(f, 'n', nullable('Int64')), aggregate: (c) => `toInt64(countIf(${c}))` }, add, (n) => `(${n} > 0)`);
    case 'sum':
    case 'avg': {
      // A sum with a window, and an average, count their values: no values is no value (NULL).
      if (f.aggregation.fn === 'sum' && own(0) && !f.window) return one({ column: f.name, aggregate: (c) => `sumIf(${value}, ${c})` }, (o, p) => eitherOr(o, p, (a, b) => `${a} + ${b}`));
      const sumType = f.aggregation.fn === 'avg' ? 'Float64' : type;
      const sum = { ...hidden(f, 's', nullable(sumType)), aggregate: (c: string) => `sumIf(${f.aggregation.fn === 'avg' ? `toFloat64(${value})` : value}, ${c})` };
      const n = { ...hidden(f, 'n', nullable('Int64')), aggregate: (c: string) => `toInt64(countIf(${withValue(c)}))` };
      return {
        ...base,
        parts: [sum, n],
        value: ([s, k]) => `if(${k} = 0, NULL, ${f.aggregation.fn === 'avg' ? `${s} / ${k}` : s})`,
        merge: ([os, on], [ps, pn], m) => [add(os!, ps!, m?.[0]), add(on!, pn!, m?.[1])],
      };
    }
    case 'min':
    case 'max': {
      const fn = f.aggregation.fn;
      const part = own(null) ? { column: f.name } : hidden(f, 'v', nullable(type));
      return one({ ...part, aggregate: (c) => `${fn}OrNullIf(${value}, ${c})` }, (o, p) => eitherOr(o, p, (a, b) => `${fn === 'min' ? 'least' : 'greatest'}(${a}, ${b})`));
    }
    case 'distinctCount':
      // Distinct 64-bit hashes: exact unless two of one profile's values collide (uniqExact of
      // strings hashes them too). Collected per profile: cheaper than a hash set per profile.
      return one(
        { ...hidden(f, 'h', 'Array(UInt64)'), aggregate: (c) => `arrayDistinct(groupArrayIf(cityHash64(${value}), ${withValue(c)}))` },
        (o, p) => `arrayDistinct(arrayConcat(${o}, ${p}))`,
        (h) => `length(${h})`,
      );
    case 'first':
    case 'last':
    case 'latest': {
      // One aggregate keeps the first / last row's value and its order key (time and a hash of the
      // value). The state stores the time (ms) beside the value; merging hashes the values again.
      const first = f.aggregation.fn === 'first';
      const v = own(null) ? { column: f.name } : hidden(f, 'v', nullable(type));
      const typed = (x: string) => (sameType(f) ? x : `CAST(${x} AS ${nullable(type)})`);
      // The key is 0 where no row had a value (real keys are far above it).
      const pick = (c: string) => `${first ? 'argAndMinIf' : 'argAndMaxIf'}(${value}, ${orderKey(src.order, typed(value))}, ${c})`;
      const picked = (c: string, part: string) => `if(${pick(c)}.2 = 0, NULL, ${part})`;
      const later = first ? '<' : '>';
      const key = (x: string, t: string) => `(${t}, cityHash64(${typed(x)}))`;
      return {
        ...base,
        parts: [
          { ...v, aggregate: (c) => picked(c, `${pick(c)}.1`) },
          { ...hidden(f, 't', nullable('Int64')), aggregate: (c) => picked(c, `toInt64(bitShiftRight(${pick(c)}.2, 64)) - ${TIME_OFFSET}`) },
        ],
        value: ([x]) => x!,
        // The time is NULL where no row had a value.
        merge: ([ov, ot], [pv, pt]) => {
          const takeNew = `isNotNull(${pt}) AND (isNull(${ot}) OR ${key(pv!, pt!)} ${later} ${key(ov!, ot!)})`;
          return [`if(${takeNew}, ${pv}, ${ov})`, `if(${takeNew}, ${pt}, ${ot})`];
        },
      };
    }
    case 'mostFrequent':
      return one({ ...hidden(f, 'c', `Array(Tuple(${type}, Int64, Int64))`), aggregate: (c) => valueCounts(value, src.order, withValue(c)) }, mergeValueCounts, (t) => `if(empty(${t}), NULL, arrayMax(arrayMap(x -> (x.2, x.3, x.1), ${t})).3)`);
  }
}

/**
 * The most frequent value's state: each value with its count and latest time (ms). Each profile's
 * (value, time) pairs are collected, then sorted; in sorted order `arrayEnumerateUniq` numbers each
 * value's occurrences, so a value's last pair holds its count and its latest time. The answer is
 * the greatest (count, latest time, value). O(n log n) per profile, on plain arrays: cheaper than
 * `sumMap` / `maxMap`.
 */
function valueCounts(value: string, order: string, cond: string): string {
  const sorted = `arraySort(groupArrayIf((assumeNotNull(${value}), toUnixTimestamp64Milli(${order})), ${cond}))`;
  // A value's last pair is its first in reverse order.
  const last = `arrayReverse(arrayEnumerateUniq(arrayReverse(${sorted}.1)))`;
  return `arrayFilter((x, l) -> l = 1, arrayMap((p, n) -> (p.1, toInt64(n), p.2), ${sorted}, arrayEnumerateUniq(${sorted}.1)), ${last})`;
}

function mergeValueCounts(o: string, p: string): string {
  const all = `arrayConcat(${o}, ${p})`;
  return `arrayMap(v -> (v, arraySum(arrayMap(x -> if(x.1 = v, x.2, 0), ${all})), arrayMax(arrayMap(x -> if(x.1 = v, x.3, toInt64(-9223372036854775807)), ${all}))), arrayDistinct(${all}.1))`;
}

/** The aggregated value has the feature's type already (the stored value hashes the same). */
const sameType = (f: AggregateFeature) => f.aggregation.of?.type === f.type;

/** The hidden columns of a feature set's states, with their types. */
export function hiddenColumns(states: FeatureState[]): { column: string; type: string }[] {
  return states.flatMap((s) => s.parts.flatMap((p) => (p.type ? [{ column: p.column, type: p.type }] : [])));
}

/** A part's column as it reads in SQL. */
export const partColumn = (p: StatePart) => ident(p.column);

/**
 * The order of rows for first / last: their time (ms), ties broken by a hash of the value, so the
 * answer never depends on the order rows are read. Packed into one UInt128: comparing a
 * (time, string) tuple per row costs twice as much.
 */
function orderKey(time: string, value: string): string {
  return `bitOr(bitShiftLeft(toUInt128(toUnixTimestamp64Milli(${time}) + ${TIME_OFFSET}), 64), cityHash64(${value}))`;
}

/** 2^62: times (ms) before 1970 stay positive in an order key. */
const TIME_OFFSET = '4611686018427387904';

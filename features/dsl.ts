/**
 * The declaration API of feature files (`features/definitions/*.ts`):
 *
 * ```ts
 * import { defineFeatures, events, count, sum, feature, div } from '../dsl.ts';
 *
 * export default defineFeatures({
 *   owner: 'growth',
 *   features: {
 *     orders_30d: { description: 'Orders in the last 30 days', type: 'int', from: events('Order Completed'), aggregate: count(), window: '30d', default: 0 },
 *     revenue_30d: { description: 'Revenue in the last 30 days', type: 'float', from: events('Order Completed'), aggregate: sum('properties.revenue'), window: '30d', default: 0 },
 *     aov_30d: { description: 'Average order value, last 30 days', type: 'float', derive: div(feature('revenue_30d'), feature('orders_30d')) },
 *   },
 * });
 * ```
 *
 * The helpers only build plain data (the shapes of `declarations.ts`); everything is checked when
 * the files are loaded (`tessera features validate`).
 */
import {
  EVENT_CATALOG,
  FEATURE_SET,
  type AggregationDecl,
  type EventCatalogInput,
  type EventType,
  type Expr,
  type FeatureType,
  type Literal,
  type Operator,
  type SourceDecl,
} from './declarations.ts';

export type { Expr, FeatureType, Literal } from './declarations.ts';

// ---- declarations -----------------------------------------------------------------------------

interface FeatureCommon {
  description: string;
  type: FeatureType;
  owner?: string;
  tags?: string[];
  default?: Literal;
}

export interface AggregateFeatureInput extends FeatureCommon {
  from: SourceDecl;
  aggregate: AggregationDecl;
  where?: Expr;
  /** e.g. `30d`, `12h`, `90m`, `2w`. */
  window?: string;
}

export interface DerivedFeatureInput extends FeatureCommon {
  derive: Expr;
}

export type FeatureInput = AggregateFeatureInput | DerivedFeatureInput;

export interface FeatureSetInput {
  /** Owner of every feature in the set unless a feature names its own. */
  owner?: string;
  tags?: string[];
  features: Record<string, FeatureInput>;
}

/** A set of features; export it (default or named) from a file in the definitions directory. */
export function defineFeatures(set: FeatureSetInput) {
  return { kind: FEATURE_SET, ...set } as const;
}

/** The events features may read and their property types; export it from a definitions file. */
export function defineEvents(catalog: Omit<EventCatalogInput, 'kind'>) {
  return { kind: EVENT_CATALOG, ...catalog } as const;
}

// ---- sources ----------------------------------------------------------------------------------

const names = (n?: string | string[]) => (n === undefined ? undefined : Array.isArray(n) ? n : [n]);

/** track events with these names (`event`); no name: every track event. */
export const events = (name?: string | string[]): SourceDecl => ({ kind: 'events', types: ['track'], names: names(name) });
/** page calls with these names; no name: every page call. */
export const pages = (name?: string | string[]): SourceDecl => ({ kind: 'events', types: ['page'], names: names(name) });
/** screen calls with these names; no name: every screen call. */
export const screens = (name?: string | string[]): SourceDecl => ({ kind: 'events', types: ['screen'], names: names(name) });
/** identify calls (their `traits`). */
export const identifies = (): SourceDecl => ({ kind: 'events', types: ['identify'] });
/** Every call, of the given types (default all). */
export const allEvents = (...types: EventType[]): SourceDecl => ({ kind: 'events', types: types.length ? types : undefined });
/** The current rows of a declared CDC table, e.g. `cdc('shop', 'public.orders')`. */
export const cdc = (source: string, table: string): SourceDecl => ({ kind: 'cdc', source, table });
/** The current records of a declared CRM source. */
export const crm = (source: string): SourceDecl => ({ kind: 'crm', source });

// ---- aggregations -----------------------------------------------------------------------------

/** A field path (`'properties.revenue'`, `'traits.plan'`, `'timestamp'`, a CDC column) or an expression. */
type ValueInput = string | Expr;
const valueOf = (v: ValueInput): Expr => (typeof v === 'string' ? field(v) : v);

export const count = (): AggregationDecl => ({ fn: 'count' });
/** true when there is at least one row. */
export const exists = (): AggregationDecl => ({ fn: 'exists' });
export const sum = (of: ValueInput): AggregationDecl => ({ fn: 'sum', of: valueOf(of) });
export const min = (of: ValueInput): AggregationDecl => ({ fn: 'min', of: valueOf(of) });
export const max = (of: ValueInput): AggregationDecl => ({ fn: 'max', of: valueOf(of) });
export const avg = (of: ValueInput): AggregationDecl => ({ fn: 'avg', of: valueOf(of) });
/** The value of the earliest row (by the source's time) that has one. */
export const first = (of: ValueInput): AggregationDecl => ({ fn: 'first', of: valueOf(of) });
/** The value of the most recent row (by the source's time) that has one. */
export const last = (of: ValueInput): AggregationDecl => ({ fn: 'last', of: valueOf(of) });
/** The latest value of a trait or column (CRM records by updated_at, CDC rows by their time). */
export const latest = (of: ValueInput): AggregationDecl => ({ fn: 'latest', of: valueOf(of) });
export const distinctCount = (of: ValueInput): AggregationDecl => ({ fn: 'distinctCount', of: valueOf(of) });
/** The most frequent value; ties go to the one seen last, then the greater value. */
export const mostFrequent = (of: ValueInput): AggregationDecl => ({ fn: 'mostFrequent', of: valueOf(of) });

// ---- expressions ------------------------------------------------------------------------------

type Arg = Expr | Literal;
const toExpr = (a: Arg): Expr => (a !== null && typeof a === 'object' ? a : { kind: 'literal', value: a });
const call = (op: Operator, ...args: Arg[]): Expr => ({ kind: 'call', op, args: args.map(toExpr) });

/** A field of the source row (in `where` and aggregated values). Plain strings in expressions are literals. */
export const field = (path: string): Expr => ({ kind: 'field', path });
/** Another feature (in `derive`). */
export const feature = (name: string): Expr => ({ kind: 'feature', name });
export const lit = (value: Literal): Expr => ({ kind: 'literal', value });

export const add = (a: Arg, b: Arg) => call('add', a, b);
export const sub = (a: Arg, b: Arg) => call('sub', a, b);
export const mul = (a: Arg, b: Arg) => call('mul', a, b);
/** a / b; null when b is 0. */
export const div = (a: Arg, b: Arg) => call('div', a, b);
export const eq = (a: Arg, b: Arg) => call('eq', a, b);
export const ne = (a: Arg, b: Arg) => call('ne', a, b);
export const gt = (a: Arg, b: Arg) => call('gt', a, b);
export const gte = (a: Arg, b: Arg) => call('gte', a, b);
export const lt = (a: Arg, b: Arg) => call('lt', a, b);
export const lte = (a: Arg, b: Arg) => call('lte', a, b);
export const isIn = (a: Arg, values: Literal[]) => call('in', a, ...values);
export const and = (...args: Arg[]) => call('and', ...args);
export const or = (...args: Arg[]) => call('or', ...args);
export const not = (a: Arg) => call('not', a);
export const isNull = (a: Arg) => call('isNull', a);
export const isNotNull = (a: Arg) => call('isNotNull', a);
export const coalesce = (...args: Arg[]) => call('coalesce', ...args);
export const ifElse = (condition: Arg, then: Arg, otherwise: Arg) => call('if', condition, then, otherwise);
export const round = (a: Arg, digits = 0) => call('round', a, digits);
export const lower = (a: Arg) => call('lower', a);
/** Whole days from a time to the run's time (a training row's time in training sets). */
export const daysSince = (a: Arg) => call('daysSince', a);
/** Whole hours from a time to the run's time. */
export const hoursSince = (a: Arg) => call('hoursSince', a);

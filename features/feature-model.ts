/**
 * Validated features: what `validate-definitions.ts` produces from the declarations and what the
 * compiler, the runs, the catalog and training sets consume. Plain data, no I/O.
 */
import type { CdcTableConfig, CrmMapping } from '../src/sources/sources-config.ts';
import type { AggregationName, EventType, Expr, FeatureType, Literal, Operator, ValueType } from './declarations.ts';

/** The type of an expression: a value type, or `null` for the literal null (fits any type). */
export type ExprType = ValueType | 'null';

/** How a field is read from a source row: a column, or a path inside a JSON text column. */
export interface FieldRef {
  column: string;
  /** Keys inside the JSON text of `column` (`properties.shipping.country` → ['shipping', 'country']). */
  jsonKeys?: string[];
  type: ValueType;
}

export type TypedExpr =
  | { kind: 'field'; path: string; field: FieldRef; type: ExprType }
  | { kind: 'feature'; name: string; type: ExprType }
  | { kind: 'literal'; value: Literal; type: ExprType }
  | { kind: 'call'; op: Operator; args: TypedExpr[]; type: ExprType };

export type SourceRef =
  | { kind: 'events'; types?: EventType[]; names?: string[] }
  | { kind: 'cdc'; source: string; table: string; config: CdcTableConfig }
  | { kind: 'crm'; source: string; mapping: CrmMapping };

interface FeatureBase {
  name: string;
  /** The definitions file that declares it (relative to the definitions directory). */
  file: string;
  description: string;
  owner: string;
  tags: string[];
  type: FeatureType;
  default: Literal | null;
}

export interface AggregateFeature extends FeatureBase {
  kind: 'aggregate';
  source: SourceRef;
  aggregation: { fn: AggregationName; of?: TypedExpr };
  where?: TypedExpr;
  window?: { text: string; ms: number };
}

export interface DerivedFeature extends FeatureBase {
  kind: 'derived';
  derive: TypedExpr;
  /** Features it reads directly. */
  dependsOn: string[];
}

export type Feature = AggregateFeature | DerivedFeature;

/** A validated, ordered feature set: every derived feature comes after what it reads. */
export interface FeatureSet {
  features: Feature[];
}

/** One source feeds one query: all event features share a scan, each CDC table and CRM source has its own. */
export function sourceKey(source: SourceRef): string {
  switch (source.kind) {
    case 'events':
      return 'events';
    case 'cdc':
      return `cdc:${source.source}:${source.table}`;
    case 'crm':
      return `crm:${source.source}`;
  }
}

/** How a source reads in messages and the catalog: `events Order Completed`, `cdc shop public.orders`. */
export function describeSource(source: SourceRef): string {
  switch (source.kind) {
    case 'events': {
      const types = source.types?.join('/') ?? 'any';
      return source.names ? `events ${types} ${source.names.map((n) => `'${n}'`).join(', ')}` : `events ${types === 'any' ? '(all)' : types}`;
    }
    case 'cdc':
      return `cdc ${source.source} ${source.table}`;
    case 'crm':
      return `crm ${source.source}`;
  }
}

const INFIX: Partial<Record<Operator, string>> = { add: '+', sub: '-', mul: '*', div: '/', eq: '=', ne: '!=', gt: '>', gte: '>=', lt: '<', lte: '<=' };

/** A short, readable rendering of an expression for messages and the catalog. */
export function renderExpr(e: Expr | TypedExpr): string {
  switch (e.kind) {
    case 'field':
      return e.path;
    case 'feature':
      return e.name;
    case 'literal':
      return JSON.stringify(e.value);
    case 'call': {
      const infix = INFIX[e.op];
      if (infix && e.args.length === 2) return `(${renderExpr(e.args[0]!)} ${infix} ${renderExpr(e.args[1]!)})`;
      return `${e.op}(${e.args.map(renderExpr).join(', ')})`;
    }
  }
}

/** A readable summary of how an aggregate feature is computed: `sum(properties.revenue) over 30d where ...`. */
export function describeAggregation(f: AggregateFeature): string {
  const of = f.aggregation.of ? renderExpr(f.aggregation.of) : '';
  return [`${f.aggregation.fn}(${of})`, f.window ? `over ${f.window.text}` : '', f.where ? `where ${renderExpr(f.where)}` : ''].filter(Boolean).join(' ');
}

/** Whether an expression reads the run's clock (daysSince, hoursSince), directly. */
export function readsClock(e: TypedExpr): boolean {
  return e.kind === 'call' && (e.op === 'daysSince' || e.op === 'hoursSince' || e.args.some(readsClock));
}

/** The source fields an aggregate feature reads: in its aggregation's input and its filter. */
export function fieldsRead(f: AggregateFeature): FieldRef[] {
  const fields: FieldRef[] = [];
  const visit = (e: TypedExpr | undefined): void => {
    if (e?.kind === 'field') fields.push(e.field);
    if (e?.kind === 'call') e.args.forEach(visit);
  };
  visit(f.aggregation.of);
  visit(f.where);
  return fields;
}

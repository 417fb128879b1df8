/**
 * Type checking of expressions (filters, aggregated values, derived features) and of aggregations.
 * Pure: the caller says what a field or a feature reference means; problems come back as messages.
 */
import type { AggregationName, Expr, FeatureType, Literal, ValueType } from './declarations.ts';
import { renderExpr, type ExprType, type FieldRef, type TypedExpr } from './feature-model.ts';

export interface ExprScope {
  /** Resolves a field path, or says why it cannot. Undefined: fields are not allowed here. */
  field?: (path: string) => FieldRef | string;
  /** The type of a feature, or a reason. Undefined: features are not allowed here. */
  feature?: (name: string) => { type: ExprType } | string;
  /** Where the expression is, for messages (`where`, `derive`, `sum(...)`). */
  where: string;
}

export type Typed<T> = { ok: true; value: T } | { ok: false; errors: string[] };

const NUMERIC = new Set<ExprType>(['int', 'float']);
const ORDERED = new Set<ExprType>(['int', 'float', 'string', 'timestamp', 'date']);
const TIMES = new Set<ExprType>(['timestamp', 'date']);

export function literalType(value: Literal): ExprType {
  if (value === null) return 'null';
  if (typeof value === 'boolean') return 'bool';
  if (typeof value === 'number') return Number.isInteger(value) ? 'int' : 'float';
  return 'string';
}

/** Whether a value of type `from` can be stored in (or stand for) type `to`. */
export function assignable(from: ExprType, to: ExprType): boolean {
  return from === to || from === 'null' || (from === 'int' && to === 'float');
}

/** The type two branches have together (coalesce, if, comparisons), if any. */
export function unify(a: ExprType, b: ExprType): ExprType | undefined {
  if (a === b) return a;
  if (a === 'null') return b;
  if (b === 'null') return a;
  if (NUMERIC.has(a) && NUMERIC.has(b)) return 'float';
  if (TIMES.has(a) && TIMES.has(b)) return 'timestamp';
  return undefined;
}

/** A string literal compared with a time must parse as one. */
function isTimeText(e: TypedExpr): boolean {
  return e.kind === 'literal' && typeof e.value === 'string' && !Number.isNaN(Date.parse(e.value));
}

function comparable(a: TypedExpr, b: TypedExpr): boolean {
  if (unify(a.type, b.type) !== undefined) return true;
  return (TIMES.has(a.type) && isTimeText(b)) || (TIMES.has(b.type) && isTimeText(a));
}

/** Types an expression; every problem is reported (with the sub-expression), not just the first. */
export function typeExpr(expr: Expr, scope: ExprScope): Typed<TypedExpr> {
  const errors: string[] = [];
  const at = (e: Expr, message: string) => errors.push(`${scope.where}: ${message} (in ${renderExpr(e)})`);

  const visit = (e: Expr): TypedExpr => {
    switch (e.kind) {
      case 'literal':
        return { ...e, type: literalType(e.value) };
      case 'field': {
        if (!scope.field) {
          at(e, `field '${e.path}' cannot be used here; a derived feature reads features: feature('name')`);
          return { kind: 'literal', value: null, type: 'null' };
        }
        const resolved = scope.field(e.path);
        if (typeof resolved === 'string') {
          errors.push(`${scope.where}: ${resolved}`);
          return { kind: 'literal', value: null, type: 'null' };
        }
        return { kind: 'field', path: e.path, field: resolved, type: resolved.type };
      }
      case 'feature': {
        if (!scope.feature) {
          at(e, `feature '${e.name}' cannot be used here; filters and aggregated values read fields of the source row: field('path')`);
          return { kind: 'literal', value: null, type: 'null' };
        }
        const resolved = scope.feature(e.name);
        if (typeof resolved === 'string') {
          errors.push(`${scope.where}: ${resolved}`);
          return { kind: 'literal', value: null, type: 'null' };
        }
        return { kind: 'feature', name: e.name, type: resolved.type };
      }
      case 'call': {
        const args = e.args.map(visit);
        const type = callType(e, args, (m) => at(e, m));
        return { kind: 'call', op: e.op, args, type };
      }
    }
  };
  const value = visit(expr);
  return errors.length ? { ok: false, errors } : { ok: true, value };
}

function callType(e: Extract<Expr, { kind: 'call' }>, args: TypedExpr[], fail: (message: string) => void): ExprType {
  const arity = (min: number, max = min): boolean => {
    if (args.length >= min && args.length <= max) return true;
    fail(`${e.op} takes ${min === max ? min : `${min} to ${max === Infinity ? 'any number of' : max}`} argument(s), got ${args.length}`);
    return false;
  };
  const need = (a: TypedExpr, ok: Set<ExprType>, what: string): void => {
    if (a.type !== 'null' && !ok.has(a.type)) fail(`${e.op} needs ${what}; ${renderExpr(a)} is ${a.type}`);
  };
  switch (e.op) {
    case 'add':
    case 'sub':
    case 'mul':
      if (!arity(2)) return 'null';
      args.forEach((a) => need(a, NUMERIC, 'numbers'));
      return args.every((a) => a.type === 'int' || a.type === 'null') ? 'int' : 'float';
    case 'div':
      if (!arity(2)) return 'null';
      args.forEach((a) => need(a, NUMERIC, 'numbers'));
      return 'float';
    case 'eq':
    case 'ne':
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte': {
      if (!arity(2)) return 'bool';
      const [a, b] = args as [TypedExpr, TypedExpr];
      if (e.op !== 'eq' && e.op !== 'ne') [a, b].forEach((x) => need(x, ORDERED, 'numbers, strings or times'));
      if (!comparable(a, b)) fail(`cannot compare ${a.type} with ${b.type}`);
      return 'bool';
    }
    case 'in': {
      if (!arity(2, Infinity)) return 'bool';
      const [a, ...values] = args as [TypedExpr, ...TypedExpr[]];
      for (const v of values) {
        if (v.kind !== 'literal') fail(`the values of in(...) must be literals; ${renderExpr(v)} is not`);
        else if (!comparable(a, v)) fail(`cannot compare ${a.type} with ${v.type} ${renderExpr(v)}`);
      }
      return 'bool';
    }
    case 'and':
    case 'or':
      if (!arity(2, Infinity)) return 'bool';
      args.forEach((a) => need(a, new Set(['bool']), 'conditions (bool)'));
      return 'bool';
    case 'not':
      if (arity(1)) need(args[0]!, new Set(['bool']), 'a condition (bool)');
      return 'bool';
    case 'isNull':
    case 'isNotNull':
      arity(1);
      return 'bool';
    case 'coalesce':
    case 'if': {
      const branches = e.op === 'if' ? (arity(3) ? args.slice(1) : []) : arity(1, Infinity) ? args : [];
      if (e.op === 'if' && args[0]) need(args[0], new Set(['bool']), 'a condition (bool) first');
      let type: ExprType | undefined = 'null';
      for (const b of branches) {
        const next: ExprType | undefined = type === undefined ? undefined : unify(type, b.type);
        if (type !== undefined && next === undefined) fail(`its values have different types (${branches.map((x) => x.type).join(', ')})`);
        type = next;
      }
      return type ?? 'null';
    }
    case 'round':
      if (!arity(1, 2)) return 'float';
      need(args[0]!, NUMERIC, 'a number');
      if (args[1] && !(args[1].kind === 'literal' && args[1].type === 'int')) fail('round(x, digits) needs whole digits as a literal');
      return 'float';
    case 'lower':
      if (arity(1)) need(args[0]!, new Set(['string']), 'a string');
      return 'string';
    case 'daysSince':
    case 'hoursSince':
      if (arity(1)) need(args[0]!, TIMES, 'a timestamp or date');
      return 'int';
  }
}

/**
 * The type an aggregation gives over a value of type `of` (undefined for count and exists), or why
 * it cannot aggregate it.
 */
export function aggregationType(fn: AggregationName, of: ExprType | undefined): Typed<ExprType> {
  const fail = (message: string): Typed<ExprType> => ({ ok: false, errors: [message] });
  if (fn === 'count' || fn === 'distinctCount') {
    if (of === 'json') return fail(`${fn} cannot count json values; pick a field inside it`);
    return { ok: true, value: 'int' };
  }
  if (fn === 'exists') return { ok: true, value: 'bool' };
  if (of === undefined) return fail(`${fn} needs a value to aggregate`);
  if (of === 'json') return fail(`${fn} cannot aggregate a json value; pick a field inside it`);
  switch (fn) {
    case 'sum':
      return of === 'int' || of === 'float' || of === 'null' ? { ok: true, value: of === 'float' ? 'float' : 'int' } : fail(`sum needs a number, got ${of}`);
    case 'avg':
      return of === 'int' || of === 'float' || of === 'null' ? { ok: true, value: 'float' } : fail(`avg needs a number, got ${of}`);
    case 'min':
    case 'max':
      return ORDERED.has(of) || of === 'null' ? { ok: true, value: of } : fail(`${fn} needs a number, string or time, got ${of}`);
    default:
      return { ok: true, value: of };
  }
}

/** Whether a literal default suits a feature type (times as ISO-8601 text). */
export function defaultFits(value: Literal, type: FeatureType): boolean {
  if (value === null) return true;
  if (type === 'timestamp' || type === 'date') return typeof value === 'string' && !Number.isNaN(Date.parse(value));
  return assignable(literalType(value), type as ValueType);
}

/** Typed expressions to ClickHouse SQL. Pure. */
import type { ExprType, FieldRef, TypedExpr } from '../feature-model.ts';
import { literalSql } from './sql.ts';

export interface ExprEnv {
  field?: (ref: FieldRef) => string;
  feature?: (name: string) => string;
  /** The time expressions are evaluated at (the run's time, a training row's time). */
  asOf: string;
}

const TIMES = new Set<ExprType>(['timestamp', 'date']);
const INFIX = { add: '+', sub: '-', mul: '*', eq: '=', ne: '!=', gt: '>', gte: '>=', lt: '<', lte: '<=' } as const;

/** A literal compared with a time is read as a time. */
function operand(e: TypedExpr, other: TypedExpr | undefined, env: ExprEnv): string {
  if (e.kind === 'literal' && other && TIMES.has(other.type)) return literalSql(e.value, other.type === 'date' ? 'date' : 'timestamp');
  return exprSql(e, env);
}

export function exprSql(e: TypedExpr, env: ExprEnv): string {
  switch (e.kind) {
    case 'literal':
      return literalSql(e.value, e.type);
    case 'field':
      if (!env.field) throw new Error(`field ${e.path} in an expression over features`);
      return env.field(e.field);
    case 'feature':
      if (!env.feature) throw new Error(`feature ${e.name} in an expression over fields`);
      return env.feature(e.name);
    case 'call': {
      const [a, b] = e.args;
      const arg = (i: number) => exprSql(e.args[i]!, env);
      switch (e.op) {
        case 'add':
        case 'sub':
        case 'mul':
        case 'eq':
        case 'ne':
        case 'gt':
        case 'gte':
        case 'lt':
        case 'lte':
          return `(${operand(a!, b, env)} ${INFIX[e.op]} ${operand(b!, a, env)})`;
        case 'div':
          return `(${arg(0)} / nullIf(${arg(1)}, 0))`;
        case 'in':
          return `(${arg(0)} IN (${e.args
            .slice(1)
            .map((v) => operand(v, a, env))
            .join(', ')}))`;
        case 'and':
        case 'or':
          return `(${e.args.map((x) => exprSql(x, env)).join(e.op === 'and' ? ' AND ' : ' OR ')})`;
        case 'not':
          return `(NOT ${arg(0)})`;
        case 'isNull':
          return `isNull(${arg(0)})`;
        case 'isNotNull':
          return `isNotNull(${arg(0)})`;
        case 'coalesce':
          return `coalesce(${e.args.map((x) => exprSql(x, env)).join(', ')})`;
        case 'if':
          return `if(${arg(0)}, ${arg(1)}, ${arg(2)})`;
        case 'round':
          return `round(${arg(0)}, ${e.args[1] ? arg(1) : '0'})`;
        case 'lower':
          return `lower(${arg(0)})`;
        case 'daysSince':
        case 'hoursSince': {
          const unit = e.op === 'daysSince' ? 86_400_000 : 3_600_000;
          const from = a!.type === 'date' ? `toDateTime64(${arg(0)}, 3, 'UTC')` : arg(0);
          return `intDiv(toUnixTimestamp64Milli(${env.asOf}) - toUnixTimestamp64Milli(${from}), ${unit})`;
        }
      }
    }
  }
}

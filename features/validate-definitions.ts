/**
 * Validation of the declarations exported by the definitions files: shapes (zod), names, sources,
 * fields, types, windows, defaults, references between features and cycles. Pure: the loader
 * passes the exported values, the sources config and nothing else. Every problem is reported with
 * its file and feature, not just the first one.
 */
import type { z } from 'zod';
import { TesseraError } from '../src/common/errors.ts';
import type { SourcesConfig } from '../src/sources/sources-config.ts';
import {
  EVENT_CATALOG,
  FEATURE_NAME,
  FEATURE_SET,
  RESERVED_NAMES,
  aggregateFeatureSchema,
  derivedFeatureSchema,
  eventCatalogSchema,
  featureSetSchema,
  windowMs,
  type AggregateFeatureDecl,
  type DerivedFeatureDecl,
  type EventCatalogDecl,
  type SourceDecl,
} from './declarations.ts';
import { aggregationType, assignable, defaultFits, typeExpr } from './expression-types.ts';
import { describeSource, renderExpr, type AggregateFeature, type DerivedFeature, type ExprType, type Feature, type FeatureSet, type SourceRef, type TypedExpr } from './feature-model.ts';
import { checkEventNames, mergeCatalogs, resolveField, timeField, type EventCatalog } from './source-fields.ts';

/** One exported value of a definitions file. */
export interface ExportedDeclaration {
  file: string;
  /** The export's name (`default` for the default export). */
  exportName: string;
  value: unknown;
}

export interface Issue {
  file: string;
  feature?: string;
  message: string;
}

export type Validated = { ok: true; set: FeatureSet; catalog: EventCatalog } | { ok: false; issues: Issue[] };

export class FeatureValidationError extends TesseraError {
  constructor(public readonly issues: Issue[]) {
    super('invalid_features', `The feature definitions are invalid (${issues.length} problem(s)):\n${formatIssues(issues)}`, 422, { issues });
  }
}

export function formatIssues(issues: Issue[]): string {
  return issues.map((i) => `  ${i.file}: ${i.feature ? `feature '${i.feature}': ` : ''}${i.message}`).join('\n');
}

function zodMessages(error: z.ZodError): string[] {
  return error.issues.map((i) => `${i.path.length ? `${i.path.join('.')}: ` : ''}${i.message}`);
}

/** Whether a value looks like one of our declarations (other exports of a file are ignored). */
function declarationKind(value: unknown): string | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const kind = (value as { kind?: unknown }).kind;
  return kind === FEATURE_SET || kind === EVENT_CATALOG ? kind : undefined;
}

interface ParsedFeature {
  name: string;
  file: string;
  owner?: string;
  tags: string[];
  decl: AggregateFeatureDecl | DerivedFeatureDecl;
}

export interface ValidationContext {
  sources: SourcesConfig;
}

export function validateDefinitions(exported: ExportedDeclaration[], ctx: ValidationContext): Validated {
  const issues: Issue[] = [];
  const parsed: ParsedFeature[] = [];
  const catalogs: { file: string; catalog: EventCatalogDecl }[] = [];

  for (const { file, exportName, value } of exported) {
    const kind = declarationKind(value);
    if (kind === EVENT_CATALOG) {
      const r = eventCatalogSchema.safeParse(value);
      if (r.success) catalogs.push({ file, catalog: r.data });
      else for (const m of zodMessages(r.error)) issues.push({ file, message: `event catalogue (export ${exportName}): ${m}` });
    } else if (kind === FEATURE_SET) {
      const set = featureSetSchema.safeParse(value);
      if (!set.success) {
        for (const m of zodMessages(set.error)) issues.push({ file, message: `feature set (export ${exportName}): ${m}` });
        continue;
      }
      for (const [name, raw] of Object.entries(set.data.features)) {
        const schema = raw !== null && typeof raw === 'object' && 'derive' in raw ? derivedFeatureSchema : aggregateFeatureSchema;
        const r = schema.safeParse(raw);
        if (!r.success) {
          for (const m of zodMessages(r.error)) issues.push({ file, feature: name, message: m });
          continue;
        }
        parsed.push({ name, file, owner: r.data.owner ?? set.data.owner, tags: [...set.data.tags, ...(r.data.tags ?? [])], decl: r.data });
      }
    }
  }
  const { catalog, conflicts } = mergeCatalogs(catalogs);
  issues.push(...conflicts);

  const byName = new Map<string, ParsedFeature>();
  for (const f of parsed) {
    const prior = byName.get(f.name);
    if (prior) issues.push({ file: f.file, feature: f.name, message: `the name is already declared in ${prior.file}` });
    else byName.set(f.name, f);
    if (!FEATURE_NAME.test(f.name)) issues.push({ file: f.file, feature: f.name, message: 'names are lower-case letters, digits and _ (starting with a letter, at most 63), e.g. orders_30d' });
    if (RESERVED_NAMES.has(f.name)) issues.push({ file: f.file, feature: f.name, message: `'${f.name}' is a column of every profile; pick another name` });
    if (!f.owner) issues.push({ file: f.file, feature: f.name, message: 'no owner: set owner on the feature or on its feature set' });
  }

  const features = new Map<string, Feature>();
  for (const f of byName.values()) {
    if ('derive' in f.decl) continue;
    const result = resolveAggregate(f, f.decl, catalog, ctx.sources);
    if (typeof result === 'object' && 'kind' in result) features.set(f.name, result);
    else result.forEach((message) => issues.push({ file: f.file, feature: f.name, message }));
  }
  const derived = [...byName.values()].filter((f) => 'derive' in f.decl);
  const order = orderDerived(derived, byName, issues);
  for (const f of order) {
    const result = resolveDerived(f, f.decl as DerivedFeatureDecl, features, byName);
    if ('kind' in result) features.set(f.name, result);
    else result.forEach((message) => issues.push({ file: f.file, feature: f.name, message }));
  }
  return issues.length ? { ok: false, issues } : { ok: true, set: { features: [...features.values()] }, catalog };
}

function sourceRef(decl: SourceDecl, sources: SourcesConfig): SourceRef | string {
  switch (decl.kind) {
    case 'events':
      return { kind: 'events', types: decl.types, names: decl.names };
    case 'cdc': {
      const source = sources.cdc[decl.source];
      if (!source) return `CDC source '${decl.source}' is not declared in the sources config (declared: ${Object.keys(sources.cdc).join(', ') || 'none'})`;
      const config = source.tables[decl.table];
      if (!config) return `CDC source '${decl.source}' has no table '${decl.table}' (declared: ${Object.keys(source.tables).join(', ') || 'none'})`;
      if (Object.keys(config.identifiers).length === 0) return `CDC table ${decl.source} ${decl.table} declares no identifier columns, so its rows cannot be joined to profiles`;
      return { kind: 'cdc', source: decl.source, table: decl.table, config };
    }
    case 'crm': {
      const mapping = sources.crm[decl.source];
      if (!mapping) return `CRM source '${decl.source}' is not declared in the sources config (declared: ${Object.keys(sources.crm).join(', ') || 'none'})`;
      if (Object.keys(mapping.identifiers).length === 0) return `CRM source ${decl.source} declares no identifier columns, so its records cannot be joined to profiles`;
      return { kind: 'crm', source: decl.source, mapping };
    }
  }
}

function common(f: ParsedFeature) {
  return { name: f.name, file: f.file, description: f.decl.description, owner: f.owner ?? '', tags: f.tags, type: f.decl.type, default: f.decl.default ?? null };
}

function checkResult(f: ParsedFeature, what: string, type: ExprType): string[] {
  const errors: string[] = [];
  if (!assignable(type, f.decl.type)) errors.push(`type mismatch: ${what} gives ${type} but the feature is declared ${f.decl.type}`);
  if (f.decl.default !== undefined && !defaultFits(f.decl.default, f.decl.type)) {
    errors.push(`type mismatch: default ${JSON.stringify(f.decl.default)} is not of type ${f.decl.type}`);
  }
  return errors;
}

function resolveAggregate(f: ParsedFeature, decl: AggregateFeatureDecl, catalog: EventCatalog, sources: SourcesConfig): AggregateFeature | string[] {
  const source = sourceRef(decl.from, sources);
  if (typeof source === 'string') return [source];
  const errors: string[] = source.kind === 'events' ? checkEventNames(source, catalog) : [];
  const scope = (where: string) => ({ where, field: (path: string) => resolveField(source, path, catalog) });

  let where: TypedExpr | undefined;
  if (decl.where) {
    const typed = typeExpr(decl.where, scope('where'));
    if (!typed.ok) errors.push(...typed.errors);
    else if (!assignable(typed.value.type, 'bool')) errors.push(`where: must be a condition (bool), ${renderExpr(decl.where)} is ${typed.value.type}`);
    else where = typed.value;
  }
  let of: TypedExpr | undefined;
  const what = `${decl.aggregate.fn}(${'of' in decl.aggregate ? renderExpr(decl.aggregate.of) : ''})`;
  if ('of' in decl.aggregate) {
    const typed = typeExpr(decl.aggregate.of, scope(what));
    if (!typed.ok) errors.push(...typed.errors);
    else of = typed.value;
  }
  if (errors.length === 0) {
    const result = aggregationType(decl.aggregate.fn, of?.type);
    if (!result.ok) errors.push(...result.errors.map((e) => `${what}: ${e}`));
    else errors.push(...checkResult(f, what, result.value));
  }
  let window: AggregateFeature['window'];
  if (decl.window) {
    if (!timeField(source)) {
      errors.push(`window '${decl.window}' needs a source with timestamps; ${describeSource(source)} has no timestamp column (declare "timestamp" for the table in the sources config)`);
    } else window = { text: decl.window, ms: windowMs(decl.window)! };
  }
  if (errors.length) return errors;
  return { kind: 'aggregate', ...common(f), source, aggregation: { fn: decl.aggregate.fn, of }, where, window };
}

/**
 * Derived features in an order where each comes after the derived features it reads; missing
 * references and cycles are reported (the cycle is spelled out).
 */
function orderDerived(derived: ParsedFeature[], byName: Map<string, ParsedFeature>, issues: Issue[]): ParsedFeature[] {
  const refs = (f: ParsedFeature) => featureRefs((f.decl as DerivedFeatureDecl).derive);
  const order: ParsedFeature[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const reportedCycles = new Set<string>();
  const visit = (f: ParsedFeature, path: string[]): void => {
    const s = state.get(f.name);
    if (s === 'done') return;
    if (s === 'visiting') {
      const cycle = [...path.slice(path.indexOf(f.name)), f.name];
      const key = [...cycle].sort().join(',');
      if (!reportedCycles.has(key)) {
        reportedCycles.add(key);
        issues.push({ file: f.file, feature: f.name, message: `cycle between derived features: ${cycle.join(' → ')}` });
      }
      return;
    }
    state.set(f.name, 'visiting');
    for (const name of refs(f)) {
      const target = byName.get(name);
      if (target && 'derive' in target.decl) visit(target, [...path, f.name]);
    }
    state.set(f.name, 'done');
    order.push(f);
  };
  for (const f of derived) visit(f, []);
  return order;
}

function featureRefs(e: DerivedFeatureDecl['derive']): string[] {
  if (e.kind === 'feature') return [e.name];
  if (e.kind === 'call') return [...new Set(e.args.flatMap(featureRefs))];
  return [];
}

function resolveDerived(f: ParsedFeature, decl: DerivedFeatureDecl, resolved: Map<string, Feature>, byName: Map<string, ParsedFeature>): DerivedFeature | string[] {
  const typed = typeExpr(decl.derive, {
    where: 'derive',
    feature: (name) => {
      const target = resolved.get(name);
      if (target) return { type: target.type };
      const declared = byName.get(name);
      if (!declared) return `feature '${name}' is not declared`;
      return `feature '${name}' cannot be used until its own problems are fixed`;
    },
  });
  if (!typed.ok) return typed.errors;
  const errors = checkResult(f, `derive ${renderExpr(decl.derive)}`, typed.value.type);
  if (errors.length) return errors;
  return { kind: 'derived', ...common(f), derive: typed.value, dependsOn: featureRefs(decl.derive) };
}

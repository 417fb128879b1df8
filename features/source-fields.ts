/**
 * The fields of each kind of source, their types and their time column. Event properties come from
 * the declared event catalogue (not from the data seen so far: validation must not depend on what
 * happens to be stored, and the catalogue gives the types); CDC columns and CRM traits come from
 * the sources config. Pure.
 */
import type { EventCatalogDecl, EventType, ValueType } from './declarations.ts';
import type { FieldRef, SourceRef } from './feature-model.ts';

/** The merged event catalogue of all definitions files. */
export interface EventCatalog {
  track: Record<string, Record<string, ValueType>>;
  page: { names: string[]; properties: Record<string, ValueType> };
  screen: { names: string[]; properties: Record<string, ValueType> };
  identify: Record<string, ValueType>;
  context: Record<string, ValueType>;
}

export const EMPTY_CATALOG: EventCatalog = { track: {}, page: { names: [], properties: {} }, screen: { names: [], properties: {} }, identify: {}, context: {} };

/** Columns of every event, readable by name. */
export const EVENT_COLUMNS: Readonly<Record<string, ValueType>> = {
  timestamp: 'timestamp',
  received_at: 'timestamp',
  type: 'string',
  event: 'string',
  name: 'string',
  user_id: 'string',
  anonymous_id: 'string',
  message_id: 'string',
  source: 'string',
};

/** Bookkeeping columns of every CDC current-state view. */
export const CDC_COLUMNS: Readonly<Record<string, ValueType>> = { _changed_at: 'timestamp' };
/** Columns of every CRM record besides its traits. */
export const CRM_COLUMNS: Readonly<Record<string, ValueType>> = { record_id: 'string', updated_at: 'timestamp' };

/**
 * Merges the catalogues of several files; a path declared twice with different types is a
 * conflict (returned as messages).
 */
export function mergeCatalogs(catalogs: { file: string; catalog: EventCatalogDecl }[]): { catalog: EventCatalog; conflicts: { file: string; message: string }[] } {
  const merged: EventCatalog = structuredClone(EMPTY_CATALOG);
  const conflicts: { file: string; message: string }[] = [];
  const into = (target: Record<string, ValueType>, source: Record<string, ValueType>, where: string, file: string) => {
    for (const [path, type] of Object.entries(source)) {
      const prior = target[path];
      if (prior && prior !== type) conflicts.push({ file, message: `${where} '${path}' is declared ${type} here and ${prior} in another file` });
      else target[path] = type;
    }
  };
  for (const { file, catalog } of catalogs) {
    for (const [event, props] of Object.entries(catalog.track)) into((merged.track[event] ??= {}), props, `property of '${event}'`, file);
    for (const kind of ['page', 'screen'] as const) {
      const decl = catalog[kind];
      if (!decl) continue;
      merged[kind].names.push(...decl.names.filter((n) => !merged[kind].names.includes(n)));
      into(merged[kind].properties, decl.properties, `${kind} property`, file);
    }
    into(merged.identify, catalog.identify, 'identify trait', file);
    into(merged.context, catalog.context, 'context field', file);
  }
  return { catalog: merged, conflicts };
}

const list = (names: string[]) => (names.length ? names.sort().join(', ') : 'none');

/** The event types a source selects. */
export function selectedTypes(source: Extract<SourceRef, { kind: 'events' }>): EventType[] {
  return source.types ?? ['track', 'page', 'screen', 'identify', 'group', 'alias'];
}

/** Problems with the event names a source selects (each must be in the catalogue). */
export function checkEventNames(source: Extract<SourceRef, { kind: 'events' }>, catalog: EventCatalog): string[] {
  if (!source.names) return [];
  const types = selectedTypes(source);
  const known = new Set<string>();
  if (types.includes('track')) Object.keys(catalog.track).forEach((n) => known.add(n));
  if (types.includes('page')) catalog.page.names.forEach((n) => known.add(n));
  if (types.includes('screen')) catalog.screen.names.forEach((n) => known.add(n));
  return source.names
    .filter((n) => !known.has(n))
    .map((n) => `event '${n}' (${types.join('/')}) is not declared in the event catalogue (declared: ${list([...known])}); declare it with defineEvents(...)`);
}

/** The property types a path under `properties.` may have for the events a source selects. */
function propertyDeclarations(source: Extract<SourceRef, { kind: 'events' }>, catalog: EventCatalog): { label: string; props: Record<string, ValueType> }[] {
  const types = selectedTypes(source);
  const out: { label: string; props: Record<string, ValueType> }[] = [];
  if (types.includes('track')) {
    const names = source.names?.filter((n) => catalog.track[n]) ?? Object.keys(catalog.track);
    for (const n of names) out.push({ label: `'${n}'`, props: catalog.track[n]! });
  }
  if (types.includes('page')) out.push({ label: 'page calls', props: catalog.page.properties });
  if (types.includes('screen')) out.push({ label: 'screen calls', props: catalog.screen.properties });
  return out;
}

/** A path inside the JSON column `column` (`properties`, `traits`, `context`), typed by the declarations. */
function jsonPath(column: string, path: string, decls: { label: string; props: Record<string, ValueType> }[], what: string): FieldRef | string {
  const key = path.slice(column.length + 1);
  const found = decls.filter((d) => d.props[key] !== undefined);
  if (found.length === 0) {
    const declared = [...new Set(decls.flatMap((d) => Object.keys(d.props)))];
    return `unknown ${what} '${path}' on ${decls.map((d) => d.label).join(', ') || 'the selected events'} (declared: ${list(declared)}); declare it in the event catalogue`;
  }
  const types = [...new Set(found.map((d) => d.props[key]!))];
  if (types.length > 1) return `'${path}' has different types on the selected events (${found.map((d) => `${d.label}: ${d.props[key]}`).join(', ')})`;
  return jsonField(column, key, types[0]!);
}

function jsonField(column: string, key: string, type: ValueType): FieldRef {
  return { column, jsonKeys: key.split('.'), type };
}

/** Resolves a field path on a source, or says precisely why it does not exist. */
export function resolveField(source: SourceRef, path: string, catalog: EventCatalog): FieldRef | string {
  switch (source.kind) {
    case 'events': {
      const column = EVENT_COLUMNS[path];
      if (column) return { column: path, type: column };
      const types = selectedTypes(source);
      for (const [column, what, decls, usable] of [
        ['properties', 'event property path', propertyDeclarations(source, catalog), types.some((t) => t === 'track' || t === 'page' || t === 'screen')],
        ['traits', 'identify trait', [{ label: 'identify calls', props: catalog.identify }], types.includes('identify')],
        ['context', 'context field', [{ label: 'any call', props: catalog.context }], true],
      ] as const) {
        if (!path.startsWith(`${column}.`)) continue;
        if (!usable) return `'${path}' is not on ${types.join('/')} calls`;
        return jsonPath(column, path, [...decls], what);
      }
      return `unknown event field '${path}': use properties.<path>, traits.<path>, context.<path> or a column (${Object.keys(EVENT_COLUMNS).join(', ')})`;
    }
    case 'cdc': {
      const type = source.config.columns[path] ?? CDC_COLUMNS[path];
      if (type) return { column: path, type };
      return `CDC table ${source.source} ${source.table} has no column '${path}' (declared: ${list(Object.keys(source.config.columns))})`;
    }
    case 'crm': {
      const column = CRM_COLUMNS[path];
      if (column) return { column: path, type: column };
      const trait = source.mapping.traits[path];
      if (trait) return jsonField('traits', path, trait);
      return `CRM source ${source.source} has no trait '${path}' (declared: ${list(Object.keys(source.mapping.traits))})`;
    }
  }
}

/**
 * The field that dates a source's rows, used by windows, first/last and as-of filters; undefined
 * when the source has none (a CDC table without a declared timestamp column).
 */
export function timeField(source: SourceRef): FieldRef | undefined {
  switch (source.kind) {
    case 'events':
      return { column: 'timestamp', type: 'timestamp' };
    case 'cdc': {
      const column = source.config.timestamp;
      return column ? { column, type: source.config.columns[column]! } : undefined;
    }
    case 'crm':
      return { column: 'updated_at', type: 'timestamp' };
  }
}

/** The field that orders rows for first / last / latest: the time field, else the row's last change. */
export function orderField(source: SourceRef): FieldRef {
  return timeField(source) ?? { column: '_changed_at', type: 'timestamp' };
}

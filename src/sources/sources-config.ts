/**
 * The sources configuration: the CDC tables (from production databases) and the CRM sources that
 * Tessera ingests besides events. One zod schema; the TypeScript types are inferred from it.
 *
 * ```json
 * {
 *   "cdc": {
 *     "shop": {
 *       "connection": "postgres://reader@db.internal/shop",
 *       "tables": {
 *         "public.customers": {
 *           "role": "entity",
 *           "primaryKey": ["id"],
 *           "columns": { "id": "string", "email": "string", "subscribed": "bool", "updated_at": "timestamp" },
 *           "identifiers": { "id": "user_id", "email": "email" },
 *           "timestamp": "updated_at"
 *         }
 *       }
 *     }
 *   },
 *   "crm": {
 *     "hubspot": {
 *       "idColumn": "id", "updatedAtColumn": "updated_at",
 *       "identifiers": { "email": "email" },
 *       "traits": { "lifecycle_stage": "string", "score": "float" }
 *     }
 *   }
 * }
 * ```
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { TesseraError, errorMessage } from '../common/errors.ts';
import { formatZodIssues } from '../common/zod-issues.ts';
import { TYPE_NAME_PATTERN } from '../../identity/identity-config.ts';

/** The value types a source column can be declared with (see `column-types.ts` for ClickHouse). */
export const COLUMN_TYPES = ['string', 'int', 'float', 'bool', 'timestamp', 'date', 'json'] as const;
export type ColumnType = (typeof COLUMN_TYPES)[number];

const SOURCE_NAME = /^[a-z][a-z0-9_]{0,47}$/;
const COLUMN_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
/** `schema.table` (PostgreSQL) or `database.table` (MySQL). */
const TABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}\.[A-Za-z_][A-Za-z0-9_]{0,62}$/;

const columnName = z.string().regex(COLUMN_NAME, 'must be a column name (letters, digits, _)');
const identifierType = z.string().regex(TYPE_NAME_PATTERN, 'must be an identifier type name (e.g. email, user_id)');
const columnType = z.enum(COLUMN_TYPES);
/** column → identifier type, e.g. `{ "email": "email", "id": "user_id" }`. */
const identifierColumns = z.record(columnName, identifierType);

export const cdcTableSchema = z
  .object({
    /** `entity`: one row per thing (customers); `fact`: one row per happening (orders). */
    role: z.enum(['entity', 'fact']),
    primaryKey: z.array(columnName).min(1),
    /** The columns kept in the current-state table, with their types. */
    columns: z.record(columnName, columnType),
    identifiers: identifierColumns.default({}),
    /** The column that dates a row (a fact's time, an entity's last change); used by feature windows. */
    timestamp: columnName.optional(),
  })
  .strict()
  .superRefine((t, ctx) => {
    const declared = (column: string, path: (string | number)[], what: string) => {
      if (!(column in t.columns)) ctx.addIssue({ code: 'custom', path, message: `${what} '${column}' is not in columns` });
    };
    t.primaryKey.forEach((c, i) => declared(c, ['primaryKey', i], 'primary key column'));
    for (const c of Object.keys(t.identifiers)) declared(c, ['identifiers', c], 'identifier column');
    if (t.timestamp) {
      declared(t.timestamp, ['timestamp'], 'timestamp column');
      const type = t.columns[t.timestamp];
      if (type && type !== 'timestamp' && type !== 'date') {
        ctx.addIssue({ code: 'custom', path: ['timestamp'], message: `timestamp column '${t.timestamp}' is ${type}; it must be timestamp or date` });
      }
    }
    for (const c of t.primaryKey) {
      if (t.columns[c] === 'json') ctx.addIssue({ code: 'custom', path: ['primaryKey'], message: `primary key column '${c}' cannot be json` });
    }
  });

export const cdcSourceSchema = z
  .object({
    /** PostgreSQL URL of the source database, for the pull connector (`tessera cdc pull`). */
    connection: z.string().url().optional(),
    /** Replication slot of the pull connector; default `tessera_<source>`. */
    slot: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/).optional(),
    /** Publication of the pull connector; default `tessera_<source>`. */
    publication: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/).optional(),
    tables: z.record(z.string().regex(TABLE_NAME, 'must be schema.table'), cdcTableSchema),
  })
  .strict();

/** How CRM records (JSON objects, CSV rows) map to a record id, identifiers and traits. */
export const crmMappingSchema = z
  .object({
    idColumn: columnName.default('id'),
    updatedAtColumn: columnName.default('updated_at'),
    identifiers: identifierColumns,
    /** Trait columns with their types; a list means all strings. */
    traits: z
      .union([z.array(columnName).transform((cols) => Object.fromEntries(cols.map((c) => [c, 'string' as ColumnType]))), z.record(columnName, columnType)])
      .default({}),
  })
  .strict();

export const sourcesConfigSchema = z
  .object({
    cdc: z.record(z.string().regex(SOURCE_NAME, 'source names are lower-case letters, digits and _'), cdcSourceSchema).default({}),
    crm: z.record(z.string().regex(SOURCE_NAME, 'source names are lower-case letters, digits and _'), crmMappingSchema).default({}),
  })
  .strict();

export type CdcTableConfig = z.infer<typeof cdcTableSchema>;
export type CdcSourceConfig = z.infer<typeof cdcSourceSchema>;
export type CrmMapping = z.infer<typeof crmMappingSchema>;
export type SourcesConfig = z.infer<typeof sourcesConfigSchema>;

export class SourcesConfigError extends TesseraError {
  constructor(message: string) {
    super('invalid_sources_config', message, 400);
  }
}


/** Validates a plain object (JSON) against `schema`; errors name `file` and each bad path. */
export function parseWithSchema<S extends z.ZodTypeAny>(schema: S, input: unknown, file: string): z.infer<S> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) throw new SourcesConfigError(`${file}: ${formatZodIssues(parsed.error, '(root)')}`);
  return parsed.data;
}

/** Reads and validates a JSON file against `schema`; errors name the file. */
export function readJsonFile<S extends z.ZodTypeAny>(schema: S, file: string): z.infer<S> {
  let input: unknown;
  try {
    input = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new SourcesConfigError(`${file}: cannot read it as JSON: ${errorMessage(err)}`);
  }
  return parseWithSchema(schema, input, file);
}

export const EMPTY_SOURCES: SourcesConfig = { cdc: {}, crm: {} };

/** The sources config from `file` (TESSERA_SOURCES_CONFIG), or no sources without one. */
export function loadSourcesConfig(file?: string): SourcesConfig {
  return file ? readJsonFile(sourcesConfigSchema, file) : EMPTY_SOURCES;
}

/** The CDC source `name`, or a 404-style error listing the declared ones. */
export function cdcSource(config: SourcesConfig, name: string): CdcSourceConfig {
  const source = config.cdc[name];
  if (!source) {
    const known = Object.keys(config.cdc);
    throw new TesseraError('unknown_source', `No CDC source '${name}' is declared${known.length ? ` (declared: ${known.join(', ')})` : ' (set TESSERA_SOURCES_CONFIG)'}`, 404);
  }
  return source;
}

/** The CRM source `name`, or a 404-style error listing the declared ones. */
export function crmSource(config: SourcesConfig, name: string): CrmMapping {
  const source = config.crm[name];
  if (!source) {
    const known = Object.keys(config.crm);
    throw new TesseraError('unknown_source', `No CRM source '${name}' is declared${known.length ? ` (declared: ${known.join(', ')})` : ' (set TESSERA_SOURCES_CONFIG)'}`, 404);
  }
  return source;
}

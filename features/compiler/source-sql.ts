/**
 * How each kind of source reads in SQL: which table holds its current rows, which identifier
 * expressions join a row to a profile (in priority order), its time, how a field is extracted, and
 * where rows ingested since a checkpoint are found. Pure.
 */
import type { Normaliser } from '../../identity/identity-config.ts';
import { cdcTableNames } from '../../src/cdc/cdc-tables.ts';
import type { FieldRef, SourceRef } from '../feature-model.ts';
import { orderField, selectedTypes, timeField } from '../source-fields.ts';
import { CLICKHOUSE_TYPE, ident, str } from './sql.ts';

export interface CompileContext {
  /** The qualified name of a table of the configured database. */
  table(name: string): string;
  /** Priority and normaliser of an identifier type; undefined for types identity does not know. */
  identifierRule(type: string): { priority: number; normalise: Normaliser } | undefined;
  /** The identity map to join through: (id_type, id_value, profile_id), one row per identifier. */
  identityMap: string;
  /** Columns of `events` that hold JSON fields (materialized-sql.ts), read instead of parsing the JSON. */
  materialized?: ReadonlySet<string>;
}

export interface IdentifierKey {
  type: string;
  /** The raw value in a row (a String; '' when missing). */
  expr: string;
  /** The column it is read from. */
  column: string;
}

export interface SourceSql {
  /** A table or parenthesised subquery with the rows as of `asOf` (current rows, for most sources). */
  from: (asOf: string) => string;
  /** Identifier expressions in priority order: a row belongs to the profile of the first that is mapped. */
  keys: IdentifierKey[];
  /**
   * The table `from` reads with FINAL, when it is one: a query can then filter it with PREWHERE
   * (read the identifier columns of every row, the rest only where they match).
   */
  finalTable?: string;
  /** The row's time as DateTime64(3, 'UTC'), when the source has one. */
  time?: string;
  /** The time that orders rows for first / last / latest. */
  order: string;
  /** Rows (all versions and tombstones included) with their ingestion time, for incremental runs. */
  changes: { from: string; ingestedAt: string; keys: IdentifierKey[] };
  /**
   * Set when rows never change once written (events): a row is a message, and copies of a
   * message share `rowKey` (the first copy ingested is the one that counts). An incremental run
   * folds such a source's new rows into the stored feature states.
   */
  appendOnly?: { table: string; rowKey: string };
  /**
   * For training sets: every version of every row, so that the row as of a time is its latest
   * version by then (absent when that version is a deletion). Its keys read the identifiers every
   * version carries (a deletion carries those of the row's last live version).
   */
  history?: {
    from: string;
    keys: IdentifierKey[];
    /** Names a row across versions. */
    rowKey: string;
    /** When a version became current. */
    versionTime: string;
    /** Orders versions of a row. */
    versionOrder: string;
    /** True on a version that deletes the row. */
    deleted?: string;
  };
}

/** SQL reading a field of the current row. Values missing from JSON are NULL. */
export function fieldSql(f: FieldRef): string {
  if (!f.jsonKeys) return ident(f.column);
  const path = [ident(f.column), ...f.jsonKeys.map(str)].join(', ');
  switch (f.type) {
    case 'json':
      return `nullIf(JSONExtractRaw(${path}), '')`;
    case 'timestamp': {
      // ISO-8601 text (event properties), or an epoch number (CRM traits: ms; CDC rows: the
      // connector's unit, guessed from the magnitude as src/sources/column-types.ts does).
      const n = `JSONExtractFloat(${path})`;
      const ms = `multiIf(abs(${n}) < 1e11, ${n} * 1000, abs(${n}) < 1e14, ${n}, abs(${n}) < 1e17, ${n} / 1000, ${n} / 1000000)`;
      return `multiIf(JSONType(${path}) = 'String', parseDateTime64BestEffortOrNull(JSONExtractString(${path}), 3, 'UTC'), JSONType(${path}) IN ('Int64', 'UInt64', 'Double'), fromUnixTimestamp64Milli(toInt64(${ms}), 'UTC'), NULL)`;
    }
    case 'date':
      // Text, or days since the epoch (Debezium's io.debezium.time.Date).
      return `if(JSONType(${path}) = 'String', toDate32OrNull(JSONExtractString(${path})), toDate32(JSONExtractInt(${path})))`;
    default:
      return `JSONExtract(${path}, ${str(`Nullable(${CLICKHOUSE_TYPE[f.type]})`)})`;
  }
}

/** A time field as DateTime64(3, 'UTC'). */
export function timeSql(f: FieldRef): string {
  const sql = fieldSql(f);
  return f.type === 'date' ? `toDateTime64(${sql}, 3, 'UTC')` : sql;
}

/** The identifier value as identity stores it (see identity/normalise.ts), from its raw text. */
export function normaliseSql(type: string, raw: string, ctx: CompileContext): string {
  switch (ctx.identifierRule(type)?.normalise ?? 'trim') {
    case 'email':
    case 'lower':
      return `lower(trimBoth(${raw}))`;
    case 'phone':
      // E.164 spelled with separators (`+1 415 555 0100`); national numbers need libphonenumber and do not join here.
      return `if(startsWith(trimBoth(${raw}), '+'), concat('+', replaceRegexpAll(${raw}, '[^0-9]', '')), '')`;
    case 'trim':
      return `trimBoth(${raw})`;
  }
}

/** The condition selecting an events source's rows (call types, event names), if any. */
export function selectionSql(source: SourceRef): string | undefined {
  if (source.kind !== 'events') return undefined;
  const types = selectedTypes(source);
  const all = types.length === 6;
  if (!source.names) return all ? undefined : `type IN (${types.map(str).join(', ')})`;
  const names = source.names.map(str).join(', ');
  const parts: string[] = [];
  if (types.includes('track')) parts.push(`(type = 'track' AND event IN (${names}))`);
  const named = types.filter((t) => t === 'page' || t === 'screen');
  if (named.length) parts.push(`(type IN (${named.map(str).join(', ')}) AND name IN (${names}))`);
  const others = types.filter((t) => t !== 'track' && t !== 'page' && t !== 'screen');
  if (others.length) parts.push(`type IN (${others.map(str).join(', ')})`);
  return parts.length === 1 ? parts[0] : `(${parts.join(' OR ')})`;
}

function byPriority(keys: IdentifierKey[], ctx: CompileContext): IdentifierKey[] {
  const rank = (t: string) => ctx.identifierRule(t)?.priority ?? 1000;
  return [...keys].sort((a, b) => rank(a.type) - rank(b.type) || a.type.localeCompare(b.type));
}

/** Keys read from an `identifiers` column holding `[[type, raw value], ...]` (CRM records, the CDC changelog). */
function listedKeys(types: string[], ctx: CompileContext): IdentifierKey[] {
  return byPriority(
    [...new Set(types)].map((type) => ({ type, expr: `arrayFirst(x -> x.1 = ${str(type)}, JSONExtract(identifiers, 'Array(Tuple(String, String))')).2`, column: 'identifiers' })),
    ctx,
  );
}

/**
 * Every change of a CDC table with its declared columns read from the changed row's JSON. A
 * deletion carries no row: it takes the identifiers of the row's last live version.
 */
function cdcHistorySql(source: Extract<SourceRef, { kind: 'cdc' }>, ctx: CompileContext): string {
  const changes = ctx.table('cdc_changes');
  const where = (alias: string) => `${alias}source = ${str(source.source)} AND ${alias}table_name = ${str(source.table)}`;
  const columns = Object.entries(source.config.columns).map(([column, type]) => `${fieldSql({ column: 'row', jsonKeys: [column], type })} AS ${ident(column)}`);
  return `(SELECT c.key AS _key, c.position AS _position, c.op AS _op, c.changed_at AS _changed_at, ${columns.join(', ')},
      if(c.op = 'd', ifNull(k.ids, '[]'), c.identifiers) AS identifiers
    FROM ${changes} AS c
    LEFT JOIN (SELECT key, argMaxIf(identifiers, position, op != 'd') AS ids FROM ${changes} WHERE ${where('')} GROUP BY key) AS k ON k.key = c.key
    WHERE ${where('c.')} AND c.op != 't')`;
}

export function sourceSql(source: SourceRef, ctx: CompileContext): SourceSql {
  const time = timeField(source);
  const timeExpr = time ? timeSql(time) : undefined;
  const order = timeSql(orderField(source));
  switch (source.kind) {
    case 'events': {
      const keys = byPriority(
        [
          { type: 'user_id', expr: 'user_id', column: 'user_id' },
          { type: 'anonymous_id', expr: 'anonymous_id', column: 'anonymous_id' },
        ],
        ctx,
      );
      return {
        // The table itself, not the events_unique view: a view's `*` leaves out materialized columns.
        from: () => `${ctx.table('events')} FINAL`,
        keys,
        finalTable: ctx.table('events'),
        time: timeExpr,
        order,
        // Not FINAL: a duplicate only touches its profile again.
        changes: { from: ctx.table('events'), ingestedAt: 'ingested_at', keys },
        appendOnly: { table: ctx.table('events'), rowKey: 'message_id' },
      };
    }
    case 'cdc': {
      const names = cdcTableNames(source.source, source.table);
      const keys = byPriority(
        Object.entries(source.config.identifiers).map(([column, type]) => ({ type, expr: `ifNull(toString(${ident(column)}), '')`, column })),
        ctx,
      );
      return {
        from: () => ctx.table(names.current),
        keys,
        time: timeExpr,
        order,
        // The state table holds tombstones too: a deleted row touches its profile.
        changes: { from: ctx.table(names.state), ingestedAt: '_ingested_at', keys },
        history: {
          from: cdcHistorySql(source, ctx),
          keys: listedKeys(Object.values(source.config.identifiers), ctx),
          rowKey: '_key',
          versionTime: '_changed_at',
          versionOrder: '_position',
          deleted: "_op = 'd'",
        },
      };
    }
    case 'crm': {
      const keys = listedKeys(Object.values(source.mapping.identifiers), ctx);
      const of = (table: string) => `(SELECT * FROM ${ctx.table(table)} WHERE source = ${str(source.source)})`;
      return {
        // Each record as it was then: its latest version by `asOf` (a version from later does not hide an earlier one).
        from: (asOf) =>
          `(SELECT * FROM ${ctx.table('crm_records')} WHERE source = ${str(source.source)} AND updated_at <= ${asOf} ORDER BY record_id, updated_at DESC LIMIT 1 BY record_id)`,
        keys,
        time: timeExpr,
        order,
        changes: { from: of('crm_records'), ingestedAt: 'ingested_at', keys },
        history: { from: of('crm_records'), keys, rowKey: 'record_id', versionTime: 'updated_at', versionOrder: 'updated_at' },
      };
    }
  }
}

/**
 * Turns CRM records (JSON objects from the API, CSV rows keyed by header) into `crm_records` rows
 * through a source's mapping: the record id, its updated_at, the identifiers (for identity
 * resolution) and the trait columns coerced to their declared types. A record that cannot be
 * stored becomes a rejection with a reason that names the column and the value. Pure: no I/O.
 */
import { coerceValue, toEpochMs } from '../sources/column-types.ts';
import type { CrmMapping } from '../sources/sources-config.ts';

/** One row of the ClickHouse `crm_records` table; `updated_at` in epoch milliseconds. */
export interface CrmRecordRow {
  source: string;
  record_id: string;
  updated_at: number;
  /** JSON object: trait column → coerced value (null when absent or empty). */
  traits: string;
  /** JSON `[[type, raw value], ...]` of the non-empty identifier columns. */
  identifiers: string;
  /** The record as received. */
  record: string;
}

export type CrmRejectionCode = 'invalid_record' | 'missing_id' | 'invalid_id' | 'missing_updated_at' | 'invalid_updated_at' | 'invalid_value';

export interface CrmRejection {
  /** Position of the record in its batch. */
  index: number;
  code: CrmRejectionCode;
  message: string;
  /** The record as received (JSON), for the dead letter. */
  payload: string;
}

export interface PreparedCrmRecords {
  rows: CrmRecordRow[];
  rejections: CrmRejection[];
}

/** What DateTime64(3, 'UTC') holds: 1900-01-01 up to (not including) 2300-01-01. */
const MIN_MS = Date.UTC(1900, 0, 1);
const MAX_MS = Date.UTC(2300, 0, 1);

type Field<T> = { ok: true; value: T } | { ok: false; code: CrmRejectionCode; message: string };

const show = (value: unknown) => JSON.stringify(value) ?? String(value);
const isBlank = (value: unknown) => value === null || value === undefined || (typeof value === 'string' && value.trim() === '');

function recordId(column: string, value: unknown): Field<string> {
  if (isBlank(value)) return { ok: false, code: 'missing_id', message: `${column} is ${value === undefined ? 'missing' : 'empty'}` };
  if (typeof value === 'string') return { ok: true, value: value.trim() };
  if (typeof value === 'number' && Number.isFinite(value)) return { ok: true, value: String(value) };
  return { ok: false, code: 'invalid_id', message: `${column} ${show(value)} is not a string or a number` };
}

function updatedAt(column: string, value: unknown): Field<number> {
  if (isBlank(value)) return { ok: false, code: 'missing_updated_at', message: `${column} is ${value === undefined ? 'missing' : 'empty'}` };
  const ms = toEpochMs(value);
  if (ms === undefined) return { ok: false, code: 'invalid_updated_at', message: `${column} ${show(value)} is not a timestamp` };
  if (ms < MIN_MS || ms >= MAX_MS) return { ok: false, code: 'invalid_updated_at', message: `${column} ${show(value)} is not a timestamp between 1900 and 2299` };
  return { ok: true, value: ms };
}

function traits(mapping: CrmMapping, record: Record<string, unknown>): Field<string> {
  const out: Record<string, unknown> = {};
  for (const [column, type] of Object.entries(mapping.traits)) {
    const coerced = coerceValue(type, record[column]);
    if (!coerced.ok) return { ok: false, code: 'invalid_value', message: `${column} ${coerced.message}` };
    out[column] = coerced.value;
  }
  return { ok: true, value: JSON.stringify(out) };
}

function identifiers(mapping: CrmMapping, record: Record<string, unknown>): Field<string> {
  const out: [string, string][] = [];
  for (const [column, type] of Object.entries(mapping.identifiers)) {
    const value = record[column];
    if (isBlank(value)) continue;
    if (typeof value === 'string') out.push([type, value]);
    else if (typeof value === 'number' && Number.isFinite(value)) out.push([type, String(value)]);
    else return { ok: false, code: 'invalid_value', message: `${column} ${show(value)} is not a string or a number` };
  }
  return { ok: true, value: JSON.stringify(out) };
}

/** The row of one record, or why it cannot be stored. */
export function prepareCrmRecord(source: string, mapping: CrmMapping, raw: unknown): Field<CrmRecordRow> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return { ok: false, code: 'invalid_record', message: `a record must be a JSON object (got ${Array.isArray(raw) ? 'an array' : show(raw)})` };
  }
  const record = raw as Record<string, unknown>;
  const id = recordId(mapping.idColumn, record[mapping.idColumn]);
  if (!id.ok) return id;
  const at = updatedAt(mapping.updatedAtColumn, record[mapping.updatedAtColumn]);
  if (!at.ok) return at;
  const ids = identifiers(mapping, record);
  if (!ids.ok) return ids;
  const traitsJson = traits(mapping, record);
  if (!traitsJson.ok) return traitsJson;
  return {
    ok: true,
    value: { source, record_id: id.value, updated_at: at.value, traits: traitsJson.value, identifiers: ids.value, record: JSON.stringify(record) },
  };
}

/**
 * The rows of the valid records and a rejection per invalid one (by index in `records`). Every
 * version is kept: which one is current is decided by updated_at when read.
 */
export function prepareCrmRecords(source: string, mapping: CrmMapping, records: readonly unknown[]): PreparedCrmRecords {
  const rows: CrmRecordRow[] = [];
  const rejections: CrmRejection[] = [];
  records.forEach((raw, index) => {
    const prepared = prepareCrmRecord(source, mapping, raw);
    if (prepared.ok) rows.push(prepared.value);
    else rejections.push({ index, code: prepared.code, message: prepared.message, payload: show(raw) });
  });
  return { rows, rejections };
}

/**
 * Entity rows of a training set: an identifier and a time each, as CSV or JSON. Pure parsing and
 * normalisation; every bad row is reported with its position.
 *
 * - CSV: a header with `identifier` (`type:value`) or `type` and `value`, and `timestamp`; other
 *   columns are ignored. Values may be double-quoted.
 * - JSON: an array of `{ "identifier": "email:a@b.com", "timestamp": "2026-02-01T00:00:00Z" }` or
 *   `{ "type": "email", "value": "a@b.com", "timestamp": ... }` (a number is epoch milliseconds).
 */
import { z } from 'zod';
import { ValidationError } from '../src/common/errors.ts';
import { parseIdentifierKey } from '../identity/identifier.ts';
import type { ResolvedIdentityConfig } from '../identity/identity-config.ts';
import { normaliseIdentifier } from '../identity/normalise.ts';

export interface EntityRow {
  /** `type:value` as given. */
  identifier: string;
  type: string;
  /** Normalised as identity resolution does. */
  value: string;
  timestampMs: number;
}

export const MAX_ENTITY_ROWS = 1_000_000;

const jsonRow = z.union([
  z.object({ identifier: z.string(), timestamp: z.union([z.string(), z.number()]) }),
  z.object({ type: z.string(), value: z.union([z.string(), z.number()]), timestamp: z.union([z.string(), z.number()]) }),
]);

interface RawRow {
  position: string;
  identifier?: string;
  type?: string;
  value?: string;
  timestamp: string | number;
}

function parseCsvLine(line: string): string[] {
  const cells: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      cells.push(cell);
      cell = '';
    } else cell += c;
  }
  cells.push(cell);
  return cells.map((v) => v.trim());
}

function csvRows(text: string): RawRow[] {
  const lines = text.split(/\r?\n/);
  const header = parseCsvLine(lines[0] ?? '').map((h) => h.toLowerCase());
  const col = (name: string) => header.indexOf(name);
  const [id, type, value, ts] = [col('identifier'), col('type'), col('value'), col('timestamp')];
  if (ts < 0 || (id < 0 && (type < 0 || value < 0))) {
    throw new ValidationError('The CSV header needs `identifier,timestamp` or `type,value,timestamp`', { header });
  }
  const rows: RawRow[] = [];
  lines.slice(1).forEach((line, i) => {
    if (line.trim() === '') return;
    const cells = parseCsvLine(line);
    rows.push({ position: `line ${i + 2}`, identifier: id >= 0 ? cells[id] : undefined, type: type >= 0 ? cells[type] : undefined, value: value >= 0 ? cells[value] : undefined, timestamp: cells[ts] ?? '' });
  });
  return rows;
}

function jsonRows(input: unknown): RawRow[] {
  const list = Array.isArray(input) ? input : (input as { rows?: unknown } | null)?.rows;
  if (!Array.isArray(list)) throw new ValidationError('Entity rows must be a JSON array (or { "rows": [...] }) of { identifier, timestamp }');
  return list.map((raw, i) => {
    const r = jsonRow.safeParse(raw);
    if (!r.success) throw new ValidationError(`row ${i}: needs identifier (type:value) or type and value, and timestamp`, { index: i });
    return { position: `row ${i}`, ...r.data, value: 'value' in r.data ? String(r.data.value) : undefined };
  });
}

function toEntityRow(r: RawRow, identity: ResolvedIdentityConfig): EntityRow {
  let type = r.type;
  let raw = r.value;
  if (r.identifier !== undefined && r.identifier !== '') {
    try {
      ({ type, value: raw } = parseIdentifierKey(r.identifier));
    } catch {
      throw new ValidationError(`${r.position}: '${r.identifier}' is not an identifier; write it as type:value, e.g. email:alice@example.com`);
    }
  }
  if (!type || raw === undefined) throw new ValidationError(`${r.position}: the identifier is missing`);
  const normalised = normaliseIdentifier(type, raw, identity);
  if (!normalised.ok) throw new ValidationError(`${r.position}: ${type} '${raw}' is not a valid identifier (${normalised.reason})`);
  const timestampMs = typeof r.timestamp === 'number' ? r.timestamp : Date.parse(r.timestamp);
  if (!Number.isFinite(timestampMs)) throw new ValidationError(`${r.position}: timestamp '${r.timestamp}' is not a time (use ISO-8601 or epoch milliseconds)`);
  return { identifier: `${type}:${raw}`, type, value: normalised.value, timestampMs };
}

/** Parses entity rows; `format` defaults to JSON when the text starts with `[` or `{`. */
export function parseEntityRows(input: string | unknown, identity: ResolvedIdentityConfig, format?: 'csv' | 'json'): EntityRow[] {
  let raw: RawRow[];
  if (typeof input !== 'string') raw = jsonRows(input);
  else {
    const text = input.trim();
    const kind = format ?? (text.startsWith('[') || text.startsWith('{') ? 'json' : 'csv');
    if (kind === 'json') {
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch (err) {
        throw new ValidationError(`Entity rows are not valid JSON: ${(err as Error).message}`);
      }
      raw = jsonRows(parsed);
    } else raw = csvRows(text);
  }
  if (raw.length === 0) throw new ValidationError('No entity rows were given');
  if (raw.length > MAX_ENTITY_ROWS) throw new ValidationError(`At most ${MAX_ENTITY_ROWS} entity rows per training set (got ${raw.length})`);
  return raw.map((r) => toEntityRow(r, identity));
}

/** CSV text of rows (the columns given), values quoted when they need it. */
export function toCsv(columns: string[], rows: Record<string, unknown>[]): string {
  const cell = (v: unknown) => {
    if (v === null || v === undefined) return '';
    const s = String(v);
    return /[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
  };
  return [columns.join(','), ...rows.map((r) => columns.map((c) => cell(r[c])).join(','))].join('\n') + '\n';
}

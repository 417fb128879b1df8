/**
 * Declared column types of source tables: their ClickHouse types and the coercion of incoming
 * values (JSON from Debezium or the API, text from PostgreSQL replication or CSV) to what the
 * ClickHouse insert expects. Pure functions.
 */
import type { ColumnType } from './sources-config.ts';

export const CLICKHOUSE_TYPES: Readonly<Record<ColumnType, string>> = {
  string: 'String',
  int: 'Int64',
  float: 'Float64',
  bool: 'Bool',
  timestamp: "DateTime64(3, 'UTC')",
  date: 'Date32',
  json: 'String',
};

/**
 * How a number that stands for a time is scaled. Debezium sends temporal columns as numbers whose
 * unit its schema names (io.debezium.time.MicroTimestamp ...); without a schema the unit is guessed
 * from the magnitude.
 */
export type TimeUnit = 'days' | 's' | 'ms' | 'us' | 'ns';

export type Coerced = { ok: true; value: string | number | boolean | null } | { ok: false; message: string };

const DAY_MS = 86_400_000;

function guessUnit(n: number): TimeUnit {
  const abs = Math.abs(n);
  if (abs < 1e6) return 'days';
  if (abs < 1e11) return 's';
  if (abs < 1e14) return 'ms';
  if (abs < 1e17) return 'us';
  return 'ns';
}

const UNIT_MS: Record<TimeUnit, number> = { days: DAY_MS, s: 1000, ms: 1, us: 1e-3, ns: 1e-6 };

/** Epoch milliseconds of a time given as a number (with unit) or a date / timestamp string. */
export function toEpochMs(value: unknown, unit?: TimeUnit): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return Math.round(value * UNIT_MS[unit ?? guessUnit(value)]);
  if (typeof value === 'bigint') return toEpochMs(Number(value), unit);
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? undefined : value.getTime();
  if (typeof value !== 'string') return undefined;
  const s = value.trim();
  if (s === '') return undefined;
  if (/^-?\d+(\.\d+)?$/.test(s)) return toEpochMs(Number(s), unit);
  // PostgreSQL text (`2026-01-02 03:04:05.678+00`, `2026-01-02`) and ISO-8601; no zone means UTC.
  let iso = s.replace(' ', 'T');
  // A trailing `+HH` / `-HH` is a zone only after a time (`2026-01-02` ends in a day, not a zone).
  if (iso.includes('T') && /[+-]\d\d$/.test(iso)) iso += ':00';
  else if (!/([zZ]|[+-]\d\d:?\d\d)$/.test(iso) && iso.includes('T')) iso += 'Z';
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? undefined : ms;
}

const TRUE = new Set(['true', 't', '1', 'yes', 'y', 'on']);
const FALSE = new Set(['false', 'f', '0', 'no', 'n', 'off']);

function fail(type: ColumnType, value: unknown): Coerced {
  return { ok: false, message: `${JSON.stringify(value)} is not a ${type}` };
}

/**
 * Coerces one value to a declared type. `null` / `undefined` stay null; an empty string is null for
 * every type but string. Returns a message (for the dead letter) when the value cannot be that type.
 */
export function coerceValue(type: ColumnType, value: unknown, unit?: TimeUnit): Coerced {
  if (value === null || value === undefined) return { ok: true, value: null };
  if (value === '' && type !== 'string') return { ok: true, value: null };
  switch (type) {
    case 'string':
      if (typeof value === 'string') return { ok: true, value };
      if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return { ok: true, value: String(value) };
      return { ok: true, value: JSON.stringify(value) };
    case 'int': {
      const n = typeof value === 'string' ? Number(value.trim()) : typeof value === 'bigint' ? Number(value) : value;
      return typeof n === 'number' && Number.isInteger(n) ? { ok: true, value: n } : fail(type, value);
    }
    case 'float': {
      const n = typeof value === 'string' ? Number(value.trim()) : typeof value === 'bigint' ? Number(value) : value;
      return typeof n === 'number' && Number.isFinite(n) ? { ok: true, value: n } : fail(type, value);
    }
    case 'bool':
      if (typeof value === 'boolean') return { ok: true, value };
      if (typeof value === 'number') return value === 0 || value === 1 ? { ok: true, value: value === 1 } : fail(type, value);
      if (typeof value === 'string') {
        const v = value.trim().toLowerCase();
        if (TRUE.has(v)) return { ok: true, value: true };
        if (FALSE.has(v)) return { ok: true, value: false };
      }
      return fail(type, value);
    case 'timestamp': {
      const ms = toEpochMs(value, unit);
      return ms === undefined ? fail(type, value) : { ok: true, value: ms };
    }
    case 'date': {
      const ms = toEpochMs(value, unit ?? (typeof value === 'number' ? 'days' : undefined));
      return ms === undefined ? fail(type, value) : { ok: true, value: new Date(ms).toISOString().slice(0, 10) };
    }
    case 'json':
      return { ok: true, value: typeof value === 'string' ? value : JSON.stringify(value) };
  }
}

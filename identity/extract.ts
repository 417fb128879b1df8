/**
 * Extraction: turning one source row (an event, a CDC row, a CRM record) into an `IdentityRecord`,
 * the raw identifiers that occurred together in it. Co-occurrence in one record is what links
 * identifiers (the edges of the identity graph). Nothing is normalised here; `prepare-record.ts`
 * does that with the config.
 *
 * Extractors are plain functions (`RecordExtractor<T>`), so other sources plug in by writing one:
 * `extractFromEvent` reads the ClickHouse `events` row; `mappedExtractor` covers flat rows
 * (CDC rows, CRM records) with a field → identifier type mapping.
 */

/** One raw identifier as found in a record (value not normalised yet; may be a number). */
export interface RawIdentifier {
  type: string;
  value: unknown;
}

/** The identifiers that occurred together in one record. */
export interface IdentityRecord {
  /** Unique per source record (event message_id, CDC row key + LSN, CRM record id). */
  recordId: string;
  /** Where the record comes from (`events`, `cdc:public.users`, `crm:hubspot`); kept on edges. */
  source: string;
  /** Milliseconds since the epoch, UTC. Records are resolved in (timestamp, recordId) order. */
  timestamp: number;
  identifiers: RawIdentifier[];
  /**
   * Set on a record standing for a group of records with the same source and identifiers (a
   * rebuild reads them folded): how many more there were, and the last of them.
   */
  repeats?: RecordRepeats;
}

/** The further records of a folded group (see `ResolverEngine.applyRecord`). */
export interface RecordRepeats {
  count: number;
  last: { timestamp: number; recordId: string };
}

/** Turns one source row into an `IdentityRecord`. */
export type RecordExtractor<T> = (row: T) => IdentityRecord;

/** The columns of the ClickHouse `events` row (`EventRow` in src/ingest) that identity reads. */
export interface EventIdentityRow {
  message_id: string;
  type: string;
  user_id: string;
  anonymous_id: string;
  previous_id: string;
  /**
   * Epoch milliseconds (what ingestion writes), or ClickHouse DateTime64(3) text in UTC as
   * JSON formats return it: `2026-01-02 03:04:05.678` (ISO forms accepted too).
   */
  timestamp: string | number;
  /** JSON object text ('{}' when none). */
  traits: string;
  /** JSON object text ('{}' when none). */
  context: string;
}

export interface EventExtractorOptions {
  /** Edge source written for event records; default `events`. */
  source?: string;
  /** The type of an alias call's previousId; default `anonymous_id` (what Segment SDKs send). */
  previousIdType?: string;
}

/** Thrown for a row that cannot be a record (e.g. an unreadable timestamp). */
export class InvalidRecordError extends Error {
  readonly code = 'invalid_record';
  constructor(message: string) {
    super(message);
    this.name = 'InvalidRecordError';
  }
}

const ZERO = 48;

function digits(s: string, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) {
    const d = s.charCodeAt(i) - ZERO;
    if (d < 0 || d > 9) return NaN;
    n = n * 10 + d;
  }
  return n;
}

/**
 * Parses `YYYY-MM-DD HH:MM:SS[.fff]` (UTC, ClickHouse text form) without allocating; other forms
 * (ISO-8601 with `T` / zone) go through Date.parse. Returns NaN when unreadable.
 */
export function parseTimestamp(ts: string): number {
  if (ts.length >= 19 && ts.charCodeAt(10) === 32 /* ' ' */ && ts.charCodeAt(4) === 45 && ts.charCodeAt(13) === 58) {
    let ms = 0;
    if (ts.length > 19) {
      if (ts.charCodeAt(19) !== 46 /* '.' */) return Date.parse(ts.replace(' ', 'T'));
      const frac = ts.slice(20, 23).padEnd(3, '0');
      ms = digits(frac, 0, 3);
    }
    const t = Date.UTC(digits(ts, 0, 4), digits(ts, 5, 7) - 1, digits(ts, 8, 10), digits(ts, 11, 13), digits(ts, 14, 16), digits(ts, 17, 19), ms);
    return t;
  }
  const iso = /[zZ]|[+-]\d\d:?\d\d$/.test(ts) ? ts : `${ts}Z`;
  return Date.parse(iso);
}

function parseObject(json: string): Record<string, unknown> | undefined {
  if (json.length <= 2) return undefined; // '', '{}'
  try {
    const v: unknown = JSON.parse(json);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    // A malformed JSON column carries no identifiers; the ingest layer validated it already.
    return undefined;
  }
}

function asObject(v: unknown): Record<string, unknown> | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

/** Adds `value` unless it is absent (undefined / null); everything else is judged by normalisation. */
function push(out: RawIdentifier[], type: string, value: unknown): void {
  if (value !== undefined && value !== null) out.push({ type, value });
}

/**
 * An extractor for `events` rows: `userId` → user_id, `anonymousId` → anonymous_id, alias
 * `previousId` → `previousIdType`, `traits.email` / `traits.phone` and `context.traits.email` /
 * `context.traits.phone` → email / phone, `context.device.id` → device_id, and every
 * `context.externalIds[]` `{ id, type }` → `type`. Empty columns are absent.
 */
export function eventExtractor(options: EventExtractorOptions = {}): RecordExtractor<EventIdentityRow> {
  const source = options.source ?? 'events';
  const previousIdType = options.previousIdType ?? 'anonymous_id';
  return (row) => {
    const timestamp = typeof row.timestamp === 'number' ? row.timestamp : parseTimestamp(row.timestamp);
    if (!Number.isFinite(timestamp)) throw new InvalidRecordError(`event ${row.message_id}: unreadable timestamp ${JSON.stringify(row.timestamp)}`);
    const identifiers: RawIdentifier[] = [];
    if (row.user_id) identifiers.push({ type: 'user_id', value: row.user_id });
    if (row.anonymous_id) identifiers.push({ type: 'anonymous_id', value: row.anonymous_id });
    if (row.previous_id) identifiers.push({ type: previousIdType, value: row.previous_id });
    const traits = parseObject(row.traits);
    if (traits) {
      push(identifiers, 'email', traits.email);
      push(identifiers, 'phone', traits.phone);
    }
    const context = parseObject(row.context);
    if (context) {
      const ctxTraits = asObject(context.traits);
      if (ctxTraits) {
        push(identifiers, 'email', ctxTraits.email);
        push(identifiers, 'phone', ctxTraits.phone);
      }
      const device = asObject(context.device);
      if (device) push(identifiers, 'device_id', device.id);
      const external = context.externalIds;
      if (Array.isArray(external)) {
        for (const item of external) {
          const e = asObject(item);
          if (e && typeof e.type === 'string') push(identifiers, e.type, e.id);
        }
      }
    }
    return { recordId: row.message_id, source, timestamp, identifiers };
  };
}

/** The default event extractor (source `events`, previousId as anonymous_id). */
export const extractFromEvent: RecordExtractor<EventIdentityRow> = eventExtractor();

/**
 * An `events` row with traits and context already cut down (by ClickHouse) to the raw JSON of the
 * fields identity reads, `''` where a field is absent: what a rebuild streams, instead of two JSON
 * documents per event.
 */
export interface EventIdentityFields {
  message_id: string;
  /** Epoch milliseconds. */
  timestamp: number;
  user_id: string;
  anonymous_id: string;
  previous_id: string;
  /** Raw JSON of `traits.email`, `traits.phone`. */
  traitsEmail: string;
  traitsPhone: string;
  /** Raw JSON of `context.traits.email`, `context.traits.phone`, `context.device.id`, `context.externalIds`. */
  contextEmail: string;
  contextPhone: string;
  deviceId: string;
  externalIds: string;
}

const UNREADABLE = Symbol('unreadable');
/** A JSON string without escapes or control characters: its value is the text between the quotes. */
// eslint-disable-next-line no-control-regex -- control characters are what JSON forbids unescaped in a string
const PLAIN_JSON_STRING = /^"[^"\\\u0000-\u001f]*"$/;

function rawJson(raw: string): unknown {
  if (raw === '') return undefined;
  if (PLAIN_JSON_STRING.test(raw)) return raw.slice(1, -1);
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    return UNREADABLE;
  }
}

/**
 * `extractFromEvent` for a row in `EventIdentityFields` form, with exactly its result: the same
 * identifiers in the same order, and, as there, an unreadable value drops every identifier of its
 * document (traits, or context) because the document would not parse. Parses only the values that
 * are not plain strings.
 */
export function extractFromEventFields(row: EventIdentityFields): IdentityRecord {
  const identifiers: RawIdentifier[] = [];
  if (row.user_id) identifiers.push({ type: 'user_id', value: row.user_id });
  if (row.anonymous_id) identifiers.push({ type: 'anonymous_id', value: row.anonymous_id });
  if (row.previous_id) identifiers.push({ type: 'anonymous_id', value: row.previous_id });
  if (row.traitsEmail !== '' || row.traitsPhone !== '') {
    const email = rawJson(row.traitsEmail);
    const phone = rawJson(row.traitsPhone);
    if (email !== UNREADABLE && phone !== UNREADABLE) {
      push(identifiers, 'email', email);
      push(identifiers, 'phone', phone);
    }
  }
  if (row.contextEmail !== '' || row.contextPhone !== '' || row.deviceId !== '' || row.externalIds !== '') {
    const email = rawJson(row.contextEmail);
    const phone = rawJson(row.contextPhone);
    const device = rawJson(row.deviceId);
    const external = rawJson(row.externalIds);
    if (email !== UNREADABLE && phone !== UNREADABLE && device !== UNREADABLE && external !== UNREADABLE) {
      push(identifiers, 'email', email);
      push(identifiers, 'phone', phone);
      push(identifiers, 'device_id', device);
      if (Array.isArray(external)) {
        for (const item of external) {
          const e = asObject(item);
          if (e && typeof e.type === 'string') push(identifiers, e.type, e.id);
        }
      }
    }
  }
  return { recordId: row.message_id, source: 'events', timestamp: row.timestamp, identifiers };
}

export interface MappedExtractorOptions<T> {
  source: string;
  recordId: (row: T) => string;
  /** Milliseconds since the epoch. */
  timestamp: (row: T) => number;
  /** Field name → identifier type, e.g. `{ email: 'email', id: 'customer_id' }`. */
  fields: Readonly<Record<string, string>>;
}

/** An extractor for flat rows (CDC, CRM): each mapped field that is present becomes an identifier. */
export function mappedExtractor<T extends Record<string, unknown>>(options: MappedExtractorOptions<T>): RecordExtractor<T> {
  const fields = Object.entries(options.fields);
  return (row) => {
    const identifiers: RawIdentifier[] = [];
    for (const [field, type] of fields) push(identifiers, type, row[field]);
    return { recordId: options.recordId(row), source: options.source, timestamp: options.timestamp(row), identifiers };
  };
}

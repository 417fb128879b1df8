/**
 * Reads identity records from ClickHouse: events, CDC changes and CRM records. Each is a *stream*
 * with its own ingestion cursor (incremental runs read what arrived since) and all of them together
 * in (timestamp, record id) order (a rebuild).
 *
 * Every stream's query yields the same columns, so one TSV parser serves all: events carry their
 * Segment fields (the event extractor reads them); CDC changes and CRM records carry the
 * identifiers their writers took from the mapped columns (`[[type, raw value], ...]`).
 */
import type { Clickhouse } from '../src/clients/clickhouse.ts';
import { extractFromEventFields, type EventIdentityFields, type IdentityRecord, type RawIdentifier } from './extract.ts';

/** Position in a stream's ingestion order: (ingested_at ms, record id) of the last record read. */
export interface IngestCursor {
  ingestedAt: number;
  recordId: string;
}

export const START_CURSOR: IngestCursor = { ingestedAt: 0, recordId: '' };

export const STREAM_NAMES = ['events', 'cdc', 'crm'] as const;
export type StreamName = (typeof STREAM_NAMES)[number];

/** One row of the unified columns (see `UNIFIED`). Reused while parsing a page. */
interface Row extends EventIdentityFields {
  ingested: number;
  source: string;
  identifiers: string;
  /** Further records with the same source and identifier fields, folded into this one (a rebuild). */
  repeats: number;
  lastTimestamp: number;
  lastRecordId: string;
  /** The record id of the latest ingested of them, with `ingested` (the stream's cursor). */
  ingestedRecordId: string;
}

function emptyRow(): Row {
  return {
    message_id: '', timestamp: 0, ingested: 0, source: '', user_id: '', anonymous_id: '', previous_id: '',
    traitsEmail: '', traitsPhone: '', contextEmail: '', contextPhone: '', deviceId: '', externalIds: '', identifiers: '',
    repeats: 0, lastTimestamp: 0, lastRecordId: '', ingestedRecordId: '',
  };
}

/**
 * The columns every stream's query yields, in order, named so a rebuild can group by them. After
 * them come a group's: repeats, last record, latest ingested (`scratchRows`); a record read alone
 * is a group of one (`SINGLE_RECORD`).
 */
const UNIFIED = [
  'rid', 'ts', 'ingested', 'record_source', 'user_id', 'anonymous_id', 'previous_id',
  'traits_email', 'traits_phone', 'context_email', 'context_phone', 'device_id', 'external_ids', 'identifiers',
] as const;
/** What identifies a record's identifiers: records equal in these are folded in a rebuild. */
const IDENTITY_FIELDS = UNIFIED.slice(3);
const SINGLE_RECORD = 'toUInt32(0) AS repeats, ts AS last_ts, rid AS last_rid, rid AS ingested_rid';
const FIELDS = UNIFIED.length + 4;

/** A stream's expressions for the unified columns, aliased to their names. */
function unified(expressions: readonly string[]): string {
  return expressions.map((e, i) => (e === UNIFIED[i] ? e : `${e} AS ${UNIFIED[i]}`)).join(', ');
}

interface StreamSql {
  /** The table read incrementally (by ingested_at; it has a minmax index on it). */
  table: string;
  /** FROM clause of the same rows with duplicates folded, for a rebuild. */
  folded: (ch: Clickhouse) => string;
  /** Unique per record; equal for a redelivered copy. */
  recordId: string;
  /** The unified columns (see `UNIFIED`). */
  columns: string;
  /** Which rows are identity records at all. */
  where: string;
}

/**
 * The raw JSON at `path` in `column` ('' when absent). The document is only parsed when the first
 * key occurs in its text (or any \\u escape does, which could spell it): most events have no
 * traits and no external ids, and parsing is what costs.
 */
function rawField(column: string, path: string[]): string {
  return `if(position(${column}, '${path[0]}') > 0 OR position(${column}, '\\\\u') > 0, JSONExtractRaw(${column}, ${path.map((p) => `'${p}'`).join(', ')}), '')`;
}

/**
 * Events: traits and context are cut down in ClickHouse to the raw JSON of the fields identity
 * reads (`extractFromEventFields` turns them into identifiers exactly as `extractFromEvent` does
 * with the whole documents), so only those cross to Node and no document is parsed there.
 */
const EVENTS: StreamSql = {
  table: 'events',
  folded: (ch) => ch.table('events_unique'),
  recordId: 'message_id',
  columns: unified([
    'message_id', 'toUnixTimestamp64Milli(timestamp)', 'toUnixTimestamp64Milli(ingested_at)', "'events'",
    'user_id', 'anonymous_id', 'previous_id',
    rawField('traits', ['email']), rawField('traits', ['phone']),
    rawField('context', ['traits', 'email']), rawField('context', ['traits', 'phone']),
    "JSONExtractRaw(context, 'device', 'id')", rawField('context', ['externalIds']), "''",
  ]),
  where: '1',
};

/** CDC and CRM rows carry the identifiers their writers mapped, and none of the event fields. */
const mappedOnly = [...Array<string>(9).fill("''"), 'identifiers'];

/** CDC: creates, updates and snapshot reads of rows with identifier columns. */
const CDC_RECORD_ID = `concat('cdc:', source, ':', table_name, ':', key, '@', toString(position))`;
const CDC: StreamSql = {
  table: 'cdc_changes',
  folded: (ch) => `${ch.table('cdc_changes')} FINAL`,
  recordId: CDC_RECORD_ID,
  columns: unified([
    CDC_RECORD_ID, 'toUnixTimestamp64Milli(changed_at)', 'toUnixTimestamp64Milli(ingested_at)',
    "concat('cdc:', source, '.', table_name)", ...mappedOnly,
  ]),
  where: `op IN ('c', 'u', 'r') AND identifiers != '[]'`,
};

/** CRM: every version of every record (a changed email links the old and the new one). */
const CRM_RECORD_ID = `concat('crm:', source, ':', record_id, '@', toString(toUnixTimestamp64Milli(updated_at)))`;
const CRM: StreamSql = {
  table: 'crm_records',
  folded: (ch) => `${ch.table('crm_records')} FINAL`,
  recordId: CRM_RECORD_ID,
  columns: unified([
    CRM_RECORD_ID, 'toUnixTimestamp64Milli(updated_at)', 'toUnixTimestamp64Milli(ingested_at)',
    "concat('crm:', source)", ...mappedOnly,
  ]),
  where: `identifiers != '[]'`,
};

const STREAMS: Record<StreamName, StreamSql> = { events: EVENTS, cdc: CDC, crm: CRM };

/** Rows ingested at least `settle` ms ago: inserts still in flight commit later. */
const SETTLED = 'ingested_at <= now64(3) - toIntervalMillisecond({settle:UInt32})';

const TSV_ESCAPES: Record<string, string> = { t: '\t', n: '\n', r: '\r', b: '\b', f: '\f', '0': '\0' };

/** Undoes ClickHouse's TabSeparated escaping (backslash sequences). */
function unescapeTsv(field: string): string {
  return field.includes('\\') ? field.replace(/\\(.)/g, (_, c: string) => TSV_ESCAPES[c] ?? c) : field;
}

/** The rebuild's scratch table: unified columns, then those of a folded group. */
const SCRATCH_COLUMNS = `rid String, ts Int64, ingested Int64, record_source String, user_id String, anonymous_id String, previous_id String,
  traits_email String, traits_phone String, context_email String, context_phone String, device_id String, external_ids String,
  identifiers String, repeats UInt32, last_ts Int64, last_rid String, ingested_rid String`;

/**
 * Parses TabSeparated text of the unified columns, calling `onRow` with one reused object per line:
 * splitting text is several times cheaper than parsing one JSON object per row, and a rebuild reads
 * millions of rows. Fields are cut with indexOf (no arrays), and only escaped ones are unescaped.
 */
/** The integer in text[from, to) (digits, optionally after '-'), as `Number` would read it; NaN when not one. */
function parseInteger(text: string, from: number, to: number): number {
  const negative = text.charCodeAt(from) === 45; /* '-' */
  let n = 0;
  let i = negative ? from + 1 : from;
  if (i === to || to - i > 15) return Number(text.slice(from, to));
  for (; i < to; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return Number(text.slice(from, to));
    n = n * 10 + d;
  }
  return negative ? -n : n;
}

const EVENTS_SOURCE = 'events';

function parseRows(text: string, onRow: (row: Row) => void, from = 0, maxRows = Infinity): { rows: number; next: number } {
  const row = emptyRow();
  const f: string[] = new Array<string>(FIELDS).fill('');
  let n = 0;
  let pos = from;
  const end = text.length;
  // Where the next backslash is: lines before it have no escapes to undo.
  let backslash = text.indexOf('\\', pos);
  while (pos < end && n < maxRows) {
    let lineEnd = text.indexOf('\n', pos);
    if (lineEnd === -1) lineEnd = end;
    if (backslash !== -1 && backslash < pos) backslash = text.indexOf('\\', pos);
    const escaped = backslash !== -1 && backslash < lineEnd;
    for (let i = 0; i < FIELDS; i++) {
      let stop = i === FIELDS - 1 ? lineEnd : text.indexOf('\t', pos);
      if (stop === -1 || stop > lineEnd) stop = lineEnd;
      if (i === 1) row.timestamp = parseInteger(text, pos, stop);
      else if (i === 2) row.ingested = parseInteger(text, pos, stop);
      else if (i === 14) row.repeats = parseInteger(text, pos, stop);
      else if (i === 15) row.lastTimestamp = parseInteger(text, pos, stop);
      else if (i === 3 && stop - pos === EVENTS_SOURCE.length && text.startsWith(EVENTS_SOURCE, pos)) f[i] = EVENTS_SOURCE;
      else if (stop === pos) f[i] = '';
      else f[i] = escaped ? unescapeTsv(text.slice(pos, stop)) : text.slice(pos, stop);
      pos = stop + 1;
    }
    pos = lineEnd + 1;
    row.message_id = f[0]!;
    row.source = f[3]!;
    row.user_id = f[4]!;
    row.anonymous_id = f[5]!;
    row.previous_id = f[6]!;
    row.traitsEmail = f[7]!;
    row.traitsPhone = f[8]!;
    row.contextEmail = f[9]!;
    row.contextPhone = f[10]!;
    row.deviceId = f[11]!;
    row.externalIds = f[12]!;
    row.identifiers = f[13]!;
    row.lastRecordId = f[16]!;
    row.ingestedRecordId = f[17]!;
    onRow(row);
    n++;
  }
  return { rows: n, next: pos };
}

async function queryText(ch: Clickhouse, query: string, params: Record<string, unknown>): Promise<string> {
  const rs = await ch.client.query({ query, query_params: params, format: 'TabSeparated' });
  return rs.text();
}

function mappedIdentifiers(json: string): RawIdentifier[] {
  try {
    const pairs = JSON.parse(json) as unknown;
    if (!Array.isArray(pairs)) return [];
    return pairs.filter((p): p is [string, unknown] => Array.isArray(p) && typeof p[0] === 'string').map(([type, value]) => ({ type, value }));
  } catch {
    // Written by Tessera's own writers; an unreadable value carries no identifiers.
    return [];
  }
}

function toRecord(r: Row): IdentityRecord {
  const record = r.source === 'events' ? extractFromEventFields(r) : { recordId: r.message_id, source: r.source, timestamp: r.timestamp, identifiers: mappedIdentifiers(r.identifiers) };
  if (r.repeats > 0) record.repeats = { count: r.repeats, last: { timestamp: r.lastTimestamp, recordId: r.lastRecordId } };
  return record;
}

/**
 * The records of `stream` ingested after `after`, first copies only, in ingestion order. Only rows
 * ingested at least `settleMs` ago are read: inserts still in flight commit later. The table is
 * read without FINAL (a FINAL over the whole table on every run grows with it): new rows are found
 * through the ingested_at skip index, and a record ingested before the cursor (a late duplicate) or
 * twice after it is kept once, its first copy.
 */
export async function readNewRecords(
  ch: Clickhouse,
  stream: StreamName,
  after: IngestCursor,
  opts: { limit: number; settleMs: number },
): Promise<{ records: IdentityRecord[]; cursor: IngestCursor }> {
  const s = STREAMS[stream];
  const table = ch.table(s.table);
  // The plain range on ingested_at is what the skip index can use; the tuple makes it exact.
  const isNew = `ingested_at >= fromUnixTimestamp64Milli({at:Int64})
    AND (ingested_at, ${s.recordId}) > (fromUnixTimestamp64Milli({at:Int64}), {id:String})
    AND ${SETTLED}`;
  const text = await queryText(
    ch,
    `SELECT ${s.columns}, ${SINGLE_RECORD} FROM ${table}
     WHERE ${isNew} AND ${s.where}
       AND ${s.recordId} NOT IN (
         SELECT ${s.recordId} FROM ${table}
         WHERE (ingested_at, ${s.recordId}) <= (fromUnixTimestamp64Milli({at:Int64}), {id:String})
           AND ${s.recordId} IN (SELECT ${s.recordId} FROM ${table} WHERE ${isNew}))
     ORDER BY ingested_at, ${s.recordId}
     LIMIT 1 BY ${s.recordId}
     LIMIT {limit:UInt32}`,
    { at: after.ingestedAt, id: after.recordId, settle: opts.settleMs, limit: opts.limit },
  );
  const records: IdentityRecord[] = [];
  let cursor = after;
  parseRows(text, (row) => {
    records.push(toRecord(row));
    cursor = { ingestedAt: row.ingested, recordId: row.message_id };
  });
  return { records, cursor };
}

/** The stream a record's source label belongs to (`events`, `cdc:shop.public.customers`, `crm:hubspot`). */
export function streamOf(source: string): StreamName {
  return source === 'events' ? 'events' : source.startsWith('cdc:') ? 'cdc' : 'crm';
}

export type StreamCursors = Record<StreamName, IngestCursor>;

/** The (timestamp, record id) of the last row of a full page, or null when the page is the last. */
function pageEnd(text: string, pageSize: number): { ts: number; id: string } | null {
  let lines = 0;
  for (let at = text.indexOf('\n'); at !== -1; at = text.indexOf('\n', at + 1)) lines++;
  if (lines < pageSize) return null;
  const end = text.endsWith('\n') ? text.length - 1 : text.length;
  let last: { ts: number; id: string } | null = null;
  parseRows(text.slice(text.lastIndexOf('\n', end - 1) + 1, end), (row) => {
    last = { ts: row.timestamp, id: row.message_id };
  });
  return last;
}

/**
 * `(time, rid)` as one string that sorts the same way (the time's 8 bytes big-endian, sign bit
 * flipped, then the record id). ClickHouse's min and max of a String are several times cheaper
 * than of a tuple: 1.5 s instead of ~12 s over 10M records.
 */
const orderKey = (time: string) => `concat(reverse(reinterpretAsFixedString(bitXor(toUInt64(${time}), 9223372036854775808))), rid)`;
const ridOf = (key: string) => `substring(${key}, 9)`;

/**
 * The scratch table's rows: each record as it is, or (`fold`) one row per group of records with the
 * same source and identifier fields, standing at its first record (timestamp, record id) and
 * carrying how many more there were, the last of them and the latest ingested.
 */
function scratchRows(ch: Clickhouse, fold: boolean): string {
  const records = STREAM_NAMES.map((name) => {
    const s = STREAMS[name];
    return `SELECT ${s.columns} FROM ${s.folded(ch)} WHERE ${SETTLED} AND ${s.where}`;
  }).join(' UNION ALL ');
  if (!fold) return `SELECT *, ${SINGLE_RECORD} FROM (${records})`;
  const fields = IDENTITY_FIELDS.join(', ');
  return `SELECT ${ridOf('first')}, first_ts, newest_at, ${fields}, repeats, last_ts, ${ridOf('last')}, ${ridOf('newest')}
    FROM (
      SELECT min(${orderKey('ts')}) AS first, max(${orderKey('ts')}) AS last, max(${orderKey('ingested')}) AS newest,
        min(ts) AS first_ts, max(ts) AS last_ts, max(ingested) AS newest_at, toUInt32(count() - 1) AS repeats, ${fields}
      FROM (${records}) GROUP BY ${fields})`;
}

/**
 * Every record of every stream ingested up to `settleMs` ago, in (timestamp, record id) order, the
 * order a rebuild needs. ClickHouse sorts once into a scratch table ordered that way; pages are
 * then cheap range reads, so memory stays flat however many records there are, and the next page
 * is read while this one is resolved. With `fold`, records with the same source and identifier
 * fields come as one, at the first of them, carrying the rest as `repeats` (most events repeat
 * their sender's identifiers: a third as many rows to parse and resolve); the engine must fold
 * them (`ResolverEngine.foldsRefusals`). `onSorted` learns how many rows will come, before the
 * first; `onRecord` runs for each (the object is only valid during the call); returns the cursor
 * of each stream to continue incrementally from, and the number of records read (repeats included).
 */
export async function streamAllRecords(
  ch: Clickhouse,
  opts: { settleMs: number; pageSize?: number; fold?: boolean; onSorted?: (rows: number) => void },
  onRecord: (record: IdentityRecord) => void,
): Promise<{ cursors: StreamCursors; records: number; seconds: { sort: number; wait: number } }> {
  const pageSize = opts.pageSize ?? 200_000;
  const started = performance.now();
  let sorted = started;
  let waited = 0;
  const scratch = ch.table(`identity_rebuild_${Date.now().toString(36)}`);
  // Two threads write the scratch table (sorting and compressing its parts): 15.8 s instead of
  // 19.0 s for 10M records grouped into 3.2M rows on two cores.
  await ch.command(
    `CREATE TABLE ${scratch} (${SCRATCH_COLUMNS}) ENGINE = MergeTree ORDER BY (ts, rid) AS ${scratchRows(ch, opts.fold ?? false)} SETTINGS max_insert_threads = 2`,
    { settle: opts.settleMs },
  );
  sorted = performance.now();
  if (opts.onSorted) {
    const [{ rows } = { rows: 0 }] = await ch.query<{ rows: string }>(`SELECT count() AS rows FROM ${scratch}`);
    opts.onSorted(Number(rows));
  }
  // The plain bound on timestamp is what the primary key can skip by. One thread reads a page in
  // order fastest, and leaves the other core to the resolver working on the previous page (a
  // setting of the statement: the session's settings stay as they are).
  const page = (after: { ts: number; id: string } | null) =>
    queryText(
      ch,
      `SELECT * FROM ${scratch} WHERE ${after ? 'ts >= {ts:Int64} AND (ts, rid) > ({ts:Int64}, {id:String})' : '1'}
       ORDER BY ts, rid LIMIT {limit:UInt32} SETTINGS max_threads = 1`,
      { ts: after?.ts ?? 0, id: after?.id ?? '', limit: pageSize },
    );
  try {
    const cursors: StreamCursors = { events: START_CURSOR, cdc: START_CURSOR, crm: START_CURSOR };
    let records = 0;
    let next: Promise<string> | null = page(null);
    while (next) {
      const asked = performance.now();
      const text: string = await next;
      waited += performance.now() - asked;
      // Where the next page starts is on this page's last line: ask for it before resolving this one.
      const after = pageEnd(text, pageSize);
      next = after ? page(after) : null;
      // A failed prefetch is handled by the await above, not as an unhandled rejection meanwhile.
      next?.catch(() => {});
      const onRow = (row: Row) => {
        const stream = streamOf(row.source);
        const cursor = cursors[stream];
        if (row.ingested > cursor.ingestedAt || (row.ingested === cursor.ingestedAt && row.ingestedRecordId > cursor.recordId)) {
          cursors[stream] = { ingestedAt: row.ingested, recordId: row.ingestedRecordId };
        }
        records += 1 + row.repeats;
        onRecord(toRecord(row));
      };
      // In slices, yielding in between: the prefetched page is received and decoded meanwhile, not
      // after this one (the page after it is asked for as soon as this loop comes round).
      for (let at = 0; at < text.length; ) {
        at = parseRows(text, onRow, at, 20_000).next;
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    return { cursors, records, seconds: { sort: (sorted - started) / 1000, wait: waited / 1000 } };
  } finally {
    await ch.command(`DROP TABLE IF EXISTS ${scratch}`);
  }
}

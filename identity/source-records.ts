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
import { extractFromEvent, type IdentityRecord, type RawIdentifier } from './extract.ts';

/** Position in a stream's ingestion order: (ingested_at ms, record id) of the last record read. */
export interface IngestCursor {
  ingestedAt: number;
  recordId: string;
}

export const START_CURSOR: IngestCursor = { ingestedAt: 0, recordId: '' };

export const STREAM_NAMES = ['events', 'cdc', 'crm'] as const;
export type StreamName = (typeof STREAM_NAMES)[number];

interface Row {
  recordId: string;
  type: string;
  userId: string;
  anonymousId: string;
  previousId: string;
  timestamp: number;
  traits: string;
  context: string;
  ingested: number;
  source: string;
  identifiers: string;
}

/** `{"k":<raw JSON>,...}` of the fields of `column` at `path` that exist (an identity-only subset). */
function jsonSubset(column: string, path: string[], fields: string[]): string {
  const at = (f: string) => [...path, f].map((p) => `'${p}'`).join(', ');
  const parts = fields.map((f) => `if(JSONHas(${column}, ${at(f)}), concat('"${f}":', JSONExtractRaw(${column}, ${at(f)})), '')`);
  return `concat('{', arrayStringConcat(arrayFilter(x -> x != '', [${parts.join(', ')}]), ','), '}')`;
}

interface StreamSql {
  /** The table read incrementally (by ingested_at; it has a minmax index on it). */
  table: string;
  /** FROM clause of the same rows with duplicates folded, for a rebuild. */
  folded: (ch: Clickhouse) => string;
  /** Unique per record; equal for a redelivered copy. */
  recordId: string;
  /** The unified columns (see Row), in order. */
  columns: string;
  /** Which rows are identity records at all. */
  where: string;
}

/**
 * Events: traits and context are cut down in ClickHouse to the fields the event extractor reads, so
 * only those cross to Node (the extractor stays the one source of truth for identifiers).
 */
const EVENTS: StreamSql = {
  table: 'events',
  folded: (ch) => ch.table('events_unique'),
  recordId: 'message_id',
  columns: `message_id, type, user_id, anonymous_id, previous_id,
    toUnixTimestamp64Milli(timestamp),
    ${jsonSubset('traits', [], ['email', 'phone'])},
    concat('{"traits":', ${jsonSubset('context', ['traits'], ['email', 'phone'])},
           ',"device":', ${jsonSubset('context', ['device'], ['id'])},
           if(JSONHas(context, 'externalIds'), concat(',"externalIds":', JSONExtractRaw(context, 'externalIds')), ''), '}'),
    toUnixTimestamp64Milli(ingested_at), 'events', ''`,
  where: '1',
};

/** CDC: creates, updates and snapshot reads of rows with identifier columns. */
const CDC_RECORD_ID = `concat('cdc:', source, ':', table_name, ':', key, '@', toString(position))`;
const CDC: StreamSql = {
  table: 'cdc_changes',
  folded: (ch) => `${ch.table('cdc_changes')} FINAL`,
  recordId: CDC_RECORD_ID,
  columns: `${CDC_RECORD_ID}, '', '', '', '', toUnixTimestamp64Milli(changed_at), '', '',
    toUnixTimestamp64Milli(ingested_at), concat('cdc:', source, '.', table_name), identifiers`,
  where: `op IN ('c', 'u', 'r') AND identifiers != '[]'`,
};

/** CRM: every version of every record (a changed email links the old and the new one). */
const CRM_RECORD_ID = `concat('crm:', source, ':', record_id, '@', toString(toUnixTimestamp64Milli(updated_at)))`;
const CRM: StreamSql = {
  table: 'crm_records',
  folded: (ch) => `${ch.table('crm_records')} FINAL`,
  recordId: CRM_RECORD_ID,
  columns: `${CRM_RECORD_ID}, '', '', '', '', toUnixTimestamp64Milli(updated_at), '', '',
    toUnixTimestamp64Milli(ingested_at), concat('crm:', source), identifiers`,
  where: `identifiers != '[]'`,
};

const STREAMS: Record<StreamName, StreamSql> = { events: EVENTS, cdc: CDC, crm: CRM };

const TSV_ESCAPES: Record<string, string> = { t: '\t', n: '\n', r: '\r', b: '\b', f: '\f', '0': '\0' };

/** Undoes ClickHouse's TabSeparated escaping (backslash sequences). */
function unescapeTsv(field: string): string {
  return field.includes('\\') ? field.replace(/\\(.)/g, (_, c: string) => TSV_ESCAPES[c] ?? c) : field;
}

/**
 * Runs a query over the unified columns and parses its TabSeparated output: splitting text is
 * several times cheaper than parsing one JSON object per row, and a rebuild reads millions of rows.
 */
async function queryRows(ch: Clickhouse, query: string, params: Record<string, unknown>): Promise<Row[]> {
  const rs = await ch.client.query({ query, query_params: params, format: 'TabSeparated' });
  const text = await rs.text();
  const rows: Row[] = [];
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    const f = text.slice(start, end).split('\t');
    start = end + 1;
    rows.push({
      recordId: unescapeTsv(f[0]!),
      type: f[1]!,
      userId: unescapeTsv(f[2]!),
      anonymousId: unescapeTsv(f[3]!),
      previousId: unescapeTsv(f[4]!),
      timestamp: Number(f[5]),
      traits: unescapeTsv(f[6]!),
      context: unescapeTsv(f[7]!),
      ingested: Number(f[8]),
      source: unescapeTsv(f[9]!),
      identifiers: unescapeTsv(f[10]!),
    });
  }
  return rows;
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
  if (r.source !== 'events') return { recordId: r.recordId, source: r.source, timestamp: r.timestamp, identifiers: mappedIdentifiers(r.identifiers) };
  return extractFromEvent({
    message_id: r.recordId,
    type: r.type,
    user_id: r.userId,
    anonymous_id: r.anonymousId,
    previous_id: r.previousId,
    timestamp: r.timestamp,
    traits: r.traits,
    context: r.context,
  });
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
    AND ingested_at <= now64(3) - toIntervalMillisecond({settle:UInt32})`;
  const rows = await queryRows(
    ch,
    `SELECT ${s.columns} FROM ${table}
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
  const last = rows.at(-1);
  return { records: rows.map(toRecord), cursor: last ? { ingestedAt: last.ingested, recordId: last.recordId } : after };
}

/** The stream a record's source label belongs to (`events`, `cdc:shop.public.customers`, `crm:hubspot`). */
export function streamOf(source: string): StreamName {
  return source === 'events' ? 'events' : source.startsWith('cdc:') ? 'cdc' : 'crm';
}

export type StreamCursors = Record<StreamName, IngestCursor>;

/**
 * Every record of every stream ingested up to `settleMs` ago, in (timestamp, record id) order, the
 * order a rebuild needs. ClickHouse sorts once into a scratch table ordered that way; pages are
 * then cheap range reads, so memory stays flat however many records there are. `onRecord` runs for
 * each; returns the cursor of each stream to continue incrementally from.
 */
export async function streamAllRecords(
  ch: Clickhouse,
  opts: { settleMs: number; pageSize?: number },
  onRecord: (record: IdentityRecord) => void,
): Promise<{ cursors: StreamCursors; records: number }> {
  const pageSize = opts.pageSize ?? 200_000;
  const scratch = ch.table(`identity_rebuild_${Date.now().toString(36)}`);
  const settled = `ingested_at <= now64(3) - toIntervalMillisecond({settle:UInt32})`;
  const selects = STREAM_NAMES.map((name) => {
    const s = STREAMS[name];
    return `SELECT ${s.columns} FROM ${s.folded(ch)} WHERE ${settled} AND ${s.where}`;
  });
  await ch.command(
    `CREATE TABLE ${scratch} (record_id String, type String, user_id String, anonymous_id String, previous_id String,
       timestamp Int64, traits String, context String, ingested Int64, source String, identifiers String)
     ENGINE = MergeTree ORDER BY (timestamp, record_id) AS ${selects.join(' UNION ALL ')}`,
    { settle: opts.settleMs },
  );
  try {
    const cursors: StreamCursors = { events: START_CURSOR, cdc: START_CURSOR, crm: START_CURSOR };
    let records = 0;
    let after = { ts: -1, id: '' };
    for (;;) {
      const rows = await queryRows(
        ch,
        `SELECT * FROM ${scratch} WHERE (timestamp, record_id) > ({ts:Int64}, {id:String})
         ORDER BY timestamp, record_id LIMIT {limit:UInt32}`,
        { ts: after.ts, id: after.id, limit: pageSize },
      );
      for (const row of rows) {
        const stream = streamOf(row.source);
        const cursor = cursors[stream];
        if (row.ingested > cursor.ingestedAt || (row.ingested === cursor.ingestedAt && row.recordId > cursor.recordId)) {
          cursors[stream] = { ingestedAt: row.ingested, recordId: row.recordId };
        }
        onRecord(toRecord(row));
      }
      records += rows.length;
      if (rows.length < pageSize) return { cursors, records };
      const last = rows.at(-1)!;
      after = { ts: last.timestamp, id: last.recordId };
    }
  } finally {
    await ch.command(`DROP TABLE IF EXISTS ${scratch}`);
  }
}

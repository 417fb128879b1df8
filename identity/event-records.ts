/**
 * Reads events from ClickHouse for identity resolution: new events by ingestion order (the
 * incremental cursor) and all events by (timestamp, message_id) (a rebuild).
 */
import type { Clickhouse } from '../src/clients/clickhouse.ts';
import { extractFromEvent, type EventIdentityRow, type IdentityRecord } from './extract.ts';

/** Position in ingestion order: (ingested_at ms, message_id) of the last event read. */
export interface IngestCursor {
  ingestedAt: number;
  messageId: string;
}

export const START_CURSOR: IngestCursor = { ingestedAt: 0, messageId: '' };

interface Row extends EventIdentityRow {
  timestamp: number;
  ingested: number;
}

/** `{"k":<raw JSON>,...}` of the fields of `column` at `path` that exist (an identity-only subset). */
function jsonSubset(column: string, path: string[], fields: string[]): string {
  const at = (f: string) => [...path, f].map((p) => `'${p}'`).join(', ');
  const parts = fields.map((f) => `if(JSONHas(${column}, ${at(f)}), concat('"${f}":', JSONExtractRaw(${column}, ${at(f)})), '')`);
  return `concat('{', arrayStringConcat(arrayFilter(x -> x != '', [${parts.join(', ')}]), ','), '}')`;
}

/**
 * The event columns identity needs. traits and context are cut down in ClickHouse to the fields
 * the event extractor reads, so only those cross to Node (the extractor stays the one source of
 * truth for what counts as an identifier).
 */
const COLUMNS = `message_id, type, user_id, anonymous_id, previous_id,
  toUnixTimestamp64Milli(timestamp) AS timestamp,
  ${jsonSubset('traits', [], ['email', 'phone'])} AS traits,
  concat('{"traits":', ${jsonSubset('context', ['traits'], ['email', 'phone'])},
         ',"device":', ${jsonSubset('context', ['device'], ['id'])},
         if(JSONHas(context, 'externalIds'), concat(',"externalIds":', JSONExtractRaw(context, 'externalIds')), ''), '}') AS context,
  toUnixTimestamp64Milli(ingested_at) AS ingested`;

const TSV_ESCAPES: Record<string, string> = { t: '\t', n: '\n', r: '\r', b: '\b', f: '\f', '0': '\0' };

/** Undoes ClickHouse's TabSeparated escaping (backslash sequences). */
function unescapeTsv(field: string): string {
  return field.includes('\\') ? field.replace(/\\(.)/g, (_, c: string) => TSV_ESCAPES[c] ?? c) : field;
}

/**
 * Runs a query over the COLUMNS above and parses its TabSeparated output: splitting text is several
 * times cheaper than parsing one JSON object per row, and a rebuild reads millions of rows.
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
      message_id: unescapeTsv(f[0]!),
      type: f[1]!,
      user_id: unescapeTsv(f[2]!),
      anonymous_id: unescapeTsv(f[3]!),
      previous_id: unescapeTsv(f[4]!),
      timestamp: Number(f[5]),
      traits: unescapeTsv(f[6]!),
      context: unescapeTsv(f[7]!),
      ingested: Number(f[8]),
    });
  }
  return rows;
}

const toRecord = (r: Row): IdentityRecord => extractFromEvent(r);

/**
 * The events ingested after `after`, first copies only, in ingestion order. Only events ingested at
 * least `settleMs` ago are read: inserts still in flight commit later. This reads `events` without
 * FINAL (a FINAL over the whole table on every run grows with the table): the new rows are found
 * through the ingested_at skip index, and a message id that was ingested before the cursor (a late
 * duplicate) or twice after it is kept once, its first copy, as events_unique would.
 */
export async function readNewEvents(
  ch: Clickhouse,
  after: IngestCursor,
  opts: { limit: number; settleMs: number },
): Promise<{ records: IdentityRecord[]; cursor: IngestCursor }> {
  const events = ch.table('events');
  // The plain range on ingested_at is what the skip index can use; the tuple makes it exact.
  const isNew = `ingested_at >= fromUnixTimestamp64Milli({at:Int64})
    AND (ingested_at, message_id) > (fromUnixTimestamp64Milli({at:Int64}), {id:String})
    AND ingested_at <= now64(3) - toIntervalMillisecond({settle:UInt32})`;
  const rows = await queryRows(
    ch,
    `SELECT ${COLUMNS} FROM ${events}
     WHERE ${isNew}
       AND message_id NOT IN (
         SELECT message_id FROM ${events}
         WHERE (ingested_at, message_id) <= (fromUnixTimestamp64Milli({at:Int64}), {id:String})
           AND message_id IN (SELECT message_id FROM ${events} WHERE ${isNew}))
     ORDER BY ingested_at, message_id
     LIMIT 1 BY message_id
     LIMIT {limit:UInt32}`,
    { at: after.ingestedAt, id: after.messageId, settle: opts.settleMs, limit: opts.limit },
  );
  const last = rows.at(-1);
  return {
    records: rows.map(toRecord),
    cursor: last ? { ingestedAt: last.ingested, messageId: last.message_id } : after,
  };
}

/**
 * Every event ingested up to `settleMs` ago, in (timestamp, message_id) order, the order a rebuild
 * needs. ClickHouse sorts once into a scratch table ordered that way; pages are then cheap range
 * reads, so memory stays flat however many events there are. `onRecord` runs for each; returns
 * the cursor to continue incrementally from.
 */
export async function streamAllEvents(
  ch: Clickhouse,
  opts: { settleMs: number; pageSize?: number },
  onRecord: (record: IdentityRecord) => void,
): Promise<{ cursor: IngestCursor; events: number }> {
  const pageSize = opts.pageSize ?? 200_000;
  const scratch = ch.table(`identity_rebuild_${Date.now().toString(36)}`);
  await ch.command(
    `CREATE TABLE ${scratch} ENGINE = MergeTree ORDER BY (timestamp, message_id) AS
     SELECT ${COLUMNS} FROM ${ch.table('events_unique')}
     WHERE ingested_at <= now64(3) - toIntervalMillisecond({settle:UInt32})`,
    { settle: opts.settleMs },
  );
  try {
    let cursor = START_CURSOR;
    let events = 0;
    let after = { ts: -1, id: '' };
    for (;;) {
      const rows = await queryRows(
        ch,
        `SELECT * FROM ${scratch} WHERE (timestamp, message_id) > ({ts:Int64}, {id:String})
         ORDER BY timestamp, message_id LIMIT {limit:UInt32}`,
        { ts: after.ts, id: after.id, limit: pageSize },
      );
      for (const row of rows) {
        if (row.ingested > cursor.ingestedAt || (row.ingested === cursor.ingestedAt && row.message_id > cursor.messageId)) {
          cursor = { ingestedAt: row.ingested, messageId: row.message_id };
        }
        onRecord(toRecord(row));
      }
      events += rows.length;
      if (rows.length < pageSize) return { cursor, events };
      const last = rows.at(-1)!;
      after = { ts: last.timestamp, id: last.message_id };
    }
  } finally {
    await ch.command(`DROP TABLE IF EXISTS ${scratch}`);
  }
}

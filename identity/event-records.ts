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

const COLUMNS = `message_id, type, user_id, anonymous_id, previous_id,
  toUnixTimestamp64Milli(timestamp) AS timestamp, traits, context, toUnixTimestamp64Milli(ingested_at) AS ingested`;

/** Only events ingested at least `settleMs` ago are read: inserts still in flight commit later. */
export async function readNewEvents(
  ch: Clickhouse,
  after: IngestCursor,
  opts: { limit: number; settleMs: number },
): Promise<{ records: IdentityRecord[]; cursor: IngestCursor }> {
  const rows = await ch.query<Row>(
    `SELECT ${COLUMNS} FROM ${ch.table('events_unique')}
     WHERE (ingested_at, message_id) > (fromUnixTimestamp64Milli({at:Int64}), {id:String})
       AND ingested_at <= now64(3) - toIntervalMillisecond({settle:UInt32})
     ORDER BY ingested_at, message_id LIMIT {limit:UInt32}`,
    { at: after.ingestedAt, id: after.messageId, settle: opts.settleMs, limit: opts.limit },
  );
  const last = rows.at(-1);
  return {
    records: rows.map((r) => extractFromEvent({ ...r, timestamp: Number(r.timestamp) })),
    cursor: last ? { ingestedAt: Number(last.ingested), messageId: last.message_id } : after,
  };
}

/**
 * Streams every event ingested up to `settleMs` ago in (timestamp, message_id) order, the order a
 * rebuild needs; `onRecord` runs for each. Returns the cursor to continue incrementally from.
 */
export async function streamAllEvents(
  ch: Clickhouse,
  opts: { settleMs: number },
  onRecord: (record: IdentityRecord) => void,
): Promise<{ cursor: IngestCursor; events: number }> {
  const [bound] = await ch.query<{ bound: number }>(`SELECT toUnixTimestamp64Milli(now64(3)) - {settle:UInt32} AS bound`, { settle: opts.settleMs });
  const limit = Number(bound!.bound);
  const rs = await ch.client.query({
    query: `SELECT ${COLUMNS} FROM ${ch.table('events_unique')}
            WHERE ingested_at <= fromUnixTimestamp64Milli({bound:Int64})
            ORDER BY timestamp, message_id`,
    query_params: { bound: limit },
    format: 'JSONEachRow',
  });
  let cursor = START_CURSOR;
  let events = 0;
  for await (const batch of rs.stream<Row>()) {
    for (const item of batch) {
      const row = item.json();
      const ingested = Number(row.ingested);
      if (ingested > cursor.ingestedAt || (ingested === cursor.ingestedAt && row.message_id > cursor.messageId)) {
        cursor = { ingestedAt: ingested, messageId: row.message_id };
      }
      onRecord(extractFromEvent({ ...row, timestamp: Number(row.timestamp) }));
      events++;
    }
  }
  return { cursor, events };
}

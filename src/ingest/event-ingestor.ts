import type { Clickhouse } from '../clients/clickhouse.ts';
import { GroupCommit, type GroupCommitOptions } from '../common/group-commit.ts';
import { prepareEvents, type EventRow, type IngestContext, type Rejection } from './prepare-events.ts';
import { DeadLetterWriter } from './dead-letters.ts';

export interface IngestResult {
  accepted: number;
  rejected: Rejection[];
}

/**
 * Duplicates are removed when read (events_unique) and by background merges; deduplicating inside
 * each insert as well costs a third of the insert time for nothing. The insert is synchronous: it
 * returns once the part is written.
 */
const EVENT_INSERT_SETTINGS = { optimize_on_insert: 0, async_insert: 0 } as const;

/**
 * Writes events and dead letters to ClickHouse. Concurrent callers share inserts (group commit);
 * `ingest` resolves only once its rows are stored, so an acknowledged event is durable.
 */
export class EventIngestor {
  private readonly events: GroupCommit<EventRow>;
  private readonly rejects: DeadLetterWriter;

  constructor(ch: Clickhouse, opts: GroupCommitOptions = {}) {
    this.events = new GroupCommit((rows) => ch.insert('events', rows, EVENT_INSERT_SETTINGS), opts);
    this.rejects = new DeadLetterWriter(ch, opts);
  }

  /** Validates and stores `messages`; `origin(index)` names where each came from (route, file:line). */
  async ingest(messages: readonly unknown[], ctx: IngestContext, origin: (index: number) => string): Promise<IngestResult> {
    const { rows, rejections } = prepareEvents(messages, ctx);
    await Promise.all([
      this.events.write(rows),
      this.deadLetter(
        rejections.map((r) => ({ ...r, origin: origin(r.index) })),
        ctx.source,
      ),
    ]);
    return { accepted: rows.length, rejected: rejections.map(({ index, code, message }) => ({ index, code, message })) };
  }

  /** Stores records that never became events (unparseable lines, invalid bodies). */
  deadLetter(items: readonly { origin: string; index: number; code: string; message: string; payload: string }[], source: string): Promise<void> {
    return this.rejects.write(items.map((r) => ({ source, origin: r.origin, position: r.index, code: r.code, message: r.message, payload: r.payload })));
  }

  /** Waits for in-flight writes (shutdown). */
  async drain(): Promise<void> {
    await Promise.all([this.events.idle(), this.rejects.idle()]);
  }
}

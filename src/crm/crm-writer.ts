/**
 * Stores CRM records in ClickHouse (`crm_records`) and the ones that cannot be stored in the
 * dead-letter table (source `crm:<name>`). Concurrent callers share inserts (group commit); `write`
 * resolves only once its rows are stored, so an acknowledged record is durable.
 */
import type { Clickhouse } from '../clients/clickhouse.ts';
import { GroupCommit, type GroupCommitOptions } from '../common/group-commit.ts';
import { DeadLetterWriter } from '../ingest/dead-letters.ts';
import type { CrmMapping } from '../sources/sources-config.ts';
import { prepareCrmRecords, type CrmRecordRow } from './prepare-crm-records.ts';

/** Versions are folded by merges and FINAL reads; inserts skip that work. */
const INSERT_SETTINGS = { optimize_on_insert: 0, async_insert: 0 } as const;

export interface CrmRejected {
  index: number;
  code: string;
  message: string;
}

export interface CrmWriteResult {
  accepted: number;
  rejected: CrmRejected[];
}

/** Input that never became a record (a CSV row of the wrong width, an unclosed quote). */
export interface CrmDeadLetter {
  origin: string;
  /** Index in a request or line in a file. */
  position: number;
  code: string;
  message: string;
  payload: string;
}

/** The dead-letter `source` of CRM source `name`. */
export function crmDeadLetterSource(name: string): string {
  return `crm:${name}`;
}

export class CrmWriter {
  private readonly rows: GroupCommit<CrmRecordRow>;
  private readonly deadLetters: DeadLetterWriter;

  constructor(ch: Clickhouse, opts: GroupCommitOptions = {}) {
    this.rows = new GroupCommit((rows) => ch.insert('crm_records', rows, INSERT_SETTINGS), opts);
    this.deadLetters = new DeadLetterWriter(ch, opts);
  }

  /**
   * Maps and stores `records` of CRM source `source`; invalid ones are dead-lettered (with
   * `origin(index)`: a route and index, a file and line) and returned, the rest stored.
   */
  async write(source: string, mapping: CrmMapping, records: readonly unknown[], origin: (index: number) => string): Promise<CrmWriteResult> {
    const { rows, rejections } = prepareCrmRecords(source, mapping, records);
    await Promise.all([
      this.rows.write(rows),
      this.deadLetter(
        source,
        rejections.map((r) => ({ origin: origin(r.index), position: r.index, code: r.code, message: r.message, payload: r.payload })),
      ),
    ]);
    return { accepted: rows.length, rejected: rejections.map(({ index, code, message }) => ({ index, code, message })) };
  }

  deadLetter(source: string, items: readonly CrmDeadLetter[]): Promise<void> {
    return this.deadLetters.write(items.map((d) => ({ source: crmDeadLetterSource(source), ...d })));
  }

  /** Waits for in-flight writes (shutdown). */
  async drain(): Promise<void> {
    await Promise.all([this.rows.idle(), this.deadLetters.idle()]);
  }
}

import type { Clickhouse } from '../clients/clickhouse.ts';
import { GroupCommit, type GroupCommitOptions } from '../common/group-commit.ts';

/** One row of the ClickHouse `rejected_events` dead-letter table (events, CDC changes, CRM records). */
export interface DeadLetter {
  /** What delivered it: `api`, `import`, `cdc:shop:public.customers`, `crm:hubspot`. */
  source: string;
  /** Where exactly: a route and index, a file and line, a WAL position. */
  origin: string;
  position: number;
  code: string;
  message: string;
  /** The raw input (cut to 64 KB). */
  payload: string;
}

const MAX_PAYLOAD = 64 * 1024;

/** Writes dead letters; concurrent callers share inserts and each resolves once its rows are stored. */
export class DeadLetterWriter {
  private readonly rows: GroupCommit<DeadLetter>;

  constructor(ch: Clickhouse, opts: GroupCommitOptions = {}) {
    this.rows = new GroupCommit((rows) => ch.insert('rejected_events', rows), opts);
  }

  write(items: readonly DeadLetter[]): Promise<void> {
    return this.rows.write(items.map((d) => (d.payload.length > MAX_PAYLOAD ? { ...d, payload: d.payload.slice(0, MAX_PAYLOAD) } : d)));
  }

  idle(): Promise<void> {
    return this.rows.idle();
  }
}

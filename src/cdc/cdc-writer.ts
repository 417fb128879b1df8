/**
 * Applies CDC changes to ClickHouse: the raw changelog, the current-state tables (tombstones for
 * deletes; a truncate tombstones every current row), dead letters, and schema drift (PostgreSQL).
 * Concurrent callers share inserts (group commit); `apply` resolves once its changes are stored,
 * so an acknowledged change is durable.
 */
import type { Clickhouse } from '../clients/clickhouse.ts';
import type { Postgres } from '../clients/postgres.ts';
import { GroupCommit, type GroupCommitOptions } from '../common/group-commit.ts';
import { DeadLetterWriter } from '../ingest/dead-letters.ts';
import type { SourcesConfig } from '../sources/sources-config.ts';
import type { CdcChange, CdcRejection } from './cdc-change.ts';
import { ensureCdcTables } from './cdc-tables.ts';
import { prepareChanges, type ChangelogRow, type DriftColumn, type StateRow, type TruncateStep } from './prepare-changes.ts';

/** Duplicates are folded by ReplacingMergeTree merges and FINAL reads; inserts skip that work. */
const INSERT_SETTINGS = { optimize_on_insert: 0, async_insert: 0 } as const;

export interface ApplyResult {
  accepted: number;
  rejected: CdcRejection[];
}

/** The dead-letter `source` of a CDC rejection: `cdc:<source>:<table>` (status counts by it). */
export function cdcDeadLetterSource(source?: string, table?: string): string {
  return `cdc:${source ?? '?'}:${table ?? '?'}`;
}

export class CdcWriter {
  private readonly changelog: GroupCommit<ChangelogRow>;
  private readonly state = new Map<string, GroupCommit<StateRow>>();
  private readonly deadLetters: DeadLetterWriter;
  private readonly driftKnown = new Set<string>();
  private tablesReady: Promise<void> | undefined;

  constructor(
    private readonly ch: Clickhouse,
    private readonly pg: Postgres,
    readonly config: SourcesConfig,
    private readonly opts: GroupCommitOptions = {},
  ) {
    this.changelog = new GroupCommit((rows) => ch.insert('cdc_changes', rows, INSERT_SETTINGS), opts);
    this.deadLetters = new DeadLetterWriter(ch, opts);
  }

  /** Stores `changes` in order; invalid ones are dead-lettered and returned, the rest applied. */
  async apply(changes: readonly CdcChange[]): Promise<ApplyResult> {
    await this.ensureTables();
    const prepared = prepareChanges(changes, this.config);
    const deadLettered = this.deadLetter(prepared.rejections);
    for (const step of prepared.steps) {
      if (step.kind === 'truncate') {
        await this.truncate(step);
        continue;
      }
      await Promise.all([this.changelog.write(step.changelog), ...[...step.state].map(([table, rows]) => this.stateWriter(table).write(rows))]);
    }
    await Promise.all([deadLettered, this.recordDrift(prepared.drift)]);
    return { accepted: prepared.accepted, rejected: prepared.rejections };
  }

  /** Creates or updates the tables of the declared CDC tables (once per process; retried after a failure). */
  ensureTables(): Promise<void> {
    this.tablesReady ??= ensureCdcTables(this.ch, this.config).catch((err: unknown) => {
      this.tablesReady = undefined;
      throw err;
    });
    return this.tablesReady;
  }

  /** Dead-letters input that never became a change (an envelope that does not parse). */
  deadLetter(rejections: readonly CdcRejection[]): Promise<void> {
    return this.deadLetters.write(
      rejections.map((r) => ({ source: cdcDeadLetterSource(r.source, r.table), origin: r.origin, position: r.index, code: r.code, message: r.message, payload: r.payload })),
    );
  }

  /** Waits for in-flight writes (shutdown). */
  async drain(): Promise<void> {
    await Promise.all([this.changelog.idle(), this.deadLetters.idle(), ...[...this.state.values()].map((s) => s.idle())]);
  }

  private stateWriter(table: string): GroupCommit<StateRow> {
    let writer = this.state.get(table);
    if (!writer) {
      writer = new GroupCommit((rows) => this.ch.insert(table, rows, INSERT_SETTINGS), this.opts);
      this.state.set(table, writer);
    }
    return writer;
  }

  /** Tombstones every row older than the truncate (rows written after it have larger versions). */
  private async truncate(step: TruncateStep): Promise<void> {
    await this.stateWriter(step.stateTable).idle();
    const key = step.primaryKey.map((c) => `\`${c}\``).join(', ');
    const state = this.ch.table(step.stateTable);
    await this.ch.command(
      `INSERT INTO ${state} (${key}, _version, _deleted, _changed_at)
       SELECT ${key}, {position:UInt64}, 1, fromUnixTimestamp64Milli({at:Int64})
       FROM ${state} FINAL WHERE _deleted = 0 AND _version < {position:UInt64}`,
      { position: step.position.toString(), at: step.changedAt },
    );
  }

  private async recordDrift(drift: readonly DriftColumn[]): Promise<void> {
    const fresh = drift.filter((d) => !this.driftKnown.has(`${d.source}\0${d.table}\0${d.column}`));
    if (fresh.length === 0) return;
    const rows = fresh.map((d) => ({ source: d.source, table_name: d.table, column_name: d.column }));
    await this.pg.sql`
      INSERT INTO cdc_schema_drift ${this.pg.sql(rows, 'source', 'table_name', 'column_name')}
      ON CONFLICT (source, table_name, column_name) DO UPDATE SET last_seen_at = now()`;
    for (const d of fresh) this.driftKnown.add(`${d.source}\0${d.table}\0${d.column}`);
  }
}

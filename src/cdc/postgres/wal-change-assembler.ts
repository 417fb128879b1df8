/**
 * Turns the decoded pgoutput stream into CDC changes, pure (no I/O):
 *
 * - keeps the relations (table layouts) the server announces, by relation id;
 * - tracks the transaction: every change gets its commit time, and a transaction whose commit LSN
 *   is below the resume position (the checkpoint: end LSN of the last applied transaction) was
 *   applied before a restart and is skipped whole;
 * - position of a change = its WAL position (XLogData walStart), which grows along each row's
 *   history, so it versions the current-state row;
 * - an update that moves a row to another primary key becomes a delete of the old key and the new
 *   row; a truncate becomes one `t` change per truncated table;
 * - values an update left unchanged and out of line (TOAST) are taken from the old row when the
 *   table sends it (REPLICA IDENTITY FULL); otherwise the change lists them in `unchangedColumns`
 *   for the connector to fill from the current state.
 */
import type { CdcChange } from '../cdc-change.ts';
import { UNCHANGED_TOAST, type PgoutputMessage, type Relation, type TupleValue } from './pgoutput-decoder.ts';
import { formatLsn } from './lsn.ts';
import { ReplicationProtocolError } from './replication-errors.ts';

export interface PulledChange {
  change: CdcChange;
  /** Columns of `after` whose values PostgreSQL did not send (unchanged TOAST); absent from `after`. */
  unchangedColumns?: string[];
}

export type AssemblerEvent =
  | { kind: 'none' }
  | { kind: 'changes'; changes: PulledChange[] }
  /** End of a transaction: `endLsn` is the resume position once it is applied. */
  | { kind: 'commit'; endLsn: bigint; commitTime: number; skipped: boolean };

export interface AssemblerOptions {
  /** The configured CDC source the changes belong to. */
  source: string;
  /** Declared primary key per `schema.table` (for updates that change the key). */
  primaryKeys: Readonly<Record<string, readonly string[]>>;
  /** Transactions whose commit LSN is below this were applied before: skip them. */
  resumeLsn: bigint;
}

type Row = Record<string, string | null>;

function rowOf(relation: Relation, tuple: TupleValue[], keysOnly = false): { row: Row; unchanged: string[] } {
  const row: Row = {};
  const unchanged: string[] = [];
  relation.columns.forEach((column, i) => {
    if (keysOnly && !column.isKey) return;
    const value = tuple[i];
    if (value === UNCHANGED_TOAST) unchanged.push(column.name);
    else row[column.name] = value ?? null;
  });
  return { row, unchanged };
}

export class WalChangeAssembler {
  private readonly relations = new Map<number, Relation>();
  private txn: { commitTime: number; skip: boolean } | undefined;

  constructor(private readonly opts: AssemblerOptions) {}

  /** Inside a transaction (between Begin and Commit). */
  get inTransaction(): boolean {
    return this.txn !== undefined;
  }

  /** Feeds one message received at WAL position `walStart`. */
  push(walStart: bigint, message: PgoutputMessage): AssemblerEvent {
    switch (message.tag) {
      case 'relation':
        this.relations.set(message.relation.id, message.relation);
        return { kind: 'none' };
      case 'begin':
        if (this.txn) throw new ReplicationProtocolError('Begin inside a transaction');
        this.txn = { commitTime: message.commitTime, skip: message.finalLsn < this.opts.resumeLsn };
        return { kind: 'none' };
      case 'commit': {
        const txn = this.inside('Commit');
        this.txn = undefined;
        return { kind: 'commit', endLsn: message.endLsn, commitTime: message.commitTime, skipped: txn.skip };
      }
      case 'ignored':
        return { kind: 'none' };
      default: {
        const txn = this.inside(message.tag);
        if (txn.skip) return { kind: 'none' };
        const changes = this.changesOf(walStart, txn.commitTime, message);
        return { kind: 'changes', changes };
      }
    }
  }

  private inside(what: string): { commitTime: number; skip: boolean } {
    if (!this.txn) throw new ReplicationProtocolError(`${what} outside a transaction`);
    return this.txn;
  }

  private relation(id: number): Relation {
    const relation = this.relations.get(id);
    if (!relation) throw new ReplicationProtocolError(`a change of relation ${id}, which was never described by a Relation message`);
    return relation;
  }

  private changesOf(walStart: bigint, commitTime: number, message: Exclude<PgoutputMessage, { tag: 'relation' | 'begin' | 'commit' | 'ignored' }>): PulledChange[] {
    const base = (relation: Relation) => ({
      source: this.opts.source,
      table: `${relation.schema}.${relation.table}`,
      position: walStart,
      changedAt: commitTime,
      origin: `wal ${formatLsn(walStart)}`,
    });
    switch (message.tag) {
      case 'insert': {
        const relation = this.relation(message.relationId);
        return [{ change: { ...base(relation), op: 'c', before: null, after: rowOf(relation, message.newTuple).row } }];
      }
      case 'update': {
        const relation = this.relation(message.relationId);
        const next = rowOf(relation, message.newTuple);
        const old = message.oldTuple ? rowOf(relation, message.oldTuple).row : message.keyTuple ? rowOf(relation, message.keyTuple, true).row : null;
        const unchanged = next.unchanged.filter((column) => {
          if (old && column in old) {
            next.row[column] = old[column]!;
            return false;
          }
          return true;
        });
        const update: PulledChange = { change: { ...base(relation), op: 'u', before: old, after: next.row } };
        if (unchanged.length) update.unchangedColumns = unchanged;
        const key = this.opts.primaryKeys[update.change.table];
        if (old && key && key.some((c) => c in old && old[c] !== next.row[c])) {
          // The row moved to another key: the old key is gone.
          return [{ change: { ...base(relation), op: 'd', before: old, after: null } }, update];
        }
        return [update];
      }
      case 'delete': {
        const relation = this.relation(message.relationId);
        const before = message.oldTuple ? rowOf(relation, message.oldTuple).row : rowOf(relation, message.keyTuple!, true).row;
        return [{ change: { ...base(relation), op: 'd', before, after: null } }];
      }
      case 'truncate':
        return message.relationIds.map((id) => ({ change: { ...base(this.relation(id)), op: 't', before: null, after: null } }));
    }
  }
}

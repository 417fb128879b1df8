/**
 * The initial snapshot: every declared table read in one REPEATABLE READ transaction that imports
 * the snapshot exported with the replication slot, so it sees exactly the data before the slot's
 * consistent point, and streaming from that point continues it without a gap or an overlap.
 * Rows are read through a cursor, page by page (memory stays flat), as text like the stream's
 * values, and become `r` changes at position 0: below any streamed change of the same row (a
 * transaction that began before the consistent point can write WAL positions below it).
 */
import type { Sql } from 'postgres';
import type { CdcChange } from '../cdc-change.ts';
import { quoteIdent, quoteTable } from './source-database.ts';

export const SNAPSHOT_POSITION = 0n;

export interface SnapshotOptions {
  source: string;
  tables: readonly string[];
  /** The exported snapshot (CREATE_REPLICATION_SLOT ... EXPORT_SNAPSHOT). */
  snapshotName: string;
  pageSize: number;
  /** Stores one page; the next is read once it resolves. */
  onPage(changes: CdcChange[]): Promise<void>;
}

/** Copies the tables; returns the number of rows per table. */
export async function copySnapshot(sql: Sql, opts: SnapshotOptions): Promise<Record<string, number>> {
  if (!/^[0-9A-Fa-f-]+$/.test(opts.snapshotName)) throw new Error(`'${opts.snapshotName}' is not an exported snapshot name`);
  const changedAt = Date.now();
  const counts: Record<string, number> = {};
  await sql.begin('ISOLATION LEVEL REPEATABLE READ READ ONLY', async (tx) => {
    await tx.unsafe(`SET TRANSACTION SNAPSHOT '${opts.snapshotName}'`);
    for (const table of opts.tables) {
      // The columns the stream sends: all but dropped and generated ones, in table order.
      const columns = await tx<{ name: string }[]>`
        SELECT attname::text AS name FROM pg_attribute
        WHERE attrelid = to_regclass(${quoteTable(table)}) AND attnum > 0 AND NOT attisdropped AND attgenerated = ''
        ORDER BY attnum`;
      const select = columns.map(({ name }) => `${quoteIdent(name)}::text AS ${quoteIdent(name)}`).join(', ');
      let rows = 0;
      // The iterator, not the callback form: the package does not await the callback of the last page.
      for await (const page of tx.unsafe<Record<string, string | null>[]>(`SELECT ${select} FROM ${quoteTable(table)}`).cursor(opts.pageSize)) {
        rows += page.length;
        await opts.onPage(
          page.map((row) => ({ source: opts.source, table, op: 'r', position: SNAPSHOT_POSITION, changedAt, before: null, after: { ...row }, origin: `snapshot ${table}` })),
        );
      }
      counts[table] = rows;
    }
  });
  return counts;
}

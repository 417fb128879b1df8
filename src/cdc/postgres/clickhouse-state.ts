/**
 * What the pull connector reads or resets in a source's ClickHouse current-state tables:
 *
 * - before an initial snapshot, the tables are emptied: the snapshot is the whole truth at its
 *   consistent point (rows left by an interrupted snapshot, or by a slot that was lost, go);
 * - the previous value of a column an update did not send (unchanged TOAST).
 */
import type { Clickhouse } from '../../clients/clickhouse.ts';
import { CLICKHOUSE_TYPES, coerceValue } from '../../sources/column-types.ts';
import type { CdcTableConfig } from '../../sources/sources-config.ts';
import { cdcTableNames } from '../cdc-tables.ts';

export async function clearStateTables(ch: Clickhouse, source: string, tables: Record<string, CdcTableConfig>): Promise<void> {
  for (const table of Object.keys(tables)) {
    await ch.command(`TRUNCATE TABLE IF EXISTS ${ch.table(cdcTableNames(source, table).state)}`);
  }
}

/**
 * The values of `columns` (declared ones) in the row with the key of `row`, as of the last version
 * before `position` (the latest one when merges folded that away); {} when the row is unknown.
 */
export async function previousValues(
  ch: Clickhouse,
  source: string,
  table: string,
  config: CdcTableConfig,
  row: Readonly<Record<string, unknown>>,
  position: bigint,
  columns: readonly string[],
): Promise<Record<string, unknown>> {
  const wanted = columns.filter((c) => c in config.columns);
  if (wanted.length === 0) return {};
  const params: Record<string, unknown> = { position: position.toString() };
  const where = config.primaryKey.map((column, i) => {
    const type = config.columns[column]!;
    const coerced = coerceValue(type, row[column]);
    params[`k${i}`] = coerced.ok ? coerced.value : row[column];
    return type === 'timestamp' ? `\`${column}\` = fromUnixTimestamp64Milli({k${i}:Int64})` : `\`${column}\` = {k${i}:${CLICKHOUSE_TYPES[type]}}`;
  });
  const [found] = await ch.query<Record<string, unknown>>(
    `SELECT ${wanted.map((c) => `\`${c}\``).join(', ')} FROM ${ch.table(cdcTableNames(source, table).state)}
     WHERE ${where.join(' AND ')} ORDER BY (_version < {position:UInt64}) DESC, _version DESC LIMIT 1`,
    params,
  );
  return found ?? {};
}

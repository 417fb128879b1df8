/**
 * The ClickHouse tables of CDC source tables. Each declared table gets
 *
 * - a current-state table `cdc_<source>__<schema>_<table>_state`: ReplacingMergeTree on the primary
 *   key, versioned by the change position, with a `_deleted` flag (deletes and truncates write
 *   tombstones), and
 * - a view `cdc_<source>__<schema>_<table>` of its current rows (FINAL, tombstones removed): what
 *   features and queries read.
 *
 * The raw changelog of all of them is the shared `cdc_changes` table (migrations/clickhouse).
 * Tables follow the config: `ensureCdcTables` creates what is missing and adds or retypes columns,
 * so declaring a column needs no manual DDL.
 */
import type { Clickhouse } from '../clients/clickhouse.ts';
import { CLICKHOUSE_TYPES } from '../sources/column-types.ts';
import type { CdcTableConfig, SourcesConfig } from '../sources/sources-config.ts';

export interface CdcTableNames {
  /** The current-state table (ReplacingMergeTree with tombstones). */
  state: string;
  /** The view of current rows. */
  current: string;
}

export function cdcTableNames(source: string, table: string): CdcTableNames {
  const base = `cdc_${source}__${table.replace('.', '_')}`;
  return { state: `${base}_state`, current: base };
}

/** Bookkeeping columns of every state table. */
export const STATE_COLUMNS = {
  _version: 'UInt64',
  _deleted: 'UInt8',
  _changed_at: "DateTime64(3, 'UTC')",
  _ingested_at: "DateTime64(3, 'UTC') DEFAULT now64(3)",
} as const;

/** column → ClickHouse type of a declared table (primary key columns are not Nullable). */
export function stateColumnTypes(config: CdcTableConfig): Record<string, string> {
  const types: Record<string, string> = {};
  for (const [column, type] of Object.entries(config.columns)) {
    const ch = CLICKHOUSE_TYPES[type];
    types[column] = config.primaryKey.includes(column) ? ch : `Nullable(${ch})`;
  }
  return types;
}

const q = (name: string) => `\`${name}\``;

export function createStateTableSql(ch: Clickhouse, names: CdcTableNames, config: CdcTableConfig): string {
  const columns = [...Object.entries(stateColumnTypes(config)), ...Object.entries(STATE_COLUMNS)].map(([c, t]) => `${q(c)} ${t}`);
  return `CREATE TABLE IF NOT EXISTS ${ch.table(names.state)} (${columns.join(', ')})
    ENGINE = ReplacingMergeTree(_version) ORDER BY (${config.primaryKey.map(q).join(', ')})`;
}

export function currentViewSql(ch: Clickhouse, names: CdcTableNames): string {
  return `CREATE OR REPLACE VIEW ${ch.table(names.current)} AS
    SELECT * EXCEPT (_deleted) FROM ${ch.table(names.state)} FINAL WHERE _deleted = 0`;
}

/** Creates or updates the state table and view of every declared CDC table. */
export async function ensureCdcTables(ch: Clickhouse, config: SourcesConfig): Promise<void> {
  for (const [source, { tables }] of Object.entries(config.cdc)) {
    for (const [table, tableConfig] of Object.entries(tables)) {
      const names = cdcTableNames(source, table);
      await ch.command(createStateTableSql(ch, names, tableConfig));
      const existing = new Map(
        (
          await ch.query<{ name: string; type: string }>(`SELECT name, type FROM system.columns WHERE database = {db:String} AND table = {t:String}`, {
            db: ch.database,
            t: names.state,
          })
        ).map((c) => [c.name, c.type]),
      );
      for (const [column, type] of Object.entries(stateColumnTypes(tableConfig))) {
        const current = existing.get(column);
        if (current === undefined) await ch.command(`ALTER TABLE ${ch.table(names.state)} ADD COLUMN IF NOT EXISTS ${q(column)} ${type}`);
        else if (current.replaceAll("'", '') !== type.replaceAll("'", '')) {
          await ch.command(`ALTER TABLE ${ch.table(names.state)} MODIFY COLUMN ${q(column)} ${type}`);
        }
      }
      await ch.command(currentViewSql(ch, names));
    }
  }
}

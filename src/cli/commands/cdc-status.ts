import type { Command } from 'commander';
import type { CdcTableStatus } from '../../cdc/cdc-status.ts';
import { withServices } from '../context.ts';
import { formatNumber, print, table } from '../output.ts';

function statusText(tables: CdcTableStatus[]): string {
  if (tables.length === 0) return 'No CDC tables are declared and none were received (declare them in TESSERA_SOURCES_CONFIG; see README: CDC sources).';
  const rows = tables.map((t) => ({
    table: `${t.source}.${t.table}${t.declared ? '' : ' (not declared)'}`,
    rows: t.rows === null ? '' : formatNumber(t.rows),
    changes: formatNumber(t.changes),
    'last change': t.lastChangeAt?.replace('T', ' ').slice(0, 19) ?? '',
    lag: t.lagSeconds === null ? '' : `${t.lagSeconds.toFixed(1)} s`,
    'dead letters': formatNumber(t.deadLetters),
    drift: t.drift.map((d) => d.column).join(', '),
  }));
  const lines = [table(rows, ['table', 'rows', 'changes', 'last change', 'lag', 'dead letters', 'drift'])];
  if (tables.some((t) => t.drift.length > 0)) {
    lines.push('', 'Drift: columns received but not declared. Their values are kept in cdc_changes.row; declare them under the table\'s "columns" to keep them in its current-state table.');
  }
  if (tables.some((t) => t.deadLetters > 0)) {
    lines.push('', "Dead letters are in ClickHouse rejected_events (source 'cdc:<source>:<table>') with the reason.");
  }
  return lines.join('\n');
}

/** `tessera cdc status`: per CDC table, rows, changes, last change, lag, dead letters, drift. */
export function cdcStatusCommand(cdc: Command): void {
  cdc
    .command('status')
    .description('per CDC table: current rows, changes, last change time, lag, dead letters, schema drift')
    .option('--json', 'print as JSON')
    .action(async (opts: { json?: boolean }) => {
      const tables = await withServices(({ services }) => services.cdcStatus.status());
      print(opts.json ?? false, tables, () => statusText(tables));
    });
}

/**
 * Turns CDC changes into what is written to ClickHouse: changelog rows (every change, whole row),
 * current-state rows per table (declared columns coerced to their types, tombstones for deletes),
 * truncates, rejections (dead letters with the reason) and schema drift (undeclared columns).
 * Pure: no I/O; the writer applies the steps in order.
 */
import { coerceValue } from '../sources/column-types.ts';
import type { SourcesConfig, CdcTableConfig } from '../sources/sources-config.ts';
import type { CdcChange, CdcRejection } from './cdc-change.ts';
import { cdcTableNames } from './cdc-tables.ts';

/** One row of `cdc_changes`. */
export interface ChangelogRow {
  source: string;
  table_name: string;
  op: CdcChange['op'];
  /** UInt64 as text: LSNs pass 2^53. */
  position: string;
  key: string;
  changed_at: number;
  row: string;
  /** JSON `[[type, raw value], ...]` of the identifier columns, for identity resolution. */
  identifiers: string;
}

/** One row of a current-state table: the declared columns plus the bookkeeping ones. */
export type StateRow = Record<string, unknown> & { _version: string; _deleted: 0 | 1; _changed_at: number };

export interface TruncateStep {
  kind: 'truncate';
  source: string;
  table: string;
  stateTable: string;
  primaryKey: string[];
  position: bigint;
  changedAt: number;
}

export interface RowsStep {
  kind: 'rows';
  changelog: ChangelogRow[];
  /** State table name → its rows, in change order. */
  state: Map<string, StateRow[]>;
}

export type WriteStep = RowsStep | TruncateStep;

export interface DriftColumn {
  source: string;
  table: string;
  column: string;
}

export interface PreparedChanges {
  /** Applied in order: a truncate comes between the rows before it and those after. */
  steps: WriteStep[];
  rejections: CdcRejection[];
  /** Undeclared columns seen (each once per batch). */
  drift: DriftColumn[];
  /** How many changes were accepted. */
  accepted: number;
}

type Coerced = { ok: true; row: Record<string, unknown> } | { ok: false; code: 'missing_primary_key' | 'invalid_value'; message: string };

/** The declared columns of `row`, coerced; a missing primary key column or a bad value fails. */
function coerceRow(config: CdcTableConfig, row: Record<string, unknown>, change: CdcChange, keyOnly: boolean): Coerced {
  const out: Record<string, unknown> = {};
  for (const [column, type] of Object.entries(config.columns)) {
    const isKey = config.primaryKey.includes(column);
    if (keyOnly && !isKey) {
      out[column] = null;
      continue;
    }
    const result = coerceValue(type, row[column], change.units?.[column]);
    if (!result.ok) return { ok: false, code: 'invalid_value', message: `column ${column}: ${result.message}` };
    if (isKey && result.value === null) {
      return { ok: false, code: 'missing_primary_key', message: `primary key column ${column} is missing` };
    }
    out[column] = result.value;
  }
  return { ok: true, row: out };
}

function identifiersOf(config: CdcTableConfig, row: Record<string, unknown>): string {
  const ids: [string, string][] = [];
  for (const [column, type] of Object.entries(config.identifiers)) {
    const v = row[column];
    if (v !== null && v !== undefined && v !== '') ids.push([type, typeof v === 'string' ? v : String(v)]);
  }
  return JSON.stringify(ids);
}

export function prepareChanges(changes: readonly CdcChange[], config: SourcesConfig): PreparedChanges {
  const steps: WriteStep[] = [];
  const rejections: CdcRejection[] = [];
  const drift: DriftColumn[] = [];
  const driftSeen = new Set<string>();
  let accepted = 0;
  let rows: RowsStep | undefined;
  const rowsStep = (): RowsStep => {
    if (!rows) {
      rows = { kind: 'rows', changelog: [], state: new Map() };
      steps.push(rows);
    }
    return rows;
  };

  changes.forEach((change, at) => {
    const index = change.index ?? at;
    const reject = (code: CdcRejection['code'], message: string) =>
      rejections.push({ index, code, message, source: change.source, table: change.table, origin: change.origin, payload: JSON.stringify(change, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)) });
    const tableConfig = config.cdc[change.source]?.tables[change.table];
    if (!tableConfig) {
      reject(
        config.cdc[change.source] ? 'unknown_table' : 'unknown_source',
        config.cdc[change.source] ? `table ${change.table} is not declared in CDC source ${change.source}` : `CDC source ${change.source} is not declared`,
      );
      return;
    }
    const names = cdcTableNames(change.source, change.table);
    const base = { source: change.source, table_name: change.table, op: change.op, position: change.position.toString(), changed_at: change.changedAt };

    if (change.op === 't') {
      rowsStep().changelog.push({ ...base, key: '', row: '{}', identifiers: '[]' });
      steps.push({ kind: 'truncate', source: change.source, table: change.table, stateTable: names.state, primaryKey: tableConfig.primaryKey, position: change.position, changedAt: change.changedAt });
      rows = undefined;
      accepted++;
      return;
    }

    const isDelete = change.op === 'd';
    const raw = isDelete ? change.before : change.after;
    if (!raw) {
      reject('missing_primary_key', isDelete ? 'a delete without `before` has no primary key' : `a '${change.op}' change without \`after\``);
      return;
    }
    const coerced = coerceRow(tableConfig, raw, change, isDelete);
    if (!coerced.ok) {
      reject(coerced.code, coerced.message);
      return;
    }
    if (!isDelete) {
      for (const column of Object.keys(raw)) {
        if (column in tableConfig.columns) continue;
        const id = `${change.source}\0${change.table}\0${column}`;
        if (!driftSeen.has(id)) {
          driftSeen.add(id);
          drift.push({ source: change.source, table: change.table, column });
        }
      }
    }
    const key = JSON.stringify(tableConfig.primaryKey.map((c) => coerced.row[c]));
    const step = rowsStep();
    step.changelog.push({ ...base, key, row: JSON.stringify(raw), identifiers: isDelete ? '[]' : identifiersOf(tableConfig, raw) });
    const stateRows = step.state.get(names.state) ?? step.state.set(names.state, []).get(names.state)!;
    stateRows.push({ ...coerced.row, _version: base.position, _deleted: isDelete ? 1 : 0, _changed_at: change.changedAt });
    accepted++;
  });
  return { steps, rejections, drift, accepted };
}

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

/** A declared table, laid out once per batch for the per-change loop. */
interface TablePlan {
  config: CdcTableConfig;
  stateTable: string;
  columns: { name: string; type: CdcTableConfig['columns'][string]; isKey: boolean }[];
  identifiers: [column: string, type: string][];
}

function tablePlan(source: string, table: string, config: CdcTableConfig): TablePlan {
  return {
    config,
    stateTable: cdcTableNames(source, table).state,
    columns: Object.entries(config.columns).map(([name, type]) => ({ name, type, isKey: config.primaryKey.includes(name) })),
    identifiers: Object.entries(config.identifiers),
  };
}

/** The declared columns of `row`, coerced; a missing primary key column or a bad value fails. */
function coerceRow(plan: TablePlan, row: Record<string, unknown>, change: CdcChange, keyOnly: boolean): Coerced {
  const out: Record<string, unknown> = {};
  for (const { name, type, isKey } of plan.columns) {
    if (keyOnly && !isKey) {
      out[name] = null;
      continue;
    }
    const result = coerceValue(type, row[name], change.units?.[name]);
    if (!result.ok) return { ok: false, code: 'invalid_value', message: `column ${name}: ${result.message}` };
    if (isKey && result.value === null) return { ok: false, code: 'missing_primary_key', message: `primary key column ${name} is missing` };
    out[name] = result.value;
  }
  return { ok: true, row: out };
}

function identifiersOf(plan: TablePlan, row: Record<string, unknown>): string {
  const ids: [string, string][] = [];
  for (const [column, type] of plan.identifiers) {
    const v = row[column];
    if (v !== null && v !== undefined && v !== '') ids.push([type, typeof v === 'string' ? v : String(v)]);
  }
  return JSON.stringify(ids);
}

function keyOf(plan: TablePlan, row: Record<string, unknown>): string {
  const values: unknown[] = [];
  for (const column of plan.config.primaryKey) values.push(row[column]);
  return JSON.stringify(values);
}

function rejection(change: CdcChange, index: number, code: CdcRejection['code'], message: string): CdcRejection {
  const payload = JSON.stringify(change, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
  return { index, code, message, source: change.source, table: change.table, origin: change.origin, payload };
}

export function prepareChanges(changes: readonly CdcChange[], config: SourcesConfig): PreparedChanges {
  const steps: WriteStep[] = [];
  const rejections: CdcRejection[] = [];
  const drift: DriftColumn[] = [];
  const driftSeen = new Set<string>();
  const plans = new Map<string, TablePlan | null>();
  let accepted = 0;
  let rows: RowsStep | undefined;

  for (let at = 0; at < changes.length; at++) {
    const change = changes[at]!;
    const index = change.index ?? at;
    const planKey = `${change.source}\0${change.table}`;
    let plan = plans.get(planKey);
    if (plan === undefined) {
      const tableConfig = config.cdc[change.source]?.tables[change.table];
      plan = tableConfig ? tablePlan(change.source, change.table, tableConfig) : null;
      plans.set(planKey, plan);
    }
    if (!plan) {
      const known = config.cdc[change.source] !== undefined;
      rejections.push(
        rejection(change, index, known ? 'unknown_table' : 'unknown_source', known ? `table ${change.table} is not declared in CDC source ${change.source}` : `CDC source ${change.source} is not declared`),
      );
      continue;
    }
    const base = { source: change.source, table_name: change.table, op: change.op, position: change.position.toString(), changed_at: change.changedAt };

    if (change.op === 't') {
      rows ??= pushRowsStep(steps);
      rows.changelog.push({ ...base, key: '', row: '{}', identifiers: '[]' });
      steps.push({ kind: 'truncate', source: change.source, table: change.table, stateTable: plan.stateTable, primaryKey: plan.config.primaryKey, position: change.position, changedAt: change.changedAt });
      rows = undefined;
      accepted++;
      continue;
    }

    const isDelete = change.op === 'd';
    const raw = isDelete ? change.before : change.after;
    if (!raw) {
      rejections.push(rejection(change, index, 'missing_primary_key', isDelete ? 'a delete without `before` has no primary key' : `a '${change.op}' change without \`after\``));
      continue;
    }
    const coerced = coerceRow(plan, raw, change, isDelete);
    if (!coerced.ok) {
      rejections.push(rejection(change, index, coerced.code, coerced.message));
      continue;
    }
    if (!isDelete) {
      for (const column in raw) {
        if (column in plan.config.columns) continue;
        const id = `${planKey}\0${column}`;
        if (!driftSeen.has(id)) {
          driftSeen.add(id);
          drift.push({ source: change.source, table: change.table, column });
        }
      }
    }
    rows ??= pushRowsStep(steps);
    rows.changelog.push({ ...base, key: keyOf(plan, coerced.row), row: JSON.stringify(raw), identifiers: isDelete ? '[]' : identifiersOf(plan, raw) });
    let stateRows = rows.state.get(plan.stateTable);
    if (!stateRows) rows.state.set(plan.stateTable, (stateRows = []));
    coerced.row._version = base.position;
    coerced.row._deleted = isDelete ? 1 : 0;
    coerced.row._changed_at = change.changedAt;
    stateRows.push(coerced.row as StateRow);
    accepted++;
  }
  return { steps, rejections, drift, accepted };
}

function pushRowsStep(steps: WriteStep[]): RowsStep {
  const step: RowsStep = { kind: 'rows', changelog: [], state: new Map() };
  steps.push(step);
  return step;
}

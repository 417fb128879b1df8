/**
 * One change of one row of a source table, whatever delivered it (a Debezium envelope, the
 * PostgreSQL pull connector). Everything downstream of the connectors works on this shape.
 */
import type { TimeUnit } from '../sources/column-types.ts';

/** Debezium's op codes: create, update, delete, read (snapshot), truncate. */
export const CDC_OPS = ['c', 'u', 'd', 'r', 't'] as const;
export type CdcOp = (typeof CDC_OPS)[number];

export interface CdcChange {
  /** The configured CDC source (`shop`). */
  source: string;
  /** `schema.table` (or `database.table`). */
  table: string;
  op: CdcOp;
  /**
   * Order of the change in its source (a PostgreSQL LSN, a binlog position): a row's later change
   * has a larger position. It is the version of the current-state row.
   */
  position: bigint;
  /** When the source committed it, epoch ms. */
  changedAt: number;
  /** The row before (deletes; updates when the source sends it). */
  before: Record<string, unknown> | null;
  /** The row after (creates, updates, snapshot reads). */
  after: Record<string, unknown> | null;
  /** Units of columns whose times arrive as numbers (from the Debezium schema). */
  units?: Readonly<Record<string, TimeUnit>>;
  /** Where it came from, for dead letters (`POST /v1/cdc/debezium#3`, `wal 0/16B3748`). */
  origin: string;
  /** Position in its request (dead letters and responses refer to it); default: position in the batch. */
  index?: number;
}

/** Why a change could not be applied; it goes to the dead-letter table with this. */
export interface CdcRejection {
  /** Position of the item in its request or stream batch. */
  index: number;
  code: 'invalid_envelope' | 'unknown_table' | 'missing_primary_key' | 'invalid_value' | 'unknown_source';
  message: string;
  /** The source and table when known (`shop`, `public.customers`). */
  source?: string;
  table?: string;
  origin: string;
  payload: string;
}

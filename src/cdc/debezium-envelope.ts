/**
 * Debezium change events as Debezium Server's HTTP sink sends them: one event or an array, each
 * either `{ schema, payload }` (JSON converter with schemas) or the bare payload
 * `{ before, after, source, op, ts_ms }`. Tombstones (null, or a null payload) are ignored.
 * Pure: turns the request body into `CdcChange`s and rejections.
 */
import { z } from 'zod';
import type { TimeUnit } from '../sources/column-types.ts';
import { formatZodIssues } from '../common/zod-issues.ts';
import { CDC_OPS, type CdcChange, type CdcRejection } from './cdc-change.ts';

const row = z.record(z.string(), z.unknown()).nullable().optional();

export const debeziumPayloadSchema = z.object({
  op: z.enum(CDC_OPS),
  before: row,
  after: row,
  source: z.looseObject({
    name: z.string().optional(),
    db: z.string().optional(),
    schema: z.string().optional(),
    table: z.string().min(1),
    ts_ms: z.number().optional(),
    ts_us: z.number().optional(),
    lsn: z.number().int().nonnegative().optional(),
    file: z.string().optional(),
    pos: z.number().int().nonnegative().optional(),
  }),
  ts_ms: z.number().optional(),
});
export type DebeziumPayload = z.infer<typeof debeziumPayloadSchema>;

/** The part of a Connect schema we read: field names and their logical type names / parameters. */
interface ConnectField {
  field?: string;
  name?: string;
  parameters?: Record<string, string>;
  fields?: ConnectField[];
}

const TIME_UNITS: Record<string, TimeUnit> = {
  'io.debezium.time.Date': 'days',
  'org.apache.kafka.connect.data.Date': 'days',
  'io.debezium.time.Timestamp': 'ms',
  'org.apache.kafka.connect.data.Timestamp': 'ms',
  'io.debezium.time.MicroTimestamp': 'us',
  'io.debezium.time.NanoTimestamp': 'ns',
};

const DECIMAL = 'org.apache.kafka.connect.data.Decimal';

/** What the schema says about the row's columns: time units, and decimal scales (base64 bytes). */
interface RowSchema {
  units: Record<string, TimeUnit>;
  decimals: Record<string, number>;
}

function rowSchema(schema: unknown): RowSchema | undefined {
  const fields = (schema as ConnectField | undefined)?.fields;
  if (!Array.isArray(fields)) return undefined;
  const rowFields = fields.find((f) => f.field === 'after' || f.field === 'before')?.fields;
  if (!Array.isArray(rowFields)) return undefined;
  const out: RowSchema = { units: {}, decimals: {} };
  for (const f of rowFields) {
    if (!f.field || !f.name) continue;
    const unit = TIME_UNITS[f.name];
    if (unit) out.units[f.field] = unit;
    if (f.name === DECIMAL) out.decimals[f.field] = Number(f.parameters?.scale ?? 0);
  }
  return out;
}

/** Decodes Connect's Decimal (big-endian two's complement bytes, base64) to a decimal string. */
export function decodeConnectDecimal(base64: string, scale: number): string {
  const bytes = Buffer.from(base64, 'base64');
  if (bytes.length === 0) return '0';
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  if (bytes[0]! & 0x80) n -= 1n << BigInt(bytes.length * 8);
  const negative = n < 0n;
  const digits = (negative ? -n : n).toString().padStart(scale + 1, '0');
  const text = scale > 0 ? `${digits.slice(0, -scale)}.${digits.slice(-scale)}` : digits;
  return negative ? `-${text}` : text;
}

function decodeDecimals(values: Record<string, unknown> | null | undefined, decimals: Record<string, number>): Record<string, unknown> | null {
  if (!values) return null;
  let out = values;
  for (const [column, scale] of Object.entries(decimals)) {
    const v = values[column];
    if (typeof v === 'string') {
      if (out === values) out = { ...values };
      out[column] = decodeConnectDecimal(v, scale);
    }
  }
  return out;
}

/**
 * The order of a change in its source: the PostgreSQL LSN; a MySQL binlog (file number, position);
 * else the source time in microseconds.
 */
export function debeziumPosition(source: DebeziumPayload['source'], tsMs: number): bigint {
  if (source.lsn !== undefined) return BigInt(source.lsn);
  if (source.file !== undefined && source.pos !== undefined) {
    const fileNumber = Number(/(\d+)$/.exec(source.file)?.[1] ?? 0);
    return (BigInt(fileNumber) << 32n) | BigInt(source.pos);
  }
  return BigInt(Math.round(source.ts_us ?? tsMs * 1000));
}


export interface ParsedEnvelopes {
  changes: CdcChange[];
  rejections: CdcRejection[];
  /** Tombstones. */
  ignored: number;
}

export interface EnvelopeContext {
  /** The CDC source to file the changes under; default: each payload's `source.name`. */
  source?: string;
  /** Where the request came from, e.g. `POST /v1/cdc/debezium`. */
  origin: string;
  /** Used when an event carries no time. */
  receivedAt: number;
}

/** Parses a request body: one envelope, an array of them, with or without the schema wrapper. */
export function parseDebeziumBody(body: unknown, ctx: EnvelopeContext): ParsedEnvelopes {
  const items = Array.isArray(body) ? body : [body];
  const out: ParsedEnvelopes = { changes: [], rejections: [], ignored: 0 };
  items.forEach((item, index) => {
    const origin = `${ctx.origin}#${index}`;
    if (item === null || item === undefined) {
      out.ignored++;
      return;
    }
    const wrapped = typeof item === 'object' && !Array.isArray(item) && 'payload' in item;
    const payload: unknown = wrapped ? (item as { payload: unknown }).payload : item;
    if (payload === null) {
      out.ignored++;
      return;
    }
    const parsed = debeziumPayloadSchema.safeParse(payload);
    if (!parsed.success) {
      out.rejections.push({ index, code: 'invalid_envelope', message: `not a Debezium change event: ${formatZodIssues(parsed.error)}`, origin, payload: JSON.stringify(item) ?? '' });
      return;
    }
    const p = parsed.data;
    const schema = wrapped ? rowSchema((item as { schema?: unknown }).schema) : undefined;
    const changedAt = p.source.ts_ms ?? p.ts_ms ?? ctx.receivedAt;
    const source = ctx.source ?? p.source.name;
    const table = `${p.source.schema ?? p.source.db ?? ''}.${p.source.table}`;
    if (!source) {
      out.rejections.push({ index, code: 'unknown_source', message: 'source.name is missing; name the CDC source with ?source=NAME', table, origin, payload: JSON.stringify(item) });
      return;
    }
    out.changes.push({
      source,
      table,
      op: p.op,
      position: debeziumPosition(p.source, changedAt),
      changedAt,
      before: schema ? decodeDecimals(p.before, schema.decimals) : (p.before ?? null),
      after: schema ? decodeDecimals(p.after, schema.decimals) : (p.after ?? null),
      units: schema?.units,
      origin,
      index,
    });
  });
  return out;
}

/**
 * Decoding of PostgreSQL logical replication, pure (buffers in, plain objects out):
 *
 * - the streaming replication messages inside CopyData: XLogData (`w`, a WAL position and one
 *   pgoutput message) and the primary keepalive (`k`), and the standby status update (`r`) the
 *   client sends back;
 * - the pgoutput plugin's messages, protocol version 1: Begin, Commit, Relation, Insert, Update,
 *   Delete, Truncate; Type, Origin and Message are recognised and ignored.
 *
 * Column values stay as PostgreSQL sends them, text (or null, or "unchanged TOAST" for a large
 * value an update did not touch); the CDC writer coerces text to the declared types.
 * See https://www.postgresql.org/docs/current/protocol-logicalrep-message-formats.html
 */
import { TesseraError } from '../../common/errors.ts';

/** PostgreSQL times count microseconds from 2000-01-01 UTC. */
const PG_EPOCH_MS = Date.UTC(2000, 0, 1);

export function pgTimeToEpochMs(micros: bigint): number {
  return PG_EPOCH_MS + Number(micros / 1000n);
}

export function epochMsToPgTime(ms: number): bigint {
  return BigInt(Math.round(ms) - PG_EPOCH_MS) * 1000n;
}

/** A value an update left unchanged and PostgreSQL stored out of line (TOAST): it is not sent. */
export const UNCHANGED_TOAST: unique symbol = Symbol('unchanged TOAST value');
export type TupleValue = string | null | typeof UNCHANGED_TOAST;

export interface RelationColumn {
  name: string;
  typeOid: number;
  typeMod: number;
  /** Part of the replica identity (the primary key by default). */
  isKey: boolean;
}

export interface Relation {
  id: number;
  schema: string;
  table: string;
  /** `d` default (primary key), `n` nothing, `f` full row, `i` an index. */
  replicaIdentity: string;
  columns: RelationColumn[];
}

export type PgoutputMessage =
  | { tag: 'begin'; finalLsn: bigint; commitTime: number; xid: number }
  | { tag: 'commit'; flags: number; commitLsn: bigint; endLsn: bigint; commitTime: number }
  | { tag: 'relation'; relation: Relation }
  | { tag: 'insert'; relationId: number; newTuple: TupleValue[] }
  /** `keyTuple`: the old replica identity when it changed; `oldTuple`: the old row (REPLICA IDENTITY FULL). */
  | { tag: 'update'; relationId: number; keyTuple?: TupleValue[]; oldTuple?: TupleValue[]; newTuple: TupleValue[] }
  | { tag: 'delete'; relationId: number; keyTuple?: TupleValue[]; oldTuple?: TupleValue[] }
  | { tag: 'truncate'; relationIds: number[]; cascade: boolean; restartIdentity: boolean }
  | { tag: 'ignored'; kind: 'type' | 'origin' | 'message' };

export type ReplicationMessage =
  | { tag: 'xlogdata'; walStart: bigint; walEnd: bigint; serverTime: number; payload: Buffer }
  | { tag: 'keepalive'; walEnd: bigint; serverTime: number; replyRequested: boolean };

export class PgoutputDecodeError extends TesseraError {
  constructor(message: string) {
    super('pgoutput_decode_error', `Cannot decode a logical replication message: ${message}`, 502);
  }
}

/** Reads big-endian fields from a buffer, failing clearly on a truncated message. */
class Reader {
  private at = 0;
  constructor(private readonly buf: Buffer) {}

  private need(n: number): void {
    if (this.at + n > this.buf.length) throw new PgoutputDecodeError(`message ends at byte ${this.buf.length}, ${n} more byte(s) expected at ${this.at}`);
  }

  byte(): number {
    this.need(1);
    return this.buf[this.at++]!;
  }

  peekByte(): number {
    this.need(1);
    return this.buf[this.at]!;
  }

  int16(): number {
    this.need(2);
    const v = this.buf.readInt16BE(this.at);
    this.at += 2;
    return v;
  }

  int32(): number {
    this.need(4);
    const v = this.buf.readInt32BE(this.at);
    this.at += 4;
    return v;
  }

  uint32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.at);
    this.at += 4;
    return v;
  }

  uint64(): bigint {
    this.need(8);
    const v = this.buf.readBigUInt64BE(this.at);
    this.at += 8;
    return v;
  }

  int64(): bigint {
    this.need(8);
    const v = this.buf.readBigInt64BE(this.at);
    this.at += 8;
    return v;
  }

  /** A NUL-terminated UTF-8 string. */
  cstring(): string {
    const end = this.buf.indexOf(0, this.at);
    if (end < 0) throw new PgoutputDecodeError(`unterminated string at byte ${this.at}`);
    const s = this.buf.toString('utf8', this.at, end);
    this.at = end + 1;
    return s;
  }

  text(length: number): string {
    this.need(length);
    const s = this.buf.toString('utf8', this.at, this.at + length);
    this.at += length;
    return s;
  }

  rest(): Buffer {
    const b = this.buf.subarray(this.at);
    this.at = this.buf.length;
    return b;
  }
}

const char = (c: number) => String.fromCharCode(c);

function tupleData(r: Reader): TupleValue[] {
  const count = r.int16();
  const values: TupleValue[] = new Array<TupleValue>(count);
  for (let i = 0; i < count; i++) {
    const kind = r.byte();
    switch (kind) {
      case 0x6e: // n
        values[i] = null;
        break;
      case 0x75: // u
        values[i] = UNCHANGED_TOAST;
        break;
      case 0x74: // t
        values[i] = r.text(r.int32());
        break;
      default:
        // `b` (binary) only comes with the `binary` option, which Tessera does not request.
        throw new PgoutputDecodeError(`column ${i} has value kind '${char(kind)}'; only text values are expected`);
    }
  }
  return values;
}

/** An optional old tuple (`K` key, `O` full row) in Update and Delete. */
function oldTuple(r: Reader): { keyTuple?: TupleValue[]; oldTuple?: TupleValue[] } {
  const kind = r.peekByte();
  if (kind === 0x4b) {
    r.byte();
    return { keyTuple: tupleData(r) };
  }
  if (kind === 0x4f) {
    r.byte();
    return { oldTuple: tupleData(r) };
  }
  return {};
}

function expectNew(r: Reader, what: string): void {
  const kind = r.byte();
  if (kind !== 0x4e) throw new PgoutputDecodeError(`${what}: expected a new tuple ('N'), got '${char(kind)}'`);
}

/** Decodes one pgoutput (protocol version 1) message: the payload of an XLogData message. */
export function decodePgoutput(payload: Buffer): PgoutputMessage {
  const r = new Reader(payload);
  const tag = r.byte();
  switch (tag) {
    case 0x42: // B
      return { tag: 'begin', finalLsn: r.uint64(), commitTime: pgTimeToEpochMs(r.int64()), xid: r.uint32() };
    case 0x43: // C
      return { tag: 'commit', flags: r.byte(), commitLsn: r.uint64(), endLsn: r.uint64(), commitTime: pgTimeToEpochMs(r.int64()) };
    case 0x52: {
      // R
      const id = r.uint32();
      const schema = r.cstring() || 'pg_catalog';
      const table = r.cstring();
      const replicaIdentity = char(r.byte());
      const count = r.int16();
      const columns: RelationColumn[] = [];
      for (let i = 0; i < count; i++) {
        const flags = r.byte();
        columns.push({ isKey: (flags & 1) === 1, name: r.cstring(), typeOid: r.uint32(), typeMod: r.int32() });
      }
      return { tag: 'relation', relation: { id, schema, table, replicaIdentity, columns } };
    }
    case 0x49: {
      // I
      const relationId = r.uint32();
      expectNew(r, 'insert');
      return { tag: 'insert', relationId, newTuple: tupleData(r) };
    }
    case 0x55: {
      // U
      const relationId = r.uint32();
      const old = oldTuple(r);
      expectNew(r, 'update');
      return { tag: 'update', relationId, ...old, newTuple: tupleData(r) };
    }
    case 0x44: {
      // D
      const relationId = r.uint32();
      const old = oldTuple(r);
      if (!old.keyTuple && !old.oldTuple) throw new PgoutputDecodeError('delete without an old key or row');
      return { tag: 'delete', relationId, ...old };
    }
    case 0x54: {
      // T
      const count = r.int32();
      const options = r.byte();
      const relationIds: number[] = [];
      for (let i = 0; i < count; i++) relationIds.push(r.uint32());
      return { tag: 'truncate', relationIds, cascade: (options & 1) === 1, restartIdentity: (options & 2) === 2 };
    }
    case 0x59: // Y
      return { tag: 'ignored', kind: 'type' };
    case 0x4f: // O
      return { tag: 'ignored', kind: 'origin' };
    case 0x4d: // M
      return { tag: 'ignored', kind: 'message' };
    default:
      throw new PgoutputDecodeError(`unknown pgoutput message type '${char(tag)}' (0x${tag.toString(16)})`);
  }
}

/** Decodes one message of the replication stream (the body of a CopyData message). */
export function decodeReplicationMessage(data: Buffer): ReplicationMessage {
  const r = new Reader(data);
  const tag = r.byte();
  if (tag === 0x77) {
    // w: XLogData
    return { tag: 'xlogdata', walStart: r.uint64(), walEnd: r.uint64(), serverTime: pgTimeToEpochMs(r.int64()), payload: r.rest() };
  }
  if (tag === 0x6b) {
    // k: primary keepalive
    return { tag: 'keepalive', walEnd: r.uint64(), serverTime: pgTimeToEpochMs(r.int64()), replyRequested: r.byte() === 1 };
  }
  throw new PgoutputDecodeError(`unknown replication message type '${char(tag)}' (0x${tag.toString(16)})`);
}

export interface StandbyStatus {
  /** Last WAL position received and written. */
  written: bigint;
  /** Last WAL position durably stored: the server may recycle WAL up to it. */
  flushed: bigint;
  applied: bigint;
  /** Client clock, epoch ms. */
  now: number;
  /** Ask the server to answer at once with a keepalive. */
  replyRequested?: boolean;
}

/** The standby status update (`r`) a replication client sends to confirm positions. */
export function encodeStandbyStatus(status: StandbyStatus): Buffer {
  const buf = Buffer.alloc(34);
  buf[0] = 0x72; // r
  buf.writeBigUInt64BE(status.written, 1);
  buf.writeBigUInt64BE(status.flushed, 9);
  buf.writeBigUInt64BE(status.applied, 17);
  buf.writeBigInt64BE(epochMsToPgTime(status.now), 25);
  buf[33] = status.replyRequested ? 1 : 0;
  return buf;
}

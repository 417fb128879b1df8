import { describe, expect, it } from 'vitest';
import {
  UNCHANGED_TOAST,
  decodePgoutput,
  decodeReplicationMessage,
  encodeStandbyStatus,
  epochMsToPgTime,
  PgoutputDecodeError,
  type PgoutputMessage,
} from '../../src/cdc/postgres/pgoutput-decoder.ts';
import { formatLsn, parseLsn } from '../../src/cdc/postgres/lsn.ts';
import { WalChangeAssembler } from '../../src/cdc/postgres/wal-change-assembler.ts';

/** Builds protocol messages byte by byte, as PostgreSQL sends them. */
class Bytes {
  private parts: Buffer[] = [];
  char(c: string) {
    this.parts.push(Buffer.from(c, 'latin1'));
    return this;
  }
  int8(n: number) {
    this.parts.push(Buffer.from([n]));
    return this;
  }
  int16(n: number) {
    const b = Buffer.alloc(2);
    b.writeInt16BE(n);
    this.parts.push(b);
    return this;
  }
  int32(n: number) {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n);
    this.parts.push(b);
    return this;
  }
  int64(n: bigint) {
    const b = Buffer.alloc(8);
    b.writeBigInt64BE(n);
    this.parts.push(b);
    return this;
  }
  cstring(s: string) {
    this.parts.push(Buffer.from(s, 'utf8'), Buffer.from([0]));
    return this;
  }
  /** TupleData: null → 'n', UNCHANGED_TOAST → 'u', text → 't'. */
  tuple(values: (string | null | typeof UNCHANGED_TOAST)[]) {
    this.int16(values.length);
    for (const v of values) {
      if (v === null) this.char('n');
      else if (v === UNCHANGED_TOAST) this.char('u');
      else {
        const text = Buffer.from(v, 'utf8');
        this.char('t').int32(text.length);
        this.parts.push(text);
      }
    }
    return this;
  }
  raw(b: Buffer) {
    this.parts.push(b);
    return this;
  }
  get buffer() {
    return Buffer.concat(this.parts);
  }
}

const COMMIT_MS = Date.UTC(2026, 0, 2, 3, 4, 5, 678);
const begin = (finalLsn: bigint, xid = 700) => new Bytes().char('B').int64(finalLsn).int64(epochMsToPgTime(COMMIT_MS)).int32(xid).buffer;
const commit = (commitLsn: bigint, endLsn: bigint) => new Bytes().char('C').int8(0).int64(commitLsn).int64(endLsn).int64(epochMsToPgTime(COMMIT_MS)).buffer;
/** public.customers (id key, email, bio), relation 16384. */
const customersRelation = () =>
  new Bytes()
    .char('R')
    .int32(16384)
    .cstring('public')
    .cstring('customers')
    .char('d')
    .int16(3)
    .int8(1)
    .cstring('id')
    .int32(23)
    .int32(-1 >>> 0)
    .int8(0)
    .cstring('email')
    .int32(25)
    .int32(-1 >>> 0)
    .int8(0)
    .cstring('bio')
    .int32(25)
    .int32(-1 >>> 0).buffer;
const insert = (values: (string | null)[]) => new Bytes().char('I').int32(16384).char('N').tuple(values).buffer;

describe('LSNs', () => {
  it('parse and format X/Y hex positions beyond 2^53', () => {
    expect(parseLsn('0/16B3748')).toBe(0x16b3748n);
    expect(parseLsn('FFFFFFFF/FFFFFFFF')).toBe(2n ** 64n - 1n);
    expect(formatLsn(parseLsn('16/B374D848'))).toBe('16/B374D848');
    expect(() => parseLsn('16B374D848')).toThrow(/not a PostgreSQL LSN/);
  });
});

describe('pgoutput decoder', () => {
  it('decodes Begin and Commit with LSNs and commit times', () => {
    expect(decodePgoutput(begin(0x1000n, 42))).toEqual({ tag: 'begin', finalLsn: 0x1000n, commitTime: COMMIT_MS, xid: 42 });
    expect(decodePgoutput(commit(0x1000n, 0x1030n))).toEqual({ tag: 'commit', flags: 0, commitLsn: 0x1000n, endLsn: 0x1030n, commitTime: COMMIT_MS });
  });

  it('decodes a Relation with key flags, types and the replica identity', () => {
    const m = decodePgoutput(customersRelation());
    expect(m).toEqual({
      tag: 'relation',
      relation: {
        id: 16384,
        schema: 'public',
        table: 'customers',
        replicaIdentity: 'd',
        columns: [
          { name: 'id', typeOid: 23, typeMod: -1, isKey: true },
          { name: 'email', typeOid: 25, typeMod: -1, isKey: false },
          { name: 'bio', typeOid: 25, typeMod: -1, isKey: false },
        ],
      },
    });
  });

  it('an empty namespace is pg_catalog', () => {
    const m = decodePgoutput(new Bytes().char('R').int32(1).cstring('').cstring('t').char('f').int16(0).buffer);
    expect(m.tag === 'relation' && m.relation.schema).toBe('pg_catalog');
  });

  it('decodes Insert values as text, null, and multi-byte UTF-8', () => {
    expect(decodePgoutput(insert(['1', 'zoë@example.com', null]))).toEqual({ tag: 'insert', relationId: 16384, newTuple: ['1', 'zoë@example.com', null] });
  });

  it('decodes Update with no old tuple, an old key (K) and an old row (O), and unchanged TOAST values', () => {
    const plain = new Bytes().char('U').int32(16384).char('N').tuple(['1', 'a@x.io', UNCHANGED_TOAST]).buffer;
    expect(decodePgoutput(plain)).toEqual({ tag: 'update', relationId: 16384, newTuple: ['1', 'a@x.io', UNCHANGED_TOAST] });
    const key = new Bytes().char('U').int32(16384).char('K').tuple(['1', null, null]).char('N').tuple(['2', 'a@x.io', 'hi']).buffer;
    expect(decodePgoutput(key)).toEqual({ tag: 'update', relationId: 16384, keyTuple: ['1', null, null], newTuple: ['2', 'a@x.io', 'hi'] });
    const old = new Bytes().char('U').int32(16384).char('O').tuple(['1', 'old@x.io', 'long']).char('N').tuple(['1', 'a@x.io', UNCHANGED_TOAST]).buffer;
    expect(decodePgoutput(old)).toEqual({ tag: 'update', relationId: 16384, oldTuple: ['1', 'old@x.io', 'long'], newTuple: ['1', 'a@x.io', UNCHANGED_TOAST] });
  });

  it('decodes Delete by key and by full old row', () => {
    expect(decodePgoutput(new Bytes().char('D').int32(16384).char('K').tuple(['7', null, null]).buffer)).toEqual({ tag: 'delete', relationId: 16384, keyTuple: ['7', null, null] });
    expect(decodePgoutput(new Bytes().char('D').int32(16384).char('O').tuple(['7', 'e', 'b']).buffer)).toEqual({ tag: 'delete', relationId: 16384, oldTuple: ['7', 'e', 'b'] });
  });

  it('decodes Truncate of several relations with its cascade and restart identity flags', () => {
    expect(decodePgoutput(new Bytes().char('T').int32(2).int8(3).int32(16384).int32(16390).buffer)).toEqual({ tag: 'truncate', relationIds: [16384, 16390], cascade: true, restartIdentity: true });
    expect(decodePgoutput(new Bytes().char('T').int32(1).int8(0).int32(16384).buffer)).toEqual({ tag: 'truncate', relationIds: [16384], cascade: false, restartIdentity: false });
  });

  it('ignores Type, Origin and logical Message', () => {
    expect(decodePgoutput(new Bytes().char('Y').int32(900).cstring('public').cstring('mood').buffer)).toEqual({ tag: 'ignored', kind: 'type' });
    expect(decodePgoutput(new Bytes().char('O').int64(5n).cstring('node_a').buffer)).toEqual({ tag: 'ignored', kind: 'origin' });
    expect(decodePgoutput(new Bytes().char('M').int8(1).int64(5n).cstring('p').int32(0).buffer)).toEqual({ tag: 'ignored', kind: 'message' });
  });

  it('fails clearly on truncated, unknown or binary messages', () => {
    expect(() => decodePgoutput(begin(1n).subarray(0, 10))).toThrow(PgoutputDecodeError);
    expect(() => decodePgoutput(Buffer.from('Z'))).toThrow(/unknown pgoutput message type 'Z'/);
    expect(() => decodePgoutput(new Bytes().char('I').int32(1).char('N').int16(1).char('b').int32(1).int8(0).buffer)).toThrow(/only text values/);
    expect(() => decodePgoutput(new Bytes().char('D').int32(1).char('N').tuple([]).buffer)).toThrow(/delete without an old key/);
  });
});

describe('replication stream messages', () => {
  it('decodes XLogData with its WAL positions and payload', () => {
    const payload = insert(['1', null, null]);
    const m = decodeReplicationMessage(new Bytes().char('w').int64(0x2000n).int64(0x3000n).int64(epochMsToPgTime(COMMIT_MS)).raw(payload).buffer);
    expect(m).toEqual({ tag: 'xlogdata', walStart: 0x2000n, walEnd: 0x3000n, serverTime: COMMIT_MS, payload });
  });

  it('decodes a keepalive and whether it asks for a reply', () => {
    expect(decodeReplicationMessage(new Bytes().char('k').int64(0x3000n).int64(epochMsToPgTime(COMMIT_MS)).int8(1).buffer)).toEqual({
      tag: 'keepalive',
      walEnd: 0x3000n,
      serverTime: COMMIT_MS,
      replyRequested: true,
    });
  });

  it('encodes the standby status update', () => {
    const b = encodeStandbyStatus({ written: 0x10n, flushed: 0x20n, applied: 0x30n, now: COMMIT_MS, replyRequested: true });
    expect(b.length).toBe(34);
    expect(b.toString('latin1', 0, 1)).toBe('r');
    expect([b.readBigUInt64BE(1), b.readBigUInt64BE(9), b.readBigUInt64BE(17)]).toEqual([0x10n, 0x20n, 0x30n]);
    expect(b.readBigInt64BE(25)).toBe(epochMsToPgTime(COMMIT_MS));
    expect(b[33]).toBe(1);
  });
});

describe('WAL change assembler', () => {
  const assembler = (resumeLsn = 0n) => new WalChangeAssembler({ source: 'shop', primaryKeys: { 'public.customers': ['id'] }, resumeLsn });
  const feed = (a: WalChangeAssembler, lsn: bigint, payload: Buffer) => a.push(lsn, decodePgoutput(payload));
  const changesOf = (e: ReturnType<WalChangeAssembler['push']>) => (e.kind === 'changes' ? e.changes : []);

  it('gives each change its WAL position and the commit time, and ends the transaction at its end LSN', () => {
    const a = assembler();
    feed(a, 0x100n, customersRelation());
    expect(feed(a, 0x100n, begin(0x300n))).toEqual({ kind: 'none' });
    expect(a.inTransaction).toBe(true);
    const [c] = changesOf(feed(a, 0x150n, insert(['1', 'a@x.io', null])));
    expect(c).toEqual({
      change: { source: 'shop', table: 'public.customers', op: 'c', position: 0x150n, changedAt: COMMIT_MS, before: null, after: { id: '1', email: 'a@x.io', bio: null }, origin: 'wal 0/150' },
    });
    expect(feed(a, 0x300n, commit(0x300n, 0x330n))).toEqual({ kind: 'commit', endLsn: 0x330n, commitTime: COMMIT_MS, skipped: false });
    expect(a.inTransaction).toBe(false);
  });

  it('skips whole transactions that committed before the resume position, still learning relations', () => {
    const a = assembler(0x330n);
    feed(a, 0x100n, begin(0x300n));
    feed(a, 0x100n, customersRelation());
    expect(feed(a, 0x150n, insert(['1', 'a@x.io', null]))).toEqual({ kind: 'none' });
    expect(feed(a, 0x300n, commit(0x300n, 0x330n))).toMatchObject({ kind: 'commit', skipped: true });
    feed(a, 0x340n, begin(0x400n));
    expect(changesOf(feed(a, 0x350n, insert(['2', null, null])))).toHaveLength(1);
  });

  it('fills unchanged TOAST values from the old row, and lists those it cannot fill', () => {
    const a = assembler();
    feed(a, 1n, customersRelation());
    feed(a, 1n, begin(0x900n));
    const [full] = changesOf(feed(a, 0x10n, new Bytes().char('U').int32(16384).char('O').tuple(['1', 'old', 'long bio']).char('N').tuple(['1', 'new', UNCHANGED_TOAST]).buffer));
    expect(full!.change.after).toEqual({ id: '1', email: 'new', bio: 'long bio' });
    expect(full!.unchangedColumns).toBeUndefined();
    const [partial] = changesOf(feed(a, 0x20n, new Bytes().char('U').int32(16384).char('N').tuple(['1', 'newer', UNCHANGED_TOAST]).buffer));
    expect(partial!.change.after).toEqual({ id: '1', email: 'newer' });
    expect(partial!.unchangedColumns).toEqual(['bio']);
  });

  it('turns an update of the primary key into a delete of the old key and the new row', () => {
    const a = assembler();
    feed(a, 1n, customersRelation());
    feed(a, 1n, begin(0x900n));
    const changes = changesOf(feed(a, 0x10n, new Bytes().char('U').int32(16384).char('K').tuple(['1', null, null]).char('N').tuple(['2', 'a', 'b']).buffer));
    expect(changes.map((c) => [c.change.op, c.change.position, c.change.before, c.change.after])).toEqual([
      ['d', 0x10n, { id: '1' }, null],
      ['u', 0x10n, { id: '1' }, { id: '2', email: 'a', bio: 'b' }],
    ]);
  });

  it('deletes carry the old key; truncates become one change per table', () => {
    const a = assembler();
    feed(a, 1n, customersRelation());
    feed(a, 1n, new Bytes().char('R').int32(16390).cstring('public').cstring('orders').char('d').int16(1).int8(1).cstring('id').int32(23).int32(0).buffer);
    feed(a, 1n, begin(0x900n));
    expect(changesOf(feed(a, 0x10n, new Bytes().char('D').int32(16384).char('K').tuple(['7', null, null]).buffer)).map((c) => [c.change.op, c.change.before])).toEqual([['d', { id: '7' }]]);
    const truncated = changesOf(feed(a, 0x20n, new Bytes().char('T').int32(2).int8(1).int32(16384).int32(16390).buffer));
    expect(truncated.map((c) => [c.change.op, c.change.table, c.change.position])).toEqual([
      ['t', 'public.customers', 0x20n],
      ['t', 'public.orders', 0x20n],
    ]);
  });

  it('refuses changes outside a transaction or of an undescribed relation', () => {
    const a = assembler();
    expect(() => feed(a, 1n, insert(['1', null, null]))).toThrow(/outside a transaction/);
    feed(a, 1n, begin(0x900n));
    expect(() => feed(a, 2n, insert(['1', null, null]))).toThrow(/never described/);
  });

  it('ignores messages that are not changes', () => {
    const m: PgoutputMessage = { tag: 'ignored', kind: 'origin' };
    expect(assembler().push(1n, m)).toEqual({ kind: 'none' });
  });
});
